"""What a check is: it builds cases (inputs and calls for the child) and judges what came back.

A check never runs student code itself. ``cases()`` is computed once per grading run (the inputs are
the same for every student, drawn from the run's seed); ``judge()`` runs in the grader's process on
decoded plain data. The inputs are a function of the check's params and seed (cached properties both
use), never state that ``cases()`` leaves behind: a fresh check object whose ``cases()`` never ran
judges the same outcomes alike.

A check that uses what another check found out about the same submission (converge trains with the
gradient convention gradcheck detected) says so: ``needs`` and ``provides`` name typed
:class:`Finding` keys, a providing check returns its findings with its verdict (:class:`Judgement`), and
:func:`judge_checks` judges providers first whatever the order of the assignment file, which
:func:`judging_order` checks when the file is loaded (a need nobody provides, two providers, a cycle).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np

from grader.checks.compare import Tolerance
from grader.i18n import Message
from grader.results import Verdict
from grader.run.sandbox.protocol import Failed, Opaque

T = TypeVar("T")


@dataclass(frozen=True)
class CaseOutcome:
    """What one case produced: decoded outputs and, if it stopped early, the error (or crash) why."""

    case_id: str
    outputs: Mapping[str, Any]
    error: Mapping[str, Any] | None
    seconds: float = 0.0

    def get(self, name: str) -> Any:
        return self.outputs.get(name)


@dataclass(frozen=True)
class Finding(Generic[T]):
    """What one check (or the engine) establishes about a submission for other checks to use: a typed key,
    named by ``provides`` of the check that finds it and ``needs`` of the checks that use it."""

    name: str


#: The child's load report (mode, error): provided by the engine, not by a check.
LOAD_REPORT: Finding[Mapping[str, Any]] = Finding("load_report")
ENGINE_FINDINGS: tuple[Finding[Any], ...] = (LOAD_REPORT,)


@dataclass(frozen=True)
class Evidence:
    """What a check is judged on: the outcomes of the cases and the findings it declared in ``needs``."""

    outcomes: Mapping[str, CaseOutcome]
    findings: Mapping[Finding[Any], Any] = field(default_factory=dict)

    def get(self, finding: Finding[T]) -> T | None:
        """The finding, or None when its provider found nothing; a finding not declared in ``needs`` is
        a bug of the check (KeyError), so that every dependency shows in the declarations."""
        if finding not in self.findings:
            raise KeyError(f"{finding.name!r} is not among the check's needs")
        return self.findings[finding]


@dataclass(frozen=True)
class Judgement:
    """A check's verdict and what it found (only findings it declared in ``provides``)."""

    verdict: Verdict
    findings: Mapping[Finding[Any], Any] = field(default_factory=dict)


class Check:
    """Base class: subclasses set ``id`` in the assignment file, override ``cases`` and ``judge`` (or
    ``assess``, when they need or provide findings)."""

    #: Findings this check's judgement returns (in :class:`Judgement`), and findings it reads.
    provides: ClassVar[tuple[Finding[Any], ...]] = ()
    needs: ClassVar[tuple[Finding[Any], ...]] = ()

    def __init__(self, check_id: str, params: Mapping[str, Any], seed: int) -> None:
        self.id = check_id
        self.params = dict(params)
        self.seed = seed

    def rng(self, salt: int = 0) -> np.random.Generator:
        """The check's own random stream: same seed, same inputs, whatever other checks draw."""
        return np.random.default_rng([self.seed, sum(map(ord, self.id)), salt])

    def cases(self) -> list[dict[str, Any]]:
        return []

    def judge(self, outcomes: Mapping[str, CaseOutcome]) -> Verdict:
        raise NotImplementedError

    def assess(self, evidence: Evidence) -> Judgement:
        """What the engine calls: the verdict and the findings. A check that needs or provides findings
        overrides this; the others judge the outcomes alone."""
        return Judgement(self.judge(evidence.outcomes))

    def hint(self) -> Message:
        """The check's hint in the slides' terms: ``<id>.hint`` in the assignment file."""
        return Message(f"{self.id}.hint")

    def stopped(self, outcomes: list[CaseOutcome]) -> Verdict | None:
        """The verdict for the first of ``outcomes`` that stopped early (raised, crashed), with the hint."""
        verdict = first_error(outcomes)
        if verdict is not None:
            verdict.hint = self.hint()
        return verdict

    def file_tolerance(self, rtol: float, atol: float) -> Tolerance:
        """How close a value must be: the assignment file's ``rtol`` and ``atol`` for this check, else these."""
        return Tolerance(self.params.get("rtol", rtol), self.params.get("atol", atol))

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


class DependencyError(ValueError):
    """Checks whose declared needs and provides cannot be met: a need nobody provides, two providers of
    one finding, or a cycle. The message names the check ids."""


def judging_order(declared: Sequence[tuple[str, type[Check]]]) -> list[int]:
    """The indices of ``declared`` (check id, class) in an order that judges every provider before the
    checks that need its finding, otherwise as given; :class:`DependencyError` when there is none."""
    providers: dict[Finding[Any], list[str]] = {}
    for check_id, cls in declared:
        for finding in cls.provides:
            providers.setdefault(finding, []).append(check_id)
    problems = [f"finding {finding.name!r} is provided by more than one check: {', '.join(ids)}"
                for finding, ids in providers.items() if len(ids) > 1]
    problems += [f"check {check_id!r} needs {finding.name!r}, which no check provides"
                 for check_id, cls in declared for finding in cls.needs
                 if finding not in providers and finding not in ENGINE_FINDINGS]
    if problems:
        raise DependencyError("; ".join(problems))
    provider_of = {finding: ids[0] for finding, ids in providers.items()}
    order: list[int] = []
    judged: set[str] = set()
    while len(order) < len(declared):
        ready = next((index for index, (_, cls) in enumerate(declared) if index not in order
                      and {provider_of[finding] for finding in cls.needs if finding in provider_of} <= judged),
                     None)
        if ready is None:
            waiting = [check_id for index, (check_id, _) in enumerate(declared) if index not in order]
            raise DependencyError(f"checks {', '.join(waiting)} need each other's findings (a cycle)")
        order.append(ready)
        judged.add(declared[ready][0])
    return order


def judge_checks(checks: Sequence[Check], outcomes: Mapping[str, CaseOutcome],
                 load: Mapping[str, Any]) -> list[Verdict]:
    """Every check's verdict, in the order of ``checks``, each judged after the checks whose findings it
    needs. A check that raises (a bug of the grader, not the student's) fails with ``check.internal_error``
    and the others go on; so does one that returns a finding it did not declare."""
    known: dict[Finding[Any], Any] = {LOAD_REPORT: load}
    verdicts: dict[int, Verdict] = {}
    for index in judging_order([(check.id, type(check)) for check in checks]):
        check = checks[index]
        try:
            judgement = check.assess(Evidence(outcomes, {finding: known.get(finding) for finding in check.needs}))
            undeclared = [finding.name for finding in judgement.findings if finding not in check.provides]
            if undeclared:
                raise KeyError(f"{check.id} returned findings it does not provide: {undeclared}")
            known.update(judgement.findings)
            verdicts[index] = judgement.verdict
        except Exception as exc:  # a check bug must not cost the class its grades: fail loudly, go on
            verdicts[index] = Verdict.fail(Message("check.internal_error", {"error": f"{type(exc).__name__}: {exc}"}))
    return [verdicts[index] for index in range(len(checks))]


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
