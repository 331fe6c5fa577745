"""Run a plan's cases in this process, for the engine's tests and the compute benchmark.

Trusted code only (the project's own fixtures): no sandbox, no time limit but the alarm. Students do not
use it: the student kit's self-check runs their file in a child process of its own
(``student_templates/selfcheck/``), with no POSIX-only API, so that it also works on Windows.
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
