"""The class roster (``--roster``): who is enrolled, under which id, and which Moodle participant
(number and full name) each id belongs to, so that a Moodle folder's owner can be named by their id.

``student_id`` is the spec's column; a participant-number and a full-name column are recognised under
their English and Japanese names (header cells compared after NFKC, case-folding and removing spaces).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grader.i18n import Message
from grader.intake.decode import decode_table_text, read_ta_file
from grader.intake.discover import (
    DiscoveryError,
    MoodleOwner,
    is_student_id,
    normalize_student_id,
)

# Roster header names (NFKC, case-folded, spaces removed); student_id is fixed by the spec.
PARTICIPANT_COLUMNS = ("participant", "number", "participantnumber", "identifier", "参加者番号", "参加者", "識別子")
NAME_COLUMNS = ("name", "fullname", "氏名", "名前", "フルネーム")




@dataclass(frozen=True)
class RosterEntry:
    """One roster row: the normalised id, the id as written (Moodle matches it exactly), and owner keys."""

    student_id: str
    written: str
    participant: str | None = None
    name: str | None = None


def _header_key(cell: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", cell)).casefold()


def name_key(name: str) -> str:
    """Full names compared without spaces and width: ``山田 太郎``, ``山田　太郎`` and ``山田太郎`` agree."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name)).casefold()


def participant_key(cell: str) -> str | None:
    """The digits of ``1234567``, ``Participant 1234567`` or ``参加者 1234567`` (Moodle's worksheet)."""
    digits = re.findall(r"\d+", unicodedata.normalize("NFKC", cell))
    return digits[-1].lstrip("0") or "0" if digits else None


@dataclass
class Roster:
    entries: list[RosterEntry]
    #: Rows whose id could never name a submission file (``S 1001``, ``../x``): reported, not used.
    warnings: list[Message] = field(default_factory=list)


def read_roster_entries(path: Path) -> Roster:
    """Rows of a roster CSV (UTF-8, UTF-8 with BOM or CP932, as Excel writes them), in file order.

    ``student_id`` is required (as for ``--roster``); a participant-number column and a full-name
    column are optional and only used to find the owner of a file whose name lacks the id. An id that
    is not a valid file-name id is reported and skipped: it becomes a report's file name otherwise.
    """
    raw = read_ta_file(path, DiscoveryError, "discover.unreadable")
    text = decode_table_text(raw)
    if text is None:
        raise DiscoveryError(Message("discover.roster_encoding", {"path": str(path)}))
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [_header_key(cell) for cell in next(reader, [])]
    if "student_id" not in header:
        raise DiscoveryError(Message("discover.roster_missing_column", {
            "path": str(path), "column": "student_id", "columns": ", ".join(header)}))
    column = header.index("student_id")
    participant = next((header.index(name) for name in PARTICIPANT_COLUMNS if name in header), None)
    full_name = next((header.index(name) for name in NAME_COLUMNS if name in header), None)

    def cell(row: list[str], index: int | None) -> str | None:
        value = row[index].strip() if index is not None and index < len(row) else ""
        return value or None

    roster = Roster([])
    seen: set[str] = set()
    for line, row in enumerate(reader, start=2):
        written = cell(row, column)
        if written is None or normalize_student_id(written) in seen:
            continue
        if not is_student_id(normalize_student_id(written)):
            roster.warnings.append(Message("lms.roster_bad_id", {"path": str(path), "line": line, "value": written}))
            continue
        seen.add(normalize_student_id(written))
        number = cell(row, participant)
        roster.entries.append(RosterEntry(normalize_student_id(written), written,
                                          participant_key(number) if number else None, cell(row, full_name)))
    return roster


class RosterIndex:
    """Finds a roster entry by participant number, else by full name (only an entry without a number: one
    with a number is that participant alone); an ambiguous name finds nothing."""

    def __init__(self, entries: Sequence[RosterEntry]) -> None:
        self.entries = list(entries)
        self.by_id = {entry.student_id: entry for entry in entries}
        self.by_participant = {entry.participant: entry for entry in entries if entry.participant}
        by_name: dict[str, list[RosterEntry]] = {}
        for entry in entries:
            if entry.name:
                by_name.setdefault(name_key(entry.name), []).append(entry)
        self.by_name = {key: found[0] for key, found in by_name.items() if len(found) == 1}

    def owner_id(self, owner: MoodleOwner) -> str | None:
        """The roster's id of the participant who owns a Moodle folder (discover's :class:`OwnerRoster`)."""
        found = self.resolve(owner)
        return None if found is None else found[0].student_id

    def may_claim(self, owner: MoodleOwner, student_id: str) -> bool:
        """False when the roster gives ``student_id`` to another participant (by number, else by name)."""
        entry = self.by_id.get(student_id)
        if entry is None:
            return True  # not enrolled: there is no one to take over
        if entry.participant:
            return entry.participant == participant_key(owner.participant)
        if entry.name:
            return name_key(entry.name) == name_key(owner.name)
        return True  # the roster cannot tell who that student is

    def resolve(self, owner: MoodleOwner) -> tuple[RosterEntry, str] | None:
        entry = self.by_participant.get(participant_key(owner.participant) or "")
        if entry is not None:
            return entry, "lms.id_from_participant"
        entry = self.by_name.get(name_key(owner.name))
        if entry is not None and not entry.participant:  # an entry with a number is that participant only:
            return entry, "lms.id_from_name"  # a namesake the roster lacks is not them
        return None


