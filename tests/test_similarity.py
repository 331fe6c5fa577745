"""Copy detection: a disguised copy is flagged; independent correct solutions are not.

The fixtures: ``solutions/ex_02_S0001.py`` and ``ex_02_S0002.py`` (two correct solutions written from the
template), ``similarity/ex_02_S0003.py`` (a third correct solution, written independently with a
different structure: a helper function, a column loop, einsum, a while loop) and
``similarity/ex_02_C0003.py``: S0003 copied with renamed variables, reordered functions and changed
comments.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import grader.copydetect.similarity as similarity
from grader.assignment import Assignment
from grader.copydetect.similarity import Pair, passage_text, similar_pairs, stream
from grader.intake.decode import decode_submission

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).parent.parent
EXAMPLE_CLASS = ROOT / "examples" / "class"


def source(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def templates() -> list[str]:
    return [source(path) for path in Assignment.default().templates]


def references() -> list[str]:
    return [source(path) for path in Assignment.default().references]


def fixture_class() -> dict[str, str]:
    return {"S0001": source(FIXTURES / "solutions" / "ex_02_S0001.py"),
            "S0002": source(FIXTURES / "solutions" / "ex_02_S0002.py"),
            "S0003": source(FIXTURES / "similarity" / "ex_02_S0003.py"),
            "C0003": source(FIXTURES / "similarity" / "ex_02_C0003.py")}


def pair_ids(pairs: list[Pair]) -> set[tuple[str, str]]:
    return {(pair.a, pair.b) for pair in pairs}


def test_renaming_recommenting_and_reformatting_leave_the_tokens_alone() -> None:
    one = ("def f(values):\n    # sum them\n    total = 0\n    for v in values:\n        total += v * 2\n"
           "    return total\n")
    two = 'def g(xs):\n    """Add up."""\n    acc = 0  # start\n    for item in xs:  acc += item*2\n    return acc\n'
    assert stream(one)[0] == stream(two)[0]
    assert stream("x = 'a' f'{b}c'\n")[0] == ["V", "=", "S"]


def test_the_disguised_copy_is_flagged_and_independent_solutions_are_not() -> None:
    pairs = similar_pairs(fixture_class(), templates(), reference_sources=references())
    assert pair_ids(pairs) == {("C0003", "S0003")}
    (pair,) = pairs
    assert pair.score >= 0.7 and pair.shared_tokens >= 100


def test_without_the_template_subtracted_the_template_followers_would_be_flagged() -> None:
    """Why the template (and the hints in its comments) is subtracted: S0001 and S0002 are mostly template."""
    assert ("S0001", "S0002") in pair_ids(similar_pairs(fixture_class(), []))


def test_the_canonical_answer_in_the_reference_solution_is_not_evidence() -> None:
    """The templates state formulas, not code lines, so the lines every correct solution writes alike
    (``self.diff = y - t``, ``return x @ self.w + self.b``) are no longer template: S0001 and S0002, written
    independently, would be flagged for them. The reference solution holds those lines and is subtracted."""
    assert ("S0001", "S0002") in pair_ids(similar_pairs(fixture_class(), templates()))
    assert ("S0001", "S0002") not in pair_ids(similar_pairs(fixture_class(), templates(),
                                                            reference_sources=references()))
    # a reference's comments and docstrings are not subtracted: no student saw them
    commented = "def f(x):\n    # y = a + b * c - d / e + f * g - h / i\n    return x\n"
    code = "y = a + b * c - d / e + f * g - h / i\n"
    assert similarity.template_windows([], [commented]).isdisjoint(similarity.template_windows([], [code]))
    assert similarity.template_windows([commented]) & similarity.template_windows([], [code])


def test_shared_passages_are_the_copied_code_side_by_side() -> None:
    sources = fixture_class()
    (pair,) = similar_pairs(sources, templates(), reference_sources=references())
    assert pair.passages
    copied = "\n".join(passage_text(sources["C0003"], passage.first_a, passage.last_a) for passage in pair.passages)
    original = "\n".join(passage_text(sources["S0003"], passage.first_b, passage.last_b)
                         for passage in pair.passages)
    assert "einsum" in copied and "einsum" in original
    assert "res[:, col] = (data[:, col] - a[col]) / width[col]" in copied
    assert "out[:, j] = (x[:, j] - lo[j]) / span[j]" in original
    # the line the reference solution has too (the canonical guard against a constant column) is no evidence
    assert "np.where" not in copied


def test_a_notebook_is_compared_by_its_code_cells(tmp_path: Path) -> None:
    code = source(FIXTURES / "similarity" / "ex_02_C0003.py")
    cut = code.index("class Perceptron")
    notebook = {"cells": [{"cell_type": "markdown", "source": "# 課題2", "metadata": {}},
                          {"cell_type": "code", "source": code[:cut], "metadata": {}, "outputs": [],
                           "execution_count": 1},
                          {"cell_type": "code", "source": "%matplotlib inline\n" + code[cut:], "metadata": {},
                           "outputs": [], "execution_count": 2}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "ex_02_N0003.ipynb"
    path.write_text(json.dumps(notebook, ensure_ascii=False), encoding="utf-8")
    decoded = decode_submission(path, "ipynb")
    assert decoded.source is not None
    sources = {**fixture_class(), "N0003": decoded.source}
    del sources["C0003"]
    assert pair_ids(similar_pairs(sources, templates(), reference_sources=references())) == {("N0003", "S0003")}


def test_code_most_of_the_class_shares_is_not_evidence() -> None:
    """Eight students who all write the same helper (a class idiom) are not eight copies of each other."""
    idiom = source(FIXTURES / "similarity" / "ex_02_S0003.py")
    sources = {f"S{index:04d}": idiom.replace("span", f"span{index}") for index in range(8)}
    assert similar_pairs(sources, templates(), reference_sources=references()) == []


def test_the_result_is_the_same_on_every_run() -> None:
    first = similar_pairs(fixture_class(), templates(), reference_sources=references())
    assert similar_pairs(dict(reversed(list(fixture_class().items()))), templates(),
                         reference_sources=references()) == first


@pytest.mark.skipif(not EXAMPLE_CLASS.is_dir(), reason="examples/class is not present in this checkout")
def test_the_example_class_written_from_the_template_has_no_copies() -> None:
    sources = {}
    for path in sorted(EXAMPLE_CLASS.rglob("ex_02_*")):
        decoded = decode_submission(path, path.suffix.lstrip("."))
        if decoded.source is not None:
            sources[path.stem] = decoded.source
    assert len(sources) >= 10
    assert similar_pairs(sources, templates(), reference_sources=references()) == []


def _variant_class(count: int) -> dict[str, str]:
    """Mildly varied copies of the fixtures: groups of three share their numbers (so they share windows
    no one else has), each member changes a few numbers and drops a few lines, and every seventh
    student is on their own. Deterministic without ``random``: the same class on every Python."""
    def draw(*key: object) -> int:
        return int.from_bytes(hashlib.blake2b(repr(key).encode(), digest_size=4).digest(), "big")

    bases = [*fixture_class().values(), source(FIXTURES / "solutions" / "gradient_method.py"),
             source(FIXTURES / "solutions" / "perceptron.py")]
    sources = {}
    for index in range(count):
        group = index // 3 if index % 7 else 1000 + index
        numbers = itertools.count()

        def number(_: re.Match[str], group: int = group, index: int = index,
                   numbers: Iterator[int] = numbers) -> str:
            position = next(numbers)
            if draw(index, position) % 10 == 0:
                return str(draw(index, position, "own") % 1000)
            return str(draw(group, position) % 1000)

        lines = re.sub(r"\b\d+\b", number, bases[draw(group) % len(bases)]).split("\n")
        for cut in range(draw(index, "cuts") % 4):
            del lines[draw(index, cut) % len(lines)]
        sources[f"X{index:04d}"] = "\n".join(lines)
    return sources


def _digest(pairs: list[Pair]) -> str:
    rows = [(pair.a, pair.b, pair.shared_tokens, repr(pair.score),
             [(p.first_a, p.last_a, p.first_b, p.last_b) for p in pair.passages]) for pair in pairs]
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]


#: Pair count and digest of the full result (ids, shared tokens, score, every passage), frozen from the
#: pre-numpy implementation (a Token object per token, a dict of window lists per submission).
FROZEN = {"template, 0.5": (18, "3b819ded5739a3b0"), "template, 0.2": (127, "b090259560eaf288"),
          "no template, 0.3": (96, "750b9969d64fe302")}


#: the templates as they were when FROZEN was taken: the digest depends on their text, not on today's templates
FROZEN_TEMPLATES = sorted((FIXTURES / "similarity" / "frozen_templates").glob("*.py"))


@pytest.mark.parametrize("case", list(FROZEN))
def test_the_compact_fingerprints_give_the_same_pairs_as_before(case: str) -> None:
    with_template, threshold = case.split(", ")
    frozen = [source(path) for path in FROZEN_TEMPLATES]
    assert len(frozen) == 2
    pairs = similar_pairs(_variant_class(90), frozen if with_template == "template" else [], float(threshold))
    assert (len(pairs), _digest(pairs)) == FROZEN[case]


def test_only_the_longest_passages_are_matched_in_the_other_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11.3: shared code cut by unique lines made every stretch of A be matched against every
    stretch of B (73 KB took 40 s); only MAX_PASSAGES stretches are matched now (bench/hostile_class.py)."""
    from grader.copydetect import similarity

    shared = "y = a + b * c - d / e + f * g - h / i + j * k - l\n"
    a = "".join(shared + f"z = {i} ; w = {i} ; {i}\n" for i in range(300))
    b = "".join(shared + f"z = {i + 10**6} ; w = {i + 10**6} ; {i + 10**6}\n" for i in range(300))
    calls = []
    real = similarity._runs
    monkeypatch.setattr(similarity, "_runs", lambda positions: calls.append(1) or real(positions))
    (pair,) = similar_pairs({"A": a, "B": b, "C": "x = 1\n"}, [], 0.1)
    assert len(pair.passages) == similarity.MAX_PASSAGES
    assert len(calls) <= 1 + similarity.MAX_PASSAGES
