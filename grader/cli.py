"""``grade PATH [--assignment NAME] [--out DIR] [--roster FILE] [--data FILE] [--jobs N] [--timeout S]``
``[--lang ja|en] [--seed N]``
``[--export moodle,gradescope] [--manual FILE [--manual-max P] | --no-manual] [--similarity-threshold F]``
``[--template FILE ...] [--fresh] [--moodle-worksheet FILE]``

Thin on purpose: parse, call :func:`grader.grade.grade_class`, print progress and a summary on stderr.
Exit 0 whenever the class was graded, whatever the scores; 2 for a usage error, an unreadable PATH or
a malformed manual-points file, with a one-line message in the chosen language; 3 when the class was
graded but the grader itself failed on one submission or more (status ``error`` in scores.csv: a bug to
report, never a student's zero; rerunning grades them again); 130 when interrupted (Ctrl-C or SIGTERM),
after which running the same command again resumes.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from grader.assignment import PROJECT_ROOT, Assignment, UnknownAssignment, available, default_name
from grader.grade import ClassResult, GradeOptions, grade_class
from grader.i18n import DEFAULT_LANGUAGE, LANGUAGES, Catalogue
from grader.intake.discover import DiscoveryError
from grader.intake.manual import ManualError, forget, read_manual, remembered, render_error
from grader.outputs import escape
from grader.outputs.exports import EXPORTS
from grader.outputs.report import points
from grader.outputs.worksheet import WorksheetError, read_worksheet
from grader.results import Status, SubmissionResult
from grader.run.sandbox import launcher
from grader.run.sandbox.launcher import Isolation

USAGE_ERROR = 2
GRADER_ERROR = 3
INTERRUPTED = 130


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


def chosen_assignment(argv: Sequence[str]) -> str:
    """``--assignment NAME`` (read before parsing: the assignment's messages are part of the parser's)."""
    for index, word in enumerate(argv):
        if word == "--assignment" and index + 1 < len(argv):
            return argv[index + 1]
        if word.startswith("--assignment="):
            return word.split("=", 1)[1]
    return default_name()


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


def non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{value} < 0")
    return value


def fraction(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{value} not in (0, 1]")
    return value


def export_list(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(name.strip().lower() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in EXPORTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"{', '.join(unknown) or text!r} (choose from {', '.join(EXPORTS)})")
    return names


def build_parser(catalogue: Catalogue, lang: str, assignment: Assignment | None = None) -> Parser:
    text = lambda key: catalogue.text(key, lang)  # noqa: E731
    assignment = assignment or Assignment.default()
    parser = Parser(prog="grade", description=catalogue.text("cli.description", lang, assignment=assignment.id))
    parser.catalogue, parser.lang = catalogue, lang
    parser.add_argument("path", type=Path, help=text("cli.help_path"))
    parser.add_argument("--assignment", default=default_name(), choices=available(), metavar="NAME",
                        help=catalogue.text("cli.help_assignment", lang, default=default_name(),
                                            names=", ".join(available())))
    parser.add_argument("--out", type=Path, default=Path("results"), help=text("cli.help_out"))
    parser.add_argument("--roster", type=Path, help=text("cli.help_roster"))
    data_default: Path | str = assignment.data_default or "-"
    if isinstance(data_default, Path) and data_default.is_relative_to(PROJECT_ROOT):
        data_default = data_default.relative_to(PROJECT_ROOT)  # as the README writes it
    parser.add_argument("--data", type=Path, help=catalogue.text("cli.help_data", lang, default=data_default))
    parser.add_argument("--jobs", type=positive_int, default=max(1, min(os.cpu_count() or 1, 8)),
                        help=text("cli.help_jobs"))
    parser.add_argument("--timeout", type=positive_float, help=text("cli.help_timeout"))
    parser.add_argument("--lang", choices=LANGUAGES, default=DEFAULT_LANGUAGE, help=text("cli.help_lang"))
    parser.add_argument("--seed", type=int, default=0, help=text("cli.help_seed"))
    parser.add_argument("--export", type=export_list, default=(), help=text("tools.help_export"))
    manual = parser.add_mutually_exclusive_group()
    manual.add_argument("--manual", type=Path, help=text("tools.help_manual"))
    manual.add_argument("--no-manual", action="store_true", help=text("tools.help_no_manual"))
    parser.add_argument("--manual-max", type=non_negative_float, help=text("tools.help_manual_max"))
    parser.add_argument("--similarity-threshold", type=fraction, default=0.5, help=text("tools.help_similarity"))
    parser.add_argument("--template", type=Path, action="append", help=text("tools.help_template"))
    parser.add_argument("--fresh", action="store_true", help=text("tools.help_fresh"))
    parser.add_argument("--moodle-worksheet", type=Path, help=text("worksheet.help"))
    parser.add_argument("--no-sandbox", action="store_true", help=text("cli.help_no_sandbox"))
    return parser


def summary_lines(result: ClassResult, assignment: Assignment, catalogue: Catalogue, lang: str) -> list[str]:
    graded = [item for item in result.results if item.status == Status.GRADED]
    missing = sum(1 for item in result.results if item.status == Status.MISSING)
    lines = [catalogue.text("cli.summary_header", lang, graded=len(graded), missing=missing)]
    if graded:
        mean = sum(item.total for item in graded) / len(graded)
        lines.append(catalogue.text("cli.summary_mean", lang, mean=f"{mean:.2f}", max=points(graded[0].max)))
        width = max(len(check_id) for check_id in assignment.check_ids)
        for check_id in assignment.check_ids:
            passed = sum(1 for item in graded for check in item.checks if check.id == check_id and check.passed)
            bar = "#" * round(20 * passed / len(graded))
            lines.append(f"  {check_id:<{width}}  {passed:>4}/{len(graded):<4} {bar}")
    for ignored in result.ignored:
        lines.append(catalogue.text("cli.ignored_file", lang, source=escape.terminal(ignored),
                                    prefix=assignment.file_prefix))
    lines += [escape.render(catalogue, warning, lang, escape.terminal) for warning in result.warnings]
    if result.isolation is Isolation.NONE:
        lines.append(catalogue.text("cli.no_isolation", lang))
        if os.geteuid() == 0:
            lines.append(catalogue.text("containment.no_isolation_root", lang))
    lines.append(catalogue.text("resume.counts", lang, reused=result.reused, graded=result.graded_now))
    if result.pairs:
        lines.append(catalogue.text("similarity.cli_pairs", lang, count=len(result.pairs)))
    errors = [item.student_id for item in result.results if item.status == Status.ERROR]
    if errors:  # last, where the eye lands: these are not grades
        lines.append(catalogue.text("cli.grader_errors", lang, count=len(errors), students=", ".join(errors),
                                    code=GRADER_ERROR))
    return lines


class Interrupted(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: stop grading, keep what is written, resume on the next run."""


def _terminate(signum: int, frame: object) -> None:
    raise Interrupted()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    lang = chosen_language(argv)
    try:
        assignment = Assignment.named(chosen_assignment(argv))
    except UnknownAssignment as exc:
        catalogue = Assignment.default().catalogue()
        print(catalogue.text("cli.unknown_assignment", lang, name=escape.terminal(exc.name),
                             names=", ".join(available())), file=sys.stderr)
        return USAGE_ERROR
    catalogue = assignment.catalogue()
    args = build_parser(catalogue, lang, assignment).parse_args(argv)

    def fail(key: str, **params: object) -> int:
        print(catalogue.text(key, lang, **params), file=sys.stderr)
        return USAGE_ERROR

    if not args.path.exists():
        return fail("cli.path_missing", path=args.path)
    if args.data is None:
        args.data = assignment.data_default
    try:
        if assignment.data_file and args.data is not None:  # an assignment without data ignores --data
            assignment.read_data(args.data)
    except FileNotFoundError:
        return fail("cli.data_missing", path=args.data, name=assignment.data_file)
    except (ValueError, OSError) as exc:
        missing = getattr(exc, "missing", None)  # the reader names the columns it could not find
        if isinstance(missing, list):
            return fail("cli.data_columns", path=args.data, missing=", ".join(map(str, missing)))
        return fail("cli.data_unreadable", path=args.data, detail=str(exc))
    if args.roster and not args.roster.is_file():
        return fail("cli.roster_missing", path=args.roster)
    for template in args.template or []:
        if not template.is_file():
            return fail("tools.template_missing", path=template)
    manual, manual_max = args.manual, args.manual_max
    if args.no_manual:
        forget(args.out)
    elif manual is None and (previous := remembered(args.out)) is not None:
        manual, manual_max = previous[0], manual_max if manual_max is not None else previous[1]
        if not manual.is_file():
            return fail("manual.remembered_missing", path=manual, out=args.out)
        print(catalogue.text("manual.reused", lang, path=manual), file=sys.stderr)
    if manual is not None and not manual.is_file():
        return fail("manual.missing", path=manual)
    if manual is None and manual_max is not None:
        return fail("tools.manual_max_without_manual")
    if manual is not None:
        try:
            read_manual(manual, manual_max)  # a malformed row stops the run before anything is graded
        except ManualError as exc:
            print(render_error(exc, catalogue, lang), file=sys.stderr)
            return USAGE_ERROR
    if not args.no_sandbox and not launcher.bwrap_works():  # no sandbox, no grading: say why and what to do
        if not sys.platform.startswith("linux"):
            return fail("cli.no_sandbox_platform", system=sys.platform)
        return fail("cli.no_sandbox_namespaces")
    if args.moodle_worksheet is not None:
        if not args.moodle_worksheet.is_file():
            return fail("worksheet.missing", path=args.moodle_worksheet)
        try:
            read_worksheet(args.moodle_worksheet)  # an unusable worksheet stops the run before grading
        except WorksheetError as exc:
            print(catalogue.render(exc.message, lang), file=sys.stderr)
            return USAGE_ERROR
    if not os.environ.get("EXGRADER_QUIET"):
        print(catalogue.text("cli.starting", lang, path=args.path, out=args.out), file=sys.stderr)

    reused_mark = catalogue.text("resume.progress_reused", lang)

    def progress(done: int, total: int, result: SubmissionResult, reused: bool) -> None:
        mark = f"  {reused_mark}" if reused else ""
        score = catalogue.text("summary.status_error", lang) if result.status == Status.ERROR \
            else f"{points(result.total)}/{points(result.max)}"
        print(f"[{done}/{total}] {escape.terminal(result.student_id)}  {score}{mark}", file=sys.stderr, flush=True)

    options = GradeOptions(path=args.path, out=args.out, data=args.data, roster=args.roster, jobs=args.jobs,
                           timeout=args.timeout, lang=args.lang, seed=args.seed, manual=manual,
                           manual_max=manual_max, exports=args.export,
                           similarity_threshold=args.similarity_threshold,
                           templates=tuple(args.template) if args.template else None, assignment=assignment.id,
                           resume=not args.fresh, worksheet=args.moodle_worksheet, sandbox=not args.no_sandbox)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous_handler = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        result = grade_class(options, catalogue, progress)
    except DiscoveryError as exc:
        print(escape.render(catalogue, exc.message, lang, escape.terminal), file=sys.stderr)
        return USAGE_ERROR
    except ManualError as exc:
        print(render_error(exc, catalogue, lang), file=sys.stderr)
        return USAGE_ERROR
    except WorksheetError as exc:
        print(catalogue.render(exc.message, lang), file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print(catalogue.text("resume.interrupted", lang, out=args.out), file=sys.stderr, flush=True)
        return INTERRUPTED
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous_handler)
    for line in summary_lines(result, assignment, catalogue, lang):
        print(line, file=sys.stderr)
    print(catalogue.text("cli.written", lang, out=args.out), file=sys.stderr)
    print(catalogue.text("tools.written_extra", lang, files=", ".join(f"{args.out}/{name}" for name in result.written)),
          file=sys.stderr)
    if any(item.status == Status.ERROR for item in result.results):
        print(catalogue.text("cli.grader_errors_exit", lang, code=GRADER_ERROR), file=sys.stderr)
        return GRADER_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
