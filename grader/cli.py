"""``grade PATH [--out DIR] [--roster FILE] [--data FILE] [--jobs N] [--timeout S] [--lang ja|en] [--seed N]``

Thin on purpose: parse, call :func:`grader.grade.grade_class`, print progress and a summary on stderr.
Exit 0 whenever the class was graded, whatever the scores; 2 for a usage error or an unreadable PATH,
with a one-line message in the chosen language.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from grader.assignment import Assignment
from grader.discover import DiscoveryError
from grader.grade import ClassResult, GradeOptions, grade_class
from grader.i18n import DEFAULT_LANGUAGE, LANGUAGES, Catalogue
from grader.report import GRADED, SubmissionResult, points
from grader.sandbox.launcher import Isolation
from reference.data import DEFAULT_DATA_PATH, MissingColumnError, load_xt

USAGE_ERROR = 2


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line in the user's language."""

    catalogue: Catalogue
    lang: str

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, self.catalogue.text("cli.usage_error", self.lang, detail=message) + "\n")


def chosen_language(argv: Sequence[str]) -> str:
    for index, word in enumerate(argv):
        if word == "--lang" and index + 1 < len(argv) and argv[index + 1] in LANGUAGES:
            return argv[index + 1]
        if word.startswith("--lang=") and word.split("=", 1)[1] in LANGUAGES:
            return word.split("=", 1)[1]
    return DEFAULT_LANGUAGE


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} < 1")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value} <= 0")
    return value


def build_parser(catalogue: Catalogue, lang: str) -> Parser:
    text = lambda key: catalogue.text(key, lang)  # noqa: E731
    parser = Parser(prog="grade", description=text("cli.description"))
    parser.catalogue, parser.lang = catalogue, lang
    parser.add_argument("path", type=Path, help=text("cli.help_path"))
    parser.add_argument("--out", type=Path, default=Path("results"), help=text("cli.help_out"))
    parser.add_argument("--roster", type=Path, help=text("cli.help_roster"))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_PATH, help=text("cli.help_data"))
    parser.add_argument("--jobs", type=positive_int, default=max(1, min(os.cpu_count() or 1, 8)),
                        help=text("cli.help_jobs"))
    parser.add_argument("--timeout", type=positive_float, help=text("cli.help_timeout"))
    parser.add_argument("--lang", choices=LANGUAGES, default=DEFAULT_LANGUAGE, help=text("cli.help_lang"))
    parser.add_argument("--seed", type=int, default=0, help=text("cli.help_seed"))
    return parser


def summary_lines(result: ClassResult, check_ids: list[str], catalogue: Catalogue, lang: str) -> list[str]:
    graded = [item for item in result.results if item.status == GRADED]
    lines = [catalogue.text("cli.summary_header", lang, graded=len(graded),
                            missing=len(result.results) - len(graded))]
    if graded:
        mean = sum(item.total for item in graded) / len(graded)
        lines.append(catalogue.text("cli.summary_mean", lang, mean=f"{mean:.2f}", max=points(graded[0].max)))
        width = max(len(check_id) for check_id in check_ids)
        for check_id in check_ids:
            passed = sum(1 for item in graded for check in item.checks if check.id == check_id and check.passed)
            bar = "#" * round(20 * passed / len(graded))
            lines.append(f"  {check_id:<{width}}  {passed:>4}/{len(graded):<4} {bar}")
    for ignored in result.ignored:
        lines.append(catalogue.text("cli.ignored_file", lang, source=ignored))
    lines += [catalogue.render(warning, lang) for warning in result.warnings]
    if result.isolation is Isolation.NONE:
        lines.append(catalogue.text("cli.no_isolation", lang))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    lang = chosen_language(argv)
    assignment = Assignment.named("ex_02")
    catalogue = assignment.catalogue()
    args = build_parser(catalogue, lang).parse_args(argv)

    def fail(key: str, **params: object) -> int:
        print(catalogue.text(key, lang, **params), file=sys.stderr)
        return USAGE_ERROR

    if not args.path.exists():
        return fail("cli.path_missing", path=args.path)
    try:
        load_xt(args.data)
    except FileNotFoundError:
        return fail("cli.data_missing", path=args.data)
    except MissingColumnError as exc:
        return fail("cli.data_columns", path=args.data, missing=", ".join(exc.missing))
    except (ValueError, OSError) as exc:
        return fail("cli.data_unreadable", path=args.data, detail=str(exc))
    if args.roster and not args.roster.is_file():
        return fail("cli.roster_missing", path=args.roster)
    if not os.environ.get("EXGRADER_QUIET"):
        print(catalogue.text("cli.starting", lang, path=args.path, out=args.out), file=sys.stderr)

    def progress(done: int, total: int, result: SubmissionResult) -> None:
        print(f"[{done}/{total}] {result.student_id}  {points(result.total)}/{points(result.max)}",
              file=sys.stderr, flush=True)

    options = GradeOptions(path=args.path, out=args.out, data=args.data, roster=args.roster, jobs=args.jobs,
                           timeout=args.timeout, lang=args.lang, seed=args.seed)
    try:
        result = grade_class(options, catalogue, progress)
    except DiscoveryError as exc:
        print(catalogue.render(exc.message, lang), file=sys.stderr)
        return USAGE_ERROR
    for line in summary_lines(result, assignment.check_ids, catalogue, lang):
        print(line, file=sys.stderr)
    print(catalogue.text("cli.written", lang, out=args.out), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
