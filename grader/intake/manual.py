"""Points a TA gives by hand (the discussion, 考察), merged into totals and reports.

The TA's CSV is the source of truth: the grader reads it on every run and never writes it, so
re-grading (after a check is fixed, or a late submission) can never lose a hand-given point. The
file's path is remembered in ``DIR/.cache/manual.json`` so that a later run into the same output
folder merges it again even when ``--manual`` is forgotten; ``--no-manual`` forgets it.

A malformed row stops the run before any grading with one line naming every bad row: silently
dropping a row would silently lower a student's grade.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.i18n import Catalogue, Message
from grader.intake.decode import decode_table_text, read_ta_file
from grader.intake.discover import normalize_student_id
from grader.outputs.atomic import write_atomic
from grader.results import ManualPoints

#: Every message key this module can emit (tests check each exists in the catalogue).
MESSAGE_KEYS = (
    "manual.unreadable",
    "manual.encoding",
    "manual.missing_column",
    "manual.invalid",
    "manual.row_no_id",
    "manual.row_no_points",
    "manual.row_not_a_number",
    "manual.row_negative",
    "manual.row_above_max",
    "manual.row_duplicate",
    "manual.unknown_student",
)

REMEMBERED = Path(".cache") / "manual.json"


@dataclass(frozen=True)
class ManualSheet:
    """The TA's points by student id, with the file they came from and the optional maximum."""

    path: Path
    entries: Mapping[str, ManualPoints]
    max_points: float | None = None


class ManualError(Exception):
    """The manual points file cannot be used as it is; ``message`` says why, naming every bad row."""

    def __init__(self, message: Message) -> None:
        self.message = message
        super().__init__(message.key)


def _number(text: str) -> float | None:
    cleaned = unicodedata.normalize("NFKC", text).strip()
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", cleaned):
        return None
    value = float(cleaned)
    return value if math.isfinite(value) else None


def read_manual(path: Path, max_points: float | None = None) -> ManualSheet:
    """Read ``student_id,points,comment`` (comment optional; UTF-8, UTF-8 with BOM or CP932).

    Blank rows are skipped; any other row without a usable id or number is an error, as are negative
    points, points above ``max_points`` and a student listed twice.
    """
    path = Path(path)
    raw = read_ta_file(path, ManualError, "manual.unreadable")
    text = decode_table_text(raw)
    if text is None:
        raise ManualError(Message("manual.encoding", {"path": str(path)}))
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = [unicodedata.normalize("NFKC", cell).strip().casefold() for cell in (rows[0] if rows else [])]
    missing = [column for column in ("student_id", "points") if column not in header]
    if missing:
        raise ManualError(Message("manual.missing_column", {"path": str(path), "missing": ", ".join(missing),
                                                            "columns": ", ".join(header)}))
    id_col, points_col = header.index("student_id"), header.index("points")
    comment_col = header.index("comment") if "comment" in header else None

    entries: dict[str, ManualPoints] = {}
    first_line: dict[str, int] = {}
    problems: list[Message] = []
    for line, row in enumerate(rows[1:], start=2):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue

        def cell(index: int | None, cells: list[str] = cells) -> str:
            return cells[index] if index is not None and index < len(cells) else ""

        student_id = normalize_student_id(cell(id_col))
        written = cell(points_col)
        value = _number(written) if written else None
        if not student_id:
            problems.append(Message("manual.row_no_id", {"line": line}))
        elif not written:
            problems.append(Message("manual.row_no_points", {"line": line, "student_id": student_id}))
        elif value is None:
            problems.append(Message("manual.row_not_a_number", {"line": line, "value": written}))
        elif value < 0:
            problems.append(Message("manual.row_negative", {"line": line, "value": written}))
        elif max_points is not None and value > max_points:
            problems.append(Message("manual.row_above_max", {"line": line, "value": written, "max": max_points}))
        elif student_id in entries:
            problems.append(Message("manual.row_duplicate", {"line": line, "student_id": student_id,
                                                             "first": first_line[student_id]}))
        else:
            entries[student_id] = ManualPoints(value, cell(comment_col))
            first_line[student_id] = line
    if problems:
        raise ManualError(Message("manual.invalid", {"path": str(path), "count": len(problems),
                                                     "problems": problems}))
    return ManualSheet(path, entries, max_points)


def render_error(error: ManualError, catalogue: Catalogue, lang: str) -> str:
    """One line: the file, how many rows are bad, and each bad row (``manual.invalid`` nests messages)."""
    message = error.message
    if message.key != "manual.invalid":
        return catalogue.render(message, lang)
    rows = "; ".join(catalogue.render(problem, lang) for problem in message.params["problems"])
    return catalogue.text("manual.invalid", lang, path=message.params["path"], count=message.params["count"],
                          problems=rows)


def unknown_students(sheet: ManualSheet, student_ids: Sequence[str]) -> list[Message]:
    """Rows for students the run did not see: kept out of totals, but said aloud."""
    known = set(student_ids)
    return [Message("manual.unknown_student", {"student_id": student_id, "path": str(sheet.path)})
            for student_id in sorted(sheet.entries) if student_id not in known]


# ---------------------------------------------------------------------------------------------------
# Remembering which file the output folder's manual points come from


def remember(out: Path, path: Path, max_points: float | None) -> None:
    record = {"path": str(Path(path).resolve()), "max_points": max_points}
    write_atomic(Path(out) / REMEMBERED, json.dumps(record, ensure_ascii=False, indent=2) + "\n")


def remembered(out: Path) -> tuple[Path, float | None] | None:
    """The manual file an earlier run into ``out`` merged, if any (a damaged record counts as none)."""
    try:
        record = json.loads((Path(out) / REMEMBERED).read_text(encoding="utf-8"))
        max_points = record.get("max_points")
        return Path(record["path"]), None if max_points is None else float(max_points)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def forget(out: Path) -> None:
    (Path(out) / REMEMBERED).unlink(missing_ok=True)
