"""The self-check's sentences, in Japanese or English, from ``messages.json``.

``student-kit`` writes that file from the grader's own message catalogue when it builds the kit, so the
self-check and the TA's report say the same thing in the same words.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MESSAGES_FILE = Path(__file__).with_name("messages.json")


@dataclass(frozen=True)
class Message:
    """A sentence not yet rendered: catalogue key plus the values for its ``{placeholders}``."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)


@functools.cache
def entries() -> dict[str, dict[str, str]]:
    return json.loads(MESSAGES_FILE.read_text(encoding="utf-8"))


def text(key: str, lang: str, /, **params: Any) -> str:
    template = entries()[key][lang]
    return template.format(**params) if params else template


def render(message: Message, lang: str) -> str:
    return text(message.key, lang, **message.params)
