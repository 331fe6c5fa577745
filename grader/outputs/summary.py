"""The class at a glance for the TA: ``summary.html`` (one self-contained file) and ``summary.md``.

Both hold the same numbers: the score distribution, each check's pass rate, the most common causes
of failure (one cause, such as a syntax error, is one row however many checks it failed), pairs of
similar submissions with their shared passages side by side, and every student with a link to their
report. The HTML embeds its histogram as inline SVG whose labels are text, so the browser draws them
in the page's (Japanese) font, and uses no script, font or stylesheet from elsewhere, so it opens
offline from a USB stick or an LMS attachment. Its tables fit a 1200 px window: a wide one scrolls
inside itself.

Everything a student or a TA wrote (ids, file names, error messages, code, comments) is escaped: a
submission printing ``<script>`` must show up as text in the TA's browser. Nothing depends on time,
so two runs on the same class write the same bytes.
"""

from __future__ import annotations

import io
import statistics
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from grader.copydetect.similarity import Pair, passage_text
from grader.i18n import Catalogue, Message
from grader.outputs import escape
from grader.outputs.report import CONSEQUENCE, points, shown_total
from grader.results import Status, SubmissionResult

TOP_FAILURES = 10
HISTOGRAM_COLOR = "#1f77b4"


@dataclass
class ClassSummary:
    """What the summary shows; built once by :func:`summarize`, rendered twice."""

    title: str
    check_ids: list[str]
    results: list[SubmissionResult]
    #: check id -> (passed, graded)
    pass_rates: dict[str, tuple[int, int]]
    #: (first line of the message, the checks it failed, the students), most students first
    failures: list[tuple[str, list[str], list[str]]]
    pairs: list[Pair]
    sources: Mapping[str, str]
    threshold: float
    notes: list[str] = field(default_factory=list)

    @property
    def graded(self) -> list[SubmissionResult]:
        return [result for result in self.results if result.status == Status.GRADED]


def summarize(title: str, check_ids: Sequence[str], results: Sequence[SubmissionResult], catalogue: Catalogue,
              lang: str, pairs: Sequence[Pair], sources: Mapping[str, str], threshold: float,
              notes: Sequence[Message] = ()) -> ClassSummary:
    ordered = sorted(results, key=lambda item: item.student_id)
    graded = [result for result in ordered if result.status == Status.GRADED]
    rates = {check_id: (sum(1 for result in graded for check in result.checks if check.id == check_id
                            and check.passed), len(graded)) for check_id in check_ids}
    order = {check_id: index for index, check_id in enumerate(check_ids)}
    grouped: dict[str, tuple[list[str], list[str]]] = {}
    for result in graded:
        for check in result.checks:
            if not check.passed and check.verdict.summary.key != CONSEQUENCE:  # counted at its cause
                line = catalogue.render(check.verdict.summary, lang).split("\n", 1)[0]
                checks, students = grouped.setdefault(line, ([], []))
                if check.id not in checks:
                    checks.append(check.id)
                if result.student_id not in students:
                    students.append(result.student_id)
    failures = sorted(((line, sorted(checks, key=lambda item: order.get(item, len(order))), students)
                       for line, (checks, students) in grouped.items()),
                      key=lambda item: (-len(item[2]), order.get(item[1][0], len(order)), item[0]))[:TOP_FAILURES]
    return ClassSummary(title, list(check_ids), ordered, rates, failures, list(pairs), sources, threshold,
                        [catalogue.render(note, lang) for note in notes])


def histogram_svg(totals: Sequence[float], maximum: float, labels: tuple[str, str]) -> str:
    """The score histogram as an inline ``<svg>``, one bar per point, its labels kept as text.

    Matplotlib's fonts have no Japanese glyphs (a PNG showed boxes for 得点); as text, the labels are
    drawn by the browser with the page's fonts. No pyplot: only the SVG settings are set, for the
    duration of the call, and the ids are salted with a constant so the same class gives the same bytes.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 3.2), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    top = max(1, int(maximum + 0.999))
    axes.hist(list(totals), bins=[value - 0.5 for value in range(top + 2)], color=HISTOGRAM_COLOR,
              edgecolor="white")
    axes.set_xlim(-0.5, top + 0.5)
    axes.set_xlabel(labels[0])
    axes.set_ylabel(labels[1])
    axes.yaxis.get_major_locator().set_params(integer=True)
    buffer = io.StringIO()
    with warnings.catch_warnings(), matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "ex-grader"}):
        warnings.simplefilter("ignore")  # "Glyph ... missing from font(s)": the browser draws the text
        figure.tight_layout()
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):].strip()


def _percent(passed: int, graded: int) -> str:
    return f"{100 * passed / graded:.0f}%" if graded else "–"


def _stats(summary: ClassSummary) -> dict[str, str]:
    totals = [result.total for result in summary.graded]
    if not totals:
        return {"mean": "–", "median": "–", "low": "–", "high": "–"}
    return {"mean": f"{statistics.fmean(totals):.2f}", "median": str(points(statistics.median(totals))),
            "low": str(points(min(totals))), "high": str(points(max(totals)))}


def _report_link(student_id: str, extension: str = "md") -> str:
    """The student's report beside the summary: the HTML summary links the HTML report, which a browser shows."""
    return f"reports/{quote(student_id)}.{extension}"


def _status(result: SubmissionResult, text: Callable[[str], str]) -> str:
    return text({Status.GRADED: "summary.status_graded", Status.ERROR: "summary.status_error"}.get(result.status,
                                                                                     "summary.status_missing"))


def _total(result: SubmissionResult) -> str:
    return f"{shown_total(result)} / {points(result.max)}"


# ---------------------------------------------------------------------------------------------------
# HTML

_STYLE = """
body{font-family:system-ui,-apple-system,"Hiragino Sans","Noto Sans CJK JP",Meiryo,sans-serif;margin:2em;
color:#222;max-width:80em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;
vertical-align:top}th{background:#f3f3f3}td.num{text-align:right}
.bar{display:inline-block;height:.8em;background:#1f77b4}.ok{color:#17803d}.ng{color:#b42318}
.side{display:flex;gap:1em}.side pre{flex:1;margin:0;background:#f7f7f7;padding:.5em;overflow:auto;
font-size:.85em}.side h4{margin:.2em 0}.note{color:#555}table.students td{white-space:nowrap}
.scroll{max-width:100%;overflow-x:auto}td.num,th.num{white-space:nowrap}
#histogram{max-width:100%;height:auto}
@media print{body{margin:0;max-width:none}.scroll{overflow:visible}}
"""


def to_html(summary: ClassSummary, catalogue: Catalogue, lang: str) -> str:
    def text(key: str, **params: object) -> str:
        return escape.html(catalogue.text(key, lang, **params))

    esc = escape.html
    stats = _stats(summary)
    missing = len(summary.results) - len(summary.graded)
    maximum = max((result.max for result in summary.results), default=0.0)
    out = [f'<!DOCTYPE html>\n<html lang="{esc(lang)}">\n<head>\n<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{text('summary.title', title=summary.title)}</title>",
           f"<style>{_STYLE}</style>\n</head>\n<body>",
           f"<h1>{text('summary.title', title=summary.title)}</h1>",
           "<p>" + text("summary.overview", graded=len(summary.graded), missing=missing, **stats,
                        max=points(maximum)) + "</p>"]
    for note in summary.notes:
        out.append(f'<p class="note">{esc(note)}</p>')

    out.append(f"<h2>{text('summary.distribution')}</h2>")
    if summary.graded:
        svg = histogram_svg([result.total for result in summary.graded], maximum,
                            (catalogue.text("summary.axis_score", lang), catalogue.text("summary.axis_students", lang)))
        out.append(f'<svg id="histogram" role="img" aria-label="{text("summary.histogram_alt")}" '
                   + svg.removeprefix("<svg "))
    else:
        out.append(f"<p>{text('summary.nothing_graded')}</p>")

    out.append(f"<h2>{text('summary.pass_rates')}</h2>")
    out.append(f"<table><tr><th>{text('summary.column_check')}</th><th>{text('summary.column_passed')}</th>"
               f"<th>{text('summary.column_rate')}</th><th></th></tr>")
    for check_id in summary.check_ids:
        passed, graded = summary.pass_rates[check_id]
        width = round(200 * passed / graded) if graded else 0
        out.append(f"<tr><td><code>{esc(check_id)}</code></td><td class=\"num\">{passed} / {graded}</td>"
                   f"<td class=\"num\">{_percent(passed, graded)}</td>"
                   f'<td><span class="bar" style="width:{width}px"></span></td></tr>')
    out.append("</table>")

    out.append(f"<h2>{text('summary.failures')}</h2>")
    if summary.failures:
        out.append(f'<div class="scroll"><table><tr><th class="num">{text("summary.column_count")}</th>'
                   f"<th>{text('summary.column_message')}</th><th>{text('summary.column_checks')}</th>"
                   f"<th>{text('summary.column_students')}</th></tr>")
        for line, checks, ids in summary.failures:
            links = ", ".join(f'<a href="{esc(_report_link(student_id, "html"))}">{esc(student_id)}</a>'
                              for student_id in ids)
            names = ", ".join(f"<code>{esc(check_id)}</code>" for check_id in checks)
            out.append(f"<tr><td class=\"num\">{len(ids)}</td><td>{esc(line)}</td><td>{names}</td>"
                       f"<td>{links}</td></tr>")
        out.append("</table></div>")
    else:
        out.append(f"<p>{text('summary.no_failures')}</p>")

    out.append(f"<h2>{text('summary.similarity')}</h2>")
    out.append(f'<p class="note">{text("summary.similarity_note", threshold=f"{summary.threshold:.0%}")}</p>')
    if not summary.pairs:
        out.append(f"<p>{text('summary.similarity_none')}</p>")
    for pair in summary.pairs:
        heading = text("summary.pair", a=pair.a, b=pair.b, score=f"{pair.score:.0%}", tokens=pair.shared_tokens)
        out.append(f"<h3>{heading}</h3>")
        for passage in pair.passages:
            left = passage_text(summary.sources.get(pair.a, ""), passage.first_a, passage.last_a)
            right = passage_text(summary.sources.get(pair.b, ""), passage.first_b, passage.last_b)
            out.append('<div class="side"><div style="flex:1">'
                       f"<h4>{text('summary.passage', student_id=pair.a, first=passage.first_a, last=passage.last_a)}"
                       f"</h4><pre>{esc(left)}</pre></div><div style=\"flex:1\">"
                       f"<h4>{text('summary.passage', student_id=pair.b, first=passage.first_b, last=passage.last_b)}"
                       f"</h4><pre>{esc(right)}</pre></div></div>")

    out.append(f"<h2>{text('summary.students')}</h2>")
    manual = any(result.manual is not None for result in summary.results)
    header = [text("summary.column_student"), text("summary.column_status"), text("summary.column_total"),
              *(f"<code>{esc(check_id)}</code>" for check_id in summary.check_ids),
              *([text("summary.column_manual")] if manual else [])]
    out.append('<div class="scroll"><table class="students"><tr>' + "".join(f"<th>{cell}</th>" for cell in header)
               + "</tr>")
    for result in summary.results:
        marks = {check.id: check.passed for check in result.checks}
        cells = [f'<a href="{esc(_report_link(result.student_id, "html"))}">{esc(result.student_id)}</a>',
                 esc(_status(result, lambda key: catalogue.text(key, lang))),
                 _total(result)]
        for check_id in summary.check_ids:
            passed = marks.get(check_id)
            cells.append('<span class="ok">✓</span>' if passed else '<span class="ng">✗</span>'
                         if result.status == Status.GRADED else "")
        if manual:
            cells.append("" if result.manual is None else str(points(result.manual.points)))
        out.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    out.append("</table></div>\n</body>\n</html>\n")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------------
# Markdown


def to_markdown(summary: ClassSummary, catalogue: Catalogue, lang: str) -> str:
    def text(key: str, **params: object) -> str:
        return catalogue.text(key, lang, **params)

    stats = _stats(summary)
    missing = len(summary.results) - len(summary.graded)
    maximum = max((result.max for result in summary.results), default=0.0)
    lines = [f"# {text('summary.title', title=summary.title)}", "",
             text("summary.overview", graded=len(summary.graded), missing=missing, **stats, max=points(maximum)), ""]
    lines += [*(f"> {escape.md(note)}" for note in summary.notes), *([""] if summary.notes else [])]

    lines += [f"## {text('summary.distribution')}", ""]
    counts = Counter(points(result.total) for result in summary.graded)
    if counts:
        lines += [f"| {text('summary.axis_score')} | {text('summary.axis_students')} |", "|---:|---:|"]
        lines += [f"| {score} | {counts[score]} |" for score in sorted(counts)]
    else:
        lines.append(text("summary.nothing_graded"))
    lines.append("")

    lines += [f"## {text('summary.pass_rates')}", "",
              f"| {text('summary.column_check')} | {text('summary.column_passed')} | {text('summary.column_rate')} |",
              "|---|---:|---:|"]
    for check_id in summary.check_ids:
        passed, graded = summary.pass_rates[check_id]
        lines.append(f"| `{check_id}` | {passed} / {graded} | {_percent(passed, graded)} |")
    lines.append("")

    lines += [f"## {text('summary.failures')}", ""]
    if summary.failures:
        lines += [f"| {text('summary.column_count')} | {text('summary.column_message')} | "
                  f"{text('summary.column_checks')} | {text('summary.column_students')} |", "|---:|---|---|---|"]
        for line, checks, ids in summary.failures:
            links = ", ".join(f"[{student_id}]({_report_link(student_id)})" for student_id in ids)
            names = ", ".join(f"`{check_id}`" for check_id in checks)
            lines.append(f"| {len(ids)} | {escape.md(line)} | {names} | {links} |")
    else:
        lines.append(text("summary.no_failures"))
    lines.append("")

    lines += [f"## {text('summary.similarity')}", "",
              text("summary.similarity_note", threshold=f"{summary.threshold:.0%}"), ""]
    if not summary.pairs:
        lines += [text("summary.similarity_none"), ""]
    for pair in summary.pairs:
        heading = text("summary.pair", a=pair.a, b=pair.b, score=f"{pair.score:.0%}", tokens=pair.shared_tokens)
        lines += [f"### {heading}", ""]
        for passage in pair.passages:
            for student_id, first, last in ((pair.a, passage.first_a, passage.last_a),
                                            (pair.b, passage.first_b, passage.last_b)):
                body = passage_text(summary.sources.get(student_id, ""), first, last)
                lines += [f"{text('summary.passage', student_id=student_id, first=first, last=last)}", "",
                          *escape.md_code_block(body, "python"), ""]

    lines += [f"## {text('summary.students')}", ""]
    manual = any(result.manual is not None for result in summary.results)
    header = [text("summary.column_student"), text("summary.column_status"), text("summary.column_total"),
              *(f"`{check_id}`" for check_id in summary.check_ids),
              *([text("summary.column_manual")] if manual else [])]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for result in summary.results:
        marks = {check.id: check.passed for check in result.checks}
        cells = [f"[{result.student_id}]({_report_link(result.student_id)})",
                 _status(result, lambda key: catalogue.text(key, lang)),
                 _total(result),
                 *("" if result.status != Status.GRADED else "✓" if marks.get(check_id) else "✗"
                   for check_id in summary.check_ids)]
        if manual:
            cells.append("" if result.manual is None else str(points(result.manual.points)))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    return "\n".join(lines)
