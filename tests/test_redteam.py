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
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.assignment import Assignment
from grader.cli import main as grade_main
from grader.outputs.report import check_message
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
ATTACKS["D0001"] = CORRECT + "".join(f"def f{index}(a, b=[1, 2]):\n    return [a + b for a in (1, 2)]\n"
                                     for index in range(9_000)) + "raise SystemExit(1)\n"
BOMBER = "Bomber Bo_333_assignsubmission_file_"


def deflated_zip(path: Path, members: list[tuple[str, bytes]]) -> None:
    """A zip of ``members``, each distinct content deflated once: the bomb's 140 equal parts cost one
    compression instead of 140 (3 s), which ``zipfile`` cannot do (it compresses whatever it writes)."""
    compressed: dict[bytes, tuple[bytes, int]] = {}
    local, central = bytearray(), bytearray()
    for name, data in members:
        if data not in compressed:
            packer = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate, as in a zip
            compressed[data] = (packer.compress(data) + packer.flush(), zlib.crc32(data))
        body, crc = compressed[data]
        raw, offset = name.encode(), len(local)
        fields = (8, 0, 0x21, crc, len(body), len(data), len(raw), 0)  # deflate, 1980-01-01 00:00
        local += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, *fields) + raw + body
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, *fields, 0, 0, 0, 0o100644 << 16,
                               offset) + raw
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), len(local), 0)
    path.write_bytes(bytes(local + central) + end)


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


#: Finds its job in the child's frames, answers the case it was restarted at with an 11 MB array (within
#: one job's bound) and crashes, so that the grader restarts it at the next case, up to 64 times.
HOARDER = CORRECT + '''
import base64, json, os, sys
_frame = sys._getframe()
while _frame is not None and "job" not in _frame.f_locals:
    _frame = _frame.f_back
_job = _frame.f_locals["job"]
_start = int(_job.get("start", 0))
if _start < len(_job["cases"]):
    _raw = base64.b64encode(bytes(11 * 2**20)).decode()
    _array = {"__nd__": {"dtype": "<f8", "shape": [11 * 2**20 // 8], "b64": _raw}}
    os.write(3, (json.dumps({"load": {"error": None}}) + "\\n").encode())
    os.write(3, (json.dumps({"case": _job["cases"][_start]["id"], "outputs": {"y": _array}}) + "\\n").encode())
os._exit(1)
'''
HOARD_RSS_BOUND_KB = 400 * 1024  # measured: 262 MiB (984 MiB before the bound across restarts)


@needs_sandbox
def test_results_spread_over_restarts_keep_the_graders_memory_bounded(tmp_path: Path) -> None:
    cls = tmp_path / "class"
    cls.mkdir()
    for student_id, source in {"S0001": CORRECT, "H0001": HOARDER, "H0002": HOARDER}.items():
        (cls / f"ex_02_{student_id}.py").write_text(source, encoding="utf-8")
    code = "import sys; from grader.cli import main; sys.exit(main(sys.argv[1:]))"
    process = subprocess.Popen([sys.executable, "-c", code, str(cls), "--out", str(tmp_path / "out"),
                                "--jobs", "2", "--lang", "en"], cwd=Path(__file__).parent.parent,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert usage.ru_maxrss < HOARD_RSS_BOUND_KB, f"peak {usage.ru_maxrss // 1024} MiB"
    reports = tmp_path / "out" / "reports"
    assert json.loads((reports / "S0001.json").read_text(encoding="utf-8"))["total"] == MAX
    assert "far more data back" in (reports / "H0001.json").read_text(encoding="utf-8")


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
