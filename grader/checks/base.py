"""What a check is: it builds cases (inputs and calls for the child) and judges what came back.

A check never runs student code itself. ``cases()`` is computed once per grading run (the inputs are
the same for every student, drawn from the run's seed); ``judge()`` runs in the grader's process on
decoded plain data. Checks that depend on a convention another check detected (the sum/mean chain
factor, for example) read it from ``facts``, which the engine fills in the order of the assignment file.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from grader.i18n import Message
from grader.results import Verdict
from grader.run.sandbox.protocol import Failed, Opaque


@dataclass(frozen=True)
class CaseOutcome:
    """What one case produced: decoded outputs and, if it stopped early, the error (or crash) why."""

    case_id: str
    outputs: Mapping[str, Any]
    error: Mapping[str, Any] | None
    seconds: float = 0.0

    def get(self, name: str) -> Any:
        return self.outputs.get(name)


@dataclass
class Facts:
    """What earlier checks found out about the submission, for later checks to use."""

    values: dict[str, Any] = field(default_factory=dict)
    load: Mapping[str, Any] = field(default_factory=dict)


class Check:
    """Base class: subclasses set ``id`` in the assignment file, override ``cases`` and ``judge``."""

    needs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, check_id: str, params: Mapping[str, Any], seed: int) -> None:
        self.id = check_id
        self.params = dict(params)
        self.seed = seed

    def rng(self, salt: int = 0) -> np.random.Generator:
        """The check's own random stream: same seed, same inputs, whatever other checks draw."""
        return np.random.default_rng([self.seed, sum(map(ord, self.id)), salt])

    def cases(self) -> list[dict[str, Any]]:
        return []

    def judge(self, outcomes: Mapping[str, CaseOutcome], facts: Facts) -> Verdict:
        raise NotImplementedError

    def hint(self) -> Message:
        """The check's hint in the slides' terms: ``<id>.hint`` in the assignment file."""
        return Message(f"{self.id}.hint")

    def stopped(self, outcomes: list[CaseOutcome]) -> Verdict | None:
        """The verdict for the first of ``outcomes`` that stopped early (raised, crashed), with the hint."""
        verdict = first_error(outcomes)
        if verdict is not None:
            verdict.hint = self.hint()
        return verdict

    def case_id(self, label: str | int) -> str:
        return f"{self.id}/{label}"

    def mine(self, outcomes: Mapping[str, CaseOutcome]) -> list[CaseOutcome]:
        return [outcome for case_id, outcome in outcomes.items() if case_id.startswith(f"{self.id}/")]


def load_check_class(reference: str) -> type[Check]:
    """``"grader.checks.scaling:Normalize"`` -> the class; assignment files name checks this way."""
    module_name, _, class_name = reference.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, Check)):
        raise TypeError(f"{reference} is not a Check")
    return cls


def error_message(error: Mapping[str, Any]) -> Message:
    """A student-facing sentence for a case that stopped: not implemented, missing, raised, crashed."""
    kind = error.get("type", "")
    name = str(error.get("fn") or "?")
    frames = error.get("traceback") or []
    if "." not in name and frames and frames[-1].get("function") == "__init__":
        name += ".__init__"  # a constructor that raised: name the method the student must write
    if kind == "NotImplementedError":
        return Message("common.not_implemented", {"name": name})
    if kind == "AttributeError" and "module has no attribute" in str(error.get("message", "")):
        return Message("check.missing_name", {"name": name})
    module = missing_module(error)
    if module is not None:
        return Message("check.library_unavailable", {"name": name, "module": module})
    if kind == "CaseTimeout":
        return Message("check.case_timeout", {"name": name})
    if kind == "crash":
        return Message("check.crashed", {"name": name, "detail": error.get("message", "")})
    if kind == "not_run":
        return Message("check.not_run", {"detail": error.get("message", "")})
    return Message("check.raised", {"name": name, "type": kind, "message": error.get("message", "")})


def missing_module(error: Mapping[str, Any]) -> str | None:
    """The top-level module an import could not find ("No module named 'sklearn.preprocessing'" ->
    "sklearn"): a library the grading environment does not have, so the student is told so plainly."""
    if error.get("type") not in ("ModuleNotFoundError", "ImportError") or error.get("note"):
        return None  # a note: the sandbox explains it (the grader's own packages are hidden on purpose)
    match = re.search(r"No module named '([A-Za-z_][A-Za-z0-9_]*)", str(error.get("message", "")))
    return match.group(1) if match else None


def load_verdict(report: Mapping[str, Any], hint: Message | None) -> Verdict:
    """The ``load`` check's verdict from the child's load report: here, so that the grader and the student
    kit's self-check say the same sentence (an unavailable library is named plainly, issue 16.1)."""
    error = report.get("error")
    if report.get("mode") == "full" and not error:
        return Verdict.ok()
    error = error or {"type": "unknown", "message": ""}
    details = error_details(error)
    kind = error.get("type")
    module = missing_module(error)
    if kind in ("CaseTimeout", "timeout"):
        summary = Message("load.timeout", {"seconds": error.get("seconds", "")})
    elif kind == "crash":
        summary = Message("load.crashed", {"detail": error.get("message", "")})
    elif kind == "SystemExit":
        summary = Message("load.exited", {"code": error.get("message", "")})
    elif module is not None:
        summary = Message("load.library_unavailable", {"module": module})
    else:
        summary = Message("load.raised", {"type": kind, "message": error.get("message", "")})
    details.append(Message("load.definitions_graded"))
    # the main() hint is about code that runs on import; an unavailable library's message says it all
    return Verdict.fail(summary, details, None if module is not None else hint)


def first_error(outcomes: list[CaseOutcome]) -> Verdict | None:
    """The verdict for the first case that stopped early, if any, with the student's traceback."""
    for outcome in outcomes:
        if outcome.error:
            return Verdict.fail(error_message({**outcome.error}), error_details(outcome.error))
    return None


def error_details(error: Mapping[str, Any]) -> list[Message]:
    """The student's own frames, then the sandbox limit the error came from, if any."""
    details = [Message("check.traceback_line", frame) for frame in error.get("traceback", []) or []]
    if error.get("note"):  # the engine's sentence for a limit of the protocol's closed set
        details.append(Message(str(error["note"]), dict(error.get("note_params", {}))))
    return details


def failed_output(value: Any) -> bool:
    return isinstance(value, Failed)


def as_array(value: Any) -> np.ndarray | None:
    """A numeric array from what came back, or None (an object, a failure, a string...)."""
    if isinstance(value, Failed | Opaque | str | dict) or value is None:
        return None
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    return array


def describe_type(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"ndarray shape={value.shape} dtype={value.dtype}"
    if isinstance(value, Opaque):
        return value.description
    if isinstance(value, Failed):
        return f"{value.error.get('type')}: {value.error.get('message')}"
    return type(value).__name__
