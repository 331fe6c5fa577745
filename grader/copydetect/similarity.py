"""Pairs of submissions that share more of their own code than solving the same task explains.

How: every submission becomes a stream of Python tokens (Pygments' ``PythonLexer``, which reads anything)
in which comments, docstrings and layout are dropped, every identifier becomes ``V`` and every string ``S``; renaming
variables or rewriting comments changes nothing. Consecutive ``K`` tokens are hashed (stable hashes: the
same class gives the same report on every run) and a pair's shared hashes are looked up through an
inverted index, so reordering functions only loses the few windows that span a function boundary.

What is not evidence is taken out first, because independent correct solutions of a template-driven
assignment are mostly alike:

- the template's code, and the code written in its comments and docstrings: the template's hints
  (``# self.w = rng.standard_normal((input_dim, output_dim))``) are what every student types;
- the code of the instructor's reference solutions (``reference/``, read by the grader, never given to
  students): the canonical lines of a correct answer (``self.diff = y - t``, ``return x @ self.w + self.b``)
  are written the same way by everyone who solves the task, so sharing them is not evidence either. A
  template that states formulas instead of code lines leaves them to the student; without this, two
  independent correct solutions would be flagged for agreeing on the obvious;
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

import functools
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np
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

#: what the stream leaves out: comments, docstrings and layout
_SKIPPED = (tokens.Comment, tokens.String.Doc, tokens.Text, tokens.Whitespace)


# --- the token stream ---------------------------------------------------------------------------------
def stream(source: str) -> tuple[list[str], list[int]]:
    """The normalized token texts and, in parallel, the 1-based line each starts on, from Pygments'
    ``PythonLexer``, which lexes anything (broken code, not Python at all, a notebook's magics).

    Normalized so that renaming, re-commenting and re-formatting change nothing: keywords, builtins
    (``len``, ``range``, ``self``), numbers and operators are kept; identifiers become ``V`` and a run
    of string pieces (an f-string is several) one ``S``."""
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


def code_and_hints(source: str) -> tuple[list[str], list[str]]:
    """The normalized stream of ``source`` and the text of its comments and docstring lines (without
    their ``#``): what a template tells students to type."""
    hints: list[str] = []
    for _, kind, value in PythonLexer(stripnl=False).get_tokens_unprocessed(source):
        if kind in tokens.Comment:
            hints.append(value.lstrip("#"))
        elif kind in tokens.String.Doc:
            hints.extend(line.lstrip("#") for line in value.strip("\"'rbuRBU").splitlines())
    return stream(source)[0], hints


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
    code, hints = code_and_hints(source)
    return [code, stream("\n".join(hints))[0], *(stream(hint)[0] for hint in hints)]


def template_windows(template_sources: Iterable[str], reference_sources: Iterable[str] = ()) -> frozenset[int]:
    """The hashes of every ``TEMPLATE_K`` window of the templates' material and of the reference
    solutions' code: what :func:`fingerprint` takes out of a submission as "told to write" or "the
    canonical answer". A reference's comments and docstrings are not taken: no student saw them.

    Kept for the next call with the same texts (lexing every hint line of a template is most of what
    comparing a small class costs)."""
    return _template_windows(tuple(template_sources), tuple(reference_sources))


@functools.lru_cache(maxsize=4)
def _template_windows(template_sources: tuple[str, ...], reference_sources: tuple[str, ...]) -> frozenset[int]:
    told = {value for text in template_sources for material in template_material(text)
            for value in windows(material, TEMPLATE_K)}
    return frozenset(told | {value for text in reference_sources for value in windows(stream(text)[0], TEMPLATE_K)})


_NO_HASHES = np.empty(0, dtype=np.uint64)
_NO_STARTS = np.empty(0, dtype=np.int32)


@dataclass(eq=False)
class Fingerprint:
    """One submission's token lines, which tokens are the student's own, and its counted windows.

    Compact on purpose (a class is fingerprinted before any pair is compared): numpy arrays, no token
    texts and no copy of the source.
    """

    student_id: str
    #: 1-based source line of every token
    lines: np.ndarray  # int32
    #: whether each token is the student's own (not template)
    own: np.ndarray  # bool
    own_count: int
    #: hashes of the counted windows, sorted; ``starts`` (same order) is where each window starts.
    #: A hash that occurs several times has its starts in ascending order.
    hashes: np.ndarray = field(default_factory=lambda: _NO_HASHES)  # uint64
    starts: np.ndarray = field(default_factory=lambda: _NO_STARTS)  # int32

    def starts_of(self, shared: np.ndarray) -> np.ndarray:
        """Start positions (ascending) of the counted windows whose hash is in ``shared``."""
        return np.sort(self.starts[np.isin(self.hashes, shared)])


def _window_hashes(encoded: Sequence[bytes], starts: Iterable[int], k: int) -> np.ndarray:
    """``_hash`` of the ``k`` tokens at each start, as uint64 (the same values, computed in bulk)."""
    digest = b"".join(hashlib.blake2b(b"\x1f".join(encoded[start:start + k]), digest_size=8).digest()
                      for start in starts)
    return np.frombuffer(digest, dtype=">u8").astype(np.uint64)


def fingerprint(student_id: str, source: str, template: AbstractSet[int]) -> Fingerprint:
    texts, lines = stream(source[:MAX_SOURCE_CHARS])
    count = len(texts)
    own = np.ones(count, dtype=bool)
    if count >= TEMPLATE_K:
        hit = np.fromiter((value in template for value in windows(texts, TEMPLATE_K)), dtype=bool,
                          count=count - TEMPLATE_K + 1)
        # a token is template when any of the TEMPLATE_K windows that contain it is
        covered = np.convolve(hit.astype(np.int32), np.ones(TEMPLATE_K, dtype=np.int32))[:count]
        own[covered > 0] = False
    print_ = Fingerprint(student_id, np.asarray(lines, dtype=np.int32), own, int(own.sum()))
    if count >= K:
        running = np.concatenate(([0], np.cumsum(own, dtype=np.int64)))
        counted = np.flatnonzero(running[K:] - running[:-K] >= OWN_SHARE * K).astype(np.int32)
        if counted.size:
            encoded = [text.encode() for text in texts]
            hashes = _window_hashes(encoded, counted.tolist(), K)
            order = np.lexsort((counted, hashes))
            print_.hashes, print_.starts = hashes[order], counted[order]
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


def _passages(a: Fingerprint, b: Fingerprint, shared: np.ndarray) -> tuple[Passage, ...]:
    """For the longest stretches of A made of shared windows, the stretch of B where most of them are.

    Only the ``MAX_PASSAGES`` longest stretches of A are matched in B, and each B stretch's share is
    counted with two binary searches: matching every stretch against every stretch of B was cubic in
    a crafted file (shared code cut by unique lines, as in ``bench/hostile_class.py``)."""
    in_a = np.isin(a.hashes, shared)
    a_hashes, a_starts = a.hashes[in_a], a.starts[in_a]
    in_b = np.isin(b.hashes, shared)
    b_hashes, b_starts = b.hashes[in_b], b.starts[in_b]
    longest = sorted(_runs(a_starts.tolist()), key=lambda run: (run[0] - run[1], run[0]))[:MAX_PASSAGES]
    found = []
    for first, last in longest:
        inside = np.unique(a_hashes[(a_starts >= first) & (a_starts <= last)])
        positions = np.sort(b_starts[np.isin(b_hashes, inside)])
        b_runs = np.array(_runs(positions.tolist()), dtype=np.int64).reshape(-1, 2)
        counts = np.searchsorted(positions, b_runs[:, 1], "right") - np.searchsorted(positions, b_runs[:, 0], "left")
        best = b_runs[int(np.argmax(counts))]  # the most windows; on a tie the first
        found.append(Passage(int(a.lines[first]), int(a.lines[last]), int(b.lines[best[0]]), int(b.lines[best[1]])))
    return tuple(sorted(found, key=lambda item: item.first_a))


def _own_covered(print_: Fingerprint, shared: np.ndarray) -> int:
    """How many of the student's own tokens lie in a counted window whose hash is in ``shared``."""
    starts = print_.starts_of(shared)
    if not starts.size:
        return 0
    edges = np.zeros(print_.own.size + 1, dtype=np.int32)
    np.add.at(edges, starts, 1)
    np.add.at(edges, starts + K, -1)
    return int(np.count_nonzero((np.cumsum(edges[:-1]) > 0) & print_.own))


def _shared_by_pair(prints: Sequence[Fingerprint], common_limit: float) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(i, j, hashes)`` for every pair ``i < j`` of prints holding windows no more than
    ``common_limit`` prints hold; ``hashes`` are those windows, sorted.

    Pairs are produced one first print at a time, so what is held besides the fingerprints is one
    (owner, hash) entry per distinct window of each print, not one entry per pair and window."""
    uniques = [np.unique(print_.hashes) for print_ in prints]
    values = np.concatenate([_NO_HASHES, *uniques])
    owners = np.repeat(np.arange(len(prints), dtype=np.int32), [unique.size for unique in uniques])
    del uniques
    order = np.argsort(values, kind="stable")  # owners stay ascending within a hash
    values, owners = values[order], owners[order]
    del order
    if not values.size:
        return
    group_starts = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
    sizes = np.diff(np.concatenate((group_starts, [values.size])))
    kept = (sizes >= 2) & (sizes <= common_limit)
    group_starts, sizes = group_starts[kept], sizes[kept]
    if not group_starts.size:
        return
    group_values = values[group_starts]
    # every (holder, group) of the kept groups, grouped by holder
    entries = np.repeat(group_starts, sizes) + _ragged_arange(sizes)
    entry_groups = np.repeat(np.arange(group_starts.size), sizes)
    by_owner = np.argsort(owners[entries], kind="stable")
    entry_owners, entry_groups = owners[entries][by_owner], entry_groups[by_owner]
    del entries, by_owner
    owner_bounds = np.flatnonzero(np.concatenate(([True], entry_owners[1:] != entry_owners[:-1], [True])))
    for low, high in pairwise(owner_bounds.tolist()):
        first = int(entry_owners[low])
        groups = entry_groups[low:high]
        holders = owners[np.repeat(group_starts[groups], sizes[groups]) + _ragged_arange(sizes[groups])]
        hashes = np.repeat(group_values[groups], sizes[groups])
        later = holders > first
        holders, hashes = holders[later], hashes[later]
        if not holders.size:
            continue
        order = np.lexsort((hashes, holders))
        holders, hashes = holders[order], hashes[order]
        bounds = np.flatnonzero(np.concatenate(([True], holders[1:] != holders[:-1], [True])))
        for start, stop in pairwise(bounds.tolist()):
            yield first, int(holders[start]), hashes[start:stop]


def _ragged_arange(sizes: np.ndarray) -> np.ndarray:
    """``0..size-1`` for each size, concatenated."""
    total = int(sizes.sum())
    return np.arange(total) - np.repeat(np.cumsum(sizes) - sizes, sizes)


def similar_pairs(sources: Mapping[str, str] | Iterable[tuple[str, str]], template_sources: Sequence[str],
                  threshold: float = DEFAULT_THRESHOLD, *, reference_sources: Sequence[str] = (),
                  skipped: list[tuple[str, str]] | None = None,
                  guard: Callable[[], AbstractContextManager[object]] = nullcontext) -> list[Pair]:
    """Flagged pairs, most similar first.

    ``sources`` maps student id to decoded Python source, or yields ``(student id, source)`` in id
    order: then each source is dropped once fingerprinted, and a class is held as fingerprints only
    (a few KB per student, instead of its decoded text).

    ``reference_sources`` are the instructor's solutions: their code windows count as template.

    With ``skipped``, a file whose fingerprint fails (or overruns ``guard``, e.g. a time limit) is
    left out and named there as ``(student id, reason)``: one file never turns copy detection off for
    the whole class, and a copier cannot hide behind it unnoticed.
    """
    template = template_windows(template_sources, reference_sources)
    items = ((student_id, sources[student_id]) for student_id in sorted(sources)) \
        if isinstance(sources, Mapping) else sources
    prints = []
    for student_id, source in items:
        try:
            with guard():
                prints.append(fingerprint(student_id, source, template))
        except Exception as exc:
            if skipped is None:
                raise
            skipped.append((student_id, f"{type(exc).__name__}: {exc}"[:200]))
    common_limit = max(COMMON_MIN, COMMON_SHARE * len(prints))
    pairs = []
    for first, second, shared in _shared_by_pair(prints, common_limit):
        a, b = prints[first], prints[second]
        covered_a, covered_b = _own_covered(a, shared), _own_covered(b, shared)
        smaller = min(a.own_count, b.own_count)
        shared_tokens = min(covered_a, covered_b)
        score = shared_tokens / smaller if smaller else 0.0
        if shared_tokens >= MIN_SHARED_TOKENS and score >= threshold:
            pairs.append(Pair(a.student_id, b.student_id, shared_tokens, min(1.0, score), _passages(a, b, shared)))
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


def pairs_csv(pairs: Sequence[Pair]) -> str:
    """``similarity.csv``: one row per flagged pair, highest score first as they come."""
    lines = ["student_a,student_b,score,shared_tokens"]
    lines += [f"{pair.a},{pair.b},{pair.score:.3f},{pair.shared_tokens}" for pair in pairs]
    return "\n".join(lines) + "\n"

