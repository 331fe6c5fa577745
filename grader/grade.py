"""``grade``: a class of submissions in, ``scores.csv`` and a report per student out.

The steps are plain functions: find the files (and, in a Moodle download, the owners of files named
without an id), decode each, run its cases in a sandboxed warm worker, judge in this process, write
the student's report as soon as it is judged, and the class-wide files at the end (CSV, exports for
the LMS, the summary with copy detection). One submission's failure — unreadable, hostile, crashing —
becomes that student's result and nothing else: the loop never stops for it.

Resuming: each judged result is kept in ``DIR/.cache/`` under a key of everything that determines it
(see :mod:`grader.outputs.cache`) before its report is written, so a run stopped by Ctrl-C or a kill and
started again grades only what is left, and every output file is written whole or not at all.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path

from grader.assignment import Assignment, default_name
from grader.checks.failures import syntax_error_verdicts
from grader.copydetect.copycheck import BackgroundPairs, decoded_sources
from grader.copydetect.similarity import DEFAULT_THRESHOLD, Pair, pairs_csv, read_template
from grader.i18n import Catalogue, Message
from grader.intake.cells import cite_checks
from grader.intake.decode import decode_submission
from grader.intake.definitions import MAX_SOURCE_CHARS, TooLarge, definitions_only
from grader.intake.discover import Submission, SubmissionNames, discover_all
from grader.intake.manual import ManualSheet, read_manual, remember, unknown_students
from grader.intake.roster import RosterIndex, read_roster_entries
from grader.intake.unnamed import find_unnamed, merge
from grader.intake.untrusted import clean_message, clean_text
from grader.outputs import worksheet
from grader.outputs.atomic import remove_stale_temporaries, write_atomic
from grader.outputs.cache import ResultCache, run_key
from grader.outputs.exports import clear_exports, write_exports, write_worksheet
from grader.outputs.report import points, scores_csv, write_student
from grader.outputs.summary import summarize, to_html, to_markdown
from grader.results import CheckResult, Status, SubmissionResult, Verdict
from grader.run.engine import Plan, Runner, RunnerLost, execute, judge
from grader.run.pools import run_lanes
from grader.run.sandbox.launcher import Isolation, SandboxSettings, WorkerLost, WorkerPool


@dataclass(frozen=True)
class GradeOptions:
    path: Path
    out: Path
    data: Path
    roster: Path | None = None
    jobs: int = 2
    timeout: float | None = None
    lang: str = "ja"
    seed: int = 0
    #: The assignment file's name (``grader/assignments/<name>.toml``): ``grade --assignment``.
    assignment: str = field(default_factory=default_name)
    sandbox: bool = True  # False: --no-sandbox (the CLI refuses to grade without a sandbox otherwise)
    #: The TA's hand-given points (student_id, points, comment) and the most they can be.
    manual: Path | None = None
    manual_max: float | None = None
    #: Files for the LMS: any of EXPORTS.
    exports: tuple[str, ...] = ()
    similarity_threshold: float = DEFAULT_THRESHOLD
    #: None: the assignment file's (``--template`` replaces them).
    templates: tuple[Path, ...] | None = None
    references: tuple[Path, ...] | None = None
    #: False: grade everything again, ignoring (and then replacing) the results in DIR/.cache/.
    resume: bool = True
    #: Moodle's offline grading worksheet to fill (DIR/moodle/), with the feedback-file zip.
    worksheet: Path | None = None


#: ``progress(done, total, result, reused)``; ``reused`` is True for a result taken from the cache.
Progress = Callable[[int, int, SubmissionResult, bool], None]


#: The summary of a verdict the grader could not reach because its own code raised (engine.judge).
INTERNAL_ERROR = "check.internal_error"


def failed_everywhere(plan: Plan, summary: Message) -> list[CheckResult]:
    return [CheckResult(spec.id, False, 0.0, spec.points, Verdict.fail(summary)) for spec in plan.assignment.checks]


def grade_submission(plan: Plan, submission: Submission, runner: Runner,
                     extra_warnings: list[Message]) -> SubmissionResult:
    """Decode, execute and judge one submission; every failure ends up in its result.

    Even a bug of the grader's own (anything the steps below did not foresee, or a check that raised
    while judging) becomes this student's result with status ``error`` and a message telling the TA,
    instead of ending the run for the whole class or passing for the student's zero.
    """
    try:
        result = _grade_submission(plan, submission, runner, extra_warnings)
    except Exception as exc:
        summary = Message(INTERNAL_ERROR, {"error": f"{type(exc).__name__}: {exc}"})
        return cleaned(SubmissionResult(submission.student_id, Status.ERROR, submission.source,
                                        failed_everywhere(plan, summary), plan.assignment.max_points,
                                        [*submission.warnings, *extra_warnings, summary]))
    faults = [check.verdict.summary for check in result.checks if check.verdict.summary.key == INTERNAL_ERROR]
    if faults:
        result.status = Status.ERROR
        result.warnings.append(faults[0])
    return cleaned(result)


def cleaned(result: SubmissionResult) -> SubmissionResult:
    """The result with every string in it cleaned (:mod:`grader.intake.untrusted`): this is where what the
    student's code sent back (exception messages, names, output) enters the class's files."""
    def verdict(value: Verdict) -> Verdict:
        return replace(value, summary=clean_message(value.summary),
                       details=[clean_message(item) for item in value.details],
                       hint=None if value.hint is None else clean_message(value.hint))

    return replace(result, source=clean_text(result.source, None),
                   checks=[replace(check, verdict=verdict(check.verdict)) for check in result.checks],
                   warnings=[clean_message(warning) for warning in result.warnings],
                   output=clean_text(result.output, None))


def _grade_submission(plan: Plan, submission: Submission, runner: Runner,
                      extra_warnings: list[Message]) -> SubmissionResult:
    decoded = decode_submission(submission.path, submission.kind)
    warnings = [*submission.warnings, *decoded.warnings, *extra_warnings]
    result = SubmissionResult(submission.student_id, Status.GRADED, submission.source, [], plan.assignment.max_points,
                              warnings)
    if decoded.error is not None or decoded.source is None:
        result.checks = failed_everywhere(plan, decoded.error or Message("report.decode_error"))
        result.warnings.append(Message("report.decode_error"))
        return result
    module_name = f"{plan.assignment.file_prefix}{submission.student_id}"
    source = decoded.source
    try:  # the definitions-only fallback is extracted only if the file fails to load
        execution = execute(plan, runner, module_name, source, lambda: definitions_only(source),
                            data_beside=submission.kind == "ipynb")
    except TooLarge:  # its top-level code failed, and it is too long to take its definitions alone
        result.checks = failed_everywhere(plan, Message("report.too_large_for_definitions", {
            "chars": len(source), "limit": MAX_SOURCE_CHARS}))
        return result
    except SyntaxError as exc:
        verdicts = syntax_error_verdicts(plan.assignment.check_ids, exc)
        result.checks = cite_checks([CheckResult(spec.id, False, 0.0, spec.points, verdicts[spec.id])
                                     for spec in plan.assignment.checks], decoded.cells)
        return result
    except (RecursionError, MemoryError):  # nested too deeply for Python's parser: the file's, not ours
        result.checks = failed_everywhere(plan, Message("report.too_nested"))
        return result
    result.checks = cite_checks(judge(plan, execution), decoded.cells)
    result.output, result.output_bytes = execution.output, execution.output_bytes
    return result


def isolation_warnings(settings: SandboxSettings) -> list[Message]:
    """What every report says when submissions ran without the sandbox (louder as root)."""
    if settings.isolation is Isolation.BWRAP:
        return []
    return [Message("report.no_isolation"), *([Message("containment.no_isolation_root")] if settings.as_root else [])]


def missing_result(plan: Plan, student_id: str) -> SubmissionResult:
    return SubmissionResult(student_id, Status.MISSING, "", [CheckResult(spec.id, False, 0.0, spec.points,
                                                                  Verdict.fail(Message("report.missing")))
                                                      for spec in plan.assignment.checks],
                            plan.assignment.max_points)


def sandbox_runner(pool: WorkerPool, stopping: threading.Event | None = None) -> Runner:
    """Each job borrows a warm worker; a worker that dies is replaced, the job is reported as a crash.

    Once ``stopping`` is set (the run was interrupted) no job starts a worker again, so the threads
    still grading end at once instead of restarting the workers the interruption just killed.
    """

    def run(job: dict) -> dict:
        if stopping is not None and stopping.is_set():
            raise RunnerLost("interrupted")
        try:
            worker = pool.acquire()
        except WorkerLost as exc:
            raise RunnerLost(str(exc)) from None
        try:
            if stopping is not None and stopping.is_set():  # interrupted while waiting for the worker
                raise RunnerLost("interrupted")
            return worker.run(job)
        except WorkerLost as exc:
            raise RunnerLost(str(exc)) from None
        finally:
            pool.release(worker)

    return run


@dataclass
class ClassResult:
    results: list[SubmissionResult]
    ignored: list[str]
    warnings: list[Message]
    isolation: Isolation
    #: How many results were taken from DIR/.cache/ and how many were graded in this run.
    reused: int = 0
    graded_now: int = 0
    pairs: list[Pair] = field(default_factory=list)
    #: Files written besides scores.csv and reports/, relative to the output folder.
    written: list[str] = field(default_factory=list)


def apply_manual(result: SubmissionResult, sheet: ManualSheet | None) -> SubmissionResult:
    """The result with the TA's points for this student; the maximum grows by the manual maximum for all."""
    if sheet is None:
        return result
    return replace(result, manual=sheet.entries.get(result.student_id), manual_max=sheet.max_points,
                   max=result.max + (sheet.max_points or 0.0))


def _read_templates(paths: Sequence[Path], missing: str) -> tuple[list[str], list[Message]]:
    """The texts of the templates (or reference solutions) that copy detection subtracts; a missing one
    is named in a warning and the rest are used."""
    templates, warnings = [], []
    for path in paths:
        text = read_template(path)
        if text is None:
            warnings.append(Message(missing, {"path": str(path)}))
        else:
            templates.append(text)
    return templates, warnings


def _similarity(background: BackgroundPairs, warnings: list[Message]) -> tuple[list[Pair], dict[str, str],
                                                                             list[Message]]:
    """The pairs copy detection flagged and the sources of their students (for the summary's passages);
    a failure here costs the summary its pairs, nothing else."""
    try:
        pairs = background.pairs()
    except Exception as exc:  # a bug in copy detection must not cost the class its summary
        return [], {}, [*warnings, Message("similarity.failed", {"error": f"{type(exc).__name__}: {exc}"})]
    warnings = [*warnings, *(Message("similarity.skipped", {"student_id": student_id, "reason": clean_text(reason)})
                             for student_id, reason in background.skipped)]
    if background.timed_out:
        warnings.append(Message("similarity.timed_out", {"seconds": round(background.wait_seconds)}))
    involved = {pair.a for pair in pairs} | {pair.b for pair in pairs}
    entries = [entry for entry in background.request["submissions"] if entry["student_id"] in involved]
    return pairs, decoded_sources(entries), warnings


def grade_class(options: GradeOptions, catalogue: Catalogue, progress: Progress | None = None) -> ClassResult:
    """Grade everything under ``options.path`` and write the outputs into ``options.out``.

    Raises :class:`grader.intake.discover.DiscoveryError` (unusable PATH or roster) and
    :class:`grader.intake.manual.ManualError` (malformed manual points) before anything is graded.
    """
    assignment = Assignment.named(options.assignment)
    sheet = read_manual(options.manual, options.manual_max) if options.manual else None
    grading_sheet = worksheet.read_worksheet(options.worksheet) if options.worksheet else None
    scratch = Path(tempfile.mkdtemp(prefix="exgrader-"))
    try:
        remove_stale_temporaries(options.out)
        roster = read_roster_entries(options.roster) if options.roster else None
        entries = roster.entries if roster else None
        names = SubmissionNames(assignment.file_prefix)
        discovery = discover_all(options.path, scratch / "input",
                                 roster=RosterIndex(entries) if entries is not None else None, names=names)
        discovery = merge(discovery, find_unnamed(discovery, entries, names, assignment.defines))
        discovery.warnings[:0] = roster.warnings if roster else []
        if sheet is not None:
            remember(options.out, sheet.path, sheet.max_points)
        data = options.data if assignment.data_file else None  # an assignment without data ignores --data
        plan = Plan.create(assignment, seed=options.seed, data_file=data, timeout=options.timeout)
        settings = SandboxSettings.detect(data, allow_bwrap=options.sandbox, data_name=assignment.data_file,
                                          unavailable=assignment.unavailable_libraries)
        extra = isolation_warnings(settings)
        cache = ResultCache(options.out, run_key(plan, lang=options.lang, isolation=str(settings.isolation),
                                                 timeout=options.timeout), catalogue, options.lang)
        title = assignment.title[options.lang]
        results: list[SubmissionResult] = []
        found = {submission.student_id for submission in discovery.submissions}
        roster_ids = [entry.student_id for entry in entries or []]
        for student_id in sorted(set(roster_ids) - found):
            results.append(apply_manual(missing_result(plan, student_id), sheet))
        total = len(discovery.submissions) + len(results)
        for result in results:
            write_student(options.out, result, catalogue, options.lang, title)

        keys = {submission.student_id: cache.key(submission) for submission in discovery.submissions}
        used = {key for key in keys.values() if key is not None}
        reused: dict[str, SubmissionResult] = {}
        if options.resume:
            for submission in discovery.submissions:
                key = keys[submission.student_id]
                cached = cache.load(key, submission) if key is not None else None
                if cached is not None:
                    reused[submission.student_id] = cached

        provenance_key, tool = settings.provenance()
        sandbox_line = catalogue.text(provenance_key, options.lang, tool=tool)  # in the report's language

        def finish(submission: Submission, result: SubmissionResult, from_cache: bool) -> None:
            key = keys[submission.student_id]
            if not from_cache and key is not None and result.status != Status.ERROR:
                # a grader fault is not kept: the next run (with the grader fixed) grades it again
                cache.store(key, result, submission)  # before the report: a report never lacks its entry
            result = replace(apply_manual(result, sheet), sandbox=sandbox_line)
            write_student(options.out, result, catalogue, options.lang, title)
            results.append(result)
            if progress:
                progress(len(results), total, result, from_cache)

        templates, template_warnings = _read_templates(
            assignment.templates if options.templates is None else options.templates, "similarity.template_missing")
        references, reference_warnings = _read_templates(
            assignment.references if options.references is None else options.references,
            "similarity.reference_missing")
        template_warnings += reference_warnings
        background = BackgroundPairs(discovery.submissions, templates, options.similarity_threshold,
                                     scratch / "copycheck", references)
        try:
            pending = [submission for submission in discovery.submissions if submission.student_id not in reused]
            for submission in discovery.submissions:
                if submission.student_id in reused:
                    finish(submission, reused[submission.student_id], True)
            if pending:
                _grade_pending(plan, settings, options, scratch, pending, extra, finish)
            results.sort(key=lambda item: item.student_id)
            requested = [*options.exports, *(["worksheet"] if grading_sheet is not None else [])]
            removed = clear_exports(options.out, requested)
            write_atomic(options.out / "scores.csv",
                         scores_csv(results, assignment.check_ids, manual=sheet is not None))
            written, export_warnings = write_exports(options.out, options.exports, results, assignment, entries,
                                                    catalogue, options.lang)
            if grading_sheet is not None:
                more, sheet_warnings = write_worksheet(options.out, grading_sheet, results, assignment, entries,
                                                       catalogue, options.lang)
                written += more
                export_warnings += sheet_warnings
            if removed:
                export_warnings.insert(0, Message("outputs.removed", {"files": ", ".join(removed)}))
            pairs, sources, similarity_warnings = _similarity(background, template_warnings)
        finally:
            background.close()
        write_atomic(options.out / "similarity.csv", pairs_csv(pairs))
        notes = [*(clean_message(warning) for warning in discovery.warnings),
                 *(unknown_students(sheet, [result.student_id for result in results]) if sheet else []),
                 *(Message("manual.no_submission", {"student_id": result.student_id,
                                                    "points": points(result.manual.points)})
                   for result in results if result.status == Status.MISSING and result.manual is not None),
                 *export_warnings, *similarity_warnings]
        summary = summarize(title, assignment.check_ids, results, catalogue, options.lang, pairs, sources,
                            options.similarity_threshold, notes)
        write_atomic(options.out / "summary.html", to_html(summary, catalogue, options.lang))
        write_atomic(options.out / "summary.md", to_markdown(summary, catalogue, options.lang))
        cache.prune(used)
        return ClassResult(results, discovery.ignored, notes, settings.isolation,
                           reused=len(reused), graded_now=len(pending), pairs=pairs,
                           written=["summary.html", "summary.md", "similarity.csv", *written])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _grade_pending(plan: Plan, settings: SandboxSettings, options: GradeOptions, scratch: Path,
                   pending: Sequence[Submission], extra: list[Message],
                   finish: Callable[[Submission, SubmissionResult, bool], None]) -> None:
    """Grade in worker threads, finishing results in submission order; an interruption stops at once.

    On Ctrl-C (or a kill the CLI turns into one) nothing half-done is written: queued submissions are
    cancelled, the workers are killed, and the threads still running give up their results.
    """
    stopping = threading.Event()
    with run_lanes(settings, max(1, options.jobs), scratch / "workers") as lanes:
        runner = sandbox_runner(lanes.pool, stopping)
        try:
            futures: list[tuple[Submission, Future[SubmissionResult]]] = [
                (submission, lanes.threads.submit(grade_submission, plan, submission, runner, extra))
                for submission in pending]
            for submission, future in futures:
                finish(submission, future.result(), False)
        except BaseException:
            stopping.set()
            raise
