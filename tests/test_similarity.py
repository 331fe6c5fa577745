"""Copy detection: a disguised copy is flagged; independent correct solutions are not.

The fixtures: ``solutions/ex_02_S0001.py`` and ``ex_02_S0002.py`` (two correct solutions written from the
template), ``similarity/ex_02_S0003.py`` (a third correct solution, written independently with a
different structure: a helper function, a column loop, einsum, a while loop) and
``similarity/ex_02_C0003.py``: S0003 copied with renamed variables, reordered functions and changed
comments.
"""

from __future__ import annotations

import builtins
import hashlib
import itertools
import json
import keyword
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import grader.pylexer as pylexer
import grader.similarity as similarity
from grader.decode import decode_submission
from grader.grade import DEFAULT_REFERENCES, DEFAULT_TEMPLATES
from grader.similarity import Pair, normalized_tokens, passage_text, similar_pairs
from tests.hostile import corpus as hostile

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).parent.parent
EXAMPLE_CLASS = ROOT / "examples" / "class"


def source(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def templates() -> list[str]:
    return [source(path) for path in DEFAULT_TEMPLATES]


def references() -> list[str]:
    return [source(path) for path in DEFAULT_REFERENCES]


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
    assert [token.text for token in normalized_tokens(one)] == [token.text for token in normalized_tokens(two)]
    assert [token.text for token in normalized_tokens("x = 'a' f'{b}c'\n")] == ["V", "=", "S"]


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


# --- the tokenize lexer gives Pygments' stream -----------------------------------------------------------

def _student_like_sources() -> dict[str, str]:
    """Fixtures, the hostile corpus, templates, reference solutions and the example class (if present)."""
    sources = {str(path.relative_to(ROOT)): source(path)
               for folder in ("tests/fixtures", "tests/hostile", "student_templates", "reference")
               for path in sorted((ROOT / folder).rglob("*.py"))}
    sources.update({f"hostile.{name}": value for name, value in vars(hostile).items()
                    if isinstance(value, str) and "\n" in value and not name.startswith("__")})
    sources["hostile.reader()"] = hostile.reader({"passwd": "/etc/passwd"})
    sources["hostile.writer()"] = hostile.writer({"canary": "/tmp/canary.txt"})
    sources["hostile.network()"] = hostile.network(8080, "\0exgrader")
    sources["hostile.borrow_file()"] = hostile.borrow_file("/reference/perceptron.py")
    for path in sorted(EXAMPLE_CLASS.rglob("ex_02_*")) if EXAMPLE_CLASS.is_dir() else []:
        decoded = decode_submission(path, path.suffix.lstrip("."))
        if decoded.source is not None:
            sources[str(path.relative_to(ROOT))] = decoded.source
    return sources


STUDENT_LIKE = _student_like_sources()


@pytest.mark.parametrize("name", list(STUDENT_LIKE))
def test_the_tokenize_lexer_gives_the_pygments_stream_of_the_project_corpus(name: str) -> None:
    text = STUDENT_LIKE[name]
    assert pylexer.stream_tokenize(text) == pylexer.stream_pygments(text)


def test_the_tokenize_lexer_gives_the_pygments_stream_of_the_grader_where_it_lexes() -> None:
    """The grader's own modules, more varied Python than a submission: every module the tokenize lexer
    takes gives Pygments' stream, and it takes most of them."""
    paths = sorted((ROOT / "grader").rglob("*.py"))
    taken = 0
    for path in paths:
        text = source(path)
        try:
            fast = pylexer.stream_tokenize(text)
        except pylexer.Unlike:
            continue
        assert fast == pylexer.stream_pygments(text), path
        taken += 1
    assert taken >= 0.9 * len(paths)


TRICKY = {
    "f-strings": (
        'name = "x"\nwidth = 10\n'
        'print(f"{name!r:>{width}} {{literal}} {name=} {name = !s:^10} {width:#06x} {3.14159:.2f}")\n'
        "print(f'{name[0]!a}' F\"{'nested'}\" f\"{ {'a': 1}['a'] }\" f'{(lambda v: v)(1)}' f'{width:%Y-%m-%d}')\n"
        "print(f\"{'a' if name else 'b'}\", rf'\\d{name}\\{{', f'{name:{width}.{width}} }}', f\"{f'{name}'}\")\n"
        'msg = f"""\n  {name}\n  {width!r}"""\n'),
    "implicit concatenation": 'x = ("a"\n     "b" f"{c}"\n     r"d"  # comment\n     b"e")\ny = "f" "g"\n"h"\n',
    "backslash continuations": 'total = 1 + \\\n    2\ns = "a" \\\n    "b"\nif a and \\\n   b:\n    pass\n',
    "decorators": ("@property\ndef f(self): ...\n@functools.wraps(g)\n@ staticmethod\n"
                   "def g(): return a @b @ c\n@dataclass(frozen=True)\nclass C: pass\n"),
    "match": ("match command.split():\n    case [action]:\n        pass\n    case [action, obj]:\n"
              "        pass\n    case Point(x=0, y=0) | {'k': _}:\n        pass\n    case _:\n        pass\n"
              "match = re.match(r'x', s)\nmatch.group(1)\ncase = 3\nmatch(x)\nprint(match, case)\n"),
    "walrus and lambda": ("if (n := len(a)) > 10:\n    f = lambda x, *y, **z: x ** 2 // 3\n"
                          "while chunk := f.read(10): pass\n"),
    "unicode identifiers": "データ = [1, 2]\n合計 = sum(データ)\nprint(f'合計={合計}')  # 日本語のコメント\nｘ = 1\n",
    "tabs": "def f(x):\n\tif x:\n\t\treturn\tx\t# tab\n\treturn None\n",
    "CRLF": 'def f(x):\r\n    """Doc."""\r\n    # c\r\n    return x + "a" \\\r\n        "b"\r\n',
    "no final newline": "def f(x):\n    return x * 2",
    "docstrings": ('"""Module doc."""\n\nclass C:\n    """Class doc."""\n\n    def m(self):\n'
                   "        '''Method doc.'''\n        r\"\"\"raw doc\"\"\"\n        return u'''x'''\n\n"
                   "def f():\n    'single-quoted doc'\n    b'''bytes at a line start'''\n"),
    "triple-quoted strings that are not docstrings": (
        'x = """not a doc"""\nprint("""a""", """b""")\ncall(\n    """a line start in brackets""",\n'
        '    f"""formatted""")\ny = r"""raw""" + """\nmulti\nline"""\n'),
    "imports": ("import os.path as p, sys\nfrom . import x\nfrom ..pkg.mod import (a,\n    b as c)\n"
                "from.rel import y\nimport print\nraise E from None\nraise E from self.error\n"),
    "keywords and builtins": ("def print(self, len): return len(self.print) or cls.range\n"
                              "class list(object): pass\nx = self . min\ny = yield from g()\n"
                              "async def f(): await x; yield  from y\nz = Ellipsis, NotImplemented, ValueError\n"
                              "print(__name__, __import__, sum, exec)\n"),
    "numbers and operators": ("x = 1j + 2.5J + 1e5j + 0x1F + 0o17 + 0b10 + 1_000 + .5 + 5. + 1.e3\n"
                              "a -> b; a **= 2; a //= 3; a @= m; a <<= 1; a >>= 1; a != b == c <= d >= e\n"
                              "x[...] = y[1:2, ::3]; z = ~a ^ b | c & d % e\n"),
    "string escapes and formats": ("s = '%s and %(name)d' % t + '{0.x[key]!r:>10}'.format(o)\n"
                                   "t = '\\N{EM DASH}\\u00e9\\x41\\n' \"it's\" 'say \"hi\"' b'\\x00'\n"),
}


@pytest.mark.parametrize("name", list(TRICKY))
def test_the_tokenize_lexer_gives_the_pygments_stream_of_tricky_code(name: str) -> None:
    text = TRICKY[name]
    assert pylexer.stream_tokenize(text) == pylexer.stream_pygments(text)


def test_keywords_and_builtins_are_kept_as_pygments_keeps_them() -> None:
    """Every Python keyword, soft keyword and builtin name, alone, after a dot and assigned to."""
    names = sorted({*keyword.kwlist, *keyword.softkwlist, *dir(builtins), *pylexer._BUILTINS})
    for name in names:
        for text in (f"{name}\n", f"x.{name}\n", f"{name} = 1\n"):
            try:
                fast = pylexer.stream_tokenize(text)
            except (pylexer.Unlike, tokenize.TokenError, SyntaxError):
                continue  # "class\n": handed to Pygments
            assert fast == pylexer.stream_pygments(text), text


def _spy_on_pygments(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The sources ``_stream`` hands to Pygments from now on."""
    lexed: list[str] = []
    pygments_stream = pylexer.stream_pygments

    def spy(text: str) -> tuple[list[str], list[int]]:
        lexed.append(text)
        return pygments_stream(text)

    monkeypatch.setattr(pylexer, "stream_pygments", spy)
    return lexed


REJECTED_BY_TOKENIZE = {
    "unterminated triple quote": 'def f():\n    """never closed\n    return 1\n',
    "unbalanced indentation": "def f():\n        x = 1\n    return x\n",
    "binary blob": bytes(range(256)).decode("latin-1") * 4,
    "unclosed bracket": "x = f(1,\n",
}


@pytest.mark.parametrize("name", list(REJECTED_BY_TOKENIZE))
def test_what_tokenize_rejects_is_lexed_by_pygments(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    text = REJECTED_BY_TOKENIZE[name]
    with pytest.raises((tokenize.TokenError, SyntaxError, pylexer.Unlike)):
        pylexer.stream_tokenize(text)
    expected = pylexer.stream_pygments(text)
    lexed = _spy_on_pygments(monkeypatch)
    assert pylexer.stream(text) == expected
    assert lexed == [text]


#: constructs the tokenize lexer hands to Pygments rather than reproduce Pygments' reading of them
UNLIKE = {
    "docstring with an escaped closing quote": 'def f():\n    """a \\""" b"""\n',
    "escaped closing quote in a raw string": 'x = r"""a\\""" b"""\n',
    "format field read across the string": "x = '{a[' + \"]}\"\n",
    "f-string format spec closed by '}}'": "x = f'{a:}}'\ny = 1\n",
    "number pygments reads as one": "x = 0123\n",
    "imaginary number glued to a name": "x = 1jif y else 2\n",
    "def then a line break": "def\\\n f(): pass\n",
    "carriage return without a line feed": "x = 1\ry = 2\n",
    "string prefix Python 3.11 does not know": "x = t'{y}'\n",
    "soft keyword line pygments lexes apart": "case '''a''' | _:\n    pass\n",
}


@pytest.mark.parametrize("name", list(UNLIKE))
def test_what_the_tokenize_lexer_does_not_reproduce_is_lexed_by_pygments(name: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    text = UNLIKE[name]
    with pytest.raises(pylexer.Unlike):
        pylexer.stream_tokenize(text)
    expected = pylexer.stream_pygments(text)
    lexed = _spy_on_pygments(monkeypatch)
    assert pylexer.stream(text) == expected
    assert lexed == [text]


def test_the_template_material_is_the_same_with_either_lexer(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = [similarity.template_material(text) for text in templates()]

    def unlike(*_: object, **__: object) -> None:
        raise pylexer.Unlike("test: Pygments only")

    monkeypatch.setattr(pylexer, "stream_tokenize", unlike)
    assert [similarity.template_material(text) for text in templates()] == fast


_PIECES = ["def ", "class ", "from ", "import ", "yield ", "match ", "case ", "_", "x", "print", "self", ".", "...",
           "@", "()", "[x]", "{x: 1}", "(_, y)", ":", "=", "==", "->", "**", ",", "1", "1j", "0x1F", ".5", "lambda",
           "'a'", '"b"', "f'{x!r:>{w}}'", "f'{{'", "'{0}'", "r'\\d'", '"""doc"""', "b'''d'''", "# c", "データ"]
_LAYOUT_PIECES = [" ", " ", "", "\n", "\n    ", " \\\n", "\r\n", "\t"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_PIECES), st.sampled_from(_LAYOUT_PIECES)), max_size=30))
def test_wherever_the_tokenize_lexer_lexes_it_gives_the_pygments_stream(pieces: list[tuple[str, str]]) -> None:
    text = "".join(piece + layout for piece, layout in pieces)
    try:
        fast = pylexer.stream_tokenize(text)
    except (pylexer.Unlike, tokenize.TokenError, SyntaxError):
        return
    assert fast == pylexer.stream_pygments(text)


def test_only_the_longest_passages_are_matched_in_the_other_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11.3: shared code cut by unique lines made every stretch of A be matched against every
    stretch of B (73 KB took 40 s); only MAX_PASSAGES stretches are matched now (bench/hostile_class.py)."""
    from grader import similarity

    shared = "y = a + b * c - d / e + f * g - h / i + j * k - l\n"
    a = "".join(shared + f"z = {i} ; w = {i} ; {i}\n" for i in range(300))
    b = "".join(shared + f"z = {i + 10**6} ; w = {i + 10**6} ; {i + 10**6}\n" for i in range(300))
    calls = []
    real = similarity._runs
    monkeypatch.setattr(similarity, "_runs", lambda positions: calls.append(1) or real(positions))
    (pair,) = similar_pairs({"A": a, "B": b, "C": "x = 1\n"}, [], 0.1)
    assert len(pair.passages) == similarity.MAX_PASSAGES
    assert len(calls) <= 1 + similarity.MAX_PASSAGES
