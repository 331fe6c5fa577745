"""What lexing a submission for copy detection costs: the tokenize lexer, Pygments, and ``fingerprint()``.

    uv run python bench/lexer_micro.py [--rounds 7]

Over the submissions of ``tests/fixtures/solutions`` and ``examples/class`` (decoded as the grader decodes
them; ``uv run python examples/make_class.py`` makes the class), in milliseconds per file, the best
round of ``--rounds`` (rounds interleave the variants, so a noisy machine hits them alike):

- ``tokenize lexer``: ``pylexer.stream_tokenize``, on the files it lexes;
- ``pygments lexer``: ``pylexer.stream_pygments`` (what ``pylexer.stream`` was before);
- ``pylexer.stream``: the tokenize lexer, Pygments for the files it hands over (reported);
- ``fingerprint()``: one submission's fingerprint against the default templates' material, as
  ``similar_pairs`` computes it, with ``pylexer.stream`` as it is and with Pygments only.

Also checks that both lexers give the same stream for every file the tokenize lexer takes.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from grader import pylexer, similarity  # noqa: E402
from grader.decode import decode_submission  # noqa: E402
from grader.grade import DEFAULT_TEMPLATES  # noqa: E402


def corpus() -> dict[str, str]:
    files = sorted((PROJECT / "tests" / "fixtures" / "solutions").glob("*.py"))
    files += sorted(path for path in (PROJECT / "examples" / "class").rglob("*") if path.is_file())
    sources = {}
    for path in files:
        decoded = decode_submission(path, path.suffix.lstrip("."))
        if decoded.source is not None:
            sources[str(path.relative_to(PROJECT))] = decoded.source
    return sources


def per_file(function: Callable[[str], object], sources: list[str]) -> float:
    start = time.perf_counter()
    for text in sources:
        function(text)
    return (time.perf_counter() - start) / len(sources) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if not (PROJECT / "examples" / "class").is_dir():
        print("examples/class is missing: uv run python examples/make_class.py", file=sys.stderr)
    named = corpus()
    taken, handed_over = {}, []
    for name, text in named.items():
        try:
            taken[name] = pylexer.stream_tokenize(text)
        except Exception as error:  # reported: stream() would hand these to Pygments
            handed_over.append(f"{name} ({type(error).__name__}: {error})")
    different = [name for name, stream in taken.items() if stream != pylexer.stream_pygments(named[name])]
    print(f"{len(named)} files ({sum(map(len, named.values())) // len(named)} characters on average); "
          f"tokenize lexer takes {len(taken)}, hands {len(handed_over)} to Pygments; "
          f"streams that differ: {len(different)}")
    for line in handed_over + [f"DIFFERENT: {name}" for name in different]:
        print("   ", line)

    template = similarity.template_windows(path.read_text(encoding="utf-8") for path in DEFAULT_TEMPLATES)
    sources = list(named.values())
    lexable = [named[name] for name in taken]

    def fingerprint_all(text: str) -> object:
        return similarity.fingerprint("x", text, template)

    def fingerprint_pygments(text: str) -> object:
        original = similarity.stream
        similarity.stream = pylexer.stream_pygments  # fingerprint() looks it up in similarity's namespace
        try:
            return similarity.fingerprint("x", text, template)
        finally:
            similarity.stream = original

    variants: dict[str, tuple[Callable[[str], object], list[str]]] = {
        "tokenize lexer": (pylexer.stream_tokenize, lexable),
        "pygments lexer": (pylexer.stream_pygments, sources),
        "stream": (pylexer.stream, sources),
        "fingerprint() with stream": (fingerprint_all, sources),
        "fingerprint() with pygments": (fingerprint_pygments, sources),
    }
    best = {name: float("inf") for name in variants}
    for _ in range(args.rounds):
        for name, (function, texts) in variants.items():
            best[name] = min(best[name], per_file(function, texts))
    print(f"ms per file, best of {args.rounds} rounds:")
    for name, value in best.items():
        print(f"  {name:30s} {value:6.2f}")


if __name__ == "__main__":
    main()
