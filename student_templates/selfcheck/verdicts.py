"""What the tests ask: the message for one check of one file, or None when it passes."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from selfcheck import judge, session
from selfcheck._vendor.base import Verdict
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
    """Run the files side by side (one child process each) before the tests read their verdicts."""
    unique = sorted({(path.resolve(), suite) for path, suite in targets})
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        list(pool.map(lambda target: verdicts(*target), unique))


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
