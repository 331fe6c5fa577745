"""Benchmark: what a re-run of a finished class costs, beside the run that graded it.

    uv run python bench/resume.py --n 40 --jobs 2

Generates N submissions (``grade_class.generate``), grades them with the real ``grade`` command (sandbox
on), runs the same command again on the same output folder (every student reused from the cache) and a
third time after one file was edited (one student graded again). Prints the three wall times and the
re-run's own count ("graded now: X, reused from earlier runs: Y").

tests/test_resume.py asserts the counts and the bytes; how much faster the cached re-run is, is this
script's figure (a timed unit test on a shared machine says more about the machine than the code).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import grade_class  # noqa: E402

COUNTS = re.compile(r"graded now: (\d+), reused from earlier runs: (\d+)")


def timed_run(folder: Path, out: Path, jobs: int) -> tuple[float, str]:
    """Wall seconds of one ``grade`` run and its count line."""
    started = time.perf_counter()
    done = subprocess.run([*grade_class.grade_command(), str(folder), "--out", str(out), "--jobs", str(jobs),
                           "--lang", "en"], capture_output=True, text=True, cwd=grade_class.PROJECT, check=True)
    seconds = time.perf_counter() - started
    match = COUNTS.search(done.stderr)
    return seconds, match.group(0) if match else "(no count printed)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="students in the class")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="exgrader-bench-resume-") as scratch:
        folder, out = Path(scratch) / "class", Path(scratch) / "out"
        ids = grade_class.generate(folder, args.n)
        rows = [("full run", *timed_run(folder, out, args.jobs)),
                ("re-run, everything cached", *timed_run(folder, out, args.jobs))]
        edited = folder / f"ex_02_{ids[0]}.py"
        edited.write_text(edited.read_text(encoding="utf-8") + "\n# one more line\n", encoding="utf-8")
        rows.append(("re-run after one edit", *timed_run(folder, out, args.jobs)))
    print(f"{args.n} students, --jobs {args.jobs}")
    for label, seconds, count in rows:
        print(f"  {label:<28} {seconds:6.2f} s   {count}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
