"""The grader's own checks, run in-process on one trusted file (the project's tests use it to read the
verdicts and messages ``grade`` gives a fixture without a sandbox).

Not what students run: the student kit (``student-kit``) carries its own self-check, which runs their
file in a child process and holds no solution (``student_templates/selfcheck/``). This module imports
``reference`` and must never be shipped to students.
"""

from __future__ import annotations

import functools
from pathlib import Path

from grader.assignment import Assignment, only
from grader.checks.failures import syntax_error_verdicts
from grader.i18n import Catalogue, Message
from grader.intake.decode import decode_submission
from grader.intake.definitions import definitions_only
from grader.outputs.report import check_message
from grader.results import CheckResult
from grader.run.engine import Plan, execute, judge
from grader.run.inprocess import in_process_runner

NOT_IMPLEMENTED = "common.not_implemented"


class SelfCheckFailure(AssertionError):
    """A check failed; ``str()`` is the message for the student, already in their language."""


@functools.cache
def plan_for(assignment_name: str, check_ids: tuple[str, ...] | None, seed: int = 0) -> Plan:
    assignment = Assignment.named(assignment_name)
    if check_ids is not None:
        assignment = only(assignment, list(check_ids))
    return Plan.create(assignment, seed=seed, data_file=assignment.data_default if assignment.data_file else None)


@functools.cache
def catalogue_for(assignment_name: str) -> Catalogue:
    return Assignment.named(assignment_name).catalogue()


@functools.cache
def grade_file(path: Path, assignment_name: str, check_ids: tuple[str, ...] | None) -> dict[str, CheckResult]:
    """Every check's result for one file, computed once per test session."""
    plan = plan_for(assignment_name, check_ids)
    decoded = decode_submission(path, "ipynb" if path.suffix == ".ipynb" else "py")
    if decoded.source is None:
        raise SelfCheckFailure(catalogue_for(assignment_name).render(decoded.error or Message("report.decode_error")))
    try:
        definitions = definitions_only(decoded.source)
    except SyntaxError as exc:  # told once, with its line and a caret, as in grade's report
        verdicts = syntax_error_verdicts(plan.assignment.check_ids, exc)
        return {spec.id: CheckResult(spec.id, False, 0.0, spec.points, verdicts[spec.id])
                for spec in plan.assignment.checks}
    runner = in_process_runner(path, plan.assignment.unavailable_libraries)
    execution = execute(plan, runner, f"selfcheck_{path.stem}", decoded.source, definitions)
    return {result.id: result for result in judge(plan, execution)}


def failure_text(result: CheckResult, catalogue: Catalogue, lang: str) -> str:
    """One line for 'not implemented yet'; otherwise summary, details and hint."""
    if result.verdict.summary.key == NOT_IMPLEMENTED:
        return catalogue.render(result.verdict.summary, lang)
    return check_message(result, catalogue, lang)
