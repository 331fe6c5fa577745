"""End-to-end A/B of the proposals: ``grade_class`` in this process, current vs proposed, alternately.

    uv run python bench/ab_pipeline.py [--n 200] [--jobs 2] [--rounds 3] [--variants ...]

Variants (each applied as a monkeypatch for its runs only; ``grader/`` is not modified):

- ``current``: the tree as it is;
- ``small``: the five small changes of ``bench/ab.py`` — decode pre-check, top-level-only
  ``fix_missing_locations``, memoized scaling ``expected``, the job line spliced from the plan's cases
  JSON, and ``run_case`` wrappers once per case (the last one in the child: the workers get a copy of
  ``grader/sandbox`` whose ``child.py`` has the proposed ``run_case`` appended);
- ``eager``: the workers start while the plan is built (as if ``grade_class`` created the pool first
  and ``WorkerPool`` started its workers in threads at once) instead of on the first job;
- ``small+eager``: both;
- ``similarity_early``: copy detection (``grade._similarity``) computed in a background thread from the
  moment the submissions are found, instead of after the last result; ``small+similarity_early``;
- ``fingerprints``: each grading thread fingerprints its submission right after grading it, so that
  only the pairing is left after the last result; ``small+fingerprints``;
- ``similarity_process``: as ``similarity_early`` but in a separate process (no GIL contention with the
  grading threads); ``small+similarity_process``.

Each round runs every variant once, in order, on the same generated class; per variant the median wall,
time to first result and steady ms per submission are printed, with the full-marks count.
"""

from __future__ import annotations

import argparse
import inspect
import os
import shutil
import statistics
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
PROJECT = BENCH_DIR.parent
sys.path.insert(0, str(PROJECT))

import ab  # noqa: E402
from grade_class import generate  # noqa: E402

import grader.engine  # noqa: E402
from grader import decode, definitions  # noqa: E402
from grader.assignment import Assignment  # noqa: E402
from grader.checks import scaling  # noqa: E402
from grader.grade import GradeOptions, grade_class  # noqa: E402
from grader.sandbox import launcher  # noqa: E402

VARIANTS = ("current", "small", "eager", "small+eager", "similarity_early", "small+similarity_early",
            "fingerprints", "small+fingerprints", "similarity_process", "small+similarity_process")


@contextmanager
def patched(target: Any, name: str, value: Any) -> Iterator[None]:
    saved = getattr(target, name)
    setattr(target, name, value)
    try:
        yield
    finally:
        setattr(target, name, saved)


def sandbox_copy_with_proposed_run_case(folder: Path) -> Path:
    """A copy of grader/sandbox whose child.py ends with the proposed run_case (same names, rebound)."""
    target = folder / "grader" / "sandbox"
    shutil.copytree(launcher.SANDBOX_DIR, target, ignore=shutil.ignore_patterns("__pycache__"))
    source = inspect.getsource(ab.run_case_per_case_context)
    source = source.replace("def run_case_per_case_context(", "def run_case(").replace("child.", "")
    with (target / "child.py").open("a", encoding="utf-8") as handle:
        handle.write("\n\n# --- bench/ab_pipeline.py: proposed run_case (wrappers once per case) ---\n")
        handle.write(textwrap.dedent(source))
    return target


@contextmanager
def small_changes(sandbox_copy: Path) -> Iterator[None]:
    original_run = launcher.Worker.run

    def run(self: launcher.Worker, job: dict[str, Any]) -> dict[str, Any]:
        """Worker.run with the job line spliced from the plan's cases JSON (encoded once per run)."""
        if self.process is None or self.process.poll() is not None:
            self.start()
        assert self.process is not None and self.process.stdin is not None
        job = {**job, "data_dir": self.data_dir}
        margin = float(job.get("limits", {}).get("wall_seconds", 20)) + 10.0
        plan = PLAN_BY_CASES.get(id(job.get("cases")))
        try:
            line = ab.job_line_spliced(plan, job) if plan else (launcher.json.dumps(job) + "\n").encode()
            self.process.stdin.write(line)
            self.process.stdin.flush()
            return self._read_line(time.monotonic() + margin)
        except (launcher.WorkerLost, OSError) as exc:
            self.stop()
            raise launcher.WorkerLost(str(exc)) from None

    original_post_init = grader.engine.Plan.__post_init__

    def post_init(self: grader.engine.Plan) -> None:
        original_post_init(self)
        PLAN_BY_CASES[id(self.cases)] = self

    skip = set(os.environ.get("AB_SKIP", "").split(","))  # e.g. AB_SKIP=decode,judge: bisect the changes
    with ExitStack() as stack:
        if "decode" not in skip:
            stack.enter_context(patched(decode, "strip_ipython", ab.strip_ipython_fast))
        if "definitions" not in skip:
            stack.enter_context(patched(definitions.ast, "fix_missing_locations", ab.fix_top_level_locations))
        if "judge" not in skip:
            stack.enter_context(patched(scaling.Normalize, "expected", ab.memoized_expected(scaling.Normalize)))
            stack.enter_context(patched(scaling.Standardize, "expected",
                                        ab.memoized_expected(scaling.Standardize)))
        if "job_json" not in skip:
            stack.enter_context(patched(grader.engine.Plan, "__post_init__", post_init))
            stack.enter_context(patched(launcher.Worker, "run",
                                        run if _run_is_patchable(original_run) else original_run))
        if "case_wrappers" not in skip:
            stack.enter_context(patched(launcher, "SANDBOX_DIR", sandbox_copy))
        yield


PLAN_BY_CASES: dict[int, grader.engine.Plan] = {}


def _run_is_patchable(run: Callable[..., Any]) -> bool:
    """The spliced Worker.run above mirrors the launcher's; only use it if the launcher's still looks so."""
    text = inspect.getsource(run)
    return "json.dumps(job)" in text and "_read_line" in text


@contextmanager
def eager_start(jobs: int) -> Iterator[None]:
    """Start the workers in threads when the plan starts being built; the pool adopts them."""
    prestarted: list[launcher.Worker] = []
    threads: list[threading.Thread] = []
    scratch = Path(tempfile.mkdtemp(prefix="exgrader-eager-"))
    original_create = grader.engine.Plan.create.__func__  # type: ignore[attr-defined]
    original_init = launcher.WorkerPool.__init__

    def create(cls: type, *args: Any, **kwargs: Any) -> Any:
        settings = launcher.SandboxSettings.detect(Path(kwargs["data_file"]))
        for index in range(jobs):
            worker = launcher.Worker(settings, index, scratch)
            prestarted.append(worker)
            threads.append(threading.Thread(target=worker.start))
            threads[-1].start()
        return original_create(cls, *args, **kwargs)

    def init(self: launcher.WorkerPool, settings: Any, size: int, scratch_dir: Path) -> None:
        original_init(self, settings, size, scratch_dir)
        for thread in threads:
            thread.join()
        if prestarted and len(prestarted) == size:
            self._free = list(prestarted)
            self._all = list(prestarted)

    try:
        with patched(grader.engine.Plan, "create", classmethod(create)), \
                patched(launcher.WorkerPool, "__init__", init):
            yield
    finally:
        for thread in threads:
            thread.join()
        for worker in prestarted:
            worker.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def _similarity_in_process(options: Any, submissions: Any) -> Any:
    import grader.grade as grade

    return grade._similarity(options, submissions)


@contextmanager
def similarity_early(in_process: bool = False) -> Iterator[None]:
    """Copy detection computed in a background thread from the moment the submissions are found (the
    grading threads mostly wait on their workers), instead of after the last result."""
    import grader.grade as grade

    original_discover, original_similarity = grade.discover_all, grade._similarity
    pending: dict[str, Any] = {}

    def discover_all(*args: Any, **kwargs: Any) -> Any:
        discovery = original_discover(*args, **kwargs)
        pending["submissions"] = discovery.submissions
        return discovery

    def similarity(options: Any, submissions: Any) -> Any:
        thread = pending.get("thread")
        same = [item.path for item in pending.get("submissions", [])] == [item.path for item in submissions]
        if thread is None or not same:
            return original_similarity(options, submissions)
        thread.join()
        return pending["result"]

    original_create = grader.engine.Plan.create.__func__  # type: ignore[attr-defined]

    def create(cls: type, *args: Any, **kwargs: Any) -> Any:
        plan = original_create(cls, *args, **kwargs)
        if "submissions" in pending and "thread" not in pending:
            options = OPTIONS["current"]

            if in_process:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                executor = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("forkserver"))
                future = executor.submit(_similarity_in_process, options, pending["submissions"])

                def work() -> None:
                    pending["result"] = future.result()
                    executor.shutdown()
            else:
                def work() -> None:
                    pending["result"] = original_similarity(options, pending["submissions"])

            pending["thread"] = threading.Thread(target=work, name="similarity")
            pending["thread"].start()
        return plan

    with patched(grade, "discover_all", discover_all), patched(grade, "_similarity", similarity), \
            patched(grader.engine.Plan, "create", classmethod(create)):
        yield


OPTIONS: dict[str, Any] = {}


@contextmanager
def fingerprints_in_threads() -> Iterator[None]:
    """Each grading thread fingerprints its submission for copy detection right after grading it (while
    the other job's worker runs); after the last result only the pairing is left. Emulated: the
    fingerprint is computed from a second decode (costs ~0.1-0.8 ms more than a real change would),
    and ``similarity.fingerprint`` returns it when the class-wide pass asks for it."""
    import grader.grade as grade
    from grader import similarity

    original_grade, original_fingerprint = grade.grade_submission, similarity.fingerprint
    made: dict[tuple[str, str], Any] = {}
    template: dict[str, set[int]] = {}
    lock = threading.Lock()

    def template_windows() -> set[int]:
        with lock:
            if "windows" not in template:
                windows: set[int] = set()
                for path in grade.DEFAULT_TEMPLATES:
                    text = similarity.read_template(path)
                    for stream in similarity.template_material(text or ""):
                        windows.update(similarity.windows(stream, similarity.TEMPLATE_K))
                template["windows"] = windows
            return template["windows"]

    def grade_submission(plan: Any, submission: Any, runner: Any, extra: Any) -> Any:
        result = original_grade(plan, submission, runner, extra)
        decoded = decode.decode_submission(submission.path, submission.kind)
        if decoded.source is not None:
            made[(submission.student_id, decoded.source)] = original_fingerprint(
                submission.student_id, decoded.source, template_windows())
        return result

    def fingerprint(student_id: str, source: str, windows: set[int]) -> Any:
        ready = made.get((student_id, source))
        if ready is not None and windows == template.get("windows"):
            return ready
        return original_fingerprint(student_id, source, windows)

    with patched(grade, "grade_submission", grade_submission), patched(similarity, "fingerprint", fingerprint):
        yield


def run_once(variant: str, folder: Path, out: Path, jobs: int, sandbox_copy: Path) -> dict[str, float]:
    catalogue = Assignment.named("ex_02").catalogue()
    options = GradeOptions(path=folder, out=out, data=PROJECT / "data" / "advertising.csv", jobs=jobs)
    stamps: list[float] = []
    with ExitStack() as stack:
        if "small" in variant:
            stack.enter_context(small_changes(sandbox_copy))
        if "eager" in variant:
            stack.enter_context(eager_start(jobs))
        if "fingerprints" in variant:
            stack.enter_context(fingerprints_in_threads())
        if "similarity_early" in variant or "similarity_process" in variant:
            OPTIONS["current"] = options
            stack.enter_context(similarity_early(in_process="process" in variant))
        started = time.perf_counter()
        result = grade_class(options, catalogue, lambda *progress: stamps.append(time.perf_counter()))
        wall = time.perf_counter() - started
    shutil.rmtree(out, ignore_errors=True)
    return {"wall": wall, "first": stamps[0] - started,
            "steady_ms": (stamps[-1] - stamps[0]) / max(1, len(stamps) - 1) * 1000,
            "tail": started + wall - stamps[-1],
            "full": sum(1 for item in result.results if item.total == item.max)}


def main() -> int:
    parser = argparse.ArgumentParser(description="end-to-end A/B of the proposals, in-process")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="exgrader-ab-"))
    try:
        generate(root / "in", args.n)
        sandbox_copy = sandbox_copy_with_proposed_run_case(root / "sandbox-copy")
        rows: dict[str, list[dict[str, float]]] = {variant: [] for variant in args.variants}
        for round_index in range(args.rounds):
            for variant in args.variants:
                row = run_once(variant, root / "in", root / f"out-{variant}-{round_index}", args.jobs, sandbox_copy)
                rows[variant].append(row)
                print(f"round {round_index + 1} {variant:12} wall {row['wall']:.2f} s, first {row['first']:.2f} s, "
                      f"steady {row['steady_ms']:.1f} ms/submission, after last {row['tail']:.2f} s, "
                      f"full marks {row['full']}", flush=True)
        print(f"\nmedians over {args.rounds} rounds, N={args.n}, --jobs {args.jobs}")
        for variant, values in rows.items():
            med = {key: statistics.median(row[key] for row in values) for key in values[0]}
            print(f"{variant:12} wall {med['wall']:.2f} s  first result {med['first']:.2f} s  "
                  f"steady {med['steady_ms']:.1f} ms/submission  after last {med['tail']:.2f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
