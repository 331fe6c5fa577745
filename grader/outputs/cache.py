"""Results remembered by what determines them, so that a stopped run resumes where it stopped.

A student's result depends on their file's bytes and name (the module is named after the id), and on
everything that is the same for the whole run: the grader's own code and the assignment file, the seed,
the data file's bytes, the time limit, the language and the isolation in use. The key hashes all of
these, so a changed check, a new data file or ``--seed`` simply misses the cache: nothing is ever
reused across a change that could alter a grade.

Entries live in ``DIR/.cache/results/`` (they travel with the results they produced), one JSON file
each, written atomically in the same order as the reports. What is stored is the result itself
(:mod:`grader.results`): every message as its key and parameters, rendered when the reports are written
exactly like a result graded now. A parameter keeps its exact type (a tuple, a numpy ``float32``, a nan
render as they did), and a result holding a value this format cannot keep exactly is not stored at all:
it is graded again next time rather than shown differently.

Whoever owns DIR can write DIR/.cache, so an entry is read as untrusted: anything that is not exactly
what :func:`encode_result` writes (a message key the catalogue lacks, a parameter its sentence cannot
take, a wrong type, a huge file, a link or a FIFO in place of a file) makes the entry absent, and the
student is graded again.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from grader.i18n import Catalogue, Message
from grader.intake.discover import Submission
from grader.outputs.atomic import write_atomic
from grader.results import CheckResult, Status, SubmissionResult, Verdict
from grader.run.engine import Plan
from grader.run.sandbox.protocol import ALLOWED_DTYPES

CACHE_DIR = Path(".cache")
RESULTS_DIR = CACHE_DIR / "results"
#: Bumped when the entry format changes, so old entries are ignored rather than misread.
FORMAT = 2
#: An honest entry holds a few dozen sentences and at most the output limit: ~100 KB. A bigger file is
#: not read (and a result that would need one is not stored).
MAX_ENTRY_BYTES = 4 * 2**20
#: How deeply a parameter may nest (a list of tuples of messages...): far more than any check builds.
MAX_DEPTH = 8
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # grader/
_CODE_ROOTS = (_PACKAGE_ROOT, _PACKAGE_ROOT.parent / "reference")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def grader_fingerprint() -> str:
    """A hash of the grader's own code and messages: any edit to a check invalidates old results."""
    digest = hashlib.sha256()
    try:
        digest.update(metadata.version("ex-grader").encode())
    except metadata.PackageNotFoundError:
        pass
    for root in _CODE_ROOTS:
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".toml") and "__pycache__" not in path.parts and path.is_file():
                digest.update(path.relative_to(root.parent).as_posix().encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def run_key(plan: Plan, *, lang: str, isolation: str, timeout: float | None) -> str:
    """Everything that is the same for every student of a run and can change a result."""
    parts = {
        "format": FORMAT,
        "grader": grader_fingerprint(),
        "assignment": _sha256_file(plan.assignment.path),
        "seed": plan.seed,
        "data": _sha256_file(plan.data_file) if plan.data_file is not None else None,
        "limits": plan.limits,
        "timeout": timeout,
        "lang": lang,
        "isolation": isolation,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class ResultCache:
    """Results of one run's settings in ``out/.cache/results``."""

    out: Path
    run_key: str
    catalogue: Catalogue
    lang: str

    @property
    def folder(self) -> Path:
        return self.out / RESULTS_DIR

    def key(self, submission: Submission) -> str | None:
        """The entry name for a submission, or None when its file cannot be read (it is graded, not cached)."""
        try:
            content = _sha256_file(submission.path)
        except OSError:
            return None
        material = json.dumps([self.run_key, submission.student_id, submission.kind, content])
        return hashlib.sha256(material.encode()).hexdigest()

    @property
    def usable(self) -> bool:
        """False when ``.cache`` or ``.cache/results`` is a symbolic link: the cache then reads, writes and
        prunes nothing (pruning through a link would delete files wherever it points)."""
        return not any(path.is_symlink() for path in (self.out / CACHE_DIR, self.folder))

    def load(self, key: str, submission: Submission) -> SubmissionResult | None:
        """The stored result for ``key``, or None: absent, damaged, hostile or of another format alike."""
        if not self.usable:
            return None
        raw = _read_regular_file(self.folder / f"{key}.json", MAX_ENTRY_BYTES)
        if raw is None:
            return None
        try:
            result = decode_result(json.loads(raw.decode("utf-8"), parse_constant=_not_json), submission,
                                   self.catalogue)
            for message in messages_of(result):  # every sentence renders, or the entry is not used
                self.catalogue.render(message, self.lang)
        except Exception:  # whatever the file holds, a cache miss is always safe: the student is graded again
            return None
        return result

    def store(self, key: str, result: SubmissionResult, submission: Submission) -> None:
        """Keep ``result``; one that this format cannot hold exactly (or would make too big) is not kept."""
        if not self.usable:
            return
        try:
            text = json.dumps(encode_result(result, submission), ensure_ascii=False, allow_nan=False, indent=1)
        except Unencodable:
            return
        if len(text.encode("utf-8")) < MAX_ENTRY_BYTES:
            try:
                write_atomic(self.folder / f"{key}.json", text + "\n")
            except OSError:  # a folder the TA cannot write (left by a run as root), a file in its place:
                pass  # the cache only saves time, so the student is graded again next time

    def prune(self, keep: Iterable[str]) -> None:
        """Drop entries this run did not use: results of older settings or of files since replaced."""
        wanted = {f"{key}.json" for key in keep}
        if not self.usable or not self.folder.is_dir():
            return
        for path in self.folder.iterdir():
            if path.suffix == ".json" and path.name not in wanted:
                try:
                    if not path.is_dir() or path.is_symlink():  # only files (or links) this cache could have made
                        path.unlink(missing_ok=True)
                except OSError:  # not the TA's to delete: it stays, and is never read as an entry of this run
                    pass


def _read_regular_file(path: Path, limit: int) -> bytes | None:
    """The bytes of ``path`` when it is a regular file (not a link, FIFO or device) of at most ``limit``
    bytes; None otherwise. Opened without following a link and without blocking on a FIFO."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        handle = os.open(path, flags)
    except OSError:
        return None
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        with os.fdopen(handle, "rb", closefd=False) as stream:
            data = stream.read(limit + 1)
        return data if len(data) <= limit else None
    except OSError:
        return None
    finally:
        os.close(handle)


# -- the entry format: a result as plain JSON -------------------------------------------------------------


class Unencodable(ValueError):
    """A value the entry format cannot keep exactly (an array, an object): its result is not stored."""


def encode_result(result: SubmissionResult, submission: Submission) -> dict[str, Any]:
    own = result.warnings[len(submission.warnings):]  # the submission's own are re-added on load
    return {
        "format": FORMAT,
        "student_id": result.student_id,
        "status": str(result.status),
        "max": _encode_number(result.max),
        "warnings": [encode_message(message) for message in own],
        "output": result.output,
        "output_bytes": result.output_bytes,
        "checks": [{"id": check.id, "passed": check.passed, "score": _encode_number(check.score),
                    "max": _encode_number(check.max), "verdict_passed": check.verdict.passed,
                    "summary": encode_message(check.verdict.summary),
                    "details": [encode_message(detail) for detail in check.verdict.details],
                    "hint": None if check.verdict.hint is None else encode_message(check.verdict.hint)}
                   for check in result.checks],
    }


def decode_result(entry: Any, submission: Submission, catalogue: Catalogue) -> SubmissionResult:
    """Inverse of :func:`encode_result`; ValueError (or TypeError, KeyError) for anything it did not write."""
    if not isinstance(entry, dict) or entry.get("format") != FORMAT or entry.get("student_id") != submission.student_id:
        raise ValueError("not an entry of this format for this student")

    def message(value: Any) -> Message:
        return decode_message(value, catalogue)

    checks = [CheckResult(_typed(item["id"], str), _typed(item["passed"], bool), _real(item["score"]),
                          _real(item["max"]),
                          Verdict(_typed(item["verdict_passed"], bool), message(item["summary"]),
                                  [message(detail) for detail in _typed(item["details"], list)],
                                  None if item["hint"] is None else message(item["hint"])))
              for item in _typed(entry["checks"], list)]
    warnings = [*submission.warnings, *(message(warning) for warning in _typed(entry["warnings"], list))]
    output_bytes = _typed(entry["output_bytes"], int)
    if output_bytes < 0:
        raise ValueError("bad output size")
    return SubmissionResult(submission.student_id, Status(_typed(entry["status"], str)), submission.source, checks,
                            _real(entry["max"]), warnings, _typed(entry["output"], str), output_bytes)


def messages_of(result: SubmissionResult) -> list[Message]:
    """Every message a result's reports render."""
    verdicts = [check.verdict for check in result.checks]
    return [*result.warnings, *(verdict.summary for verdict in verdicts),
            *(detail for verdict in verdicts for detail in verdict.details),
            *(verdict.hint for verdict in verdicts if verdict.hint is not None)]


def encode_message(message: Message, depth: int = 0) -> dict[str, Any]:
    return {"key": message.key, "params": {_typed(name, str, Unencodable): encode_value(value, depth + 1)
                                           for name, value in message.params.items()}}


def decode_message(value: Any, catalogue: Catalogue, depth: int = 0) -> Message:
    """A message whose key the catalogue has; an unknown key is never let through to a report."""
    key, params = _typed(value["key"], str), _typed(value["params"], dict)
    if key not in catalogue or len(value) != 2:
        raise ValueError(f"unknown message {key!r}")
    return Message(key, {name: decode_value(item, catalogue, depth + 1) for name, item in params.items()})


def encode_value(value: Any, depth: int = 0) -> Any:
    """A parameter as JSON that :func:`decode_value` turns back into an equal value of the same type.

    JSON's own types stand for themselves (a float only when finite); everything else is an object with
    one tag: ``{"float": "nan"}``, ``{"tuple": [...]}``, ``{"dict": [[key, value], ...]}`` (any keys),
    ``{"numpy": "<f4", "value": ...}``, ``{"message": {...}}``. Other values raise :class:`Unencodable`.
    """
    if depth > MAX_DEPTH:
        raise Unencodable("nested too deeply")
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.generic):  # before float: np.float64 is one, and would come back a plain float
        if value.dtype.str not in ALLOWED_DTYPES:
            return _unencodable(value)
        return {"numpy": value.dtype.str, "value": encode_value(value.item(), depth + 1)}
    if isinstance(value, int):
        return value if type(value) is int else _unencodable(value)  # an IntEnum would render differently
    if isinstance(value, float):
        return _encode_number(value) if type(value) is float else _unencodable(value)
    if isinstance(value, list | tuple):
        items = [encode_value(item, depth + 1) for item in value]
        return items if type(value) is list else {"tuple": items} if type(value) is tuple else _unencodable(value)
    if type(value) is dict:
        return {"dict": [[encode_value(key, depth + 1), encode_value(item, depth + 1)] for key, item in value.items()]}
    if isinstance(value, Message):
        return {"message": encode_message(value, depth)}
    return _unencodable(value)


def decode_value(value: Any, catalogue: Catalogue, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise ValueError("nested too deeply")
    if value is None or isinstance(value, bool | str | int | float):
        return value
    if isinstance(value, list):
        return [decode_value(item, catalogue, depth + 1) for item in value]
    if not isinstance(value, dict) or len(value) != (2 if "numpy" in value else 1):
        raise ValueError("not a tagged value")
    if "float" in value:
        return _real(value)
    if "tuple" in value:
        return tuple(decode_value(item, catalogue, depth + 1) for item in _typed(value["tuple"], list))
    if "dict" in value:
        pairs = [_typed(pair, list) for pair in _typed(value["dict"], list)]
        return {decode_value(key, catalogue, depth + 1): decode_value(item, catalogue, depth + 1)
                for key, item in pairs}  # a pair of another length or an unhashable key: ValueError/TypeError
    if "message" in value:
        return decode_message(value["message"], catalogue, depth)
    if "numpy" in value and value["numpy"] in ALLOWED_DTYPES:
        return np.dtype(value["numpy"]).type(_typed(decode_value(value["value"], catalogue, depth + 1), int | float))
    raise ValueError("unknown tag")


def _encode_number(value: float) -> float | dict[str, str]:
    """A float as JSON: itself when finite, else ``{"float": "nan" | "inf" | "-inf"}`` (plain JSON has none)."""
    return value if math.isfinite(value) else {"float": repr(float(value))}


def _real(value: Any) -> float:
    """A number as :func:`_encode_number` wrote it (ints too; never a bool or a string)."""
    if isinstance(value, dict) and len(value) == 1 and value.get("float") in ("nan", "inf", "-inf"):
        return float(value["float"])
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("not a number")
    return float(value)


def _typed(value: Any, kind: Any, error: type[Exception] = ValueError) -> Any:
    """``value`` when it is a ``kind`` (an int is never a bool here), else ``error``."""
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise error(f"expected {kind}, got {type(value).__name__}")
    return value


def _not_json(constant: str) -> Any:
    """``NaN`` and ``Infinity`` are Python's extensions of JSON, not what :func:`encode_result` writes."""
    raise ValueError(f"{constant} is not plain JSON")


def _unencodable(value: Any) -> Any:
    raise Unencodable(type(value).__name__)
