"""The result model: what grading found, as plain data.

Every stage after judging reads these types and nothing else: the reports, the summary, the exports, the
worksheet, the resume cache, and the student kit's self-check (which vendors this module, so it imports
only the standard library and the message type). Messages stay keys with parameters here: a result is
rendered in the run's language only when a file is written, whether it was graded now or read back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from grader.i18n import Message


@dataclass
class Verdict:
    """The judgement of one check: a summary line, detail lines, and a hint in the slides' terms."""

    passed: bool
    summary: Message
    details: list[Message] = field(default_factory=list)
    hint: Message | None = None

    @classmethod
    def ok(cls, summary: Message | None = None, details: list[Message] | None = None) -> Verdict:
        return cls(True, summary or Message("check.passed"), details or [])

    @classmethod
    def fail(cls, summary: Message, details: list[Message] | None = None, hint: Message | None = None) -> Verdict:
        return cls(False, summary, details or [], hint)


@dataclass
class CheckResult:
    """One check of one submission: its points out of ``max``, and the verdict that says why."""

    id: str
    passed: bool
    score: float
    max: float
    verdict: Verdict


class Status(StrEnum):
    """The status of a submission's result, written as is in ``scores.csv`` and the JSON report (a
    ``StrEnum``: the spec's strings, byte for byte).

    ``GRADED``: judged. ``MISSING``: a roster entry without a submission. ``ERROR``: the grader itself
    failed on the submission, a grader fault that is never the student's zero, never in the class
    statistics, and makes ``grade`` exit with GRADER_ERROR so that a script notices.
    """

    GRADED = "graded"
    MISSING = "missing"
    ERROR = "error"


@dataclass(frozen=True)
class ManualPoints:
    """Points a TA gave by hand (the discussion, 考察), and the TA's comment (quoted, never interpreted)."""

    points: float
    comment: str


@dataclass
class SubmissionResult:
    """Everything the outputs say about one student: status, checks, warnings, what the code printed."""

    student_id: str
    status: Status
    source: str
    checks: list[CheckResult]
    max: float
    warnings: list[Message] = field(default_factory=list)
    #: What the student's code printed (the first ``output_bytes`` limit of it) and how much it printed.
    output: str = ""
    output_bytes: int = 0
    #: Points a TA gave by hand, and the most they could be (None: not counted in ``max``).
    manual: ManualPoints | None = None
    manual_max: float | None = None
    #: Which sandbox ran the code (bubblewrap version and path, or none): the run's provenance, in the
    #: Markdown report (the JSON report's keys are fixed by the contract).
    sandbox: str = ""

    @property
    def total(self) -> float:
        return sum(check.score for check in self.checks) + (self.manual.points if self.manual else 0.0)
