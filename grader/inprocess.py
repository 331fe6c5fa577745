"""Run a plan's cases in this process, for ``pytest student_templates``.

A student checking their own file runs their own code on their own machine: no sandbox is needed,
and running in-process keeps the self-check fast and its tracebacks local. The very same cases and
judges as the grader are used, so a student sees exactly the verdicts the TA will.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from grader.engine import Runner
from grader.sandbox import child


def in_process_runner(path: Path) -> Runner:
    """A runner that loads ``path`` (already decoded into the job's source) and runs the cases here."""

    def run(job: dict[str, Any]) -> dict[str, Any]:
        previous = signal.signal(signal.SIGALRM, child.raise_timeout)
        try:
            module, report = child.load_submission(job, str(path))
            results: list[dict[str, Any]] = [{"load": report}]
            for case in [] if report.get("needs_definitions") else job["cases"][job.get("start", 0):]:
                results.append(child.run_case(case, module, student_file=str(path), seconds=job.get("case_seconds")))
            results.append({"done": True})
            return {"results": results}
        finally:
            signal.signal(signal.SIGALRM, previous)

    return run
