"""The grader ↔ warm worker exchange: the plan's cases cross the pipe once per worker, not once per student.

The cases are ~90 KB of JSON; the zygote keeps those of the last job that carried them and later jobs
name them by key. These tests use the real worker (bubblewrap when the machine has it).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader.assignment import Assignment
from grader.intake.definitions import definitions_only
from grader.run.engine import Plan, execute, judge
from grader.run.sandbox import launcher, protocol
from grader.run.sandbox.launcher import CASES_UNKNOWN, SandboxSettings, Worker, cases_frame, encode_job
from reference.data import DEFAULT_DATA_PATH

SOLUTION = Path(__file__).resolve().parent / "fixtures" / "solutions" / "ex_02_S0001.py"


@pytest.fixture(scope="module")
def plan() -> Plan:
    return Plan.create(Assignment.named("ex_02"), seed=0, data_file=DEFAULT_DATA_PATH)


@pytest.fixture
def worker(tmp_path: Path) -> Any:
    started = Worker(SandboxSettings.detect(DEFAULT_DATA_PATH), 0, tmp_path)
    started.start()
    yield started
    started.stop()


def full_marks(plan: Plan, runner: Any) -> bool:
    source = SOLUTION.read_text(encoding="utf-8")
    execution = execute(plan, runner, "ex_02_S0001", source, definitions_only(source))
    return all(result.passed for result in judge(plan, execution))


def test_the_cases_go_once_per_worker_and_again_after_a_restart(plan: Plan, worker: Worker,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []
    jobs: list[dict[str, Any]] = []

    def recording_cases(job: dict[str, Any]) -> bytes:
        sent.append(job["cases_key"])
        return cases_frame(job)  # the original, imported before the patch

    def recording_jobs(job: dict[str, Any]) -> bytes:
        body = encode_job(job)
        jobs.append(json.loads(body))
        return body

    monkeypatch.setattr(launcher, "cases_frame", recording_cases)
    monkeypatch.setattr(launcher, "encode_job", recording_jobs)
    assert full_marks(plan, worker.run) and full_marks(plan, worker.run)
    key = plan.job("m", "", "", start=0, mode="full", load_error=None, wall_seconds=1)["cases_key"]
    assert sent == [key] and len(jobs) == 2
    assert all("cases" not in job and job["cases_key"] == key for job in jobs)

    worker.stop()  # as after a submission killed the worker: the new zygote holds no cases
    assert full_marks(plan, worker.run)
    assert sent == [key, key]


def test_a_zygote_without_the_cases_says_so_and_gets_them(plan: Plan, worker: Worker) -> None:
    job = {**plan.job("ex_02_S0001", "x = 1\n", "x = 1\n", start=0, mode="full", load_error=None,
                      wall_seconds=10), "data_dir": worker.data_dir}
    assert worker._exchange(job, with_cases=False, margin=30)["zygote_error"] == CASES_UNKNOWN
    worker._cases_key = job["cases_key"]  # the grader believes it sent them: run() must recover
    answer = worker.run(job)
    assert "zygote_error" not in answer and json.loads(answer["results"][0])["load"]["mode"] == "full"


def test_a_line_without_cases_has_only_the_key(plan: Plan) -> None:
    job = plan.job("m", "s", "d", start=0, mode="full", load_error=None, wall_seconds=1)
    assert "cases" not in json.loads(encode_job(job))
    frame = cases_frame(job)
    assert protocol.parse_frame_header(frame[:protocol.FRAME_HEADER_BYTES]) == (
        "cases", job["cases_key"], len(frame) - protocol.FRAME_HEADER_BYTES)
    assert json.loads(frame[protocol.FRAME_HEADER_BYTES:]) == plan.cases


def test_a_result_larger_than_the_pipe_arrives_whole(plan: Plan, worker: Worker) -> None:
    """Result lines are read at the zygote's polls and at exit; a job whose answer is many pipe-fulls
    (a 4.8 MB array, 6.4 MB of JSON) switches to reading as it comes and loses nothing."""
    source = "import numpy as np\n\ndef big():\n    return np.arange(600_000, dtype=np.float64)\n"
    case = {"id": "big/0", "ops": [{"op": "call", "fn": "big", "args": [], "out": "y"}]}
    job = {**plan.job("ex_02_B0001", source, source, start=0, mode="full", load_error=None, wall_seconds=20),
           "cases": [case], "_cases_json": None, "cases_key": None}
    answer = worker.run(job)
    assert not answer["result_overflow"] and not answer["timed_out"] and answer["exit_code"] == 0
    lines = [json.loads(line) for line in answer["results"]]
    assert [line.get("case") for line in lines[1:-1]] == ["big/0"] and lines[-1] == {"done": True}
    received = protocol.decode(lines[1]["outputs"]["y"])
    np.testing.assert_array_equal(received, np.arange(600_000, dtype=np.float64))


@pytest.mark.parametrize("shape", [[1] * 150_000, [2**40] * 64, [10**1000], "12", [-1]])
def test_a_forged_array_shape_is_refused_without_work(shape: Any) -> None:
    """The child writes the shapes; decoding one must cost nothing whatever it says (math.prod of 150,000
    dimensions took 40 s of the grader's GIL, with every other student's job waiting)."""
    with pytest.raises(ValueError):
        protocol.decode({"__nd__": {"dtype": "<f8", "shape": shape, "b64": ""}})
    assert protocol.Opaque("x", shape).shape is None  # nor is it shown in a report


def test_a_plain_shape_still_decodes() -> None:
    encoded = protocol.encode(np.zeros((2, 0, 3)))
    assert protocol.decode(encoded).shape == (2, 0, 3)
    assert protocol.Opaque("x", [2, 3]).shape == (2, 3)


def test_a_closed_pool_hands_out_no_worker(tmp_path: Path) -> None:
    """After an interruption closes the pool, a grading thread still waiting gets no worker (and so
    starts no new sandbox) instead of one that close() already stopped."""
    pool = launcher.WorkerPool(SandboxSettings.detect(DEFAULT_DATA_PATH), 1, tmp_path)
    taken = pool.acquire()
    waiting: list[BaseException] = []

    def wait_for_one() -> None:
        try:
            pool.acquire()
        except launcher.WorkerLost as exc:
            waiting.append(exc)

    thread = threading.Thread(target=wait_for_one)
    thread.start()
    pool.close()
    thread.join(timeout=10)
    assert not thread.is_alive() and len(waiting) == 1
    with pytest.raises(launcher.WorkerLost):
        pool.acquire()
    assert taken.process is None  # never started, and close() left nothing running


def test_a_frame_header_round_trips_and_refuses_anything_else() -> None:
    header = protocol.frame_header("job", "ab12" * 8, 1234)
    assert len(header) == protocol.FRAME_HEADER_BYTES and header.endswith(b"\n")
    assert protocol.parse_frame_header(header) == ("job", "ab12" * 8, 1234)
    for bad in (b"job x 1\n", header[:-1] + b" ", b"exec " + header[5:], header.replace(b"1234", b"-123")):
        with pytest.raises(ValueError):
            protocol.parse_frame_header(bad.ljust(protocol.FRAME_HEADER_BYTES)[:protocol.FRAME_HEADER_BYTES])
    with pytest.raises(ValueError):
        protocol.frame_header("job", "not a nonce\n", 1)


def test_results_keep_whole_lines_up_to_the_bound_and_nothing_after() -> None:
    """A flood keeps the lines a job can have (then the child is stopped); bytes other than printable ASCII
    become '?' so that escaping the answer cannot make it more than twice as long."""
    from grader.run.sandbox import zygote

    collected = zygote.Collected(keep=10, max_lines=3)
    collected.add("result", b'{"load": 1}\n{"case": "a"}\n')
    assert not collected.overflow
    collected.add("result", b'{"case": "b\xff\x01"}\n{"case": "c"}\n' + b"{}\n" * 100_000)
    assert collected.overflow and collected.lines == 2
    assert collected.result_lines() == ['{"load": 1}', '{"case": "a"}', '{"case": "b??"}']
    collected.add("result", b"{}\n")
    assert len(collected.result_lines()) == 3


def test_the_assignments_unavailable_libraries_cannot_be_imported_where_installed(plan: Plan, tmp_path: Path) -> None:
    """Issue 16.1: grade says what the self-check says, also where the TA's environment has the library
    (here a module every Python has stands in for scikit-learn)."""
    settings = SandboxSettings.detect(DEFAULT_DATA_PATH, unavailable=("tomllib",))
    worker = Worker(settings, 0, tmp_path)
    worker.start()
    try:
        source = "import tomllib\n" + SOLUTION.read_text(encoding="utf-8")
        execution = execute(plan, worker.run, "ex_02_S0001", source, definitions_only(source))
        load = next(result for result in judge(plan, execution) if result.id == "load")
    finally:
        worker.stop()
    assert not load.passed
    assert load.verdict.summary.key == "load.library_unavailable", load.verdict.summary
    assert load.verdict.summary.params["module"] == "tomllib"
