"""Files whose name carries no student id, found through the Moodle folder they are in.

:func:`grader.intake.discover.discover_all` grades every ``<prefix><id>.py`` at any depth, so a Moodle
download whose students named their files correctly needs nothing more. What it cannot do is grade
``課題2.py`` or ``<prefix>.py``: the name carries no student id. Moodle puts each participant's files in
``<full name>_<participant number>_assignsubmission_file_/`` (older versions prefix the file name itself the
same way), so the owner is known from the folder; :func:`find_unnamed` maps that owner to a student id
through the roster, by participant number first and by full name second.

Discovery's walk of the folder or zip already collected these files (:attr:`Discovery.unnamed`, zip
members copied out under its safety rules and budgets), so this module reads only their first bytes and
never walks the input or opens a zip itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from grader.i18n import Message
from grader.intake.discover import Discovery, MoodleOwner, Submission, SubmissionNames, UnnamedFile
from grader.intake.roster import RosterEntry, RosterIndex

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


@dataclass
class LmsFindings:
    """Submissions found through the roster, and what a TA should know about the rest."""

    submissions: list[Submission] = field(default_factory=list)
    warnings: list[Message] = field(default_factory=list)
    #: Sources this module graded or explained, which discovery may have listed as ignored (``<prefix>.py``).
    explained: set[str] = field(default_factory=set)


_SNIFF_BYTES = 1 << 20


def contract_pattern(defines: Sequence[str]) -> re.Pattern[bytes]:
    """``def``/``class`` of the names a solution defines (the assignment file's ``defines``); a student's
    helper module (``utils.py``) defines none of them."""
    names = b"|".join(re.escape(name.encode()) for name in defines) or b"(?!)"
    return re.compile(rb"\b(?:def|class)\s+(?:" + names + rb")\b")


def _contract_names(file: UnnamedFile, contract: re.Pattern[bytes]) -> int:
    """How many of the contract's functions and classes the file's text defines (notebooks included)."""
    if file.path is None:
        return 0
    try:
        with file.path.open("rb") as stream:
            head = stream.read(_SNIFF_BYTES)
    except OSError:
        return 0
    return len(set(contract.findall(head)))


def _ranked(members: list[UnnamedFile], names: SubmissionNames, contract: re.Pattern[bytes]) -> list[UnnamedFile]:
    """The solution first: most of the contract defined, then named like the assignment, .py, newest."""
    def preference(file: UnnamedFile) -> tuple[int, int, int, float, str]:
        return (-_contract_names(file, contract), 0 if names.near_miss(file.uploaded) else 1,
                0 if file.kind == "py" else 1, -file.mtime, file.source)

    return sorted(members, key=preference)


def find_unnamed(discovery: Discovery, roster: Sequence[RosterEntry] | None, names: SubmissionNames | None = None,
                 defines: Sequence[str] | None = None) -> LmsFindings:
    """Submissions in Moodle owner folders that discovery could not attribute, resolved via the roster.

    Only folders without a correctly named file are here (discovery grades the others). Each is resolved
    to a student by the roster; one file is graded (the one defining most of the contract, then named
    most like the assignment, .py before .ipynb, newest) and the others are listed. ``names`` and
    ``defines`` (the assignment's file prefix and what a solution defines) default to the default
    assignment's.
    """
    if names is None or defines is None:
        from grader.assignment import Assignment  # the assignment module imports the checks: only when needed

        default = Assignment.default()
        names = names or SubmissionNames(default.file_prefix)
        defines = default.defines if defines is None else defines
    groups: dict[str, tuple[MoodleOwner, list[UnnamedFile]]] = {}
    for file in discovery.unnamed:
        groups.setdefault(file.folder, (file.owner, []))[1].append(file)
    return _resolve(groups, discovery, roster, names, contract_pattern(defines))


def _resolve(groups: dict[str, tuple[MoodleOwner, list[UnnamedFile]]], discovery: Discovery,
             roster: Sequence[RosterEntry] | None, names: SubmissionNames,
             contract: re.Pattern[bytes]) -> LmsFindings:
    findings = LmsFindings()
    index = RosterIndex(roster or [])
    taken = {submission.student_id for submission in discovery.submissions}
    chosen: dict[str, Submission] = {}
    refused = _unverified_claims(groups, roster, index, names, findings)
    for folder in sorted(groups):
        if folder in refused:
            continue
        owner, members = groups[folder]
        named = [file for file in members if names.match(file.uploaded)]
        if named:  # an old flat download: ``<owner>_file_<prefix><id>.py`` carries the id after the prefix
            file = _ranked(named, names, contract)[0]
            student_id = names.match(file.uploaded)[0]  # type: ignore[index]  # named: every one matches
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
                findings.explained.update(f.source for f in members)
                continue
        else:
            sources = ", ".join(sorted(file.source for file in members))
            if roster is None:
                findings.warnings.append(Message("lms.no_roster", {"source": sources}))
                findings.explained.update(file.source for file in members)
                continue
            resolved = index.resolve(owner)
            if resolved is None:
                findings.warnings.append(Message("lms.unresolved", {
                    "source": sources, "name": owner.name, "participant": owner.participant}))
                findings.explained.update(file.source for file in members)
                continue
            entry, via = resolved
            ranked = _ranked(members, names, contract)
            file = ranked[0]
            student_id = entry.student_id
            warnings = (Message(via, {"source": file.source, "student_id": student_id, "name": owner.name,
                                      "participant": owner.participant, "prefix": names.prefix}),)
            if len(ranked) > 1:
                warnings += (Message("lms.several_files", {"kept": file.source, "count": len(ranked) - 1,
                                                           "ignored": ", ".join(f.source for f in ranked[1:])}),)
        if student_id in taken or student_id in chosen:
            findings.warnings.append(Message("lms.already_submitted", {"source": file.source,
                                                                       "student_id": student_id}))
            continue
        if file.path is None:  # a zip member discovery could not copy out
            findings.warnings.append(Message("lms.member_unreadable", {"source": file.source,
                                                                       "reason": file.unreadable}))
            continue
        local = file.path
        if file.extracted:  # discovery's copy, named as discovery names the files it extracts
            local = file.path.rename(file.path.with_name(names.file_name(student_id, file.kind)))
        chosen[student_id] = Submission(student_id=student_id, path=local, source=file.source, kind=file.kind,
                                        mtime=file.mtime, warnings=warnings)
        findings.explained.update(f.source for f in members)
    findings.submissions = [chosen[key] for key in sorted(chosen)]
    return findings


def _unverified_claims(groups: dict[str, tuple[MoodleOwner, list[UnnamedFile]]], roster: Sequence[RosterEntry] | None,
                       index: RosterIndex, names: SubmissionNames, findings: LmsFindings) -> set[str]:
    """The flat files (``<owner>_file_<prefix><id>.py``) not to grade because the id in their names is
    taken at its word (the roster does not know their owner) and is not one participant's alone: one
    participant naming several ids, or one id named by several participants. The same rule as for files
    in Moodle folders (``discover._bind_to_owners``); before it, whichever owner's name sorted first
    took the id and the other's file was dropped as "already submitted"."""
    claims: dict[str, dict[str, list[str]]] = {}  # participant -> id -> folders
    owners: dict[str, MoodleOwner] = {}
    for folder, (owner, members) in groups.items():
        named = [file for file in members if names.match(file.uploaded)]
        if not named or (roster is not None and index.resolve(owner) is not None):
            continue
        student_id = names.match(named[0].uploaded)[0]  # type: ignore[index]  # named: it matches
        if roster is None or index.may_claim(owner, student_id):
            claims.setdefault(owner.participant, {}).setdefault(student_id, []).append(folder)
            owners[owner.participant] = owner
    refused: set[str] = set()
    by_id: dict[str, dict[str, list[str]]] = {}  # id -> participant -> folders
    for participant in sorted(claims):
        ids = claims[participant]
        folders = sorted(folder for group in ids.values() for folder in group)
        if len(ids) > 1:
            owner = owners[participant]
            findings.warnings.append(Message("discover.several_ids", {
                "folder": f"{owner.name}_{participant}", "name": owner.name, "participant": participant,
                "ids": ", ".join(sorted(ids)), "sources": ", ".join(folders)}))
            refused.update(folders)
        else:
            student_id = next(iter(ids))
            by_id.setdefault(student_id, {})[participant] = folders
    for student_id in sorted(by_id):
        if len(by_id[student_id]) > 1:
            folders = sorted(folder for group in by_id[student_id].values() for folder in group)
            findings.warnings.append(Message("discover.id_contested", {
                "student_id": student_id, "participants": ", ".join(sorted(by_id[student_id])),
                "sources": ", ".join(folders)}))
            refused.update(folders)
    for folder in refused:
        findings.explained.update(file.source for file in groups[folder][1])
    return refused


def merge(discovery: Discovery, findings: LmsFindings) -> Discovery:
    """Discovery plus the roster-resolved submissions, sorted by student id as discovery sorts them."""
    submissions = sorted([*discovery.submissions, *findings.submissions], key=lambda item: item.student_id)
    ignored = [source for source in discovery.ignored if source not in findings.explained]
    return Discovery(submissions, ignored, [*discovery.warnings, *findings.warnings])


