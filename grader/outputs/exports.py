"""Grades for the LMS: a CSV for Moodle's gradebook import (Grades → Import → CSV file) and Gradescope's
autograder ``results.json`` per student.

Moodle aborts a whole import when one identifier is unknown, so with a roster only roster students are
exported, under the id as the roster spells it.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grader.assignment import Assignment
from grader.i18n import Catalogue, Message
from grader.intake.roster import RosterEntry
from grader.outputs import worksheet
from grader.outputs.atomic import write_atomic
from grader.outputs.report import check_message, points
from grader.results import Status, SubmissionResult


def moodle_csv(results: Sequence[SubmissionResult], assignment_id: str,
               roster: Sequence[RosterEntry] | None) -> tuple[str, list[Message]]:
    """``student_id,<assignment id>`` rows for Moodle's CSV grade import, plus warnings.

    UTF-8 without BOM and ``.`` as decimal point, as Moodle's importer reads them. With a roster only
    its students are written, under the id as the roster spells it, because Moodle stops the whole
    import at the first identifier it does not know.
    """
    by_id = {result.student_id: result for result in results}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student_id", assignment_id])
    warnings: list[Message] = []
    if roster is None:
        rows = [(result.student_id, result) for result in sorted(results, key=lambda item: item.student_id)]
    else:
        rows = [(entry.written, by_id[entry.student_id]) for entry in roster if entry.student_id in by_id]
        enrolled = {entry.student_id for entry in roster}
        warnings += [Message("lms.not_in_roster", {"student_id": result.student_id})
                     for result in sorted(results, key=lambda item: item.student_id)
                     if result.student_id not in enrolled]
    for identifier, result in rows:
        if result.status == Status.ERROR:  # a grader fault is no grade: Moodle keeps what it had
            warnings.append(Message("lms.grader_error_skipped", {"student_id": result.student_id}))
            continue
        writer.writerow([identifier, points(result.total)])
    return buffer.getvalue(), warnings


def gradescope_results(result: SubmissionResult, catalogue: Catalogue, lang: str) -> dict[str, Any]:
    """Gradescope's autograder ``results.json``: overall score and one test per check (and manual points).

    Only graded students get one: Gradescope attaches results to a submission, which a missing
    student does not have. Every output is declared plain text (``output_format``), so that a
    message holding a student's ``<script>`` or Markdown is shown as written, never rendered.
    """
    tests: list[dict[str, Any]] = [
        {"name": check.id, "score": points(check.score), "max_score": points(check.max),
         "output": check_message(check, catalogue, lang), "status": "passed" if check.passed else "failed"}
        for check in result.checks]
    if result.manual is not None:
        manual: dict[str, Any] = {"name": "manual", "score": points(result.manual.points)}
        if result.manual_max is not None:
            manual["max_score"] = points(result.manual_max)
        tests.append({**manual, "output": result.manual.comment, "status": "passed"})
    output = "\n".join(catalogue.render(warning, lang) for warning in result.warnings)
    return {"score": points(result.total), "output": output, "output_format": "text",
            "test_output_format": "text", "tests": tests}


#: The files ``--export`` can write.
EXPORTS = ("moodle", "gradescope")
#: Everything written only on request (``--export``, ``--moodle-worksheet``), relative to DIR.
EXPORT_FILES = {"moodle": "moodle_grades.csv", "gradescope": "gradescope", "worksheet": "moodle"}


def clear_exports(out: Path, requested: Sequence[str]) -> list[str]:
    """Remove every file an earlier run exported, before the new scores.csv is written.

    An export left from an earlier run would contradict the new scores (another class, other manual
    points, a fixed check); the requested ones are written again after scores.csv, so at no moment
    does DIR hold an export older than its scores.csv. Returns what was removed and not requested.
    """
    removed = []
    for name, relative in EXPORT_FILES.items():
        path = out / relative
        if not (path.exists() or path.is_symlink()):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
        if name not in requested:
            removed.append(relative + ("/" if name != "moodle" else ""))
    return removed


def write_worksheet(out: Path, sheet: worksheet.Worksheet, results: Sequence[SubmissionResult],
                    assignment: Assignment, roster: Sequence[RosterEntry] | None, catalogue: Catalogue,
                    lang: str) -> tuple[list[str], list[Message]]:
    """DIR/moodle/grading_worksheet.csv and DIR/moodle/feedback_files.zip, from the reports just written."""
    owners = worksheet.participants(results, roster)
    filled, warnings = worksheet.fill(sheet, results, owners, catalogue, lang, assignment.file_prefix)
    names = worksheet.names_from(sheet)
    owners = {student_id: owner if owner.name else worksheet.Participant(owner.number, names.get(owner.number, ""))
              for student_id, owner in owners.items()}
    archive, _ = worksheet.feedback_zip(results, owners, out / "reports", assignment.file_prefix)
    write_atomic(out / "moodle" / "grading_worksheet.csv", filled)
    write_atomic(out / "moodle" / "feedback_files.zip", archive)
    return ["moodle/grading_worksheet.csv", "moodle/feedback_files.zip"], warnings


def write_exports(out: Path, requested: Sequence[str], results: Sequence[SubmissionResult],
                  assignment: Assignment, roster: Sequence[RosterEntry] | None, catalogue: Catalogue,
                  lang: str) -> tuple[list[str], list[Message]]:
    """The ``--export`` files asked for (of EXPORTS), and what the TA should know about them."""
    written: list[str] = []
    warnings: list[Message] = []
    if "moodle" in requested:
        text, warnings = moodle_csv(results, assignment.id, roster)
        write_atomic(out / "moodle_grades.csv", text)
        written.append("moodle_grades.csv")
    if "gradescope" in requested:
        for result in results:
            if result.status == Status.GRADED:
                data = gradescope_results(result, catalogue, lang)
                write_atomic(out / "gradescope" / result.student_id / "results.json",
                             json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        written.append("gradescope/")
    return written, warnings
