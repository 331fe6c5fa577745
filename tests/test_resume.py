"""Resuming for real: ``grade`` killed mid-class and started again ends with the same bytes as a clean run.

Each submission sleeps a little at load (the student's own time, not the test's) so that the kill lands
while the class is being graded. The re-run's own count ("graded now: X, reused from earlier runs: Y")
and its "(reused)" progress marks show that finished students were not graded again; how much faster a
cached re-run is, is a figure of ``bench/resume.py``, not an assertion.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from grader.assignment import Assignment
from grader.cli import main as grade_main
from grader.i18n import Catalogue, Message
from grader.intake.discover import Submission
from grader.outputs.atomic import remove_stale_temporaries, write_atomic
from grader.outputs.cache import MAX_ENTRY_BYTES, ResultCache
from grader.outputs.report import to_html, to_json, to_markdown
from grader.results import CheckResult, Status, SubmissionResult, Verdict

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


def arguments(submissions: Path, out: Path) -> list[str]:
    return [str(submissions), "--out", str(out), "--jobs", "2", "--lang", "en", "--export", "moodle,gradescope"]


def command(submissions: Path, out: Path) -> list[str]:
    """``grade`` as its own process: the runs that are killed."""
    return [sys.executable, "-m", "grader.cli", *arguments(submissions, out)]


def run(submissions: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """``grade`` run to its end in this process (what it prints on stderr is kept): the same code as the
    command, without a fresh interpreter importing numpy, pandas and matplotlib for each run."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = grade_main(arguments(submissions, out))
    return subprocess.CompletedProcess(arguments(submissions, out), code, "", stderr.getvalue())


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


# --- the cache holds results, and reads its entries as untrusted ----------------------------------------

def test_hand_edited_entries_are_graded_again_and_the_outputs_do_not_change(
        reference: tuple[Path, Path], tmp_path: Path) -> None:
    """DIR/.cache is writable by whoever owns DIR: an entry with a message key the catalogue lacks, one
    with wrong types, one that is a link to another student's entry, one that is a FIFO (reading it would
    block) and one far too big are all absent. Those students are graded again; the outputs stay
    byte for byte those of a clean run, and nothing injected reaches a report."""
    submissions, expected = reference
    out = tmp_path / "out"
    shutil.copytree(expected, out, symlinks=True)
    entries = {json.loads(path.read_text("utf-8"))["student_id"]: path
               for path in sorted((out / ".cache" / "results").glob("*.json"))}
    assert len(entries) == CLASS_SIZE

    def edit(student_id: str, change: Callable[[dict], None]) -> None:
        entry = json.loads(entries[student_id].read_text("utf-8"))
        change(entry)
        entries[student_id].write_text(json.dumps(entry), encoding="utf-8")

    edit("R0000", lambda entry: entry["checks"][0].update(summary={"key": "injected.key", "params": {}}))
    edit("R0001", lambda entry: entry["warnings"].append({"key": "report.title", "params": {"title": "x"}}))
    edit("R0002", lambda entry: entry["checks"][0].update(passed="yes"))
    edit("R0003", lambda entry: entry["checks"][1].update(score=[1]))
    entries["R0004"].unlink()
    entries["R0004"].symlink_to(entries["R0005"])
    entries["R0006"].unlink()
    os.mkfifo(entries["R0006"])
    edit("R0007", lambda entry: entry.update(output="x" * (MAX_ENTRY_BYTES + 1)))
    done = run(submissions, out)
    assert done.returncode == 0, done.stderr
    assert counts(done.stderr) == (7, CLASS_SIZE - 7)
    assert tree(out) == tree(expected)
    assert "injected.key" not in done.stderr


def submission(path: Path, student_id: str = "S0001", warnings: tuple[Message, ...] = ()) -> Submission:
    path.write_text("x = 1\n", encoding="utf-8")
    return Submission(student_id, path, path.name, "py", 0.0, warnings)


#: Every kind of parameter a check may put in a message, and a sentence that shows each as it is.
ODD_PARAMS = {"tuple": (1, "a", (2.5,)), "f32": np.float32(0.1), "i64": np.int64(-7), "flag": np.bool_(True),
              "nan": float("nan"), "inf": float("inf"), "ninf": -math.inf, "big": 2**80,
              "keys": {1: "one", (2, 3): [None, False], "s": np.float64(1e-300)}, "none": None,
              "text": "日本語 <b>&</b>"}
ODD = Message("t.odd", {**ODD_PARAMS, "nested": Message("t.odd", ODD_PARAMS)})
ODD_TEMPLATE = " ".join(f"{{{name}}}" for name in ODD_PARAMS) + " {f32:.9f} {nested}"


def catalogue() -> Catalogue:
    base = Assignment.named("ex_02").catalogue()
    base.extend({"t.odd": {"ja": ODD_TEMPLATE, "en": ODD_TEMPLATE}}, source="test")
    return base


def odd_result(student_id: str = "S0001") -> SubmissionResult:
    checks = [CheckResult("load", False, 0.0, 2.5, Verdict(False, ODD, [ODD, Message("check.passed")], ODD)),
              CheckResult("normalize", True, 3.0, 3.0, Verdict.ok())]
    return SubmissionResult(student_id, Status.GRADED, "ex_02_S0001.py", checks, 5.5, [ODD], "printed\n", 8)


def rendered(result: SubmissionResult, messages: Catalogue) -> tuple[str, str, str]:
    return (json.dumps(to_json(result, messages, "en")), to_markdown(result, messages, "en", "T"),
            to_html(result, messages, "en", "T"))


def param_types(value: object) -> object:
    """The exact type of everything in a value (nan != nan, so equality alone would not do)."""
    if isinstance(value, Message):
        return "Message", value.key, param_types(dict(value.params))
    if isinstance(value, dict):
        return "dict", tuple((param_types(key), param_types(item)) for key, item in value.items())
    if isinstance(value, list | tuple):
        return type(value).__name__, tuple(param_types(item) for item in value)
    return type(value).__name__, repr(value)


def test_a_result_read_back_renders_byte_for_byte_and_keeps_every_parameter_type(tmp_path: Path) -> None:
    messages = catalogue()
    cache = ResultCache(tmp_path / "out", "run", messages, "en")
    own = submission(tmp_path / "ex_02_S0001.py", warnings=(Message("report.decode_error"),))
    result = odd_result()
    result.warnings.insert(0, Message("report.decode_error"))
    cache.store("k", result, own)
    stored = (tmp_path / "out" / ".cache" / "results" / "k.json").read_text("utf-8")
    assert "NaN" not in stored and "Infinity" not in stored  # plain JSON
    loaded = cache.load("k", own)
    assert loaded is not None
    assert rendered(loaded, messages) == rendered(result, messages)
    assert param_types(loaded.checks[0].verdict.summary) == param_types(ODD)
    assert param_types(loaded.warnings) == param_types(result.warnings)  # the submission's own once, not twice


def test_a_result_the_format_cannot_keep_exactly_is_not_stored(tmp_path: Path) -> None:
    """An array or an object as a parameter: graded again next time, never shown differently."""
    own = submission(tmp_path / "ex_02_S0001.py")
    cache = ResultCache(tmp_path / "out", "run", catalogue(), "en")
    for odd in (np.arange(3), object(), 1j, {"a": {1, 2}}):
        result = odd_result()
        result.checks[0].verdict.details.append(Message("t.odd", {**ODD_PARAMS, "nested": odd}))
        cache.store("k", result, own)
        assert not (tmp_path / "out" / ".cache" / "results" / "k.json").exists()


HOSTILE_EDITS: dict[str, Callable[[dict], object]] = {
    "unknown summary key": lambda entry: entry["checks"][0].update(summary={"key": "no.such", "params": {}}),
    "unknown nested key": lambda entry: entry["checks"][0]["summary"]["params"].update(
        nested={"message": {"key": "no.such", "params": {}}}),
    "extra field in a message": lambda entry: entry["warnings"][0].update(lang="en"),
    "a parameter the sentence lacks": lambda entry: entry["checks"][0]["summary"]["params"].pop("f32"),
    "a string for a number format": lambda entry: entry["checks"][0]["summary"]["params"].update(f32="x"),
    "unknown tag": lambda entry: entry["checks"][0]["summary"]["params"].update(text={"object": "os.system"}),
    "two tags": lambda entry: entry["checks"][0]["summary"]["params"].update(text={"tuple": [], "dict": []}),
    "an object dtype": lambda entry: entry["checks"][0]["summary"]["params"].update(
        f32={"numpy": "|O", "value": 1}),
    "a string in a numpy scalar": lambda entry: entry["checks"][0]["summary"]["params"].update(
        f32={"numpy": "<f8", "value": "1e5"}),
    "an int too big for its dtype": lambda entry: entry["checks"][0]["summary"]["params"].update(
        i64={"numpy": "<i8", "value": 2**70}),
    "an unhashable key": lambda entry: entry["checks"][0]["summary"]["params"].update(
        keys={"dict": [[[1], 2]]}),
    "a pair of three": lambda entry: entry["checks"][0]["summary"]["params"].update(keys={"dict": [[1, 2, 3]]}),
    "deep nesting": lambda entry: entry["checks"][0]["summary"]["params"].update(
        text=json.loads("[" * 50 + "]" * 50)),
    "passed as a string": lambda entry: entry["checks"][0].update(passed="yes"),
    "score as a bool": lambda entry: entry["checks"][0].update(score=True),
    "score as a string": lambda entry: entry["checks"][0].update(score="3"),
    "status unknown": lambda entry: entry.update(status="perfect"),
    "negative output size": lambda entry: entry.update(output_bytes=-1),
    "output not a string": lambda entry: entry.update(output=["x"]),
    "checks not a list": lambda entry: entry.update(checks={"id": "load"}),
    "another student's": lambda entry: entry.update(student_id="S0002"),
    "an older format": lambda entry: entry.update(format=1),
    "a missing field": lambda entry: entry["checks"][0].pop("hint"),
}


@pytest.mark.parametrize("edit", list(HOSTILE_EDITS), ids=list(HOSTILE_EDITS))
def test_a_hostile_entry_is_absent_never_a_crash_or_an_injected_sentence(tmp_path: Path, edit: str) -> None:
    own = submission(tmp_path / "ex_02_S0001.py")
    cache = ResultCache(tmp_path / "out", "run", catalogue(), "en")
    cache.store("k", odd_result(), own)
    path = tmp_path / "out" / ".cache" / "results" / "k.json"
    assert cache.load("k", own) is not None
    entry = json.loads(path.read_text("utf-8"))
    HOSTILE_EDITS[edit](entry)
    path.write_text(json.dumps(entry), encoding="utf-8")
    assert cache.load("k", own) is None


@pytest.mark.parametrize("text", ["", "null", "[]", '"entry"', "{", "\udcff", '{"format": NaN}',
                                  "[" * 100_000 + "]" * 100_000, '{"format": 2, "student_id": "S0001", "max": 1' +
                                  "0" * 5000 + "}"], ids=lambda text: repr(text[:12]))
def test_a_damaged_entry_is_absent(tmp_path: Path, text: str) -> None:
    own = submission(tmp_path / "ex_02_S0001.py")
    path = tmp_path / "out" / ".cache" / "results" / "k.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    assert ResultCache(tmp_path / "out", "run", catalogue(), "en").load("k", own) is None


def test_links_in_the_cache_are_not_followed(tmp_path: Path) -> None:
    """An entry linked to a file elsewhere is not read; a results folder (or .cache) that is a link is
    neither read, nor written, nor pruned (pruning through it would delete files wherever it points)."""
    own = submission(tmp_path / "ex_02_S0001.py")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    good = ResultCache(tmp_path / "good", "run", catalogue(), "en")
    good.store("k", odd_result(), own)
    linked = ResultCache(tmp_path / "linked", "run", catalogue(), "en")
    linked.folder.mkdir(parents=True)
    (linked.folder / "k.json").symlink_to(good.folder / "k.json")
    assert good.load("k", own) is not None and linked.load("k", own) is None

    for link in (Path(".cache"), Path(".cache") / "results"):
        out = tmp_path / f"out-{len(link.parts)}"
        (out / link).parent.mkdir(parents=True, exist_ok=True)
        (out / link).symlink_to(elsewhere, target_is_directory=True)
        (elsewhere / "results").mkdir(exist_ok=True)
        shutil.copy(good.folder / "k.json", elsewhere / "k.json")
        shutil.copy(good.folder / "k.json", elsewhere / "results" / "k.json")
        cache = ResultCache(out, "run", catalogue(), "en")
        assert not cache.usable and cache.load("k", own) is None
        cache.store("new", odd_result(), own)
        cache.prune([])
        assert sorted(path.name for path in elsewhere.rglob("*.json")) == ["k.json", "k.json"]
