"""The child process of the self-check: loads one student file, runs the cases, reports plain data.

Run as ``python runner.py`` by ``session.py`` with the job (JSON) on stdin. It answers one JSON line per
step on its own copy of stdout; the student's prints go to stderr. It decides nothing: every verdict is
made by ``judge.py`` in the parent process. It uses the grader's own child-side code (``_vendor/child.py``,
copied in by ``student-kit``) without its alarms: time limits are the parent's, so this runs the same on
Windows, where there is no ``SIGALRM``.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import tempfile
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent.parent


def open_channel():
    """A private copy of stdout for the answers; fd 1 (and ``print``) then goes to stderr."""
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    return channel


class Unavailable:
    """The assignment's unavailable libraries (sklearn, scipy, ...) cannot be imported, as where grade runs."""

    def __init__(self, names):
        self.names = frozenset(names)

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def derivative_of_parabola():
    """f'(x) for f(x) = (x - 1)^2 as the slides print it, handed to the student's gradient_descent."""
    return lambda x: 2 * (x - 1)


def main() -> None:
    channel = open_channel()
    job = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    sys.path.insert(0, str(SCRIPTS))
    from selfcheck._vendor import protocol

    sys.modules.setdefault("protocol", protocol)  # the grader's child.py imports it under this name
    from selfcheck._vendor import child

    def send(message: dict) -> None:
        channel.write(json.dumps(message, allow_nan=True) + "\n")
        channel.flush()

    if job.get("data_beside"):
        # a notebook: run, as grade does, in a private copy of the course layout with the data also beside
        # the file (Jupyter starts in the notebook's folder), so that neither reads the other's data path
        scratch = tempfile.TemporaryDirectory(prefix="selfcheck-")
        atexit.register(scratch.cleanup)
        path = child.prepare_layout(job, os.path.join(scratch.name, "run"))
    else:
        path = job["path"]
        folder = os.path.dirname(path)
        os.chdir(folder)  # as the student runs it: ../data/advertising.csv, ../outputs/
        sys.path.insert(0, folder)
        sys.argv = [path]
    child.fix_randomness(int(job.get("seed", 0)))
    sys.meta_path.insert(0, Unavailable(job.get("unavailable_libraries", ())))
    job = {**job, "load_seconds": None}  # the parent's deadline, not an alarm
    send({"ready": True})  # the parent's clock for the file's top-level code starts now
    module, report = child.load_submission(job, path)
    module.__selfcheck_derivative__ = derivative_of_parabola
    send({"load": report})
    for case in [] if report.get("needs_definitions") else job["cases"][job.get("start", 0):]:
        send(child.run_case(case, module, student_file=path, seconds=None))
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    send({"done": True})


if __name__ == "__main__":
    main()
