"""The test suite's wall time and CPU: the whole process tree's, sandboxed workers included.

    uv run python bench/suite.py [--runs 1] [-- PYTEST ARGS...]

Runs ``python -m pytest -q -p no:cacheprovider`` (the suite's own options from pyproject.toml: two
pytest-xdist workers) ``--runs`` times and prints per run: wall, the CPU of the suite's whole process tree
and the machine's busy CPU over the same time.

Why a cgroup: the sandboxed workers (bwrap, and the zygote that is its pid 1) are killed, never waited
for, so ``getrusage(RUSAGE_CHILDREN)`` and ``time`` miss them (a third of the suite's CPU). As root the
run is put in a cgroup-v1 ``cpuacct`` group of its own, whose usage counts every process in it whatever
becomes of it; elsewhere only the machine's busy CPU is printed (exact on a quiet machine only). On two
cores the wall time cannot be less than the tree's CPU over two: that is the figure to push down.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
CPUACCT = Path("/sys/fs/cgroup/cpuacct")


def busy_seconds() -> float:
    """The machine's busy CPU so far (user, nice, system, irq, softirq), in seconds."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(value) for value in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def own_group() -> Path | None:
    """A fresh cpuacct cgroup for the suite, or None where this process cannot make one."""
    if os.geteuid() != 0 or not (CPUACCT / "cgroup.procs").exists():
        return None
    group = CPUACCT / f"exgrader-suite-{os.getpid()}"
    try:
        group.mkdir()
    except OSError:
        return None
    return group


def run_once(pytest_args: list[str]) -> tuple[float, float | None, float, str]:
    """(wall, tree CPU or None, machine busy CPU, pytest's last line)."""
    group = own_group()
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args]

    def join_group() -> None:  # in the child, before it runs pytest: all it starts is counted
        if group is not None:
            (group / "cgroup.procs").write_text(str(os.getpid()))

    busy, started = busy_seconds(), time.monotonic()
    done = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, preexec_fn=join_group)
    wall, busy = time.monotonic() - started, busy_seconds() - busy
    tree = None
    if group is not None:
        tree = int((group / "cpuacct.usage").read_text()) / 1e9
        for _ in range(50):  # the group can be removed once its last process is gone
            try:
                group.rmdir()
                break
            except OSError:
                time.sleep(0.1)
    lines = [line for line in done.stdout.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    return wall, tree, busy, lines[-1].strip("= ") if lines else done.stdout[-300:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("pytest_args", nargs="*", help="after --: passed to pytest")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; load average before: {os.getloadavg()[0]:.2f}")
    for run in range(args.runs):
        wall, tree, busy, summary = run_once(args.pytest_args)
        tree_text = f"{tree:6.1f} s" if tree is not None else "   n/a  "
        print(f"run {run + 1}: wall {wall:6.1f} s   suite tree CPU {tree_text}   machine busy CPU {busy:6.1f} s"
              f"   ({summary})")


if __name__ == "__main__":
    main()
