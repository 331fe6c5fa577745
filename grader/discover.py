"""Finding submissions in whatever a TA downloaded: a folder, an LMS "download all" zip, or one file.

Why this is more than a glob: LMS downloads put every file in a per-student folder with a Japanese
name (``山田 太郎_1234567_assignsubmission_file_/``), Japanese Windows zips store names in CP932
without the UTF-8 flag, students type their id with full-width digits, upload twice, or hand in both a
``.py`` and a notebook. A zip is untrusted input, so it is extracted here member by member into
``scratch`` only: names that would escape it are rejected, symlinks are never created or followed,
and the amount extracted is capped.

Files that almost follow the naming rule (``ex_2_1234.py``, ``ex02_1234.py``, ``ex_02_.py``) are
not graded but are listed in :attr:`Discovery.ignored` so that a TA can spot a student who would
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
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from grader.i18n import Message, engine_catalogue

ASSIGNMENT_PREFIX = "ex_02_"
KINDS = ("py", "ipynb")

#: Caps on what a zip may make us do; an LMS download of .py files is far below both.
MAX_ZIP_MEMBERS = 50_000
MAX_EXTRACTED_BYTES = 200 * 1024 * 1024

_SUBMISSION_NAME = re.compile(r"ex_02_(?P<id>[A-Za-z0-9][A-Za-z0-9_-]*)\.(?P<ext>py|ipynb)", re.IGNORECASE)
# "ex", optional separators, "2" or "02", not followed by another digit: ex_2_, ex02_, ex-02, "Ex 2".
_NEAR_MISS_PREFIX = re.compile(r"ex[\s_\-]*0?2(?!\d)", re.IGNORECASE)
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


@dataclass(frozen=True)
class _Candidate:
    student_id: str
    kind: str
    source: str
    mtime: float


def _match_name(name: str) -> tuple[str, str] | None:
    """``(student_id, kind)`` when a file name follows ``ex_02_<id>.py|.ipynb``, else None."""
    match = _SUBMISSION_NAME.fullmatch(unicodedata.normalize("NFKC", name))
    if match is None:
        return None
    return normalize_student_id(match["id"]), match["ext"].lower()


def _is_near_miss(name: str) -> bool:
    """Looks like an attempt at ``ex_02_<id>.py`` (wrong separators, missing id, zipped, .py.txt)."""
    normalized = unicodedata.normalize("NFKC", name)
    return bool(_NEAR_MISS_PREFIX.match(normalized) and _NEAR_MISS_EXTENSION.search(normalized))


def _is_ignored_part(part: str) -> bool:
    """Dot-files/folders (``.ipynb_checkpoints``, ``._x`` AppleDouble) and macOS ``__MACOSX``."""
    return part.startswith(".") or part == "__MACOSX"


def _display(source: str) -> str:
    """NFC for reports: macOS stores names decomposed, which renders oddly in CSV and Markdown."""
    return unicodedata.normalize("NFC", source)


# ---------------------------------------------------------------------------------------------------
# Entry points


def discover(path: Path, scratch: Path) -> list[Submission]:
    """The submissions in ``path``, one per student, sorted by student id."""
    return discover_all(path, scratch).submissions


def discover_all(
    path: Path,
    scratch: Path,
    *,
    max_members: int = MAX_ZIP_MEMBERS,
    max_bytes: int = MAX_EXTRACTED_BYTES,
) -> Discovery:
    """Walk a folder, extract a zip, or take a single file; then keep the newest file per student."""
    path = Path(path)
    try:
        info = path.stat()
    except OSError as exc:
        raise DiscoveryError(Message("discover.unreadable", {"path": str(path), "reason": _reason(exc)})) from exc

    warnings: list[Message] = []
    ignored: list[str] = []
    single = _match_name(path.name)
    if stat.S_ISDIR(info.st_mode):
        candidates, files = _walk_directory(path, warnings, ignored)
    elif single is not None:
        student_id, kind = single
        candidates = [_Candidate(student_id, kind, _display(path.name), info.st_mtime)]
        files = {_display(path.name): path}
    elif path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
        candidates, files = _extract_zip(path, Path(scratch), warnings, ignored, max_members, max_bytes)
    else:
        raise DiscoveryError(Message("discover.not_a_submission", {"path": str(path)}))

    return Discovery(
        submissions=_resolve_duplicates(candidates, files),
        ignored=sorted(ignored),
        warnings=warnings,
    )


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


# ---------------------------------------------------------------------------------------------------
# Folders


def _walk_directory(
    root: Path, warnings: list[Message], ignored: list[str]
) -> tuple[list[_Candidate], dict[str, Path]]:
    """``os.walk`` without following links; symlinks and special files are reported, not read."""
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
            matched = _match_name(name)
            if matched is None:
                if _is_near_miss(name):
                    ignored.append(source)
                continue
            if not stat.S_ISREG(info.st_mode):
                # A FIFO named like a submission would block the reader forever.
                warnings.append(Message("discover.special_file_skipped", {"source": source}))
                continue
            candidates.append(_Candidate(matched[0], matched[1], source, info.st_mtime))
            files[source] = full
    return candidates, files


def _relative(path: Path, root: Path) -> str:
    return _display(path.relative_to(root).as_posix())


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


def _extract_zip(
    archive: Path,
    scratch: Path,
    warnings: list[Message],
    ignored: list[str],
    max_members: int,
    max_bytes: int,
) -> tuple[list[_Candidate], dict[str, Path]]:
    """Extract only the submission files, each to ``<fresh dir>/<n>/ex_02_<id>.<kind>``.

    The on-disk name is rebuilt from the validated id, never taken from the archive, so no member
    name can steer a write; the original name is kept as ``source`` for reports.
    """
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
        if len(members) > max_members:
            raise DiscoveryError(
                Message(
                    "discover.zip_too_many_members",
                    {"path": str(archive), "count": len(members), "limit": max_members},
                )
            )
        scratch.mkdir(parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix="zip-", dir=scratch))
        candidates: list[_Candidate] = []
        files: dict[str, Path] = {}
        budget = [max_bytes]
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
            source = _display("/".join(parts))
            if _is_symlink_member(info):
                warnings.append(Message("discover.symlink_skipped", {"source": source}))
                continue
            matched = _match_name(parts[-1])
            if matched is None:
                if _is_near_miss(parts[-1]):
                    ignored.append(source)
                continue
            student_id, kind = matched
            if source in files:
                # The same name twice in one archive: keep both apart, duplicates logic decides.
                source = f"{source} (#{index})"
            target_dir = root / f"{index:06d}"
            target_dir.mkdir()
            target = target_dir / f"{ASSIGNMENT_PREFIX}{student_id}.{kind}"
            try:
                _copy_member(zf, info, target, budget, max_bytes, archive)
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError) as exc:
                # Encrypted, unsupported compression, or a bad CRC: skip this file, keep the rest.
                target.unlink(missing_ok=True)
                warnings.append(Message("discover.member_unreadable", {"source": source, "reason": _reason(exc)}))
                continue
            mtime = _zip_mtime(info)
            if mtime > 0:
                os.utime(target, (mtime, mtime))
            candidates.append(_Candidate(student_id, kind, source, mtime))
            files[source] = target
    return candidates, files


def _copy_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: list[int], limit: int, archive: Path
) -> None:
    """Stream one member, counting real bytes: declared sizes in a hostile zip may lie."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(target, flags, 0o600)
    with os.fdopen(fd, "wb") as out, zf.open(info) as member:
        while chunk := member.read(_COPY_CHUNK):
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


# ---------------------------------------------------------------------------------------------------
# One file per student


def _preference(candidate: _Candidate) -> tuple[float, int, str]:
    """Newest first; on a tie .py beats .ipynb, then the lexicographically first source."""
    return (-candidate.mtime, 0 if candidate.kind == "py" else 1, candidate.source)


def _resolve_duplicates(candidates: Iterable[_Candidate], files: dict[str, Path]) -> list[Submission]:
    by_student: dict[str, list[_Candidate]] = {}
    for candidate in candidates:
        by_student.setdefault(candidate.student_id, []).append(candidate)
    submissions = []
    for student_id in sorted(by_student):
        ranked = sorted(by_student[student_id], key=_preference)
        kept, others = ranked[0], ranked[1:]
        warnings: tuple[Message, ...] = ()
        if others:
            warnings = (
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
