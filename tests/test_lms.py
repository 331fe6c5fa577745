"""LMS in and out: Moodle owner folders resolved through the roster, Moodle CSV and Gradescope exports."""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from pathlib import Path

import pytest

from grader.cli import main
from grader.i18n import LANGUAGES, Catalogue, Message
from grader.intake.discover import DiscoveryError, MoodleOwner, discover_all, moodle_owner
from grader.intake.roster import RosterEntry, RosterIndex, participant_key, read_roster_entries
from grader.intake.unnamed import MESSAGE_KEYS, LmsFindings, find_unnamed, merge
from grader.outputs.exports import gradescope_results, moodle_csv
from grader.results import CheckResult, ManualPoints, Status, SubmissionResult, Verdict

SOLUTIONS = Path(__file__).parent / "fixtures" / "solutions"
CATALOGUE = Catalogue.load_engine()
GOOD = (SOLUTIONS / "ex_02_S0001.py").read_text(encoding="utf-8")


def folder(name: str, number: str) -> str:
    return f"{name}_{number}_assignsubmission_file_"


def write(path: Path, text: str = GOOD) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def roster(path: Path, rows: list[tuple[str, ...]], header: str = "student_id,participant,氏名",
           encoding: str = "utf-8-sig") -> Path:
    path.write_text("\n".join([header, *(",".join(row) for row in rows)]) + "\n", encoding=encoding)
    return path


def find(root: Path, tmp_path: Path, entries: list[RosterEntry] | None) -> LmsFindings:
    discovery = discover_all(root, tmp_path / "scratch")
    return find_unnamed(discovery, entries)


# ---------------------------------------------------------------------------------------------------
# Owner folders and rosters


@pytest.mark.parametrize(("parts", "expected"), [
    (("山田 太郎_1234567_assignsubmission_file_", "課題2.py"), ("山田 太郎", "1234567", "課題2.py")),
    (("all", "Ann_Lee_77_assignsubmission_file_", "sub", "x.py"), ("Ann_Lee", "77", "x.py")),
    (("山田 太郎_1234567_assignsubmission_file_ex_02.py",), ("山田 太郎", "1234567", "ex_02.py")),
    (("class", "ex_02.py"), None),
    (("山田 太郎_assignsubmission_file_", "x.py"), None),
])
def test_moodle_owner_from_folder_or_flat_name(parts: tuple[str, ...], expected: tuple[str, str, str] | None) -> None:
    found = moodle_owner(parts)
    if expected is None:
        assert found is None
    else:
        owner, uploaded, _ = found
        assert (owner.name, owner.participant, uploaded) == expected


def test_participant_key_accepts_moodle_worksheet_identifiers() -> None:
    assert participant_key("Participant 1234567") == "1234567"
    assert participant_key("参加者 １２３４５６７") == "1234567"
    assert participant_key("0042") == "42"
    assert participant_key("none") is None


def test_roster_entries_with_optional_columns_in_cp932(tmp_path: Path) -> None:
    path = roster(tmp_path / "r.csv", [("b2201", "Participant 11", "山田 太郎"), ("S2", "", ""), ("B2201", "9", "x")],
                  header="Student_ID, Identifier ,フルネーム", encoding="cp932")
    roster_ = read_roster_entries(path)
    assert roster_.entries == [RosterEntry("B2201", "b2201", "11", "山田 太郎"),
                               RosterEntry("S2", "S2", None, None)]
    assert roster_.warnings == []


def test_roster_ids_that_cannot_name_a_file_are_reported_and_skipped(tmp_path: Path) -> None:
    path = roster(tmp_path / "r.csv", [("../x",), ("S 1",), ("S1",)], header="student_id")
    loaded = read_roster_entries(path)
    assert [entry.student_id for entry in loaded.entries] == ["S1"]
    assert [(warning.key, warning.params["line"]) for warning in loaded.warnings] == [
        ("lms.roster_bad_id", 2), ("lms.roster_bad_id", 3)]


def test_roster_without_student_id_is_a_discovery_error(tmp_path: Path) -> None:
    with pytest.raises(DiscoveryError) as raised:
        read_roster_entries(roster(tmp_path / "r.csv", [("1",)], header="id"))
    assert raised.value.message.key == "discover.roster_missing_column"


def test_ambiguous_names_match_nobody() -> None:
    index = RosterIndex([RosterEntry("A", "A", None, "佐藤 花子"), RosterEntry("B", "B", None, "佐藤花子")])
    assert index.resolve(MoodleOwner("佐藤 花子", "5")) is None


# ---------------------------------------------------------------------------------------------------
# Files without the id in their name


def lms_class(root: Path) -> Path:
    write(root / folder("山田 太郎", "101") / "課題2.py")                 # by participant number
    write(root / folder("佐藤　花子", "102") / "sub" / "ex_02.py")        # by name (full-width space)
    write(root / folder("鈴木 一郎", "103") / "ex_02_S0003.py")           # named: discovery's
    write(root / folder("田中 次郎", "104") / "kadai.py")                 # two files: the solution wins
    helper = write(root / folder("田中 次郎", "104") / "utils.py", "def helper():\n    pass\n")
    os.utime(helper, (2e9, 2e9))                                          # ... though the helper is newer
    write(root / folder("伊藤 三郎", "105") / "ex02.ipynb", json.dumps({
        "cells": [{"cell_type": "code", "source": GOOD, "metadata": {}, "outputs": [], "execution_count": None}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    write(root / folder("誰か", "999") / "kadai.py")                      # not in the roster
    return root


ROSTER_ROWS = [("S0001", "101", "山田 太郎"), ("S0002", "", "佐藤 花子"), ("S0003", "103", "鈴木 一郎"),
               ("S0004", "104", "田中 次郎"), ("S0005", "105", "伊藤 三郎")]


def test_files_without_id_are_resolved_by_participant_then_name(tmp_path: Path) -> None:
    root = lms_class(tmp_path / "class")
    entries = read_roster_entries(roster(tmp_path / "roster.csv", ROSTER_ROWS)).entries
    findings = find(root, tmp_path, entries)
    by_id = {submission.student_id: submission for submission in findings.submissions}
    assert sorted(by_id) == ["S0001", "S0002", "S0004", "S0005"]
    assert by_id["S0001"].warnings[0].key == "lms.id_from_participant"
    assert by_id["S0002"].warnings[0].key == "lms.id_from_name"
    assert by_id["S0002"].source.endswith("sub/ex_02.py")
    assert by_id["S0004"].source.endswith("kadai.py")  # the file that defines the contract beats a helper
    assert [warning.key for warning in by_id["S0004"].warnings] == ["lms.id_from_participant", "lms.several_files"]
    assert by_id["S0005"].kind == "ipynb"
    assert [warning.key for warning in findings.warnings] == ["lms.unresolved"]


def test_without_roster_unnamed_files_are_reported_not_dropped(tmp_path: Path) -> None:
    root = lms_class(tmp_path / "class")
    discovery = discover_all(root, tmp_path / "scratch")
    assert any(source.endswith("ex_02.py") for source in discovery.ignored)
    findings = find_unnamed(discovery, None)
    merged = merge(discovery, findings)
    assert [submission.student_id for submission in merged.submissions] == ["S0003"]
    assert {warning.key for warning in findings.warnings} == {"lms.no_roster"}
    assert not any(source.endswith("ex_02.py") for source in merged.ignored)  # said once, with the remedy


def test_zip_download_is_resolved_and_extracted_safely(tmp_path: Path) -> None:
    root = lms_class(tmp_path / "class")
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(root).as_posix())
        zf.writestr("../" + folder("悪い 人", "105") + "/x.py", "print('escape')\n")
    entries = read_roster_entries(roster(tmp_path / "roster.csv", ROSTER_ROWS)).entries
    discovery = discover_all(archive, tmp_path / "scratch")
    findings = find_unnamed(discovery, entries)
    merged = merge(discovery, findings)
    assert [submission.student_id for submission in merged.submissions] == [
        "S0001", "S0002", "S0003", "S0004", "S0005"]
    for submission in findings.submissions:
        assert submission.path.is_relative_to(tmp_path / "scratch")
        assert submission.path.name == f"ex_02_{submission.student_id}.{submission.kind}"
    assert not (tmp_path / folder("悪い 人", "105")).exists()


def test_old_flat_download_takes_id_from_the_uploaded_name(tmp_path: Path) -> None:
    root = tmp_path / "flat"
    write(root / (folder("山田 太郎", "101") + "ex_02_b2201.py"))
    findings = find(root, tmp_path, None)
    assert [(item.student_id, item.warnings) for item in findings.submissions] == [("B2201", ())]


def test_old_flat_download_counts_for_the_folder_owner_only(tmp_path: Path) -> None:
    """Issue 11.1: the id typed into a flat file name never makes it someone else's submission."""
    root = tmp_path / "flat"
    write(root / (folder("悪い 人", "105") + "ex_02_b2201.py"))
    write(root / (folder("他の 人", "106") + "ex_02_b2201.py"))
    entries = [RosterEntry("B2201", "B2201", "101", None), RosterEntry("M0001", "M0001", "105", None)]
    findings = find(root, tmp_path, entries)
    assert [item.student_id for item in findings.submissions] == ["M0001"]
    assert [item.warnings[0].key for item in findings.submissions] == ["discover.id_not_owner"]
    assert sorted(warning.key for warning in findings.warnings) == ["discover.claims_enrolled",
                                                                    "discover.id_not_owner"]


def test_named_submission_wins_over_a_roster_match(tmp_path: Path) -> None:
    root = tmp_path / "class"
    write(root / "ex_02_S0001.py")
    write(root / folder("山田 太郎", "101") / "課題2.py")
    entries = [RosterEntry("S0001", "S0001", "101", None)]
    findings = find(root, tmp_path, entries)
    assert findings.submissions == []
    assert [warning.key for warning in findings.warnings] == ["lms.already_submitted"]


# ---------------------------------------------------------------------------------------------------
# Exports


def result(student_id: str, scores: list[float], status: Status = Status.GRADED) -> SubmissionResult:
    checks = [CheckResult(f"c{index}", score > 0, score, 1.0,
                          Verdict(score > 0, Message("check.passed") if score > 0 else Message("report.missing")))
              for index, score in enumerate(scores)]
    return SubmissionResult(student_id, status, f"ex_02_{student_id}.py", checks, float(len(scores)))


def test_moodle_csv_uses_roster_spelling_and_leaves_out_unknown_students() -> None:
    results = [result("B2201", [1, 0.5]), result("X9", [1, 1]), result("B2202", [0, 0], Status.MISSING)]
    entries = [RosterEntry("B2202", "b2202"), RosterEntry("B2201", "b2201")]
    text, warnings = moodle_csv(results, "ex_02", entries)
    assert list(csv.reader(io.StringIO(text))) == [["student_id", "ex_02"], ["b2202", "0"], ["b2201", "1.5"]]
    assert not text.startswith("\ufeff")
    assert [(warning.key, warning.params["student_id"]) for warning in warnings] == [("lms.not_in_roster", "X9")]
    text, warnings = moodle_csv(results, "ex_02", None)
    assert [row[0] for row in csv.reader(io.StringIO(text))][1:] == ["B2201", "B2202", "X9"] and warnings == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_gradescope_results_follow_the_autograder_format(lang: str) -> None:
    item = result("B2201", [1, 0])
    item.manual, item.manual_max, item.max = ManualPoints(3, "よく書けています"), 4.0, 6.0
    data = gradescope_results(item, CATALOGUE, lang)
    assert set(data) == {"score", "output", "output_format", "test_output_format", "tests"}
    assert data["output_format"] == data["test_output_format"] == "text"  # student text never rendered
    assert data["score"] == 4
    assert [test["status"] for test in data["tests"]] == ["passed", "failed", "passed"]
    for test in data["tests"]:
        assert set(test) == {"name", "score", "max_score", "output", "status"}
    assert data["tests"][-1] == {"name": "manual", "score": 3, "max_score": 4, "output": "よく書けています",
                                 "status": "passed"}
    assert sum(test["score"] for test in data["tests"]) == data["score"]


def test_every_message_key_exists_and_renders() -> None:
    for key in MESSAGE_KEYS:
        assert key in CATALOGUE
    params = {"source": "s", "student_id": "S1", "name": "n", "participant": "1", "count": 1, "kept": "k",
              "ignored": "i", "reason": "r", "path": "p", "line": 2, "value": "v", "prefix": "ex_02_"}
    for key in MESSAGE_KEYS:
        for lang in LANGUAGES:
            assert CATALOGUE.text(key, lang, **params)


# ---------------------------------------------------------------------------------------------------
# From the command line, on a Moodle zip


def test_cli_grades_a_moodle_zip_and_exports_for_the_lms(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "download"
    write(source / folder("山田 太郎", "101") / "課題2.py")
    write(source / folder("佐藤 花子", "102") / "ex_02_S0002.py", (SOLUTIONS / "ex_02_S0002.py").read_text("utf-8"))
    archive = tmp_path / "課題2-全提出.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(source.rglob("*.py")):
            zf.write(path, path.relative_to(source).as_posix())
    roster_path = roster(tmp_path / "roster.csv", [("S0001", "Participant 101", "山田 太郎"),
                                                   ("S0002", "102", "佐藤 花子"), ("S0009", "109", "未 提出")])
    out = tmp_path / "out"
    code = main([str(archive), "--out", str(out), "--roster", str(roster_path), "--export", "moodle,gradescope",
                 "--jobs", "2", "--lang", "en"])
    assert code == 0
    scores = list(csv.DictReader(io.StringIO((out / "scores.csv").read_text("utf-8-sig"))))
    assert [(row["student_id"], row["status"]) for row in scores] == [
        ("S0001", "graded"), ("S0002", "graded"), ("S0009", "missing")]
    moodle = list(csv.reader(io.StringIO((out / "moodle_grades.csv").read_text("utf-8"))))
    assert moodle[0] == ["student_id", "ex_02"]
    assert {row[0]: row[1] for row in moodle[1:]} == {row["student_id"]: row["total"] for row in scores}
    for student_id in ("S0001", "S0002"):
        data = json.loads((out / "gradescope" / student_id / "results.json").read_text("utf-8"))
        assert str(data["score"]) == next(row["total"] for row in scores if row["student_id"] == student_id)
    assert not (out / "gradescope" / "S0009").exists()
    report = json.loads((out / "reports" / "S0001.json").read_text("utf-8"))
    assert report["source"].endswith("課題2.py")
    assert any("participant number 101" in warning for warning in report["warnings"])


def test_cli_rejects_an_unknown_export_in_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as raised:
        main([str(tmp_path), "--export", "moodle,canvas"])
    assert raised.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "canvas" in err and len(err.splitlines()) == 1


def test_cli_grades_a_students_zip_in_a_moodle_download_for_its_owner(tmp_path: Path) -> None:
    """Issue 13.5: a zip of a folder holding the file (with a typo in the id) was ignored and the
    student became missing; it is opened, graded for the folder's owner and the typo is flagged."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("ex_02/ex_02_S0030.py", GOOD)
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"{folder('鈴木 一郎', '103')}/ex_02.zip", inner.getvalue())
    roster_path = roster(tmp_path / "roster.csv", [("S0003", "103", "鈴木 一郎")])
    out = tmp_path / "out"
    assert main([str(archive), "--out", str(out), "--roster", str(roster_path), "--jobs", "1", "--lang", "en"]) == 0
    report = json.loads((out / "reports" / "S0003.json").read_text("utf-8"))
    assert (report["status"], report["total"], report["max"]) == ("graded", 16, 16)
    assert report["source"].endswith("ex_02.zip/ex_02/ex_02_S0030.py")
    assert any("S0030" in warning and "S0003" in warning for warning in report["warnings"])
