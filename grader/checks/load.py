"""The ``load`` check: the file's top-level code ran to the end within the limits.

Judged from the child's load report, which the engine provides (:data:`LOAD_REPORT`); the sentences are
:func:`load_verdict`'s, shared with the student kit's self-check.
"""

from __future__ import annotations

from grader.checks.base import LOAD_REPORT, Check, Evidence, Judgement, load_verdict


class Load(Check):
    """The file loaded (judged from the load report alone: it has no cases)."""

    needs = (LOAD_REPORT,)

    def assess(self, evidence: Evidence) -> Judgement:
        return Judgement(load_verdict(evidence.get(LOAD_REPORT) or {}, self.hint()))
