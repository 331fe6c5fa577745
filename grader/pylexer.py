"""Pygments' Python tokens, normalized for copy detection, lexed with the standard library's ``tokenize``.

Copy detection (``similarity.py``) compares streams of normalized tokens: comments, docstrings and
layout dropped, identifiers as ``V``, a run of strings as one ``S``, keywords, builtins, numbers and
operators kept. The stream was defined on Pygments' ``PythonLexer``, which lexes anything (broken code,
not Python at all) but costs ~8 ms per file in pure Python. :func:`stream_tokenize` gives the very same
stream in ~2 ms from ``tokenize``, reproducing the points where Pygments reads Python its own way (listed
in its docstring), and raises :class:`Unlike` on the rare constructs where it would not; :func:`stream`
then falls back to :func:`stream_pygments`. The tests compare both on the project's code, the standard
library and site-packages (~18,000 files) and on generated snippets.

The keyword and builtin lists are Pygments' (2.21, pinned in uv.lock); the tests flag a change.
"""

from __future__ import annotations

import io
import keyword
import re
import tokenize
from itertools import accumulate

from pygments import token as tokens
from pygments.lexers.python import PythonLexer

_SKIPPED = (tokens.Comment, tokens.String.Doc, tokens.Text, tokens.Whitespace)


def stream(source: str) -> tuple[list[str], list[int]]:
    """The normalized token texts and, in parallel, the 1-based line each starts on.

    ``tokenize`` first (a fraction of the time); Pygments, which lexes anything, for a source ``tokenize``
    rejects (broken code, not Python at all) or that holds a construct ``stream_tokenize`` does not
    reproduce Pygments' tokens for. Either way the stream is Pygments'."""
    try:
        return stream_tokenize(source)
    except Exception:  # tokenize.TokenError, IndentationError, Unlike, whatever else tokenize raises
        return stream_pygments(source)


def stream_pygments(source: str) -> tuple[list[str], list[int]]:
    """The normalized token texts and, in parallel, the 1-based line each starts on, from Pygments' tokens.

    The definition of the stream: ``stream_tokenize`` reproduces it, faster, for what it can lex."""
    texts: list[str] = []
    lines: list[int] = []
    line, scanned = 1, 0  # ``line`` is 1 + the newlines in source[:scanned]
    in_string = False
    interpolation = 0  # depth inside an f-string's {...}: part of the string
    for offset, kind, value in PythonLexer(stripnl=False, ensurenl=False).get_tokens_unprocessed(source):
        if kind in tokens.String.Interpol:
            interpolation = max(0, interpolation + value.count("{") - value.count("}"))
        if interpolation or not value.strip():
            continue
        if any(kind in skipped for skipped in _SKIPPED):
            in_string = False
            continue
        line += source.count("\n", scanned, offset)
        scanned = offset
        if kind in tokens.String:
            if not in_string:
                texts.append("S")
                lines.append(line)
            in_string = True
            continue
        in_string = False
        if kind in tokens.Keyword or kind in tokens.Name.Builtin:
            text = value
        elif kind in tokens.Name:
            text = "V"
        else:
            text = value
        texts.append(text)
        lines.append(line)
    return texts, lines


class Unlike(Exception):
    """A construct whose Pygments tokens ``stream_tokenize`` does not reproduce."""


#: kept as they are: Pygments' Keyword and Operator.Word (``def``, ``yield``… are in ``_CONTEXTUAL``)
_KEYWORDS = frozenset((
    "assert", "async", "await", "break", "continue", "del", "elif", "else", "except", "finally", "for",
    "global", "if", "lambda", "pass", "raise", "nonlocal", "return", "try", "while", "as", "with",
    "True", "False", "None", "in", "is", "and", "or", "not"))
#: Pygments' ``Name.Builtin`` and ``Name.Builtin.Pseudo`` (not ``Name.Exception``: those become ``V``)
_BUILTINS = frozenset((
    "__import__", "abs", "aiter", "all", "any", "bin", "bool", "bytearray", "breakpoint", "bytes",
    "callable", "chr", "classmethod", "compile", "complex", "delattr", "dict", "dir", "divmod", "enumerate",
    "eval", "filter", "float", "format", "frozendict", "frozenset", "getattr", "globals", "hasattr", "hash",
    "hex", "id", "input", "int", "isinstance", "issubclass", "iter", "len", "list", "locals", "map", "max",
    "memoryview", "min", "next", "object", "oct", "open", "ord", "pow", "print", "property", "range", "repr",
    "reversed", "round", "sentinel", "set", "setattr", "slice", "sorted", "staticmethod", "str", "sum",
    "super", "tuple", "type", "vars", "zip", "self", "Ellipsis", "NotImplemented", "cls"))
#: names whose token depends on what surrounds them
_CONTEXTUAL = frozenset(("def", "class", "from", "import", "yield", "match", "case", "lazy", "_"))
_LAYOUT = frozenset((tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER))
#: Python 3.12+ tokenizes an f-string (3.14+: a t-string) as pieces; they are put back together
_STRING_STARTS = {getattr(tokenize, start): getattr(tokenize, end)
                  for start, end in (("FSTRING_START", "FSTRING_END"), ("TSTRING_START", "TSTRING_END"))
                  if hasattr(tokenize, start)}
_STRING_ENDS = frozenset(_STRING_STARTS.values())

# Pygments' own patterns
_PYGMENTS_NAME = re.compile(PythonLexer.uni_name)
_PYGMENTS_NUMBER = re.compile(
    r"(\d(?:_?\d)*\.(?:\d(?:_?\d)*)?|(?:\d(?:_?\d)*)?\.\d(?:_?\d)*)([eE][+-]?\d(?:_?\d)*)?"
    r"|\d(?:_?\d)*[eE][+-]?\d(?:_?\d)*j?|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|0[xX](?:_?[a-fA-F0-9])+|\d(?:_?\d)*")
_PYGMENTS_OPERATOR = re.compile(r"!=|==|<<|>>|:=|.", re.DOTALL)
_OPERATOR_PAIRS = frozenset(("!=", "==", "<<", ">>", ":="))
_OPERATORS = frozenset(tokenize.EXACT_TOKEN_TYPES) - {"!"}
_FORMAT_FIELD = re.compile(  # '{0.name[key]!r:>10}' in a plain string: pygments' String.Interpol
    r"\{((\w+)((\.\w+)|(\[[^\]]+\]))*)?(\![sra])?(\:(.?[<>=\^])?[-+ ]?#?0?(\d+)?,?(\.\d+)?[E-GXb-gnosx%]?)?\}")
_NAMED_ESCAPE = re.compile(r"\\N\{.*?\}")
_COMMENT = re.compile(r"#.*")
_INDENTATION = re.compile(r"[ \t]*")
_SOFT_KEYWORD_FOLLOWS = re.compile(  # what may follow ``match``/``case`` for pygments to call it a keyword
    r"(?![ \t]*(?:[:,;=^&|@~)\]}]|(?:" + "|".join(k for k in keyword.kwlist if k[0].islower()) + r")\b))")
_SOFT_KEYWORD_UNDERSCORE = re.compile(r"(\s+)([^\n_]*)(_\b)")
#: a stretch before a ``case _`` that pygments lexes on its own, and where that could make a difference
_LEXED_APART = re.compile(r"""\s*(?:[rRuUbB]{0,2}(?:\"\"\"|''')|(?:match|case|lazy)\b)"""
                          r"|.*\b(?:def|class|from|import)\b")
_LAZY_IMPORT = re.compile(r"lazy(?:\s|\\\s)+(?:from|import)(?:\s|\\\s)+")
_FROM_IMPORT_END = re.compile(r"\s+(import)\b")
_IMPORT_AS = re.compile(r"\s+(as)\s+")
_IMPORT_COMMA = re.compile(r"\s*(,)\s*")
_NONE = re.compile(r"None\b")
_SPACES = re.compile(r"(?:\s|\\\s)+")
_FSTRING_TEXT = re.compile(r"[^\\{}'\"\n]+")
_FSTRING_CODE = re.compile(r"[^\\{}()\[\]'\"=!:\n]+")
_FSTRING_FIELD_END = re.compile(r"(?:=\s*)?(?:![sraf])?([}:])")
#: the string prefixes pygments knows (it reads ``t`` as ``f``), lower case
_STRING_PREFIXES = frozenset(("", "r", "u", "b", "rb", "br", "f", "t", "rf", "fr", "rt", "tr"))


def stream_tokenize(source: str, hints: list[str] | None = None) -> tuple[list[str], list[int]]:
    """``stream_pygments(source)``, from the standard library's ``tokenize``: ~2 ms instead of ~9 ms for a
    submission (Python 3.11), Pygments being the largest per-submission cost of copy detection.

    Why the same stream and not merely a similar one: template windows must match submission windows
    whichever lexer read each, and a class must give the same pairs as before. So this reproduces how
    Pygments 2.21's ``PythonLexer`` reads Python, quirks included:

    - a triple-quoted string (prefix ``r``, ``u``, ``b`` or none) that begins a line is a docstring
      wherever it is (inside brackets too), and ends at the first closing triple quote, escaped or not;
      its prefix is a string token of its own;
    - a backslash line continuation ends a run of strings, a line break does not;
    - after ``from``/``import`` and a space, dots and names (builtins, ``self``) are module names
      (``V``) up to ``import``/``as``/a comma; ``from`` with no space after (``from.x``) is a name;
    - ``yield from`` with one space is one token; the name after ``def``/``class`` is ``V``, builtin or
      not; builtins (``len``, ``self``, ``cls``…) are kept unless right after a dot;
    - ``@name`` (no space) is one name, decorator or matrix product alike;
    - ``match``/``case`` are keywords only at the start of a line and not followed by an operator; the
      first ``_`` of such a line is then a keyword if a word boundary follows it;
    - operators are split except ``!= == << >> :=`` (``->`` is ``-`` ``>``, ``**=`` ``*`` ``*`` ``=``);
    - an imaginary number is a number and a name (``1j`` is ``1`` ``j``);
    - what is inside an f-string's replacement fields is skipped by counting Pygments' ``{``/``}`` tokens.

    Raises ``Unlike`` for what it does not reproduce, for ``stream`` to lex with Pygments instead
    (``test_similarity.py`` lists examples): characters ``tokenize`` does not know (ERRORTOKEN), a
    carriage return without a line feed, ``def``/``class`` followed by a line continuation, an import
    whose Pygments states end in the indentation of a later line, a soft-keyword line whose ``_`` is not
    the wildcard name, ``@`` or ``def`` followed by a prefixed string, operators Pygments joins
    across tokens (``<==``), string prefixes Python 3.11 does not know (``t''``), an escaped closing
    triple quote in a docstring or raw string, a ``'{a[...]}'`` format field or ``\\N{...}`` escape read
    across the closing quote, a CRLF line continuation inside a string, an f-string whose fields hold
    backslashes, braces in nested strings or an unbalanced ``}}``, and numbers Pygments splits otherwise
    (``0123``, ``1jif``, ``...5``). ``tokenize`` itself raises for unterminated strings and brackets and
    for inconsistent dedents.

    With ``hints``, the comments and docstrings are appended to it as ``template_material`` needs them.
    """
    if "\r" in source and source.count("\r") != source.count("\r\n"):
        # pygments and Python 3.11's tokenize see a carriage return as a space, 3.12's as a line break
        raise Unlike("a carriage return without a line feed")
    toks = list(tokenize.generate_tokens(io.StringIO(source).readline))
    starts = [0, 0, *accumulate(len(line) + 1 for line in source.split("\n"))]  # offset of each 1-based row
    if _STRING_STARTS:
        toks = _join_string_pieces(toks, source, starts)
    texts: list[str] = []
    lines: list[int] = []
    emit_text, emit_line = texts.append, lines.append
    in_string = False
    string_end = 0  # offset where the last string of the current run ends
    keyword_underscores: set[int] = set()
    i, count = 0, len(toks)
    while i < count:
        kind, text, (row, col), (end_row, end_col), _ = toks[i]
        i += 1
        if kind == tokenize.NAME:
            if text in _CONTEXTUAL:
                at = starts[row] + col
                stop = at + len(text)
                if text in ("def", "class", "from", "import"):
                    spaces = _SPACES.match(source, stop)
                    if not spaces:
                        text = "V"  # pygments wants a space after them, or it lexes a name
                    elif text in ("def", "class"):
                        if "\n" in spaces.group():  # pygments' next token would not start its line
                            raise Unlike(f"{text} then a line break")
                        emit_text(text)
                        emit_line(row)
                        in_string = False
                        if toks[i].type == tokenize.NAME:  # pygments' funcname/classname state
                            _check_name(toks[i].string)
                            emit_text("V")
                            emit_line(row)
                            i += 1
                        elif text == "class" or _has_prefix(toks[i]):
                            raise Unlike(f"{text} without a name")  # or a string prefix read as one
                        continue
                    else:
                        emit_text(text)
                        emit_line(row)
                        in_string = False
                        lexed, end = _import_states(source, spaces.end(), text == "from")
                        line_start = source.rfind("\n", stop, end) + 1
                        if line_start and line_start < end and source[line_start:end].isspace():
                            # the import states took the line break and indentation before ``end``: pygments
                            # lexes on from within a line, where a docstring or ``match`` is none
                            raise Unlike("an import pygments ends in the indentation of a line")
                        while i < count:
                            kind, text, (row, col), _, _ = toks[i]
                            at = starts[row] + col
                            if at >= end:
                                break
                            i += 1
                            if kind == tokenize.OP or kind == tokenize.NAME:
                                for offset in (range(at, at + len(text)) if kind == tokenize.OP else (at,)):
                                    token, token_end = lexed.get(offset, (None, None))
                                    if token is None or (kind == tokenize.NAME and token_end != at + len(text)):
                                        raise Unlike("an import pygments splits otherwise")
                                    emit_text(token)
                                    emit_line(row)
                            elif kind not in _LAYOUT:
                                raise Unlike("an import pygments ends elsewhere")
                        continue
                elif text == "yield":
                    following = toks[i]
                    if (following.string == "from" and following.type == tokenize.NAME
                            and following.start == (row, end_col + 1) and source[stop] == " "):
                        text = "yield from"
                        i += 1
                elif text in ("match", "case"):
                    if (_INDENTATION.fullmatch(source, starts[row], at)
                            and _SOFT_KEYWORD_FOLLOWS.match(source, stop)):
                        position = stop
                        while underscore := _SOFT_KEYWORD_UNDERSCORE.match(source, position):
                            if "\n" in underscore.group(1) or _LEXED_APART.match(underscore.group(2)):
                                raise Unlike("a soft keyword line pygments lexes apart")
                            keyword_underscores.add(underscore.start(3))
                            position = underscore.end()
                    else:
                        text = "V"
                elif text == "lazy":
                    if col or not _LAZY_IMPORT.match(source, at):
                        text = "V"
                elif at in keyword_underscores:  # "_"
                    keyword_underscores.discard(at)
                else:
                    text = "V"
            elif text in _KEYWORDS:
                pass
            elif text in _BUILTINS:
                at = starts[row] + col
                if at and source[at - 1] == ".":
                    text = "V"
            else:
                if not text.isascii():
                    _check_name(text)
                text = "V"
            emit_text(text)
            emit_line(row)
            in_string = False
        elif kind == tokenize.OP:
            if text not in _OPERATORS:
                raise Unlike("an operator pygments does not know")  # Python 3.12+ tokenize passes '$', '!'
            if text == "@":
                following = toks[i]
                if following.start == (end_row, end_col) and (
                        following.type == tokenize.NAME or _has_prefix(following)):
                    if following.type != tokenize.NAME:
                        raise Unlike("a string prefix pygments reads as a decorator")
                    _check_name(following.string)
                    text = "V"  # pygments' Name.Decorator, also for a matrix product without a space
                    i += 1
            elif text[0] in "=<>" and i >= 2:
                before = toks[i - 2]
                if (before.type == tokenize.OP and before.end == (row, col)
                        and before.string[-1] + text[0] in _OPERATOR_PAIRS):
                    raise Unlike("operators pygments joins")
            if len(text) > 1:
                for piece in _PYGMENTS_OPERATOR.findall(text):
                    emit_text(piece)
                    emit_line(row)
            else:
                emit_text(text)
                emit_line(row)
            in_string = False
        elif kind == tokenize.STRING:
            at = starts[row] + col
            end = starts[end_row] + end_col
            text = source[at:end]  # Python 3.12+ gives a CRLF in a string as a line feed
            quote_at = 0
            while text[quote_at] not in "'\"":
                quote_at += 1
            prefix = text[:quote_at].lower()
            quote = text[quote_at]
            triple = text.startswith(quote * 3, quote_at)
            if i >= 2:
                before = toks[i - 2]
                if (before.type == tokenize.NAME and before.end == (row, col) and len(before.string) <= 2
                        and set(before.string.lower()) <= set("rubft")):
                    raise Unlike("a string prefix tokenize does not know")
            if in_string and "\\" in source[string_end:at]:
                in_string = False  # pygments' Text token for a line continuation
            formatted = "f" in prefix or "t" in prefix
            if triple and not formatted and (not col or source[at - col:at].isspace()):
                # pygments' String.Doc: any r/u/b triple-quoted string that begins a line
                if text.find(quote * 3, quote_at + 3) != len(text) - 3:
                    raise Unlike("a docstring with an escaped closing quote")
                if prefix and not in_string:  # the prefix is a String.Affix token
                    emit_text("S")
                    emit_line(row)
                in_string = False
                if hints is not None:
                    hints.extend(line.lstrip("#") for line in text[quote_at:].strip("\"'rbuRBU").splitlines())
                continue
            if formatted:
                _check_fstring(text, quote_at, "r" in prefix)
            else:
                _check_string(source, text, at, end, quote_at, prefix)
            if not in_string:
                emit_text("S")
                emit_line(row)
                in_string = True
            string_end = end
        elif kind == tokenize.NUMBER:
            at = starts[row] + col
            stop = at + len(text)
            number = _PYGMENTS_NUMBER.match(source, at)
            if text[0] != "." and at and source[at - 1] == ".":
                raise Unlike("a number after dots")
            if number.end() == stop:
                emit_text(text)
                emit_line(row)
            elif number.end() == stop - 1 and text[-1] in "jJ" and not (
                    toks[i].type in (tokenize.NAME, tokenize.NUMBER) and toks[i].start == (end_row, end_col)):
                emit_text(text[:-1])
                emit_line(row)
                emit_text("V")
                emit_line(row)
            else:
                raise Unlike("a number pygments splits otherwise")
            in_string = False
        elif kind == tokenize.COMMENT:
            in_string = False
            if hints is not None:  # pygments' comment runs to the line feed (with a CRLF's \r)
                hints.append(_COMMENT.match(source, starts[row] + col).group().lstrip("#"))
        elif kind not in _LAYOUT or (kind == tokenize.NL and text.strip()):
            raise Unlike(f"a {tokenize.tok_name[kind]} token")  # ERRORTOKEN; NL hides what follows a \r
    if keyword_underscores:
        raise Unlike("a soft keyword's '_' that is not a name")
    return texts, lines


def _join_string_pieces(toks: list[tokenize.TokenInfo], source: str, starts: list[int]) -> list[tokenize.TokenInfo]:
    """One STRING token for each f-string (t-string), as Python 3.11 gives it, from 3.12's pieces."""
    if not any(tok.type in _STRING_STARTS for tok in toks):
        return toks
    joined = []
    i = 0
    while i < len(toks):
        first = toks[i]
        if first.type not in _STRING_STARTS:
            joined.append(first)
            i += 1
            continue
        depth = 0
        while True:
            last = toks[i]
            i += 1
            if last.type in _STRING_STARTS:
                depth += 1
            elif last.type in _STRING_ENDS:
                depth -= 1
                if not depth:
                    break
        (row, col), (end_row, end_col) = first.start, last.end
        text = source[starts[row] + col:starts[end_row] + end_col]
        joined.append(tokenize.TokenInfo(tokenize.STRING, text, first.start, last.end, first.line))
    return joined


def _has_prefix(token: tokenize.TokenInfo) -> bool:
    """Whether ``token`` is a string with a prefix (which pygments can read as a name)."""
    return token.type == tokenize.STRING and token.string[0] not in "'\""


def _check_name(name: str) -> None:
    if not name.isascii() and not _PYGMENTS_NAME.fullmatch(name):
        raise Unlike("a name pygments reads otherwise")


def _import_states(source: str, position: int, after_from: bool) -> tuple[dict[int, tuple[str, int]], int]:
    """What pygments' ``fromimport`` or ``import`` state lexes from ``position``: {offset: (token text, end)}
    and the offset where the state ends (a name after the ``import`` of ``from x import`` is back in root)."""
    lexed: dict[int, tuple[str, int]] = {}
    while True:
        if after_from:
            end = _FROM_IMPORT_END.match(source, position)
            if end:
                lexed[end.start(1)] = ("import", end.end())
                return lexed, end.end()
            if _NONE.match(source, position):
                lexed[position] = ("None", position + 4)
                return lexed, position + 4
        else:
            separator = _IMPORT_AS.match(source, position) or _IMPORT_COMMA.match(source, position)
            if separator:
                lexed[separator.start(1)] = (separator.group(1), separator.end(1))
                position = separator.end()
                continue
        if source.startswith(".", position):
            lexed[position] = ("V", position + 1)
            position += 1
            continue
        name = _PYGMENTS_NAME.match(source, position)
        if not name:
            return lexed, position
        lexed[position] = ("V", name.end())
        position = name.end()


def _check_string(source: str, text: str, at: int, end: int, quote_at: int, prefix: str) -> None:
    """Raise unless pygments ends this (not formatted, not doc) string where tokenize does."""
    quote = text[quote_at]
    closing = 3 if text.startswith(quote * 3, quote_at) else 1
    if closing == 1:
        if "\r" in text:
            raise Unlike("a line continuation with CRLF in a string")
    elif "r" in prefix and text.find(quote * 3, quote_at + 3) != len(text) - 3:
        raise Unlike("an escaped closing quote in a raw string")
    body_end = end - closing
    position = text.find("{")
    while position >= 0:
        field = _FORMAT_FIELD.match(source, at + position)
        if field and (field.end() > body_end or field.group().count("{") != field.group().count("}")):
            raise Unlike("a format field pygments reads across the string")
        position = text.find("{", position + 1)
    if "r" not in prefix and "b" not in prefix:
        position = text.find("\\N{")
        while position >= 0:
            escape = _NAMED_ESCAPE.match(source, at + position)
            if escape and escape.end() > body_end:
                raise Unlike("a named escape pygments reads across the string")
            position = text.find("\\N{", position + 1)


def _check_fstring(text: str, quote_at: int, raw: bool) -> None:
    """Raise unless pygments ends this f-string where tokenize does, with its replacement fields closed.

    ``stream_pygments`` skips what lies inside a replacement field by counting the ``{`` and ``}``
    tokens that open and close fields; after the string that count must be back to zero."""
    end, depth = _fstring_end(text, quote_at, raw, 0)
    if end != len(text) or depth:
        raise Unlike("an f-string pygments ends elsewhere")


def _fstring_end(text: str, quote_at: int, raw: bool, depth: int) -> tuple[int, int]:
    """Where pygments ends the f-string whose quote is at ``quote_at``, and its count of open fields
    then (``depth`` before): its states for the literal text, replacement fields and brackets."""
    quote = text[quote_at]
    closing = quote * 3 if text.startswith(quote * 3, quote_at) else quote
    triple = len(closing) == 3
    position, length = quote_at + len(closing), len(text)
    while position < length:
        literal = _FSTRING_TEXT.match(text, position)
        if literal:
            position = literal.end()
            if position >= length:
                break
        char = text[position]
        if char == "{":
            if text.startswith("{{", position):
                position += 2
            else:
                position, depth = _fstring_field(text, position + 1, triple, depth + 1)
        elif char == "}":
            if text.startswith("}}", position):
                position += 2
            else:
                depth = max(0, depth - 1)
                position += 1
        elif char == "\\":
            following = text[position + 1:position + 2]
            if raw:
                position += 2 if not triple and following in (quote, "\\", "\n") else 1
            elif following and following in "\\abfnrtv\"'\n":
                position += 2
            elif text.startswith("\\N{", position):
                escape = _NAMED_ESCAPE.match(text, position)
                if not escape:
                    raise Unlike("a named escape pygments may read across the string")
                position = escape.end()
            else:
                position += 1
        elif char == "\n":
            if not triple:
                raise Unlike("a line break in a one-line f-string")
            position += 1
        elif text.startswith(closing, position):
            return position + len(closing), depth
        else:
            position += 1
    raise Unlike("an f-string pygments does not end")


def _fstring_field(text: str, position: int, triple: bool, depth: int) -> tuple[int, int]:
    """Where pygments' replacement field state from ``position`` ends (with ``}``, or with the ``:`` of a
    format spec, which is literal text again), and the count of open fields then."""
    brackets = 0
    length = len(text)
    while position < length:
        code = _FSTRING_CODE.match(text, position)
        if code:
            position = code.end()
            if position >= length:
                break
        char = text[position]
        if char in "=!:" or (char == "}" and not brackets):
            end = None if brackets else _FSTRING_FIELD_END.match(text, position)
            if end:
                return end.end(), depth - (end.group(1) == "}")
            position += 1
        elif char in "([{":
            brackets += 1
            position += 1
        elif char in ")]}":
            brackets = max(0, brackets - 1)
            position += 1
        elif char in "'\"":
            start = position
            while start and (text[start - 1].isalnum() or text[start - 1] == "_"):
                start -= 1
            prefix = text[start:position].lower()
            if prefix not in _STRING_PREFIXES:
                raise Unlike("a name and a string in an f-string")
            if "f" in prefix or "t" in prefix:
                position, depth = _fstring_end(text, position, "r" in prefix, depth)
                continue
            closing = char * 3 if text.startswith(char * 3, position) else char
            end = text.find(closing, position + len(closing))
            body = text[position + len(closing):end]
            if end < 0 or "\\" in body or "{" in body or "}" in body or (len(closing) == 1 and "\n" in body):
                raise Unlike("a string in an f-string pygments may read otherwise")
            position = end + len(closing)
        elif char == "\n" and triple:
            position += 1
        else:  # a backslash, or a line break in a one-line f-string
            raise Unlike("an f-string pygments may read otherwise")
    raise Unlike("an f-string field pygments does not end")


def code_and_hints(source: str) -> tuple[list[str], list[str]]:
    """The normalized stream of ``source`` and the text of its comments and docstring lines (without
    their ``#``): what a template tells students to type."""
    hints: list[str] = []
    try:
        return stream_tokenize(source, hints)[0], hints
    except Exception:  # as in stream(): Pygments reads anything
        hints = []
        for _, kind, value in PythonLexer(stripnl=False).get_tokens_unprocessed(source):
            if kind in tokens.Comment:
                hints.append(value.lstrip("#"))
            elif kind in tokens.String.Doc:
                hints.extend(line.lstrip("#") for line in value.strip("\"'rbuRBU").splitlines())
        return stream_pygments(source)[0], hints
