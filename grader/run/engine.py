"""Grading one submission: run its cases (restarting after crashes), then judge every check.

Execution and judgement are separate on purpose. ``execute`` only moves data: it sends the plan's
cases to a runner (a sandboxed worker, or the in-process runner of the student tests) and collects
what came back, resuming after the case a crash happened in, so that one fatal bug costs only the
checks that depend on it. ``judge`` is pure: the same outcomes always give the same verdicts.
"""

from __future__ import annotations

import hashlib
import json
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.assignment import Assignment
from grader.checks.base import CaseOutcome, Check, judge_checks
from grader.checks.failures import relate
from grader.results import CheckResult
from grader.run.sandbox import protocol
from grader.run.sandbox.launcher import TMP_MB

Runner = Callable[[dict[str, Any]], dict[str, Any]]
MAX_ATTEMPTS = 64
#: What all the jobs of one submission may send back together (an honest one sends far less). One job may
#: send as much (the zygote's bound), so without this a file that crashes after each big answer made the
#: grader hold up to MAX_ATTEMPTS of them per student in flight (docs/benchmark.md).
MAX_RESULT_BYTES = 16 * 2**20


class RunnerLost(Exception):
    """The runner could not answer for this job (its worker died); the engine records a crash."""


@dataclass
class Plan:
    """Everything that is the same for every student of a run: checks, their cases, limits."""

    assignment: Assignment
    seed: int
    #: The course data (the checks read it as the ``data_file`` parameter), None when the assignment has none.
    data_file: Path | None
    limits: dict[str, Any]
    checks: list[Check] = field(init=False)
    cases: list[dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        extra = {} if self.data_file is None else {"data_file": str(self.data_file)}
        self.checks = self.assignment.build_checks(self.seed, extra)
        self.cases = [case for check in self.checks for case in check.cases()]
        self._cases_json = json.dumps(self.cases)
        self._cases_key = hashlib.sha256(self._cases_json.encode()).hexdigest()[:32]

    @classmethod
    def create(cls, assignment: Assignment, *, seed: int, data_file: Path | None,
               timeout: float | None = None) -> Plan:
        limits = dict(assignment.limits)
        if timeout is not None:
            limits["wall_seconds"] = timeout
        return cls(assignment, seed, data_file, limits)

    def job(self, module_name: str, source: str, definitions: str, *, start: int, mode: str,
            load_error: Mapping[str, Any] | None, wall_seconds: float) -> dict[str, Any]:
        return {"module_name": module_name, "source": source, "definitions": definitions, "start": start,
                "mode": mode, "load_error": load_error, "seed": self.seed,
                "load_seconds": min(float(self.limits.get("load_seconds", 10)), wall_seconds),
                "case_seconds": float(self.limits.get("case_seconds", 5)),
                "limits": {**self.limits, "wall_seconds": wall_seconds}, "cases": self.cases,
                # encoded once per run: the sandbox runner sends it as is, once per worker (then the key)
                "_cases_json": self._cases_json, "cases_key": self._cases_key}


@dataclass
class Execution:
    load: dict[str, Any]
    outcomes: dict[str, CaseOutcome]
    output: str = ""
    output_bytes: int = 0
    attempts: int = 0


#: The sentence for each limit the sandbox may report (grader/messages/containment.toml): the grader's
#: choice, rendered with the job's limits; the child only names a kind of the protocol's closed set.
LIMIT_MESSAGES: dict[protocol.Limit, str] = {kind: f"containment.{kind.value}" for kind in protocol.Limit}


def crash_limit(answer: Mapping[str, Any]) -> protocol.Limit | None:
    """The limit that ended a job early, when the worker (or the grader, for a lost worker) knows it."""
    if answer.get("limit") in (protocol.Limit.TMP_FILES, protocol.Limit.RESULTS):
        return protocol.Limit(answer["limit"])
    if answer.get("lost"):
        return protocol.Limit.WORKER_KILLED
    return None


def plain_error(error: Any, limits: Mapping[str, Any]) -> Any:
    """A child's error as plain data the reports can always render. The child is not trusted: its
    ``limit`` is kept only when it is a kind of the protocol's closed set, and becomes the grader's
    sentence for it (``note``, with the limits to show as ``note_params``); anything else sent there is
    dropped. Its traceback frames become ``{line, function, code}``."""
    if error is None:
        return None
    if not isinstance(error, dict):
        return {"type": "Error", "message": str(error)[:600]}
    # plain fields only: a forged line can carry a list as its type or a dict as its message, and every
    # later step (grouping failures, rendering) must be able to hash and print what it is given
    cleaned: dict[str, Any] = {key: str(error[key])[:600] for key in ("type", "message", "fn") if key in error}
    for key in ("op", "seconds"):
        if _number(error.get(key)) is not None:
            cleaned[key] = error[key]
    frames = error.get("traceback")
    if isinstance(frames, list):
        cleaned["traceback"] = [
            {"line": frame.get("line") if isinstance(frame.get("line"), int) else "?",
             "function": str(frame.get("function", "?"))[:100], "code": str(frame.get("code", ""))[:200]}
            for frame in frames[-protocol.MAX_FRAMES:] if isinstance(frame, dict)]
    limit = error.get("limit")
    if isinstance(limit, str) and limit in LIMIT_MESSAGES:
        kind = protocol.Limit(limit)
        cleaned["limit"] = kind.value  # kept: a load error goes back to the child in the next job, and returns
        cleaned["note"] = LIMIT_MESSAGES[kind]
        cleaned["note_params"] = {"tmp_mb": TMP_MB, **{key: value for key, value in limits.items()
                                                       if isinstance(value, int | float)}}
    return cleaned


def _number(value: Any) -> float | None:
    """``value`` when the child sent a plain number (bool excluded), else None."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def exit_description(answer: Mapping[str, Any]) -> str:
    if answer.get("timed_out"):
        return "timeout"
    code = answer.get("exit_code")
    if code is None:
        return str(answer.get("lost") or "worker lost")
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def _parse_lines(answer: Mapping[str, Any]) -> list[dict[str, Any]]:
    lines = []
    for line in answer.get("results", []):
        if isinstance(line, dict):
            lines.append(line)
            continue
        try:
            parsed = json.loads(line)
        except (TypeError, ValueError):
            break  # a child that wrote garbage: treat the rest as lost
        if isinstance(parsed, dict):
            lines.append(parsed)
    return lines


def _decode_outputs(raw: Any) -> dict[str, Any]:
    outputs = {}
    for name, value in (raw or {}).items() if isinstance(raw, dict) else []:
        try:
            outputs[str(name)] = protocol.decode(value)
        except Exception:  # malformed data from the child: never trusted, never fatal
            outputs[str(name)] = protocol.Opaque("malformed value")
    return outputs


def execute(plan: Plan, runner: Runner, module_name: str, source: str,
            definitions: str | Callable[[], str], *, data_beside: bool = False) -> Execution:
    """Run all cases of the plan against one submission, restarting after the case a crash happened in.

    ``definitions`` (the fallback when the file's top-level code fails) may be a function: it is then
    called only for a file whose loading failed, which the runner reports with ``needs_definitions``
    before running any case (most files load, and then nothing is extracted). Its SyntaxError
    propagates to the caller. ``data_beside`` (notebooks) also puts the data next to the file, where a
    notebook run in Jupyter finds it.
    """
    made: str | None = definitions if isinstance(definitions, str) else None

    def definitions_text() -> str:
        nonlocal made
        if made is None:
            made = definitions()  # type: ignore[operator]  # a str was taken above
        return made

    budget = float(plan.limits.get("wall_seconds", 20))
    started = time.monotonic()
    mode, load_error, start = "full", None, 0
    execution = Execution(load={}, outcomes={})
    keep = int(plan.limits.get("output_bytes", 8192))
    received_bytes = 0
    while start < len(plan.cases) or not execution.load:
        remaining = budget - (time.monotonic() - started)
        if execution.attempts >= MAX_ATTEMPTS or remaining <= 0.2:
            for case in plan.cases[start:]:
                execution.outcomes[case["id"]] = CaseOutcome(case["id"], {}, {"type": "not_run",
                                                                              "message": "time limit"})
            if not execution.load:
                execution.load = {"mode": "definitions", "error": {"type": "timeout", "seconds": budget}}
            break
        execution.attempts += 1
        # a restart after a crash loads the file again: it carries the fallback in case loading fails then
        lazy = mode == "full" and start == 0
        job = plan.job(module_name, source, made if lazy else definitions_text(), start=start,
                       mode=mode, load_error=load_error, wall_seconds=remaining)
        if data_beside:
            job["data_beside"] = True
        try:
            answer = runner(job)
        except RunnerLost as exc:
            answer = {"lost": str(exc), "results": []}
        if len(execution.output) < keep:
            execution.output += str(answer.get("output", ""))[: keep - len(execution.output)]
        execution.output_bytes += int(answer.get("output_bytes", 0) or 0)
        lines = _parse_lines(answer)
        received_bytes += sum(len(line) for line in answer.get("results", []) if isinstance(line, str))
        if not lines or "load" not in lines[0]:
            failure = plain_error({"type": "timeout" if answer.get("timed_out") else "crash",
                                        "message": exit_description(answer), "seconds": budget,
                                        "limit": crash_limit(answer)}, plan.limits)
            if mode == "full":
                mode, load_error = "definitions", failure
                continue
            execution.load = {"mode": "definitions", "error": load_error, "definitions_error": failure}
            for case in plan.cases[start:]:
                execution.outcomes[case["id"]] = CaseOutcome(case["id"], {}, {**failure, "type": "crash",
                                                                              "fn": case["id"].split("/")[0]})
            break
        if not execution.load:
            load = dict(lines[0]["load"]) if isinstance(lines[0]["load"], dict) else {}
            if load.get("needs_definitions") and mode == "full":  # asked for them: run again with them
                mode, load_error = "definitions", plain_error(load.get("error"), plan.limits)
                continue
            for key in ("error", "definitions_error"):
                load[key] = plain_error(load.get(key), plan.limits)
            execution.load = load
        received = [line for line in lines[1:] if "case" in line]
        for line in received:
            case_id = str(line.get("case"))
            execution.outcomes[case_id] = CaseOutcome(case_id, _decode_outputs(line.get("outputs")),
                                                      plain_error(line.get("error"), plan.limits),
                                                      _number(line.get("seconds")) or 0.0)
        if any(line.get("done") for line in lines):
            break
        died_at = start + len(received)
        if died_at >= len(plan.cases):
            break
        if answer.get("limit") == protocol.Limit.RESULTS or received_bytes > MAX_RESULT_BYTES:
            # a flood (in one job, or spread over restarts): it would flood again, so no restart
            flood = plain_error({"type": "crash", "message": exit_description(answer),
                                      "limit": protocol.Limit.RESULTS}, plan.limits)
            for case in plan.cases[died_at:]:
                execution.outcomes[case["id"]] = CaseOutcome(case["id"], {}, {**flood, "fn": case["id"].split("/")[0]})
            break
        case_id = plan.cases[died_at]["id"]
        kind = "CaseTimeout" if answer.get("timed_out") else "crash"
        execution.outcomes[case_id] = CaseOutcome(case_id, {}, plain_error(
            {"type": kind, "message": exit_description(answer), "fn": case_id.split("/")[0],
             "limit": crash_limit(answer)}, plan.limits))
        start = died_at + 1
    for case in plan.cases:  # every case has an outcome, whatever happened
        execution.outcomes.setdefault(case["id"], CaseOutcome(case["id"], {}, {"type": "not_run", "message": ""}))
    return execution


def judge(plan: Plan, execution: Execution) -> list[CheckResult]:
    """Every check's verdict, in the assignment's order; a check is judged after the checks whose findings
    it needs (``grader/checks/base.py``), with the load report as the engine's own finding."""
    verdicts = judge_checks(plan.checks, execution.outcomes, execution.load)
    results = [CheckResult(spec.id, verdict.passed, spec.points if verdict.passed else 0.0, spec.points, verdict)
               for spec, verdict in zip(plan.assignment.checks, verdicts, strict=True)]
    relate(results, execution.load)  # a failure repeating an earlier one names it instead (grader/checks/failures.py)
    return results
