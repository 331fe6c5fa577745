"""reports/<id>.html: the student's report as one self-contained page, readable on a phone and on paper.

Built from the same result objects as the .md and .json; everything the student wrote (exception
messages, printed output, file names) is text, never markup. The browser test opens the page at a
phone's width in Debian's chromium and skips with the reason when it is not installed.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from test_summary import CHROMIUM, chromium, needs_chromium

from grader.i18n import LANGUAGES, Catalogue, Message
from grader.outputs.report import to_html, to_json, to_markdown
from grader.results import CheckResult, ManualPoints, Status, SubmissionResult, Verdict

CATALOGUE = Catalogue.load_engine()
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def hostile_result() -> SubmissionResult:
    checks = [CheckResult("load", True, 1.0, 1.0, Verdict.ok()),
              CheckResult("normalize", False, 0.0, 2.0, Verdict.fail(
                  Message("check.raised", {"name": "normalize", "type": "ValueError", "message": HOSTILE}),
                  [Message("check.traceback_line", {"line": 3, "function": "normalize", "code": HOSTILE})]))]
    result = SubmissionResult("S0001", Status.GRADED, f"dir/{HOSTILE}.py", checks, 3.0,
                              [Message("decode.magics_dropped", {"count": 1, "first": HOSTILE})],
                              output=HOSTILE + "\n" + "x" * 300, output_bytes=400)
    result.manual = ManualPoints(1.5, f"よく書けています\n{HOSTILE}")
    return result


@pytest.mark.parametrize("lang", LANGUAGES)
def test_same_content_as_the_markdown_and_json(lang: str) -> None:
    result = hostile_result()
    page = html.unescape(re.sub(r"<[^>]+>", "", to_html(result, CATALOGUE, lang, "ex_02")))
    data = to_json(result, CATALOGUE, lang)
    markdown = to_markdown(result, CATALOGUE, lang, "ex_02")
    assert CATALOGUE.text("report.score", lang, total=data["total"], max=data["max"]) in page
    for check in data["checks"]:
        assert check["id"] in page and f"{check['score']} / {check['max']}" in page
    for warning in data["warnings"]:
        assert warning in page
    failed = [check for check in data["checks"] if not check["passed"]]
    assert failed and all(check["message"].split("\n")[0] in page for check in failed)
    manual_title = CATALOGUE.text("manual.report_title", lang)
    assert manual_title in page and manual_title in markdown
    assert "x" * 300 in page


def test_everything_the_student_wrote_is_escaped_and_nothing_is_fetched() -> None:
    page = to_html(hostile_result(), CATALOGUE, "ja", "ex_02")
    assert "<script" not in page and "<img" not in page and html.escape(HOSTILE) in page
    assert not re.search(r"<[^>]*\b(src|href)=", page) and "<link" not in page and "@import" not in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "@media print" in page and '<html lang="ja">' in page


def test_a_missing_student_gets_a_short_page() -> None:
    result = SubmissionResult("S0009", Status.MISSING, "", [CheckResult("load", False, 0.0, 1.0,
                                                                Verdict.fail(Message("report.missing")))], 1.0)
    page = to_html(result, CATALOGUE, "ja", "ex_02")
    assert CATALOGUE.text("report.missing", "ja") in page and "load" not in page


@needs_chromium
def test_readable_on_a_phone_without_sideways_scrolling(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    page = to_html(hostile_result(), CATALOGUE, "ja", "ex_02")
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", "<script>document.body.setAttribute('data-fit', "
                                  "document.documentElement.scrollWidth + '/' + window.innerWidth);</script></body>"),
                     encoding="utf-8")
    dom = chromium(tmp_path, "--dump-dom", "--window-size=390,844", "--virtual-time-budget=3000",
                   probe.as_uri()).stdout
    found = re.search(r'data-fit="(\d+)/(\d+)"', dom)
    assert found, dom[-300:]
    assert int(found[1]) <= int(found[2]), f"page is {found[1]} px wide in a {found[2]} px window"
    assert "&lt;script&gt;alert" in dom
    pdf = tmp_path / "report.pdf"
    chromium(tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", (tmp_path / "probe.html").as_uri())
    assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF")
