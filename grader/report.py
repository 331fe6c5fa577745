"""What ``grade`` writes, all from the same result objects: ``scores.csv`` for the TA, and per student
``reports/<id>.json`` and ``reports/<id>.md`` (the shapes are fixed by the spec's "What grade writes").

Hand-given points (``--manual``) only ever add: a ``manual`` column after the spec's columns, a
``manual`` key in the JSON and a section in the Markdown; without them every file is as the spec says.

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
from typing import TYPE_CHECKING, Any

from grader.engine import CheckResult
from grader.i18n import Catalogue, Message

if TYPE_CHECKING:
    from grader.manual import ManualPoints

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
    #: Points a TA gave by hand, and the most they could be (None: not counted in ``max``).
    manual: ManualPoints | None = None
    manual_max: float | None = None
    #: Which sandbox ran the code (bubblewrap version and path, or none): the run's provenance, in the
    #: Markdown report (the JSON report's keys are fixed by the contract).
    sandbox: str = ""

    @property
    def total(self) -> float:
        return sum(check.score for check in self.checks) + (self.manual.points if self.manual else 0.0)


def points(value: float) -> int | float:
    """2.0 -> 2, 1.5 -> 1.5: scores read as people write them."""
    return int(value) if float(value).is_integer() else round(value, 3)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: Read once at import: ``os.umask`` can only be read by setting it, which is not thread-safe later.
_FILE_MODE = 0o666 & ~_umask()


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write to a temporary file beside ``path``, then rename: readers see the old file or the new one.

    The file gets the usual permissions (0o666 less the umask), not ``mkstemp``'s private 0o600, so
    reports can be shared like any other file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(temporary, _FILE_MODE)
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
    data: dict[str, Any] = {
        "student_id": result.student_id,
        "status": result.status,
        "total": points(result.total),
        "max": points(result.max),
        "source": result.source,
        "warnings": [catalogue.render(warning, lang) for warning in result.warnings],
        "checks": [{"id": check.id, "passed": check.passed, "score": points(check.score), "max": points(check.max),
                    "message": check_message(check, catalogue, lang)} for check in result.checks],
    }
    if result.manual is not None:
        data["manual"] = {"points": points(result.manual.points), "comment": result.manual.comment}
        if result.manual_max is not None:
            data["manual"]["max"] = points(result.manual_max)
    return data


def manual_lines(result: SubmissionResult, catalogue: Catalogue, lang: str) -> list[str]:
    """The report's section on hand-given points; the TA's comment is quoted, never interpreted."""
    if result.manual is None:
        return []
    text = lambda key, **params: catalogue.text(key, lang, **params)  # noqa: E731
    score = points(result.manual.points)
    line = (text("manual.report_points_of", points=score, max=points(result.manual_max))
            if result.manual_max is not None else text("manual.report_points", points=score))
    lines = [f"## {text('manual.report_title')}", "", f"- {line}"]
    if result.manual.comment:
        lines += ["", *(f"> {row}" if row else ">" for row in result.manual.comment.splitlines())]
    return [*lines, ""]


def to_markdown(result: SubmissionResult, catalogue: Catalogue, lang: str, title: str) -> str:
    text = lambda key, **params: catalogue.text(key, lang, **params)  # noqa: E731
    lines = [f"# {text('report.title', title=title, student_id=result.student_id)}", ""]
    lines.append(f"- {text('report.score', total=points(result.total), max=points(result.max))}")
    if result.status == MISSING:
        lines += [f"- {text('report.missing')}", ""]
        lines += manual_lines(result, catalogue, lang)
        return "\n".join(lines)
    lines += [f"- {text('report.file', source=result.source)}"]
    if result.sandbox:
        lines.append(f"- {text('report.sandbox', sandbox=result.sandbox)}")
    lines.append("")
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
    lines += manual_lines(result, catalogue, lang)
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


def scores_csv(results: Sequence[SubmissionResult], check_ids: Sequence[str], *, manual: bool = False) -> str:
    """UTF-8 with BOM, so that spreadsheet programs open Japanese text correctly.

    With ``manual`` a ``manual`` column follows the spec's columns (their order never changes).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student_id", "total", "max", "status", *check_ids, *(["manual"] if manual else [])])
    for result in sorted(results, key=lambda item: item.student_id):
        scores = {check.id: points(check.score) for check in result.checks}
        extra = [points(result.manual.points) if result.manual else ""] if manual else []
        writer.writerow([result.student_id, points(result.total), points(result.max), result.status,
                         *(scores.get(check_id, 0) for check_id in check_ids), *extra])
    return "\ufeff" + buffer.getvalue()


def write_student(out: Path, result: SubmissionResult, catalogue: Catalogue, lang: str, title: str) -> None:
    reports = out / "reports"
    write_atomic(reports / f"{result.student_id}.json",
                 json.dumps(to_json(result, catalogue, lang), ensure_ascii=False, indent=2) + "\n")
    write_atomic(reports / f"{result.student_id}.md", to_markdown(result, catalogue, lang, title) + "\n")
