"""Red-team attacks on the merged grader, each graded end to end through ``grade``.

One hostile class is graded once (sandboxed, as the TA would) beside two honest students. Each attack
is a submission that tried to make the grader fail on it (status ``error``: exit 3 on every rerun, and
the student keeps whatever grade Moodle had), to harm a classmate, or to reach what TAs open. Every
test checks that the attacker got a verdict on its own work and nothing else happened.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from submissions import deflated_zip
from test_verdict_variants import TRAIN_LOOP

from grader.assignment import Assignment
from grader.cli import main as grade_main
from grader.intake.discover import Submission, discover_all
from grader.intake.roster import RosterEntry, RosterIndex
from grader.intake.unnamed import LmsFindings, find_unnamed
from grader.outputs.cache import ResultCache
from grader.outputs.report import check_message
from grader.results import CheckResult, Status, SubmissionResult, Verdict
from grader.run.engine import LIMIT_MESSAGES, Plan, execute, judge, plain_error
from grader.run.sandbox import launcher
from grader.run.sandbox.protocol import Limit
from reference.data import DEFAULT_DATA_PATH

SOLUTIONS = Path(__file__).parent / "fixtures" / "solutions"
CORRECT = (SOLUTIONS / "ex_02_S0001.py").read_text(encoding="utf-8")
MAX = 16
SANDBOX = launcher.bwrap_works()
needs_sandbox = pytest.mark.skipif(not SANDBOX, reason="needs bubblewrap (install the 'bubblewrap' package)")


def forged(*lines: str) -> str:
    """A correct file that, at import, writes its own result lines on the channel (fd 3) and leaves."""
    payload = "".join(line + "\n" for line in lines).encode()
    return CORRECT + f"\nimport os\nos.write(3, {payload!r})\nos._exit(0)\n"


LOADED = json.dumps({"load": {"error": None}})
#: Result lines whose fields are not what the child writes: a text where a number goes, a list where a
#: text goes. Each used to end in the grader's own code (status error, exit 3, on every rerun).
ATTACKS = {
    "R0001": forged(LOADED, json.dumps({"case": "normalize/0", "outputs": {}, "error": None, "seconds": "x"})),
    "R0002": forged(LOADED, json.dumps({"case": "normalize/0", "outputs": {},
                                        "error": {"type": ["list"], "message": {"a": 1}, "fn": [2]}})),
    "R0003": forged(json.dumps({"load": {"error": {"type": {"x": 1}, "message": [1], "traceback": [{"line": 1}]}}})),
}


#: Printed output and an exception message carrying a terminal escape and a bidi override (which
#: reorders what an HTML cell shows); twice, so that the summary groups it as a common failure.
CONTROLS = CORRECT + '''
print("\\x1b]0;owned\\x07\\x1b[2J")
class Weird(Exception):
    pass
def normalize(x):
    raise Weird("abc\\u202edef\\x1b[31m")
'''
ATTACKS.update({"C0001": CONTROLS, "C0002": CONTROLS})
#: 600 KB of small functions whose top-level code fails: the definitions-only fallback would parse it
#: in the grader's own process (an 8 MB one took 15 s holding the GIL, and 2 GB).
#: (Functions without a comprehension each: the same size costs the child's compiler 0.4 s instead of 3 s.)
ATTACKS["D0001"] = CORRECT + "".join(f"def f{index}(a, b=[1, 2]):\n    return a + b[0]\n"
                                     for index in range(14_000)) + "raise SystemExit(1)\n"
#: Issue 15's result cache: everything a student chooses that becomes a message parameter (exception text
#: with format fields, markup and a lone surrogate; class names; printed control characters; returned
#: numpy scalars, huge ints, nan, tuples and dicts) must render the same when read back on a resumed run.
CACHE_HOSTILE = {
    "K0001": CORRECT + '''
class Weird(Exception):
    def __str__(self):
        return "{key} {0} {x!r} %s \\ud800 <script>x</script> ``` # h\\n- i \\x1b[31m" + "A" * 5000
def normalize(x):
    raise Weird()
def standardize(x):
    raise type("Inj`ect{x}<b>", (ValueError,), {})("\\u202e {0.__class__}")
''',
    "K0002": CORRECT + '''
import numpy as np
def normalize(x):
    return 10**4000
def standardize(x):
    return [[float("nan"), float("inf")], (1, 2)]
print("\\x00\\x1b]0;title\\x07" + "é" * 10000)
''',
    "K0003": CORRECT + '''
import numpy as np
def normalize(x):
    return np.float32(0.1)
def standardize(x):
    r = np.asarray(x, dtype=np.float64).copy(); r[:] = -0.0; r[0, 0] = np.nan; return r.astype(np.float16)
''',
}
ATTACKS.update(CACHE_HOSTILE)
#: train() that is gradient descent for the short runs converge probes (1, 2, 3 steps) and the closed form
#: with made-up losses for the long one: converge judges the long run's losses too (see the test below).
SNIFFER_LOOP = TRAIN_LOOP  # the fixture solution's training loop
assert SNIFFER_LOOP in CORRECT
ATTACKS["T0001"] = CORRECT.replace(SNIFFER_LOOP, """    if max_iteration > 3:
        a = np.hstack([x, np.ones((len(x), 1))])
        coef, *_ = np.linalg.lstsq(a, t, rcond=None)
        perceptron.w, perceptron.b = coef[:-1], coef[-1]
        best = float(mse.forward(perceptron.forward(x), t))
        return perceptron, [best * (1 + 1.0 / (k + 1)) for k in range(max_iteration - 1)] + [best]
""" + SNIFFER_LOOP)
BOMBER = "Bomber Bo_333_assignsubmission_file_"


def nested_zip_bomb(path: Path) -> None:
    """A 1 MB zip in one student's Moodle folder holding 140 zips of 8 MiB of zeros each: together more
    than the whole class may extract (1 GiB), which used to end the run for everyone (exit 2)."""
    zeros = bytes(8 * 2**20 + 1)
    deflated_zip(path, [("ex_02_B0001.py", CORRECT.encode()), *((f"part{index}.zip", zeros) for index in range(140))])


@dataclass
class Run:
    out: Path
    code: int
    stderr: str

    def report(self, student_id: str) -> dict:
        return json.loads((self.out / "reports" / f"{student_id}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    if not SANDBOX:
        pytest.skip("needs bubblewrap (install the 'bubblewrap' package)")
    root = tmp_path_factory.mktemp("redteam")
    cls = root / "class"
    cls.mkdir()
    for student_id, source in {"S0001": CORRECT, **ATTACKS, "S0002": CORRECT}.items():
        (cls / f"ex_02_{student_id}.py").write_text(source, encoding="utf-8")
    (cls / BOMBER).mkdir()
    nested_zip_bomb(cls / BOMBER / "bomb.zip")
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = grade_main([str(cls), "--out", str(root / "out"), "--lang", "en", "--jobs", "2"])
    return Run(root / "out", code, stderr.getvalue())


@needs_sandbox
def test_forged_result_fields_are_the_forgers_verdict_not_a_grader_error(run: Run) -> None:
    assert run.code == 0, run.stderr[-3000:]
    for student_id in ("S0001", "S0002"):
        assert run.report(student_id)["total"] == MAX
    for student_id in ("R0001", "R0002", "R0003"):
        report = run.report(student_id)
        assert report["status"] == "graded", report
        assert "internal error" not in json.dumps(report), report


def tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*"))
            if path.is_file() and ".cache" not in path.parts}


@needs_sandbox
def test_hostile_parameters_resume_to_the_same_bytes(run: Run, tmp_path: Path) -> None:
    """A resumed run (every result read back from .cache/results) writes every report, the summary and
    the exports byte for byte as the first run did, for submissions whose messages carry hostile text."""
    assert run.code == 0, run.stderr[-3000:]
    entries = list((run.out / ".cache" / "results").glob("*.json"))
    for student_id in CACHE_HOSTILE:  # graded, and kept: the resumed run below reads them back
        assert run.report(student_id)["status"] == "graded"
    assert len(entries) >= len(CACHE_HOSTILE)
    out = tmp_path / "out"
    shutil.copytree(run.out, out)
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = grade_main([str(run.out.parent / "class"), "--out", str(out), "--lang", "en", "--jobs", "2"])
    assert code == 0, stderr.getvalue()[-3000:]
    assert "graded now: 0," in stderr.getvalue(), stderr.getvalue()[-3000:]
    assert tree(out) == tree(run.out)


@needs_sandbox
def test_a_train_that_sniffs_the_step_count_gets_no_converge_points(run: Run) -> None:
    checks = {check["id"]: check for check in run.report("T0001")["checks"]}
    assert checks["converge"]["passed"] is False
    assert "not the gradient descent its first steps show" in json.dumps(checks["converge"]), checks["converge"]


@needs_sandbox
def test_nested_zips_cost_only_their_folder(run: Run) -> None:
    assert run.code == 0, run.stderr[-3000:]
    assert run.report("S0001")["total"] == MAX
    bomber = run.report("B0001")  # the bomber's own file is graded; the rest of the zip was refused
    assert (bomber["status"], bomber["total"]) == ("graded", MAX)
    assert f"{BOMBER}/bomb.zip/part139.zip was not extracted" in run.stderr


@needs_sandbox
def test_control_characters_are_shown_not_obeyed_in_html(run: Run) -> None:
    for name in ("reports/C0001.html", "summary.html"):
        text = (run.out / name).read_text(encoding="utf-8")
        assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text, name
        assert "\\u202e" in text, name
    assert "\\x1b]0;owned" in (run.out / "reports" / "C0001.html").read_text(encoding="utf-8")


@needs_sandbox
def test_a_huge_file_gets_no_definitions_only_fallback(run: Run) -> None:
    report = run.report("D0001")
    assert (report["status"], report["total"]) == ("graded", 0)
    assert "too long" in report["checks"][0]["message"], report["checks"][0]


#: What a child may put where its error names the sandbox limit it hit. Only a kind of the protocol's closed
#: set (``protocol.Limit``) is kept; the old message-key ``note`` and every forgery are dropped, whatever
#: their type or size, and the run goes on.
FORGED_LIMITS = {
    "unknown kind": {"limit": "no_such_kind"}, "a message key": {"limit": "containment.memory"},
    "the kind's name": {"limit": "MEMORY"}, "a list": {"limit": ["memory"]}, "a dict": {"limit": {"memory": 1}},
    "huge": {"limit": "memory" * 200_000}, "a number": {"limit": 7}, "null": {"limit": None},
    "an old note": {"note": "containment.memory"}, "a note naming another key": {"note": "check.passed"},
    "forged params": {"limit": "nope", "note_params": {"memory_mb": "{0.__class__}"}},
}
MEMORY_SENTENCE = "the memory limit while grading is"


def judged_with_error(fields: dict) -> str:
    """Every check's message after a child that reports ``fields`` in each case's error (not sandboxed:
    this is about what the grader makes of what the child says)."""
    plan = Plan.create(Assignment.named("ex_02"), seed=0, data_file=DEFAULT_DATA_PATH)
    error = {"type": "MemoryError", "message": "", "fn": "normalize", **fields}
    lines = [LOADED, *(json.dumps({"case": case["id"], "outputs": {}, "error": error}) for case in plan.cases),
             json.dumps({"done": True})]
    execution = execute(plan, lambda job: {"results": list(lines)}, "ex_02_F0001", "x = 1\n", "x = 1\n")
    catalogue = Assignment.named("ex_02").catalogue()
    return "\n".join(check_message(result, catalogue, "en") for result in judge(plan, execution))


@pytest.mark.parametrize("fields", list(FORGED_LIMITS.values()), ids=list(FORGED_LIMITS))
def test_a_forged_limit_from_the_child_is_dropped(fields: dict) -> None:
    text = judged_with_error(fields)
    assert "MemoryError" in text  # the student's own error is still told
    assert "containment" not in text and MEMORY_SENTENCE not in text and "no_such_kind" not in text
    assert "__class__" not in text and len(text) < 100_000


def test_a_limit_of_the_closed_set_gets_the_graders_sentence() -> None:
    """The positive control of the test above; and every kind has its sentence in both languages, with
    every placeholder filled from the job's limits."""
    assert MEMORY_SENTENCE in judged_with_error({"limit": "memory"})
    catalogue = Assignment.named("ex_02").catalogue()
    limits = Plan.create(Assignment.named("ex_02"), seed=0, data_file=DEFAULT_DATA_PATH).limits
    for kind in Limit:
        error = plain_error({"type": "OSError", "limit": kind.value}, limits)
        assert error["note"] == LIMIT_MESSAGES[kind]
        for lang in ("ja", "en"):
            assert catalogue.text(error["note"], lang, **error["note_params"])


# ---------------------------------------------------------------------------------------------------
# Issue 15 reshape: unnamed files resolved through Moodle owners (grader/intake/unnamed.py)


def moodle_flat(root: Path, name: str, participant: str, uploaded: str, text: str = CORRECT) -> Path:
    """An old flat Moodle download's file: ``<name>_<participant>_assignsubmission_file_<uploaded>``."""
    path = root / f"{name}_{participant}_assignsubmission_file_{uploaded}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def unnamed_findings(root: Path, scratch: Path, entries: list[RosterEntry] | None) -> LmsFindings:
    return find_unnamed(discover_all(root, scratch), entries)


@pytest.mark.parametrize("entries", [None, [RosterEntry("V0001", "V0001")]], ids=["no roster", "ids-only roster"])
def test_a_flat_file_under_another_participants_id_is_graded_for_no_one(tmp_path: Path, entries) -> None:
    """Two participants of a flat download both hand in ``ex_02_V0001.py`` and the owner is unknown:
    the one whose name sorted first was graded as V0001 and the other's file dropped as a duplicate. A
    folder download says "contested, graded for no one" (discover._bind_to_owners); so does this now."""
    root = tmp_path / "flat"
    moodle_flat(root, "A Mallory", "105", "ex_02_V0001.py", CORRECT + "# mallory\n")
    moodle_flat(root, "Victim", "106", "ex_02_V0001.py")
    findings = unnamed_findings(root, tmp_path / "scratch", entries)
    assert findings.submissions == []
    assert [warning.key for warning in findings.warnings] == ["discover.id_contested"]
    assert "105" in str(findings.warnings[0].params) and "106" in str(findings.warnings[0].params)


def test_one_flat_participant_with_several_ids_is_graded_for_no_one(tmp_path: Path) -> None:
    """Without a roster one participant's flat files named with two ids made two students (a made-up or a
    classmate's id among them); a Moodle folder holding several ids grades none, and so do flat files."""
    root = tmp_path / "flat"
    moodle_flat(root, "Mallory", "105", "ex_02_M0001.py")
    moodle_flat(root, "Mallory", "105", "ex_02_V0001.py")
    findings = unnamed_findings(root, tmp_path / "scratch", None)
    assert findings.submissions == []
    assert [warning.key for warning in findings.warnings] == ["discover.several_ids"]


def test_an_honest_flat_download_without_a_roster_is_graded_by_the_id_in_the_name(tmp_path: Path) -> None:
    """The positive control of the two tests above."""
    root = tmp_path / "flat"
    moodle_flat(root, "Ann", "105", "ex_02_A0001.py")
    moodle_flat(root, "Bob", "106", "ex_02_B0001.py")
    findings = unnamed_findings(root, tmp_path / "scratch", None)
    assert [submission.student_id for submission in findings.submissions] == ["A0001", "B0001"]
    assert findings.warnings == []


def moodle_file(root: Path, name: str, participant: str, uploaded: str, text: str = CORRECT) -> Path:
    path = root / f"{name}_{participant}_assignsubmission_file_" / uploaded
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


HOMONYMS = [RosterEntry("V0001", "V0001", "106", "佐藤 翔太"), RosterEntry("W0001", "W0001", "108", "佐藤 健")]


@pytest.mark.parametrize("uploaded", ["課題2.py", "ex_02_M0001.py"], ids=["unnamed", "own id"])
def test_a_participant_the_roster_lacks_is_not_an_enrolled_namesake(tmp_path: Path, uploaded: str) -> None:
    """Participant 105, not in the roster, has the full name of V0001 (participant 106 in the roster):
    the name fallback made 105's file V0001's, graded for V0001 (flagged as a typo) while V0001 handed
    in nothing. A roster entry with a participant number is that participant only."""
    root = tmp_path / "class"
    moodle_file(root, "佐藤 翔太", "105", uploaded)
    discovery = discover_all(root, tmp_path / "scratch", roster=RosterIndex(HOMONYMS))
    findings = find_unnamed(discovery, HOMONYMS)
    graded = [submission.student_id for submission in [*discovery.submissions, *findings.submissions]]
    assert "V0001" not in graded


def test_the_name_fallback_still_finds_an_entry_without_a_participant_number(tmp_path: Path) -> None:
    """The positive control: a roster without participant numbers resolves an unnamed file by name."""
    root = tmp_path / "class"
    moodle_file(root, "佐藤 翔太", "105", "課題2.py")
    entries = [RosterEntry("V0001", "V0001", None, "佐藤 翔太")]
    findings = find_unnamed(discover_all(root, tmp_path / "scratch", roster=RosterIndex(entries)), entries)
    assert [submission.student_id for submission in findings.submissions] == ["V0001"]


def test_an_unusable_nested_zip_is_named_as_the_student_sees_it_not_by_the_graders_scratch(tmp_path: Path) -> None:
    """A zip in a student's zip that is not a zip was reported with the path of discovery's copy
    (``/tmp/exgrader-<random>/input/zip-<random>/000001.zip``): the grader's scratch in the class's summary,
    different on every run, so a resumed run never wrote the same summary twice."""
    root = tmp_path / "class"
    folder = root / "Ann Lee_101_assignsubmission_file_"
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / "work.zip", "w") as archive:
        archive.writestr("ex_02_A0001.py", CORRECT)
        archive.writestr("inner.zip", b"not a zip at all")
    texts = []
    for run_index in range(2):
        discovery = discover_all(root, tmp_path / f"scratch{run_index}")
        assert [submission.student_id for submission in discovery.submissions] == ["A0001"]
        texts.append(json.dumps([[warning.key, warning.params] for warning in discovery.warnings], ensure_ascii=False))
    assert "Ann Lee_101_assignsubmission_file_/work.zip/inner.zip" in texts[0]
    assert "scratch" not in texts[0] and str(tmp_path) not in texts[0], texts[0]
    assert texts[0] == texts[1]


# ---------------------------------------------------------------------------------------------------
# Issue 15 reshape: the result cache is an optimisation, so nothing in DIR/.cache may end a run


def cached_class(tmp_path: Path) -> tuple[ResultCache, Submission, SubmissionResult]:
    catalogue = Assignment.named("ex_02").catalogue()
    path = tmp_path / "ex_02_S0001.py"
    path.write_text("x = 1\n", encoding="utf-8")
    submission = Submission("S0001", path, path.name, "py", 0.0)
    result = SubmissionResult("S0001", Status.GRADED, path.name,
                              [CheckResult("load", True, 1.0, 1.0, Verdict.ok())], 1.0)
    return ResultCache(tmp_path / "out", "run", catalogue, "en"), submission, result


@pytest.mark.parametrize("obstacle", ["results is a file", "results is read-only", "an entry is a folder"])
def test_a_cache_that_cannot_be_written_or_pruned_never_ends_the_run(tmp_path: Path, obstacle: str) -> None:
    """A folder named like an entry (``stale.json/``), ``.cache/results`` that is a file, or one the TA
    cannot write (left by a run as root, then resumed as an ordinary user) ended the run with a traceback
    at every rerun; the cache now stores or prunes what it can and the student is graded again next time."""
    cache, submission, result = cached_class(tmp_path)
    cache.folder.parent.mkdir(parents=True)
    if obstacle == "results is a file":
        cache.folder.write_text("", encoding="utf-8")
    elif obstacle == "results is read-only":
        if os.geteuid() == 0:
            pytest.skip("root writes into a read-only folder")
        cache.folder.mkdir()
        cache.folder.chmod(0o555)
    else:
        (cache.folder / "stale.json").mkdir(parents=True)
        (cache.folder / "stale.json" / "keep").write_text("x", encoding="utf-8")
    cache.store("k", result, submission)
    cache.prune(["k"])
    assert cache.load("k", submission) in (None, result)
    if obstacle == "an entry is a folder":
        assert (cache.folder / "stale.json" / "keep").exists()  # only the cache's own files are removed
        assert cache.load("k", submission) == result  # and the rest of the cache still works


# ---------------------------------------------------------------------------------------------------
# Issue 15 reshape: the limit kinds of the closed set, forged by the child


def crashing_runner(plan: Plan, error: dict) -> Callable[[dict], dict]:
    """A child that answers the case its job starts at with ``error`` and then dies (exit 1), each time:
    the engine restarts it at the next case, as for any crash."""
    def runner(job: dict) -> dict:
        case = plan.cases[job["start"]]
        lines = [LOADED, json.dumps({"case": case["id"], "outputs": {}, "error": {**error, "fn": case["id"]}})]
        return {"results": lines, "exit_code": 1, "output": "", "output_bytes": 0}
    return runner


@pytest.mark.parametrize("kind", [kind.value for kind in Limit])
def test_a_forged_limit_kind_changes_no_point_and_no_restart(kind: str) -> None:
    """Every kind of the closed set, the worker's own ("results": a flood, no restart; "worker_killed";
    "tmp_files") included, claimed by the child for its own exception: the same restarts, outcomes and
    points as without the claim; only the student's own sentence names the limit."""
    plan = Plan.create(Assignment.named("ex_02"), seed=0, data_file=DEFAULT_DATA_PATH)
    honest = execute(plan, crashing_runner(plan, {"type": "ValueError", "message": "x"}), "ex_02_F0001", "", "")
    forged = execute(plan, crashing_runner(plan, {"type": "ValueError", "message": "x", "limit": kind}),
                     "ex_02_F0001", "", "")
    assert forged.attempts == honest.attempts > 1
    assert forged.outcomes.keys() == honest.outcomes.keys()
    assert [(result.id, result.score) for result in judge(plan, forged)] == \
        [(result.id, result.score) for result in judge(plan, honest)]
    assert all(outcome.error.get("note") == LIMIT_MESSAGES[Limit(kind)] for outcome in forged.outcomes.values()
               if outcome.error and outcome.error.get("type") == "ValueError")


def test_one_participants_flat_files_cost_only_their_own_budget(tmp_path: Path) -> None:
    """In an old flat download every file of a participant is ``<owner>_file_<name>``: each file counted
    as a Moodle folder of its own, with a folder's whole budget, so one participant's many 8 MiB uploads
    (zeros: a few KB zipped) could spend the class's budget and end the run for everyone."""
    archive = tmp_path / "flat.zip"
    zeros = bytes(8 * 2**20 + 1)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as packed:
        packed.writestr("Ann Lee_101_assignsubmission_file_ex_02_A0001.py", CORRECT)
        for index in range(12):
            packed.writestr(f"Bomber Bo_333_assignsubmission_file_part{index}.py", zeros)
    discovery = discover_all(archive, tmp_path / "scratch", max_bytes=64 * 2**20)  # the class's budget, scaled
    findings = find_unnamed(discovery, None)
    assert [submission.student_id for submission in findings.submissions] == ["A0001"]
    assert "discover.folder_too_large" in [warning.key for warning in discovery.warnings]


ORDINARY_UID = 1000  # the TA's stand-in: the image has user cloudsdk, and /opt/exgrader-venv it can run
ORDINARY_PYTHON = Path(os.environ.get("EXGRADER_UNPRIVILEGED_PYTHON", "/opt/exgrader-venv/bin/python"))
RESUME_AS_TA = """
import sys
from pathlib import Path
from grader.assignment import Assignment
from grader.intake.discover import Submission
from grader.outputs.cache import ResultCache
from grader.results import CheckResult, Status, SubmissionResult, Verdict
out, path = Path(sys.argv[1]), Path(sys.argv[2])
cache = ResultCache(out, "run", Assignment.named("ex_02").catalogue(), "en")
submission = Submission("S0001", path, path.name, "py", 0.0)
cache.store("new", SubmissionResult("S0001", Status.GRADED, path.name,
                                    [CheckResult("load", True, 1.0, 1.0, Verdict.ok())], 1.0), submission)
cache.prune(["new"])
print("ok")
"""


def test_a_cache_left_by_a_run_as_root_does_not_end_an_ordinary_users_run(tmp_path: Path) -> None:
    """The TA graded once as root, then resumes as an ordinary user in their own folder: ``.cache/results``
    and its entries are root's. Storing the new result and pruning the old one each ended the run."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None or not ORDINARY_PYTHON.exists():
        pytest.skip("needs root, setpriv and a Python another uid can run (/opt/exgrader-venv)")
    base = Path(tempfile.mkdtemp(prefix="exgrader-redteam-"))  # tmp_path is root's (0700)
    try:
        out, path = base / "out", base / "ex_02_S0001.py"
        path.write_text("x = 1\n", encoding="utf-8")
        (out / ".cache" / "results").mkdir(parents=True)
        (out / ".cache" / "results" / "old.json").write_text("{}", encoding="utf-8")  # root's, 0755 folder
        for owned in (base, out, path):
            os.chown(owned, ORDINARY_UID, ORDINARY_UID)
        base.chmod(0o755)
        done = subprocess.run(["setpriv", f"--reuid={ORDINARY_UID}", f"--regid={ORDINARY_UID}", "--clear-groups",
                               "--", str(ORDINARY_PYTHON), "-c", RESUME_AS_TA, str(out), str(path)],
                              env={"PATH": "/usr/bin:/bin", "HOME": str(base), "LANG": "C.UTF-8",
                                   "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
                              capture_output=True, text=True, timeout=120, cwd=str(base), check=False)
        if "ModuleNotFoundError" in done.stderr:
            pytest.skip(f"uid {ORDINARY_UID} cannot import the project: {done.stderr[-300:]}")
        assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr[-2000:]
    finally:
        shutil.rmtree(base, ignore_errors=True)
