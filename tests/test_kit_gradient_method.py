"""Exercise 3 in the student kit is ``grade --assignment gradient_method``: the same checks, cases and
sentences, judged without the grader's answers.

A small class (the fixture solution with one change per student, from test_gradient_method_assignment.py,
and the untouched template) is graded once with ``grade --assignment gradient_method``; the built kit's
self-check judges the same files, and both must pass and fail the same checks with the same first sentence.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from submissions import ROOT
from test_gradient_method_assignment import EXPECTED, variant
from test_student_kit import NO_POSIX, run_selfcheck

from grader import studentkit
from grader.assignment import Assignment
from grader.checks.gradient_method import Df, FitLine, FitLineLosses, GradientDescent, slides_steps
from grader.checks.line_fit import line_loss
from grader.cli import main as grade_main
from grader.run.sandbox import protocol
from grader.studentkit import KIT_NAME, SEED, KitError, build

ASSIGNMENT = Assignment.named("gradient_method")
#: the kit tests every check but load (the exercise keeps the template's own name: no file name to check)
KIT_CHECKS = [check_id for check_id in ASSIGNMENT.check_ids if check_id != "load"]
#: the fixture's variants that are about the functions (not the data layout grade sets up): a gradient_descent
#: that ignores its df, a wrong df, a wrong gradient in fit_line, losses off by one step, a file killed while
#: it loads or inside df, ...
STUDENTS = [student_id for student_id in EXPECTED if student_id != "G1010"]
TEMPLATE = "G2002"
DRIVER = """
import json, sys
from pathlib import Path
from selfcheck import process, verdicts

said = {}
for name in sys.argv[1:]:
    for check_id in json.loads(Path("checks.json").read_text()):
        said[f"{name} {check_id}"] = verdicts.failure(Path(name).resolve(), "gradient_method", check_id, "ja")
process.close_idle()
print(json.dumps(said, ensure_ascii=False))
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    kit, _ = build(tmp_path_factory.mktemp("out"))
    return kit


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The class as files and grade's reports of them."""
    base = tmp_path_factory.mktemp("class")
    folder = base / "class"
    folder.mkdir()
    for student_id in STUDENTS:
        (folder / f"gradient_method_{student_id}.py").write_text(variant(EXPECTED[student_id][0]), encoding="utf-8")
    shutil.copyfile(ROOT / "student_templates" / "gradient_method.py", folder / f"gradient_method_{TEMPLATE}.py")
    assert grade_main([str(folder), "--out", str(base / "out"), "--assignment", "gradient_method",
                       "--jobs", "2"]) == 0
    return folder, base / "out"


def grade_says(out: Path, student_id: str) -> dict[str, str | None]:
    """Check id -> None when passed, else the first line of grade's message."""
    report = json.loads((out / "reports" / f"{student_id}.json").read_text(encoding="utf-8"))
    return {check["id"]: None if check["passed"] else check["message"].splitlines()[0] for check in report["checks"]}


def test_the_kit_asks_the_assignments_checks_one_test_each(built: Path) -> None:
    plan = json.loads((built / "scripts" / "selfcheck" / "plan.json").read_text(encoding="utf-8"))
    suite = plan["suites"]["gradient_method"]
    assert suite["checks"] == KIT_CHECKS
    checks = [check for check in ASSIGNMENT.build_checks(SEED) if check.id in KIT_CHECKS]
    assert suite["cases"] == json.loads(json.dumps([case for check in checks for case in check.cases()]))
    source = (built / "scripts" / "test_gradient_method.py").read_text(encoding="utf-8")
    assert re.findall(r"^def test_(\w+)\(", source, re.M) == KIT_CHECKS
    messages = json.loads((built / "scripts" / "selfcheck" / "messages.json").read_text(encoding="utf-8"))
    own = {key for key in ASSIGNMENT.messages if key.split(".")[0] in KIT_CHECKS}
    assert own and own <= set(messages)
    assert all(messages[key] == ASSIGNMENT.messages[key] for key in own)
    assert not [key for key in messages if key.startswith("student.") and key != "student.save_as"]


def numbers(value: Any) -> list[float]:
    """Every number in a part of plan.json, arrays decoded."""
    if isinstance(value, dict) and "__ref__" not in value and any(str(key).startswith("__") for key in value):
        value = protocol.decode(value)
    if isinstance(value, np.ndarray | np.generic):
        return [float(item) for item in np.ravel(value) if np.issubdtype(np.asarray(item).dtype, np.number)]
    if isinstance(value, dict):
        return [number for item in value.values() for number in numbers(item)]
    if isinstance(value, list | tuple):
        return [number for item in value for number in numbers(item)]
    return [float(value)] if isinstance(value, int | float) and not isinstance(value, bool) else []


def grader_answers() -> list[float]:
    """What grade compares the exercise's answers with, for the kit's seed."""
    answers: list[float] = []
    for check in ASSIGNMENT.build_checks(SEED):
        if isinstance(check, Df):
            answers += [2 * (x - 1) for x in check.points()[4:]]  # the drawn points (-2 = df(0) is also an input)
        elif isinstance(check, GradientDescent):
            answers += [x for run in check.runs() for x in check.wanted_history(run)[1:]]
        elif isinstance(check, FitLine | FitLineLosses):
            for data in check.datasets():
                steps = slides_steps(data["x"], data["y"], data["lr"], 3)
                answers += [value for point in steps for value in point]
                answers += [line_loss(data["x"], data["y"], w, b) for w, b in steps]
                design = np.column_stack([data["x"], np.ones_like(data["x"])])
                answers += [float(value) for value in np.linalg.lstsq(design, data["y"], rcond=None)[0]]
    return answers


def test_the_plan_gives_inputs_and_no_answer_of_exercise_3(built: Path) -> None:
    plan = json.loads((built / "scripts" / "selfcheck" / "plan.json").read_text(encoding="utf-8"))
    shipped = np.array(numbers([plan["inputs"][check_id] for check_id in KIT_CHECKS])
                       + numbers(plan["suites"]["gradient_method"]["cases"]))
    assert shipped.size > 200  # the data sets' points are there
    answers = grader_answers()
    assert len(answers) > 100
    leaked = [answer for answer in answers if np.any(np.isclose(shipped, answer, rtol=1e-9, atol=1e-12))]
    assert leaked == []


def test_the_selfcheck_agrees_with_grade_check_by_check(built: Path, graded: tuple[Path, Path],
                                                       tmp_path: Path) -> None:
    """Each student's file judged by the kit's own code (the verdicts its tests read), in the kit's child
    process, without POSIX-only APIs or the project: same verdict and same first sentence as grade."""
    folder, out = graded
    kit = Path(shutil.copytree(built, tmp_path / KIT_NAME))
    scripts = kit / "scripts"
    names = []
    for path in sorted(folder.glob("gradient_method_*.py")):
        shutil.copyfile(path, scripts / path.name)
        names.append(path.name)
    (scripts / "checks.json").write_text(json.dumps(KIT_CHECKS), encoding="utf-8")
    (scripts / "driver.py").write_text(DRIVER, encoding="utf-8")
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(textwrap.dedent(NO_POSIX), encoding="utf-8")
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST", "EXGRADER"))}
    completed = subprocess.run([sys.executable, "driver.py", *names], cwd=scripts, capture_output=True, text=True,
                               env={**environment, "PYTHONPATH": f"{shim}{os.pathsep}{scripts}"}, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    said = json.loads(completed.stdout)
    differences = []
    for name in names:
        student_id = name.removeprefix("gradient_method_").removesuffix(".py")
        grade = grade_says(out, student_id)
        for check_id in KIT_CHECKS:
            kit_text = said[f"{name} {check_id}"]
            kit_first = None if kit_text is None else kit_text.splitlines()[0]
            if kit_first != grade[check_id]:
                differences.append(f"{student_id} {check_id}: grade {grade[check_id]!r}, kit {kit_first!r}")
    assert not differences, "\n".join(differences)
    # the variants fail what the assignment's own test says they fail (so the agreement is not vacuous)
    for student_id in STUDENTS:
        failing = {check_id for check_id in KIT_CHECKS if said[f"gradient_method_{student_id}.py {check_id}"]}
        assert failing == set(EXPECTED[student_id][1]) - {"load"}, student_id
    assert "G1003" in STUDENTS and EXPECTED["G1003"][1] == {"gradient_descent"}  # ignores its df argument


def test_the_untouched_template_fails_every_test_with_one_line_as_grade_says(kit_copy: Path,
                                                                            graded: tuple[Path, Path]) -> None:
    outcomes, output = run_selfcheck(kit_copy, "scripts/test_gradient_method.py")
    assert outcomes == {f"test_gradient_method::test_{check_id}": "FAILED" for check_id in KIT_CHECKS}, output
    assert "Traceback" not in output and "NotImplementedError" not in output
    said = dict(re.findall(r"^_+ test_(\w+) _+\n(.*?)(?=^_+ test_|^=+ )", output, re.S | re.M))
    grade = grade_says(graded[1], TEMPLATE)
    for check_id in KIT_CHECKS:
        assert said[check_id].strip() == grade[check_id], (check_id, said[check_id])  # one line, grade's
    for name in ("df", "gradient_descent", "fit_line"):
        assert said[name].strip() == f"{name} が未実装です"


@pytest.fixture
def kit_copy(built: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built, tmp_path / KIT_NAME))


def test_an_exercise_that_cannot_share_the_kits_plan_stops_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """One set of limits and one input table per check id: an exercise's assignment that differs is refused
    with a message of the catalogue, not built into a self-check that would disagree with grade."""
    slower = dataclasses.replace(ASSIGNMENT, limits={**ASSIGNMENT.limits, "case_seconds": 50})
    monkeypatch.setattr(studentkit, "EXERCISE_ASSIGNMENTS", {"gradient_method": slower})
    with pytest.raises(KitError) as stopped:
        studentkit.build_plan()
    assert stopped.value.key == "kit.exercise_limits"
    clashing = studentkit.KIT_ASSIGNMENT.checks[1]  # normalize, an ex_02 check id
    reusing = dataclasses.replace(ASSIGNMENT, checks=(*ASSIGNMENT.checks, clashing))
    monkeypatch.setattr(studentkit, "EXERCISE_ASSIGNMENTS", {"gradient_method": reusing})
    monkeypatch.setitem(studentkit.SUITES, "gradient_method", (*KIT_CHECKS, clashing.id))
    with pytest.raises(KitError) as stopped:
        studentkit.build_plan()
    assert stopped.value.key == "kit.check_clash" and stopped.value.params["checks"] == clashing.id
    catalogue = Assignment.named("ex_02").catalogue()
    assert all(key in catalogue for key in ("kit.exercise_limits", "kit.check_clash"))
