"""The judging half of the gradient-method checks (演習3): reading what ``df``, ``gradient_descent`` and
``fit_line`` returned and saying what is wrong with it, given what was wanted.

Shared by the grader's checks (``grader/checks/gradient_method.py``, which compute what is wanted from the
slides' loop) and the student kit's self-check (which vendors this module and computes what is wanted from
the template's formulas): the two judge alike and say the same sentences. The only expected values here are
the ones the template itself states (f'(x) = 2(x − 1), the loss E and numpy's least squares); the update
loops a student must write stay on each side, as the subclasses' ``wanted_history`` and ``wanted_steps``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from grader.checks.base import CaseOutcome, Check, as_array, describe_type
from grader.checks.compare import Tolerance, fmt
from grader.i18n import Message
from grader.results import Verdict

#: ``(label, steps, case id)`` of one run of ``fit_line`` on one data set.
Run = tuple[int | str, int, str]


def scalar(value: Any) -> float | None:
    """One finite number from what came back (a float, a 0-d or one-element array), else None."""
    array = as_array(value)
    if array is None or array.size != 1 or not np.all(np.isfinite(array)):
        return None
    return float(array.reshape(()))


def close(obtained: float, expected: float, tolerance: Tolerance) -> bool:
    return tolerance.close(np.asarray(obtained), np.asarray(expected))


def line_loss(x: np.ndarray, y: np.ndarray, w: float, b: float) -> float:
    """E = (1/n) Σ (w x_i + b − y_i)², the loss the template defines."""
    return float(np.mean((w * x + b - y) ** 2))


class DfJudging(Check):
    """``df(x)`` equals f'(x) = 2(x − 1) at the points of the case (``d0``, ``d1``, ...)."""

    def df_points(self, outcome: CaseOutcome) -> Sequence[float]:
        raise NotImplementedError

    def judge(self, outcomes: Mapping[str, CaseOutcome]) -> Verdict:
        mine = self.mine(outcomes)
        error = self.stopped(mine)
        if error:
            return error
        tolerance = self.file_tolerance(1e-12, 1e-12)
        points = self.df_points(mine[0])
        for index, x in enumerate(points):
            value, expected = mine[0].get(f"d{index}"), 2 * (x - 1)
            obtained = scalar(value)
            if obtained is None or not close(obtained, expected, tolerance):
                shown = describe_type(value) if obtained is None else fmt(obtained)
                return Verdict.fail(Message("df.wrong", {"x": fmt(x), "obtained": shown, "expected": fmt(expected)}),
                                    hint=self.hint())
        return Verdict.ok(Message("check.passed_examples", {"count": len(points)}))


def descent_setting(run: Mapping[str, Any]) -> Message:
    """The detail line saying what ``gradient_descent`` was called with (the derivative handed over)."""
    handed = f"x - {fmt(run['constant'])}" if run["kind"] == "shift" else f"{fmt(run['constant'])} * x"
    return Message("gradient_descent.setting", {"df": handed, "x0": fmt(run["x0"]), "lr": fmt(run["lr"]),
                                                "iterations": run["iterations"]})


def history_problem(result: Any, wanted: Sequence[float], tolerance: Tolerance) -> Message | None:
    """What is wrong with ``(x, history)`` from ``gradient_descent``, given the wanted history; None if nothing."""
    if not (isinstance(result, tuple | list) and len(result) == 2):
        return Message("gradient_descent.return", {"obtained": describe_type(result)})
    history = as_array(result[1])
    if history is None or history.ndim != 1 or len(history) != len(wanted):
        count = "-" if history is None or history.ndim != 1 else len(history)
        return Message("gradient_descent.length", {"obtained": count, "expected": len(wanted)})
    for step, (obtained, expected) in enumerate(zip(history, wanted, strict=True)):
        if not (np.isfinite(obtained) and close(float(obtained), expected, tolerance)):
            return Message("gradient_descent.step" if step else "gradient_descent.first",
                           {"step": step, "obtained": fmt(float(obtained)), "expected": fmt(expected)})
    final = scalar(result[0])
    if final is None or not close(final, wanted[-1], tolerance):
        shown = describe_type(result[0]) if final is None else fmt(final)
        return Message("gradient_descent.final", {"obtained": shown, "expected": fmt(wanted[-1])})
    return None


class DescentJudging(Check):
    """``gradient_descent``'s history against ``wanted_history(run)`` for each case's run (its derivative handed
    over, x0, rate, iterations)."""

    def descent_runs(self, outcomes: Mapping[str, CaseOutcome]) -> list[tuple[CaseOutcome, Mapping[str, Any]]]:
        raise NotImplementedError

    def wanted_history(self, run: Mapping[str, Any]) -> list[float]:
        raise NotImplementedError

    def judge(self, outcomes: Mapping[str, CaseOutcome]) -> Verdict:
        error = self.stopped(self.mine(outcomes))
        if error:
            return error
        tolerance = self.file_tolerance(1e-10, 1e-12)
        runs = self.descent_runs(outcomes)
        for outcome, run in runs:
            problem = history_problem(outcome.get("result"), self.wanted_history(run), tolerance)
            if problem is not None:
                return Verdict.fail(problem, [descent_setting(run)], self.hint())
        return Verdict.ok(Message("check.passed_examples", {"count": len(runs)}))


def read_runs(sets: Sequence[tuple[Mapping[str, Any], Sequence[Run]]],
              outcomes: Mapping[str, CaseOutcome]) -> tuple[list[dict[str, Any]], Message | None]:
    """Per data set: its inputs and what each run returned as ``(w, b, losses)``; or why not readable."""
    read = []
    for data, runs in sets:
        results: dict[int | str, tuple[float, float, np.ndarray]] = {}
        for label, steps, case_id in runs:
            result = outcomes[case_id].get("result")
            if not (isinstance(result, tuple | list) and len(result) == 3):
                return [], Message("fit_line.return", {"obtained": describe_type(result)})
            w, b, losses = scalar(result[0]), scalar(result[1]), as_array(result[2])
            if w is None or b is None:
                shown = ", ".join(describe_type(item) for item in result[:2])
                return [], Message("fit_line.parameters_unreadable", {"obtained": shown})
            if losses is None or losses.ndim != 1 or len(losses) != steps:
                count = "-" if losses is None or losses.ndim != 1 else len(losses)
                return [], Message("fit_line.losses_length", {"obtained": count, "expected": steps})
            results[label] = (w, b, losses)
        read.append({**data, "results": results})
    return read, None


class FitLineJudging(Check):
    """``fit_line``'s runs per data set (``fit_runs``, read with :func:`read_runs`), the first data set with a
    ``problem`` failing the check with its setting."""

    def fit_runs(self, outcomes: Mapping[str, CaseOutcome]) -> tuple[list[dict[str, Any]], Message | None]:
        raise NotImplementedError

    def problem(self, run: Mapping[str, Any]) -> Message | None:
        raise NotImplementedError

    def tolerance(self) -> Tolerance:
        return self.file_tolerance(1e-9, 1e-12)

    def judge(self, outcomes: Mapping[str, CaseOutcome]) -> Verdict:
        error = self.stopped(self.mine(outcomes))
        if error:
            return error
        runs, unreadable = self.fit_runs(outcomes)
        if unreadable is not None:
            return Verdict.fail(unreadable, hint=self.hint())
        for run in runs:
            found = self.problem(run)
            if found is not None:
                setting = Message("fit_line.setting", {"n": len(run["x"]), "lr": fmt(run["lr"])})
                return Verdict.fail(found, [setting], self.hint())
        return Verdict.ok(Message("check.passed_examples", {"count": len(runs)}))

    def converge_atol(self) -> float:
        return float(self.params.get("converge_atol", 1e-6))


def fit_problem(run: Mapping[str, Any], wanted: Sequence[tuple[float, float]], tolerance: Tolerance,
                converge_atol: float) -> Message | None:
    """What is wrong with ``fit_line``'s runs: w, b after 1, 2, ... steps against ``wanted`` (the update as the
    caller computes it), and the long run against the least-squares line (within ``converge_atol``)."""
    x, y, results = run["x"], run["y"], run["results"]
    for steps, (w_expected, b_expected) in enumerate(wanted, 1):
        w, b = results[steps][:2]
        if not (close(w, w_expected, tolerance) and close(b, b_expected, tolerance)):
            return Message("fit_line.step", {"steps": steps, "w": fmt(w), "b": fmt(b),
                                             "w_expected": fmt(w_expected), "b_expected": fmt(b_expected)})
    (w_ls, b_ls), *_ = np.linalg.lstsq(np.column_stack([x, np.ones_like(x)]), y, rcond=None)
    w, b = results["long"][:2]
    line = Tolerance(0.0, converge_atol)
    if not (close(w, float(w_ls), line) and close(b, float(b_ls), line)):
        return Message("fit_line.not_converged", {"iterations": run["iterations"], "w": fmt(w), "b": fmt(b),
                                                  "w_ls": fmt(float(w_ls)), "b_ls": fmt(float(b_ls))})
    return None


def losses_problem(run: Mapping[str, Any], tolerance: Tolerance) -> Message | None:
    """The 3-step run's losses must be E before each update at the student's own w, b (w = b = 0, then the
    1- and 2-step runs' ends): a wrong gradient is ``fit_line``'s failure, not this one's."""
    x, y, results = run["x"], run["y"], run["results"]
    before = [(0.0, 0.0), results[1][:2], results[2][:2]]
    for step, ((w, b), obtained) in enumerate(zip(before, results[3][2], strict=True)):
        expected = line_loss(x, y, w, b)
        if not (np.isfinite(obtained) and close(float(obtained), expected, tolerance)):
            return Message("fit_line_losses.wrong", {"step": step + 1, "obtained": fmt(float(obtained)),
                                                     "expected": fmt(expected)})
    return None
