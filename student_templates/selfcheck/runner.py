"""The child process of the self-check: loads student files one after another, runs the cases, reports
plain data.

Run as ``python runner.py`` by ``session.py``; each job (JSON) comes as one line on its own copy of stdin
(the student's code sees an empty stdin, as under grade). It answers one JSON line per step on its own copy
of stdout; the student's prints go to stderr. It decides nothing: every verdict is made by ``judge.py`` in
the parent process. It uses the grader's own child-side code (``_vendor/child.py``, copied in by
``student-kit``) without its alarms: time limits are the parent's, so this runs the same on Windows, where
there is no ``SIGALRM``.

Why one process for several files: starting Python and importing numpy and pandas is most of what a rerun of
``uv run pytest`` costs, far more than the cases themselves. After each file the process puts back what the
file may have changed (folder, paths, modules it imported from the student's folder, warnings, numpy's error
handling, the environment) and says whether it is as it was (``reusable``): a file that changed numpy, pandas,
the builtins or left a thread running is followed by a fresh process, so each file still runs as in a process
of its own.
"""

from __future__ import annotations

import json
import os
import sys
import sysconfig
import tempfile
import threading
import warnings
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent.parent


def open_channels():
    """Private copies of stdin (the jobs) and stdout (the answers); fd 1 (and ``print``) then goes to
    stderr, and fd 0 reads nothing (an ``input()`` in the student's file gets EOF, as under grade)."""
    jobs = os.fdopen(os.dup(0), "rb")
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    empty = os.open(os.devnull, os.O_RDONLY)
    os.dup2(empty, 0)
    os.close(empty)
    return jobs, channel


class Unavailable:
    """The assignment's unavailable libraries (sklearn, scipy, ...) cannot be imported, as where grade runs."""

    def __init__(self, names):
        self.names = frozenset(names)

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


#: modules whose namespace a file must leave as it found it for the process to take the next file
WATCHED = ("builtins", "math", "random", "numpy", "numpy.random", "numpy.linalg", "pandas")
LIBRARY_FOLDERS = tuple(os.path.normcase(os.path.realpath(sysconfig.get_paths()[key]))
                        for key in ("stdlib", "platstdlib", "purelib", "platlib"))


def library_module(module) -> bool:
    """Installed or standard-library code (kept between files); anything else came from the student's folder."""
    location = getattr(module, "__file__", None)
    if not isinstance(location, str):
        return getattr(module, "__name__", "") in sys.builtin_module_names
    return os.path.normcase(os.path.realpath(location)).startswith(LIBRARY_FOLDERS)


class Baseline:
    """The process as it was before the first file: what :meth:`restore` puts back after each file."""

    def __init__(self, np) -> None:
        self.np = np
        self.default_rng = np.random.default_rng  # child.fix_randomness wraps it for each file
        self.cwd, self.path, self.argv = os.getcwd(), list(sys.path), list(sys.argv)
        self.meta_path, self.environ = list(sys.meta_path), dict(os.environ)
        self.modules = dict(sys.modules)
        self.streams = (sys.stdin, sys.stdout, sys.stderr)
        self.namespaces = {name: dict(vars(sys.modules[name])) for name in WATCHED if name in sys.modules}
        self.errors, self.printing = np.geterr(), np.get_printoptions()
        self.recursion = sys.getrecursionlimit()

    def restore(self) -> bool:
        """Put back what a file may change; True when nothing is left that could not be put back."""
        np = self.np
        np.random.default_rng = self.default_rng
        os.chdir(self.cwd)
        sys.path[:], sys.argv[:], sys.meta_path[:] = self.path, self.argv, self.meta_path
        if os.environ != self.environ:
            os.environ.clear()
            os.environ.update(self.environ)
        for name, module in list(sys.modules.items()):
            if self.modules.get(name) is not module and not library_module(module):
                del sys.modules[name]
        sys.stdin, sys.stdout, sys.stderr = self.streams
        np.seterr(**self.errors)
        np.set_printoptions(**self.printing)
        sys.setrecursionlimit(self.recursion)
        unchanged = all(sys.modules.get(name) is self.modules.get(name) and self.same(name, namespace)
                        for name, namespace in self.namespaces.items())
        return unchanged and threading.active_count() == 1

    @staticmethod
    def same(name: str, namespace: dict) -> bool:
        now = vars(sys.modules[name])
        return now.keys() == namespace.keys() and all(now[key] is value for key, value in namespace.items())


def run_file(job: dict, child, send) -> None:
    """Load one student file and run its cases, as one fresh child of the grader does."""
    scratch = None
    if job.get("data_beside"):
        # a notebook: run, as grade does, in a private copy of the course layout with the data also beside
        # the file (Jupyter starts in the notebook's folder), so that neither reads the other's data path
        scratch = tempfile.TemporaryDirectory(prefix="selfcheck-")
        path = child.prepare_layout(job, os.path.join(scratch.name, "run"))
    else:
        path = job["path"]
        folder = os.path.dirname(path)
        os.chdir(folder)  # as the student runs it: ../data/advertising.csv, ../outputs/
        sys.path.insert(0, folder)
        sys.argv = [path]
    try:
        child.fix_randomness(int(job.get("seed", 0)))
        sys.meta_path.insert(0, Unavailable(job.get("unavailable_libraries", ())))
        job = {**job, "load_seconds": None}  # the parent's deadline, not an alarm
        send({"ready": True})  # the parent's clock for the file's top-level code starts now
        module, report = child.load_submission(job, path)
        send({"load": report})
        for case in [] if report.get("needs_definitions") else job["cases"][job.get("start", 0):]:
            send(child.run_case(case, module, student_file=path, seconds=None))
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
    finally:
        if scratch is not None:
            os.chdir(os.path.dirname(scratch.name))
            scratch.cleanup()


def main() -> None:
    jobs, channel = open_channels()
    sys.path.insert(0, str(SCRIPTS))
    from selfcheck._vendor import protocol

    sys.modules.setdefault("protocol", protocol)  # the grader's child.py imports it under this name
    from selfcheck._vendor import child

    try:  # what the course's files import, once for all of them (an import error is the file's to report)
        import pandas  # noqa: F401
    except ImportError:
        pass

    def send(message: dict) -> None:
        channel.write(json.dumps(message, allow_nan=True) + "\n")
        channel.flush()

    baseline = Baseline(child.np)
    for line in jobs:  # until the parent closes the pipe
        with warnings.catch_warnings():
            run_file(json.loads(line.decode("utf-8")), child, send)
        send({"done": True, "reusable": baseline.restore()})


if __name__ == "__main__":
    main()
