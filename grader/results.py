"""The result model: what grading found, as plain data.

Every stage after judging reads these types and nothing else: the reports, the summary, the exports, the
resume cache, and the student kit's self-check (which vendors this module, so it imports only the standard
library and the message type).
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
