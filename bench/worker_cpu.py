"""CPU per job of one real warm worker (bubblewrap when it works), split into grader side and worker tree.

    uv run python bench/worker_cpu.py [--jobs 200] [--rounds 3]

Grades ``ex_02_S0001.py`` ``--jobs`` times through ``engine.execute`` with one ``Worker`` (the real
sandbox: bwrap, zygote, one forked child per job), one job at a time, and reports per job:

- ``grader``: CPU of this process (the calling thread, the worker's pipe-reading thread, JSON);
- ``worker``: CPU of the worker's whole tree (bwrap, zygote and every child it reaped), from /proc just
  before the worker is stopped, minus its start-up measured the same way with zero jobs;
- ``wall``: per job, in steady state.

It exists to compare changes to the worker path (``launcher``, ``zygote``, ``child``, ``protocol``)
on CPU rather than on wall time, which on two shared cores is what limits a class's throughput.
Rounds alternate "start only" and "start + jobs" so that the machine's noise hits both alike.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from procmon import descendants, read_stat  # noqa: E402

from grader.assignment import Assignment  # noqa: E402
from grader.intake.decode import decode_submission  # noqa: E402
from grader.intake.definitions import definitions_only  # noqa: E402
from grader.run.engine import Plan, execute, judge  # noqa: E402
from grader.run.sandbox.launcher import SandboxSettings, Worker  # noqa: E402

SOLUTION = PROJECT / "tests" / "fixtures" / "solutions" / "ex_02_S0001.py"
DATA = PROJECT / "data" / "advertising.csv"


def cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def tree_cpu(root: int) -> float:
    """CPU seconds of a process tree from /proc: each process's own time plus that of the children it
    reaped (the zygote reaps every child it forked, so their time is in its cutime/cstime)."""
    infos = (read_stat(pid) for pid in descendants(root))
    return sum(info.cpu_own + info.cpu_children for info in infos if info is not None)


def one_round(plan: Plan, settings: SandboxSettings, jobs: int) -> tuple[float, float, float]:
    """(grader CPU, worker tree CPU, wall) for starting a worker and running ``jobs`` jobs."""
    source = decode_submission(SOLUTION, "py").source
    assert source is not None
    definitions = definitions_only(source)
    with tempfile.TemporaryDirectory() as scratch:
        self_before = cpu(resource.RUSAGE_SELF)
        started = time.perf_counter()
        worker = Worker(settings, 0, Path(scratch))
        worker.start()
        for _ in range(jobs):
            execution = execute(plan, worker.run, "ex_02_S0001", source, lambda: definitions)  # lazy, as grade
            assert all(result.passed for result in judge(plan, execution)), "the solution must get full marks"
        wall = time.perf_counter() - started
        assert worker.process is not None
        tree = tree_cpu(worker.process.pid)
        grader = cpu(resource.RUSAGE_SELF) - self_before
        worker.stop()
        return grader, tree, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    plan = Plan.create(Assignment.named("ex_02"), seed=0, data_file=DATA)
    settings = SandboxSettings.detect(DATA)
    grader_per_job, worker_per_job, wall_per_job = [], [], []
    for _ in range(args.rounds):
        g0, w0, t0 = one_round(plan, settings, 0)
        g1, w1, t1 = one_round(plan, settings, args.jobs)
        grader_per_job.append((g1 - g0) / args.jobs * 1000)
        worker_per_job.append((w1 - w0) / args.jobs * 1000)
        wall_per_job.append((t1 - t0) / args.jobs * 1000)
    grader, worker = statistics.median(grader_per_job), statistics.median(worker_per_job)
    print(f"isolation={settings.isolation} jobs={args.jobs} rounds={args.rounds} (medians, ms per job; "
          f"worker start {w0 * 1000:.0f} ms CPU)")
    print(f"  grader CPU {grader:6.2f}   worker tree CPU {worker:6.2f}   total {grader + worker:6.2f}"
          f"   wall {statistics.median(wall_per_job):6.2f}")
    print("  all rounds:", [f"{g:.1f}+{w:.1f}" for g, w in zip(grader_per_job, worker_per_job, strict=True)])


if __name__ == "__main__":
    main()
