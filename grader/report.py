"""What ``grade`` writes, all from the same result objects: ``scores.csv`` for the TA, and per student
``reports/<id>.json`` and ``reports/<id>.md`` (the shapes are fixed by the spec's "What grade writes").

Nothing here depends on time or on the order in which submissions finished, so that two runs on the
same class give byte-identical files. Every file is written atomically (temporary file, then rename):
a stopped run never leaves a half-written report or CSV behind.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.engine import CheckResult
from grader.i18n import Catalogue, Message

GRADED = "graded"
MISSING = "missing"


@dataclass
class SubmissionResult:
    student_id: str
    status: str
    source: str
    checks: list[CheckResult]
    max: float
    warnings: list[Message] = field(default_factory=list)
    output: str = ""
    output_bytes: int = 0

    @property
    def total(self) -> float:
        return sum(check.score for check in self.checks)


def points(value: float) -> int | float:
    """2.0 -> 2, 1.5 -> 1.5: scores read as people write them."""
    return int(value) if float(value).is_integer() else round(value, 3)


def write_atomic(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def check_message(check: CheckResult, catalogue: Catalogue, lang: str) -> str:
    verdict = check.verdict
    lines = [catalogue.render(verdict.summary, lang)]
    lines += [catalogue.render(detail, lang) for detail in verdict.details]
    if verdict.hint is not None and not verdict.passed:
        lines.append(catalogue.render(verdict.hint, lang))
    return "\n".join(lines)


def to_json(result: SubmissionResult, catalogue: Catalogue, lang: str) -> dict[str, Any]:
    return {
        "student_id": result.student_id,
        "status": result.status,
        "total": points(result.total),
        "max": points(result.max),
        "source": result.source,
        "warnings": [catalogue.render(warning, lang) for warning in result.warnings],
        "checks": [{"id": check.id, "passed": check.passed, "score": points(check.score), "max": points(check.max),
                    "message": check_message(check, catalogue, lang)} for check in result.checks],
    }


def to_markdown(result: SubmissionResult, catalogue: Catalogue, lang: str, title: str) -> str:
    text = lambda key, **params: catalogue.text(key, lang, **params)  # noqa: E731
    lines = [f"# {text('report.title', title=title, student_id=result.student_id)}", ""]
    lines.append(f"- {text('report.score', total=points(result.total), max=points(result.max))}")
    if result.status == MISSING:
        lines += [f"- {text('report.missing')}", ""]
        return "\n".join(lines)
    lines += [f"- {text('report.file', source=result.source)}", ""]
    if result.warnings:
        lines += [f"## {text('report.warnings')}", ""]
        lines += [f"- {catalogue.render(warning, lang)}" for warning in result.warnings]
        lines.append("")
    lines += [f"## {text('report.checks')}", "", f"| {text('report.column_check')} | {text('report.column_result')} "
              f"| {text('report.column_points')} |", "|---|---|---|"]
    for check in result.checks:
        mark = text("report.pass") if check.passed else text("report.fail")
        lines.append(f"| `{check.id}` | {mark} | {points(check.score)} / {points(check.max)} |")
    lines.append("")
    failed = [check for check in result.checks if not check.passed]
    if failed:
        lines += [f"## {text('report.details')}", ""]
        for check in failed:
            verdict = check.verdict
            lines += [f"### `{check.id}` ({points(check.score)} / {points(check.max)})", "",
                      catalogue.render(verdict.summary, lang), ""]
            if verdict.details:
                lines += ["```", *(catalogue.render(detail, lang) for detail in verdict.details), "```", ""]
            if verdict.hint is not None:
                lines += [f"> {catalogue.render(verdict.hint, lang)}", ""]
    if result.output_bytes:
        shown = len(result.output.encode("utf-8"))
        lines += [f"## {text('report.output', shown=shown, total=result.output_bytes)}", "", "```",
                  result.output.replace("```", "ʼʼʼ").rstrip("\n"), "```", ""]
    return "\n".join(lines)


def scores_csv(results: Sequence[SubmissionResult], check_ids: Sequence[str]) -> str:
    """UTF-8 with BOM, so that spreadsheet programs open Japanese text correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student_id", "total", "max", "status", *check_ids])
    for result in sorted(results, key=lambda item: item.student_id):
        scores = {check.id: points(check.score) for check in result.checks}
        writer.writerow([result.student_id, points(result.total), points(result.max), result.status,
                         *(scores.get(check_id, 0) for check_id in check_ids)])
    return "\ufeff" + buffer.getvalue()


def write_student(out: Path, result: SubmissionResult, catalogue: Catalogue, lang: str, title: str) -> None:
    reports = out / "reports"
    write_atomic(reports / f"{result.student_id}.json",
                 json.dumps(to_json(result, catalogue, lang), ensure_ascii=False, indent=2) + "\n")
    write_atomic(reports / f"{result.student_id}.md", to_markdown(result, catalogue, lang, title) + "\n")
