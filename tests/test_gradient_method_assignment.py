"""The second assignment, ``gradient_method`` (演習3), added as data: its assignment file and its checks,
graded end to end through ``grade --assignment gradient_method`` with the engine, sandbox and reports
that grade ex_02. Every student is the fixture solution with exactly one change, and the table says the
exact set of checks that change must fail; the class is graded once (module-scoped fixture).
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from submissions import ROOT

from grader import assignment as assignment_module
from grader.assignment import ASSIGNMENTS_DIR, Assignment, available, default_name
from grader.cli import main as grade_main
from grader.i18n import Catalogue
from grader.intake.discover import SubmissionNames, discover_all
from grader.intake.roster import RosterEntry
from grader.intake.unnamed import find_unnamed
from grader.run.sandbox.launcher import readable_copy

CATALOGUE = Catalogue.load_engine()
SOLUTION = ROOT / "tests" / "fixtures" / "solutions" / "gradient_method.py"
CHECK_IDS = ["load", "df", "gradient_descent", "fit_line", "fit_line_losses"]
POINTS = {"load": 1, "df": 1, "gradient_descent": 2, "fit_line": 2, "fit_line_losses": 1}

LOSS_AND_UPDATE = """        losses.append(float(np.mean(diff**2)))
        grad_w = 2 * np.mean(diff * x)
        grad_b = 2 * np.mean(diff)
        w = float(w - learning_rate * grad_w)
        b = float(b - learning_rate * grad_b)
"""

#: student -> (what is different: (old, new) replaced once in the solution, the checks that must fail)
EXPECTED: dict[str, tuple[tuple[str, str] | None, frozenset[str]]] = {
    "G1001": (None, frozenset()),
    "G1002": (("return 2 * (x - 1)", "return 2 * (x + 1)"), frozenset({"df"})),
    # gradient_descent is handed the grader's derivative, never the student's df: a wrong df costs df only,
    # and one that ignores its df argument fails on its own
    "G1003": (("x = x - learning_rate * df(x)", "x = x - learning_rate * 2 * (x - 1)"),
              frozenset({"gradient_descent"})),
    "G1004": (("    history = [x]\n", "    history = []\n"), frozenset({"gradient_descent"})),
    "G1005": (("grad_w = 2 * np.mean(diff * x)", "grad_w = np.mean(diff * x)"), frozenset({"fit_line"})),
    # the loss recorded after the update: the parameters are right, only the losses are not
    "G1006": ((LOSS_AND_UPDATE, LOSS_AND_UPDATE.replace("        losses.append(float(np.mean(diff**2)))\n", "")
               + "        losses.append(float(np.mean((w * x + b - y) ** 2)))\n"), frozenset({"fit_line_losses"})),
    "G1007": (("w = 0.0\n    b = 0.0", "w = 1.0\n    b = 0.0"), frozenset({"fit_line", "fit_line_losses"})),
    # hostile: the process is killed while the file loads; its definitions are still graded
    "G1008": (("def f(x", "import os\nimport signal\n\nos.kill(os.getpid(), signal.SIGKILL)\n\n\ndef f(x"),
              frozenset({"load"})),
    # hostile: df kills its own process; the sandbox restarts after that case and the rest is graded
    "G1009": (("    return 2 * (x - 1)",
               "    import os\n    import signal\n\n    os.kill(os.getpid(), signal.SIGKILL)"), frozenset({"df"})),
    # the data the TA passes (course.csv) is in the submission's data/ under the assignment file's name
    "G1010": (("def f(x", "import os\n\nassert os.listdir('../data') == ['advertising.csv'], os.listdir('../data')"
                          "\nassert 'Sales' in open('../data/advertising.csv').readline()\n\n\ndef f(x"),
              frozenset()),
}
#: The instructor's solution and the handed-out template, as students.
REFERENCE, TEMPLATE = "G2001", "G2002"


def variant(change: tuple[str, str] | None) -> str:
    text = SOLUTION.read_text(encoding="utf-8")
    if change is None:
        return text
    old, new = change
    assert text.count(old) == 1, f"the fixture solution no longer holds {old!r} once"
    return text.replace(old, new)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("gradient_method")
    folder = base / "class"
    folder.mkdir()
    for student_id, (change, _) in EXPECTED.items():
        (folder / f"gradient_method_{student_id}.py").write_text(variant(change), encoding="utf-8")
    shutil.copyfile(ROOT / "reference" / "gradient_descent.py", folder / f"gradient_method_{REFERENCE}.py")
    shutil.copyfile(ROOT / "student_templates" / "gradient_method.py", folder / f"gradient_method_{TEMPLATE}.py")
    # another assignment's file and a near miss of this one's name: not graded, the near miss listed
    shutil.copyfile(ROOT / "tests" / "fixtures" / "solutions" / "ex_02_S0001.py", folder / "ex_02_G3001.py")
    (folder / "gradient-method_G3002.py").write_text(variant(None), encoding="utf-8")
    data = base / "course.csv"
    shutil.copyfile(ROOT / "data" / "advertising.csv", data)
    out = base / "out"
    assert grade_main([str(folder), "--out", str(out), "--assignment", "gradient_method", "--jobs", "2",
                       "--data", str(data)]) == 0
    return out


def scores(out: Path) -> dict[str, dict[str, str]]:
    rows = csv.DictReader(io.StringIO((out / "scores.csv").read_text(encoding="utf-8-sig")))
    assert rows.fieldnames == ["student_id", "total", "max", "status", *CHECK_IDS]
    return {row["student_id"]: row for row in rows}


def failed(row: dict[str, str]) -> frozenset[str]:
    return frozenset(check for check in CHECK_IDS if float(row[check]) == 0)


def test_each_student_fails_exactly_the_checks_of_their_change(graded: Path) -> None:
    rows = scores(graded)
    assert sorted(rows) == sorted([*EXPECTED, REFERENCE, TEMPLATE])  # the ex_02 file and the near miss: not graded
    for student_id, (_, expected) in EXPECTED.items():
        assert failed(rows[student_id]) == expected, student_id
        assert float(rows[student_id]["total"]) == sum(POINTS.values()) - sum(POINTS[check] for check in expected)
        assert rows[student_id]["status"] == "graded"
        assert float(rows[student_id]["max"]) == sum(POINTS.values())


def test_the_instructors_solution_gets_full_marks_and_the_template_only_load(graded: Path) -> None:
    rows = scores(graded)
    assert failed(rows[REFERENCE]) == frozenset()
    assert failed(rows[TEMPLATE]) == frozenset(CHECK_IDS) - {"load"}
    report = json.loads((graded / "reports" / f"{TEMPLATE}.json").read_text(encoding="utf-8"))
    assert [check["id"] for check in report["checks"]] == CHECK_IDS
    assert "df" in next(check["message"] for check in report["checks"] if check["id"] == "df")


def test_reports_speak_of_this_assignment(graded: Path) -> None:
    title = Assignment.named("gradient_method").title["ja"]
    assert title in (graded / "reports" / "G1001.md").read_text(encoding="utf-8")
    report = json.loads((graded / "reports" / "G1002.json").read_text(encoding="utf-8"))
    df = next(check for check in report["checks"] if check["id"] == "df")
    assert not df["passed"] and "2(x - 1)" in df["message"]
    hostile = json.loads((graded / "reports" / "G1008.json").read_text(encoding="utf-8"))
    assert [check["id"] for check in hostile["checks"] if not check["passed"]] == ["load"]


def test_an_unknown_assignment_is_a_usage_error_naming_the_known_ones(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("nope", "../ex_02", "gradient_method.toml"):
        assert grade_main([str(tmp_path), "--assignment", name, "--lang", "en"]) == 2
        error = capsys.readouterr().err
        assert "no assignment" in error and "gradient_method" in error and "ex_02" in error


def test_the_default_assignment_is_the_one_marked_in_its_file() -> None:
    assert default_name() == "ex_02"
    assert {"ex_02", "gradient_method"} <= set(available())


def test_submission_names_follow_the_prefix() -> None:
    names = SubmissionNames("gradient_method_")
    assert names.match("gradient_method_ｇ１２.py") == ("G12", "py")
    assert names.match("Gradient_Method_a7.IPYNB") == ("A7", "ipynb")
    assert names.match("ex_02_A7.py") is None
    assert all(names.near_miss(name) for name in ("gradient-method_1.py", "GradientMethod_1.py", "gradient_method.py",
                                                  "gradient method 12.py.txt", "gradient_method_1.zip"))
    assert not names.near_miss("gradient_1.py") and not names.near_miss("notes.txt")
    numbered = SubmissionNames("hw_03_")
    assert numbered.near_miss("hw3_1.py") and numbered.near_miss("HW-03-1.py")
    assert not numbered.near_miss("hw_030_1.py") and not numbered.near_miss("hw_3")


def test_the_data_folder_holds_the_file_under_the_assignments_name(tmp_path: Path) -> None:
    source = tmp_path / "course.csv"
    source.write_text("TV,Radio,Newspaper,Sales\n1,2,3,4\n", encoding="utf-8")
    folder = readable_copy(source, str(tmp_path / "a"), "advertising.csv")
    assert sorted(path.name for path in folder.iterdir()) == ["advertising.csv"]
    assert (folder / "advertising.csv").read_bytes() == source.read_bytes()
    empty = readable_copy(None, str(tmp_path / "b"), "")
    assert empty.is_dir() and not any(empty.iterdir())


def test_no_assignment_is_hard_coded_in_the_grader() -> None:
    """The engine, sandbox, intake and outputs know an assignment only through its file."""
    pattern = re.compile(r"ex_02|advertising")
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
             for path in sorted((ROOT / "grader").rglob("*.py"))
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert found == []


def test_an_assignment_without_data_neither_reads_data_nor_shows_any(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """An assignment file without ``data_file``: ``--data`` may name nothing, the data folder is empty."""
    assignments = tmp_path / "assignments"
    assignments.mkdir()
    for name in available():
        shutil.copyfile(ASSIGNMENTS_DIR / f"{name}.toml", assignments / f"{name}.toml")
    text = (ASSIGNMENTS_DIR / "gradient_method.toml").read_text(encoding="utf-8")
    assert text.count('data_file = "advertising.csv"\n') == 1
    (assignments / "no_data.toml").write_text(text.replace('data_file = "advertising.csv"\n', "").replace(
        'id = "gradient_method"', 'id = "no_data"').replace('file_prefix = "gradient_method_"',
                                                             'file_prefix = "no_data_"'), encoding="utf-8")
    monkeypatch.setattr(assignment_module, "ASSIGNMENTS_DIR", assignments)
    assert Assignment.named("no_data").data_file == ""
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "no_data_N1.py").write_text(variant(("def f(x", "import os\n\nassert os.listdir('../data') == []"
                                                               "\n\n\ndef f(x")), encoding="utf-8")
    out = tmp_path / "out"
    assert grade_main([str(folder), "--out", str(out), "--assignment", "no_data", "--jobs", "1",
                       "--data", str(tmp_path / "absent.csv")]) == 0
    row = scores(out)["N1"]
    assert failed(row) == frozenset() and row["status"] == "graded"


def test_files_named_without_an_id_are_told_apart_by_what_this_assignment_defines(tmp_path: Path) -> None:
    """In a Moodle folder without a correctly named file, the roster gives the owner and the file that
    defines most of *this* assignment's functions is graded (not the ex_02 solution beside it)."""
    root = tmp_path / "download"
    owner = root / "山田 太郎_1234567_assignsubmission_file_"
    owner.mkdir(parents=True)
    (owner / "演習3.py").write_text(variant(None), encoding="utf-8")
    shutil.copyfile(ROOT / "tests" / "fixtures" / "solutions" / "ex_02_S0001.py", owner / "課題.py")
    names = SubmissionNames("gradient_method_")
    discovery = discover_all(root, tmp_path / "scratch", names=names)
    assert discovery.submissions == []
    entries = [RosterEntry("G4001", "G4001", participant="1234567", name="山田 太郎")]
    found = find_unnamed(discovery, entries, names, Assignment.named("gradient_method").defines)
    assert [(item.student_id, Path(item.source).name) for item in found.submissions] == [("G4001", "演習3.py")]
    text = CATALOGUE.render(found.submissions[0].warnings[0], "en")
    assert "gradient_method_<student id>.py" in text


def test_the_data_file_is_read_and_defaulted_as_the_assignment_file_says(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """``--data`` defaults to the assignment's ``data_default`` and is read with its ``data_reader`` before
    grading: a missing or wrong file is one line naming the assignment's data file, and nothing is graded."""
    assignments = tmp_path / "assignments"
    assignments.mkdir()
    for name in available():
        shutil.copyfile(ASSIGNMENTS_DIR / f"{name}.toml", assignments / f"{name}.toml")
    text = (ASSIGNMENTS_DIR / "gradient_method.toml").read_text(encoding="utf-8")
    own = text.replace('id = "gradient_method"', 'id = "own_data"').replace(
        'file_prefix = "gradient_method_"', 'file_prefix = "own_data_"').replace(
        'data_file = "advertising.csv"', 'data_file = "heights.csv"').replace(
        'data_default = "data/advertising.csv"', f'data_default = "{tmp_path.name}/absent_heights.csv"').replace(
        'data_reader = "reference.data:load_xt"', 'data_reader = "numpy:loadtxt"')
    assert own.count("heights.csv") == 2 and "numpy:loadtxt" in own
    (assignments / "own_data.toml").write_text(own, encoding="utf-8")
    monkeypatch.setattr(assignment_module, "ASSIGNMENTS_DIR", assignments)
    monkeypatch.setattr(assignment_module, "PROJECT_ROOT", tmp_path.parent)
    folder = tmp_path / "class"
    folder.mkdir()
    out = tmp_path / "out"
    assert grade_main([str(folder), "--out", str(out), "--assignment", "own_data", "--lang", "en"]) == 2
    error = capsys.readouterr().err
    assert "absent_heights.csv" in error and "give the course's heights.csv with --data" in error
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("TV,Radio,Newspaper,Sales\n1,2,3,4\n", encoding="utf-8")  # a header: not numbers for loadtxt
    assert grade_main([str(folder), "--out", str(out), "--assignment", "own_data", "--lang", "en",
                       "--data", str(wrong)]) == 2
    assert "wrong.csv" in capsys.readouterr().err
    assert not out.exists()
    assert grade_main([str(folder), "--out", str(out), "--lang", "en", "--data", str(tmp_path / "x.csv")]) == 2
    assert "give the course's advertising.csv with --data" in capsys.readouterr().err
