"""The engine's message catalogue: one file per key prefix, both languages everywhere."""

from __future__ import annotations

import tomllib
from pathlib import Path

from grader.i18n import LANGUAGES, Catalogue, flatten

MESSAGES = Path(__file__).resolve().parent.parent / "grader" / "messages"


def test_each_message_file_is_named_after_the_prefix_of_its_keys() -> None:
    files = sorted(MESSAGES.glob("*.toml"))
    assert files
    for path in files:
        keys = flatten(tomllib.loads(path.read_text(encoding="utf-8")))
        assert keys, f"{path.name} holds no message"
        strays = sorted(key for key in keys if key.split(".")[0] != path.stem)
        assert not strays, f"{path.name} holds keys of another prefix: {strays}"


def test_every_engine_message_has_both_languages() -> None:
    catalogue = Catalogue.load_engine()
    for key in catalogue.keys():
        for lang in LANGUAGES:
            assert catalogue.text(key, lang).strip(), (key, lang)
