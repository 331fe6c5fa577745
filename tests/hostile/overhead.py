"""Per-job sandbox overhead, measured on a warm worker (not a test; run by hand).

``uv run python -m tests.hostile.overhead [--none] [-n 50]`` prints the median and 90th percentile of
(a) an empty job: a one-line source and no cases, i.e. the pure cost of one job (send the job, fork,
set limits, write the file, load, answer, sweep leftovers, wipe /tmp) and (b) grading the correct
fixture solution through ``engine.execute`` (the same plus running its 80 cases).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from grader.assignment import Assignment
from grader.intake.definitions import definitions_only
from grader.run.engine import Plan, execute
from grader.run.sandbox.launcher import SandboxSettings, Worker

ROOT = Path(__file__).resolve().parent.parent.parent


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return f"median {1000 * statistics.median(ordered):.1f} ms, p90 {1000 * p90:.1f} ms (n={len(ordered)})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--none", action="store_true", help="without bubblewrap")
    parser.add_argument("-n", type=int, default=50)
    args = parser.parse_args()
    data = ROOT / "data" / "advertising.csv"
    plan = Plan.create(Assignment.named("ex_02"), seed=0, data_file=data)
    settings = SandboxSettings.detect(data, allow_bwrap=not args.none)
    worker = Worker(settings, 0, Path(tempfile.mkdtemp(prefix="exgrader-bench-")))
    started = time.perf_counter()
    worker.start()
    print(f"isolation {settings.isolation.value}, root {settings.as_root}; worker start "
          f"{time.perf_counter() - started:.2f} s")
    try:
        empty = plan.job("ex_02_BENCH", "x = 1\n", "x = 1\n", start=len(plan.cases), mode="full", load_error=None,
                         wall_seconds=10)
        times = []
        for _ in range(args.n):
            started = time.perf_counter()
            worker.run(empty)
            times.append(time.perf_counter() - started)
        print("empty job:      ", summary(times))
        source = (ROOT / "tests" / "fixtures" / "solutions" / "ex_02_S0001.py").read_text(encoding="utf-8")
        definitions = definitions_only(source)
        times = []
        for _ in range(args.n):
            started = time.perf_counter()
            execute(plan, worker.run, "ex_02_S0001", source, definitions)
            times.append(time.perf_counter() - started)
        print("correct fixture:", summary(times))
    finally:
        worker.stop()


if __name__ == "__main__":
    main()
