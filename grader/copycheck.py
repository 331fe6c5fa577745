"""Copy detection beside grading: a separate process at the lowest CPU priority, started before the
first job and collected after the last.

Why: copy detection needs the files, not the grades. Run after the last result, it was most of what a
TA waited for once grading was done (single-threaded, one pass over every file). Run in the grader's
own process beside grading, it held the GIL that the grading threads need to answer their workers.
In a process of its own at nice 19 it uses the CPU that grading leaves idle, and the grader only
collects its answer. Should that process fail for any reason, the grader computes the pairs itself:
a TA never loses copy detection to it.

This process runs our code on the TA's files (it reads, decodes and tokenizes them; it runs nothing
of them), so it needs no sandbox, but it must import nothing but our code and the installed libraries:
it starts isolated (``python -I``: no current folder, no PYTHON* variables, no user site-packages) in
the run's scratch folder, with the project's folder put first on its path (:data:`BOOTSTRAP`). Request
and answer are plain JSON files in that folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.decode import decode_submission
from grader.similarity import Pair, Passage, similar_pairs

if TYPE_CHECKING:
    from grader.discover import Submission

PROJECT_DIR = Path(__file__).resolve().parent.parent
#: ``python -I -c BOOTSTRAP PROJECT_DIR REQUEST ANSWER``: lower the priority first (importing numpy,
#: pygments and nbformat is a good part of the work), then import the grader from PROJECT_DIR only.
BOOTSTRAP = ("import os, sys; hasattr(os, 'nice') and os.nice(19); sys.path.insert(0, sys.argv[1]); "
             "from grader.copycheck import main; sys.exit(main(sys.argv[2:]))")


def each_source(entries: Sequence[Mapping[str, str]]) -> Iterator[tuple[str, str]]:
    """``(student id, decoded code)`` in id order (notebooks as their code cells), one file at a time;
    undecodable files are left out."""
    for entry in sorted(entries, key=lambda item: item["student_id"]):
        decoded = decode_submission(Path(entry["path"]), entry["kind"])
        if decoded.source is not None:
            yield entry["student_id"], decoded.source


def decoded_sources(entries: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """Decoded code per student, all at once (the few whose passages a summary shows)."""
    return dict(each_source(entries))


def pairs_to_json(pairs: Sequence[Pair]) -> list[dict[str, Any]]:
    return [asdict(pair) for pair in pairs]


def pairs_from_json(data: Any) -> list[Pair]:
    return [Pair(str(item["a"]), str(item["b"]), int(item["shared_tokens"]), float(item["score"]),
                 tuple(Passage(**passage) for passage in item["passages"])) for item in data]


def compute(request: Mapping[str, Any]) -> list[Pair]:
    return similar_pairs(each_source(request["submissions"]), request["templates"], request["threshold"])


class BackgroundPairs:
    """Starts the copy-detection process now; :meth:`pairs` waits for it (or computes them here)."""

    command: tuple[str, ...] = (sys.executable, "-I", "-c", BOOTSTRAP, str(PROJECT_DIR))

    def __init__(self, submissions: Sequence[Submission], templates: Sequence[str], threshold: float,
                 folder: Path) -> None:
        self.request = {"submissions": [{"student_id": item.student_id, "path": str(Path(item.path).resolve()),
                                         "kind": item.kind} for item in submissions],
                        "templates": list(templates), "threshold": threshold}
        request_path, self.answer_path = folder / "request.json", folder / "answer.json"
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self.process: subprocess.Popen[bytes] | None = None
        try:  # whatever fails here, pairs() computes them in this process
            folder.mkdir(parents=True, exist_ok=True)
            request_path.write_text(json.dumps(self.request), encoding="utf-8")
            self.process = subprocess.Popen([*self.command, str(request_path), str(self.answer_path)], cwd=folder,
                                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, env=env)
        except OSError:
            self.process = None

    def pairs(self) -> list[Pair]:
        """The flagged pairs. Raises what :func:`similar_pairs` raises when it fails here as well."""
        if self.process is not None and self.process.wait() == 0:
            try:
                return pairs_from_json(json.loads(self.answer_path.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError):
                pass
        return compute(self.request)

    def close(self) -> None:
        """Stop the process if it still runs (the run was interrupted)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def main(argv: Sequence[str]) -> int:
    request_path, answer_path = Path(argv[0]), Path(argv[1])
    pairs = compute(json.loads(request_path.read_text(encoding="utf-8")))
    partial = answer_path.with_suffix(".partial")
    partial.write_text(json.dumps(pairs_to_json(pairs)), encoding="utf-8")
    partial.replace(answer_path)  # the grader reads a whole answer or none
    return 0

