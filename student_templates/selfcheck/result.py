"""One check's verdict as the grader's ``failures.relate`` and ``cells.cite_checks`` read and rewrite it
(the kit's stand-in for ``grader.results.CheckResult``: the kit judges, it does not score)."""

from __future__ import annotations

from dataclasses import dataclass

from selfcheck._vendor.results import Verdict


@dataclass
class Result:
    id: str
    passed: bool
    verdict: Verdict
