"""Baseline (a): one fresh interpreter per submission, doing what a zygote's forked child does.

``python -I -B bench/fresh_child.py`` reads one grader job (JSON) on stdin, imports numpy, pandas and
matplotlib (as the zygote's preload does), then runs ``child.child_main`` — the same layout, seeding,
loading and case interpreter as in the sandbox — and writes the result lines on stdout. The student's
own output goes to stderr. No sandbox, no limits: this baseline is only the cost of a fresh process,
which makes it cheaper than a fair "fresh sandboxed process per submission" would be.
"""

from __future__ import annotations

import json
import os
import sys

SANDBOX_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "grader", "run", "sandbox")


def main() -> None:
    job = json.loads(sys.stdin.buffer.read())
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot
    import pandas  # noqa: F401

    sys.path.insert(0, SANDBOX_DIR)
    import child  # the sandbox's own case interpreter, as bound into the sandbox

    results = os.dup(1)
    os.dup2(2, 1)  # student prints must not mix with the result lines
    child.child_main(job, results)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
