"""How failures are told: each cause once, where it first shows, and later checks point back to it.

A submission with one broken thing (a syntax error, a missing class, one exception that every call runs
into) used to fail a dozen checks with the same message a dozen times. The verdicts stay as they are —
every check that could not be judged still fails — but a failure that is only the consequence of an
earlier one is said in one line naming the first check (issue 14.3), a syntax error is said once, with the
offending line and a caret (issue 13.4), and the same exception across checks is told once.

Pure functions of the check results: ``grade`` and the student self-check call them through
:func:`grader.run.engine.judge`, so both show the same messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from grader.i18n import Message
from grader.results import CheckResult, Verdict

#: Summaries that mean "the check could not run the student's code", not "it ran and was wrong".
STOPPED = ("check.missing_name", "check.raised", "common.not_implemented", "check.crashed",
           "check.case_timeout", "check.not_run", "check.library_unavailable")
#: The first check of an assignment: the file itself.
LOAD = "load"
_NAME_ERROR = re.compile(r"name '([A-Za-z_][A-Za-z0-9_]*)' is not defined")


def cause(verdict: Verdict) -> tuple[Any, ...] | None:
    """What stopped a check, comparable across checks; None for a check that ran and was wrong."""
    summary = verdict.summary
    if verdict.passed or summary.key not in STOPPED:
        return None
    params = dict(summary.params)
    if summary.key == "check.raised":
        # the same exception raised in the same line of the student's code, whichever check called it
        where = tuple(str(detail.params) for detail in verdict.details[-1:])
        return summary.key, params.get("type"), params.get("message"), where
    return summary.key, tuple(sorted((key, str(value)) for key, value in params.items()))


def failed_import(load: Mapping[str, Any]) -> str | None:
    """The module whose import stopped the file's top-level code, if that is why loading failed."""
    error = load.get("error") or {}
    if error.get("type") in ("ModuleNotFoundError", "ImportError"):
        return module_of(str(error.get("message", "")))
    return None


def module_of(message: str) -> str | None:
    match = re.search(r"No module named '([^'.]+)", message)
    return match.group(1) if match else None


def relate(results: Sequence[CheckResult], load: Mapping[str, Any]) -> None:
    """Replace, in place, each failure that repeats an earlier one by one line naming that check."""
    first: dict[tuple[Any, ...], str] = {}
    missing_import = failed_import(load)
    load_failed = any(result.id == LOAD and not result.passed for result in results)
    for result in results:
        verdict = result.verdict
        if verdict.passed:
            continue
        if any(detail.key == "compare.returned_none" for detail in verdict.details):
            verdict.hint = None  # a formula hint is beside the point when nothing was returned
        key = cause(verdict)
        if key is None:
            continue
        if missing_import and load_failed and key[0] == "check.raised" and key[1] == "NameError":
            # a name that the failed import at the top of the file would have defined
            result.verdict = Verdict.fail(Message("check.because_of", {"first": LOAD}))
            continue
        if key in first:
            result.verdict = Verdict.fail(Message("check.because_of", {"first": first[key]}))
        else:
            first[key] = result.id


def syntax_error_verdicts(check_ids: Sequence[str], error: SyntaxError) -> dict[str, Verdict]:
    """The syntax error told once, by ``load``, with its line and a caret; every other check points there."""
    code = (error.text or "").rstrip("\n").expandtabs(4)
    stripped = code.lstrip()
    offset = max(0, (error.offset or 1) - 1 - (len(code) - len(stripped)))
    details = [Message("report.syntax_where", {"line": error.lineno})]
    if stripped:
        details += [Message("report.code_line", {"code": stripped}),
                    Message("report.code_line", {"code": " " * min(offset, len(stripped)) + "^"})]
    verdicts = {check_id: Verdict.fail(Message("check.because_of", {"first": LOAD})) for check_id in check_ids}
    summary = Message("report.syntax_error", {"message": error.msg, "line": error.lineno})
    verdicts[LOAD if LOAD in verdicts else check_ids[0]] = Verdict.fail(summary, details,
                                                                         Message("report.syntax_hint"))
    return verdicts
