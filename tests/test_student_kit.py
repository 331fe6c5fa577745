"""The student kit (`student-kit`) as an instructor builds it and a student meets it.

Every test works on a kit built into a temporary folder outside the project and run with pytest in a
subprocess, as a student's ``uv run pytest`` runs it. Files saved into the kit's ``scripts/`` (a correct
solution, the example class) behave exactly as they would on a student's machine.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import spread_across_workers
from submissions import CLASS, ROOT

from grader.assignment import Assignment
from grader.cli import main as grade_main
from grader.run.sandbox import protocol
from grader.studentkit import KIT_NAME, KitError, build
from grader.studentkit import main as kit_main
from reference.data import DEFAULT_DATA_PATH, load_xt
from reference.perceptron import normalize, standardize
from reference.synthetic import make_advertising

SOLUTIONS = ROOT / "tests" / "fixtures" / "solutions"
CHECK_IDS = Assignment.named("ex_02").check_ids
EXERCISE_3_IDS = [check_id for check_id in Assignment.named("gradient_method").check_ids if check_id != "load"]
EXERCISE_TESTS = {*(f"test_gradient_method::test_{check_id}" for check_id in EXERCISE_3_IDS),
                  *(f"test_perceptron::test_{check_id}" for check_id in CHECK_IDS
                    if check_id not in ("load", "normalize", "standardize"))}
#: the names of the exercises' TODOs: nothing in the kit may define them, except the templates' stubs
TODO_NAMES = {"normalize", "standardize", "forward", "backward", "train", "df", "gradient_descent", "fit_line",
              "Perceptron", "MeanSquaredError"}
TEMPLATE_FILES = {"ex_02_template.py", "perceptron.py", "gradient_method.py"}


@pytest.fixture(scope="module")
@spread_across_workers
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    kit, archive = build(tmp_path_factory.mktemp("out"))
    assert archive.is_file()
    return kit


@pytest.fixture
def kit(built: Path, tmp_path: Path) -> Path:
    """A fresh copy of the built kit, away from the project and from the folder it was built in."""
    return Path(shutil.copytree(built, tmp_path / KIT_NAME))


def outcomes_of(stdout: str) -> dict[str, str]:
    """Outcome per test (``module::test[param]`` -> PASSED/FAILED/ERROR) in the output of ``pytest -rA``."""
    outcomes = {}
    for line in stdout.splitlines():
        match = re.match(r"^(PASSED|FAILED|ERROR) (?:scripts/)?(\w+)\.py::(\S+)", line)
        if match:
            outcomes[f"{match.group(2)}::{match.group(3)}"] = match.group(1)
    return outcomes


def run_selfcheck(kit: Path, *extra: str, cwd: Path | None = None,
                  env: dict[str, str] | None = None) -> tuple[dict[str, str], str]:
    """Outcome per test (``module::test[param]`` -> PASSED/FAILED/ERROR) and the whole output.

    pytest's plugins installed in the project's environment (hypothesis, xdist, ...) are not loaded: the
    kit's own environment has pytest alone, and loading them cost most of each run's start."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST", "EXGRADER"))}
    environment["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    completed = subprocess.run([sys.executable, "-m", "pytest", "-rA", *extra], capture_output=True, text=True,
                               cwd=cwd or kit, env={**environment, **(env or {})}, timeout=600)
    return outcomes_of(completed.stdout), completed.stdout + completed.stderr


def shorten_limits(kit: Path, **limits: float) -> None:
    """This kit's copy of the plan with shorter time limits, for a test whose students hang on purpose (the
    self-check adds its own slack to each): the product's limits are the assignment's, untouched."""
    plan_file = kit / "scripts" / "selfcheck" / "plan.json"
    plan = json.loads(plan_file.read_text(encoding="utf-8"))
    assert set(limits) <= set(plan["limits"]), limits
    plan["limits"].update(limits)
    plan_file.write_text(json.dumps(plan, separators=(",", ":")), encoding="utf-8")


def ex02(check_id: str, file: str) -> str:
    return f"test_ex_02::test_{check_id}[{file}]"


# --- what is in the kit ------------------------------------------------------------------------------
def test_the_layout_is_the_slides(built: Path) -> None:
    files = {path.relative_to(built).as_posix() for path in built.rglob("*") if path.is_file()}
    assert {"pyproject.toml", "README.md", "data/advertising.csv", "scripts/gradient_method.py",
            "scripts/perceptron.py", "scripts/ex_02_template.py", "scripts/selfcheck/plugin.py",
            "scripts/test_ex_02.py"} <= files
    assert (built / "outputs").is_dir() and not any((built / "outputs").iterdir())
    assert (built / "data" / "advertising.csv").read_bytes() == DEFAULT_DATA_PATH.read_bytes()
    pyproject = (built / "pyproject.toml").read_text(encoding="utf-8")
    for needed in ('"numpy', '"pandas', '"matplotlib', "[dependency-groups]", '"pytest', "package = false"):
        assert needed in pyproject
    assert "compile-bytecode" not in pyproject  # `uv run` prints "Bytecode compiled ..." every time otherwise
    readme = (built / "README.md").read_text(encoding="utf-8")
    for needed in ("ex_02_<学籍番号>.py", "ex_02_<学籍番号>.ipynb", "考察", "uv run pytest", "uv run perceptron.py",
                   "uv run gradient_method.py", "../data/advertising.csv", "../outputs/"):
        assert needed in readme


def test_the_zip_is_deterministic_safe_and_holds_the_folder(tmp_path: Path) -> None:
    first_kit, first = build(tmp_path / "a")
    _, second = build(tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as bundle:
        infos = bundle.infolist()
        for info in infos:
            assert info.filename.startswith(f"{KIT_NAME}/") or info.filename == f"{KIT_NAME}/"
            assert ".." not in info.filename.split("/") and "\\" not in info.filename
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            mode = info.external_attr >> 16
            assert stat.S_ISDIR(mode) or (stat.S_ISREG(mode) and stat.S_IMODE(mode) == 0o644)
        bundle.extractall(tmp_path / "unzipped")
    unzipped = tmp_path / "unzipped" / KIT_NAME
    assert sorted(p.relative_to(unzipped).as_posix() for p in unzipped.rglob("*")) == \
        sorted(p.relative_to(first_kit).as_posix() for p in first_kit.rglob("*"))
    assert all((unzipped / p.relative_to(first_kit)).read_bytes() == p.read_bytes()
               for p in first_kit.rglob("*") if p.is_file())


def test_the_cli_ships_the_given_data_and_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = tmp_path / "course.csv"
    make_advertising(n=120, seed=7).to_csv(data)
    assert kit_main(["--out", str(tmp_path / "out"), "--data", str(data)]) == 0
    assert (tmp_path / "out" / KIT_NAME / "data" / "advertising.csv").read_bytes() == data.read_bytes()
    assert kit_main(["--out", str(tmp_path / "out")]) == 2
    assert "すでにあります" in capsys.readouterr().err
    tiny = tmp_path / "tiny.csv"
    tiny.write_text("TV,Radio,Newspaper,Sales\n1,2,3,4\n5,6,7,9\n8,1,2,3\n", encoding="utf-8")
    assert kit_main(["--out", str(tmp_path / "tiny"), "--data", str(tiny)]) == 2
    assert "収束しない" in capsys.readouterr().err
    assert not (tmp_path / "tiny" / KIT_NAME).exists() and not (tmp_path / "tiny" / f"{KIT_NAME}.zip").exists()
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    assert kit_main(["--out", str(tmp_path / "other"), "--data", str(bad), "--lang", "en"]) == 2
    assert "Sales" in capsys.readouterr().err or "column" in capsys.readouterr().err.lower()
    assert not (tmp_path / "other" / KIT_NAME).exists()


def test_work_saved_beside_the_templates_never_travels_and_filled_templates_are_refused(tmp_path: Path) -> None:
    """A developer (or a student of the old layout) who saved work in student_templates/ breaks nothing: a
    saved file is not copied, and a template whose TODOs were filled in is refused instead of shipped."""
    templates = Path(shutil.copytree(ROOT / "student_templates", tmp_path / "templates"))
    shutil.copy(SOLUTIONS / "ex_02_S0001.py", templates / "ex_02_S0001.py")
    (templates / "__pycache__").mkdir(exist_ok=True)
    (templates / "__pycache__" / "perceptron.cpython-311.pyc").write_bytes(b"\0" * 16)
    kit, _ = build(tmp_path / "out", templates=templates)
    assert not list(kit.rglob("ex_02_S0001.py")) and not list(kit.rglob("*.pyc"))
    shutil.copy(SOLUTIONS / "perceptron.py", templates / "perceptron.py")
    with pytest.raises(KitError) as refused:
        build(tmp_path / "again", templates=templates)
    assert refused.value.key == "kit.template_filled" and "Perceptron.forward" in refused.value.params["names"]
    assert not (tmp_path / "again" / KIT_NAME).exists()


def project_files() -> dict[bytes, str]:
    """Every file of the solutions the project holds, by its content."""
    folders = [ROOT / "reference", ROOT / "tests" / "fixtures", CLASS]
    return {path.read_bytes().strip(): str(path) for folder in folders for path in folder.rglob("*")
            if path.is_file() and path.stat().st_size > 0}


def test_no_solution_travels_with_the_kit(built: Path) -> None:
    solutions = project_files()
    for path in built.rglob("*"):
        parts = set(path.relative_to(built).parts)
        assert not parts & {"reference", "fixtures", "examples", "class", "solutions", "tests"}, path
        if not path.is_file():
            continue
        assert path.read_bytes().strip() not in solutions, f"{path} is {solutions.get(path.read_bytes().strip())}"
        if path.suffix != ".py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(name.split(".")[0] in ("grader", "reference") for name in names), path
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in TODO_NAMES:
                assert path.name in TEMPLATE_FILES and path.parent.name == "scripts", f"{path}: {node.name}"
                functions = [node] if isinstance(node, ast.FunctionDef) else \
                    [item for item in node.body if isinstance(item, ast.FunctionDef)]
                for function in functions:  # a template's TODO: docstring, then raise NotImplementedError
                    body = [statement for statement in function.body if not (
                        isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant))]
                    assert len(body) == 1 and isinstance(body[0], ast.Raise), f"{path}: {function.name}"
                    assert "NotImplementedError" in ast.unparse(body[0])


def test_the_plan_carries_no_scaled_course_data(built: Path) -> None:
    """plan.json holds inputs only: nothing in it is the course data normalized or standardized."""
    plan = json.loads((built / "scripts" / "selfcheck" / "plan.json").read_text(encoding="utf-8"))
    arrays: list[np.ndarray] = []

    def collect(value: object) -> None:
        decoded = protocol.decode(value) if isinstance(value, dict) and "__nd__" in value else None
        if isinstance(decoded, np.ndarray):
            arrays.append(decoded)
        elif isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    collect(plan)
    assert len(arrays) > 100
    x, t = load_xt(DEFAULT_DATA_PATH)
    answers = [normalize(x), standardize(x), standardize(x, ddof=1), normalize(t), standardize(t),
               standardize(t, ddof=1)]
    for array in arrays:
        for answer in answers:
            assert not (array.shape == answer.shape and np.allclose(array, answer, atol=1e-3))


# --- the self-check -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class UntouchedRun:
    lang: str
    returncode: int
    outcomes: dict[str, str]
    output: str


@pytest.fixture(scope="module")
def untouched_runs(built: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str | None, list[UntouchedRun]]:
    """The untouched kit run from its root (in Japanese, the default) and from scripts/ (``--lang en``) as a
    student runs it: ``uv run pytest``, in the kit's own environment that uv makes from its pyproject (offline,
    from uv's cache filled by the project's own set-up). Where uv is missing or cannot resolve offline, with
    ``python -m pytest`` instead, and the reason. Python writes its bytecode as on a student's machine (not so
    where PYTHONDONTWRITEBYTECODE is set: every run would then compile numpy, pandas and matplotlib again)."""
    kit = Path(shutil.copytree(built, tmp_path_factory.mktemp("untouched") / KIT_NAME))
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("VIRTUAL_ENV", "UV_PROJECT", "UV_COMPILE", "PYTEST", "EXGRADER",
                                          "PYTHONDONTWRITEBYTECODE"))}
    without_uv = "uv is not installed" if shutil.which("uv") is None else None
    if without_uv is None:
        lock = subprocess.run(["uv", "lock", "--offline"], cwd=kit, capture_output=True, text=True,
                              env=environment, timeout=300)
        if lock.returncode != 0:
            without_uv = f"uv cannot resolve the kit's packages offline here: {lock.stderr.strip()[-300:]}"
    runs = []
    for cwd, lang in ((kit, "ja"), (kit / "scripts", "en")):
        extra = ("--lang", lang) if lang != "ja" else ()
        if without_uv is None:
            completed = subprocess.run(["uv", "run", "--offline", "pytest", "-rA", *extra], cwd=cwd,
                                       capture_output=True, text=True, env=environment, timeout=600)
            runs.append(UntouchedRun(lang, completed.returncode, outcomes_of(completed.stdout),
                                     completed.stdout + completed.stderr))
        else:
            runs.append(UntouchedRun(lang, -1, *run_selfcheck(kit, *extra, cwd=cwd)))
    return without_uv, runs


def test_untouched_kit_fails_every_test_with_a_one_line_todo(
        untouched_runs: tuple[str | None, list[UntouchedRun]]) -> None:
    """From the kit's root in Japanese (the default), and from scripts/ in English (``--lang en``)."""
    todo = {"ja": "{name} が未実装です", "en": "{name} is not implemented yet"}
    save_as = {"ja": "ex_02_<学籍番号>.py", "en": "ex_02_<student id>.py"}
    _, runs = untouched_runs
    assert [run.lang for run in runs] == ["ja", "en"]
    for run in runs:
        outcomes, output = run.outcomes, run.output
        assert {ex02(check_id, "ex_02_template.py") for check_id in CHECK_IDS} | EXERCISE_TESTS == set(outcomes)
        assert set(outcomes.values()) == {"FAILED"}, output
        assert "Traceback" not in output and "During handling" not in output and "NotImplementedError" not in output
        assert "ERROR" not in output and " error" not in output  # no collection error, no "1 error" in the summary
        for name in ("normalize", "standardize", "Perceptron.__init__", "MeanSquaredError.__init__", "train", "df",
                     "gradient_descent", "fit_line"):
            assert todo[run.lang].format(name=name) in output
        assert save_as[run.lang] in output  # test_load tells the student to save the file under their id


def test_correct_work_in_both_conventions_passes_everything(without_posix: tuple[Path, dict[str, str], str]) -> None:
    """The solutions of the assignment (the mean and the batch-sum convention) and of both exercises pass every
    test (in the run without POSIX-only APIs below, beside the files that hang: each file is judged alone)."""
    _, outcomes, output = without_posix
    correct = {name: outcome for name, outcome in outcomes.items() if "H000" not in name}
    assert set(correct.values()) == {"PASSED"}, output
    assert {ex02(check_id, f"ex_02_S000{n}.py") for check_id in CHECK_IDS for n in (1, 2)} | EXERCISE_TESTS \
        == set(correct)


def fill(template: str, solution: str) -> str:
    """The template with each TODO body (``raise NotImplementedError``) replaced by the solution's."""
    def spans(text: str) -> dict[str, tuple[int, int]]:
        found = {}
        for top in ast.parse(text).body:
            if not isinstance(top, ast.FunctionDef | ast.ClassDef):
                continue
            members = [(top.name, top)] + [(f"{top.name}.{item.name}", item) for item in getattr(top, "body", [])
                                           if isinstance(top, ast.ClassDef) and isinstance(item, ast.FunctionDef)]
            for name, node in members:
                if isinstance(node, ast.FunctionDef):
                    found[name] = (node.lineno, node.end_lineno or node.lineno)
        return found

    lines, given = template.splitlines(), solution.splitlines()
    ours, theirs = spans(template), spans(solution)
    for name, (start, end) in sorted(ours.items(), key=lambda item: -item[1][0]):
        if "raise NotImplementedError" in "\n".join(lines[start - 1:end]):
            first, last = theirs[name]
            lines[start - 1:end] = given[first - 1:last]
    return "\n".join(lines) + "\n"


def test_the_filled_in_templates_run_from_scripts_and_converge_with_their_defaults(kit: Path) -> None:
    """Item 5: one convention, whose learning rate in main() converges; run as the slides say."""
    scripts = kit / "scripts"
    mean_solution = (SOLUTIONS / "ex_02_S0001.py").read_text(encoding="utf-8")
    assert "/ k" in mean_solution  # the convention the template teaches: the batch mean
    (scripts / "ex_02_S9999.py").write_text(fill((scripts / "ex_02_template.py").read_text(encoding="utf-8"),
                                                 mean_solution), encoding="utf-8")
    for name, solution in (("perceptron.py", "perceptron.py"), ("gradient_method.py", "gradient_method.py")):
        (scripts / name).write_text(fill((scripts / name).read_text(encoding="utf-8"),
                                         (SOLUTIONS / solution).read_text(encoding="utf-8")), encoding="utf-8")
    for name in ("ex_02_S9999.py", "perceptron.py", "gradient_method.py"):
        completed = subprocess.run([sys.executable, name], capture_output=True, text=True, cwd=scripts, timeout=300,
                                   env={**os.environ, "MPLBACKEND": "Agg"})
        assert completed.returncode == 0, completed.stderr
        if name == "ex_02_S9999.py":
            final = float(re.search(r"最後の損失: ([0-9.e+-]+)", completed.stdout).group(1))
            best = float(re.search(r"最小二乗解の損失\): ([0-9.e+-]+)", completed.stdout).group(1))
            assert abs(final - best) < 1e-5, completed.stdout
    assert {path.name for path in (kit / "outputs").iterdir()} == {"ex_02_S9999_loss.png", "perceptron_loss.png",
                                                                    "gradient_method.png"}
    outcomes, output = run_selfcheck(kit)
    assert set(outcomes.values()) == {"PASSED"}, output


def utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# --- self-check == grader --------------------------------------------------------------------------------
#: correct or wrong in ways the example class does not show: the properties must still agree with the values
ODD_FORMS = {
    "V0001": ("    return (x - x_min) / (x_max - x_min)",
              "    return ((x - x_min) / (x_max - x_min)).astype(np.float32)"),
    "V0002": ("    return (x - x_min) / (x_max - x_min)", "    return ((x - x_min) / (x_max - x_min)).tolist()"),
    "V0003": ("        self.g_b = g.mean(axis=0)", "        self.g_b = g.mean(axis=0, keepdims=True)"),
    "V0004": ("        self.b = np.zeros(output_dim)", "        self.b = rng.standard_normal(3)"),
    "V0005": ("    return (x - mean) / std", "    return (x - mean) / np.std(x, axis=0, ddof=1)"),
    "V0006": ("    return (x - x_min) / (x_max - x_min)", "    return (x - x_min) / (x_max - x_min) * 0.999999"),
    "V0007": ("        return x @ self.w + self.b", "        return (x @ self.w + self.b).ravel()"),
    "V0008": ("        return float(np.mean(self.diff**2))", "        return np.mean(self.diff**2, axis=0)"),
    "V0009": ("    return (x - mean) / std", "    return (x - mean) / std.mean()"),
    # a zero g_w leaves w where it was: no update rule is shown, so update fails too (issue 11.5)
    "V0010": ("        self.g_w = self.x.T @ g / k", "        self.g_w = np.zeros_like(self.w)"),
}
#: the notebooks of the odd forms: one that reads the data beside it, one with a syntax error in cell 3
NOTEBOOKS = ("N0001", "N0002")
#: red team T0001: honest steps for 1-3 iterations, the closed form with made-up losses for the long run
SNIFFER = "T0001"


def write_odd_forms(folder: Path) -> None:
    """The odd forms of the correct solution, and two notebooks."""
    source = (SOLUTIONS / "ex_02_S0001.py").read_text(encoding="utf-8")
    for student_id, (old, new) in ODD_FORMS.items():
        assert source.count(old) == 1
        (folder / f"ex_02_{student_id}.py").write_text(source.replace(old, new), encoding="utf-8")
    # a notebook reads the data beside it, as in the student's Jupyter (grade puts it there too)
    cells = [source, 'frame = pd.read_csv("advertising.csv", index_col=0)\nprint(len(frame))',
             'print(len(pd.read_csv("data/advertising.csv", index_col=0)))', "%matplotlib inline\nmain()"]
    notebook = {"cells": [{"cell_type": "code", "source": cell, "metadata": {}, "outputs": [], "execution_count": None}
                          for cell in cells], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (folder / "ex_02_N0001.ipynb").write_text(json.dumps(notebook, ensure_ascii=False), encoding="utf-8")
    # a notebook whose error is cited by its cell ("セル 3 の 2 行目"), in the kit as in grade's report
    broken_cell = {**notebook["cells"][1], "source": "x = 1\nfor i in range(3)\n    x += i"}
    broken = {**notebook, "cells": [{"cell_type": "markdown", "source": "# 課題", "metadata": {}},
                                    notebook["cells"][0], broken_cell]}
    (folder / "ex_02_N0002.ipynb").write_text(json.dumps(broken, ensure_ascii=False), encoding="utf-8")


@pytest.fixture(scope="module")
def graded_odd_forms(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The odd forms, their notebooks and the step-count sniffer (red team T0001, whose only harm is to its own
    converge) in one folder graded once: ``(folder, out)``."""
    from test_redteam import ATTACKS

    base = tmp_path_factory.mktemp("odd")
    folder = base / "class"
    folder.mkdir()
    write_odd_forms(folder)
    (folder / f"ex_02_{SNIFFER}.py").write_text(ATTACKS[SNIFFER], encoding="utf-8")
    assert grade_main([str(folder), "--out", str(base / "graded"), "--jobs", "2"]) == 0
    return folder, base / "graded"


def example_class_files() -> list[Path]:
    return sorted(path for path in CLASS.rglob("ex_02_*") if path.is_file())


@pytest.fixture(scope="module")
def compared(built: Path, graded_example_class: Path, graded_variants: tuple[Path, Path],
             graded_odd_forms: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory,
             ) -> tuple[Path, dict[str, str], str]:
    """One self-check run over every file the tests below compare with grade (the example class, the verdict
    variants, the odd forms and the sniffer): ``(kit, outcomes, output)``. The kit takes each file in turn
    and judges it alone, so each test reads its own files' verdicts; one run instead of one per test saves
    a pytest start and the child process's start (Python, numpy, pandas) for each."""
    kit = Path(shutil.copytree(built, tmp_path_factory.mktemp("compared") / KIT_NAME))
    files = [*example_class_files(), *sorted(graded_variants[0].iterdir()), *sorted(graded_odd_forms[0].iterdir())]
    assert len({path.name for path in files}) == len(files)  # no file hides another
    for path in files:
        shutil.copy(path, kit / "scripts" / path.name)
    outcomes, output = run_selfcheck(kit, "scripts/test_ex_02.py")
    return kit, outcomes, output


def compare_with_grade(compared: tuple[Path, dict[str, str], str], files: list[Path],
                       graded: Path) -> tuple[list[str], list[str]]:
    """Compare each check of ``files`` in the kit's run with grade's report in ``graded``: verdicts that
    differ, and first lines of failure messages that differ."""
    _, outcomes, output = compared
    names = {path.name for path in files}
    ran = {name for name in outcomes if re.search(r"\[(.+)\]$", name).group(1) in names}
    assert ran == {ex02(check_id, name) for check_id in CHECK_IDS for name in names}, output[-3000:]
    said = {f"{name}[{file}]": text.strip().splitlines()[0] for name, file, text in re.findall(
        r"^_+ test_(\w+)\[(ex_02_\w+\.\w+)\] _+\n(.*?)(?=^_+ test_|^=+ )", output, re.S | re.M)}
    verdicts, words = [], []
    for path in files:
        report = json.loads((graded / "reports" / f"{path.stem.removeprefix('ex_02_')}.json").read_text("utf-8"))
        for check in report["checks"]:
            kit_passed = outcomes.get(ex02(check["id"], path.name)) == "PASSED"
            if kit_passed != check["passed"]:
                verdicts.append(f"{path.name} {check['id']}: grade {check['passed']}, kit {kit_passed}")
            first, ours = check["message"].splitlines()[0], said.get(f"{check['id']}[{path.name}]")
            if not check["passed"] and ours != first:
                words.append(f"{path.name} {check['id']}: grade {first!r}, kit {ours!r}")
    return verdicts, words


def test_the_selfcheck_agrees_with_grade_check_by_check(compared: tuple[Path, dict[str, str], str],
                                                       graded_example_class: Path) -> None:
    """The example class (both conventions, each single bug, a notebook, Shift_JIS, top-level scripts, a
    syntax error): the kit's verdict of every check of every file is grade's, and so is its first sentence."""
    files = example_class_files()
    assert len(files) >= 20
    verdicts, words = compare_with_grade(compared, files, graded_example_class)
    output = compared[2]
    assert not verdicts, "\n".join(verdicts) + "\n" + output[-3000:]
    assert not words, "\n".join(words)
    shift_jis = [path.name for path in files if not utf8(path.read_bytes())]
    assert shift_jis and all(f"python {name} の実行が SyntaxError" in output for name in shift_jis)


def test_the_selfcheck_agrees_with_grade_on_odd_forms(compared: tuple[Path, dict[str, str], str],
                                                     graded_odd_forms: tuple[Path, Path]) -> None:
    folder, graded = graded_odd_forms
    notebook_report = json.loads((graded / "reports" / "N0001.json").read_text("utf-8"))
    assert all(check["passed"] for check in notebook_report["checks"]), notebook_report
    broken_report = json.loads((graded / "reports" / "N0002.json").read_text("utf-8"))
    assert "セル 3" in broken_report["checks"][0]["message"].splitlines()[0], broken_report
    files = sorted(path for path in folder.iterdir() if path.stem.removeprefix("ex_02_") in {*ODD_FORMS, *NOTEBOOKS})
    assert len(files) == len(ODD_FORMS) + len(NOTEBOOKS)
    verdicts, words = compare_with_grade(compared, files, graded)
    assert not verdicts, "\n".join(verdicts) + "\n" + compared[2][-3000:]
    assert not words, "\n".join(words)
    assert not (compared[0] / "scripts" / "advertising.csv").exists()  # the notebooks ran in a private layout


def test_uv_run_pytest_works_in_a_kit_copied_away_and_says_nothing_about_bytecode(
        untouched_runs: tuple[str | None, list[UntouchedRun]]) -> None:
    """As a student runs it, from the root and from scripts/: the untouched kit's runs above."""
    without_uv, runs = untouched_runs
    if without_uv is not None:
        pytest.skip(without_uv)
    for run in runs:
        assert run.returncode == 1 and f"{len(CHECK_IDS) + len(EXERCISE_TESTS)} failed" in run.output, run.output
        assert "Bytecode compiled" not in run.output


# --- Windows and macOS -------------------------------------------------------------------------------------
NO_POSIX = """
import builtins, os, signal, sys
for name in ("SIGALRM", "setitimer", "alarm", "ITIMER_REAL", "siginterrupt"):
    if hasattr(signal, name):
        delattr(signal, name)
for name in ("fork", "forkpty", "register_at_fork", "wait3", "wait4"):
    if hasattr(os, name):
        delattr(os, name)

class Blocked:
    # neither POSIX-only modules nor the project: the kit must work alone
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("resource", "fcntl", "grader", "reference", "termios"):
            raise ImportError(f"{name} is not available here")
        return None

sys.meta_path.insert(0, Blocked())
for name in ("resource", "fcntl", "termios", "grader", "reference"):
    sys.modules.pop(name, None)
"""

#: a train that hangs on its first call only (a file in ../outputs/ remembers it across the fresh processes the
#: self-check starts after a hang): one hang proves the deadline as well as four, at a quarter of the wait.
#: The hangs here block rather than spin: the deadline is the parent's either way (a pipe read with a
#: timeout), and a spinning child would burn the whole wait in CPU
HANGING_TRAIN = """
_train = train


def train(x, t, learning_rate, max_iteration, rng):
    import pathlib, threading
    marker = pathlib.Path("../outputs/train_hung")
    if not marker.exists():
        marker.touch()
        threading.Event().wait()
    return _train(x, t, learning_rate, max_iteration, rng)
"""


@pytest.fixture(scope="module")
def without_posix(built: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], str]:
    """The whole kit run once in a Python without SIGALRM, fork, resource, fcntl or the project (as on Windows):
    correct work in both conventions and the exercises' solutions, a file whose train hangs and one whose
    top-level code hangs. ``(kit, outcomes, output)``."""
    base = tmp_path_factory.mktemp("no_posix")
    kit = Path(shutil.copytree(built, base / KIT_NAME))
    shim = base / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(textwrap.dedent(NO_POSIX), encoding="utf-8")
    probe = subprocess.run([sys.executable, "-c", "import signal, os; print(hasattr(signal, 'SIGALRM'), "
                            "hasattr(os, 'fork')); import resource"], capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(shim)})
    assert probe.stdout.split() == ["False", "False"] and "resource is not available" in probe.stderr
    for name in ("ex_02_S0001.py", "ex_02_S0002.py", "perceptron.py", "gradient_method.py"):
        shutil.copy(SOLUTIONS / name, kit / "scripts" / name)
    source = (SOLUTIONS / "ex_02_S0001.py").read_text(encoding="utf-8")
    (kit / "scripts" / "ex_02_H0001.py").write_text(source + HANGING_TRAIN, encoding="utf-8")
    (kit / "scripts" / "ex_02_H0002.py").write_text(source + "\nimport time\n\ntime.sleep(3600)\n", encoding="utf-8")
    shorten_limits(kit, load_seconds=1, case_seconds=0.5)  # each hang still costs the slack on top
    outcomes, output = run_selfcheck(kit, env={"PYTHONPATH": str(shim)})
    return kit, outcomes, output


def test_the_selfcheck_needs_no_posix_api_and_not_the_project(without_posix: tuple[Path, dict[str, str], str]) -> None:
    kit, outcomes, output = without_posix
    assert {ex02("load", f"ex_02_{student_id}.py") for student_id in ("H0001", "H0002", "S0001", "S0002")} \
        <= set(outcomes), output
    failed = {name for name, outcome in outcomes.items() if outcome != "PASSED"}
    assert failed == {ex02("converge", "ex_02_H0001.py"), ex02("load", "ex_02_H0002.py")}, output
    assert "train" in output and "時間" in output  # the hang is named as a time limit, not as a crash
    converge = re.search(r"^_+ test_converge\[ex_02_H0001\.py\] _+\n(.*?)(?=^_+ |^=+ )", output, re.S | re.M)
    assert converge and "制限時間" in converge.group(1), output
    assert "トップレベルのコードが制限時間内に終わりませんでした" in output
    assert (kit / "outputs" / "train_hung").is_file()  # the hang happened (in the first converge case)


#: appended to a file: it notes which process ran it
PID_LINE = ('\nimport os as _os\nwith open("../outputs/pids.txt", "a") as _log:\n'
            '    _log.write(f"{__name__} {_os.getpid()}\\n")\n')


def test_files_share_one_process_and_still_run_as_in_a_fresh_one(kit: Path) -> None:
    """Item 7: the files run one after another in one child process (Python, numpy and pandas are loaded
    once), yet each as in a process of its own: what a file changes (the folder, sys.path, a module of its
    own folder, numpy's error handling) is put back, a file that patches numpy is followed by a fresh process,
    and input() reads nothing."""
    source = (SOLUTIONS / "ex_02_S0001.py").read_text(encoding="utf-8")
    scripts = kit / "scripts"
    (scripts / "helper_k0001.py").write_text("VALUE = 1\n", encoding="utf-8")
    files = {
        "ex_02_K0001.py": source + PID_LINE + "import sys\nimport helper_k0001\nhelper_k0001.VALUE = 2\n"
                          "np.seterr(all='raise')\nsys.path.clear()\n_os.chdir(_os.sep)\n",
        "ex_02_K0002.py": source + PID_LINE + "import helper_k0001\nassert helper_k0001.VALUE == 1\n"
                          "assert np.geterr()['divide'] == 'warn'\nnp.mean = lambda *args, **kwargs: 0.0\n",
        "ex_02_K0003.py": source + PID_LINE + "assert np.mean([1.0, 3.0]) == 2.0\n",
        "ex_02_K0004.py": source + PID_LINE + "name = input()\n",
    }
    for name, text in files.items():
        (scripts / name).write_text(text, encoding="utf-8")
    outcomes, output = run_selfcheck(kit, "scripts/test_ex_02.py")
    failed = {name for name, outcome in outcomes.items() if outcome != "PASSED"}
    # K0002 breaks its own standardize; K0004's input() meets an empty stdin (EOFError) instead of waiting
    assert ex02("load", "ex_02_K0004.py") in failed and "EOFError" in output, output
    assert not {name for name in failed if "K0001" in name or "K0003" in name}, output
    assert ex02("load", "ex_02_K0002.py") not in failed and ex02("standardize", "ex_02_K0002.py") in failed, output
    assert {name for name in failed if "K0004" in name} == {ex02("load", "ex_02_K0004.py")}, output
    pids = dict(line.split() for line in (kit / "outputs" / "pids.txt").read_text(encoding="utf-8").splitlines())
    assert pids["ex_02_K0001"] == pids["ex_02_K0002"] != pids["ex_02_K0003"] == pids["ex_02_K0004"], pids


def test_the_selfcheck_agrees_with_grade_on_the_verdict_variants(compared: tuple[Path, dict[str, str], str],
                                                                graded_variants: tuple[Path, Path]) -> None:
    """Issue 16: the golden variants students really write (other libraries, bias shapes, per-axis losses,
    DataFrames, the correct-in-substance table) and the file without machine learning: the kit says what
    grade says, check by check (grade's reports: the variants graded once for the run, in conftest)."""
    folder, graded = graded_variants
    verdicts, words = compare_with_grade(compared, sorted(folder.iterdir()), graded)
    assert not verdicts, "\n".join(verdicts) + "\n" + compared[2][-3000:]
    assert not words, "\n".join(words)


def test_the_selfcheck_fails_a_train_that_sniffs_the_step_count_as_grade_does(
        compared: tuple[Path, dict[str, str], str], graded_odd_forms: tuple[Path, Path]) -> None:
    """Red team T0001: honest steps for 1-3 iterations, the closed form with made-up losses for the long
    run. The kit's converge restates the grader's, so it fails the file with grade's sentence."""
    folder, graded = graded_odd_forms
    report = json.loads((graded / "reports" / f"{SNIFFER}.json").read_text("utf-8"))
    assert [check["id"] for check in report["checks"] if not check["passed"]] == ["converge"], report
    verdicts, words = compare_with_grade(compared, [folder / f"ex_02_{SNIFFER}.py"], graded)
    assert not verdicts and not words, "\n".join([*verdicts, *words]) + "\n" + compared[2][-3000:]
