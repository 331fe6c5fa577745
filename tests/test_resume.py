"""Resuming for real: ``grade`` killed mid-class and started again ends with the same bytes as a clean run.

Each submission sleeps a little at load (the student's own time, not the test's) so that the kill lands
while the class is being graded. The re-run's own count ("graded now: X, reused from earlier runs: Y")
and its "(reused)" progress marks show that finished students were not graded again; how much faster a
cached re-run is, is a figure of ``bench/resume.py``, not an assertion.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.outputs.atomic import remove_stale_temporaries, write_atomic

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
BASES = [FIXTURES / "solutions" / "ex_02_S0001.py", FIXTURES / "solutions" / "ex_02_S0002.py",
         FIXTURES / "similarity" / "ex_02_S0003.py"]
CLASS_SIZE = 8  # with two jobs: four rounds of students, the kill lands after the second
COUNTS = re.compile(r"graded now: (\d+), reused from earlier runs: (\d+)")


def make_class(root: Path) -> Path:
    for index in range(CLASS_SIZE):
        text = BASES[index % len(BASES)].read_text(encoding="utf-8")
        slow = f"import time as _time\n\n_time.sleep(0.4)  # student {index}\n"
        (root / f"ex_02_R{index:04d}.py").parent.mkdir(parents=True, exist_ok=True)
        (root / f"ex_02_R{index:04d}.py").write_text(slow + text, encoding="utf-8")
    return root


def command(submissions: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "grader.cli", str(submissions), "--out", str(out), "--jobs", "2", "--lang", "en",
            "--export", "moodle,gradescope"]


def run(submissions: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(submissions, out), cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)


def tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def counts(stderr: str) -> tuple[int, int]:
    match = COUNTS.search(stderr)
    assert match, stderr
    return int(match[1]), int(match[2])


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The class and its outputs from one uninterrupted run."""
    base = tmp_path_factory.mktemp("resume")
    submissions = make_class(base / "class")
    done = run(submissions, base / "reference")
    assert done.returncode == 0, done.stderr
    assert counts(done.stderr) == (CLASS_SIZE, 0)
    return submissions, base / "reference"


def default_sigint() -> None:
    """The grade process starts with SIGINT as a terminal gives it, whatever this test run inherited (a
    test run started with ``&`` from a script has SIGINT ignored, and ``grade`` rightly keeps that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_a_killed_run_resumes_to_the_same_bytes(reference: tuple[Path, Path], tmp_path: Path,
                                                how: signal.Signals) -> None:
    submissions, expected = reference
    out = tmp_path / "out"
    process = subprocess.Popen(command(submissions, out), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True, preexec_fn=default_sigint)
    deadline = time.monotonic() + 120
    while len(list((out / "reports").glob("*.json"))) < 3:
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "no reports appeared"
        time.sleep(0.02)
    process.send_signal(how)
    _, stderr = process.communicate(timeout=60)
    if how == signal.SIGINT:
        assert process.returncode == 130, stderr
        assert "interrupted" in stderr
    else:
        assert process.returncode == -signal.SIGKILL
    finished = len(list((out / ".cache" / "results").glob("*.json")))
    assert 0 < finished < CLASS_SIZE, f"the kill did not land mid-class ({finished} finished)"
    assert not (out / "scores.csv").exists() or how == signal.SIGKILL

    done = run(submissions, out)
    assert done.returncode == 0, done.stderr
    assert counts(done.stderr) == (CLASS_SIZE - finished, finished)
    assert done.stderr.count("(reused)") == finished
    assert tree(out) == tree(expected)
    assert not list(out.rglob("*.tmp"))


def test_a_finished_class_is_not_graded_again_and_an_edit_regrades_only_that_student(
        reference: tuple[Path, Path], tmp_path: Path) -> None:
    submissions, finished = reference  # a finished run of the class: its outputs and its cache
    copy = tmp_path / "class"
    copy.mkdir()
    for path in submissions.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    out = Path(shutil.copytree(finished, tmp_path / "out"))
    again = run(copy, out)
    assert again.returncode == 0, again.stderr
    assert counts(again.stderr) == (0, CLASS_SIZE)
    assert tree(out) == tree(finished)

    edited = copy / "ex_02_R0004.py"
    edited.write_text(edited.read_text(encoding="utf-8") + "\n# one more line\n", encoding="utf-8")
    third = run(copy, out)
    assert counts(third.stderr) == (1, CLASS_SIZE - 1)
    assert f"[1/{CLASS_SIZE}] R0000" in third.stderr and "R0004  " in third.stderr
    assert len(list((out / ".cache" / "results").glob("*.json"))) == CLASS_SIZE  # the old entry was pruned


def test_write_atomic_never_leaves_a_half_written_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "scores.csv"
    write_atomic(target, "old\n")

    def crash(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, "new\n" * 1000)
    assert target.read_text() == "old\n"
    assert [path.name for path in tmp_path.iterdir()] == ["scores.csv"]


def test_leftovers_of_a_sigkill_mid_write_are_removed(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    leftover = tmp_path / "reports" / ".S0001.md.k2j4_x9a.tmp"
    leftover.write_text("half")
    keep = tmp_path / "reports" / "S0001.md"
    keep.write_text("whole")
    remove_stale_temporaries(tmp_path)
    assert not leftover.exists() and keep.read_text() == "whole"
