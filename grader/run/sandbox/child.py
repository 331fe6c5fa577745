"""Runs one submission: loads the student's code, then interprets the grader's cases against it.

This is the code that shares a process with student code; it is kept small so that anyone can audit it.
It only *calls* student functions and *reports* what came back as plain data (see ``protocol.py``);
it decides nothing. Whatever the student code does to numpy, builtins or this module can only change
the data this process reports about that same student, never a verdict.

The same interpreter serves ``pytest student_templates`` in-process (a student checking their own work),
which is why :func:`run_case` takes an already-imported module.
"""

from __future__ import annotations

import ast
import errno
import functools
import importlib.util
import itertools
import json
import os
import random
import re
import shutil
import signal
import sys
import time
import traceback
import types
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

try:  # inside the sandbox this file sits beside protocol.py, outside it is part of the grader package
    from grader.run.sandbox import protocol
except ImportError:  # pragma: no cover - exercised inside the sandbox
    import protocol  # type: ignore[no-redef]

MAX_MESSAGE_CHARS = 600
_PATH_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(-?\d+)\]")
HIDDEN_MODULES = ("grader", "reference")  # the grader's own packages: never importable by a submission
LIMITS: dict[str, Any] = {}  # the job's limits: set in the sandbox only, where a limit can be hit
# Bound before any student code runs, so that replacing json.dumps or os.write cannot garble the channel.
_dumps = json.dumps
_write = os.write


class CaseTimeout(BaseException):
    """Raised by the alarm when one case (or the loading) runs past its time; BaseException so that a
    student's ``except Exception`` does not swallow it."""


# --- paths and ops ----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=256)  # the plan's few distinct paths are resolved many times per student
def _split_path(path: str) -> tuple[str, tuple[tuple[str, str | int], ...]]:
    head = re.match(r"\$?[A-Za-z_][A-Za-z0-9_]*", path)
    if head is None:
        raise ValueError(f"bad path {path!r}")
    parts: list[tuple[str, str | int]] = []
    rest = path[head.end():]
    while rest:
        match = _PATH_PART.match(rest)
        if match is None:
            raise ValueError(f"bad path {path!r}")
        parts.append(("attr", match.group(1)) if match.group(1) else ("item", int(match.group(2))))
        rest = rest[match.end():]
    return head.group(0), tuple(parts)


def _root(name: str, module: types.ModuleType, refs: dict[str, Any]) -> Any:
    if name.startswith("$"):
        return refs[name[1:]]
    if not hasattr(module, name):
        raise AttributeError(f"module has no attribute '{name}'")
    return getattr(module, name)


def _step(obj: Any, part: tuple[str, str | int]) -> Any:
    kind, key = part
    return getattr(obj, key) if kind == "attr" else obj[key]  # type: ignore[index]


def resolve(path: str, module: types.ModuleType, refs: dict[str, Any]) -> Any:
    """Follow a path such as ``$p.w`` or ``$result[0].b`` from the module or a saved value."""
    head, parts = _split_path(path)
    obj = _root(head, module, refs)
    for part in parts:
        obj = _step(obj, part)
    return obj


def _snapshot(value: Any) -> Any:
    """Encode now: later ops (a weight update) must not change what was observed earlier."""
    return protocol.encode(value)


def run_op(op: dict[str, Any], module: types.ModuleType, refs: dict[str, Any], outputs: dict[str, Any]) -> None:
    kind = op["op"]
    if kind == "let":
        refs[op["save"]] = protocol.decode(op["value"], refs)
    elif kind == "call":
        function = resolve(op["fn"], module, refs)
        args = protocol.decode(op.get("args", []), refs)
        kwargs = protocol.decode(op.get("kwargs", {}), refs)
        result = function(*args, **kwargs)
        if op.get("save"):
            refs[op["save"]] = result
        if op.get("out"):
            outputs[op["out"]] = _snapshot(result)
    elif kind == "get":
        outputs[op["out"]] = _snapshot(resolve(op["path"], module, refs))
    elif kind == "set":
        head, parts = _split_path(op["path"])
        if not parts or parts[-1][0] != "attr":
            raise ValueError(f"cannot set {op['path']!r}")
        target = _root(head, module, refs)
        for part in parts[:-1]:
            target = _step(target, part)
        setattr(target, str(parts[-1][1]), protocol.decode(op["value"], refs))
    else:
        raise ValueError(f"unknown op {kind!r}")


def limit_hit(exc: BaseException) -> protocol.Limit | None:
    """Which limit of the sandbox an exception comes from (one of the protocol's closed set), or None.
    The grader chooses the sentence, rendered with the job's limits in the student's language."""
    if not LIMITS:  # not in the sandbox (a student's self-check): no limit to explain
        return None
    number = exc.errno if isinstance(exc, OSError) else None
    filename = exc.filename if isinstance(exc, OSError) and isinstance(exc.filename, str) else ""
    if isinstance(exc, MemoryError):
        return protocol.Limit.MEMORY
    if isinstance(exc, ModuleNotFoundError) and str(exc.name or "").partition(".")[0] in HIDDEN_MODULES:
        return protocol.Limit.HIDDEN_MODULE
    if isinstance(exc, BlockingIOError) and number == errno.EAGAIN:
        return protocol.Limit.PROCESSES
    by_errno = {errno.EFBIG: protocol.Limit.FILE_SIZE, errno.ENOSPC: protocol.Limit.TMP_SPACE,
                errno.EMFILE: protocol.Limit.OPEN_FILES}
    if number in by_errno:
        return by_errno[number]
    if number in (errno.ENOENT, errno.EACCES, errno.EPERM, errno.EROFS) and os.path.isabs(filename) \
            and not filename.startswith(str(LIMITS.get("workdir")) + os.sep):
        return protocol.Limit.OUTSIDE_FILE
    return None


def describe_error(exc: BaseException, student_file: str | None) -> dict[str, Any]:
    """Type, message and the student's own frames (file, line, function, code) of an exception."""
    try:
        message = str(exc)[:MAX_MESSAGE_CHARS]
    except BaseException:  # a hostile __str__ must not take the report down
        message = "<unprintable>"
    try:
        limit = limit_hit(exc)
    except BaseException:
        limit = None
    frames = traceback.extract_tb(exc.__traceback__)
    own = [frame for frame in frames if student_file is not None and frame.filename == student_file]
    described = {
        "type": type(exc).__name__,
        "message": message,
        "traceback": [
            {"line": frame.lineno, "function": frame.name, "code": (frame.line or "")[:200]}
            for frame in own[-protocol.MAX_FRAMES:]
        ],
    }
    if limit is not None:
        described["limit"] = limit.value
    return described


HAS_ALARM = hasattr(signal, "setitimer")  # not on Windows: there only the job's wall clock stops a hang


def _alarm(seconds: float | None) -> None:
    if seconds and HAS_ALARM:
        signal.setitimer(signal.ITIMER_REAL, seconds)


def _disarm() -> None:
    if HAS_ALARM:
        signal.setitimer(signal.ITIMER_REAL, 0)


def raise_timeout(signum: int, frame: Any) -> None:
    raise CaseTimeout("time limit")


def run_case(case: dict[str, Any], module: types.ModuleType, *, student_file: str | None = None,
             seconds: float | None = None) -> dict[str, Any]:
    """Run the ops of one case in order; the first error stops the case and is reported with its op."""
    refs: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    error = None
    started = time.perf_counter()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # the grader's probes may overflow on purpose
        for index, op in enumerate(case["ops"]):
            try:
                _alarm(seconds)
                try:
                    run_op(op, module, refs, outputs)
                finally:
                    _disarm()
            except BaseException as exc:  # SystemExit and KeyboardInterrupt from student code included
                name = op.get("label") or op.get("fn") or op.get("path")
                described = {"op": index, "fn": name, **describe_error(exc, student_file)}
                if op.get("optional") and op.get("out") and not isinstance(exc, CaseTimeout):
                    outputs[op["out"]] = {"__error__": described}  # e.g. a missing g_w: go on without it
                    continue
                error = described
                break
    return {"case": case["id"], "outputs": outputs, "error": error,
            "seconds": round(time.perf_counter() - started, 6)}


# --- loading ------------------------------------------------------------------------------------------
def exec_source(name: str, path: str, source: str, seconds: float | None, *,
                statement_by_statement: bool = False) -> tuple[types.ModuleType, dict[str, Any] | None]:
    """Execute ``source`` as module ``name`` whose ``__file__`` is ``path``; report instead of raising.

    ``statement_by_statement`` (the definitions-only fallback) runs each top-level statement on its own:
    an import of a module the grading machine lacks (``japanize_matplotlib``) is skipped, and one
    failing statement does not keep the later definitions from being made. The first error is reported.
    """
    spec = importlib.util.spec_from_loader(name, loader=None, origin=path)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__file__ = path
    sys.modules[name] = module
    first_error: dict[str, Any] | None = None
    try:
        tree = ast.parse(source, path)
        blocks = [ast.Module([node], []) for node in tree.body] if statement_by_statement else [tree]
        _alarm(seconds)
        try:
            for block in blocks:
                try:
                    exec(compile(block, path, "exec", dont_inherit=True), module.__dict__)
                except Exception as exc:
                    skippable = isinstance(exc, ImportError) and isinstance(block.body[0], ast.Import | ast.ImportFrom)
                    if not statement_by_statement:
                        raise
                    if not skippable and first_error is None:
                        first_error = describe_error(exc, path)
        finally:
            _disarm()
    except BaseException as exc:
        if isinstance(exc, SyntaxError):
            return module, {"type": "SyntaxError", "message": f"{exc.msg} (line {exc.lineno})",
                            "traceback": [{"line": exc.lineno, "function": "<module>",
                                           "code": (exc.text or "").strip()[:200]}]}
        return module, describe_error(exc, path)
    return module, first_error


def load_submission(job: dict[str, Any], path: str) -> tuple[types.ModuleType, dict[str, Any]]:
    """Load the full file; when its top-level code fails, fall back to its definitions alone (or, when
    the job carries none, report ``needs_definitions``: the grader then sends them in a new job)."""
    name = job["module_name"]
    started = time.perf_counter()
    report: dict[str, Any] = {"mode": job.get("mode", "full"), "error": job.get("load_error")}
    if report["mode"] == "full":
        module, error = exec_source(name, path, job["source"], job.get("load_seconds"))
        report["error"] = error
        if error is None or job.get("definitions") is None:
            # None: the grader extracts the definitions only for a file that needs them; it asks again
            report["seconds"] = round(time.perf_counter() - started, 6)
            if error is not None:
                report["needs_definitions"] = True
            return module, report
        report["mode"] = "definitions"
    module, error = exec_source(name, path, job.get("definitions") or "", job.get("load_seconds"),
                                statement_by_statement=True)
    report["definitions_error"] = error
    report["seconds"] = round(time.perf_counter() - started, 6)
    return module, report


# --- the child process ------------------------------------------------------------------------------
def fix_randomness(seed: int) -> None:
    """Same seed for every student: ``np.random.seed``, ``random`` and unseeded ``default_rng()``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    original: Callable[..., np.random.Generator] = np.random.default_rng
    counter = itertools.count()

    def default_rng(seed_value: Any = None) -> np.random.Generator:
        return original([seed, next(counter)] if seed_value is None else seed_value)

    np.random.default_rng = default_rng  # type: ignore[assignment]


def prepare_layout(job: dict[str, Any], root: str) -> str:
    """The course layout in a private folder: ``scripts/<file>``, ``data/`` (read-only), ``outputs/``."""
    os.mkdir(root, 0o700)  # fails if it exists: nothing can be planted in advance
    scripts = os.path.join(root, "scripts")
    os.mkdir(scripts)
    os.mkdir(os.path.join(root, "outputs"))
    try:
        os.symlink(job["data_dir"], os.path.join(root, "data"))
    except (OSError, NotImplementedError):  # Windows without the symlink privilege: a copy
        shutil.copytree(job["data_dir"], os.path.join(root, "data"))
    if job.get("data_beside"):
        link_data_beside(job["data_dir"], scripts)
    path = os.path.join(scripts, job["module_name"] + ".py")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(job["source"])
    os.chdir(scripts)
    sys.path.insert(0, scripts)
    sys.argv = [path]
    return path


def link_data_beside(data_dir: str, scripts: str) -> None:
    """A notebook reads its data from its own folder (``<name>.csv``, ``./data/<name>.csv``), as
    in the student's Jupyter: the same read-only files, linked (or copied) beside the script too."""
    names = [name for name in sorted(os.listdir(data_dir)) if name.endswith(".csv")]
    for name in names:
        try:
            os.symlink(os.path.join(data_dir, name), os.path.join(scripts, name))
        except (OSError, NotImplementedError):
            shutil.copyfile(os.path.join(data_dir, name), os.path.join(scripts, name))
    try:
        os.symlink(data_dir, os.path.join(scripts, "data"))
    except (OSError, NotImplementedError):
        shutil.copytree(data_dir, os.path.join(scripts, "data"))


def child_main(job: dict[str, Any], result_fd: int) -> None:
    """Entry point in the child (limits and descriptors are set by the zygote): load, then run cases."""
    if HAS_ALARM:
        signal.signal(signal.SIGALRM, raise_timeout)
    LIMITS.update(job.get("limits", {}), workdir=job["workdir"])
    fix_randomness(int(job.get("seed", 0)))
    path = prepare_layout(job, job["workdir"])

    def send(message: dict[str, Any]) -> None:
        data = (_dumps(message, allow_nan=True) + "\n").encode()
        view = memoryview(data)
        while view:
            view = view[_write(result_fd, view):]

    module, load_report = load_submission(job, path)
    send({"load": load_report})
    for case in [] if load_report.get("needs_definitions") else job["cases"][job.get("start", 0):]:
        send(run_case(case, module, student_file=path, seconds=job.get("case_seconds")))
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    send({"done": True})

