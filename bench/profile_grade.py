"""Where the grader's time goes: ``grade_class`` run in this process with timers around each step.

    uv run python bench/profile_grade.py [--n 200] [--jobs 2]

Nothing in ``grader/`` is changed: the timers are wrappers installed on module attributes for the
duration of the run (the engine and ``grade_class`` look these names up at call time). The sandbox
is the real one (bubblewrap when it works). Per job, the time a grading thread spends in
``Worker.run`` (A) is split with the worker's own answer: ``seconds`` is fork → child reaped in the
zygote (B), and the child reports its loading and per-case seconds (C). So:

- A − B: the pipe round trip (grader ``json.dumps`` of the job, zygote ``json.loads``, the zygote's
  sweep and wipe after the child, zygote ``json.dumps`` of the answer, grader ``json.loads``);
- B − C: fork, the child's set-up (privileges, limits, layout, seeding), its exit and reaping;
- C: loading the file and running the 80 cases (student code plus protocol encode/decode).

Times measured inside grading threads are wall times, so with ``--jobs 2`` they include waiting for
the GIL and for the other job's CPU; ``--jobs 1`` gives the uncontended cost.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
PROJECT = BENCH_DIR.parent
sys.path.insert(0, str(PROJECT))

from grade_class import generate  # noqa: E402

import grader.grade  # noqa: E402
import grader.run.engine  # noqa: E402
from grader.assignment import Assignment  # noqa: E402
from grader.grade import GradeOptions, grade_class  # noqa: E402
from grader.run.sandbox import launcher  # noqa: E402

TOTALS: dict[str, float] = defaultdict(float)
COUNTS: dict[str, int] = defaultdict(int)
LOCK = threading.Lock()
LOCAL = threading.local()


def add(name: str, seconds: float, count: int = 1) -> None:
    with LOCK:
        TOTALS[name] += seconds
        COUNTS[name] += count


def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            add(name, time.perf_counter() - started)
    return wrapper


class TimedJson:
    """Stands in for the ``json`` module inside ``launcher``: times the job encoding and answer decoding."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.JSONDecodeError = json.JSONDecodeError

    def dumps(self, *args: Any, **kwargs: Any) -> str:
        return timed(f"{self.prefix}json.dumps", json.dumps)(*args, **kwargs)

    def loads(self, *args: Any, **kwargs: Any) -> Any:
        return timed(f"{self.prefix}json.loads", json.loads)(*args, **kwargs)


def install() -> None:
    grade, engine = grader.grade, grader.run.engine
    for name in ("decode_submission", "definitions_only", "judge", "write_student", "scores_csv", "discover_all",
                 "_similarity", "summarize", "to_html", "to_markdown", "write_exports", "run_key"):
        if hasattr(grade, name):  # the class tools (cache, similarity, summary) exist only in newer trees
            setattr(grade, name, timed(f"grade.{name}", getattr(grade, name)))
    if hasattr(grade, "ResultCache"):
        for name in ("key", "load", "store", "prune"):
            setattr(grade.ResultCache, name, timed(f"ResultCache.{name}", getattr(grade.ResultCache, name)))
    for name in ("_parse_lines", "_decode_outputs"):
        setattr(engine, name, timed(f"engine.{name}", getattr(engine, name)))
    original_create = engine.Plan.create.__func__  # type: ignore[attr-defined]
    engine.Plan.create = classmethod(lambda cls, *a, **k: timed("Plan.create", original_create)(cls, *a, **k))
    original_detect = launcher.SandboxSettings.detect.__func__  # type: ignore[attr-defined]
    launcher.SandboxSettings.detect = classmethod(
        lambda cls, *a, **k: timed("SandboxSettings.detect (bwrap probe)", original_detect)(cls, *a, **k))
    original_start = launcher.Worker.start

    def start(self: launcher.Worker) -> None:
        started = time.perf_counter()
        try:
            original_start(self)
        finally:
            elapsed = time.perf_counter() - started
            add("Worker.start (bwrap + zygote preload)", elapsed)
            LOCAL.started = getattr(LOCAL, "started", 0.0) + elapsed

    launcher.Worker.start = start  # type: ignore[method-assign]
    launcher.json = TimedJson("launcher.")  # type: ignore[attr-defined]
    original_job = engine.Plan.job
    engine.Plan.job = timed("Plan.job", original_job)  # type: ignore[method-assign]
    original_execute = grade.execute
    grade.execute = timed("engine.execute (all)", original_execute)

    original_run = launcher.Worker.run

    def run(self: launcher.Worker, job: dict[str, Any]) -> dict[str, Any]:
        LOCAL.started = 0.0
        started = time.perf_counter()
        answer = original_run(self, job)
        a = time.perf_counter() - started - LOCAL.started  # a lazy worker start is counted apart
        b = float(answer.get("seconds", 0.0))
        c = 0.0
        for line in answer.get("results", []):
            parsed = json.loads(line)
            if "load" in parsed:
                c += float(parsed["load"].get("seconds", 0.0) or 0.0)
            elif "case" in parsed:
                c += float(parsed.get("seconds", 0.0) or 0.0)
        add("job A: Worker.run", a)
        add("job A-B: pipe, JSON, sweep, wipe", a - b)
        add("job B-C: fork, child set-up, exit, reap", b - c)
        add("job C: load + cases in child", c)
        add("job bytes in", len(json.dumps(job)), 1)
        add("job bytes out", sum(len(line) for line in answer.get("results", [])), 1)
        return answer

    launcher.Worker.run = run  # type: ignore[method-assign]


def main() -> int:
    parser = argparse.ArgumentParser(description="time each step of grade_class in-process")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="exgrader-profile-"))
    try:
        generate(root / "in", args.n)
        install()
        catalogue = Assignment.named("ex_02").catalogue()
        options = GradeOptions(path=root / "in", out=root / "out", data=PROJECT / "data" / "advertising.csv",
                               jobs=args.jobs)
        stamps: list[float] = []
        started = time.perf_counter()
        result = grade_class(options, catalogue, lambda *progress: stamps.append(time.perf_counter()))
        wall = time.perf_counter() - started
        full = sum(1 for item in result.results if item.total == item.max)
        print(f"N={args.n} jobs={args.jobs} isolation={result.isolation} wall {wall:.2f} s, full marks {full}; "
              f"first result at {stamps[0] - started:.2f} s, steady "
              f"{(stamps[-1] - stamps[0]) / max(1, len(stamps) - 1) * 1000:.1f} ms/submission, "
              f"{started + wall - stamps[-1]:.2f} s after the last result")
        print(f"{'step':48} {'total s':>9} {'calls':>6} {'ms/call':>9} {'ms/submission':>14}")
        for name in sorted(TOTALS, key=lambda key: -TOTALS[key] if "bytes" not in key else 0):
            total, count = TOTALS[name], COUNTS[name]
            if "bytes" in name:
                print(f"{name:48} {'':>9} {count:>6} {total / count:>9.0f} bytes")
                continue
            print(f"{name:48} {total:>9.3f} {count:>6} {total / count * 1000:>9.2f} {total / args.n * 1000:>14.2f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
