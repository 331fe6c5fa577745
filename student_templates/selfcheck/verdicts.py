"""What the tests ask: the message for one check of one file, or None when it passes."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

from selfcheck import judge, session
from selfcheck._vendor.results import Verdict
from selfcheck.messages import render

NOT_IMPLEMENTED = "common.not_implemented"
WARNINGS: dict[str, list] = {}  # file name -> its warnings, for the summary at the end of the run


@functools.cache
def verdicts(path: Path, suite: str) -> dict[str, Verdict]:
    execution = session.run(path, suite)
    if execution.warnings:
        WARNINGS[path.name] = execution.warnings
    return judge.judge_all(suite, execution.load, execution.outcomes, execution.cells)


def prefetch(targets: Iterable[tuple[Path, str]]) -> None:
    """Run the files one after another in one child process before the tests read their verdicts: a
    process per file, side by side, cost more than the files themselves (Python, numpy and pandas
    loaded again for each)."""
    for target in sorted({(path.resolve(), suite) for path, suite in targets}):
        verdicts(*target)


def message(verdict: Verdict, lang: str) -> str:
    """One line for 'not implemented yet'; otherwise summary, details and hint, as the grader's report."""
    if verdict.summary.key == NOT_IMPLEMENTED:
        return render(verdict.summary, lang)
    lines = [render(verdict.summary, lang), *(render(detail, lang) for detail in verdict.details)]
    if verdict.hint is not None:
        lines.append(render(verdict.hint, lang))
    return "\n".join(lines)


def failure(path: Path, suite: str, check_id: str, lang: str) -> str | None:
    verdict = verdicts(path.resolve(), suite)[check_id]
    return None if verdict.passed else message(verdict, lang)


def warnings_text(lang: str) -> list[str]:
    return [f"{name}: {render(warning, lang)}" for name, found in sorted(WARNINGS.items()) for warning in found]
