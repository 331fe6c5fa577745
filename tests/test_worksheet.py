"""Moodle's round trip: the offline grading worksheet filled, the feedback zip built, both read back.

The worksheet is generated here from the example class's Moodle folder names (as Moodle would write
it for that class), in the English and the Japanese interface; nothing below hard-codes a score: every
expectation is read from the scores.csv and the reports the same run wrote.
"""

from __future__ import annotations

import codecs
import csv
import html
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from submissions import CLASS, ROSTER

from grader.cli import main
from grader.i18n import LANGUAGES, Catalogue, Message
from grader.outputs import worksheet
from grader.outputs.report import to_html
from grader.results import CheckResult, ManualPoints, Status, SubmissionResult, Verdict

CATALOGUE = Catalogue.load_engine()
FOLDER = re.compile(r"(?P<name>.+)_(?P<number>\d+)_assignsubmission_file_")

#: The worksheet's columns as Moodle writes them, per interface language.
HEADERS = {
    "en": ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade", "Grade can be changed",
           "Last modified (submission)", "Last modified (grade)", "Feedback comments"],
    "ja": ["ID", "氏名", "メールアドレス", "ステータス", "評点", "最大評点", "評点は変更可能です",
           "最終更新日時 (提出)", "最終更新日時 (評定)", "フィードバックコメント"],
}
PREFIX = {"en": "Participant ", "ja": "参加者 "}
NOT_ENROLLED = "9999999"


def class_worksheet(lang: str, maximum: str = "100") -> str:
    """Moodle's worksheet for the example class: one row per Moodle folder, plus one participant who
    is in Moodle but not in the download (left as it was)."""
    rows = [HEADERS[lang]]
    owners = sorted((match["number"], match["name"]) for match in
                    (FOLDER.fullmatch(path.name) for path in CLASS.iterdir()) if match)
    assert len(owners) >= 20
    for number, name in [*owners, (NOT_ENROLLED, "他 人")]:
        rows.append([f"{PREFIX[lang]}{number}", name, f"{number}@example.ac.jp", "提出済み", "", maximum, "Yes",
                     "2026年11月20日(金曜日) 10:00", "-", "前のコメント, \"引用\""])
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def class_zip(tmp_path: Path) -> Path:
    archive = tmp_path / "ex_02-全提出.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(CLASS.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(CLASS).as_posix())
    return archive


def read_scores(out: Path) -> dict[str, dict[str, str]]:
    return {row["student_id"]: row for row in csv.DictReader(io.StringIO((out / "scores.csv").read_text("utf-8-sig")))}


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """The example class graded once from its Moodle zip with a Japanese worksheet (BOM, CRLF)."""
    tmp_path = tmp_path_factory.mktemp("round-trip")
    sheet = tmp_path / "評定ワークシート.csv"
    sheet.write_bytes(codecs.BOM_UTF8 + class_worksheet("ja").encode("utf-8"))
    out = tmp_path / "out"
    code = main([str(class_zip(tmp_path)), "--out", str(out), "--roster", str(ROSTER), "--moodle-worksheet",
                 str(sheet), "--jobs", "2"])
    assert code == 0
    return out, sheet.read_bytes()


def test_filled_worksheet_matches_scores_and_keeps_everything_else(graded: tuple[Path, bytes]) -> None:
    out, original = graded
    filled_bytes = (out / "moodle" / "grading_worksheet.csv").read_bytes()
    assert filled_bytes.startswith(codecs.BOM_UTF8) and b"\r\n" in filled_bytes
    before, after = read_csv(original), read_csv(filled_bytes)
    assert after[0] == before[0] and len(after) == len(before)
    scores = read_scores(out)
    roster = {row["氏名"]: row["student_id"] for row in csv.DictReader(io.StringIO(ROSTER.read_text("utf-8-sig")))}
    grade, comments = before[0].index("評点"), before[0].index("フィードバックコメント")
    matched = 0
    for old, new in zip(before[1:], after[1:], strict=True):
        changed = [index for index, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
        if old[0].endswith(NOT_ENROLLED):
            assert changed == []  # unmatched rows stay as they were
            continue
        student_id = roster[old[1]]
        assert set(changed) <= {grade, comments}
        assert new[grade] == scores[student_id]["total"]
        comment_lines = [html.unescape(line) for line in new[comments].split("<br>")]
        comment = "<br>".join(comment_lines)
        assert comment.startswith(f"自動採点: {scores[student_id]['total']} / {scores[student_id]['max']} 点")
        report = json.loads((out / "reports" / f"{student_id}.json").read_text("utf-8"))
        failed_lines = [line for line in comment_lines if line.startswith("✗ ")]
        named = [name for line in failed_lines for name in line[2:].split(" (", 1)[0].split(", ")]
        assert sorted(named) == sorted(check["id"] for check in report["checks"] if not check["passed"])
        lost = sum(check["max"] - check["score"] for check in report["checks"])
        assert lost == sum(float(maximum) - float(score) for score, maximum in
                           (re.search(r" \(([\d.]+)/([\d.]+)\): ", line).groups() for line in failed_lines))
        assert f"ex_02_{student_id}_report.html" in comment
        assert "<" not in new[comments].replace("<br>", "")  # student text cannot become markup in Moodle
        matched += 1
    assert matched == sum(1 for row in scores.values() if row["status"] == "graded")  # the missing one has no folder


def test_feedback_zip_holds_each_report_under_a_moodle_feedback_folder(graded: tuple[Path, bytes]) -> None:
    out, _ = graded
    scores = read_scores(out)
    owners = {match["number"]: match["name"] for match in (FOLDER.fullmatch(p.name) for p in CLASS.iterdir()) if match}
    with zipfile.ZipFile(out / "moodle" / "feedback_files.zip") as archive:
        names = archive.namelist()
        assert len(names) == sum(1 for row in scores.values() if row["status"] == "graded")
        for name in names:
            folder, file = name.split("/")
            # Moodle's importer: explode('_', part, 5) -> name, participant, assignfeedback, file, rest
            full_name, number, subtype, plugin, rest = folder.split("_", 4)
            assert (subtype, plugin, rest) == ("assignfeedback", "file", "") and owners[number] == full_name
            student_id = re.fullmatch(r"ex_02_(S\d+)_report\.html", file)[1]  # type: ignore[index]
            assert archive.read(name) == (out / "reports" / f"{student_id}.html").read_bytes()
            assert f"{scores[student_id]['total']} / {scores[student_id]['max']}" in archive.read(name).decode()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_english_and_japanese_worksheets_are_read(tmp_path: Path, lang: str) -> None:
    path = tmp_path / "w.csv"
    path.write_text(class_worksheet(lang), encoding="utf-8")
    sheet = worksheet.read_worksheet(path)
    assert (sheet.identifier, sheet.grade, sheet.comments, sheet.maximum) == (0, 4, 9, 5)
    assert not sheet.bom and sheet.newline == "\r\n" and sheet.delimiter == ","
    assert sheet.participant(sheet.rows[0]).isdigit()


def test_an_unusable_worksheet_stops_before_grading_in_one_line(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "grades.csv"
    path.write_text("student_id,ex_02\nS1,3\n", encoding="utf-8")
    out = tmp_path / "out"
    code = main([str(CLASS), "--out", str(out), "--moodle-worksheet", str(path), "--lang", "en"])
    assert code == 2 and not out.exists()
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "columns found: student_id, ex_02" in err and "Identifier" in err


def result(student_id: str, scores: list[float], status: Status = Status.GRADED,
           message: str = "bad") -> SubmissionResult:
    checks = [CheckResult(f"c{index}", score > 0, score, 1.0,
                          Verdict(score > 0, Message("check.passed") if score > 0 else
                                  Message("check.raised", {"name": "f", "type": "ValueError", "message": message})))
              for index, score in enumerate(scores)]
    return SubmissionResult(student_id, status, f"山田_太郎_10{student_id[-1]}_assignsubmission_file_/x.py", checks,
                            float(len(scores)))


def test_fill_reports_unmatched_ambiguous_and_above_maximum(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text("Identifier;Grade;Maximum grade;Last modified (grade);Feedback comments\n"
                    "Participant 101;;1;-;\nParticipant 555;7;10;-;keep\n", encoding="utf-8")
    sheet = worksheet.read_worksheet(path)
    assert sheet.delimiter == ";"
    first = result("S1", [1, 1])
    first.manual = ManualPoints(1, "")
    owners = worksheet.participants([first], None)
    assert owners == {"S1": worksheet.Participant("101", "山田_太郎")}
    data, warnings = worksheet.fill(sheet, [first], owners, CATALOGUE, "en", "ex_02_")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8")), delimiter=";"))
    assert rows[1][1] == "3" and rows[2] == ["Participant 555", "7", "10", "-", "keep"]
    assert [warning.key for warning in warnings] == ["worksheet.above_max", "worksheet.unmatched"]
    both = {"S1": worksheet.Participant("101", "a"), "S2": worksheet.Participant("101", "b")}
    _, warnings = worksheet.fill(sheet, [first, result("S2", [1])], both, CATALOGUE, "en", "ex_02_")
    assert warnings[0].key == "worksheet.ambiguous"


def test_hostile_text_is_escaped_in_comments_and_folder_names(tmp_path: Path) -> None:
    hostile = '<script>alert(1)</script>'
    item = result("S1", [0, 1], message=hostile)
    comment = worksheet.comment_html(item, CATALOGUE, "ja", "ex_02_S1_report.html")
    assert "<script" not in comment and html.escape(hostile, quote=False) in comment
    for name, expected in [("../../etc/x_y", "etc x y"), ("a/b\\c\x00d", "a b c d"), ("...", "participant"),
                           ("_", "participant"), ("Ann_Lee", "Ann Lee")]:
        assert worksheet.safe_name(name) == expected
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "S1.html").write_text(to_html(item, CATALOGUE, "ja", "ex_02"), encoding="utf-8")
    data, included = worksheet.feedback_zip([item, result("S2", [0], Status.MISSING)],
                                            {"S1": worksheet.Participant("7", "../x_y/..")}, reports, "ex_02_")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["x y_7_assignfeedback_file_/ex_02_S1_report.html"] and included == ["S1"]


def test_every_message_key_exists_and_renders() -> None:
    params = {"path": "p", "reason": "r", "missing": "m", "columns": "c", "count": 1, "rows": "r",
              "participant": "1", "students": "s", "student_id": "S1", "total": 1, "max": 2, "status": "error",
              "check": "c", "score": 0, "message": "m", "points": 1, "file": "f"}
    for key in worksheet.MESSAGE_KEYS:
        for lang in LANGUAGES:
            assert CATALOGUE.text(key, lang, **params)


# ---------------------------------------------------------------------------------------------------
# Outputs never contradict each other

SOLUTIONS = Path(__file__).parent / "fixtures" / "solutions"


def test_a_rerun_without_exports_removes_the_old_ones_and_says_so(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "download"
    for number, student_id in (("101", "S0001"), ("102", "S0002")):
        target = source / f"学生 {number}_{number}_assignsubmission_file_" / f"ex_02_{student_id}.py"
        target.parent.mkdir(parents=True)
        target.write_bytes((SOLUTIONS / f"ex_02_{student_id}.py").read_bytes())
    sheet = tmp_path / "w.csv"
    sheet.write_text("Identifier,Grade,Last modified (grade),Feedback comments\nParticipant 101,,-,\n", "utf-8")
    manual = tmp_path / "manual.csv"
    manual.write_text("student_id,points\nS0001,1\nS0003,2\n", encoding="utf-8")
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id\nS0001\nS0002\nS0003\n", encoding="utf-8")
    out = tmp_path / "out"
    common = [str(source), "--out", str(out), "--jobs", "2", "--lang", "en", "--roster", str(roster)]
    assert main([*common, "--export", "moodle,gradescope", "--moodle-worksheet", str(sheet),
                 "--manual", str(manual)]) == 0
    err = capsys.readouterr().err
    assert "S0003 has no submission but was given 2 manual points" in err
    for name in ("moodle_grades.csv", "gradescope/S0001/results.json", "moodle/grading_worksheet.csv",
                 "moodle/feedback_files.zip"):
        assert (out / name).is_file(), name
    assert main([*common, "--no-manual"]) == 0
    err = capsys.readouterr().err
    assert not (out / "moodle_grades.csv").exists() and not (out / "gradescope").exists()
    assert not (out / "moodle").exists()
    assert "removed moodle_grades.csv, gradescope/, moodle/" in err
    assert main([*common, "--export", "gradescope"]) == 0  # only what was asked for comes back
    assert (out / "gradescope" / "S0002" / "results.json").is_file() and not (out / "moodle_grades.csv").exists()


# ---------------------------------------------------------------------------------------------------
# The contract


def test_the_spec_lists_what_grade_writes_for_moodle() -> None:
    """The spec's "What grade writes" names the HTML report and the Moodle outputs this module writes."""
    spec = Path(__file__).resolve().parent.parent.parent / "shared" / "spec" / "ex_02.md"
    if not spec.is_file():
        pytest.skip(f"the course's shared spec is not beside this checkout ({spec})")
    text = spec.read_text(encoding="utf-8")
    section = text[text.index("## What `grade` writes"):]
    for fragment in ("reports/<student_id>.html", "--moodle-worksheet FILE", "DIR/moodle/grading_worksheet.csv",
                     "DIR/moodle/feedback_files.zip",
                     worksheet.FEEDBACK_FOLDER.format(name="<Full name>", participant="<participant id>")):
        assert fragment in section, fragment
    from grader.cli import build_parser

    options = {option for action in build_parser(CATALOGUE, "en")._actions for option in action.option_strings}
    assert "--moodle-worksheet" in options


def test_a_worksheet_saved_by_japanese_excel_is_written_back_in_cp932(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    text = "ID,氏名,評点,最終更新日時 (評定),フィードバックコメント\n参加者 101,山田 太郎,,-,\n"
    path.write_bytes(text.encode("cp932"))
    sheet = worksheet.read_worksheet(path)
    assert sheet.encoding == "cp932" and not sheet.bom and sheet.newline == "\n"
    item = result("S1", [1, 0], message="☃ snowman")  # not in CP932: kept as an HTML character reference
    data, warnings = worksheet.fill(sheet, [item], worksheet.participants([item], None), CATALOGUE, "ja", "ex_02_")
    rows = list(csv.reader(io.StringIO(data.decode("cp932"))))
    assert rows[0] == sheet.header and rows[1][:4] == ["参加者 101", "山田 太郎", "1", "-"]
    assert "&#9731;" in rows[1][4] and html.unescape(rows[1][4]).count("☃") == 1 and warnings == []
