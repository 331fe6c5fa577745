"""Finding submissions in whatever a TA downloaded: a folder, an LMS "download all" zip, or one file.

Why this is more than a glob: LMS downloads put every file in a per-student folder with a Japanese
name (``山田 太郎_1234567_assignsubmission_file_/``), Japanese Windows zips store names in CP932
without the UTF-8 flag, students type their id with full-width digits, upload twice, or hand in both a
``.py`` and a notebook. A zip is untrusted input, so it is extracted here member by member into
``scratch`` only: names that would escape it are rejected, symlinks are never created or followed,
and the amount extracted is capped.

The naming rule is the assignment's (:class:`SubmissionNames`, from its file prefix). Files that almost
follow it (for the prefix ``hw_03_``: ``hw_3_1234.py``, ``hw03_1234.py``, ``hw_03_.py``) are not graded
but are listed in :attr:`Discovery.ignored` so that a TA can spot a student who would
otherwise silently appear as "missing".
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import time
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Protocol

from grader.i18n import Message, engine_catalogue
from grader.intake.decode import MAX_FILE_BYTES
from grader.intake.untrusted import display_name

_KIND_OF_SUFFIX = {".py": "py", ".ipynb": "ipynb"}

#: Caps on what a zip may make us do; an LMS download of .py files is far below all of them.
MAX_ZIP_MEMBERS = 50_000
# MAX_FILE_BYTES (decode's): a larger file is that student's problem alone (decoding says so); only its
# first MAX_FILE_BYTES + 1 bytes are extracted.
#: What the files of one Moodle folder may add up to; past it that folder's further files are refused.
MAX_FOLDER_BYTES = 4 * MAX_FILE_BYTES
#: The whole archive: only a zip bomb spread over many folders reaches it.
MAX_EXTRACTED_BYTES = 1024 * 1024 * 1024
#: A student's own zip inside their Moodle folder is opened (depth 1), and a zip inside that (depth 2).
MAX_ZIP_DEPTH = 2
#: Entries of one such zip (a student's folder of work, not a class).
MAX_NESTED_MEMBERS = 1_000

#: Longest student id: real ones are under 12 characters, and ids become file names (reports/<id>.md).
MAX_ID_LENGTH = 32
#: A student id after NFKC: ASCII letters and digits only. re.ASCII matters: with IGNORECASE alone,
#: [A-Za-z] also matches 'İ', 'ı', 'ſ' and the Kelvin sign.
_STUDENT_ID = re.compile(rf"[A-Za-z0-9]{{1,{MAX_ID_LENGTH}}}", re.ASCII)
#: ``山田 太郎_1234567_assignsubmission_file_`` (a folder) or ``..._file_<prefix><id>.py`` (older flat files).
_MOODLE = re.compile(r"(?P<name>.+?)_(?P<number>\d+)_assign(?:submission|feedback)_[a-z]+_(?P<rest>.*)", re.DOTALL)
_NEAR_MISS_EXTENSION = re.compile(r"\.(?:py|ipynb|zip|txt)\b", re.IGNORECASE)
_DRIVE_LETTER = re.compile(r"[A-Za-z]:")
_COPY_CHUNK = 1024 * 1024

#: Every message key this module can emit (tests check each exists in the catalogue).
MESSAGE_KEYS = (
    "discover.unreadable",
    "discover.not_a_zip",
    "discover.empty_zip",
    "discover.zip_too_many_members",
    "discover.zip_too_large",
    "discover.not_a_submission",
    "discover.duplicate",
    "discover.symlink_skipped",
    "discover.special_file_skipped",
    "discover.unsafe_member",
    "discover.member_unreadable",
    "discover.roster_encoding",
    "discover.roster_missing_column",
    "discover.id_not_owner",
    "discover.claims_enrolled",
    "discover.several_ids",
    "discover.id_contested",
    "discover.folder_too_large",
    "discover.nested_zip_unusable",
)


@dataclass(frozen=True)
class Submission:
    """One student's file, ready to decode; ``source`` is what reports show, ``path`` what is read."""

    student_id: str
    path: Path
    source: str
    kind: str
    mtime: float
    warnings: tuple[Message, ...] = ()


@dataclass
class Discovery:
    """Everything :func:`discover_all` found, including what a TA should look at by hand."""

    submissions: list[Submission]
    ignored: list[str] = field(default_factory=list)
    #: Problems not tied to one kept submission: unsafe zip members, skipped symlinks, ...
    warnings: list[Message] = field(default_factory=list)
    #: Files of Moodle owner folders that hold no correctly named file, for :mod:`grader.intake.unnamed`.
    unnamed: list[UnnamedFile] = field(default_factory=list)


class DiscoveryError(Exception):
    """The input as a whole cannot be used; ``message`` says why in the catalogue's languages."""

    def __init__(self, message: Message) -> None:
        self.message = message
        super().__init__(_render_en(message))


def _render_en(message: Message) -> str:
    """English text for tracebacks and logs; falls back to the raw key so an error never hides."""
    try:
        return engine_catalogue().render(message, "en")
    except (KeyError, ValueError, IndexError):
        return f"{message.key} {dict(message.params)}"


def normalize_student_id(raw: str) -> str:
    """NFKC then upper case, so ``Ｂ２２０１``, ``b2201`` and ``B2201`` name the same student."""
    return unicodedata.normalize("NFKC", raw).strip().upper()


def is_student_id(text: str) -> bool:
    """ASCII letters and digits, at most :data:`MAX_ID_LENGTH` of them (after :func:`normalize_student_id`)."""
    return _STUDENT_ID.fullmatch(text) is not None


@dataclass(frozen=True)
class MoodleOwner:
    """Whose file it is, as Moodle wrote it into the folder (or flat file) name."""

    name: str
    participant: str


def moodle_owner(parts: Sequence[str]) -> tuple[MoodleOwner, str, str] | None:
    """``(owner, file name as uploaded, owner folder)`` for a path inside a Moodle download, else None.

    The outermost Moodle folder owns the file: that one Moodle wrote; a student can name a folder of
    their own (or one inside their zip) like another participant's."""
    for depth in range(len(parts) - 1):
        match = _MOODLE.fullmatch(unicodedata.normalize("NFC", parts[depth]))
        if match and not match["rest"]:
            return (MoodleOwner(match["name"].strip(), match["number"]), parts[-1],
                    "/".join(parts[: depth + 1]))
    match = _MOODLE.fullmatch(unicodedata.normalize("NFC", parts[-1]))
    if match and match["rest"]:
        return MoodleOwner(match["name"].strip(), match["number"]), match["rest"], "/".join(parts)
    return None


@dataclass(frozen=True)
class UnnamedFile:
    """A ``.py``/``.ipynb`` in a Moodle owner folder whose name carries no student id (``課題2.py``, or an
    old flat ``<owner>_file_<name>``): only the roster can say whose it is (:mod:`grader.intake.unnamed`).

    Discovery finds these in its own walk, so the input is read once: ``path`` is the file in the TA's
    folder, or (``extracted``) discovery's copy of a zip member; None when the member could not be read,
    ``unreadable`` saying why."""

    parts: tuple[str, ...]
    owner: MoodleOwner
    #: The file's name as uploaded (for an old flat download, what follows the owner).
    uploaded: str
    #: The owner's folder (for an old flat download, the file itself).
    folder: str
    kind: str
    mtime: float
    path: Path | None = None
    extracted: bool = False
    unreadable: str = ""

    @property
    def source(self) -> str:
        return "/".join(self.parts)


@dataclass
class _UnnamedFiles:
    """What discovery's walk gathers for :class:`UnnamedFile`: the files, and the owner folders that hold
    a correctly named file (those discovery grades; their other files are nobody's business)."""

    names: SubmissionNames
    found: list[UnnamedFile] = field(default_factory=list)
    named_folders: set[str] = field(default_factory=set)

    def see(self, parts: tuple[str, ...], mtime: float) -> UnnamedFile | None:
        """The unnamed file at ``parts`` (a regular file, names as shown), or None when it is none."""
        owned = moodle_owner(parts)
        if owned is None:
            return None
        owner, uploaded, folder = owned
        if parts[-1] == uploaded and self.names.match(uploaded) is not None:
            self.named_folders.add(folder)
            return None
        kind = _KIND_OF_SUFFIX.get(Path(unicodedata.normalize("NFKC", parts[-1])).suffix.lower())
        return None if kind is None else UnnamedFile(parts, owner, uploaded, folder, kind, mtime)

    def unclaimed(self) -> list[UnnamedFile]:
        """The files of folders without a correctly named file."""
        return [file for file in self.found if file.folder not in self.named_folders]


class OwnerRoster(Protocol):
    """What discovery needs of a roster to know whose a Moodle folder is (``grader.intake.roster.RosterIndex``)."""

    def owner_id(self, owner: MoodleOwner) -> str | None:
        """The id of the participant who owns the folder, when the roster knows them."""

    def may_claim(self, owner: MoodleOwner, student_id: str) -> bool:
        """False when the roster says ``student_id`` is another participant than ``owner``."""


@dataclass(frozen=True)
class _Candidate:
    student_id: str
    kind: str
    source: str
    mtime: float
    #: The Moodle folder the file is in, and its participant: the only student the file can count for.
    folder: str | None = None
    owner: MoodleOwner | None = None
    #: The id in the file name differs from the folder owner's (graded for the owner, flagged).
    mismatch: bool = False
    warnings: tuple[Message, ...] = ()


def _candidate(student_id: str, kind: str, parts: Sequence[str], mtime: float) -> _Candidate:
    found = moodle_owner(parts)
    owner, folder = (found[0], found[2]) if found is not None else (None, None)
    return _Candidate(student_id, kind, "/".join(parts), mtime, folder, owner)


@dataclass(frozen=True)
class SubmissionNames:
    """How one assignment's submissions are named: ``<prefix><student id>.py|.ipynb`` (the prefix comes
    from the assignment file), and what a near miss of that name looks like."""

    prefix: str

    @classmethod
    def of_default_assignment(cls) -> SubmissionNames:
        from grader.assignment import Assignment  # the assignment module imports the checks: only when needed

        return cls(Assignment.default().file_prefix)

    @cached_property
    def _exact(self) -> re.Pattern[str]:
        return re.compile(rf"{re.escape(self.prefix)}(?P<id>{_STUDENT_ID.pattern})\.(?P<ext>py|ipynb)",
                          re.IGNORECASE | re.ASCII)

    @cached_property
    def _near(self) -> re.Pattern[str]:
        """The prefix's words and numbers with any separators between them and the leading zeros of a
        number optional (for ``hw_03_``: ``hw_3_``, ``hw03_``, ``hw-03``, ``Hw 3``; a number is not followed
        by another digit, so ``hw_030`` is no near miss)."""
        parts = []
        for token in re.findall(r"[^\W\d_]+|\d+", self.prefix):
            if token.isdigit():
                digits = token.lstrip("0") or "0"
                parts.append(f"0{{0,{len(token) - len(digits)}}}{digits}(?!\\d)")
            else:
                parts.append(re.escape(token))
        return re.compile(r"[\s_\-]*".join(parts), re.IGNORECASE)

    def match(self, name: str) -> tuple[str, str] | None:
        """``(student_id, kind)`` when a file name follows ``<prefix><id>.py|.ipynb``, else None."""
        match = self._exact.fullmatch(unicodedata.normalize("NFKC", name))
        if match is None or not match["id"].isascii():
            return None
        return normalize_student_id(match["id"]), match["ext"].lower()

    def near_miss(self, name: str) -> bool:
        """Looks like an attempt at ``<prefix><id>.py`` (wrong separators, missing id, zipped, .py.txt)."""
        normalized = unicodedata.normalize("NFKC", name)
        return bool(self._near.match(normalized) and _NEAR_MISS_EXTENSION.search(normalized))

    def file_name(self, student_id: str, kind: str) -> str:
        return f"{self.prefix}{student_id}.{kind}"


def _is_ignored_part(part: str) -> bool:
    """Dot-files/folders (``.ipynb_checkpoints``, ``._x`` AppleDouble) and macOS ``__MACOSX``."""
    return part.startswith(".") or part == "__MACOSX"


def _display(source: str) -> str:
    """NFC for reports (macOS stores names decomposed, which renders oddly in CSV and Markdown); a name
    that is not UTF-8 decoded as CP932 or replaced, and bounded, so that it can be written anywhere."""
    return display_name(source)


# ---------------------------------------------------------------------------------------------------
# Entry points


def discover(path: Path, scratch: Path, names: SubmissionNames | None = None) -> list[Submission]:
    """The submissions in ``path``, one per student, sorted by student id."""
    return discover_all(path, scratch, names=names).submissions


def discover_all(
    path: Path,
    scratch: Path,
    *,
    max_members: int = MAX_ZIP_MEMBERS,
    max_bytes: int = MAX_EXTRACTED_BYTES,
    roster: OwnerRoster | None = None,
    names: SubmissionNames | None = None,
) -> Discovery:
    """Walk a folder, extract a zip, or take a single file; then keep the newest file per student.

    A file in a Moodle folder counts for that folder's participant only (:func:`_bind_to_owners`);
    ``roster`` says which student id a participant has; ``names`` which files are submissions (by
    default the default assignment's).
    """
    path = Path(path)
    names = names or SubmissionNames.of_default_assignment()
    try:
        info = path.stat()
    except OSError as exc:
        raise DiscoveryError(Message("discover.unreadable", {"path": str(path), "reason": _reason(exc)})) from exc

    warnings: list[Message] = []
    ignored: list[str] = []
    single = names.match(path.name)
    limits = _ZipLimits(max_members, [max_bytes], max_bytes)
    unnamed = _UnnamedFiles(names)
    if stat.S_ISDIR(info.st_mode):
        candidates, files = _walk_directory(path, Path(scratch), warnings, ignored, limits, names, unnamed)
    elif single is not None:
        student_id, kind = single
        candidates = [_Candidate(student_id, kind, _display(path.name), info.st_mtime)]
        files = {_display(path.name): path}
    elif path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
        candidates, files = _extract_zip(path, Path(scratch), warnings, ignored, limits, names, unnamed=unnamed)
    else:
        raise DiscoveryError(Message("discover.not_a_submission", {"path": str(path), "prefix": names.prefix}))

    candidates = _bind_to_owners(candidates, roster, warnings)
    return Discovery(
        submissions=_resolve_duplicates(candidates, files),
        ignored=sorted(ignored),
        warnings=warnings,
        unnamed=unnamed.unclaimed(),
    )


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


# ---------------------------------------------------------------------------------------------------
# Folders


def _walk_directory(
    root: Path, scratch: Path, warnings: list[Message], ignored: list[str], limits: _ZipLimits,
    names: SubmissionNames, unnamed: _UnnamedFiles,
) -> tuple[list[_Candidate], dict[str, Path]]:
    """``os.walk`` without following links; symlinks and special files are reported, not read; a
    student's zip in a Moodle folder is opened (:func:`_open_students_zip`); files named without an id
    in Moodle folders go to ``unnamed``."""
    candidates: list[_Candidate] = []
    files: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        kept_dirs = []
        for name in sorted(dirnames):
            if _is_ignored_part(name):
                continue
            if (here / name).is_symlink():
                warnings.append(Message("discover.symlink_skipped", {"source": _relative(here / name, root)}))
                continue
            kept_dirs.append(name)
        dirnames[:] = kept_dirs
        for name in sorted(filenames):
            if _is_ignored_part(name):
                continue
            full = here / name
            source = _relative(full, root)
            try:
                info = full.lstat()
            except OSError:
                continue
            if stat.S_ISLNK(info.st_mode):
                warnings.append(Message("discover.symlink_skipped", {"source": source}))
                continue
            matched = names.match(name)
            shown = _display_parts(full, root)
            if stat.S_ISREG(info.st_mode) and (file := unnamed.see(shown, info.st_mtime)) is not None:
                unnamed.found.append(replace(file, path=full))
            if matched is None and stat.S_ISREG(info.st_mode) and _is_students_zip(shown, 0):
                _open_students_zip(full, shown, 1, scratch, warnings, ignored, limits, candidates, files, names)
                continue
            if matched is None:
                if names.near_miss(name):
                    ignored.append(source)
                continue
            if not stat.S_ISREG(info.st_mode):
                # A FIFO named like a submission would block the reader forever.
                warnings.append(Message("discover.special_file_skipped", {"source": source}))
                continue
            if source in files:  # two names that differ only past the length shown
                source = f"{source} (#{len(files)})"
            candidates.append(replace(_candidate(matched[0], matched[1], shown, info.st_mtime), source=source))
            files[source] = full
    return candidates, files


def _relative(path: Path, root: Path) -> str:
    return "/".join(_display_parts(path, root))


def _display_parts(path: Path, root: Path) -> tuple[str, ...]:
    return tuple(_display(part) for part in path.relative_to(root).parts)


# ---------------------------------------------------------------------------------------------------
# Zips


def decode_member_name(info: zipfile.ZipInfo) -> str:
    """The member name as its creator meant it.

    Without the UTF-8 flag, zipfile decodes names as cp437; we recover the raw bytes and try ASCII,
    then UTF-8 (macOS and Linux tools often omit the flag), then CP932 (Japanese Windows), and only
    then cp437. Backslashes become ``/`` after decoding, because 0x5C is also the second byte of
    CP932 characters such as ``ソ`` and ``表``.
    """
    if info.flag_bits & 0x800:
        name = info.orig_filename
    else:
        raw = info.orig_filename.encode("cp437", errors="replace")
        for encoding in ("ascii", "utf-8", "cp932"):
            try:
                name = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            name = raw.decode("cp437")
    return name.replace("\\", "/")


def _safe_parts(name: str) -> tuple[str, ...] | None:
    """The path parts of a member name, or None when it could land outside the extraction folder."""
    if name.startswith("/") or _DRIVE_LETTER.match(name) or "\x00" in name:
        return None
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if any(part == ".." for part in parts):
        return None
    if any(_DRIVE_LETTER.match(part) for part in parts[:1]):
        return None
    return parts


def _is_symlink_member(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _zip_mtime(info: zipfile.ZipInfo) -> float:
    """Zip timestamps are local time without a zone, as the LMS wrote them."""
    try:
        return time.mktime((*info.date_time, 0, 0, -1))
    except (OverflowError, ValueError):
        return 0.0


@dataclass
class _ZipLimits:
    """What all the zips of one discovery may make us do together (nested ones included)."""

    max_members: int
    budget: list[int]
    max_bytes: int
    folder_budgets: dict[str, list[int]] = field(default_factory=dict)
    #: Entries every zip opened so far has listed, nested ones included: nesting cannot multiply the work.
    members_seen: list[int] = field(default_factory=lambda: [0])


def _is_students_zip(parts: Sequence[str], depth: int) -> bool:
    """A ``.zip`` inside a Moodle folder, not nested deeper than :data:`MAX_ZIP_DEPTH`."""
    return (depth < MAX_ZIP_DEPTH and parts[-1].lower().endswith(".zip")
            and moodle_owner((*parts, "x")) is not None)


def _open_students_zip(path: Path, parts: tuple[str, ...], depth: int, scratch: Path, warnings: list[Message],
                       ignored: list[str], limits: _ZipLimits, candidates: list[_Candidate],
                       files: dict[str, Path], names: SubmissionNames) -> None:
    """The submission files of a student's own zip, as if they were in its place in the Moodle folder
    (same safety rules as the class zip). A zip that cannot be used is reported; it never ends the run."""
    try:
        found, found_files = _extract_zip(path, scratch, warnings, ignored, limits, names, prefix=parts,
                                          depth=depth)
    except DiscoveryError as exc:
        if exc.message.key == "discover.zip_too_large":
            raise  # the whole class's budget: a zip bomb
        # named as the student's folder shows it, never by discovery's copy in the scratch folder (a
        # random path of the grader's: in the summary it differed on every run)
        shown = Message(exc.message.key, {**exc.message.params, "path": "/".join(parts)})
        warnings.append(Message("discover.nested_zip_unusable", {"source": "/".join(parts),
                                                                 "reason": _render_en(shown)}))
        ignored.append("/".join(parts))
        return
    if not found:
        ignored.append("/".join(parts))
    candidates += found
    files.update(found_files)


def _extract_zip(
    archive: Path,
    scratch: Path,
    warnings: list[Message],
    ignored: list[str],
    limits: _ZipLimits,
    names: SubmissionNames,
    prefix: tuple[str, ...] = (),
    depth: int = 0,
    unnamed: _UnnamedFiles | None = None,
) -> tuple[list[_Candidate], dict[str, Path]]:
    """Extract only the submission files, each to ``<fresh dir>/<n>/<file prefix><id>.<kind>``.

    The on-disk name is rebuilt from the validated id, never taken from the archive, so no member
    name can steer a write; the original name is kept as ``source`` for reports. ``prefix`` is where
    the archive itself lies (a student's zip in their Moodle folder), ``depth`` how deeply it is nested.
    The class zip (given ``unnamed``) also yields the files its Moodle folders hold without an id
    (:func:`_extract_unnamed`).
    """
    max_members, budget, max_bytes = limits.max_members, limits.budget, limits.max_bytes
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise DiscoveryError(Message("discover.not_a_zip", {"path": str(archive), "reason": _reason(exc)})) from exc
    except OSError as exc:
        raise DiscoveryError(Message("discover.unreadable", {"path": str(archive), "reason": _reason(exc)})) from exc

    with zf:
        members = zf.infolist()
        if not members:
            raise DiscoveryError(Message("discover.empty_zip", {"path": str(archive)}))
        limit = max_members if depth == 0 else min(MAX_NESTED_MEMBERS, max_members - limits.members_seen[0])
        if len(members) > limit:
            raise DiscoveryError(
                Message(
                    "discover.zip_too_many_members",
                    {"path": str(archive) if depth == 0 else "/".join(prefix), "count": len(members),
                     "limit": max(0, limit)},
                )
            )
        limits.members_seen[0] += len(members)
        scratch.mkdir(parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix="zip-", dir=scratch))
        candidates: list[_Candidate] = []
        files: dict[str, Path] = {}
        pending: list[tuple[UnnamedFile, int, zipfile.ZipInfo]] = []
        for index, info in enumerate(members):
            name = decode_member_name(info)
            if info.is_dir() or name.endswith("/"):
                continue
            parts = _safe_parts(name)
            if parts is None:
                warnings.append(Message("discover.unsafe_member", {"source": _display(name)}))
                continue
            if not parts or any(_is_ignored_part(part) for part in parts):
                continue
            shown = (*prefix, *(_display(part) for part in parts))
            source = "/".join(shown)
            if _is_symlink_member(info):
                warnings.append(Message("discover.symlink_skipped", {"source": source}))
                continue
            if unnamed is not None and (file := unnamed.see(shown, _zip_mtime(info))) is not None:
                pending.append((file, index, info))
            matched = names.match(parts[-1])
            if matched is None and _is_students_zip(shown, depth):
                # the owner's folder pays for its zips too: nested ones cannot add up to the class's budget
                folder_budget = _folder_budget(limits, shown, source, warnings)
                if folder_budget is None:
                    continue
                inner = root / f"{index:06d}.zip"
                try:
                    folder_budget[0] -= _copy_member(zf, info, inner, budget, max_bytes, archive)
                except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError) as exc:
                    warnings.append(Message("discover.member_unreadable", {"source": source, "reason": _reason(exc)}))
                    continue
                _open_students_zip(inner, shown, depth + 1, scratch, warnings, ignored, limits, candidates, files,
                                   names)
                continue
            if matched is None:
                if names.near_miss(parts[-1]):
                    ignored.append(source)
                continue
            student_id, kind = matched
            if source in files:
                # The same name twice in one archive: keep both apart, duplicates logic decides.
                source = f"{source} (#{index})"
            found = _candidate(student_id, kind, shown, _zip_mtime(info))
            folder_budget = _folder_budget(limits, shown, source, warnings)
            if folder_budget is None:
                continue
            target_dir = root / f"{index:06d}"
            target_dir.mkdir()
            target = target_dir / names.file_name(student_id, kind)
            try:
                folder_budget[0] -= _copy_member(zf, info, target, budget, max_bytes, archive)
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError) as exc:
                # Encrypted, unsupported compression, or a bad CRC: skip this file, keep the rest.
                target.unlink(missing_ok=True)
                warnings.append(Message("discover.member_unreadable", {"source": source, "reason": _reason(exc)}))
                continue
            if found.mtime > 0:
                os.utime(target, (found.mtime, found.mtime))
            candidates.append(replace(found, source=source))
            files[source] = target
        if unnamed is not None:
            _extract_unnamed(zf, pending, root, unnamed, warnings, limits, archive)
    return candidates, files


def _extract_unnamed(zf: zipfile.ZipFile, pending: Sequence[tuple[UnnamedFile, int, zipfile.ZipInfo]], root: Path,
                     unnamed: _UnnamedFiles, warnings: list[Message], limits: _ZipLimits, archive: Path) -> None:
    """Copy out the files named without an id, each to ``root/<n>/unnamed.<kind>`` (no member name
    steers a write), once the whole zip is listed: only folders without a correctly named file need
    them, and those files have been paid for first, so helper files never crowd out a submission."""
    for file, index, info in pending:
        if file.folder in unnamed.named_folders:
            continue
        folder_budget = _folder_budget(limits, file.parts, file.source, warnings)
        if folder_budget is None:
            continue
        target = root / f"{index:06d}" / f"unnamed.{file.kind}"
        target.parent.mkdir()
        try:
            folder_budget[0] -= _copy_member(zf, info, target, limits.budget, limits.max_bytes, archive)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError) as exc:
            target.unlink(missing_ok=True)
            unnamed.found.append(replace(file, unreadable=str(exc) or type(exc).__name__))
            continue
        unnamed.found.append(replace(file, path=target, extracted=True))


def _folder_budget(limits: _ZipLimits, shown: Sequence[str], source: str,
                   warnings: list[Message]) -> list[int] | None:
    """What is left of the bytes the folder holding ``shown`` may extract (its Moodle owner's folder), or
    None, with a warning naming ``source``, when that folder has spent it all."""
    owner = moodle_owner(shown)
    key = owner[2] if owner is not None else "/".join(shown[:-1])
    if owner is not None and key == "/".join(shown):  # an old flat download's file: its participant pays,
        key = "/".join([*shown[:-1], f"{owner[0].name}_{owner[0].participant}\0"])  # not each file (NUL: in no name)
    budget = limits.folder_budgets.setdefault(key, [MAX_FOLDER_BYTES])
    if budget[0] <= 0:
        warnings.append(Message("discover.folder_too_large", {
            "source": source, "limit_mb": round(MAX_FOLDER_BYTES / (1024 * 1024), 1)}))
        return None
    return budget


def _copy_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: list[int], limit: int, archive: Path
) -> int:
    """Stream one member, counting real bytes: declared sizes in a hostile zip may lie.

    At most ``MAX_FILE_BYTES + 1`` bytes are written: a larger file is refused when it is decoded
    (the student is told), without the others paying for it. Returns the bytes written."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(target, flags, 0o600)
    written = 0
    with os.fdopen(fd, "wb") as out, zf.open(info) as member:
        while written <= MAX_FILE_BYTES and (chunk := member.read(min(_COPY_CHUNK, MAX_FILE_BYTES + 1 - written))):
            written += len(chunk)
            budget[0] -= len(chunk)
            if budget[0] < 0:
                out.close()
                shutil.rmtree(target.parent, ignore_errors=True)
                raise DiscoveryError(
                    Message(
                        "discover.zip_too_large",
                        {"path": str(archive), "limit_mb": round(limit / (1024 * 1024), 1)},
                    )
                )
            out.write(chunk)
    return written


# ---------------------------------------------------------------------------------------------------
# Whose file it is


def _bind_to_owners(candidates: list[_Candidate], roster: OwnerRoster | None,
                    warnings: list[Message]) -> list[_Candidate]:
    """Each file in a Moodle folder counts for the folder's participant, never for anyone else.

    The id in a file name is what the student typed; the folder is what Moodle wrote. With a roster
    that knows the participant, a file whose id differs (a typo, or someone else's id) is graded for
    the owner and flagged. A participant the roster does not know may not hand in a file under an id
    the roster gives another participant. Where the owner is unknown (no roster, or not in it), a
    folder may hold one id only, and an id that the folders of two participants claim is graded for
    neither: the TA is told and a roster with participant numbers settles it.
    Files outside Moodle folders (a plain folder of ``<prefix><id>.py``) are taken at their word.
    """
    kept = [candidate for candidate in candidates if candidate.folder is None]
    by_folder: dict[str, list[_Candidate]] = {}
    for candidate in candidates:
        if candidate.folder is not None:
            by_folder.setdefault(candidate.folder, []).append(candidate)
    claims: dict[str, dict[str, list[_Candidate]]] = {}  # id -> participant -> files (owner unknown)
    for folder in sorted(by_folder):
        group = by_folder[folder]
        owner = group[0].owner
        assert owner is not None
        owner_id = roster.owner_id(owner) if roster is not None else None
        where = {"folder": folder, "name": owner.name, "participant": owner.participant}
        if owner_id is not None:
            for candidate in group:
                if candidate.student_id == owner_id:
                    kept.append(candidate)
                    continue
                message = Message("discover.id_not_owner", {**where, "source": candidate.source,
                                                            "file_id": candidate.student_id, "student_id": owner_id})
                warnings.append(message)
                kept.append(replace(candidate, student_id=owner_id, mismatch=True,
                                    warnings=(*candidate.warnings, message)))
            continue
        if roster is not None:  # the owner is not in the roster (or it has no participant/name columns)
            for candidate in [candidate for candidate in group if not roster.may_claim(owner, candidate.student_id)]:
                warnings.append(Message("discover.claims_enrolled", {**where, "source": candidate.source,
                                                                     "student_id": candidate.student_id}))
            group = [candidate for candidate in group if roster.may_claim(owner, candidate.student_id)]
        if len({candidate.student_id for candidate in group}) > 1:
            warnings.append(Message("discover.several_ids", {**where, "ids": ", ".join(
                sorted({candidate.student_id for candidate in group})), "sources": _listed(group)}))
        elif group:
            claims.setdefault(group[0].student_id, {}).setdefault(owner.participant, []).extend(group)
    for student_id in sorted(claims):
        by_participant = claims[student_id]
        if len(by_participant) > 1:
            contested = [candidate for group in by_participant.values() for candidate in group]
            warnings.append(Message("discover.id_contested", {"student_id": student_id,
                                                              "participants": ", ".join(sorted(by_participant)),
                                                              "sources": _listed(contested)}))
            kept = [candidate for candidate in kept if candidate.student_id != student_id]
        else:
            kept += next(iter(by_participant.values()))
    return kept


def _listed(candidates: Iterable[_Candidate]) -> str:
    return ", ".join(sorted(candidate.source for candidate in candidates))


# ---------------------------------------------------------------------------------------------------
# One file per student


def _preference(candidate: _Candidate) -> tuple[bool, float, int, str]:
    """A file named with the owner's own id first, then newest; on a tie .py beats .ipynb, then the
    lexicographically first source."""
    return (candidate.mismatch, -candidate.mtime, 0 if candidate.kind == "py" else 1, candidate.source)


def _resolve_duplicates(candidates: Iterable[_Candidate], files: dict[str, Path]) -> list[Submission]:
    by_student: dict[str, list[_Candidate]] = {}
    for candidate in candidates:
        by_student.setdefault(candidate.student_id, []).append(candidate)
    submissions = []
    for student_id in sorted(by_student):
        ranked = sorted(by_student[student_id], key=_preference)
        kept, others = ranked[0], ranked[1:]
        warnings: tuple[Message, ...] = kept.warnings
        if others:
            warnings += (
                Message(
                    "discover.duplicate",
                    {
                        "student_id": student_id,
                        "kept": kept.source,
                        "ignored": ", ".join(other.source for other in others),
                        "count": len(others),
                    },
                ),
            )
        submissions.append(
            Submission(
                student_id=student_id,
                path=files[kept.source],
                source=kept.source,
                kind=kept.kind,
                mtime=kept.mtime,
                warnings=warnings,
            )
        )
    return submissions


__all__ = [
    "MESSAGE_KEYS",
    "Discovery",
    "DiscoveryError",
    "Submission",
    "decode_member_name",
    "discover",
    "discover_all",
    "normalize_student_id",
]
