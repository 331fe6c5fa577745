"""One message catalogue for every user-facing sentence (reports, CLI errors, student tests).

Why a catalogue: students read Japanese by default and TAs may want English (``--lang en``); keeping
both languages of a sentence side by side in TOML makes a missing translation a test failure instead
of a surprise in a report. Engine sentences live in ``grader/messages/*.toml``; an assignment's own
sentences live in its assignment file and are added with :meth:`Catalogue.extend`.

A message travels as a :class:`Message` (a key plus parameters) until the very end, so results can be
rendered in either language from the same data.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LANGUAGES = ("ja", "en")
DEFAULT_LANGUAGE = "ja"
_MESSAGES_DIR = Path(__file__).with_name("messages")


@dataclass(frozen=True)
class Message:
    """A sentence not yet rendered: catalogue key plus the values for its ``{placeholders}``."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)


class Catalogue:
    """Maps keys to ``{"ja": ..., "en": ...}`` templates; renders :class:`Message` objects."""

    def __init__(self, entries: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._entries: dict[str, dict[str, str]] = {}
        if entries:
            self.extend(entries, source="<init>")

    @classmethod
    def load_engine(cls) -> Catalogue:
        """The engine's catalogue: every ``grader/messages/*.toml`` file, flattened to dotted keys."""
        catalogue = cls()
        for path in sorted(_MESSAGES_DIR.glob("*.toml")):
            with path.open("rb") as handle:
                catalogue.extend(flatten(tomllib.load(handle)), source=str(path))
        return catalogue

    def extend(self, entries: Mapping[str, Mapping[str, str]], *, source: str) -> None:
        """Add entries; a key defined twice or lacking a language is an error, not a silent override."""
        for key, texts in entries.items():
            if key in self._entries:
                raise ValueError(f"message key {key!r} defined twice (again in {source})")
            missing = [lang for lang in LANGUAGES if lang not in texts]
            if missing:
                raise ValueError(f"message key {key!r} in {source} lacks {missing}")
            self._entries[key] = {lang: str(texts[lang]) for lang in LANGUAGES}

    def keys(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def text(self, key: str, lang: str = DEFAULT_LANGUAGE, /, **params: Any) -> str:
        """Render one key; unknown keys raise so that a typo never reaches a student as a blank line."""
        if lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r}; expected one of {LANGUAGES}")
        try:
            template = self._entries[key][lang]
        except KeyError:
            raise KeyError(f"no message {key!r} in the catalogue") from None
        return template.format(**params) if params else template

    def render(self, message: Message, lang: str = DEFAULT_LANGUAGE) -> str:
        return self.text(message.key, lang, **message.params)


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, dict[str, str]]:
    """Turn nested TOML tables into dotted keys; a table with a ``ja`` string is a leaf entry."""
    flat: dict[str, dict[str, str]] = {}
    for name, value in tree.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping) and isinstance(value.get("ja"), str):
            flat[key] = dict(value)
        elif isinstance(value, Mapping):
            flat.update(flatten(value, prefix=f"{key}."))
    return flat


_ENGINE: Catalogue | None = None


def engine_catalogue() -> Catalogue:
    """The engine catalogue, loaded once per process."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = Catalogue.load_engine()
    return _ENGINE
