"""The students' self-check (`pytest student_templates`) as a student meets it.

Runs pytest in a subprocess on a copy of student_templates/ so that files saved in the copy (a correct
solution, a planted bug) behave exactly as they would in a student's checkout.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "student_templates"
SOLUTIONS = ROOT / "tests" / "fixtures" / "solutions"
EX02_IDS = ["load", "normalize", "standardize", "forward", "grad_w", "grad_b", "grad_x", "update", "mse_forward",
            "mse_backward", "gradcheck", "converge"]


def run_selfcheck(folder: Path, *extra: str) -> tuple[dict[str, str], str]:
    """Outcome per test node id (PASSED/FAILED/ERROR) and the whole output."""
    completed = subprocess.run([sys.executable, "-m", "pytest", str(folder), "-rA", "-p", "no:cacheprovider",
                                "--rootdir", str(folder), *extra], capture_output=True, text=True, cwd=folder,
                               timeout=300)
    outcomes = {}
    for line in completed.stdout.splitlines():
        match = re.match(r"^(PASSED|FAILED|ERROR) \S+::(\S+)", line)
        if match:
            outcomes[match.group(2)] = match.group(1)
    return outcomes, completed.stdout + completed.stderr


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    folder = tmp_path / "student_templates"
    shutil.copytree(TEMPLATES, folder, ignore=shutil.ignore_patterns("__pycache__", "ex_02_[!t]*.py"))
    return folder


def test_untouched_templates_fail_every_test_with_a_one_line_todo(templates: Path) -> None:
    outcomes, output = run_selfcheck(templates)
    assert outcomes, output
    assert set(outcomes.values()) == {"FAILED"}, output
    assert {f"test_{check_id}[ex_02_template.py]" for check_id in EX02_IDS} <= set(outcomes)
    assert {"test_df", "test_gradient_descent", "test_fit_line", "test_forward", "test_converge"} <= set(outcomes)
    assert "Traceback" not in output and "During handling" not in output
    assert "ERROR" not in output and " error" not in output  # no collection error, no "1 error" in the summary
    for name in ("normalize", "standardize", "Perceptron.__init__", "MeanSquaredError.__init__", "train", "df",
                 "gradient_descent", "fit_line"):
        assert f"{name} が未実装です" in output
    assert "ex_02_<学籍番号>.py" in output  # test_load tells the student to save the file under their id


def test_correct_work_in_both_conventions_passes_everything(templates: Path) -> None:
    for name in ("ex_02_S0001.py", "ex_02_S0002.py", "perceptron.py", "gradient_method.py"):
        shutil.copy(SOLUTIONS / name, templates / name)
    outcomes, output = run_selfcheck(templates)
    assert set(outcomes.values()) == {"PASSED"}, output
    assert {f"test_{check_id}[ex_02_S000{n}.py]" for check_id in EX02_IDS for n in (1, 2)} <= set(outcomes)
    assert len(outcomes) == 2 * len(EX02_IDS) + 9 + 3


PLANTED = {
    # a submission with the gradient returned after the weight update fails only grad_x
    "grad_x": ("        return g_x\n", "        return g @ self.w.T\n"),
    "normalize": ("    x_min = np.min(x, axis=0)\n    x_max = np.max(x, axis=0)\n",
                  "    x_min = np.min(x)\n    x_max = np.max(x)\n"),
    "grad_b": ("        self.g_b = g.mean(axis=0)\n", "        self.g_b = g.mean()\n"),
}


@pytest.mark.parametrize("check_id", sorted(PLANTED))
def test_one_planted_bug_fails_exactly_its_test(templates: Path, check_id: str) -> None:
    old, new = PLANTED[check_id]
    source = (SOLUTIONS / "ex_02_S0001.py").read_text(encoding="utf-8")
    assert old in source
    (templates / "ex_02_B0001.py").write_text(source.replace(old, new), encoding="utf-8")
    outcomes, output = run_selfcheck(templates, "-k", "test_ex_02")
    failed = {name for name, outcome in outcomes.items() if outcome != "PASSED"}
    assert failed == {f"test_{check_id}[ex_02_B0001.py]"}, output
    if check_id == "grad_x":
        assert "更新後の w" in output
    if check_id == "grad_b":
        assert "g_b の形が違います" in output  # the shape bug is named as a shape bug


def test_english_messages(templates: Path) -> None:
    _, output = run_selfcheck(templates, "--lang", "en", "-k", "normalize or test_df")
    assert "normalize is not implemented yet" in output
    assert "df is not implemented yet" in output


def test_the_reference_solutions_pass_the_student_tests(templates: Path) -> None:
    reference = ROOT / "reference"
    shutil.copy(reference / "perceptron.py", templates / "ex_02_R0001.py")
    shutil.copy(reference / "perceptron.py", templates / "perceptron.py")
    shutil.copy(reference / "gradient_descent.py", templates / "gradient_method.py")
    outcomes, output = run_selfcheck(templates)
    assert outcomes and set(outcomes.values()) == {"PASSED"}, output
