"""summary.html / summary.md: one offline file with the class's numbers, everything student-written escaped.

The browser tests open the real file in Debian's chromium (``apt-get install chromium``; Japanese text
needs ``fonts-noto-cjk``) and skip with the reason when it is not installed.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from grader.copydetect.similarity import Pair, Passage
from grader.i18n import LANGUAGES, Catalogue, Message
from grader.outputs.summary import HISTOGRAM_COLOR, histogram_svg, summarize, to_html, to_markdown
from grader.results import CheckResult, ManualPoints, Status, SubmissionResult, Verdict

CATALOGUE = Catalogue.load_engine()
CHECKS = ["load", "normalize", "converge"]
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def result(student_id: str, passed: list[bool], status: Status = Status.GRADED, message: str = "") -> SubmissionResult:
    checks = []
    for check_id, ok in zip(CHECKS, passed, strict=True):
        verdict = Verdict.ok() if ok else Verdict.fail(Message("check.raised", {
            "name": check_id, "type": "ValueError", "message": message or "bad"}))
        checks.append(CheckResult(check_id, ok, 2.0 if ok else 0.0, 2.0, verdict))
    return SubmissionResult(student_id, status, f"ex_02_{student_id}.py", checks, 6.0)


def class_summary(lang: str = "en"):
    results = [result("S0001", [True, True, True]), result("S0002", [True, False, True], message=HOSTILE),
               result("S0003", [True, False, False], message=HOSTILE), result("S0004", [False] * 3, Status.MISSING)]
    results[0].manual = ManualPoints(2, "<b>TA</b>")
    sources = {"S0002": "def normalize(x):\n    return '<script>'\n", "S0003": "def normalize(y):\n    return 1\n"}
    pairs = [Pair("S0002", "S0003", 44, 0.9, (Passage(1, 2, 1, 2),))]
    return summarize("ex_02", CHECKS, results, CATALOGUE, lang, pairs, sources, 0.5,
                     [Message("manual.unknown_student", {"student_id": "<X>", "path": "m.csv"})])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_numbers_are_the_same_in_html_and_markdown(lang: str) -> None:
    summary = class_summary(lang)
    assert summary.pass_rates == {"load": (3, 3), "normalize": (1, 3), "converge": (2, 3)}
    (line, checks, ids), *_ = summary.failures
    assert checks == ["normalize"] and ids == ["S0002", "S0003"] and HOSTILE in line
    page, markdown = to_html(summary, CATALOGUE, lang), to_markdown(summary, CATALOGUE, lang)
    for shown in ("1 / 3", "33%", "2 / 3", "67%"):
        assert shown in page and shown in markdown
    for student_id in ("S0001", "S0002", "S0003", "S0004"):
        assert f'href="reports/{student_id}.html"' in page and f"(reports/{student_id}.md)" in markdown


def test_everything_student_written_is_escaped() -> None:
    page = to_html(class_summary(), CATALOGUE, "en")
    assert "<script" not in page and "<img src=x" not in page and "<b>TA</b>" not in page and "<X>" not in page
    assert html.escape(HOSTILE) in page
    assert "&lt;script&gt;" in page  # the shared passage, shown as code


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_histogram_is_inline_svg_labelled_in_the_report_language(lang: str) -> None:
    page = to_html(class_summary(lang), CATALOGUE, lang)
    assert page.count('<svg id="histogram"') == 1 and "<img" not in page
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", page)
    for key in ("summary.axis_score", "summary.axis_students"):
        assert CATALOGUE.text(key, lang) in texts  # text the browser draws, not pixels of a missing glyph
    assert CATALOGUE.text("summary.axis_score", "ja") == "得点"
    assert not re.search(r'(src|href)="(https?:|//)', page) and "<link" not in page and "<script" not in page


def test_the_same_class_gives_the_same_bytes() -> None:
    assert to_html(class_summary(), CATALOGUE, "ja") == to_html(class_summary(), CATALOGUE, "ja")
    assert histogram_svg([1, 2, 2], 6, ("a", "b")) == histogram_svg([1, 2, 2], 6, ("a", "b"))


# ---------------------------------------------------------------------------------------------------
# In a real browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars"]
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                    "(Debian: apt-get install -y chromium); the browser test needs it")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run([str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120, check=False)


@needs_chromium
def test_summary_renders_with_its_image_in_chromium(tmp_path: Path) -> None:
    page = tmp_path / "summary.html"
    page.write_text(to_html(class_summary("ja"), CATALOGUE, "ja"), encoding="utf-8")

    # 1. Without any script: the screenshot shows the histogram's bars (the PNG decoded and was painted).
    shot = tmp_path / "shot.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1000,900", page.as_uri())
    assert shot.is_file(), "chromium wrote no screenshot"
    from PIL import Image

    pixels = Image.open(shot).convert("RGB")
    target = tuple(int(HISTOGRAM_COLOR[index:index + 2], 16) for index in (1, 3, 5))
    colours = pixels.getcolors(maxcolors=pixels.width * pixels.height) or []
    bars = sum(count for count, colour in colours if all(abs(a - b) <= 12 for a, b in zip(colour, target, strict=True)))
    assert bars > 2000, f"only {bars} pixels of the histogram's colour: the image did not render"

    # 2. The DOM as the browser built it: the chart is drawn at its size, the hostile message is text.
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text(encoding="utf-8").replace(
        "</body>", "<script>const r=document.getElementById('histogram').getBoundingClientRect();"
                   "document.body.setAttribute('data-size', Math.round(r.width) + 'x' + Math.round(r.height));"
                   "</script></body>"), encoding="utf-8")
    dom = chromium(tmp_path, "--dump-dom", "--virtual-time-budget=5000", probe.as_uri()).stdout
    size = re.search(r'data-size="(\d+)x(\d+)"', dom)
    assert size and int(size[1]) > 400 and int(size[2]) > 200, dom[-500:]
    assert "&lt;script&gt;alert" in dom  # the hostile message is text, not a script


@needs_chromium
def test_a_wide_class_fits_a_1200px_window(tmp_path: Path) -> None:
    """Many checks and long ids: the page itself never scrolls sideways, the student table scrolls inside."""
    checks = [f"a_rather_long_check_name_{index}" for index in range(24)]
    results = []
    for number in range(30):
        items = [CheckResult(check_id, number % 3 != 0, 1.0, 1.0, Verdict.ok()) for check_id in checks]
        results.append(SubmissionResult(f"B{number:04d}_with_a_long_suffix", Status.GRADED, "x.py", items, 24.0))
    results[0].manual = ManualPoints(3, "")
    page = to_html(summarize("ex_02", checks, results, CATALOGUE, "ja", [], {}, 0.5), CATALOGUE, "ja")
    probe = tmp_path / "wide.html"
    probe.write_text(page.replace("</body>", "<script>const t=document.querySelector('table.students');"
                                  "document.body.setAttribute('data-fit', document.documentElement.scrollWidth + '/'"
                                  " + window.innerWidth + '/' + t.parentElement.scrollWidth);</script></body>"),
                     encoding="utf-8")
    dom = chromium(tmp_path, "--dump-dom", "--window-size=1200,900", "--virtual-time-budget=3000",
                   probe.as_uri()).stdout
    fit = re.search(r'data-fit="(\d+)/(\d+)/(\d+)"', dom)
    assert fit, dom[-300:]
    page_width, window, table_width = (int(value) for value in fit.groups())
    assert page_width <= window and table_width > window  # the table is wider, and scrolls in its box


def test_one_cause_is_one_row_however_many_checks_it_failed() -> None:
    """A syntax error fails every check with the same sentence: one row naming all of them, not twelve."""
    syntax = Verdict.fail(Message("report.syntax_error", {"message": "expected ':'", "line": 3}))
    broken = SubmissionResult("S0009", Status.GRADED, "x.py", [CheckResult(check_id, False, 0.0, 2.0, syntax)
                                                         for check_id in CHECKS], 6.0)
    summary = summarize("ex_02", CHECKS, [broken, result("S0001", [True, False, True])], CATALOGUE, "ja", [], {}, 0.5)
    rows = [(checks, ids) for _, checks, ids in summary.failures]
    assert (CHECKS, ["S0009"]) in rows and len(rows) == 2
    assert to_markdown(summary, CATALOGUE, "ja").count("expected ':'") == 1
