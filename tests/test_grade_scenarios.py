"""Golden scenarios: ``grade`` on the shipped example class, end to end through ``grader.cli.main``.

In the spirit of PrairieLearn's grader tests: every student of examples/class/ is a correct solution
with exactly one change (examples/make_class.py), and the table below says which checks that change
must fail — its own check, plus only the checks that depend on it (gradcheck uses the student's own
forward and loss, converge trains with the student's own code, ...). Correct variants get full marks.
The class is graded once per configuration (module-scoped fixtures); the assertions only read files.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import json
import pickle
import re
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from submissions import CLASS, ROOT, ROSTER, load_make_class, submission_file, tree

from grader.cli import main as grade_main
from reference.perceptron import normalize, standardize

#: The spec's check ids, in its order, with the points of grader/assignments/ex_02.toml.
POINTS = {"load": 1, "normalize": 2, "standardize": 2, "forward": 1, "grad_w": 1, "grad_b": 1, "grad_x": 1,
          "update": 1, "mse_forward": 1, "mse_backward": 1, "gradcheck": 2, "converge": 2}
CHECK_IDS = list(POINTS)
MAX = sum(POINTS.values())
EVERYTHING = frozenset(CHECK_IDS)

#: student -> (what is different, the exact set of checks that must fail). Why each dependent check fails:
#: gradcheck differentiates the student's own loss E = mse.forward(p.forward(x), t) and compares it with
#: their chain, so a bug in forward, mse_forward, mse_backward or grad_w shows there too; converge trains
#: with their own code. Checks not listed must pass: e.g. the standardized course data has mean 0, so
#: b stays at its optimum 0 without "+ b" (S1007 converges), and a chain off by a constant factor still
#: converges with the other convention's learning rate when that factor is small (S1008, S1014).
EXPECTED: dict[str, tuple[str, frozenset[str]]] = {
    "S1001": ("correct: batch mean, ddof=0", frozenset()),
    "S1002": ("correct: batch sum, ddof=1", frozenset()),
    "S1003": ("correct: MSE backward 2(y-t)/N, batch-sum Perceptron", frozenset()),
    "S1004": ("normalize: min/max of the whole array", frozenset({"normalize"})),
    "S1005": ("normalize: modifies x in place", frozenset({"normalize"})),
    "S1006": ("standardize: no mean subtracted", frozenset({"standardize"})),
    "S1007": ("forward: no + b", frozenset({"forward", "gradcheck"})),
    "S1008": ("grad_w: divided by g.shape[1]", frozenset({"grad_w", "gradcheck"})),
    # g.T @ x has shape (m, d): with two outputs the student's own update `w - lr * g_w` raises, so
    # every check that calls backward with two outputs fails on that exception; converge ends with a
    # (3, 3) w. With one output g.T @ x holds the right numbers, so gradcheck passes.
    "S1009": ("grad_w: g.T @ x", frozenset({"grad_w", "grad_b", "grad_x", "update", "converge"})),
    "S1010": ("grad_b: g.sum() without axis", frozenset({"grad_b"})),
    "S1011": ("grad_x: computed after the update", frozenset({"grad_x"})),
    "S1012": ("update: wrong sign", frozenset({"update", "converge"})),
    # issue 14.1: the chain's convention is read against the grader's own gradient of the mean loss, so
    # a summed loss with right gradients costs mse_forward only (gradcheck accepts a loss that is the sum)
    "S1013": ("mse_forward: sum instead of mean", frozenset({"mse_forward"})),
    "S1014": ("mse_backward: no factor 2", frozenset({"mse_backward", "gradcheck"})),
    "S1015": ("chain: ÷N in MSE backward and ÷k in Perceptron", frozenset({"gradcheck", "converge"})),
    "S1016": ("train: fixed 10 iterations", frozenset({"converge"})),
    "S1017": ("train: ignores learning_rate", frozenset({"converge"})),
    "S1018": ("correct; top-level script, plt.show(), no main guard", frozenset()),
    "S1019": ("correct; notebook with !pip and %matplotlib", frozenset()),
    "S1020": ("correct; Shift_JIS without declaration", frozenset()),
    "S1021": ("correct definitions; top-level code raises", frozenset({"load"})),
    "S1022": ("syntax error", EVERYTHING),
}
MISSING = "S1023"
ROSTER_IDS = sorted([*EXPECTED, MISSING])
REPORT_KEYS = ["student_id", "status", "total", "max", "source", "warnings", "checks"]
CHECK_KEYS = ["id", "passed", "score", "max", "message"]
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]")


def grade(path: Path, out: Path, *options: str) -> Path:
    assert grade_main([str(path), "--out", str(out), *options]) == 0
    return out


def class_options(*extra: str) -> tuple[str, ...]:
    return ("--roster", str(ROSTER), "--jobs", "2", *extra)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scenarios")


@pytest.fixture
def graded(graded_example_class: Path) -> Path:
    """The class graded as the README shows, reports in Japanese (the default): once for the whole run
    (conftest.graded_example_class, which the student kit's tests compare with too)."""
    return graded_example_class


@pytest.fixture(scope="module")
def graded_en(scratch: Path) -> Path:
    return grade(CLASS, scratch / "en", *class_options("--lang", "en"))


def report(out: Path, student_id: str) -> dict:
    return json.loads((out / "reports" / f"{student_id}.json").read_text("utf-8"))


def failed(data: dict) -> frozenset[str]:
    return frozenset(check["id"] for check in data["checks"] if not check["passed"])


def message(out: Path, student_id: str, check_id: str) -> str:
    (check,) = [check for check in report(out, student_id)["checks"] if check["id"] == check_id]
    return check["message"]


# --- the table ---------------------------------------------------------------------------------------


def test_table_covers_the_generated_class() -> None:
    make_class = load_make_class()
    assert sorted(EXPECTED) == [variant.student_id for variant in make_class.VARIANTS]
    assert [MISSING] == [student_id for student_id, _ in make_class.MISSING]


@pytest.mark.parametrize("student_id", sorted(EXPECTED))
def test_exactly_the_expected_checks_fail(graded: Path, student_id: str) -> None:
    variant, expected = EXPECTED[student_id]
    data = report(graded, student_id)
    assert data["status"] == "graded"
    assert failed(data) == expected, f"{student_id} ({variant}): " + "; ".join(
        f"{check['id']}: {check['message'].splitlines()[0]}" for check in data["checks"]
        if check["passed"] == (check["id"] in expected))
    assert data["total"] == MAX - sum(POINTS[check_id] for check_id in expected)
    assert data["max"] == MAX


def test_the_student_who_sent_nothing_is_missing(graded: Path) -> None:
    data = report(graded, MISSING)
    assert (data["status"], data["total"], data["max"], data["source"]) == ("missing", 0, MAX, "")
    assert failed(data) == EVERYTHING
    assert MISSING in (graded / "reports" / f"{MISSING}.md").read_text("utf-8")


# --- what grade writes -------------------------------------------------------------------------------


def test_a_json_a_markdown_and_an_html_report_per_roster_entry(graded: Path) -> None:
    names = sorted(path.name for path in (graded / "reports").iterdir())
    assert names == sorted(f"{student_id}.{ext}" for student_id in ROSTER_IDS for ext in ("json", "md", "html"))


@pytest.mark.parametrize("student_id", ROSTER_IDS)
def test_reports_have_the_spec_keys(graded: Path, student_id: str) -> None:
    data = report(graded, student_id)
    assert list(data) == REPORT_KEYS
    assert data["student_id"] == student_id
    assert [check["id"] for check in data["checks"]] == CHECK_IDS
    for check in data["checks"]:
        assert list(check) == CHECK_KEYS
        assert check["max"] == POINTS[check["id"]]
        assert check["score"] == (check["max"] if check["passed"] else 0)
        assert isinstance(check["message"], str) and check["message"]
    assert data["total"] == sum(check["score"] for check in data["checks"])
    markdown = (graded / "reports" / f"{student_id}.md").read_text("utf-8")
    assert student_id in markdown and f"{data['total']} / {MAX}" in markdown
    if data["status"] == "graded":
        assert data["source"].endswith(submission_file(student_id).relative_to(CLASS).as_posix())
        for check_id in CHECK_IDS:
            assert f"| `{check_id}` |" in markdown


def test_scores_csv(graded: Path) -> None:
    raw = (graded / "scores.csv").read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["student_id", "total", "max", "status", *CHECK_IDS]
    assert [row[0] for row in rows[1:]] == ROSTER_IDS
    for row in rows[1:]:
        data = report(graded, row[0])
        scores = {check["id"]: check["score"] for check in data["checks"]}
        assert row[1:] == [str(data["total"]), str(MAX), data["status"], *(str(scores[i]) for i in CHECK_IDS)]


# --- messages a student can act on -------------------------------------------------------------------

INFORMATIVE = [
    ("S1004", "normalize", ["列ごと", "axis=0", "[[-3."]),  # the formula, the hint, the input it failed on
    ("S1005", "normalize", ["書き換え"]),  # "modified its input x"
    ("S1006", "standardize", ["平均", "ddof=0"]),
    ("S1007", "forward", ["x @ w + b", "(5, 3)"]),
    ("S1008", "grad_w", ["0.5 倍", "m=2"]),  # exactly half: the wrong divisor, on the two-output case
    ("S1009", "grad_w", ["ValueError", "self.w = self.w - self.lr * self.g_w"]),  # the student's line
    ("S1009", "converge", ["(3, 3)", "(3, 1)"]),  # w's shape after training
    ("S1010", "grad_b", ["形", "()", "(1,)", "axis"]),  # a shape bug names both shapes
    ("S1011", "grad_x", ["更新後の w", "更新前"]),  # computed with w after the update
    ("S1012", "update", ["符号"]),  # the sign is flipped
    ("S1013", "mse_forward", ["6 倍"]),  # exactly N = 6 times the mean
    ("S1014", "mse_backward", ["0.5 倍"]),  # half of 2(y - t)
    ("S1015", "gradcheck", ["0.125", "N = 8"]),  # 1/N of the numerical gradient
    ("S1016", "converge", ["(10,)", "209"]),  # 10 losses, 209 expected (derived from the data)
    ("S1017", "converge", ["最終損失"]),
    ("S1021", "load", ["FileNotFoundError", "advertising.csv", "定義だけ"]),
]


@pytest.mark.parametrize(("student_id", "check_id", "fragments"), INFORMATIVE,
                         ids=[f"{s}-{c}" for s, c, _ in INFORMATIVE])
def test_failed_checks_say_what_is_wrong(graded: Path, student_id: str, check_id: str,
                                         fragments: list[str]) -> None:
    text = message(graded, student_id, check_id)
    missing = [fragment for fragment in fragments if fragment not in text]
    assert not missing, f"{missing} not in:\n{text}"


def test_a_syntax_error_is_said_once_with_its_line_and_a_caret(graded: Path, graded_en: Path) -> None:
    """Issue 13.4: ``load`` says the syntax error with the offending line and a caret under the place
    Python points at; every other check says in one line that it failed for the same reason."""
    lines = submission_file("S1022").read_text("utf-8").split("\n")
    line = 1 + next(index for index, text in enumerate(lines) if text.startswith("    for _ in range(max_it"))
    text = message(graded, "S1022", "load")
    assert f"{line} 行目" in text and "for _ in range(max_iteration)" in text
    code, caret = (row for row in text.splitlines() if row.strip().startswith(("for _", "^")))
    assert caret.strip() == "^" and caret.index("^") == len(code.rstrip()), text  # where the colon is missing
    same = "`load` で報告したのと同じ原因で判定できませんでした (`load` の詳細を見てください)"
    for check_id in CHECK_IDS[1:]:
        assert message(graded, "S1022", check_id) == same
    assert message(graded_en, "S1022", "normalize") == \
        "could not be judged for the same reason as `load` (see `load` above)"
    markdown = (graded / "reports" / "S1022.md").read_text("utf-8")
    assert markdown.count("for _ in range(max_iteration)") == 1
    # the eleven consequences are one section of the report, under the cause
    assert markdown.count(same) == 1 and "### `normalize`, `standardize`, `forward`," in markdown
    assert "`gradcheck`, `converge` (-15)" in markdown
    page = (graded / "reports" / "S1022.html").read_text("utf-8")
    assert page.count("for _ in range(max_iteration)") == 1 and "<code>converge</code> (-15)</h3>" in page


def test_repairs_are_reported_as_warnings(graded: Path) -> None:
    assert any("!pip install" in warning for warning in report(graded, "S1019")["warnings"])
    assert any("cp932" in warning for warning in report(graded, "S1020")["warnings"])
    assert report(graded, "S1001")["warnings"] == []


def test_printed_output_of_top_level_code_is_shown(graded: Path) -> None:
    markdown = (graded / "reports" / "S1018.md").read_text("utf-8")
    assert "w = [" in markdown and "b = [" in markdown


# --- configurations: language, determinism, zip, one file --------------------------------------------


def test_english_reports(graded: Path, graded_en: Path) -> None:
    assert (graded_en / "scores.csv").read_bytes() == (graded / "scores.csv").read_bytes()
    for student_id in ROSTER_IDS:
        data = report(graded_en, student_id)
        assert failed(data) == failed(report(graded, student_id))
        texts = [*data["warnings"], *(check["message"] for check in data["checks"])]
        assert not [text for text in texts if JAPANESE.search(text)], student_id
        assert f"grading report for {student_id}" in (graded_en / "reports" / f"{student_id}.md").read_text("utf-8")
    assert "after the update" in message(graded_en, "S1011", "grad_x")
    assert "wrong shape: got (), expected (1,)" in message(graded_en, "S1010", "grad_b")


def test_a_second_run_from_a_zip_of_the_class_writes_identical_files(graded: Path, scratch: Path) -> None:
    """Two runs of the class write identical files, and a zip of the class grades like the folder: the
    second run grades the zip (the same submissions in another container), so one comparison shows both."""
    archive = scratch / "submissions.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in tree(CLASS).items():
            zf.writestr(name, data)
    assert tree(grade(archive, scratch / "zip", *class_options())) == tree(graded)


def test_a_single_file_grades_like_in_the_class(graded: Path, scratch: Path) -> None:
    """A student runs the grader on their own file: one row, the same verdicts and messages."""
    path = submission_file("S1011")
    out = grade(path, scratch / "single", "--jobs", "1")
    rows = (out / "scores.csv").read_text("utf-8-sig").splitlines()
    class_rows = (graded / "scores.csv").read_text("utf-8-sig").splitlines()
    assert rows == [class_rows[0], next(row for row in class_rows if row.startswith("S1011,"))]
    assert sorted(path.name for path in (out / "reports").iterdir()) == ["S1011.html", "S1011.json", "S1011.md"]
    alone, in_class = report(out, "S1011"), report(graded, "S1011")
    assert alone["source"] == path.name
    assert alone["checks"] == in_class["checks"]


# --- numbers in messages -----------------------------------------------------------------------------


def test_relative_differences_are_not_divisions_by_zero(graded_en: Path) -> None:
    """A Min-Max result always holds zeros: "relative 1.5e+307" (a division by the smallest float)
    was printed for S1004 and S1006, "relative inf" for S1007 (fixed in grader/checks/compare.py)."""
    shown = {}
    for student_id in EXPECTED:
        for check in report(graded_en, student_id)["checks"]:
            for value in re.findall(r"absolute \S+, relative (\S+)", check["message"]):
                shown[f"{student_id}/{check['id']}"] = float(value)
    assert shown and all(value < 1e100 for value in shown.values()), shown
    assert shown["S1004/normalize"] < 10


def test_a_missing_factor_2_is_named_as_such(graded: Path) -> None:
    """Issue 12.6: S1014 (no factor 2 in MeanSquaredError.backward) gets a hint about the 2 in both checks
    it fails, not the hint about dividing by N twice."""
    for check_id in ("mse_backward", "gradcheck"):
        text = message(graded, "S1014", check_id)
        assert "係数 2" in text and "両方" not in text, text
    assert "両方" in message(graded, "S1015", "gradcheck")  # S1015 does divide twice


def test_a_failed_gradcheck_names_the_wrong_parameter(graded_en: Path) -> None:
    """S1007 (forward without + b): dE/dw is right (N times the numerical gradient) but the numerical
    dE/db is 0 and the chain's is not. Regression test: gradcheck used to report one ratio for (w, b)
    together, which only saw w and read "ratio 8 (1 or N = 8 are accepted)"; it now judges and reports
    each parameter, so the report says that dE/db is the wrong part."""
    text = message(graded_en, "S1007", "gradcheck")
    assert "dE/dw: backpropagation gives 8 times the numerical gradient, this part is right" in text, text
    assert "dE/db: ratio backpropagation / numerical -" in text, text
    for student_id in EXPECTED:
        for match in re.finditer(r"ratio backpropagation / numerical (\S+) \(1 or N = (\d+)",
                                 message(graded_en, student_id, "gradcheck")):
            assert match.group(1) == "-" or float(match.group(1)) not in (1.0, float(match.group(2))), student_id


# --- the inputs the checks draw ----------------------------------------------------------------------

DRAW = """
import importlib, pickle, sys
for name in sys.argv[2:]:
    importlib.import_module(name)
from grader.checks.inputs import scaling_arrays
sys.stdout.buffer.write(pickle.dumps([scaling_arrays(25, int(seed)) for seed in sys.argv[1].split(",")]))
"""
SEEDS = range(3)
#: First-party modules a process may have imported before the plan is drawn (the CLI, pytest's collection).
CONTEXTS = {"bare": [], "cli": ["grader.cli"], "suite": ["grader.cli", "reference.synthetic"]}


@functools.cache
def draw_in_subprocess(imports: tuple[str, ...]) -> list[list]:
    """The arrays drawn for each of SEEDS by a fresh process that imported ``imports`` first (one process
    for all the seeds: a draw depends on its seed only, which test_drawn_inputs_do_not_depend_... checks)."""
    completed = subprocess.run([sys.executable, "-c", DRAW, ",".join(map(str, SEEDS)), *imports],
                               capture_output=True, check=True, cwd=ROOT, timeout=120)
    return pickle.loads(completed.stdout)


@pytest.mark.parametrize("context", sorted(CONTEXTS))
def test_drawn_scaling_inputs_are_well_defined(context: str) -> None:
    """Every array normalize/standardize are checked on must have a finite Min-Max and z-score result,
    or every student fails those checks. Found by this module when run inside the whole suite: draws
    such as [[486.6, 0], [486.6, 1]] (the ramp that repairs a constant column was added to every column
    and made a good one constant) and [[486.6, -4.5e-187], [0, 0]] (the variance underflows to 0).
    Fixed in grader/checks/inputs.py (scaling_arrays)."""
    for seed, drawn in zip(SEEDS, draw_in_subprocess(tuple(CONTEXTS[context])), strict=True):
        for x in drawn:
            with np.errstate(all="ignore"):
                results = [normalize(x), standardize(x, ddof=0), standardize(x, ddof=1)]
            assert all(np.all(np.isfinite(result)) for result in results), (seed, x)
            assert np.all(np.ptp(results[0], axis=0) == 1), (seed, x)


def test_drawn_inputs_do_not_depend_on_which_modules_are_imported() -> None:
    """"The same arrays for the same seed", whatever the process imported. Regression test: with
    hypothesis (>= 6.131) the draws mixed in constants from the source of every first-party module in
    sys.modules, so the TA's grader and a student's self-check tried different arrays. The inputs are
    now drawn with numpy's seeded generator (grader/checks/inputs.py)."""
    bare = draw_in_subprocess(())
    other = draw_in_subprocess(("grader.run.sandbox.launcher",))
    for drawn_bare, drawn_other in zip(bare, other, strict=True):  # each seed
        assert len(drawn_bare) == len(drawn_other)
        assert all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(drawn_bare, drawn_other, strict=True))


def test_examples_readme_shows_the_same_table() -> None:
    """examples/README.md tells a TA what each student of the class should get: the same as EXPECTED."""
    rows = {}
    for line in (ROOT / "examples" / "README.md").read_text("utf-8").splitlines():
        match = re.match(r"\| (S1\d{3}) \| \w+ \| [^|]+ \| (.+) \|$", line)
        if match:
            cell = match.group(2)
            rows[match.group(1)] = EVERYTHING if cell.startswith("all 12") else frozenset(re.findall(r"`(\w+)`", cell))
    assert rows == {student_id: expected for student_id, (_, expected) in EXPECTED.items()}


# --- grading in threads ------------------------------------------------------------------------------

PARSE_IN_THREADS = """
import gc, sys, time
from concurrent.futures import ThreadPoolExecutor
from grader.intake.definitions import definitions_only
source = open(sys.argv[1], encoding="utf-8").read()
# what a busy grading run does now and then: a garbage collection during ast.parse's tree building
# that lets another thread run (here made frequent and certain with a GC callback that sleeps)
gc.callbacks.append(lambda phase, info: time.sleep(0.0005) if phase == "start" else None)
gc.set_threshold(100)
errors = []
def parse(_):
    try:
        definitions_only(source)
    except SystemError as exc:
        errors.append(str(exc))
with ThreadPoolExecutor(2) as pool:
    list(pool.map(parse, range(200)))
print(len(errors), errors[:1])
"""


def test_definitions_can_be_computed_in_two_threads() -> None:
    """Regression test: ``grade --jobs 2`` sometimes died with "SystemError: AST constructor recursion
    depth mismatch" from ast.parse in grading threads: CPython 3.11 keeps ast.parse's recursion-depth
    counter in interpreter-wide state (python/cpython#106905). grader/intake/definitions.py now parses under a
    lock."""
    completed = subprocess.run([sys.executable, "-c", PARSE_IN_THREADS, str(submission_file("S1001"))],
                               capture_output=True, text=True, check=True, cwd=ROOT, timeout=120)
    assert completed.stdout.startswith("0 "), completed.stdout


def test_an_unforeseen_grader_error_costs_only_that_student(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in the grader itself while grading one submission becomes that student's result, with the
    status ``error`` (issue 14.2): not a zero, and grade exits with 3 so that a script notices."""
    from grader import grade

    original = grade._grade_submission

    def flaky(plan, submission, runner, extra):
        if submission.student_id == "S1002":
            raise RuntimeError("boom")
        return original(plan, submission, runner, extra)

    monkeypatch.setattr(grade, "_grade_submission", flaky)
    folder = tmp_path / "class"
    folder.mkdir()
    for student_id in ("S1001", "S1002"):
        shutil.copy(submission_file(student_id), folder / f"ex_02_{student_id}.py")
    out = tmp_path / "out"
    assert grade_main([str(folder), "--out", str(out), "--jobs", "1"]) == 3
    rows = {row["student_id"]: row for row in csv.DictReader(io.StringIO((out / "scores.csv").read_text("utf-8-sig")))}
    assert (rows["S1001"]["total"], rows["S1001"]["status"]) == ("16", "graded")
    assert (rows["S1002"]["total"], rows["S1002"]["status"], rows["S1002"]["load"]) == ("", "error", "")
    data = json.loads((out / "reports" / "S1002.json").read_text("utf-8"))
    assert data["status"] == "error"
    assert "RuntimeError: boom" in data["warnings"][-1]


def test_a_fault_in_a_check_is_a_grader_error_not_a_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 14.2: a check whose own code raises while judging one submission (here: converge, injected
    for S1002 only) marks that submission ``error`` in scores.csv, the reports, the summary and the
    terminal's closing line; the class statistics leave it out; grade exits with 3. A rerun grades it
    again (a fault is not cached) and, the grader fixed, exits 0."""
    from grader import grade as grade_module
    from grader.checks.training import Converge

    original = Converge.judge
    original_grade = grade_module._grade_submission
    current = threading.local()

    def mark(plan, submission, runner, extra):
        current.student_id = submission.student_id  # which student this grading thread judges
        return original_grade(plan, submission, runner, extra)

    def faulty_judge(self, outcomes, facts):
        if getattr(current, "student_id", None) == "S1002":
            raise ZeroDivisionError("injected")
        return original(self, outcomes, facts)

    folder = tmp_path / "class"
    folder.mkdir()
    for student_id in ("S1001", "S1002", "S1012"):
        shutil.copy(submission_file(student_id), folder / f"ex_02_{student_id}.py")
    monkeypatch.setattr(grade_module, "_grade_submission", mark)
    monkeypatch.setattr(Converge, "judge", faulty_judge)
    out = tmp_path / "out"
    capsys.readouterr()
    assert grade_main([str(folder), "--out", str(out), "--jobs", "1", "--lang", "en", "--export", "moodle"]) == 3
    terminal = capsys.readouterr().err.splitlines()
    moodle = (out / "moodle_grades.csv").read_text("utf-8").splitlines()
    assert moodle == ["student_id,ex_02", "S1001,16", "S1012,13"]  # no 0 imported for a grader fault
    rows = {row["student_id"]: row for row in csv.DictReader(io.StringIO((out / "scores.csv").read_text("utf-8-sig")))}
    assert [rows[i]["status"] for i in ("S1001", "S1002", "S1012")] == ["graded", "error", "graded"]
    assert rows["S1002"]["total"] == "" and rows["S1002"]["converge"] == ""
    data = json.loads((out / "reports" / "S1002.json").read_text("utf-8"))
    assert data["status"] == "error" and any("ZeroDivisionError: injected" in text for text in data["warnings"])
    assert data["total"] is None
    markdown = (out / "reports" / "S1002.md").read_text("utf-8")
    assert "the grader itself failed" in markdown and "score: – / 16" in markdown
    page = (out / "reports" / "S1002.html").read_text("utf-8")
    assert "the grader itself failed" in page and "score: – / 16" in page
    summary = (out / "summary.md").read_text("utf-8")
    assert "| grader error | – / 16 |" in summary
    # statistics of the two graded students only: S1001 16, S1012 13 (update and converge fail)
    assert "mean score: 14.50 / 16" in "\n".join(terminal)
    assert any("grader errors: 1 (S1002)" in line for line in terminal)
    assert terminal[-1] == "exiting with code 3 because of grader errors"
    monkeypatch.setattr(Converge, "judge", original)
    assert grade_main([str(folder), "--out", str(out), "--jobs", "1", "--lang", "en"]) == 0
    rows = {row["student_id"]: row for row in csv.DictReader(io.StringIO((out / "scores.csv").read_text("utf-8-sig")))}
    assert (rows["S1002"]["status"], rows["S1002"]["total"]) == ("graded", "16")
