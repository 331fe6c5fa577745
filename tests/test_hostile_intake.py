"""What students control at intake cannot take over, crash or inject into the class (issue 11.1, 11.2, 11.4).

One class is graded once, end to end through ``grade`` (``grader.cli.main``) with a roster and every
export: Moodle folders where one student hands in a file under another's id (full-width digits, newer)
and a made-up id, an exception message with a lone surrogate and markup, an exception class and a
function whose names carry a code fence, HTML and a heading, a file whose id is 240 characters long, a
folder name that is not UTF-8 (``unzip`` of a Japanese Windows zip) and file names carrying terminal
escape sequences. Every test checks the run finished, the honest students kept full marks, and the
hostile text reached no output file or terminal as anything but text.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from submissions import deflated_zip

from grader.cli import main as grade_main
from grader.run.sandbox import launcher

SOLUTIONS = Path(__file__).parent / "fixtures" / "solutions"
CORRECT = (SOLUTIONS / "ex_02_S0001.py").read_text(encoding="utf-8")
MAX = 16
SANDBOX = launcher.bwrap_works()

VICTIM = "Victim Vee_111_assignsubmission_file_"
MALLORY = "Mallory Em_222_assignsubmission_file_"
#: What Mallory's files do: anything but the right answer, so that grading them as V0001 would show.
MALLORY_CODE = "def normalize(x):\n    return x\n"
INJECTION = "\n```\n# Owned\n<script>alert(1)</script>\n[click](javascript:alert(1))\n"
SURROGATE_AND_MARKUP = CORRECT + f'\nraise ValueError("\\ud800 <img src=x onerror=alert(1)> |x| {INJECTION!r}")\n'
NAMES_WITH_MARKUP = CORRECT + f"""
_Bad = type({INJECTION!r} + "Err", (Exception,), {{}})
def _f(x):
    raise _Bad("<b>bold</b>")
_f.__code__ = _f.__code__.replace(co_name={INJECTION!r})
normalize = _f
"""
TERMINAL_ATTACK = "ex_2_\x1b]0;owned\x07\r\x1b[2K[9 of 9] FAKE  16 of 16 \x1b[32mOK.py"
LONG_ID = "B" * 240


@dataclass
class Run:
    out: Path
    stderr: str

    def report(self, student_id: str) -> dict:
        return json.loads((self.out / "reports" / f"{student_id}.json").read_text(encoding="utf-8"))

    def text(self, name: str) -> str:
        return (self.out / name).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    if not SANDBOX:
        pytest.skip("needs bubblewrap (install the 'bubblewrap' package)")
    root = tmp_path_factory.mktemp("intake")
    cls = root / "class"

    def put(relative: str, text: str, mtime: float | None = None) -> None:
        path = cls / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if mtime is not None:
            os.utime(path, (mtime, mtime))

    put("ex_02_S0001.py", CORRECT)
    put(f"{VICTIM}/ex_02_V0001.py", CORRECT, mtime=1_700_000_000)
    put(f"{MALLORY}/ex_02_Ｖ０００１.py", MALLORY_CODE, mtime=1_700_000_100)  # newer, someone else's id
    put(f"{MALLORY}/ex_02_ZZZ999.py", MALLORY_CODE, mtime=1_700_000_200)  # a made-up id
    put("ex_02_A0001.py", SURROGATE_AND_MARKUP)
    put("ex_02_F0001.py", NAMES_WITH_MARKUP)
    put("ex_02_N0001.py", "x = " + "1 + " * 100_000 + "1\n")  # RecursionError in the grader's own parser
    put(f"ex_02_{LONG_ID}.py", CORRECT)
    put(TERMINAL_ATTACK, CORRECT)
    cp932 = os.fsencode(cls) + b"/" + "テスト 花子_444_assignsubmission_file_".encode("cp932")
    os.makedirs(cp932)
    with open(cp932 + b"/ex_02_C0001.py", "w", encoding="utf-8") as stream:
        stream.write(CORRECT)
    roster = root / "roster.csv"
    roster.write_text("student_id,participant\nS0001,\nV0001,111\nM0001,222\nA0001,\nF0001,\nC0001,444\nN0001,\n",
                      encoding="utf-8")
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = grade_main([str(cls), "--out", str(root / "out"), "--lang", "en", "--roster", str(roster),
                           "--export", "moodle,gradescope", "--jobs", "2"])
    assert code == 0, stderr.getvalue()[-3000:]
    return Run(root / "out", stderr.getvalue())


@pytest.mark.skipif(not SANDBOX, reason="needs bubblewrap")
def test_a_file_under_someone_elses_id_counts_for_its_folders_owner_only(run: Run) -> None:
    victim, mallory = run.report("V0001"), run.report("M0001")
    assert (victim["total"], victim["source"]) == (MAX, f"{VICTIM}/ex_02_V0001.py")
    assert mallory["source"].startswith(MALLORY) and mallory["total"] < MAX
    assert any("differs from M0001, the roster's id" in warning for warning in mallory["warnings"])
    # the TA is told, on the terminal and in the summary
    told = "The student id V0001 in the name of Mallory Em_222"
    assert told in run.stderr
    assert told in run.text("summary.md")


@pytest.mark.skipif(not SANDBOX, reason="needs bubblewrap")
def test_a_made_up_id_is_no_student_and_no_export_row(run: Run) -> None:
    with (run.out / "scores.csv").open(encoding="utf-8-sig") as stream:
        ids = {row["student_id"] for row in csv.DictReader(stream)}
    assert ids == {"S0001", "V0001", "M0001", "A0001", "F0001", "C0001", "N0001"}
    assert "ZZZ999" not in run.text("moodle_grades.csv")
    students = run.text("summary.md").split("\n## ")[-1]  # the table of students
    assert "ZZZ999" not in students and "M0001" in students
    assert not list(run.out.rglob("*ZZZ999*"))


@pytest.mark.skipif(not SANDBOX, reason="needs bubblewrap")
def test_surrogates_long_ids_and_non_utf8_folders_cost_nothing(run: Run) -> None:
    assert run.report("S0001")["total"] == MAX
    report = run.report("A0001")
    assert report["status"] == "graded" and "ValueError" in json.dumps(report)
    assert "\ufffd" in json.dumps(report, ensure_ascii=False)
    nested = run.report("N0001")
    assert nested["total"] == 0 and "nested too deeply" in nested["checks"][1]["message"], nested
    assert "internal error" not in json.dumps(nested)
    c0001 = run.report("C0001")
    assert (c0001["total"], c0001["source"]) == (MAX, "テスト 花子_444_assignsubmission_file_/ex_02_C0001.py")
    assert LONG_ID[:40] in run.stderr  # listed as not a submission name, not a crash
    for path in run.out.rglob("*"):
        assert len(path.name.encode()) <= 255
        if path.is_file():
            path.read_bytes().decode("utf-8")


def _markdown_lines(text: str) -> list[str]:
    """The lines of a Markdown file outside fenced code blocks (any fence length)."""
    outside, fence = [], None
    for line in text.splitlines():
        opening = re.match(r"(`{3,})", line)
        if fence is None and opening:
            fence = opening.group(1)
        elif fence is not None and line.strip() == fence:
            fence = None
        elif fence is None:
            outside.append(line)
    assert fence is None, "a code block was never closed: student text broke out of it or swallowed the rest"
    return outside


@pytest.mark.parametrize("student_id", ["A0001", "F0001"])
@pytest.mark.skipif(not SANDBOX, reason="needs bubblewrap")
def test_student_text_is_inert_in_markdown_reports(run: Run, student_id: str) -> None:
    markdown = run.text(f"reports/{student_id}.md")
    prose = _markdown_lines(markdown)
    assert not [line for line in prose if re.search(r"<(script|img|b)\b", line)], markdown
    assert not [line for line in prose if line.startswith("# Owned")]
    assert not [line for line in prose if re.search(r"(?<!\\)\]\(javascript:", line)]
    assert [line for line in prose if line.startswith("# ")] == [prose[0]]  # our title only


@pytest.mark.skipif(not SANDBOX, reason="needs bubblewrap")
def test_student_text_is_inert_in_the_summary_and_gradescope(run: Run) -> None:
    prose = _markdown_lines(run.text("summary.md"))
    assert not [line for line in prose if re.search(r"<(script|img|b)\b", line)]
    assert [line for line in prose if line.startswith("# ")] == [prose[0]]
    html = run.text("summary.html")
    assert "<script" not in html and "<img src=x" not in html and "<b>bold" not in html
    for student_id in ("A0001", "F0001"):
        data = json.loads(run.text(f"gradescope/{student_id}/results.json"))
        assert data["output_format"] == data["test_output_format"] == "text"


def test_escape_sequences_never_reach_the_terminal(run: Run) -> None:
    assert "FAKE" in run.stderr  # the file is listed ...
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", run.stderr), repr(run.stderr[-500:])  # ... inertly


@pytest.mark.skipif(not SANDBOX, reason="needs bubblewrap")
def test_one_students_huge_files_cost_only_that_student(tmp_path: Path) -> None:
    """Issue 11.3: four files of 51 MB in one Moodle folder made the whole class zip ungradable (exit 2)."""
    huge = b"#" * (51 * 1024 * 1024)
    archive = tmp_path / "class.zip"
    deflated_zip(archive, [(f"{VICTIM}/ex_02_V0001.py", CORRECT.encode()),
                           *((f"Big Bee_333_assignsubmission_file_/{name}", huge) for name in (
                               "ex_02_B0001.py", "ex_02_B0001.ipynb", "v2/ex_02_B0001.py", "v3/ex_02_B0001.py"))])
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        assert grade_main([str(archive), "--out", str(tmp_path / "out"), "--lang", "en", "--jobs", "2"]) == 0
    run = Run(tmp_path / "out", stderr.getvalue())
    assert run.report("V0001")["total"] == MAX
    big = run.report("B0001")
    assert big["total"] == 0 and "too large to grade (more than 8" in json.dumps(big)


@pytest.mark.skipif(not SANDBOX, reason="needs bubblewrap")
def test_an_unnamed_file_in_a_folder_that_is_not_utf8_costs_nothing(tmp_path: Path) -> None:
    """Issue 11.2: the folder name reached the summary (a warning naming the file) undecodable."""
    cls = tmp_path / "class"
    cls.mkdir()
    folder = os.fsencode(cls) + b"/" + "山田 太郎_101_assignsubmission_file_".encode("cp932")
    os.makedirs(folder)
    with open(folder + b"/\x89\xdb\x91\xe82.py", "w", encoding="utf-8") as stream:  # 課題2.py in CP932
        stream.write(CORRECT)
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        assert grade_main([str(cls), "--out", str(tmp_path / "out"), "--lang", "en", "--jobs", "1"]) == 0
    summary = (tmp_path / "out" / "summary.md").read_text("utf-8")  # told: no id, give a roster
    assert "山田 太郎_101_assignsubmission_file" in summary and "/課題2.py" in summary
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,participant\nS0001,101\n", encoding="utf-8")
    with contextlib.redirect_stderr(stderr):
        assert grade_main([str(cls), "--out", str(tmp_path / "out"), "--lang", "en", "--jobs", "1",
                           "--roster", str(roster)]) == 0
    report = json.loads((tmp_path / "out" / "reports" / "S0001.json").read_text("utf-8"))
    assert (report["total"], report["source"]) == (MAX, "山田 太郎_101_assignsubmission_file_/課題2.py")
