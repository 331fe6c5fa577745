"""Manual points: the TA's CSV is merged into totals and reports, never lost, never written, never half-read."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from grader.cli import main
from grader.i18n import LANGUAGES, Catalogue
from grader.intake.manual import MESSAGE_KEYS, ManualError, read_manual, remembered, render_error
from grader.results import ManualPoints

SOLUTIONS = Path(__file__).parent / "fixtures" / "solutions"
CATALOGUE = Catalogue.load_engine()
SPEC_COLUMNS = ["student_id", "total", "max", "status", "load", "normalize", "standardize", "forward", "grad_w",
                "grad_b", "grad_x", "update", "mse_forward", "mse_backward", "gradcheck", "converge"]


def sheet(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_reads_points_and_comments_as_excel_saves_them(tmp_path: Path) -> None:
    path = sheet(tmp_path / "m.csv", "\ufeffStudent_ID,Points,Comment\nb2201,３,\"よく考察できています\n次回は図も\"\n"
                                     ",,\nB2202,2.5\n", encoding="utf-8")
    loaded = read_manual(path)
    assert dict(loaded.entries) == {"B2201": ManualPoints(3.0, "よく考察できています\n次回は図も"),
                                    "B2202": ManualPoints(2.5, "")}
    cp932 = sheet(tmp_path / "c.csv", "student_id,points,comment\nB1,1,考察あり\n", encoding="cp932")
    assert read_manual(cp932).entries["B1"].comment == "考察あり"


def test_every_malformed_row_is_named_in_one_line(tmp_path: Path) -> None:
    path = sheet(tmp_path / "m.csv", "student_id,points,comment\nB1,abc,\n,2,no id\nB2,,late\nB3,-1,\nB4,9,\n"
                                     "B5,1,\nB5,2,again\nB6,nan,\nB7,2,fine\n")
    with pytest.raises(ManualError) as raised:
        read_manual(path, max_points=5)
    problems = [problem.key for problem in raised.value.message.params["problems"]]
    assert problems == ["manual.row_not_a_number", "manual.row_no_id", "manual.row_no_points", "manual.row_negative",
                        "manual.row_above_max", "manual.row_duplicate", "manual.row_not_a_number"]
    for lang in LANGUAGES:
        line = render_error(raised.value, CATALOGUE, lang)
        assert "\n" not in line and str(path) in line
        assert all(str(number) in line for number in (2, 3, 4, 5, 6, 8, 9))


def test_missing_columns_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(ManualError) as raised:
        read_manual(sheet(tmp_path / "m.csv", "id,score\nB1,1\n"))
    assert raised.value.message.key == "manual.missing_column"
    assert "student_id, points" in render_error(raised.value, CATALOGUE, "en")


def test_every_message_key_exists_in_both_languages() -> None:
    for key in (*MESSAGE_KEYS, "manual.report_title", "manual.report_points", "manual.report_points_of",
                "manual.reused", "manual.remembered_missing", "manual.missing"):
        assert key in CATALOGUE


def scores(out: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((out / "scores.csv").read_text("utf-8-sig"))))


def test_cli_merges_and_keeps_manual_points_across_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    submissions = tmp_path / "class"
    submissions.mkdir()
    for name in ("ex_02_S0001.py", "ex_02_S0002.py"):
        (submissions / name).write_bytes((SOLUTIONS / name).read_bytes())
    manual = sheet(tmp_path / "考察.csv", "student_id,points,comment\nS0001,3,図の説明が丁寧\nS0404,1,\n")
    before = manual.read_bytes()
    out = tmp_path / "out"
    base = [str(submissions), "--out", str(out), "--lang", "en", "--jobs", "2"]

    assert main([*base, "--manual", str(manual), "--manual-max", "4"]) == 0
    rows = scores(out)
    header = next(csv.reader(io.StringIO((out / "scores.csv").read_text("utf-8-sig"))))
    assert header == [*SPEC_COLUMNS, "manual"]  # the spec's columns, in order, then manual
    first = {row["student_id"]: row for row in rows}
    auto = sum(float(first["S0001"][column]) for column in SPEC_COLUMNS[4:])
    assert float(first["S0001"]["total"]) == auto + 3 and first["S0001"]["manual"] == "3"
    assert first["S0001"]["max"] == "20" and first["S0002"]["manual"] == ""
    report = json.loads((out / "reports" / "S0001.json").read_text("utf-8"))
    assert report["manual"] == {"points": 3, "comment": "図の説明が丁寧", "max": 4}
    markdown = (out / "reports" / "S0001.md").read_text("utf-8")
    assert "## discussion (graded by hand)" in markdown and "> 図の説明が丁寧" in markdown
    err = capsys.readouterr().err
    assert "S0404" in err  # a row for nobody in the class is said aloud
    assert "S0404" in (out / "summary.md").read_text("utf-8")

    # Forgetting --manual on the next run loses nothing: the file is remembered, and never written.
    assert main(base) == 0
    assert scores(out) == rows
    assert "merging the manual points file used last time" in capsys.readouterr().err
    assert manual.read_bytes() == before and remembered(out) == (manual.resolve(), 4.0)

    assert main([*base, "--no-manual"]) == 0
    assert "manual" not in scores(out)[0] and remembered(out) is None


def test_cli_stops_before_grading_on_a_malformed_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    submission = tmp_path / "ex_02_S0001.py"
    submission.write_bytes((SOLUTIONS / "ex_02_S0001.py").read_bytes())
    manual = sheet(tmp_path / "m.csv", "student_id,points,comment\nS0001,とても良い,\n")
    out = tmp_path / "out"
    assert main([str(submission), "--out", str(out), "--manual", str(manual)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "2 行目" in err and "とても良い" in err
    assert not (out / "scores.csv").exists()


def test_cli_refuses_when_the_remembered_file_is_gone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    submission = tmp_path / "ex_02_S0001.py"
    submission.write_bytes((SOLUTIONS / "ex_02_S0001.py").read_bytes())
    manual = sheet(tmp_path / "m.csv", "student_id,points\nS0001,1\n")
    out = tmp_path / "out"
    assert main([str(submission), "--out", str(out), "--manual", str(manual), "--lang", "en"]) == 0
    manual.unlink()
    capsys.readouterr()
    assert main([str(submission), "--out", str(out), "--lang", "en"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--no-manual" in err
    assert scores(out)[0]["manual"] == "1"  # the earlier results were left as they were
