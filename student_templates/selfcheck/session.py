"""Runs a student file in a child process (``runner.py``) and collects its answers as plain data.

The loop follows the grader's engine: when the file's top-level code fails or hangs, the functions and
classes are tried again from their definitions alone; when a case hangs or kills the process, that case
is recorded as such and the next process starts after it. The deadlines are kept here by a reader thread:
no POSIX-only API (``SIGALRM``, ``fork``, ``resource``, ``fcntl``) is needed, on any system.
"""

from __future__ import annotations

import ast
import functools
import json
import time
import tokenize
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

from selfcheck import plan
from selfcheck._vendor import definitions as definitions_module
from selfcheck._vendor import protocol
from selfcheck._vendor.base import CaseOutcome
from selfcheck.messages import Message
from selfcheck.process import give_back, take_child

STARTUP_SECONDS = 30.0  # a fresh Python importing numpy on a slow, virus-scanned laptop
SLACK_SECONDS = 2.0  # a student's machine may be slower than the grading server
MAX_ATTEMPTS = 64


@dataclass
class Execution:
    load: dict[str, Any]
    outcomes: dict[str, CaseOutcome]
    warnings: list[Message] = field(default_factory=list)
    cells: tuple[tuple[int, int], ...] = ()


@dataclass
class Source:
    text: str | None
    warnings: list[Message]
    error: Message | None = None
    cells: tuple[tuple[int, int], ...] = ()  # a notebook's (cell number, first script line)


def decode(path: Path) -> Source:
    """The file's text as Python reads it; a file that is not UTF-8 is read as CP932 (Shift_JIS), as the
    grader does, with the warning that ``python <file>`` itself stops with a SyntaxError."""
    raw = path.read_bytes()
    if path.suffix == ".ipynb":
        return notebook_source(raw, path.name)
    try:
        encoding, _ = tokenize.detect_encoding(BytesIO(raw).readline)
        return Source(raw.decode(encoding).removeprefix("\ufeff"), [])
    except (SyntaxError, LookupError, UnicodeDecodeError):
        text = raw.decode("cp932", errors="replace")
        return Source(text, [Message("decode.fallback_encoding", {"encoding": "cp932"}),
                             Message("selfcheck.not_utf8", {"file": path.name})])


def notebook_source(raw: bytes, name: str) -> Source:
    """The code cells of a notebook joined as grade joins them (trailing blank lines dropped, one blank line
    between cells, IPython-only lines such as ``%matplotlib`` or ``!pip`` made blank), and where each cell
    starts, so that errors can cite "セル 5 の 3 行目" as grade's report does."""
    try:
        cells = [(number, "".join(cell["source"]) if isinstance(cell["source"], list) else str(cell["source"]))
                 for number, cell in enumerate(json.loads(raw.decode("utf-8-sig"))["cells"], start=1)
                 if cell.get("cell_type") == "code"]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return Source(None, [], Message("selfcheck.bad_notebook", {"file": name, "reason": str(exc)[:200]}))
    out: list[str] = []
    starts: list[tuple[int, int]] = []
    next_line = 1
    for number, cell in cells:
        lines = []
        for line in cell.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            body = line.lstrip()
            indent = line[: len(line) - len(body)]
            lines.append((f"{indent}pass" if indent else "") if body.startswith(("%", "!")) else line)
        while lines and not lines[-1].strip():
            lines.pop()
        if lines:
            out.append("\n".join(lines))
            starts.append((number, next_line))
            next_line += len(lines) + 1
    return Source("\n\n".join(out) + "\n", [], cells=tuple(starts))


def definitions_of(source: str) -> str:
    try:
        return definitions_module.definitions_only(source)
    except SyntaxError:
        return ""


def decode_outputs(raw: Any) -> dict[str, Any]:
    outputs = {}
    for name, value in raw.items() if isinstance(raw, dict) else []:
        try:
            outputs[str(name)] = protocol.decode(value)
        except Exception:
            outputs[str(name)] = protocol.Opaque("malformed value")
    return outputs


def execute(path: Path, source: str, cases: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, CaseOutcome]]:
    """Every case's outcome and the load report, restarting after a hang or a crash."""
    limits = plan.limits()
    load_seconds = float(limits.get("load_seconds", 10)) + SLACK_SECONDS
    case_seconds = float(limits.get("case_seconds", 5)) + SLACK_SECONDS
    # the grader's budget for the whole file, with room for a slower machine: a function that hangs on
    # every input must not keep the student waiting for each of the 30 inputs in turn
    deadline = time.monotonic() + STARTUP_SECONDS + 1.5 * float(limits.get("wall_seconds", 20))
    mode, load_error, start, attempts = "full", None, 0, 0
    load: dict[str, Any] = {}
    outcomes: dict[str, CaseOutcome] = {}
    while (start < len(cases) or not load) and attempts < MAX_ATTEMPTS:
        if time.monotonic() >= deadline:
            for case in cases[start:]:
                outcomes[case["id"]] = CaseOutcome(case["id"], {}, {"type": "not_run", "message": "time limit"})
            load = load or {"mode": "definitions", "error": {"type": "timeout", "message": ""}}
            break
        attempts += 1
        job = {"path": str(path), "module_name": path.stem.replace("-", "_"), "source": source,
               "definitions": definitions_of(source), "start": start, "mode": mode, "load_error": load_error,
               "seed": plan.seed(), "cases": cases, "unavailable_libraries": plan.unavailable_libraries()}
        if path.suffix == ".ipynb":  # as grade runs a notebook: the data beside it as well
            job.update(data_beside=True, data_dir=str(path.parent.parent / "data"))
        child = take_child()
        child.send(job)
        ready = child.next_line(STARTUP_SECONDS)  # Python and numpy started: the student's code runs next
        first = child.next_line(load_seconds) if isinstance(ready, dict) and ready.get("ready") else ready
        if not isinstance(first, dict) or "load" not in first:
            ended = child.stop()
            failure = {"type": "timeout" if first == "timeout" else "crash", "message": ended,
                       "seconds": limits.get("load_seconds", "")}
            if mode == "full":
                mode, load_error = "definitions", failure
                continue
            load = {"mode": "definitions", "error": load_error, "definitions_error": failure}
            for case in cases[start:]:
                outcomes[case["id"]] = CaseOutcome(case["id"], {}, {**failure, "type": "crash",
                                                                    "fn": case["id"].split("/")[0]})
            break
        if not load:
            report = first["load"] if isinstance(first["load"], dict) else {}
            if report.get("needs_definitions") and mode == "full":
                child.stop()
                mode, load_error = "definitions", report.get("error")
                continue
            load = report
        died_at, done, reusable = start, False, False
        while died_at <= len(cases):  # every case, then "done"
            answer = child.next_line(max(0.1, min(case_seconds, deadline - time.monotonic())))
            if not isinstance(answer, dict) or answer.get("done"):
                done = isinstance(answer, dict)
                reusable = done and answer.get("reusable") is True
                break
            if "case" in answer:
                case_id = str(answer["case"])
                outcomes[case_id] = CaseOutcome(case_id, decode_outputs(answer.get("outputs")), answer.get("error"),
                                                float(answer.get("seconds", 0) or 0))
                died_at += 1
        if reusable:
            give_back(child)
            break
        ended = child.stop()
        if done or died_at >= len(cases):
            break
        case_id = cases[died_at]["id"]
        kind = "CaseTimeout" if ended == "timeout" else "crash"
        outcomes[case_id] = CaseOutcome(case_id, {}, {"type": kind, "message": ended, "fn": case_id.split("/")[0]})
        start = died_at + 1
    for case in cases:
        outcomes.setdefault(case["id"], CaseOutcome(case["id"], {}, {"type": "not_run", "message": ""}))
    return load, outcomes


@functools.cache
def run(path: Path, suite: str) -> Execution:
    """The outcomes of one file for one suite of ``plan.json`` (run once per pytest session)."""
    started = time.monotonic()
    source = decode(path)
    if source.text is None:
        error = {"type": "not_run", "message": ""}
        cases = plan.cases(suite)
        return Execution({"mode": "definitions", "error": {"type": "unreadable", "message": ""}},
                         {case["id"]: CaseOutcome(case["id"], {}, error) for case in cases},
                         [*source.warnings, *([source.error] if source.error else [])])
    try:  # parsed only, never run: a file Python cannot read is said to be so for every check, as grade does
        ast.parse(source.text, str(path))
    except SyntaxError as exc:
        error = {"type": "SyntaxError", "message": str(exc.msg), "line": exc.lineno, "offset": exc.offset,
                 "text": exc.text}
        return Execution({"mode": "definitions", "error": error, "syntax_error": True},
                         {case["id"]: CaseOutcome(case["id"], {}, {"type": "not_run", "message": ""})
                          for case in plan.cases(suite)}, source.warnings, source.cells)
    load, outcomes = execute(path, source.text, plan.cases(suite))
    execution = Execution(load, outcomes, source.warnings, source.cells)
    execution.seconds = time.monotonic() - started  # type: ignore[attr-defined]
    return execution
