"""Student text made inert for the format it lands in: Markdown, HTML, a terminal (JSON is json's job).

Why: exception messages, class and function names (a ``co_name`` may hold newlines and a code fence),
printed output and folder names are chosen by students. Pasted raw into ``reports/*.md`` they became
headings, links and ``<script>`` blocks; printed raw to the TA's terminal, escape sequences set the
window title, erased lines and drew a fake progress line. Each writer escapes what a student wrote,
never the catalogue's own sentences, with one of these functions; :func:`render` renders a
:class:`~grader.i18n.Message` with its parameters escaped and its template left as written.

- :func:`md` — text inside a Markdown paragraph, list item or table cell (one line, nothing active).
- :func:`md_code_block` — a fenced block whose fence no line of the text can close.
- :func:`html` — text or an attribute value in HTML.
- :func:`terminal` — text printed to a terminal: control characters and bidi overrides shown, not obeyed.
"""

from __future__ import annotations

import html as _html
import re
from collections.abc import Callable
from numbers import Number

from grader.i18n import Catalogue, Message

Escaper = Callable[[str], str]

# ASCII punctuation that makes Markdown inline syntax (code, emphasis, links, table cells, strikethrough)
# anywhere; CommonMark lets any ASCII punctuation be escaped with a backslash.
# An ``_`` between two letters or digits can neither open nor close emphasis: left as is, so that
# ``hw_03_S0001.py`` stays readable in the raw file.
_MD_INLINE = re.compile(r"([\\`*\[\]|~]|(?<![^\W_])_|_(?![^\W_]))")
# What makes a block (heading, list, quote, setext underline) at the start of a line or list item.
_MD_BLOCK_START = re.compile(r"^([#+\-=>]|\d+[.)])")
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]")
# C0 and C1 controls and DEL (ESC sequences, BEL, backspace, carriage return), and the bidi controls
# that reorder what is displayed (a name can look like another one).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_BACKTICKS = re.compile("`+")


def _shown(match: re.Match[str]) -> str:
    """A control character as the escape a programmer would write for it."""
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _controls_shown(text: str) -> str:
    """Every control character but tabs and newlines shown as its escape (the text keeps its lines)."""
    return _CONTROL.sub(lambda match: match.group() if match.group() in "\t\n" else _shown(match), text)


def md(text: str) -> str:
    """``text`` as literal Markdown on one line: no heading, list, link, emphasis, code, table cell
    border or HTML can come out of it; ``<`` and ``&`` become entities, line breaks a visible ``⏎``."""
    text = _LINE_BREAKS.sub(" ⏎ ", str(text))
    text = _CONTROL.sub(_shown, text)
    text = _MD_INLINE.sub(r"\\\1", text.lstrip().replace("&", "&amp;").replace("<", "&lt;"))
    return _MD_BLOCK_START.sub(lambda match: match.group()[:-1] + "\\" + match.group()[-1], text)


def md_code_block(text: str, info: str = "") -> list[str]:
    """A fenced code block holding ``text`` verbatim: the fence is longer than any run of backticks in it.
    Control characters (but tabs and newlines) are shown as ``\\xNN``: a report may be ``cat`` in a terminal."""
    text = _controls_shown(str(text))
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{info}", *text.split("\n"), fence]


def html(text: str) -> str:
    """``text`` as HTML text or a quoted attribute value. Control characters but tabs and newlines (an
    ESC from printed output, a bidi override that reorders a cell) are shown as ``\\xNN``, as in Markdown."""
    return _html.escape(_controls_shown(str(text)), quote=True)


def terminal(text: str) -> str:
    """``text`` safe to print on one terminal line: every control character shown as ``\\xNN``."""
    return _CONTROL.sub(_shown, str(text))


def render(catalogue: Catalogue, message: Message, lang: str, escape: Escaper) -> str:
    """The message in ``lang`` with every parameter that is not a number escaped by ``escape``."""
    params = {key: value if isinstance(value, Number) and not isinstance(value, bool) else escape(str(value))
              for key, value in message.params.items()}
    return catalogue.text(message.key, lang, **params)


__all__ = ["html", "md", "md_code_block", "render", "terminal"]
