"""What one submission costs when nothing but the work itself is counted: the student's code and the
checks' compute, measured in this process (no sandbox, no fork, no JSON pipe, no report files).

- ``student_calls``: time inside the student's own functions and constructors, measured by wrapping
  every callable the case interpreter resolves (``normalize``, ``Perceptron``, ``$p.backward``, ...);
- ``load``: executing the file's top-level code (compile included);
- ``judge``: ``engine.judge`` on the outcomes (the checks' comparisons, reference solutions, messages);
- ``cases``: the per-case ``seconds`` the case interpreter reports (student calls plus decoding the
  inputs and encoding the outputs: protocol work, counted as grader overhead, not as compute).

The grader's overhead per submission is then the measured per-job cost minus ``compute`` =
``student_calls + load + judge``. The case inputs (``Plan``) are built once per run and are counted
in the grader's start-up, not here.
"""

from __future__ import annotations

import gc
import inspect
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from grader.assignment import Assignment
from grader.copydetect import similarity
from grader.grade import grade_submission
from grader.intake.decode import decode_submission
from grader.intake.definitions import definitions_only
from grader.intake.discover import Submission
from grader.run.engine import Plan, execute, judge
from grader.run.inprocess import in_process_runner
from grader.run.sandbox import child


@dataclass
class Compute:
    student_calls: float
    load: float
    cases: float
    judge: float
    execute: float
    passed: bool

    @property
    def compute(self) -> float:
        return self.student_calls + self.load + self.judge


def grader_definitions(source: str) -> str:
    """``definitions_only`` as ``grade_submission`` calls it (older trees wanted ``guard_imports=True``)."""
    if "guard_imports" in inspect.signature(definitions_only).parameters:
        return definitions_only(source, guard_imports=True)  # type: ignore[call-arg]
    return definitions_only(source)


class _CallTimer:
    """Wraps the callables ``child.resolve`` returns; only ``call`` ops resolve callables."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.original = child.resolve

    def __enter__(self) -> _CallTimer:
        def timed(function: Callable[..., Any]) -> Callable[..., Any]:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return function(*args, **kwargs)
                finally:
                    self.seconds += time.perf_counter() - started
            return wrapper

        def resolve(path: str, module: Any, refs: dict[str, Any]) -> Any:
            value = self.original(path, module, refs)
            return timed(value) if callable(value) else value

        child.resolve = resolve  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        child.resolve = self.original  # type: ignore[assignment]


def measure_one(plan: Plan, submission: Submission) -> Compute:
    decoded = decode_submission(submission.path, submission.kind)
    assert decoded.source is not None
    definitions = grader_definitions(decoded.source)
    runner = in_process_runner(submission.path)
    name = f"{plan.assignment.file_prefix}{submission.student_id}"
    with _CallTimer() as timer:
        started = time.perf_counter()
        execution = execute(plan, runner, name, decoded.source, definitions)
        executed = time.perf_counter() - started
    started = time.perf_counter()
    results = judge(plan, execution)
    judged = time.perf_counter() - started
    return Compute(student_calls=timer.seconds, load=float(execution.load.get("seconds", 0.0)),
                   cases=sum(outcome.seconds for outcome in execution.outcomes.values()), judge=judged,
                   execute=executed, passed=all(result.passed for result in results))


def measure(plan: Plan, submissions: Sequence[Submission], repeats: int = 5) -> dict[str, Any]:
    """Median over ``repeats`` rounds of each submission, after one warm-up round."""
    for submission in submissions:
        measure_one(plan, submission)
    rounds = [measure_one(plan, submission) for _ in range(repeats) for submission in submissions]
    median = {field: statistics.median(getattr(item, field) for item in rounds)
              for field in ("student_calls", "load", "cases", "judge", "execute")}
    median["compute"] = statistics.median(item.compute for item in rounds)
    return {"ms": {key: round(value * 1000, 2) for key, value in median.items()},
            "all_passed": all(item.passed for item in rounds), "rounds": len(rounds)}


def result_bytes(plan: Plan, submissions: Sequence[Submission], count: int = 20) -> int:
    """Bytes a finished ``SubmissionResult`` keeps alive (what the grader holds per student until the CSV)."""
    runners = {submission.student_id: in_process_runner(submission.path) for submission in submissions}
    picks = [submissions[index % len(submissions)] for index in range(count)]
    grade_submission(plan, picks[0], runners[picks[0].student_id], [])  # warm caches, modules
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = []
        for submission in picks:
            kept.append(grade_submission(plan, submission, runners[submission.student_id], []))
            gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return max(0, (after - before) // count)


def fingerprint_bytes(submissions: Sequence[Submission], count: int = 200) -> int:
    """Bytes copy detection keeps per student (its fingerprint) until the pairs are found: the other
    per-student state that a class-level result needs, in the copy-detection process."""
    template = similarity.template_windows(path.read_text(encoding="utf-8")
                                           for path in Assignment.default().templates)
    sources = [decode_submission(item.path, item.kind).source or "" for item in submissions]
    similarity.fingerprint("warm", sources[0], template)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [similarity.fingerprint(str(index), sources[index % len(sources)], template) for index in range(count)]
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del kept
    return max(0, (after - before) // count)
