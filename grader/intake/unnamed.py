"""Files whose name carries no student id, found through the Moodle folder they are in.

:func:`grader.intake.discover.discover_all` grades every ``<prefix><id>.py`` at any depth, so a Moodle
download whose students named their files correctly needs nothing more. What it cannot do is grade
``課題2.py`` or ``<prefix>.py``: the name carries no student id. Moodle puts each participant's files in
``<full name>_<participant number>_assignsubmission_file_/`` (older versions prefix the file name itself the
same way), so the owner is known from the folder; :func:`find_unnamed` maps that owner to a student id
through the roster, by participant number first and by full name second.

Zip handling reuses discover's member-name decoding, path validation and capped copying, so there is one
implementation of the zip safety rules.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grader.i18n import Message
from grader.intake.discover import (
    MAX_EXTRACTED_BYTES,
    Discovery,
    MoodleOwner,
    Submission,
    SubmissionNames,
    _copy_member,
    _is_ignored_part,
    _is_symlink_member,
    _safe_parts,
    _zip_mtime,
    decode_member_name,
    moodle_owner,
)
from grader.intake.roster import RosterEntry, RosterIndex
from grader.intake.untrusted import display_name

#: Every message key this module can emit (tests check each exists in the catalogue).
MESSAGE_KEYS = (
    "lms.id_from_participant",
    "lms.id_from_name",
    "lms.no_roster",
    "lms.unresolved",
    "lms.several_files",
    "lms.already_submitted",
    "lms.not_in_roster",
    "lms.member_unreadable",
    "lms.roster_bad_id",
)

_KINDS = {".py": "py", ".ipynb": "ipynb"}



@dataclass(frozen=True)
class _File:
    parts: tuple[str, ...]
    kind: str
    mtime: float
    path: Path | None = None  # a file in a folder
    member: zipfile.ZipInfo | None = None  # or a zip member

    @property
    def source(self) -> str:
        return unicodedata.normalize("NFC", "/".join(self.parts))


@dataclass
class LmsFindings:
    """Submissions found through the roster, and what a TA should know about the rest."""

    submissions: list[Submission] = field(default_factory=list)
    warnings: list[Message] = field(default_factory=list)
    #: Sources this module graded or explained, which discovery may have listed as ignored (``<prefix>.py``).
    explained: set[str] = field(default_factory=set)


def _kind(name: str) -> str | None:
    return _KINDS.get(Path(unicodedata.normalize("NFKC", name)).suffix.lower())


def _folder_files(root: Path) -> Iterator[_File]:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(name for name in dirnames if not _is_ignored_part(name))
        for name in sorted(filenames):
            full = Path(dirpath) / name
            kind = _kind(name)
            if kind is None or _is_ignored_part(name):
                continue
            try:
                info = full.lstat()
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):  # names shown as the TA reads them (a CP932 folder decoded)
                yield _File(tuple(display_name(part) for part in full.relative_to(root).parts), kind, info.st_mtime,
                            path=full)


def _zip_files(archive: zipfile.ZipFile) -> Iterator[_File]:
    for info in archive.infolist():
        name = decode_member_name(info)
        parts = _safe_parts(name)
        if info.is_dir() or name.endswith("/") or not parts or _is_symlink_member(info):
            continue
        kind = _kind(parts[-1])
        if kind is None or any(_is_ignored_part(part) for part in parts):
            continue
        yield _File(parts, kind, _zip_mtime(info), member=info)


_SNIFF_BYTES = 1 << 20


def contract_pattern(defines: Sequence[str]) -> re.Pattern[bytes]:
    """``def``/``class`` of the names a solution defines (the assignment file's ``defines``); a student's
    helper module (``utils.py``) defines none of them."""
    names = b"|".join(re.escape(name.encode()) for name in defines) or b"(?!)"
    return re.compile(rb"\b(?:def|class)\s+(?:" + names + rb")\b")


def _contract_names(file: _File, archive: zipfile.ZipFile | None, contract: re.Pattern[bytes]) -> int:
    """How many of the contract's functions and classes the file's text defines (notebooks included)."""
    try:
        if file.member is not None and archive is not None:
            with archive.open(file.member) as stream:
                head = stream.read(_SNIFF_BYTES)
        elif file.path is not None:
            with file.path.open("rb") as stream:
                head = stream.read(_SNIFF_BYTES)
        else:
            return 0
    except (OSError, zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError):
        return 0
    return len(set(contract.findall(head)))


def _ranked(members: list[tuple[_File, str]], archive: zipfile.ZipFile | None,
            names: SubmissionNames, contract: re.Pattern[bytes]) -> list[tuple[_File, str]]:
    """The solution first: most of the contract defined, then named like the assignment, .py, newest."""
    def preference(item: tuple[_File, str]) -> tuple[int, int, int, float, str]:
        file, uploaded = item
        return (-_contract_names(file, archive, contract), 0 if names.near_miss(uploaded) else 1,
                0 if file.kind == "py" else 1, -file.mtime, file.source)

    return sorted(members, key=preference)


def find_unnamed(path: Path, scratch: Path, discovery: Discovery, roster: Sequence[RosterEntry] | None,
                 names: SubmissionNames | None = None, defines: Sequence[str] | None = None) -> LmsFindings:
    """Submissions in Moodle owner folders that discovery could not attribute, resolved via the roster.

    A folder that holds a correctly named file is left to discovery. A folder whose files all lack the
    id is resolved to a student by the roster; one file is graded (the one defining most of the
    contract, then named most like the assignment, .py before .ipynb, newest) and the others are listed.
    ``names`` and ``defines`` (the assignment's file prefix and what a solution defines) default to the
    default assignment's.
    """
    if names is None or defines is None:
        from grader.assignment import Assignment  # the assignment module imports the checks: only when needed

        default = Assignment.default()
        names = names or SubmissionNames(default.file_prefix)
        defines = default.defines if defines is None else defines
    findings = LmsFindings()
    path = Path(path)
    archive: zipfile.ZipFile | None = None
    if path.is_dir():
        files = list(_folder_files(path))
    elif path.is_file() and names.match(path.name) is None and zipfile.is_zipfile(path):
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError):
            return findings  # discovery has already reported it
        files = list(_zip_files(archive))
    else:
        return findings
    try:
        return _resolve(files, archive, scratch, discovery, roster, findings, names, contract_pattern(defines))
    finally:
        if archive is not None:
            archive.close()


def _resolve(files: list[_File], archive: zipfile.ZipFile | None, scratch: Path, discovery: Discovery,
             roster: Sequence[RosterEntry] | None, findings: LmsFindings, names: SubmissionNames,
             contract: re.Pattern[bytes]) -> LmsFindings:
    groups: dict[str, tuple[MoodleOwner, list[tuple[_File, str]]]] = {}
    for file in files:
        found = moodle_owner(file.parts)
        if found is None:
            continue
        owner, uploaded, folder = found
        groups.setdefault(folder, (owner, []))[1].append((file, uploaded))

    index = RosterIndex(roster or [])
    taken = {submission.student_id for submission in discovery.submissions}
    chosen: dict[str, Submission] = {}
    budget = [MAX_EXTRACTED_BYTES]
    extract_root: Path | None = None
    for folder in sorted(groups):
        owner, members = groups[folder]
        named = [(file, uploaded) for file, uploaded in members if names.match(uploaded)]
        if any(file.parts[-1] == uploaded for file, uploaded in named):
            continue  # discovery graded this folder by its file name
        if named:  # an old flat download: ``<owner>_file_<prefix><id>.py`` carries the id after the prefix
            file, uploaded = _ranked(named, archive, names, contract)[0]
            student_id = names.match(uploaded)[0]  # type: ignore[index]  # named: every one matches
            warnings: tuple[Message, ...] = ()
            resolved = index.resolve(owner) if roster is not None else None
            where = {"folder": folder, "name": owner.name, "participant": owner.participant, "source": file.source}
            if resolved is not None and resolved[0].student_id != student_id:  # a file counts for its owner only
                warnings = (Message("discover.id_not_owner", {**where, "file_id": student_id,
                                                              "student_id": resolved[0].student_id}),)
                findings.warnings.extend(warnings)
                student_id = resolved[0].student_id
            elif roster is not None and resolved is None and not index.may_claim(owner, student_id):
                findings.warnings.append(Message("discover.claims_enrolled", {**where, "student_id": student_id}))
                findings.explained.update(f.source for f, _ in members)
                continue
        else:
            sources = ", ".join(sorted(file.source for file, _ in members))
            if roster is None:
                findings.warnings.append(Message("lms.no_roster", {"source": sources}))
                findings.explained.update(file.source for file, _ in members)
                continue
            resolved = index.resolve(owner)
            if resolved is None:
                findings.warnings.append(Message("lms.unresolved", {
                    "source": sources, "name": owner.name, "participant": owner.participant}))
                findings.explained.update(file.source for file, _ in members)
                continue
            entry, via = resolved
            ranked = _ranked(members, archive, names, contract)
            file, uploaded = ranked[0]
            student_id = entry.student_id
            warnings = (Message(via, {"source": file.source, "student_id": student_id, "name": owner.name,
                                      "participant": owner.participant, "prefix": names.prefix}),)
            if len(ranked) > 1:
                warnings += (Message("lms.several_files", {"kept": file.source, "count": len(ranked) - 1,
                                                           "ignored": ", ".join(f.source for f, _ in ranked[1:])}),)
        if student_id in taken or student_id in chosen:
            findings.warnings.append(Message("lms.already_submitted", {"source": file.source,
                                                                       "student_id": student_id}))
            continue
        if archive is not None and file.member is not None:
            if extract_root is None:
                scratch.mkdir(parents=True, exist_ok=True)
                extract_root = Path(tempfile.mkdtemp(prefix="lms-", dir=scratch))
            target = extract_root / f"{len(chosen):06d}" / names.file_name(student_id, file.kind)
            target.parent.mkdir()
            try:
                _copy_member(archive, file.member, target, budget, MAX_EXTRACTED_BYTES, Path(archive.filename or ""))
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError) as exc:
                findings.warnings.append(Message("lms.member_unreadable", {"source": file.source,
                                                                           "reason": str(exc) or type(exc).__name__}))
                continue
            local = target
        else:
            assert file.path is not None
            local = file.path
        chosen[student_id] = Submission(student_id=student_id, path=local, source=file.source, kind=file.kind,
                                        mtime=file.mtime, warnings=warnings)
        findings.explained.update(f.source for f, _ in members)
    findings.submissions = [chosen[key] for key in sorted(chosen)]
    return findings


def merge(discovery: Discovery, findings: LmsFindings) -> Discovery:
    """Discovery plus the roster-resolved submissions, sorted by student id as discovery sorts them."""
    submissions = sorted([*discovery.submissions, *findings.submissions], key=lambda item: item.student_id)
    ignored = [source for source in discovery.ignored if source not in findings.explained]
    return Discovery(submissions, ignored, [*discovery.warnings, *findings.warnings])


