"""Copy detection beside grading: a separate process at the lowest CPU priority, started before the
first job and collected after the last.

Why: copy detection needs the files, not the grades. Run after the last result, it was most of what a
TA waited for once grading was done (single-threaded, one pass over every file). Run in the grader's
own process beside grading, it held the GIL that the grading threads need to answer their workers.
In a process of its own at nice 19 it uses the CPU that grading leaves idle, and the grader only
collects its answer. Should that process fail for any reason, the grader computes the pairs itself:
a TA never loses copy detection to it. A class of fewer than :data:`IN_PROCESS_FILES` files (a resubmission
regraded on its own, a small group) is compared in the grader's process once grading is done: starting a
process would cost more than comparing them.

This process runs our code on the TA's files (it reads, decodes and tokenizes them; it runs nothing
of them), so it needs no sandbox, but it must import nothing but our code and the installed libraries:
it starts isolated (``python -I``: no current folder, no PYTHON* variables, no user site-packages) in
the run's scratch folder, with the project's folder put first on its path (:data:`BOOTSTRAP`). Request
and answer are plain JSON files in that folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.copydetect.similarity import Pair, Passage, similar_pairs
from grader.intake.decode import decode_submission

if TYPE_CHECKING:
    from grader.intake.discover import Submission

PROJECT_DIR = Path(__file__).resolve().parents[2]
#: ``python -I -c BOOTSTRAP PROJECT_DIR REQUEST ANSWER``: lower the priority first (importing numpy,
#: pygments and nbformat is a good part of the work), then import the grader from PROJECT_DIR only.
BOOTSTRAP = ("import os, sys; hasattr(os, 'nice') and os.nice(19); sys.path.insert(0, sys.argv[1]); "
             "from grader.copydetect.copycheck import main; sys.exit(main(sys.argv[2:]))")


#: Fewer files than this are compared in the grader's own process once grading is done: for them the
#: process's start-up (Python, numpy, Pygments, the templates' windows) is more than the work itself.
IN_PROCESS_FILES = 8
#: One file's decoding and fingerprinting, in CPU seconds; past it the file is left out and named.
FILE_SECONDS = 10.0
#: How long the grader waits for copy detection once grading is done: this, plus WAIT_PER_FILE per file.
WAIT_SECONDS = 60.0
WAIT_PER_FILE = 0.5


#: Files copy detection left out, as ``(student id, reason)``.
Skipped = list[tuple[str, str]]


class Overtime(Exception):
    """One file took longer than :data:`FILE_SECONDS`."""


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`Overtime` in the block after ``seconds`` of this process's CPU time (only in a main
    thread; elsewhere no limit). CPU time, not the clock: copy detection runs at the lowest priority, so on
    a busy machine a file that needs a moment of CPU can wait many seconds for it, and a clock budget would
    leave out different files on every run (and a resumed run would not write the same summary)."""
    if seconds is None or threading.current_thread() is not threading.main_thread() or \
            not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise Overtime(f"more than {seconds:g} s")

    previous = signal.signal(signal.SIGPROF, expire)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def each_source(entries: Sequence[Mapping[str, str]], skipped: list[tuple[str, str]] | None = None,
                seconds: float | None = None) -> Iterator[tuple[str, str]]:
    """``(student id, decoded code)`` in id order (notebooks as their code cells), one file at a time;
    undecodable files are left out. With ``skipped``, a file whose decoding fails (a RecursionError in
    a deeply nested notebook) or overruns ``seconds`` is named there and the others go on."""
    for entry in sorted(entries, key=lambda item: item["student_id"]):
        try:
            with time_limit(seconds):
                decoded = decode_submission(Path(entry["path"]), entry["kind"])
        except Exception as exc:
            if skipped is None:
                raise
            skipped.append((entry["student_id"], f"{type(exc).__name__}: {exc}"[:200]))
            continue
        if decoded.source is not None:
            yield entry["student_id"], decoded.source


def decoded_sources(entries: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """Decoded code per student, all at once (the few whose passages a summary shows)."""
    return dict(each_source(entries, []))


def pairs_to_json(pairs: Sequence[Pair]) -> list[dict[str, Any]]:
    return [asdict(pair) for pair in pairs]


def pairs_from_json(data: Any) -> list[Pair]:
    return [Pair(str(item["a"]), str(item["b"]), int(item["shared_tokens"]), float(item["score"]),
                 tuple(Passage(**passage) for passage in item["passages"])) for item in data]


def compute(request: Mapping[str, Any], seconds: float | None = FILE_SECONDS) -> tuple[list[Pair], Skipped]:
    """The flagged pairs, and the files left out as ``(student id, reason)``; each file gets ``seconds``."""
    skipped: list[tuple[str, str]] = []
    pairs = similar_pairs(each_source(request["submissions"], skipped, seconds), request["templates"],
                          request["threshold"], reference_sources=request.get("references", ()), skipped=skipped,
                          guard=lambda: time_limit(seconds))
    return pairs, sorted(skipped)


class BackgroundPairs:
    """Starts the copy-detection process now; :meth:`pairs` waits for it (or computes them here)."""

    command: tuple[str, ...] = (sys.executable, "-I", "-c", BOOTSTRAP, str(PROJECT_DIR))

    def __init__(self, submissions: Sequence[Submission], templates: Sequence[str], threshold: float,
                 folder: Path, references: Sequence[str] = ()) -> None:
        self.request = {"submissions": [{"student_id": item.student_id, "path": str(Path(item.path).resolve()),
                                         "kind": item.kind} for item in submissions],
                        "templates": list(templates), "references": list(references), "threshold": threshold}
        request_path, self.answer_path = folder / "request.json", folder / "answer.json"
        self.wait_seconds = WAIT_SECONDS + WAIT_PER_FILE * len(submissions)
        self.skipped: list[tuple[str, str]] = []
        self.timed_out = False
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self.process: subprocess.Popen[bytes] | None = None
        if len(submissions) < IN_PROCESS_FILES:  # pairs() compares them here, after grading
            return
        try:  # whatever fails here, pairs() computes them in this process
            folder.mkdir(parents=True, exist_ok=True)
            request_path.write_text(json.dumps(self.request), encoding="utf-8")
            self.process = subprocess.Popen([*self.command, str(request_path), str(self.answer_path)], cwd=folder,
                                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, env=env)
        except OSError:
            self.process = None

    def pairs(self) -> list[Pair]:
        """The flagged pairs; :attr:`skipped` names the files left out, :attr:`timed_out` says whether
        copy detection ran out of its budget (then no pairs: it is not run again here, where it would
        hold up the run the same way). Raises what :func:`similar_pairs` raises when it fails here too."""
        if len(self.request["submissions"]) < 2:  # nothing to compare
            return []
        if self.process is not None:
            try:
                code = self.process.wait(timeout=self.wait_seconds)
            except subprocess.TimeoutExpired:
                self.close()
                self.timed_out = True
                return []
            if code == 0:
                try:
                    answer = json.loads(self.answer_path.read_text(encoding="utf-8"))
                    pairs = pairs_from_json(answer["pairs"])
                    self.skipped = [(str(student_id), str(reason)) for student_id, reason in answer["skipped"]]
                    return pairs
                except (OSError, ValueError, KeyError, TypeError):
                    pass
        pairs, self.skipped = compute(self.request)
        return pairs

    def close(self) -> None:
        """Stop the process if it still runs (the run was interrupted)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def main(argv: Sequence[str]) -> int:
    request_path, answer_path = Path(argv[0]), Path(argv[1])
    pairs, skipped = compute(json.loads(request_path.read_text(encoding="utf-8")))
    partial = answer_path.with_suffix(".partial")
    partial.write_text(json.dumps({"pairs": pairs_to_json(pairs), "skipped": skipped}), encoding="utf-8")
    partial.replace(answer_path)  # the grader reads a whole answer or none
    return 0

