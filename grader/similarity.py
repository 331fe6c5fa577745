"""Pairs of submissions that share more of their own code than solving the same task explains.

How: every submission becomes a stream of Python tokens (pygments) in which comments, docstrings and
layout are dropped, every identifier becomes ``V`` and every string ``S``; renaming variables or
rewriting comments changes nothing. Consecutive ``K`` tokens are hashed (stable hashes: the same class
gives the same report on every run) and a pair's shared hashes are looked up through an inverted
index, so reordering functions only loses the few windows that span a function boundary.

What is not evidence is taken out first, because independent correct solutions of a template-driven
assignment are mostly alike:

- the template's code, and the code written in its comments and docstrings: the template's hints
  (``# self.w = rng.standard_normal((input_dim, output_dim))``) are what every student types;
- code that more than a few students share (as MOSS does): an idiom of the class is not a copy.

A token is "template" when it lies inside any window of ``TEMPLATE_K`` tokens that also occurs in the
template material; a window of the submission counts only when enough of its tokens are the student's
own. A pair is flagged when it shares at least ``MIN_SHARED_TOKENS`` of such own tokens and those
make up at least ``threshold`` of the smaller submission's own code. The report then shows the shared
passages side by side; the judgement stays the TA's.

``copydetect`` (winnowing over pygments tokens) was considered: it hashes with Python's salted
``hash()``, so its winnowed fingerprints and scores change from run to run, and its template removal
only matches whole k-grams of template code, which misses the short hints above.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from pygments import token as tokens
from pygments.lexers.python import PythonLexer

K = 12
TEMPLATE_K = 5
#: A window counts when at least this share of its tokens is the student's own (not template).
OWN_SHARE = 0.3
MIN_SHARED_TOKENS = 40
DEFAULT_THRESHOLD = 0.5
#: A window found in more than max(COMMON_MIN, COMMON_SHARE × class size) submissions is class idiom.
COMMON_MIN = 5
COMMON_SHARE = 0.2
MAX_PASSAGES = 6
#: Sources longer than this are compared by their first part only; real solutions are a few KB.
MAX_SOURCE_CHARS = 200_000
MAX_PASSAGE_LINES = 40

_SKIPPED = (tokens.Comment, tokens.String.Doc, tokens.Text, tokens.Whitespace)


@dataclass(frozen=True)
class Token:
    text: str
    line: int  # 1-based line of the source where the token starts


def normalized_tokens(source: str) -> list[Token]:
    """Tokens that survive renaming, re-commenting and re-formatting.

    Keywords, builtins (``len``, ``range``, ``self``), numbers and operators are kept; identifiers
    become ``V`` and a run of string pieces (an f-string is several) one ``S``.
    """
    starts = [0]
    for index, char in enumerate(source):
        if char == "\n":
            starts.append(index + 1)
    result: list[Token] = []
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
        line = bisect_right(starts, offset)
        if kind in tokens.String:
            if not in_string:
                result.append(Token("S", line))
            in_string = True
            continue
        in_string = False
        if kind in tokens.Keyword or kind in tokens.Name.Builtin:
            text = value
        elif kind in tokens.Name:
            text = "V"
        else:
            text = value
        result.append(Token(text, line))
    return result


def _hash(texts: Sequence[str]) -> int:
    return int.from_bytes(hashlib.blake2b("\x1f".join(texts).encode(), digest_size=8).digest(), "big")


def windows(texts: Sequence[str], k: int) -> list[int]:
    """The hash of every run of ``k`` consecutive tokens, by start position."""
    return [_hash(texts[start:start + k]) for start in range(len(texts) - k + 1)]


def template_material(source: str) -> list[list[str]]:
    """Token streams a student is told to write: the template's code, and its comments and docstrings.

    Each comment block and each docstring line is tokenized on its own as well as joined, so both a
    one-line hint and a hint spread over several comment lines are recognised.
    """
    streams = [[token.text for token in normalized_tokens(source)]]
    hints: list[str] = []
    for _, kind, value in PythonLexer(stripnl=False).get_tokens_unprocessed(source):
        if kind in tokens.Comment:
            hints.append(value.lstrip("#"))
        elif kind in tokens.String.Doc:
            hints.extend(line.lstrip("#") for line in value.strip("\"'rbuRBU").splitlines())
    streams.append([token.text for token in normalized_tokens("\n".join(hints))])
    streams += [[token.text for token in normalized_tokens(hint)] for hint in hints]
    return streams


@dataclass
class Fingerprint:
    """One submission's tokens, which of them are the student's own, and its counted windows."""

    student_id: str
    source: str
    tokens: list[Token]
    own: list[bool]
    #: window hash -> start positions of the counted windows with that hash
    windows: dict[int, list[int]] = field(default_factory=dict)

    @property
    def own_count(self) -> int:
        return sum(self.own)


def fingerprint(student_id: str, source: str, template: set[int]) -> Fingerprint:
    stream = normalized_tokens(source[:MAX_SOURCE_CHARS])
    texts = [token.text for token in stream]
    own = [True] * len(stream)
    for start, value in enumerate(windows(texts, TEMPLATE_K)):
        if value in template:
            own[start:start + TEMPLATE_K] = [False] * TEMPLATE_K
    print_ = Fingerprint(student_id, source, stream, own)
    needed = OWN_SHARE * K
    for start, value in enumerate(windows(texts, K)):
        if sum(own[start:start + K]) >= needed:
            print_.windows.setdefault(value, []).append(start)
    return print_


@dataclass(frozen=True)
class Passage:
    """Lines ``first..last`` (1-based, inclusive) of each submission that share code."""

    first_a: int
    last_a: int
    first_b: int
    last_b: int


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    shared_tokens: int
    #: shared own tokens / own tokens of the smaller submission
    score: float
    passages: tuple[Passage, ...]


def _runs(positions: Iterable[int]) -> list[tuple[int, int]]:
    """Token ranges ``[first, last]`` covered by windows starting at ``positions``, merged when they touch."""
    runs: list[tuple[int, int]] = []
    for start in sorted(set(positions)):
        end = start + K - 1
        if runs and start <= runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], max(runs[-1][1], end))
        else:
            runs.append((start, end))
    return runs


def _passages(a: Fingerprint, b: Fingerprint, shared: set[int]) -> tuple[Passage, ...]:
    """For each stretch of A made of shared windows, the stretch of B where most of them are."""
    found = []
    for first, last in _runs(start for value in shared for start in a.windows[value]):
        inside = {value for value in shared if any(first <= start <= last for start in a.windows[value])}
        candidates = _runs(start for value in inside for start in b.windows[value])
        best = max(candidates, key=lambda run: (sum(
            1 for value in inside for start in b.windows[value] if run[0] <= start <= run[1]), -run[0]))
        found.append((last - first, Passage(a.tokens[first].line, a.tokens[last].line,
                                            b.tokens[best[0]].line, b.tokens[best[1]].line)))
    found.sort(key=lambda item: (-item[0], item[1].first_a))
    return tuple(sorted((passage for _, passage in found[:MAX_PASSAGES]), key=lambda item: item.first_a))


def _own_covered(print_: Fingerprint, shared: set[int]) -> int:
    covered = set()
    for value in shared:
        for start in print_.windows[value]:
            covered.update(index for index in range(start, start + K) if print_.own[index])
    return len(covered)


def similar_pairs(sources: Mapping[str, str], template_sources: Sequence[str],
                  threshold: float = DEFAULT_THRESHOLD) -> list[Pair]:
    """Flagged pairs, most similar first; ``sources`` maps student id to decoded Python source."""
    template: set[int] = set()
    for text in template_sources:
        for stream in template_material(text):
            template.update(windows(stream, TEMPLATE_K))
    prints = {student_id: fingerprint(student_id, sources[student_id], template) for student_id in sorted(sources)}
    holders: dict[int, list[str]] = {}
    for student_id, print_ in prints.items():
        for value in print_.windows:
            holders.setdefault(value, []).append(student_id)
    common_limit = max(COMMON_MIN, COMMON_SHARE * len(prints))
    shared_by_pair: dict[tuple[str, str], set[int]] = {}
    for value, ids in holders.items():
        if 1 < len(ids) <= common_limit:
            for pair in combinations(ids, 2):
                shared_by_pair.setdefault(pair, set()).add(value)
    pairs = []
    for (first, second), shared in shared_by_pair.items():
        a, b = prints[first], prints[second]
        covered_a, covered_b = _own_covered(a, shared), _own_covered(b, shared)
        smaller = min(a.own_count, b.own_count)
        shared_tokens = min(covered_a, covered_b)
        score = shared_tokens / smaller if smaller else 0.0
        if shared_tokens >= MIN_SHARED_TOKENS and score >= threshold:
            pairs.append(Pair(first, second, shared_tokens, min(1.0, score), _passages(a, b, shared)))
    return sorted(pairs, key=lambda pair: (-pair.score, -pair.shared_tokens, pair.a, pair.b))


def passage_text(source: str, first: int, last: int) -> str:
    """Lines ``first..last`` of ``source``, at most ``MAX_PASSAGE_LINES`` of them."""
    lines = source.split("\n")[first - 1:last]
    if len(lines) > MAX_PASSAGE_LINES:
        lines = [*lines[:MAX_PASSAGE_LINES], "…"]
    return "\n".join(lines)


def read_template(path: Path) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
