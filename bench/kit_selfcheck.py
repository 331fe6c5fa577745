"""How long a student waits for ``uv run pytest`` in a fresh kit, and on a rerun.

``uv run python bench/kit_selfcheck.py [--reruns N] [--solved]`` builds the kit into a temporary folder,
then times, as a student runs it (``uv run pytest -q`` in the kit, Python allowed to write its ``.pyc``
files as it does on a student's machine):

- the first run: uv creates the kit's virtual environment (packages from uv's cache when it has them)
  and Python compiles numpy, pandas and matplotlib on first import;
- each rerun.

With ``--solved`` the reference-grade solutions of the tests' fixtures are saved into ``scripts/`` first
(every test passes; ``converge`` trains for real). Prints wall and CPU seconds (this process's children:
uv, pytest and the self-check's child processes) and whether uv printed "Bytecode compiled".
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from grader.studentkit import build

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "tests" / "fixtures" / "solutions"


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, completed.stdout, completed.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=int, default=5)
    parser.add_argument("--solved", action="store_true", help="save correct solutions into scripts/ first")
    args = parser.parse_args()
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV", "UV_COMPILE_BYTECODE")}
    with tempfile.TemporaryDirectory() as scratch:
        kit, _ = build(Path(scratch))
        if args.solved:
            for name in ("ex_02_S0001.py", "perceptron.py", "gradient_method.py"):
                shutil.copy(SOLUTIONS / name, kit / "scripts" / name)
        print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        for label in ["first run (fresh kit)", *[f"rerun {n}" for n in range(1, args.reruns + 1)]]:
            wall, cpu, output, errors = timed(["uv", "run", "pytest", "-q"], kit, env)
            summary = output.strip().splitlines()[-1] if output.strip() else errors.strip()[-200:]
            noisy = "Bytecode compiled" in output + errors
            load = os.getloadavg()[0]
            print(f"{label:24s} wall {wall:6.2f} s  cpu {cpu:5.2f} s  load {load:4.2f}  'Bytecode compiled': {noisy}"
                  f"  | {summary}")


if __name__ == "__main__":
    main()
