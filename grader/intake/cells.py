"""Errors in a notebook cited the way its author sees it: "セル 5 の 3 行目", not line 48 of a script.

A notebook is graded as one script: its code cells joined with a blank line between them
(:func:`grader.intake.decode.decode_submission` records where each cell starts). Every line number a
verdict carries (traceback frames, syntax errors) counts lines of that script; here each one is
turned into a cell number and a line within the cell, by swapping the message for its ``*_cell``
twin in the catalogue. Messages without a line, and every message of a ``.py`` file, stay as they are.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import replace

from grader.i18n import Message
from grader.results import CheckResult

#: Messages whose ``line`` parameter counts lines of the submission, and their cell-citing twins.
CELL_KEYS = {
    "check.traceback_line": "check.traceback_cell",
    "report.syntax_error": "report.syntax_error_cell",
    "report.syntax_where": "report.syntax_where_cell",
}
#: Exceptions whose text the sandbox ends with ``(line N)`` (a script line, said again by the frame).
_LINE_SUFFIX = re.compile(r"\s*\(line \d+\)$")
_SYNTAX_TYPES = {"SyntaxError", "IndentationError", "TabError"}

Cells = Sequence[tuple[int, int]]


def locate(cells: Cells, line: int) -> tuple[int, int] | None:
    """``(cell number, line in the cell)`` of a script line, or None outside every cell."""
    starts = [start for _, start in cells]
    index = bisect.bisect_right(starts, line) - 1
    if index < 0 or line < 1:
        return None
    number, start = cells[index]
    return number, line - start + 1


def cite(message: Message, cells: Cells) -> Message:
    """The message with its script line replaced by a cell and a line in it, when it has one."""
    params = dict(message.params)
    if params.get("type") in _SYNTAX_TYPES and isinstance(params.get("message"), str):
        params["message"] = _LINE_SUFFIX.sub("", params["message"])
    twin = CELL_KEYS.get(message.key)
    line = params.get("line")
    if twin is not None and isinstance(line, int) and (found := locate(cells, line)) is not None:
        params["cell"], params["line"] = found
        return Message(twin, params)
    return Message(message.key, params) if params != dict(message.params) else message


def cite_checks(checks: Sequence[CheckResult], cells: Cells) -> list[CheckResult]:
    """Every verdict's summary, details and hint with notebook cells cited (unchanged without cells)."""
    if not cells:
        return list(checks)
    cited = []
    for check in checks:
        verdict = check.verdict
        verdict = replace(verdict, summary=cite(verdict.summary, cells),
                          details=[cite(detail, cells) for detail in verdict.details],
                          hint=None if verdict.hint is None else cite(verdict.hint, cells))
        cited.append(replace(check, verdict=verdict))
    return cited
