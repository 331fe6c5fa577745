"""Copy detection beside grading (grader/copydetect/copycheck.py): the background process gives exactly the pairs
the grader would compute itself, and when it cannot, the grader computes them itself."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pytest

from grader.assignment import Assignment
from grader.copydetect import copycheck
from grader.copydetect.copycheck import BackgroundPairs, compute, decoded_sources, pairs_from_json, pairs_to_json
from grader.copydetect.similarity import read_template, similar_pairs
from grader.intake.discover import Submission
from reference.data import DEFAULT_DATA_PATH

FIXTURES = Path(__file__).parent / "fixtures"
FILES = {"S0001": FIXTURES / "solutions" / "ex_02_S0001.py", "S0002": FIXTURES / "solutions" / "ex_02_S0002.py",
         "S0003": FIXTURES / "similarity" / "ex_02_S0003.py", "C0003": FIXTURES / "similarity" / "ex_02_C0003.py"}


def submissions(tmp_path: Path) -> list[Submission]:
    """The similarity fixtures (one disguised copy among them) plus a file that is not Python at all."""
    folder = tmp_path / "class"
    folder.mkdir(parents=True)
    items = []
    for student_id, path in FILES.items():
        target = folder / f"ex_02_{student_id}.py"
        shutil.copyfile(path, target)
        items.append(Submission(student_id, target, target.name, "py", 0.0))
    broken = folder / "ex_02_X0001.py"
    broken.write_bytes(b"\xff\xfe\x00 not python")
    items.append(Submission("X0001", broken, broken.name, "py", 0.0))
    return items


def templates() -> list[str]:
    return [text for text in (read_template(path) for path in Assignment.default().templates) if text is not None]


def references() -> list[str]:
    return [text for text in (read_template(path) for path in Assignment.default().references) if text is not None]


@pytest.fixture(autouse=True)
def every_class_gets_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the background process: here every class of two files or more gets one."""
    monkeypatch.setattr(copycheck, "IN_PROCESS_FILES", 2)


def test_the_background_process_finds_the_pairs_the_grader_would(tmp_path: Path) -> None:
    background = BackgroundPairs(submissions(tmp_path), templates(), 0.5, tmp_path / "copycheck", references())
    assert background.process is not None
    pairs = background.pairs()
    assert background.process.returncode == 0 and background.answer_path.is_file()  # it answered
    assert (pairs, []) == compute(background.request)  # sources streamed one at a time ...
    assert pairs == similar_pairs(decoded_sources(background.request["submissions"]), templates(), 0.5,
                                  reference_sources=references())  # or held
    assert {(pair.a, pair.b) for pair in pairs} == {("C0003", "S0003")}  # the disguised copy, nothing else


def test_one_file_has_nothing_to_compare_and_starts_no_process(tmp_path: Path) -> None:
    one = submissions(tmp_path)[:1]
    background = BackgroundPairs(one, templates(), 0.5, tmp_path / "copycheck", references())
    assert background.process is None and not (tmp_path / "copycheck").exists()
    assert background.pairs() == [] == compute(background.request)[0]
    assert background.skipped == [] and not background.timed_out
    two = BackgroundPairs(submissions(tmp_path / "two")[:2], templates(), 0.5, tmp_path / "two" / "copycheck",
                          references())
    assert two.process is not None
    two.close()


def test_a_class_smaller_than_a_process_start_is_compared_here_after_grading(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    small = submissions(tmp_path)
    monkeypatch.setattr(copycheck, "IN_PROCESS_FILES", len(small) + 1)
    background = BackgroundPairs(small, templates(), 0.5, tmp_path / "copycheck", references())
    assert background.process is None and not (tmp_path / "copycheck").exists()
    pairs = background.pairs()
    assert (pairs, background.skipped) == compute(background.request)
    assert {(pair.a, pair.b) for pair in pairs} == {("C0003", "S0003")}  # the disguised copy, nothing else


@pytest.mark.parametrize("command", [("/nonexistent/python",),  # cannot start
                                     (sys.executable, "-c", "import sys; sys.exit(3)"),  # fails
                                     (sys.executable, "-c", "import sys; open(sys.argv[2], 'w').write('[{')")])
def test_without_an_answer_the_grader_computes_the_pairs_itself(tmp_path: Path, command: tuple[str, ...],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    expected = BackgroundPairs(submissions(tmp_path), templates(), 0.5, tmp_path / "expected", references()).pairs()
    monkeypatch.setattr(BackgroundPairs, "command", command)
    background = BackgroundPairs(submissions(tmp_path / "again"), templates(), 0.5, tmp_path / "copycheck",
                                 references())
    assert [(pair.a, pair.b, pair.score) for pair in background.pairs()] == \
        [(pair.a, pair.b, pair.score) for pair in expected] and expected


def test_an_interrupted_run_stops_the_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(BackgroundPairs, "command", (sys.executable, "-c", "import time; time.sleep(60)"))
    background = BackgroundPairs(submissions(tmp_path), templates(), 0.5, tmp_path / "copycheck", references())
    background.close()
    assert background.process is not None and background.process.poll() is not None


def test_pairs_survive_the_json_round_trip(tmp_path: Path) -> None:
    pairs = BackgroundPairs(submissions(tmp_path), templates(), 0.5, tmp_path / "copycheck", references()).pairs()
    assert pairs and pairs_from_json(pairs_to_json(pairs)) == pairs


def test_the_process_imports_nothing_from_the_folder_the_ta_runs_in(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``json.py`` or ``numpy.py`` beside the class (or a PYTHONPATH) must not run outside the sandbox."""
    here = tmp_path / "ta"
    here.mkdir()
    marker = tmp_path / "imported"
    for name in ("json", "numpy", "pygments", "grader"):
        (here / f"{name}.py").write_text(f"open({str(marker)!r}, 'a').write('{name}\\n')\n", encoding="utf-8")
    monkeypatch.chdir(here)
    monkeypatch.setenv("PYTHONPATH", str(here))
    background = BackgroundPairs(submissions(tmp_path), templates(), 0.5, tmp_path / "copycheck", references())
    pairs = background.pairs()
    assert background.process is not None and background.process.returncode == 0 and background.answer_path.is_file()
    assert not marker.exists()
    assert {(pair.a, pair.b) for pair in pairs} == {("C0003", "S0003")}


def test_a_scratch_folder_that_cannot_be_written_costs_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    background = BackgroundPairs(submissions(tmp_path), templates(), 0.5, blocker / "copycheck", references())
    assert background.process is None
    assert {(pair.a, pair.b) for pair in background.pairs()} == {("C0003", "S0003")}


# ---------------------------------------------------------------------------------------------------
# One file never turns copy detection off, nor holds it up (issue 11.3)


def with_deep_notebook(tmp_path: Path) -> list[Submission]:
    items = submissions(tmp_path)
    deep = tmp_path / "class" / "ex_02_D0001.ipynb"
    deep.write_text('{"cells": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")
    return [*items, Submission("D0001", deep, deep.name, "ipynb", 0.0)]


def test_a_deeply_nested_notebook_does_not_turn_copy_detection_off(tmp_path: Path) -> None:
    background = BackgroundPairs(with_deep_notebook(tmp_path), templates(), 0.5, tmp_path / "copycheck", references())
    assert {(pair.a, pair.b) for pair in background.pairs()} == {("C0003", "S0003")}
    assert background.process is not None and background.process.returncode == 0  # answered itself
    assert compute(background.request) == (background.pairs(), [])  # undecodable: its report says why


def test_a_file_whose_reading_fails_is_skipped_and_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = copycheck.decode_submission

    def failing_for_one(path: Path, kind: str) -> object:
        if path.name == "ex_02_S0002.py":
            raise RecursionError("maximum recursion depth exceeded")
        return real(path, kind)

    monkeypatch.setattr(copycheck, "decode_submission", failing_for_one)
    request = BackgroundPairs(submissions(tmp_path), templates(), 0.5, tmp_path / "copycheck", references()).request
    pairs, skipped = compute(request)
    assert {(pair.a, pair.b) for pair in pairs} == {("C0003", "S0003")}
    assert [(student, reason.split(":")[0]) for student, reason in skipped] == [("S0002", "RecursionError")]


def test_a_file_that_overruns_its_time_is_skipped_and_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = copycheck.decode_submission

    def slow_for_one(path: Path, kind: str) -> object:
        if path.name == "ex_02_S0002.py":
            spent = time.process_time() + 5  # CPU work: the budget counts the process's CPU time
            while time.process_time() < spent:
                pass
        return real(path, kind)

    monkeypatch.setattr(copycheck, "decode_submission", slow_for_one)
    request = BackgroundPairs(submissions(tmp_path), templates(), 0.5, tmp_path / "copycheck", references()).request
    pairs, skipped = compute(request, seconds=0.5)
    assert {(pair.a, pair.b) for pair in pairs} == {("C0003", "S0003")}
    assert [(student, "Overtime" in reason) for student, reason in skipped] == [("S0002", True)]


def test_a_file_that_waits_for_the_cpu_is_not_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The budget is CPU time: at the lowest priority on a busy machine a file can wait long for its share,
    and a clock budget left out different files on every run (a resumed run's summary differed)."""
    real = copycheck.decode_submission

    def waiting_for_one(path: Path, kind: str) -> object:
        if path.name == "ex_02_S0002.py":
            time.sleep(1.0)  # waiting, as a process gets no CPU on a busy machine: no CPU time spent
        return real(path, kind)

    monkeypatch.setattr(copycheck, "decode_submission", waiting_for_one)
    request = BackgroundPairs(submissions(tmp_path), templates(), 0.5, tmp_path / "copycheck", references()).request
    pairs, skipped = compute(request, seconds=0.5)
    assert skipped == []
    assert {(pair.a, pair.b) for pair in pairs} == {("C0003", "S0003")}


def test_copy_detection_has_its_own_time_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(BackgroundPairs, "command", (sys.executable, "-c", "import time; time.sleep(60)"))
    background = BackgroundPairs(submissions(tmp_path), templates(), 0.5, tmp_path / "copycheck", references())
    background.wait_seconds = 0.5
    assert background.pairs() == [] and background.timed_out  # not computed again in the grader
    assert background.process is not None and background.process.poll() is not None  # and stopped


def test_grade_hands_the_reference_solution_to_copy_detection(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """grade gives the background process the instructor's solution (read in the grader's process) beside
    the templates, and names a missing one instead of failing."""
    from grader import grade
    from grader.i18n import Catalogue

    class Captured(Exception):
        pass

    seen: list[tuple[list[str], list[str]]] = []

    def capture(submissions: object, templates: list[str], threshold: float, folder: Path,
                references: list[str]) -> None:
        seen.append((templates, references))
        raise Captured

    monkeypatch.setattr(grade, "BackgroundPairs", capture)
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copyfile(FILES["S0001"], folder / "ex_02_S0001.py")
    options = grade.GradeOptions(path=folder, out=tmp_path / "out", data=DEFAULT_DATA_PATH)
    with pytest.raises(Captured):
        grade.grade_class(options, Catalogue.load_engine())
    assert seen == [(templates(), references())] and references()
    templates_text, warnings = grade._read_templates([tmp_path / "missing.py"], "similarity.reference_missing")
    assert templates_text == [] and [warning.key for warning in warnings] == ["similarity.reference_missing"]
