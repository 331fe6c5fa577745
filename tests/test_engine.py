"""The engine's loading fallback, run in-process (the sandbox adds isolation, not different logic)."""

from __future__ import annotations

import json
from pathlib import Path

from grader.assignment import Assignment
from grader.intake.definitions import definitions_only
from grader.outputs.report import check_message
from grader.run.engine import Execution, Plan, execute, judge
from grader.run.inprocess import in_process_runner
from reference.data import DEFAULT_DATA_PATH

SOLUTION = Path(__file__).resolve().parent / "fixtures" / "solutions" / "ex_02_S0001.py"


def grade_text(tmp_path: Path, source: str) -> dict:
    path = tmp_path / "ex_02_E0001.py"
    path.write_text(source, encoding="utf-8")
    plan = Plan.create(Assignment.named("ex_02"), seed=0, data_file=DEFAULT_DATA_PATH)
    execution = execute(plan, in_process_runner(path), "ex_02_E0001", source, definitions_only(source))
    return {"load": execution.load, "results": {result.id: result for result in judge(plan, execution)}}


def test_a_module_the_grader_lacks_costs_only_load(tmp_path: Path) -> None:
    source = "import japanize_matplotlib\n" + SOLUTION.read_text(encoding="utf-8")
    graded = grade_text(tmp_path, source)
    failed = {check_id for check_id, result in graded["results"].items() if not result.passed}
    assert failed == {"load"}
    assert graded["load"]["error"]["type"] == "ModuleNotFoundError"
    assert graded["load"]["definitions_error"] is None


def test_definitions_mode_tracebacks_point_at_the_students_lines(tmp_path: Path) -> None:
    lines = SOLUTION.read_text(encoding="utf-8").splitlines()
    source = "\n".join(["import numpy as np", "import japanize_matplotlib", "raise SystemExit(3)", *lines])
    source = source.replace("    x_min = np.min(x, axis=0)", "    x_min = 1 / 0")
    graded = grade_text(tmp_path, source)
    expected_line = source.splitlines().index("    x_min = 1 / 0") + 1
    message = graded["results"]["normalize"].verdict
    frames = [detail.params for detail in message.details if detail.key == "check.traceback_line"]
    assert frames and frames[-1]["line"] == expected_line and "1 / 0" in frames[-1]["code"]


def lazy_and_eager(tmp_path: Path, source: str) -> tuple[int, Execution, Execution]:
    """How often a lazily given fallback was extracted, and the executions with it given lazily and eagerly."""
    path = tmp_path / "ex_02_E0001.py"
    path.write_text(source, encoding="utf-8")
    plan = Plan.create(Assignment.named("ex_02"), seed=0, data_file=DEFAULT_DATA_PATH)
    calls = []

    def definitions() -> str:
        calls.append(1)
        return definitions_only(source)

    lazy = execute(plan, in_process_runner(path), "ex_02_E0001", source, definitions)
    eager = execute(plan, in_process_runner(path), "ex_02_E0001", source, definitions_only(source))
    return len(calls), lazy, eager


def outcomes(execution: Execution) -> dict:
    return {case_id: (outcome.error, sorted(outcome.outputs)) for case_id, outcome in execution.outcomes.items()}


def test_the_fallback_is_extracted_only_for_a_file_that_fails_to_load(tmp_path: Path) -> None:
    calls, lazy, eager = lazy_and_eager(tmp_path, SOLUTION.read_text(encoding="utf-8"))
    assert calls == 0 and lazy.attempts == 1 and lazy.load["mode"] == "full"
    assert outcomes(lazy) == outcomes(eager)

    failing = "import japanize_matplotlib\n" + SOLUTION.read_text(encoding="utf-8")
    calls, lazy, eager = lazy_and_eager(tmp_path, failing)
    assert calls == 1 and lazy.attempts == 2  # the runner asked for the definitions, then ran with them
    assert {key: value for key, value in lazy.load.items() if key != "seconds"} == \
        {key: value for key, value in eager.load.items() if key != "seconds"}
    assert lazy.load["mode"] == "definitions" and lazy.load["error"]["type"] == "ModuleNotFoundError"
    assert "needs_definitions" not in lazy.load
    assert outcomes(lazy) == outcomes(eager)


def scripted(answers: list[dict], jobs: list[dict]):
    """A runner that records each job and gives the next scripted answer (a child that says what it likes)."""

    def run(job: dict) -> dict:
        jobs.append(job)
        return answers.pop(0)

    return run


def test_a_forged_load_error_cannot_break_the_reports() -> None:
    """The child is not trusted: an unknown note or malformed frames in the load error it reports, then a
    crash in the definitions-only run, still give this student a rendered report (the run went on)."""
    plan = Plan.create(Assignment.named("ex_02"), seed=0, data_file=DEFAULT_DATA_PATH)
    forged = {"type": "RuntimeError", "message": "x", "note": "no.such.key",
              "traceback": [{"line": 1}, "not a frame", {"function": {"a": 1}, "code": None, "line": "7"}]}
    answers = [{"results": [json.dumps({"load": {"mode": "full", "error": forged, "needs_definitions": True}}),
                            json.dumps({"done": True})]},
               {"exit_code": -11, "results": []}]  # the definitions-only run dies at once
    jobs: list[dict] = []
    execution = execute(plan, scripted(answers, jobs), "ex_02_E0001", "x = 1\n", lambda: "x = 1\n")
    assert [job["mode"] for job in jobs] == ["full", "definitions"] and jobs[1]["definitions"] == "x = 1\n"
    catalogue = Assignment.named("ex_02").catalogue()
    rendered = [check_message(result, catalogue, "ja") for result in judge(plan, execution)]
    assert not any("no.such.key" in text for text in rendered)
    assert "RuntimeError" in rendered[0]


def test_a_restart_after_a_crash_carries_the_fallback() -> None:
    """After a crash in case 3 the file is loaded again for the rest; should loading fail then, the child
    must have the definitions at hand (it cannot ask again: the load was already reported)."""
    plan = Plan.create(Assignment.named("ex_02"), seed=0, data_file=DEFAULT_DATA_PATH)
    first = [json.dumps({"load": {"mode": "full", "error": None}})] + [
        json.dumps({"case": case["id"], "outputs": {}, "error": None}) for case in plan.cases[:2]]
    rest = [json.dumps({"load": {"mode": "full", "error": None}})] + [
        json.dumps({"case": case["id"], "outputs": {}, "error": None}) for case in plan.cases[3:]] + [
        json.dumps({"done": True})]
    jobs: list[dict] = []
    extracted = []
    execute(plan, scripted([{"exit_code": -11, "results": first}, {"results": rest}], jobs), "ex_02_E0001",
            "x = 1\n", lambda: extracted.append(1) or "x = 1\n")
    assert [job["start"] for job in jobs] == [0, 3]
    assert jobs[0]["definitions"] is None and jobs[1]["definitions"] == "x = 1\n" and extracted == [1]
