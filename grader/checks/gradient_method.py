"""演習3, the gradient method: ``df``, ``gradient_descent`` and the line fit ``fit_line``, judged on inputs
drawn from the run's seed, against the formulas of ``student_templates/gradient_method.py``.

Each check isolates one function, so that one bug costs one check:

- ``gradient_descent`` is handed a derivative that is not the student's ``df`` (a wrong ``df`` is ``df``'s
  failure alone). It is a method of a number the grader sends — ``c.__rsub__`` (``x ↦ x − c``, the
  derivative of ``(x − c)²/2``) or ``a.__mul__`` (``x ↦ a·x``, of ``a·x²/2``) — so the child still calls
  nothing but the student's functions and builtins, and a ``gradient_descent`` that ignores its ``df``
  argument (and computes the slides' ``2(x − 1)`` itself) is caught.
- ``fit_line`` runs 1, 2 and 3 steps (and one long run) from w = b = 0. ``fit_line`` judges the parameters
  against the slides' update; ``fit_line_losses`` judges the returned losses against the model's loss at
  the student's *own* parameters after 0, 1, 2 steps, so a wrong gradient does not also cost the losses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from grader.checks.base import CaseOutcome
from grader.checks.line_fit import DescentJudging, DfJudging, FitLineJudging, fit_problem, losses_problem, read_runs
from grader.checks.ops import call, let, ref
from grader.i18n import Message
from grader.run.sandbox.protocol import encode

#: The step counts whose parameters are read: the k-step run gives the model after k updates.
STEPS = (1, 2, 3)


class Df(DfJudging):
    """``df(x)`` equals ``2(x − 1)`` at fixed and drawn points."""

    def points(self) -> list[float]:
        drawn = self.rng().uniform(-50, 50, size=int(self.params.get("examples", 6)))
        return [1.0, 0.0, -2.0, 2.5, *(round(float(value), 3) for value in drawn)]

    def cases(self) -> list[dict[str, Any]]:
        return [{"id": self.case_id(0), "ops": [call("df", x, out=f"d{index}")
                                               for index, x in enumerate(self.points())]}]

    def df_points(self, outcome: CaseOutcome) -> list[float]:
        return self.points()


class GradientDescent(DescentJudging):
    """``gradient_descent(df, x0, η, n)`` returns ``(x, history)``: ``history`` is x0 and every
    ``x ← x − η·df(x)``, n + 1 entries, and ``x`` its last. ``runs`` in the assignment file: one
    ``{derivative = "shift" | "scale", learning_rate, iterations}`` per case; x0, c and a are drawn."""

    def runs(self) -> list[dict[str, Any]]:
        generator = self.rng()
        runs = []
        for run in self.params["runs"]:
            kind = run["derivative"]
            if kind not in ("shift", "scale"):
                raise ValueError(f"gradient_descent: unknown derivative {kind!r}")
            constant = round(float(generator.uniform(-3, 3) if kind == "shift" else generator.uniform(0.5, 3)), 3)
            runs.append({"kind": kind, "constant": constant, "x0": round(float(generator.uniform(-5, 5)), 3),
                         "lr": float(run["learning_rate"]), "iterations": int(run["iterations"])})
        return runs

    def cases(self) -> list[dict[str, Any]]:
        cases = []
        for index, run in enumerate(self.runs()):
            method = "__rsub__" if run["kind"] == "shift" else "__mul__"
            cases.append({"id": self.case_id(index), "ops": [
                let("constant", encode(np.float64(run["constant"]))),  # arrives as np.float64, not float
                call("$constant.__getattribute__", method, label="df", save="derivative"),
                call("gradient_descent", ref("derivative"), run["x0"], run["lr"], run["iterations"], out="result"),
            ]})
        return cases

    def descent_runs(self, outcomes: Mapping[str, CaseOutcome]) -> list[tuple[CaseOutcome, Mapping[str, Any]]]:
        return list(zip(self.mine(outcomes), self.runs(), strict=True))

    def wanted_history(self, run: Mapping[str, Any]) -> list[float]:
        """The slides' loop with the derivative the case hands over."""
        x, history = np.float64(run["x0"]), [float(run["x0"])]
        constant = np.float64(run["constant"])
        for _ in range(run["iterations"]):
            slope = x - constant if run["kind"] == "shift" else constant * x
            x = x - run["lr"] * slope
            history.append(float(x))
        return history


class _FitLineCheck(FitLineJudging):
    """Cases shared by ``fit_line`` and ``fit_line_losses``: per data set (``datasets`` in the assignment
    file: ``{points, low, high, learning_rate}``, and ``iterations`` for a long run), ``fit_line`` run for
    1, 2 and 3 steps (and for ``iterations`` steps) on points drawn around a line."""

    #: Whether the judge needs the run of ``iterations`` steps.
    long_run = True

    def labels(self, data: Mapping[str, Any]) -> list[tuple[int | str, int]]:
        """``(label, steps)`` of the runs per data set."""
        return [*((steps, steps) for steps in STEPS), *([("long", data["iterations"])] if self.long_run else [])]

    def datasets(self) -> list[dict[str, Any]]:
        generator = self.rng()
        sets = []
        for spec in self.params["datasets"]:
            n = int(spec["points"])
            x = generator.uniform(float(spec["low"]), float(spec["high"]), size=n)
            slope, intercept = generator.uniform(-5, 5), generator.uniform(-5, 5)
            y = slope * x + intercept + generator.normal(0, 0.3, size=n)
            sets.append({"x": x, "y": y, "lr": float(spec["learning_rate"]),
                         "iterations": int(spec.get("iterations", 0))})
        return sets

    def cases(self) -> list[dict[str, Any]]:
        cases = []
        for index, data in enumerate(self.datasets()):
            for label, steps in self.labels(data):
                cases.append({"id": self.case_id(f"{index}/{label}"), "ops": [
                    call("fit_line", data["x"], data["y"], data["lr"], steps, out="result")]})
        return cases

    def fit_runs(self, outcomes: Mapping[str, CaseOutcome]) -> tuple[list[dict[str, Any]], Message | None]:
        sets = [(data, [(label, steps, self.case_id(f"{index}/{label}")) for label, steps in self.labels(data)])
                for index, data in enumerate(self.datasets())]
        return read_runs(sets, outcomes)


def slides_steps(x: np.ndarray, y: np.ndarray, lr: float, steps: int) -> list[tuple[float, float]]:
    """``(w, b)`` after 1..steps updates of the slides' loop from w = b = 0 (gradient of the mean loss)."""
    w, b, points = 0.0, 0.0, []
    for _ in range(steps):
        residual = w * x + b - y
        w, b = w - lr * float(np.mean(2 * residual * x)), b - lr * float(np.mean(2 * residual))
        points.append((w, b))
    return points


class FitLine(_FitLineCheck):
    """w, b after 1, 2, 3 steps are the slides' update from w = b = 0; the long run ends on the
    least-squares line (``converge_atol``)."""

    def problem(self, run: Mapping[str, Any]) -> Message | None:
        wanted = slides_steps(run["x"], run["y"], run["lr"], max(STEPS))
        return fit_problem(run, wanted, self.tolerance(), self.converge_atol())


class FitLineLosses(_FitLineCheck):
    """The losses are the mean squared error before each update, at the student's own w, b (read from the
    1- and 2-step runs): a wrong gradient is ``fit_line``'s failure, not this one's."""

    long_run = False

    def problem(self, run: Mapping[str, Any]) -> Message | None:
        return losses_problem(run, self.tolerance())
