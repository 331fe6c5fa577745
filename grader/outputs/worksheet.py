"""Moodle's own round trip: the assignment's offline grading worksheet and its feedback-file zip.

Grades imported through the gradebook (``moodle_grades.csv``) are locked on the assignment's grading
page; the assignment's "Upload grading worksheet" and "Upload multiple feedback files in a zip" keep
them editable and bring each student their report. Both formats are fixed by Moodle's importers:

- Worksheet (``mod/assign/feedback/offline/importgradeslib.php``): the columns are found by their
  header in the interface's language (``Identifier``/``ID``, ``Grade``/``評点``, ``Last modified
  (grade)``/``最終更新日時 (評定)``, and the feedback plugin's name ``Feedback comments``/
  ``フィードバックコメント``); the import refuses a file without the first three. A row's participant
  is the number after the ``Participant ``/``参加者`` prefix. Feedback comments are stored as HTML.
  A grade above the assignment's maximum is skipped by Moodle, so it is reported here.
- Feedback zip (``mod/assign/feedback/file/importziplib.php``): each path part is split at ``_``
  into at most five pieces, the second must be the participant number and the third and fourth
  ``assignfeedback``/``file``; so the full name in ``<name>_<participant>_assignfeedback_file_/``
  must hold no ``_`` (Moodle's own download replaces it with a space, as done here).

Only the Grade and Feedback comments cells of matched rows change; every other cell, the header,
the row order, the encoding (and its BOM) and the delimiter are kept, so Moodle reads the file back
exactly as it wrote it.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.i18n import Catalogue, Message
from grader.intake.decode import read_ta_file
from grader.intake.discover import moodle_owner
from grader.intake.roster import RosterEntry, participant_key
from grader.outputs import escape
from grader.outputs.report import check_message, points
from grader.results import CheckResult, Status, SubmissionResult

#: Every message key this module can emit (tests check each exists in the catalogue).
MESSAGE_KEYS = (
    "worksheet.unreadable",
    "worksheet.encoding",
    "worksheet.columns",
    "worksheet.no_comments_column",
    "worksheet.unmatched",
    "worksheet.ambiguous",
    "worksheet.not_in_worksheet",
    "worksheet.above_max",
    "worksheet.left_unchanged",
    "worksheet.comment_score",
    "worksheet.comment_failed",
    "worksheet.comment_missing",
    "worksheet.comment_manual",
    "worksheet.comment_pointer",
)

#: Header names as Moodle writes them (English and Japanese language packs), compared without
#: spaces, width or case: ``get_string('recordid', 'assign')``, ``get_string('grade')``,
#: ``get_string('lastmodifiedgrade', 'assign')``, ``get_string('pluginname', 'assignfeedback_comments')``,
#: ``get_string('maxgrade', 'assign')`` and the full-name column.
IDENTIFIER = ("Identifier", "ID")
GRADE = ("Grade", "評点", "評定")
MODIFIED = ("Last modified (grade)", "最終更新日時 (評定)")
COMMENTS = ("Feedback comments", "フィードバックコメント")
MAXIMUM = ("Maximum grade", "最大評点")
FULL_NAME = ("Full name", "氏名", "フルネーム")

FEEDBACK_FOLDER = "{name}_{participant}_assignfeedback_file_"
#: A fixed time for zip entries: the same class gives the same zip bytes.
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)
_MAX_COMMENT_LINE = 160


class WorksheetError(Exception):
    """The worksheet cannot be used; ``message`` names the columns found."""

    def __init__(self, message: Message) -> None:
        self.message = message
        super().__init__(message.key)


def _key(cell: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", cell)).casefold()


def _find(header: Sequence[str], names: Sequence[str]) -> int | None:
    wanted = {_key(name) for name in names}
    return next((index for index, cell in enumerate(header) if _key(cell) in wanted), None)


@dataclass
class Worksheet:
    """The file as read: cells plus everything needed to write it back the way it came."""

    path: Path
    encoding: str
    bom: bool
    delimiter: str
    newline: str
    header: list[str]
    rows: list[list[str]]
    identifier: int
    grade: int
    comments: int | None
    maximum: int | None
    full_name: int | None

    def participant(self, row: Sequence[str]) -> str | None:
        return participant_key(row[self.identifier]) if self.identifier < len(row) else None


def read_worksheet(path: Path) -> Worksheet:
    """Read a worksheet (UTF-8 with or without BOM; CP932 as Excel saves it) or raise WorksheetError."""
    path = Path(path)
    raw = read_ta_file(path, WorksheetError, "worksheet.unreadable")
    bom = raw.startswith(codecs.BOM_UTF8)
    text = None
    for encoding in ("utf-8", "cp932"):
        try:
            text = raw[3 if bom else 0:].decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        raise WorksheetError(Message("worksheet.encoding", {"path": str(path)}))
    first_line = text.split("\n", 1)[0]
    newline = "\r\n" if first_line.endswith("\r") else "\n"
    counts = {delimiter: first_line.count(delimiter) for delimiter in (",", ";", "\t")}
    delimiter = max(counts, key=lambda item: counts[item]) if any(counts.values()) else ","
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    header = rows[0] if rows else []
    found = {"identifier": _find(header, IDENTIFIER), "grade": _find(header, GRADE),
             "modified": _find(header, MODIFIED)}
    missing = [f"{names[0]} / {names[1]}" for column, names in
               (("identifier", IDENTIFIER), ("grade", GRADE), ("modified", MODIFIED)) if found[column] is None]
    if missing:
        raise WorksheetError(Message("worksheet.columns", {
            "path": str(path), "missing": ", ".join(missing),
            "columns": ", ".join(cell.strip() for cell in header) or "-"}))
    return Worksheet(path, encoding, bom, delimiter, newline, header, rows[1:], found["identifier"],  # type: ignore[arg-type]
                     found["grade"], _find(header, COMMENTS), _find(header, MAXIMUM),  # type: ignore[arg-type]
                     _find(header, FULL_NAME))


# ---------------------------------------------------------------------------------------------------
# Who is which participant


@dataclass(frozen=True)
class Participant:
    number: str
    name: str


def participants(results: Sequence[SubmissionResult],
                 roster: Sequence[RosterEntry] | None) -> dict[str, Participant]:
    """Student id -> Moodle participant, from the submission's Moodle folder first, else the roster."""
    by_roster = {entry.student_id: entry for entry in roster or []}
    found: dict[str, Participant] = {}
    for result in results:
        owner = moodle_owner(tuple(part for part in result.source.split("/") if part)) if result.source else None
        if owner is not None:
            found[result.student_id] = Participant(participant_key(owner[0].participant) or owner[0].participant,
                                                   owner[0].name)
            continue
        entry = by_roster.get(result.student_id)
        if entry is not None and entry.participant:
            found[result.student_id] = Participant(entry.participant, entry.name or "")
    return found


def feedback_name(result: SubmissionResult, prefix: str) -> str:
    return f"{prefix}{result.student_id}_report.html"


# ---------------------------------------------------------------------------------------------------
# Filling the worksheet


def comment_html(result: SubmissionResult, catalogue: Catalogue, lang: str, feedback_file: str | None) -> str:
    """A few plain lines for Moodle's comment field, which it stores as HTML: each line escaped (a
    message can quote the student's code or output), lines joined with ``<br>``. Failed checks that
    share their message (one exception failing four checks) share one line."""
    lines = [catalogue.text("worksheet.comment_score", lang, total=points(result.total), max=points(result.max))]
    if result.status == Status.MISSING:
        lines.append(catalogue.text("worksheet.comment_missing", lang))
    else:
        # one line per cause: checks failed by the same sentence (one exception in backward) share it
        causes: dict[str, list[CheckResult]] = {}
        for check in result.checks:
            if not check.passed:
                first = check_message(check, catalogue, lang).split("\n", 1)[0].strip()
                if len(first) > _MAX_COMMENT_LINE:
                    first = first[: _MAX_COMMENT_LINE - 1] + "…"
                causes.setdefault(first, []).append(check)
        for first, checks in causes.items():
            lines.append(catalogue.text("worksheet.comment_failed", lang, check=", ".join(c.id for c in checks),
                                        score=points(sum(c.score for c in checks)),
                                        max=points(sum(c.max for c in checks)), message=first))
    if result.manual is not None:
        lines.append(catalogue.text("worksheet.comment_manual", lang, points=points(result.manual.points)))
    if feedback_file is not None:
        lines.append(catalogue.text("worksheet.comment_pointer", lang, file=feedback_file))
    return "<br>".join(escape.html(line) for line in lines)


def _number(cell: str) -> float | None:
    try:
        return float(unicodedata.normalize("NFKC", cell).strip().replace(",", "."))
    except ValueError:
        return None


def fill(worksheet: Worksheet, results: Sequence[SubmissionResult], owners: Mapping[str, Participant],
         catalogue: Catalogue, lang: str, prefix: str) -> tuple[bytes, list[Message]]:
    """The worksheet with Grade and Feedback comments set for every matched participant, and notes.

    Graded and missing students get their total (a missing student's is 0 plus any hand-given
    points, as in scores.csv); any other status (the grader failed) leaves the row as it was.
    """
    warnings: list[Message] = []
    if worksheet.comments is None:
        warnings.append(Message("worksheet.no_comments_column", {"path": str(worksheet.path)}))
    claimed: dict[str, list[str]] = {}
    for student_id, participant in owners.items():
        claimed.setdefault(participant.number, []).append(student_id)
    for number, ids in sorted(claimed.items()):
        if len(ids) > 1:
            warnings.append(Message("worksheet.ambiguous", {"participant": number, "students": ", ".join(sorted(ids))}))
    by_number = {number: ids[0] for number, ids in claimed.items() if len(ids) == 1}
    by_id = {result.student_id: result for result in results}

    rows = [list(row) for row in worksheet.rows]
    unmatched: list[str] = []
    seen: set[str] = set()
    width = len(worksheet.header)
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue
        number = worksheet.participant(row)
        student_id = by_number.get(number or "")
        result = by_id.get(student_id or "")
        if result is None:
            unmatched.append(row[worksheet.identifier].strip() if worksheet.identifier < len(row) else "?")
            continue
        seen.add(result.student_id)
        if result.status not in (Status.GRADED, Status.MISSING):
            warnings.append(Message("worksheet.left_unchanged", {"student_id": result.student_id,
                                                                 "status": result.status}))
            continue
        row.extend([""] * (width - len(row)))
        row[worksheet.grade] = str(points(result.total))
        maximum = _number(row[worksheet.maximum]) if worksheet.maximum is not None else None
        if maximum is not None and result.total > maximum + 1e-9:
            warnings.append(Message("worksheet.above_max", {"student_id": result.student_id,
                                                            "total": points(result.total), "max": points(maximum)}))
        if worksheet.comments is not None:
            feedback = feedback_name(result, prefix) if result.status == Status.GRADED else None
            row[worksheet.comments] = comment_html(result, catalogue, lang, feedback)
    if unmatched:
        warnings.append(Message("worksheet.unmatched", {"count": len(unmatched), "rows": ", ".join(unmatched)}))
    for result in sorted(results, key=lambda item: item.student_id):
        if result.student_id not in seen and result.status == Status.GRADED:
            warnings.append(Message("worksheet.not_in_worksheet", {"student_id": result.student_id}))

    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=worksheet.delimiter, lineterminator=worksheet.newline)
    writer.writerow(worksheet.header)
    writer.writerows(rows)
    data = buffer.getvalue().encode(worksheet.encoding, errors="xmlcharrefreplace")
    return (codecs.BOM_UTF8 if worksheet.bom else b"") + data, warnings


# ---------------------------------------------------------------------------------------------------
# The feedback-file zip

_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|_]')


def safe_name(name: str) -> str:
    """A full name usable as one zip path part that Moodle's importer splits correctly: no ``_``
    (replaced by a space, as Moodle does), no separators, control or reserved characters, no leading
    or trailing dot, at most 100 characters; a name with nothing left becomes ``participant``."""
    cleaned = "".join(" " if _UNSAFE.match(char) or unicodedata.category(char).startswith("C") else char
                      for char in unicodedata.normalize("NFC", name))
    cleaned = re.sub(r"\s+", " ", cleaned).strip(". ")[:100].strip(". ")
    return cleaned or "participant"


def feedback_zip(results: Sequence[SubmissionResult], owners: Mapping[str, Participant],
                 reports: Path, prefix: str) -> tuple[bytes, list[str]]:
    """The zip bytes and the student ids it holds: each graded student's ``reports/<id>.html``.

    The report is read from the file ``grade`` wrote, so what the student downloads from Moodle is
    byte for byte the report beside scores.csv.
    """
    buffer = io.BytesIO()
    included: list[str] = []
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for result in sorted(results, key=lambda item: item.student_id):
            participant = owners.get(result.student_id)
            if result.status != Status.GRADED or participant is None:
                continue
            if not (_SAFE_ID.fullmatch(result.student_id) and re.fullmatch(r"[0-9]+", participant.number)):
                continue  # never the case for ids discovery or the roster accepted; a path part is at stake
            folder = FEEDBACK_FOLDER.format(name=safe_name(participant.name), participant=participant.number)
            info = zipfile.ZipInfo(f"{folder}/{feedback_name(result, prefix)}", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, (reports / f"{result.student_id}.html").read_bytes())
            included.append(result.student_id)
    return buffer.getvalue(), included


def names_from(worksheet: Worksheet) -> dict[str, str]:
    """Participant number -> full name from the worksheet's own name column (for a feedback folder
    whose student came from the roster without a name)."""
    if worksheet.full_name is None:
        return {}
    names = {}
    for row in worksheet.rows:
        number = worksheet.participant(row)
        if number and worksheet.full_name < len(row):
            names[number] = row[worksheet.full_name].strip()
    return names
