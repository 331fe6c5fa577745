"""Turning one submission file into Python source text, whatever the student's editor did to it.

Why this exists: students save from Windows Notepad (CP932, BOM, CRLF), paste a Shift_JIS coding
line from an old template, or hand in a notebook full of ``%matplotlib inline`` and ``!pip install``
lines that are not Python. Every such repair is reported as a warning, and a file that cannot be read
at all becomes an ``error`` (0 points with a clear reason) instead of a crash of the grader.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import json
import logging
import re
import warnings as py_warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.i18n import Message

#: Every message key this module can emit (tests check each exists in the catalogue).
MESSAGE_KEYS = (
    "decode.unreadable",
    "decode.empty",
    "decode.fallback_encoding",
    "decode.declaration_mismatch",
    "decode.unknown_declared_encoding",
    "decode.magics_dropped",
    "decode.notebook_invalid",
    "decode.corrupt_notebook",
    "decode.too_large",
)

#: One submission file: a solution is a few KB, a notebook with plots a few MB. Past this the file is
#: refused (that student is told) before it is read, so its size costs no one time or memory.
MAX_FILE_BYTES = 8 * 1024 * 1024

# PEP 263, as the tokenizer applies it: on line 1, or on line 2 when line 1 is blank or a comment.
_CODING_COOKIE = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", re.ASCII)
_BLANK_OR_COMMENT = re.compile(r"^[ \t\f]*(?:[#\r\n]|$)", re.ASCII)
_SHIFT_JIS_FAMILY = {"shift_jis", "cp932", "shift_jis_2004", "shift_jisx0213"}
# Cell magics whose body is Python run in the notebook's namespace: keep the body, drop the line.
_PYTHON_BODY_CELL_MAGICS = {"time", "timeit", "capture", "prun"}
# IPython-only statements: line magics, shell escapes, `x = !cmd` / `x = %magic`, `obj?` help.
# Spaces are ``[^\S\n]`` (any but a newline), never ``\s``: in the multi-line scan below ``\s`` also
# matches newlines, and ``^\s*`` then ran from every line start over all the blank lines after it
# (85,000 blank lines took minutes, holding the GIL).
_IPYTHON_LINE = re.compile(
    r"""[%!]
      | [A-Za-z_][\w.]*[^\S\n]*=[^\S\n]*[%!](?!=)
      | \?{1,2}[A-Za-z_][\w.]*[^\S\n]*$
      | [A-Za-z_][\w.]*\?{1,2}[^\S\n]*$
      | get_ipython[^\S\n]*\(""",
    re.VERBOSE,
)
# Of those, the ones whose text after the marker is shell or magic arguments, not Python to lex.
#: Whether any line could be IPython at all (``_IPYTHON_LINE`` after the indentation): almost no .py
#: file has one, and scanning for it costs 1/20 of lexing every line to know where statements start.
_IPYTHON_ANYWHERE = re.compile(r"^[^\S\n]*(?:" + _IPYTHON_LINE.pattern + ")", re.VERBOSE | re.MULTILINE)
_SHELL_LIKE = re.compile(r"[%!]|[A-Za-z_][\w.]*[^\S\n]*=[^\S\n]*[%!](?!=)")
_MAX_REASON = 200


@dataclass(frozen=True)
class DecodedSource:
    """Source text plus what was repaired; ``error`` set (and ``source`` None) when nothing is usable."""

    source: str | None
    warnings: tuple[Message, ...] = ()
    error: Message | None = None
    #: For a notebook: ``(cell number, first line in source)`` per code cell kept, so an error's line
    #: in the concatenated script can be cited as the student sees it (cell numbers count every cell,
    #: Markdown included, from 1: the cell's position in the notebook).
    cells: tuple[tuple[int, int], ...] = ()


def decode_submission(path: Path, kind: str) -> DecodedSource:
    """Read a ``.py`` or ``.ipynb`` submission as Python source with ``\\n`` line ends."""
    path = Path(path)
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return DecodedSource(
            None, (), Message("decode.unreadable", {"name": path.name, "reason": exc.strerror or str(exc)})
        )
    if len(raw) > MAX_FILE_BYTES:
        return DecodedSource(None, (), Message("decode.too_large", {
            "name": path.name, "limit_mb": round(MAX_FILE_BYTES / (1024 * 1024), 1)}))
    if kind == "ipynb":
        return _decode_notebook(raw, path.name)
    return _decode_python(raw, path.name)


# ---------------------------------------------------------------------------------------------------
# .py


def _decode_python(raw: bytes, name: str) -> DecodedSource:
    text, encoding_warnings = decode_python_bytes(raw)
    text = normalize_newlines(text)
    text = _neutralize_coding_cookie(text)
    if not text.strip():
        return DecodedSource(None, tuple(encoding_warnings), Message("decode.empty", {"name": name}))
    # Colab's "download .py" and nbconvert exports keep `!pip` lines or `get_ipython()` calls; none of
    # these can start a statement in valid Python except get_ipython(), so this is safe on plain code.
    stripped, dropped = strip_ipython(text.split("\n")) if _IPYTHON_ANYWHERE.search(text) else ([], [])
    warnings = list(encoding_warnings)
    if dropped:
        warnings.append(_magics_warning(dropped))
        text = "\n".join(stripped)
    return DecodedSource(text, tuple(warnings), None)


def decode_python_bytes(raw: bytes) -> tuple[str, list[Message]]:
    """Honour a BOM, then a PEP 263 declaration, then try UTF-8, CP932 and finally latin-1."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace"), []
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Notepad's "Unicode" is UTF-16 with a BOM.
        try:
            return raw.decode("utf-16"), [Message("decode.fallback_encoding", {"encoding": "utf-16"})]
        except UnicodeDecodeError:
            pass

    warnings: list[Message] = []
    declared = _declared_encoding(raw)
    if declared is not None:
        codec = _lookup_codec(declared)
        if codec is None:
            warnings.append(Message("decode.unknown_declared_encoding", {"declared": declared}))
        else:
            attempts = ("cp932", "shift_jis") if codec in _SHIFT_JIS_FAMILY else (codec,)
            for attempt in attempts:
                try:
                    text = raw.decode(attempt)
                except UnicodeDecodeError:
                    continue
                if attempt != "utf-8":
                    warnings.append(Message("decode.fallback_encoding", {"encoding": attempt}))
                return text, warnings
            fallback_text, used = _decode_by_guessing(raw)
            warnings.append(Message("decode.declaration_mismatch", {"declared": declared, "encoding": used}))
            if used != "utf-8":
                warnings.append(Message("decode.fallback_encoding", {"encoding": used}))
            return fallback_text, warnings

    text, used = _decode_by_guessing(raw)
    if used != "utf-8":
        warnings.append(Message("decode.fallback_encoding", {"encoding": used}))
    return text, warnings


def _decode_by_guessing(raw: bytes) -> tuple[str, str]:
    """UTF-8 is almost never valid by accident, CP932 is what Japanese Windows writes, latin-1 never fails."""
    for encoding in ("utf-8", "cp932"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1"), "latin-1"


def _declared_encoding(raw: bytes) -> str | None:
    lines = raw.split(b"\n", 2)[:2]
    for number, line in enumerate(lines):
        text = line.decode("latin-1")
        match = _CODING_COOKIE.match(text)
        if match:
            return match.group(1)
        if number == 0 and not _BLANK_OR_COMMENT.match(text):
            return None
    return None


def _lookup_codec(declared: str) -> str | None:
    """The codec's canonical name, treating Emacs-style ``utf-8-unix`` as the tokenizer does."""
    name = declared.lower().replace("_", "-")
    if name == "utf-8" or name.startswith("utf-8-") or name == "utf8":
        return "utf-8"
    try:
        return codecs.lookup(declared).name
    except LookupError:
        return None


def _neutralize_coding_cookie(text: str) -> str:
    """Replace a non-UTF-8 coding line: the text is already decoded, and if it is later written out as
    UTF-8 a leftover ``# coding: cp932`` would make Python decode it wrongly. Line count is kept."""
    lines = text.split("\n", 2)
    for number in range(min(2, len(lines))):
        match = _CODING_COOKIE.match(lines[number])
        if match:
            if _lookup_codec(match.group(1)) != "utf-8":
                lines[number] = f"# (source encoding line removed by the grader: was {match.group(1)})"
            break
        if number == 0 and not _BLANK_OR_COMMENT.match(lines[0]):
            break
    return "\n".join(lines)


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


# ---------------------------------------------------------------------------------------------------
# IPython syntax


class _LexState:
    """Just enough of Python's lexer to know whether a line starts a new statement.

    A line that starts inside a triple-quoted string, inside brackets or after a backslash is not a
    statement, so ``%d`` or ``!`` at its start is string or expression content, not a magic.
    """

    def __init__(self) -> None:
        self.quote: str | None = None
        self.depth = 0
        self.backslash = False

    @property
    def at_statement_start(self) -> bool:
        return self.quote is None and self.depth == 0 and not self.backslash

    def feed(self, line: str) -> None:
        self.backslash = False
        i, n = 0, len(line)
        while i < n:
            ch = line[i]
            if self.quote is not None:
                if ch == "\\":
                    if i == n - 1 and len(self.quote) == 1:
                        self.backslash = True  # a single-quoted string continued on the next line
                    i += 2
                    continue
                if line.startswith(self.quote, i):
                    i += len(self.quote)
                    self.quote = None
                    continue
                i += 1
                continue
            if ch == "#":
                break
            if ch in "\"'":
                triple = ch * 3
                self.quote = triple if line.startswith(triple, i) else ch
                i += len(self.quote)
                continue
            if ch in "([{":
                self.depth += 1
            elif ch in ")]}":
                self.depth = max(0, self.depth - 1)
            elif ch == "\\" and i == n - 1:
                self.backslash = True
            i += 1
        if self.quote is not None and len(self.quote) == 1 and not self.backslash:
            self.quote = None  # an unterminated one-line string ends with its line
        if self.quote is not None and len(self.quote) == 1:
            self.backslash = False  # continuation handled by the open quote itself


def strip_ipython(lines: list[str]) -> tuple[list[str], list[str]]:
    """Replace IPython-only statements by blank lines (``pass`` when indented, so blocks stay valid).

    Returns the new lines (same count, so line numbers in errors still match) and the dropped lines.
    """
    out: list[str] = []
    dropped: list[str] = []
    state = _LexState()
    dropping = False
    for line in lines:
        starts_statement = state.at_statement_start
        if starts_statement:
            dropping = False
            body = line.lstrip()
            if body and _IPYTHON_LINE.match(body):
                dropping = True
        if dropping:
            dropped.append(line)
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}pass" if indent and starts_statement else "")
            if starts_statement and _SHELL_LIKE.match(line.lstrip()):
                # Shell text is not Python: only a trailing backslash continues it.
                state = _LexState()
                state.backslash = line.rstrip().endswith("\\")
            else:
                state.feed(line)
            continue
        out.append(line)
        state.feed(line)
    return out, dropped


def _strip_cell(cell: str) -> tuple[list[str], list[str]]:
    """One notebook cell: a non-Python cell magic (``%%bash``) drops the cell; ``%%time`` and
    ``%%writefile x.py`` lose only their magic line, since their body is Python the student wrote."""
    lines = normalize_newlines(cell).split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        magic = lines[first].lstrip()[2:].split(None, 1)
        name = magic[0] if magic else ""
        if name in _PYTHON_BODY_CELL_MAGICS or _writes_python_file(name, magic[1:]):
            rest, dropped = strip_ipython(lines[first + 1 :])
            return [*lines[:first], "", *rest], [lines[first], *dropped]
        return [""] * len(lines), [line for line in lines if line.strip()]
    return strip_ipython(lines)


def _writes_python_file(name: str, arguments: list[str]) -> bool:
    """``%%writefile <prefix>x.py`` is how some Colab users hand in a script: its body is their code."""
    return name in {"writefile", "file"} and bool(arguments) and arguments[0].strip().endswith(".py")


def _magics_warning(dropped: list[str]) -> Message:
    first = dropped[0].strip()
    if len(first) > 60:
        first = first[:57] + "..."
    return Message("decode.magics_dropped", {"count": len(dropped), "first": first})


# ---------------------------------------------------------------------------------------------------
# .ipynb


@contextlib.contextmanager
def _quiet_nbformat() -> Iterator[None]:
    """nbformat logs validation problems to stderr; we report them as warnings instead."""
    logger = logging.getLogger("traitlets")
    previous = logger.disabled
    logger.disabled = True
    try:
        with py_warnings.catch_warnings():
            py_warnings.simplefilter("ignore")
            yield
    finally:
        logger.disabled = previous


def _decode_notebook(raw: bytes, name: str) -> DecodedSource:
    if not raw.strip():
        return DecodedSource(None, (), Message("decode.empty", {"name": name}))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return DecodedSource(None, (), _corrupt(f"not UTF-8 ({exc.reason})"))

    warnings: list[Message] = []
    cells: list[tuple[int, str]] | None
    try:
        import nbformat

        captured: dict[str, Any] = {}
        with _quiet_nbformat():
            notebook = nbformat.read(io.StringIO(text), as_version=4, capture_validation_error=captured)
        if "ValidationError" in captured:
            warnings.append(Message("decode.notebook_invalid", {"reason": _short(captured["ValidationError"])}))
        cells = [(number, cell.get("source", "")) for number, cell in enumerate(notebook.get("cells", []), start=1)
                 if cell.get("cell_type") == "code"]
        if not all(isinstance(cell, str) for _, cell in cells):
            raise ValueError("a code cell's source is not text")
    except Exception as exc:  # nbformat raises ValidationError, NotJSONError, AttributeError, ...
        # A notebook nbformat refuses may still hold readable cells (hand-edited, missing metadata).
        cells = _lenient_cells(text)
        if cells is None:
            return DecodedSource(None, (), _corrupt(_short(exc)))
        warnings.append(Message("decode.notebook_invalid", {"reason": _short(exc)}))

    out: list[str] = []
    dropped: list[str] = []
    starts: list[tuple[int, int]] = []
    next_line = 1
    for number, cell in cells:
        lines, cell_dropped = _strip_cell(cell)
        while lines and not lines[-1].strip():
            lines.pop()
        if lines:
            out.append("\n".join(lines))
            starts.append((number, next_line))
            next_line += len(lines) + 1  # cells are joined by one blank line
        dropped.extend(cell_dropped)
    source = "\n\n".join(out) + "\n"
    if dropped:
        warnings.append(_magics_warning(dropped))
    if not source.strip() or all(not line.strip() or line.strip() == "pass" for line in source.split("\n")):
        return DecodedSource(None, tuple(warnings), Message("decode.empty", {"name": name}))
    return DecodedSource(source, tuple(warnings), None, tuple(starts))


def _lenient_cells(text: str) -> list[tuple[int, str]] | None:
    """Code cells from raw JSON (v4 ``cells`` or v3 ``worksheets``), or None when it is no notebook."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: thousands of nested brackets
        return None
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("cells"), list):
        raw_cells, field = data["cells"], "source"
    elif isinstance(data.get("worksheets"), list) and data["worksheets"] and isinstance(data["worksheets"][0], dict):
        raw_cells, field = data["worksheets"][0].get("cells"), "input"
    else:
        return None
    if not isinstance(raw_cells, list):
        return None
    cells = []
    for number, cell in enumerate(raw_cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get(field, "")
        if isinstance(source, list) and all(isinstance(part, str) for part in source):
            source = "".join(source)
        if not isinstance(source, str):
            return None
        cells.append((number, source))
    return cells


def _corrupt(reason: str) -> Message:
    return Message("decode.corrupt_notebook", {"reason": reason})


def _short(exc: object) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."


__all__ = ["MESSAGE_KEYS", "DecodedSource", "decode_python_bytes", "decode_submission", "strip_ipython"]


def read_ta_file(path: Path, error: Callable[[Message], Exception], key: str) -> bytes:
    """The bytes of a file the TA names (roster, manual points, worksheet); ``error(Message(key, {path,
    reason}))`` is raised, in the caller's words, when it cannot be read."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise error(Message(key, {"path": str(path), "reason": exc.strerror or str(exc)})) from exc


def decode_table_text(raw: bytes) -> str | None:
    """A CSV a TA saved (roster, manual points): UTF-8 (with or without BOM) or, from Japanese Excel,
    CP932. None when it is neither, so the caller can say so in its own words."""
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None
