"""What ``grade`` writes, all from the same result objects: ``scores.csv`` for the TA, and per student
``reports/<id>.json``, ``reports/<id>.md`` and ``reports/<id>.html`` (the shapes are fixed by the spec's
"What grade writes").

Hand-given points (``--manual``) only ever add: a ``manual`` column after the spec's columns, a
``manual`` key in the JSON and a section in the Markdown; without them every file is as the spec says.

Nothing here depends on time or on the order in which submissions finished, so that two runs on the
same class give byte-identical files. Every file is written atomically (:mod:`grader.outputs.atomic`):
a stopped run never leaves a half-written report or CSV behind.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grader.i18n import Catalogue, Message
from grader.outputs import escape
from grader.outputs.atomic import write_atomic
from grader.results import CheckResult, Status, SubmissionResult

#: The summary of a failure caused by an earlier check's (grader/checks/failures.py): grouped under that check.
CONSEQUENCE = "check.because_of"


def points(value: float) -> int | float:
    """2.0 -> 2, 1.5 -> 1.5: scores read as people write them."""
    return int(value) if float(value).is_integer() else round(value, 3)


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
        "total": None if result.status == Status.ERROR else points(result.total),  # not judged: no score, not 0
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
        lines += ["", *(f"> {escape.md(row)}" if row else ">" for row in result.manual.comment.splitlines())]
    return [*lines, ""]


def shown_total(result: SubmissionResult) -> str | int | float:
    """A grader fault has no total: it is not the student's zero."""
    return "–" if result.status == Status.ERROR else points(result.total)


def detail_sections(checks: Sequence[CheckResult]) -> list[list[CheckResult]]:
    """The failed checks as the reports explain them: each failure on its own, and right after it, in
    one section, every check that failed only because of it (issue 13.4: one syntax error is one
    section, not twelve)."""
    failed = [check for check in checks if not check.passed]
    consequences: dict[str, list[CheckResult]] = {}
    for check in failed:
        if check.verdict.summary.key == CONSEQUENCE:
            consequences.setdefault(str(check.verdict.summary.params.get("first")), []).append(check)
    sections: list[list[CheckResult]] = []
    for check in failed:
        if check.verdict.summary.key != CONSEQUENCE:
            sections.append([check])
            group = consequences.pop(check.id, [])
            if group:
                sections.append(group)
    sections += [[check] for group in consequences.values() for check in group]  # a cause that passed: alone
    return sections


def section_points(checks: Sequence[CheckResult]) -> str:
    """"0 / 2" for one check, "-15" for a group (the points the cause cost them together)."""
    if len(checks) == 1:
        return f"{points(checks[0].score)} / {points(checks[0].max)}"
    return f"-{points(sum(check.max - check.score for check in checks))}"


def to_markdown(result: SubmissionResult, catalogue: Catalogue, lang: str, title: str) -> str:
    """The student's report in Markdown; everything a student wrote is escaped (:mod:`grader.outputs.escape`)."""
    text = lambda key, **params: catalogue.text(key, lang, **params)  # noqa: E731

    def md(message: Message) -> str:
        return escape.render(catalogue, message, lang, escape.md)

    def plain(message: Message) -> str:  # inside a fenced block only the fence needs care
        return escape.render(catalogue, message, lang, str)
    lines = [f"# {text('report.title', title=title, student_id=result.student_id)}", ""]
    lines.append(f"- {text('report.score', total=shown_total(result), max=points(result.max))}")
    if result.status == Status.ERROR:
        lines += [f"- {text('report.grader_error')}"]
    if result.status == Status.MISSING:
        lines += [f"- {text('report.missing')}", ""]
        lines += manual_lines(result, catalogue, lang)
        return "\n".join(lines)
    lines += [f"- {text('report.file', source=escape.md(result.source))}"]
    if result.sandbox:
        lines.append(f"- {text('report.sandbox', sandbox=escape.md(result.sandbox))}")
    lines.append("")
    if result.warnings:
        lines += [f"## {text('report.warnings')}", ""]
        lines += [f"- {md(warning)}" for warning in result.warnings]
        lines.append("")
    lines += [f"## {text('report.checks')}", "", f"| {text('report.column_check')} | {text('report.column_result')} "
              f"| {text('report.column_points')} |", "|---|---|---|"]
    for check in result.checks:
        mark = text("report.pass") if check.passed else text("report.fail")
        lines.append(f"| `{check.id}` | {mark} | {points(check.score)} / {points(check.max)} |")
    lines.append("")
    lines += manual_lines(result, catalogue, lang)
    sections = detail_sections(result.checks)
    if sections:
        lines += [f"## {text('report.details')}", ""]
        for checks in sections:
            verdict = checks[0].verdict
            names = ", ".join(f"`{check.id}`" for check in checks)
            lines += [f"### {names} ({section_points(checks)})", "", md(verdict.summary), ""]
            if verdict.details:
                lines += [*escape.md_code_block("\n".join(plain(detail) for detail in verdict.details)), ""]
            if verdict.hint is not None:
                lines += [f"> {md(verdict.hint)}", ""]
    if result.output_bytes:
        shown = len(result.output.encode("utf-8"))
        lines += [f"## {text('report.output', shown=shown, total=result.output_bytes)}", "",
                  *escape.md_code_block(result.output.rstrip("\n")), ""]
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
        if result.status == Status.ERROR:  # not judged: empty cells, never a zero a spreadsheet would add up
            writer.writerow([result.student_id, "", points(result.max), result.status, *("" for _ in check_ids),
                             *extra])
            continue
        writer.writerow([result.student_id, points(result.total), points(result.max), result.status,
                         *(scores.get(check_id, 0) for check_id in check_ids), *extra])
    return "\ufeff" + buffer.getvalue()


def write_student(out: Path, result: SubmissionResult, catalogue: Catalogue, lang: str, title: str) -> None:
    reports = out / "reports"
    write_atomic(reports / f"{result.student_id}.json",
                 json.dumps(to_json(result, catalogue, lang), ensure_ascii=False, indent=2) + "\n")
    write_atomic(reports / f"{result.student_id}.md", to_markdown(result, catalogue, lang, title) + "\n")
    write_atomic(reports / f"{result.student_id}.html", to_html(result, catalogue, lang, title))


# ---------------------------------------------------------------------------------------------------
# The student's report as one HTML file (also the Moodle feedback file)

#: No fonts, scripts or images from elsewhere: the file opens offline, from an LMS attachment, on a phone.
_HTML_STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Hiragino Sans","Noto Sans CJK JP",Meiryo,sans-serif;line-height:1.6;
margin:0 auto;padding:1em;max-width:60em;color:#222;overflow-wrap:anywhere}
h1{font-size:1.4em;margin:.3em 0}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
h3{font-size:1em;margin:1.2em 0 .3em}
.score{font-size:1.3em;font-weight:bold}
.scroll{overflow-x:auto}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}
th{background:#f3f3f3}td.num{text-align:right;white-space:nowrap}
.ok{color:#17803d}.ng{color:#b42318}
pre{background:#f7f7f7;padding:.6em;white-space:pre-wrap;word-break:break-word;font-size:.9em;margin:.3em 0}
blockquote{margin:.5em 0;padding:.2em .8em;border-left:4px solid #ccc;color:#444}
ul{padding-left:1.4em}
@media print{body{max-width:none;padding:0;font-size:10.5pt}pre,th{background:none}
h2,h3{break-after:avoid}tr,pre,blockquote{break-inside:avoid}.scroll{overflow:visible}}
"""


def to_html(result: SubmissionResult, catalogue: Catalogue, lang: str, title: str) -> str:
    """The Markdown report's content as one self-contained page; every rendered sentence is escaped,
    since a message's parameters carry the student's own text (exception messages, output, file names)."""

    def text(key: str, **params: object) -> str:
        return escape.html(catalogue.text(key, lang, **params))

    def render(message: Message) -> str:
        return escape.html(catalogue.render(message, lang))

    heading = text("report.title", title=title, student_id=result.student_id)
    out = ['<!DOCTYPE html>', f'<html lang="{escape.html(lang)}">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{heading}</title>", f"<style>{_HTML_STYLE}</style>", "</head>", "<body>",
           f"<h1>{heading}</h1>",
           f'<p class="score">{text("report.score", total=shown_total(result), max=points(result.max))}</p>']
    if result.status == Status.ERROR:
        out.append(f"<p>{text('report.grader_error')}</p>")
    if result.status == Status.MISSING:
        out.append(f"<p>{text('report.missing')}</p>")
    else:
        out.append(f"<p>{text('report.file_label')}: <code>{escape.html(result.source)}</code></p>")
        if result.sandbox:
            out.append(f"<p>{escape.html(text('report.sandbox', sandbox=result.sandbox))}</p>")
        if result.warnings:
            out += [f"<h2>{text('report.warnings')}</h2>", "<ul>",
                    *(f"<li>{render(warning)}</li>" for warning in result.warnings), "</ul>"]
        out += [f"<h2>{text('report.checks')}</h2>", '<div class="scroll"><table>',
                f"<tr><th>{text('report.column_check')}</th><th>{text('report.column_result')}</th>"
                f"<th>{text('report.column_points')}</th></tr>"]
        for check in result.checks:
            # plain marks, not the Markdown's emoji: a printer or a PC without an emoji font shows boxes
            mark = (f'<span class="ok">{text("report.pass_word")}</span>' if check.passed
                    else f'<span class="ng">{text("report.fail_word")}</span>')
            out.append(f"<tr><td><code>{escape.html(check.id)}</code></td><td>{mark}</td>"
                       f'<td class="num">{points(check.score)} / {points(check.max)}</td></tr>')
        out.append("</table></div>")
    out += _manual_html(result, catalogue, lang)
    sections = detail_sections(result.checks) if result.status != Status.MISSING else []
    if sections:
        out.append(f"<h2>{text('report.details')}</h2>")
        for checks in sections:
            verdict = checks[0].verdict
            names = ", ".join(f"<code>{escape.html(check.id)}</code>" for check in checks)
            out += [f"<h3>{names} ({section_points(checks)})</h3>", f"<p>{render(verdict.summary)}</p>"]
            if verdict.details:
                out.append("<pre>" + "\n".join(render(detail) for detail in verdict.details) + "</pre>")
            if verdict.hint is not None:
                out.append(f"<blockquote>{render(verdict.hint)}</blockquote>")
    if result.output_bytes:
        shown = len(result.output.encode("utf-8"))
        out += [f"<h2>{text('report.output', shown=shown, total=result.output_bytes)}</h2>",
                f"<pre>{escape.html(result.output.rstrip(chr(10)))}</pre>"]
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def _manual_html(result: SubmissionResult, catalogue: Catalogue, lang: str) -> list[str]:
    if result.manual is None:
        return []
    score = points(result.manual.points)
    line = (catalogue.text("manual.report_points_of", lang, points=score, max=points(result.manual_max))
            if result.manual_max is not None else catalogue.text("manual.report_points", lang, points=score))
    out = [f"<h2>{escape.html(catalogue.text('manual.report_title', lang))}</h2>", f"<p>{escape.html(line)}</p>"]
    if result.manual.comment:
        out.append(f"<blockquote>{escape.html(result.manual.comment).replace(chr(10), '<br>')}</blockquote>")
    return out
