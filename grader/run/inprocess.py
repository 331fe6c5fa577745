"""Run a plan's cases in this process, for the engine's tests and the compute benchmark.

Trusted code only (the project's own fixtures): no sandbox, no time limit but the alarm. Students do not
use it: the student kit's self-check runs their file in a child process of its own
(``student_templates/selfcheck/``), with no POSIX-only API, so that it also works on Windows.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from grader.run.engine import Runner
from grader.run.sandbox import child
from grader.run.sandbox.zygote import HiddenPackages


@contextlib.contextmanager
def unavailable(names: Sequence[str]) -> Iterator[None]:
    """While the student's code runs: the libraries cannot be imported, even if installed or loaded."""
    if not names:
        yield
        return
    finder = HiddenPackages(list(names))  # the finder the sandbox's zygote hides packages with
    loaded = {name: module for name, module in sys.modules.items() if name.partition(".")[0] in finder.names}
    for name in loaded:
        del sys.modules[name]
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        sys.modules.update(loaded)


def in_process_runner(path: Path, unavailable_libraries: Sequence[str] = ()) -> Runner:
    """A runner that loads ``path`` (already decoded into the job's source) and runs the cases here."""

    def run(job: dict[str, Any]) -> dict[str, Any]:
        with unavailable(unavailable_libraries):
            return run_here(job)

    def run_here(job: dict[str, Any]) -> dict[str, Any]:
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
