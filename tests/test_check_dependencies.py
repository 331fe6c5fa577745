"""Checks declare the findings they provide and need (grader/checks/base.py): the engine judges providers
first whatever the assignment file's order, an assignment whose declarations cannot be met is refused
when it is loaded, and judging is a pure function of the outcomes (no state kept from ``cases()``)."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest
from submissions import ROOT, submission_file

from grader.assignment import Assignment, InvalidAssignment, only
from grader.checks.base import (
    LOAD_REPORT,
    CaseOutcome,
    Check,
    Evidence,
    Finding,
    Judgement,
    Verdict,
    judge_checks,
)
from grader.checks.descent import CONVENTION
from grader.i18n import Message
from grader.intake.definitions import definitions_only
from grader.run.engine import Execution, Plan, execute, judge
from grader.run.inprocess import in_process_runner
from reference.data import DEFAULT_DATA_PATH

COLOUR: Finding[str] = Finding("colour")
SHAPE: Finding[str] = Finding("shape")


class Painter(Check):
    """Provides a colour (from its params)."""

    provides = (COLOUR,)

    def assess(self, evidence: Evidence) -> Judgement:
        return Judgement(Verdict.ok(), {COLOUR: self.params["colour"]})


class Viewer(Check):
    """Needs the colour: its verdict says which it saw."""

    needs = (COLOUR,)

    def assess(self, evidence: Evidence) -> Judgement:
        return Judgement(Verdict.ok(Message("check.passed", {"colour": evidence.get(COLOUR)})))


class Shaper(Check):
    """Needs the colour and provides a shape (with Viewer's need, a cycle when paired with ShapeNeeder)."""

    needs = (COLOUR,)
    provides = (SHAPE,)

    def assess(self, evidence: Evidence) -> Judgement:
        return Judgement(Verdict.ok(), {SHAPE: f"{evidence.get(COLOUR)} square"})


class ShapeNeederPainter(Check):
    """Needs the shape and provides the colour."""

    needs = (SHAPE,)
    provides = (COLOUR,)

    def assess(self, evidence: Evidence) -> Judgement:
        return Judgement(Verdict.ok(), {COLOUR: str(evidence.get(SHAPE))})


class Liar(Check):
    """Returns a finding it did not declare."""

    def assess(self, evidence: Evidence) -> Judgement:
        return Judgement(Verdict.ok(), {COLOUR: "red"})


class Peeker(Check):
    """Reads a finding it did not declare."""

    def assess(self, evidence: Evidence) -> Judgement:
        return Judgement(Verdict.ok(Message("check.passed", {"colour": evidence.get(COLOUR)})))


MODULE = "exgrader_test_dependency_checks"


@pytest.fixture(autouse=True)
def dummy_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The classes above, importable by an assignment file as ``exgrader_test_dependency_checks:Name``."""
    module = ModuleType(MODULE)
    for cls in (Painter, Viewer, Shaper, ShapeNeederPainter, Liar, Peeker):
        setattr(module, cls.__name__, cls)
    monkeypatch.setitem(sys.modules, MODULE, module)


def assignment_file(tmp_path: Path, checks: list[tuple[str, str]]) -> Path:
    lines = ['[assignment]', 'id = "deps"', 'title = { ja = "t", en = "t" }']
    for check_id, class_name in checks:
        lines += [f"[checks.{check_id}]", f'class = "{MODULE}:{class_name}"', "points = 1",
                  'params = { colour = "blue" }']
    path = tmp_path / "deps.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_provider_is_judged_before_the_check_that_needs_it_whatever_the_files_order(tmp_path: Path) -> None:
    assignment = Assignment.load(assignment_file(tmp_path, [("viewer", "Viewer"), ("painter", "Painter")]))
    checks = assignment.build_checks(seed=0)
    verdicts = judge_checks(checks, {}, {})
    assert [verdict.summary.params.get("colour") for verdict in verdicts] == ["blue", None]  # the file's order


def test_a_need_that_no_check_provides_is_refused_naming_the_file_and_check(tmp_path: Path) -> None:
    path = assignment_file(tmp_path, [("viewer", "Viewer")])
    with pytest.raises(InvalidAssignment) as error:
        Assignment.load(path)
    assert str(path) in str(error.value) and "'viewer' needs 'colour'" in str(error.value)


def test_two_providers_of_one_finding_are_refused(tmp_path: Path) -> None:
    path = assignment_file(tmp_path, [("painter", "Painter"), ("other_painter", "Painter"), ("viewer", "Viewer")])
    with pytest.raises(InvalidAssignment) as error:
        Assignment.load(path)
    assert str(path) in str(error.value)
    assert "'colour' is provided by more than one check: painter, other_painter" in str(error.value)


def test_checks_that_need_each_others_findings_are_refused(tmp_path: Path) -> None:
    path = assignment_file(tmp_path, [("viewer", "Viewer"), ("shaper", "Shaper"), ("painter", "ShapeNeederPainter")])
    with pytest.raises(InvalidAssignment) as error:
        Assignment.load(path)
    assert str(path) in str(error.value) and "shaper, painter" in str(error.value) and "cycle" in str(error.value)


def test_restricting_an_assignment_keeps_every_needed_provider() -> None:
    with pytest.raises(InvalidAssignment, match="'converge' needs 'convention'"):
        only(Assignment.named("ex_02"), ["load", "converge"])
    assert only(Assignment.named("ex_02"), ["gradcheck", "converge"]).check_ids == ["gradcheck", "converge"]


def test_undeclared_findings_are_a_check_bug_told_as_an_internal_error() -> None:
    """A check that returns or reads a finding it did not declare fails (the grader's fault, said so);
    the others are judged as usual."""
    verdicts = judge_checks([Liar("liar", {}, 0), Peeker("peeker", {}, 0), Painter("painter", {"colour": "red"}, 0)],
                            {}, {})
    assert [verdict.summary.key for verdict in verdicts] == ["check.internal_error"] * 2 + ["check.passed"]
    assert "liar returned findings it does not provide: ['colour']" in verdicts[0].summary.params["error"]


def test_both_assignments_declare_what_their_checks_use() -> None:
    for name in ("ex_02", "gradient_method"):
        checks = Plan.create(Assignment.named(name), seed=0, data_file=DEFAULT_DATA_PATH).checks
        declared = {check.id: (check.provides, check.needs) for check in checks}
        assert declared["load"] == ((), (LOAD_REPORT,))
        if name == "ex_02":
            assert declared["gradcheck"] == ((CONVENTION,), ()) and declared["converge"] == ((), (CONVENTION,))
        assert all(not provides and not needs for check_id, (provides, needs) in declared.items()
                   if check_id not in ("load", "gradcheck", "converge"))


#: sha256 of ``json.dumps(Plan(...).cases)`` at seed 0: the run's cases key (the resume cache) and the student
#: kit's plan.json are made from these bytes, so a refactoring of the checks must leave them as they are.
CASES_SHA256 = {"ex_02": "d949dd311ba327b4f5263430a0b227dc0410f871745879759befd8b62d58c80b",
                "gradient_method": "ad769a1207c81a41a0b2318c5c466610ecbc855eb9374912efa036d833895495"}


@pytest.mark.parametrize("name", sorted(CASES_SHA256))
def test_the_cases_json_is_unchanged(name: str) -> None:
    plan = Plan.create(Assignment.named(name), seed=0, data_file=DEFAULT_DATA_PATH)
    assert hashlib.sha256(json.dumps(plan.cases).encode()).hexdigest() == CASES_SHA256[name]


def run(plan: Plan, path: Path) -> Execution:
    source = path.read_text(encoding="utf-8")
    return execute(plan, in_process_runner(path, plan.assignment.unavailable_libraries), path.stem, source,
                   definitions_only(source))


def fresh_verdicts(plan: Plan, outcomes: Mapping[str, CaseOutcome], load: Mapping) -> list[Verdict]:
    """The verdicts of check objects built anew, whose ``cases()`` never ran."""
    extra = {"data_file": str(plan.data_file)} if plan.data_file else {}
    return judge_checks(plan.assignment.build_checks(plan.seed, extra), outcomes, load)


@pytest.mark.parametrize(("name", "files"), [
    # mean and sum conventions, a wrong standardize, a wrong update
    ("ex_02", [submission_file(student) for student in ("S1001", "S1002", "S1006", "S1012")]),
    # full marks, and the template (load only)
    ("gradient_method", [ROOT / "reference" / "gradient_descent.py",
                         ROOT / "student_templates" / "gradient_method.py"]),
])
def test_a_fresh_check_object_judges_alike(name: str, files: list[Path]) -> None:
    plan = Plan.create(Assignment.named(name), seed=3, data_file=DEFAULT_DATA_PATH)
    for path in files:
        execution = run(plan, path)
        fresh = fresh_verdicts(plan, execution.outcomes, execution.load)
        assert fresh == judge_checks(plan.checks, execution.outcomes, execution.load), path.name
        # and judge() (which also relates repeated failures) passes and fails the same checks
        assert [verdict.passed for verdict in fresh] == [result.passed for result in judge(plan, execution)]


def test_the_convention_reaches_converge_when_gradcheck_comes_later_in_the_file() -> None:
    """S1002 sums over the batch: converge trains it with lr / N because gradcheck said so, also when the
    assignment lists converge first."""
    plan = Plan.create(Assignment.named("ex_02"), seed=0, data_file=DEFAULT_DATA_PATH)
    execution = run(plan, submission_file("S1002"))
    reordered = replace(plan.assignment, checks=tuple(reversed(plan.assignment.checks)))
    checks = list(reversed(plan.checks))
    results = {result.id: result.verdict for result in judge(plan, execution)}
    reversed_verdicts = dict(zip(reordered.check_ids, judge_checks(checks, execution.outcomes, execution.load),
                                 strict=True))
    assert results["converge"].passed and results["converge"].details[0].key == "converge.setting_sum"
    assert reversed_verdicts["converge"] == results["converge"]
