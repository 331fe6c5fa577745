"""grader.outputs.escape and grader.intake.untrusted: student text inert per format, and safe to hold
at all (issue 11.2, 11.4)."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.i18n import Catalogue, Message
from grader.intake.untrusted import bounded_file_stem, clean_text, clean_tree, display_name
from grader.outputs import escape

HOSTILE = "# head\n```\n<script>alert(1)</script> [x](javascript:1) | *a* _b_ ~c~ \x1b]0;t\x07\r\u202e"


def test_md_keeps_everything_on_one_inert_line() -> None:
    out = escape.md(HOSTILE)
    assert "\n" not in out and "\r" not in out and "\x1b" not in out
    assert "<script" not in out and "\\# head" in out and "\\[x\\](javascript" in out
    assert "\\|" in out and "\\*a\\*" in out and "\\_b\\_" in out and "\\`\\`\\`" in out
    assert escape.md("ex_02_S0001.py") == "ex_02_S0001.py"  # intraword underscores stay readable
    assert escape.md("12. item") == "12\\. item" and escape.md("- item") == "\\- item"


@given(st.text())
def test_a_code_block_cannot_be_closed_from_inside(text: str) -> None:
    block = escape.md_code_block(text)
    fence = block[0]
    assert block[-1] == fence and not any(line.strip().startswith(fence) for line in block[1:-1])


def test_html_and_terminal() -> None:
    assert escape.html('<a href="x">&') == "&lt;a href=&quot;x&quot;&gt;&amp;"
    shown = escape.terminal(HOSTILE)
    assert not any(ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F for char in shown)
    assert "\\x1b]0;t\\x07" in shown and "\\u202e" in shown


def test_render_escapes_parameters_not_the_template() -> None:
    catalogue = Catalogue({"k": {"ja": "`ok` {a} {n:.1f}", "en": "`ok` {a} {n:.1f}"}})
    assert escape.render(catalogue, Message("k", {"a": "<b>", "n": 2}), "en", escape.html) == "`ok` &lt;b&gt; 2.0"


def test_clean_text_replaces_surrogates_and_bounds_length() -> None:
    assert clean_text("a\ud800b").encode("utf-8") == "a\ufffdb".encode()
    assert len(clean_text("x" * 10_000, 100)) == 100
    cleaned = clean_tree({"k": ["\udcff", Message("m", {"p": "\ud800"})]})
    assert cleaned == {"k": ["\ufffd", Message("m", {"p": "\ufffd"})]}


def test_display_name_decodes_what_unzip_wrote_for_cp932() -> None:
    raw = os.fsdecode("テスト_1_assignsubmission_file_".encode("cp932"))
    assert display_name(raw) == "テスト_1_assignsubmission_file_"
    assert display_name(os.fsdecode(b"\xff\xfe")).encode("utf-8")


@pytest.mark.parametrize("name", ["S0001.json", "B" * 240 + ".json", "é" * 200])
def test_file_stems_fit_in_a_file_name(name: str) -> None:
    stem = bounded_file_stem(name)
    assert len(stem.encode()) <= 64 and (stem == name or len(name.encode()) > 64)
