"""One check's verdict as the grader's ``failures.relate`` and ``cells.cite_checks`` read and rewrite it
(the kit's stand-in for ``grader.run.engine.CheckResult``, which those vendored modules import)."""

from __future__ import annotations

from dataclasses import dataclass

from selfcheck._vendor.base import Verdict


@dataclass
class Result:
    id: str
    passed: bool
    verdict: Verdict
