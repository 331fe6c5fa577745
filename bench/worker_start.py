"""CPU and wall of starting one warm worker, with the grader's font list and without it.

    uv run python bench/worker_start.py [--rounds 8]

Each round starts a real worker (bubblewrap when it works) until it says it is ready, reads the CPU of its
whole tree from /proc (bwrap, the zygote and what it reaped, such as matplotlib's ``fc-list``), and stops it.
Rounds alternate "with" and "without" (``launcher.font_list`` returning None: each zygote scans the fonts
itself, as before) so that the machine's noise hits both alike. Medians are printed, and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from worker_cpu import tree_cpu  # noqa: E402

from grader.run.sandbox import launcher  # noqa: E402

DATA = PROJECT / "data" / "advertising.csv"


def start_once(settings: launcher.SandboxSettings) -> tuple[float, float]:
    """(worker tree CPU, wall) in seconds for one start."""
    with tempfile.TemporaryDirectory() as scratch:
        worker = launcher.Worker(settings, 0, Path(scratch))
        started = time.perf_counter()
        worker.start()
        wall = time.perf_counter() - started
        assert worker.process is not None
        cpu = tree_cpu(worker.process.pid)
        worker.stop()
        return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    settings = launcher.SandboxSettings.detect(DATA)
    with_list = launcher.font_list
    runs: dict[str, list[tuple[float, float]]] = {"with": [], "without": []}
    for _ in range(args.rounds):
        for name in runs:
            launcher.font_list = with_list if name == "with" else (lambda scratch: None)
            runs[name].append(start_once(settings))
    launcher.font_list = with_list
    print(f"isolation={settings.isolation} rounds={args.rounds} (medians)")
    cpu = {name: statistics.median(c for c, _ in values) for name, values in runs.items()}
    for name, values in runs.items():
        print(f"  {name:7s} font list: worker start CPU {cpu[name] * 1000:5.0f} ms   "
              f"wall {statistics.median(w for _, w in values) * 1000:5.0f} ms")
    print(f"  CPU ratio with/without: {cpu['with'] / cpu['without']:.2f}")


if __name__ == "__main__":
    main()
