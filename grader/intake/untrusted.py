"""Student-controlled text made safe to hold, at the places where it enters the grader.

Why: a file name, a folder name, an exception message or printed output is chosen by a student, and
one bad string used to end the run for the whole class. A lone surrogate (``"\\ud800"`` in an
exception message, or a folder name that is not UTF-8, which Python hands over surrogate-escaped) cannot
be encoded as UTF-8, so writing any report failed; an id of 240 characters made file names longer than
the file system allows. Every such string is passed through :func:`clean_text` (or
:func:`clean_tree` / :func:`clean_message` for structured data) once, where it enters: discovery (names
and ids), decoding (source text), and a student's result as the grader receives it. What it returns
encodes as UTF-8 and is bounded in length; escaping for a given output format is :mod:`grader.outputs.escape`'s job.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from grader.i18n import Message

#: Longest piece of student text kept in one message parameter (an exception message, a name).
MAX_TEXT = 2_000
#: Longest name (a file or folder name, a path shown to the TA) kept for display.
MAX_NAME = 300
_SURROGATE = re.compile("[\ud800-\udfff]")
_ELLIPSIS = "…"


def clean_text(value: object, limit: int | None = MAX_TEXT) -> str:
    """``value`` as text that encodes as UTF-8 (lone surrogates become U+FFFD), at most ``limit`` long."""
    text = value if isinstance(value, str) else _safe_str(value)
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - 1)] + _ELLIPSIS
    return text


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:  # a str() that raises is student data too
        return f"<{type(value).__name__}>"


def display_name(name: str, limit: int | None = MAX_NAME) -> str:
    """A file or folder name as the TA should read it.

    Python gives names that are not UTF-8 (what ``unzip`` writes for a Japanese Windows zip) with
    surrogate escapes; their bytes are decoded as CP932 when they are CP932, else replaced.
    """
    if _SURROGATE.search(name):
        raw = os.fsencode(name) if _is_surrogate_escaped(name) else None
        for encoding in ("utf-8", "cp932"):
            if raw is None:
                break
            try:
                name = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
    return clean_text(unicodedata.normalize("NFC", clean_text(name, None)), limit)


def _is_surrogate_escaped(name: str) -> bool:
    try:
        os.fsencode(name)
    except UnicodeEncodeError:
        return False
    return True


def clean_tree(value: Any, limit: int | None = MAX_TEXT) -> Any:
    """Every string in nested dicts, lists, tuples and :class:`Message` params cleaned; the rest kept."""
    if isinstance(value, str):
        return clean_text(value, limit)
    if isinstance(value, Message):
        return clean_message(value, limit)
    if isinstance(value, Mapping):
        return {clean_text(key, limit) if isinstance(key, str) else key: clean_tree(item, limit)
                for key, item in value.items()}
    if isinstance(value, list):
        return [clean_tree(item, limit) for item in value]
    if isinstance(value, tuple):
        return tuple(clean_tree(item, limit) for item in value)
    return value


def clean_message(message: Message, limit: int | None = MAX_TEXT) -> Message:
    """The message with its parameters cleaned (the key is ours)."""
    return Message(message.key, clean_tree(dict(message.params), limit))


def bounded_file_stem(name: str, limit: int = 64) -> str:
    """``name`` when it is short enough to be part of a file name, else its start and a hash of it."""
    if len(name.encode("utf-8", "surrogatepass")) <= limit:
        return name
    raw = name.encode("utf-8", "surrogatepass")
    head = raw[: limit - 17].decode("utf-8", "ignore")
    return f"{head}-{hashlib.sha256(raw).hexdigest()[:16]}"
