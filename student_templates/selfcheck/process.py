"""The self-check's child process (``runner.py``) as seen from pytest: started, fed, read, kept, ended.

Imports nothing but the standard library, so that the plugin can start the process before pytest has
imported numpy or collected a test: Python, numpy and pandas then load in the child meanwhile.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

RUNNER = Path(__file__).with_name("runner.py")
EXIT_SECONDS = 5.0  # from a process closing its output to its exit code


class Child:
    """One runner process, which takes files one after another; ``next_line(seconds)`` returns its next
    answer, or None past the deadline."""

    def __init__(self) -> None:
        environment = {**os.environ, "MPLBACKEND": "Agg", "PYTHONIOENCODING": "utf-8"}
        self.process = subprocess.Popen([sys.executable, "-X", "utf8", str(RUNNER)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=environment)
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self.closed = threading.Event()  # the process closed its output: it is ending (killed, crashed, exited)
        threading.Thread(target=self._read, daemon=True).start()

    def send(self, job: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(job).encode("utf-8") + b"\n")
            self.process.stdin.flush()
        except OSError:  # the child died; the reader reports the end
            pass

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.closed.set()
        self.lines.put(None)

    def next_line(self, seconds: float) -> dict[str, Any] | str | None:
        """A parsed answer, ``"timeout"``, or None when the process ended (or wrote garbage)."""
        try:
            line = self.lines.get(timeout=seconds)
        except queue.Empty:
            return "timeout"
        if line is None:
            return None
        try:
            parsed = json.loads(line)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None

    def stop(self) -> str:
        """Kill the process; describe how it ended (exit code, or timeout)."""
        if self.closed.is_set():  # its output closed as it died: let it finish dying, it did not hang
            try:
                self.process.wait(timeout=EXIT_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
            return "timeout"
        code = self.process.returncode
        if code < 0:  # killed by a signal (POSIX): named as grade's report names it
            try:
                return signal.Signals(-code).name
            except ValueError:
                return f"signal {-code}"
        return f"exit code {code}"

    def close(self) -> None:
        """End an idle process: at the end of its input it exits."""
        try:
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.stop()


#: a process that has finished a file cleanly and waits for the next (one at a time: files run in turn)
_IDLE: list[Child] = []
_IDLE_LOCK = threading.Lock()


def warm_up() -> None:
    """Start the process now (Python, numpy and pandas load while pytest collects the tests)."""
    with _IDLE_LOCK:
        if not _IDLE:
            _IDLE.append(Child())


def take_child() -> Child:
    """The idle process if it is still alive, else a new one."""
    with _IDLE_LOCK:
        while _IDLE:
            child = _IDLE.pop()
            if child.process.poll() is None:
                return child
    return Child()


def give_back(child: Child) -> None:
    with _IDLE_LOCK:
        _IDLE.append(child)


def close_idle() -> None:
    with _IDLE_LOCK:
        idle = list(_IDLE)
        _IDLE.clear()
    for child in idle:
        child.close()
