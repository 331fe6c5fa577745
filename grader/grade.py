"""``grade``: a class of submissions in, ``scores.csv`` and a report per student out.

The steps are plain functions: find the files, decode each, run its cases in a sandboxed warm worker,
judge in this process, write the student's report as soon as it is judged, and the CSV at the end.
One submission's failure — unreadable, hostile, crashing — becomes that student's result and nothing
else: the loop never stops for it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from grader.assignment import Assignment
from grader.checks.base import Verdict
from grader.decode import decode_submission
from grader.definitions import definitions_only
from grader.discover import Submission, discover_all, read_roster
from grader.engine import CheckResult, Plan, Runner, RunnerLost, execute, judge
from grader.i18n import Catalogue, Message
from grader.report import GRADED, MISSING, SubmissionResult, scores_csv, write_atomic, write_student
from grader.sandbox.launcher import Isolation, SandboxSettings, WorkerLost, WorkerPool


@dataclass(frozen=True)
class GradeOptions:
    path: Path
    out: Path
    data: Path
    roster: Path | None = None
    jobs: int = 2
    timeout: float | None = None
    lang: str = "ja"
    seed: int = 0
    assignment: str = "ex_02"
    sandbox: bool = True  # False only for tests of the unsandboxed fallback


Progress = Callable[[int, int, SubmissionResult], None]


def failed_everywhere(plan: Plan, summary: Message) -> list[CheckResult]:
    return [CheckResult(spec.id, False, 0.0, spec.points, Verdict.fail(summary)) for spec in plan.assignment.checks]


def grade_submission(plan: Plan, submission: Submission, runner: Runner,
                     extra_warnings: list[Message]) -> SubmissionResult:
    """Decode, execute and judge one submission; every failure ends up in its result."""
    decoded = decode_submission(submission.path, submission.kind)
    warnings = [*submission.warnings, *decoded.warnings, *extra_warnings]
    result = SubmissionResult(submission.student_id, GRADED, submission.source, [], plan.assignment.max_points,
                              warnings)
    if decoded.error is not None or decoded.source is None:
        result.checks = failed_everywhere(plan, decoded.error or Message("report.decode_error"))
        result.warnings.append(Message("report.decode_error"))
        return result
    try:
        definitions = definitions_only(decoded.source, guard_imports=True)
    except SyntaxError as exc:
        result.checks = failed_everywhere(plan, Message("report.syntax_error", {"message": exc.msg,
                                                                                 "line": exc.lineno}))
        return result
    module_name = f"{plan.assignment.file_prefix}{submission.student_id}"
    execution = execute(plan, runner, module_name, decoded.source, definitions)
    result.checks = judge(plan, execution)
    result.output, result.output_bytes = execution.output, execution.output_bytes
    return result


def missing_result(plan: Plan, student_id: str) -> SubmissionResult:
    return SubmissionResult(student_id, MISSING, "", [CheckResult(spec.id, False, 0.0, spec.points,
                                                                  Verdict.fail(Message("report.missing")))
                                                      for spec in plan.assignment.checks],
                            plan.assignment.max_points)


def sandbox_runner(pool: WorkerPool) -> Runner:
    """Each job borrows a warm worker; a worker that dies is replaced, the job is reported as a crash."""

    def run(job: dict) -> dict:
        worker = pool.acquire()
        try:
            return worker.run(job)
        except WorkerLost as exc:
            raise RunnerLost(str(exc)) from None
        finally:
            pool.release(worker)

    return run


@dataclass
class ClassResult:
    results: list[SubmissionResult]
    ignored: list[str]
    warnings: list[Message]
    isolation: Isolation


def grade_class(options: GradeOptions, catalogue: Catalogue, progress: Progress | None = None) -> ClassResult:
    """Grade everything under ``options.path`` and write the outputs into ``options.out``."""
    assignment = Assignment.named(options.assignment)
    scratch = Path(tempfile.mkdtemp(prefix="exgrader-"))
    try:
        discovery = discover_all(options.path, scratch / "input")
        roster = read_roster(options.roster) if options.roster else []
        plan = Plan.create(assignment, seed=options.seed, data_file=options.data, timeout=options.timeout)
        settings = SandboxSettings.detect(options.data, allow_bwrap=options.sandbox)
        extra = [] if settings.isolation is Isolation.BWRAP else [Message("report.no_isolation")]
        title = assignment.title[options.lang]
        results: list[SubmissionResult] = []
        found = {submission.student_id for submission in discovery.submissions}
        for student_id in sorted(set(roster) - found):
            results.append(missing_result(plan, student_id))
        total = len(discovery.submissions) + len(results)
        for result in results:
            write_student(options.out, result, catalogue, options.lang, title)
        with WorkerPool(settings, max(1, options.jobs), scratch / "workers") as pool:
            runner = sandbox_runner(pool)
            with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as executor:
                futures = [executor.submit(grade_submission, plan, submission, runner, extra)
                           for submission in discovery.submissions]
                for future in futures:
                    result = future.result()
                    write_student(options.out, result, catalogue, options.lang, title)
                    results.append(result)
                    if progress:
                        progress(len(results), total, result)
        write_atomic(options.out / "scores.csv", scores_csv(results, assignment.check_ids))
        return ClassResult(sorted(results, key=lambda item: item.student_id), discovery.ignored,
                           discovery.warnings, settings.isolation)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

