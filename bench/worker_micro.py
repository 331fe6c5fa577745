"""The cost of one forked child, piece by piece, and what a warm zygote could save.

    uv run python bench/worker_micro.py [--jobs-per-variant 60] [--rounds 3]

A process does what the zygote does at start-up (``preload``: numpy, pandas, matplotlib), then forks one
child per job; the child runs the sandbox's own ``child.child_main`` on a real job (the plan's 80 cases
against ``ex_02_S0001.py``). No bubblewrap, no limits, no uid change: this isolates the fork-per-job
mechanics from the sandbox. Variants of the *parent* before it forks, interleaved round by round so
that a noisy machine hits them alike:

- ``plain``: as the zygote does today;
- ``freeze``: ``gc.collect(); gc.freeze()`` after the preload (the child's garbage collections then
  skip the objects inherited from the preload, and do not dirty their pages);
- ``warm``: the parent runs a warm-up job first on a built-in stand-in module (no student code): the
  case interpreter, protocol encode/decode, ``np.errstate``, ``warnings``, lazy numpy imports and
  caches are then initialized once in the parent instead of once in every child;
- ``warm+freeze``: both.

Per job it reports (medians, milliseconds): ``fork`` (the parent's ``os.fork`` call), ``to_child``
(fork → first line of the child), ``load+cases`` (as the child reports them), ``child_other`` (the
rest of the child's life: its set-up before loading and after the last case), ``exit`` (last result
line → exit seen through a pidfd), and ``cpu`` (parent + children CPU per job).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import selectors
import shutil
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
os.environ.update({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                   "MPLBACKEND": "Agg"})

from grader.assignment import Assignment  # noqa: E402
from grader.run.engine import Plan  # noqa: E402
from grader.run.sandbox import child  # noqa: E402

VARIANTS = ("plain", "freeze", "warm", "warm+freeze")


def preload() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot
    import pandas  # noqa: F401


def stand_in_module() -> types.ModuleType:
    """A grader-written stand-in for a submission: every name the cases call, trivially implemented."""
    import numpy as np

    module = types.ModuleType("warmup")

    class Perceptron:
        def __init__(self, input_dim: int, output_dim: int, learning_rate: float, rng: Any) -> None:
            self.w = rng.standard_normal((input_dim, output_dim))
            self.b = np.zeros(output_dim)
            self.lr = learning_rate

        def forward(self, x: Any) -> Any:
            self.x = x
            return x @ self.w + self.b

        def backward(self, g: Any) -> Any:
            self.g_w, self.g_b = self.x.T @ g, g.sum(axis=0)
            return g @ self.w.T

    class MeanSquaredError:
        def forward(self, y: Any, t: Any) -> float:
            self.d = y - t
            return float(np.mean(self.d**2))

        def backward(self) -> Any:
            return 2 * self.d

    def train(x: Any, t: Any, learning_rate: float, max_iteration: int, rng: Any) -> Any:
        p = Perceptron(x.shape[1], t.shape[1], learning_rate, rng)
        return p, [0.0] * max_iteration

    module.__dict__.update(normalize=lambda x: x - x.min(axis=0), standardize=lambda x: x - x.mean(axis=0),
                           Perceptron=Perceptron, MeanSquaredError=MeanSquaredError, train=train)
    return module


def warm_up(job: dict[str, Any]) -> None:
    module = stand_in_module()
    for case in job["cases"]:
        json.dumps(child.run_case(case, module, seconds=job.get("case_seconds")))


def one_job(job: dict[str, Any], scratch: Path) -> dict[str, float]:
    job = {**job, "workdir": str(scratch / f"job-{time.monotonic_ns()}")}
    result_r, result_w = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(result_r)
            os.write(result_w, (json.dumps({"t_child": time.monotonic()}) + "\n").encode())
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            child.child_main(job, result_w)
            os.write(result_w, (json.dumps({"t_end": time.monotonic()}) + "\n").encode())
        finally:
            os._exit(0)
    forked = time.monotonic() - started
    os.close(result_w)
    exit_fd = os.pidfd_open(pid)
    data = bytearray()
    exited_at = None
    with selectors.DefaultSelector() as selector:
        selector.register(result_r, selectors.EVENT_READ, "result")
        selector.register(exit_fd, selectors.EVENT_READ, "exit")
        while exited_at is None or selector.get_map().get(result_r) is not None:
            for key, _ in selector.select(timeout=10):
                if key.data == "exit":
                    exited_at = time.monotonic()
                    selector.unregister(exit_fd)
                    continue
                chunk = os.read(result_r, 1 << 16)
                if chunk:
                    data += chunk
                else:
                    selector.unregister(result_r)
    os.waitpid(pid, 0)
    os.close(result_r)
    os.close(exit_fd)
    shutil.rmtree(job["workdir"], ignore_errors=True)
    lines = [json.loads(line) for line in data.decode().splitlines()]
    t_child, t_end = lines[0]["t_child"], lines[-1]["t_end"]
    load = lines[1]["load"]
    work = float(load.get("seconds", 0)) + sum(float(line.get("seconds", 0)) for line in lines if "case" in line)
    assert exited_at is not None and not load.get("error"), load
    return {"fork": forked, "to_child": t_child - started, "load+cases": work,
            "child_other": (t_end - t_child) - work, "exit": exited_at - t_end, "total": exited_at - started}


def variant_worker(variant: str, job: dict[str, Any], count: int, scratch: Path, out: int) -> None:
    """In a fresh fork of the preloaded process: prepare as the variant says, then fork ``count`` jobs."""
    if "warm" in variant:
        warm_up(job)
    if "freeze" in variant:
        gc.collect()
        gc.freeze()
    rows = []
    for _ in range(count):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        self_before = resource.getrusage(resource.RUSAGE_SELF)
        row = one_job(job, scratch)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self_after = resource.getrusage(resource.RUSAGE_SELF)
        row["cpu"] = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
                      + self_after.ru_utime + self_after.ru_stime - self_before.ru_utime - self_before.ru_stime)
        row["minor_faults_child"] = float(after.ru_minflt - before.ru_minflt)
        rows.append(row)
    os.write(out, json.dumps(rows).encode())


def main() -> int:
    parser = argparse.ArgumentParser(description="per-job cost of a forked child, with zygote variants")
    parser.add_argument("--jobs-per-variant", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    args = parser.parse_args()
    preload()
    plan = Plan.create(Assignment.named("ex_02"), seed=0, data_file=PROJECT / "data" / "advertising.csv")
    source = (PROJECT / "tests" / "fixtures" / "solutions" / "ex_02_S0001.py").read_text(encoding="utf-8")
    job = json.loads(json.dumps(plan.job("ex_02_S0001", source, "", start=0, mode="full", load_error=None,
                                         wall_seconds=20)))
    job["data_dir"] = str(PROJECT / "data")
    scratch = Path(tempfile.mkdtemp(prefix="exgrader-micro-"))
    results: dict[str, list[dict[str, float]]] = {variant: [] for variant in args.variants}
    try:
        per_round = max(1, args.jobs_per_variant // args.rounds)
        for _ in range(args.rounds):
            for variant in args.variants:
                read, write = os.pipe()
                pid = os.fork()
                if pid == 0:
                    os.close(read)
                    try:
                        variant_worker(variant, job, per_round + 3, scratch, write)
                    finally:
                        os._exit(0)
                os.close(write)
                chunks = []
                while chunk := os.read(read, 1 << 20):
                    chunks.append(chunk)
                os.close(read)
                os.waitpid(pid, 0)
                results[variant] += json.loads(b"".join(chunks))[3:]  # the first jobs warm the OS caches
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    keys = ("fork", "to_child", "load+cases", "child_other", "exit", "total", "cpu")
    print(f"medians over {len(results[args.variants[0]])} jobs per variant, ms (minor faults: count)")
    print(f"{'variant':14}" + "".join(f"{key:>12}" for key in keys) + f"{'faults':>9}")
    for variant, rows in results.items():
        cells = "".join(f"{statistics.median(row[key] for row in rows) * 1000:>12.2f}" for key in keys)
        faults = statistics.median(row["minor_faults_child"] for row in rows)
        print(f"{variant:14}{cells}{faults:>9.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
