"""Benchmark: the grader's wall time and peak memory on a hostile class, beside an honest one (issue 11.3).

    uv run python bench/hostile_class.py --n 40 --jobs 2

Both classes are one Moodle "download all" zip of N honest students (the copies ``grade_class.py``
generates, each in its own ``<name>_<participant>_assignsubmission_file_/`` folder). The hostile class
adds one student per attack that used to hold the class hostage or end the run:

- ``H0001``: a ``.py`` of 85,000 blank lines before correct code (decoding was quadratic);
- ``H0002``/``H0003``: two crafted 80 KB token streams, shared code cut by unique lines (copy detection
  matched every shared stretch against every other: minutes);
- ``H0004``: a notebook nested 100,000 brackets deep (a RecursionError turned copy detection off);
- ``H0005``: four files of 51 MB in one folder (the whole zip was refused, exit 2);
- ``H0006``: an exception message with a lone surrogate (every report write crashed);
- ``H0007``: a file whose id is 240 characters long (a temporary file name over 255 bytes);
- ``H0008``: exception class and function names carrying a code fence, HTML and a heading.

Each class is graded by the real ``grade`` command (sandbox on) in a subprocess whose process tree is
sampled from /proc (``procmon.py``, through ``grade_class.run_grade``); printed: wall time, exit code,
how many honest students kept full marks, and peak RSS by role (the grader's own process first).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import grade_class  # noqa: E402

CORRECT = (grade_class.FIXTURES / "ex_02_S0001.py").read_text(encoding="utf-8")
INJECTION = "\n```\n# Owned\n<script>alert(1)</script>\n"
SHARED = "y = a + b * c - d / e + f * g - h / i + j * k - l\n"


def crafted(offset: int) -> str:
    """~80 KB of one shared statement cut by unique lines (two of these share ~1,100 stretches)."""
    return "".join(SHARED + f"z = {index + offset} ; w = {index + offset} ; {index + offset}\n"
                   for index in range(1_100))


def hostile_members() -> dict[str, bytes]:
    """``{path inside the zip: bytes}`` of the hostile students (each in a Moodle folder of their own)."""
    def folder(student: int) -> str:
        return f"Hostile {student}_{9000 + student}_assignsubmission_file_"

    huge = b"#" * (51 * 1024 * 1024)
    return {
        f"{folder(1)}/ex_02_H0001.py": ("\n" * 85_000 + CORRECT).encode(),
        f"{folder(2)}/ex_02_H0002.py": crafted(0).encode(),
        f"{folder(3)}/ex_02_H0003.py": crafted(10**6).encode(),
        f"{folder(4)}/ex_02_H0004.ipynb": ('{"cells": ' + "[" * 100_000 + "]" * 100_000 + "}").encode(),
        **{f"{folder(5)}/{name}": huge for name in ("ex_02_H0005.py", "ex_02_H0005.ipynb", "a/ex_02_H0005.py",
                                                     "b/ex_02_H0005.py")},
        f"{folder(6)}/ex_02_H0006.py": (CORRECT + '\nraise ValueError("\\ud800 <b>x</b>")\n').encode(),
        f"{folder(7)}/ex_02_{'H' * 240}.py": CORRECT.encode(),
        f"{folder(8)}/ex_02_H0008.py": (CORRECT + f"\n_Bad = type({INJECTION!r}, (Exception,), {{}})\n"
                                        f"def _f(x):\n    raise _Bad('<b>x</b>')\n"
                                        f"_f.__code__ = _f.__code__.replace(co_name={INJECTION!r})\n"
                                        f"normalize = _f\n").encode(),
    }


def class_zip(target: Path, honest: Path, hostile: bool) -> Path:
    """The honest students (one Moodle folder each), plus the hostile ones when ``hostile``."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, path in enumerate(sorted(honest.iterdir()), start=1):
            archive.write(path, f"Student {index}_{1000 + index}_assignsubmission_file_/{path.name}")
        for name, data in (hostile_members() if hostile else {}).items():
            archive.writestr(name, data)
    return target


def summary(run: dict[str, Any], out: Path, honest: int) -> dict[str, Any]:
    memory = run["memory_mb"]
    with (out / "scores.csv").open(encoding="utf-8-sig") as stream:
        full = sum(1 for row in csv.DictReader(stream)
                   if row["student_id"].startswith("B") and float(row["total"]) == float(row["max"]))
    return {"wall_seconds": run["wall_seconds"], "exit_code": run["exit_code"], "graded": run["graded"],
            "honest_full_marks": f"{full}/{honest}",
            "grader_peak_rss_mb": memory["peak_rss_by_role"].get("grader"),
            "peak_rss_by_role_mb": memory["peak_rss_by_role"], "peak_tree_pss_mb": memory["peak_tree_pss_sum"],
            "after_last_result_seconds": run["after_last_result_seconds"], "stderr_tail": run["stderr_tail"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=40, help="honest students in each class")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--interval", type=float, default=0.05, help="process-tree sampling interval (s)")
    parser.add_argument("--json", type=Path, default=BENCH_DIR / "results" / "hostile.json")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="exgrader-hostile-"))
    try:
        grade_class.generate(root / "honest", args.n)
        report: dict[str, Any] = {"machine": grade_class.machine(), "n_honest": args.n, "jobs": args.jobs}
        for label, hostile in (("honest", False), ("hostile", True)):
            archive = class_zip(root / f"{label}.zip", root / "honest", hostile)
            print(f"grading the {label} class ({archive.stat().st_size / 2**20:.1f} MB zip) ...", flush=True)
            run = grade_class.run_grade(archive, root / f"out-{label}", args.n, args.jobs, args.interval)
            report[label] = summary(run, root / f"out-{label}", args.n)
        for label in ("honest", "hostile"):
            figures = report[label]
            print(f"{label:>8}: wall {figures['wall_seconds']:6.1f} s  exit {figures['exit_code']}  graded "
                  f"{figures['graded']}  honest full marks {figures['honest_full_marks']}  grader peak RSS "
                  f"{figures['grader_peak_rss_mb']} MB  tree PSS {figures['peak_tree_pss_mb']} MB  "
                  f"after last result {figures['after_last_result_seconds']} s")
            print(f"          peak RSS by role (MB): {figures['peak_rss_by_role_mb']}")
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
