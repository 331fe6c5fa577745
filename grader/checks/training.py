"""The whole chain: a finite-difference gradient check of the student's own loss, and convergence of
``train`` to the least-squares optimum of the course data."""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cached_property
from typing import Any

import numpy as np

from grader.checks.base import (
    CaseOutcome,
    Check,
    Facts,
    Verdict,
    as_array,
    describe_type,
    error_details,
)
from grader.checks.compare import Tolerance, explain, fmt
from grader.checks.ops import call, get, ref
from grader.checks.perceptron import construct, set_parameters
from grader.i18n import Message
from grader.sandbox.protocol import Failed, encode
from reference.data import load_xt
from reference.least_squares import least_squares, least_squares_loss
from reference.perceptron import standardize


class Gradcheck(Check):
    """Central differences of E(w, b) = mse.forward(p.forward(x), t), one output as in the course,
    against the gradient the student's chain (mse.backward -> p.backward) produces. The chain may be
    the gradient of the mean loss or N times it (the slides allow the batch sum in the update)."""

    def cases(self) -> list[dict[str, Any]]:
        rng = self.rng()
        n, d = self.params.get("samples", 8), self.params.get("inputs", 3)
        self.h = float(self.params.get("step", 1e-5))
        self.lr = float(self.params.get("learning_rate", 0.01))
        self.x, self.t = rng.normal(size=(n, d)), rng.normal(size=(n, 1))
        self.w, self.b = rng.normal(size=(d, 1)), rng.normal(size=1)
        ops: list[dict[str, Any]] = [construct(d, 1, self.lr, 0),
                                     call("MeanSquaredError", label="MeanSquaredError", save="mse")]
        self.probes: list[tuple[str, tuple[int, ...], int]] = []
        for name, shape in (("w", self.w.shape), ("b", self.b.shape)):
            for index in np.ndindex(*shape):
                for sign in (1, -1):
                    w, b = self.w.copy(), self.b.copy()
                    (w if name == "w" else b)[index] += sign * self.h
                    label = f"E_{name}{'_'.join(map(str, index))}_{'p' if sign > 0 else 'm'}"
                    self.probes.append((name, index, sign))
                    ops += [*set_parameters(w, b), *self.loss_ops(out=label)]
        ops += [*set_parameters(self.w, self.b), *self.loss_ops(),
                call("$mse.backward", label="MeanSquaredError.backward", save="g"),
                call("$p.backward", ref("g"), label="Perceptron.backward"),
                get("$p.w", "w_after"), get("$p.b", "b_after"),
                get("$p.g_w", "g_w", optional=True), get("$p.g_b", "g_b", optional=True)]
        return [{"id": self.case_id(0), "ops": ops}]

    def loss_ops(self, out: str | None = None) -> list[dict[str, Any]]:
        """E = mse.forward(p.forward(x), t) with the student's own two functions."""
        return [call("$p.forward", self.x, label="Perceptron.forward", save="y"),
                call("$mse.forward", ref("y"), self.t, label="MeanSquaredError.forward", out=out)]

    def numerical_gradient(self, outputs: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
        gradient = {"w": np.zeros_like(self.w), "b": np.zeros_like(self.b)}
        for name, index, sign in self.probes:
            label = f"E_{name}{'_'.join(map(str, index))}_{'p' if sign > 0 else 'm'}"
            value = as_array(outputs.get(label))
            if value is None or value.size != 1:
                return None
            gradient[name][index] += sign * float(value.reshape(())) / (2 * self.h)
        return gradient["w"], gradient["b"]

    def chain_gradient(self, outputs: Mapping[str, Any], name: str) -> np.ndarray | None:
        value = outputs.get(f"g_{name}")
        if isinstance(value, Failed):
            after = as_array(outputs.get(f"{name}_after"))
            before = self.w if name == "w" else self.b
            return None if after is None or after.shape != before.shape else (before - after) / self.lr
        array = as_array(value)
        return None if array is None else array.reshape(-1)

    def judge(self, outcomes: Mapping[str, CaseOutcome], facts: Facts) -> Verdict:
        mine = self.mine(outcomes)
        error = self.stopped(mine)
        if error:
            return error
        outputs = mine[0].outputs
        numerical = self.numerical_gradient(outputs)
        if numerical is None:
            return Verdict.fail(Message("gradcheck.loss_not_scalar"), hint=self.hint())
        parts = {"w": self.chain_gradient(outputs, "w"), "b": self.chain_gradient(outputs, "b")}
        if any(part is None for part in parts.values()) or parts["w"].size != self.w.size \
                or parts["b"].size != self.b.size:
            shown = [describe_type(outputs.get("g_w")), describe_type(outputs.get("g_b"))]
            return Verdict.fail(Message("gradcheck.no_gradient", {"g_w": shown[0], "g_b": shown[1]}),
                                hint=self.hint())
        fd = {"w": numerical[0].reshape(-1), "b": numerical[1].reshape(-1)}
        n = self.x.shape[0]
        tolerance = Tolerance(self.params.get("rtol", 1e-5), self.params.get("atol", 1e-8))
        # which accepted factors (1: gradient of the mean loss, N: of the sum) each parameter satisfies
        factors = {name: [factor for factor in (1.0, float(n)) if tolerance.close(parts[name], factor * fd[name])]
                   for name in parts}
        for factor, convention in ((1.0, "mean"), (float(n), "sum")):
            if all(factor in found for found in factors.values()):
                facts.values["chain_factor"] = factor
                facts.values["convention"] = convention
                return Verdict.ok(Message("gradcheck.passed", {"factor": fmt(factor)}),
                                  [Message(f"convention.{convention}")])
        reference_factor = next((found[0] for found in factors.values() if found), 1.0)
        details: list[Message] = []
        for name in ("w", "b"):
            if factors[name]:
                details.append(Message("gradcheck.part_ok", {"name": name, "factor": fmt(factors[name][0])}))
                continue
            denominator = float(np.vdot(fd[name], fd[name]))
            ratio = fmt(float(np.vdot(fd[name], parts[name])) / denominator) if denominator > 0 else "-"
            details.append(Message("gradcheck.ratio", {"name": name, "ratio": ratio, "n": n}))
            details += explain(f"dE/d{name}", parts[name], reference_factor * fd[name], tolerance)
        return Verdict.fail(Message("gradcheck.wrong"), details, self.hint())


class Converge(Check):
    """``train`` on the standardized course data must reach least squares; the learning rate is the
    one for the convention gradcheck detected (lr for the mean, lr / N for the sum)."""

    @cached_property
    def problem(self) -> dict[str, Any]:
        x_raw, t_raw = load_xt(self.params["data_file"])
        x, t = standardize(x_raw), standardize(t_raw)
        w, b = least_squares(x, t)
        return {"x": x, "t": t, "w": w, "b": b, "loss": least_squares_loss(x, t)}

    def learning_rates(self) -> dict[str, float]:
        base = float(self.params.get("learning_rate", 0.1))
        return {"mean": base, "sum": base / self.problem["x"].shape[0]}

    @cached_property
    def iterations(self) -> int:
        """Steps that reach the tolerance on this data, derived rather than guessed.

        On the standardized data the mean loss is a quadratic with Hessian H = 2/N [x 1]^T [x 1], so
        every gradient step multiplies the error (w - w*, b - b*) by (I - lr H): it shrinks at least by
        rho = max |1 - lr * lambda(H)|. A chain whose gradient is ``slowest_gradient_factor`` times the
        true one (a course that drops the 2 of the squared error) shrinks it by the rho of that smaller
        step; such a train() must still converge, as it does with many steps. The steps needed to bring
        an initial error of ``initial_error`` down to ``margin`` times inside ``atol`` are then
        log(atol / margin / initial_error) / log(rho). An explicit ``iterations`` param wins.
        """
        if "iterations" in self.params:
            return int(self.params["iterations"])
        x = self.problem["x"]
        design = np.hstack([x, np.ones((x.shape[0], 1))])
        eigenvalues = np.linalg.eigvalsh(2.0 / x.shape[0] * design.T @ design)
        rate = float(self.params.get("learning_rate", 0.1)) * float(self.params.get("slowest_gradient_factor", 0.5))
        rho = float(np.max(np.abs(1.0 - rate * eigenvalues)))
        if not 0.0 < rho < 1.0:
            raise ValueError(f"learning rate {rate} does not converge on this data (contraction {rho:.3f})")
        target = float(self.params.get("atol", 1e-4)) / float(self.params.get("margin", 10.0))
        return math.ceil(math.log(target / float(self.params.get("initial_error", 10.0))) / math.log(rho))

    def cases(self) -> list[dict[str, Any]]:
        iterations = self.iterations
        cases = []
        for convention, rate in self.learning_rates().items():
            cases.append({"id": self.case_id(convention), "ops": [
                {"op": "call", "fn": "train", "args": [encode(self.problem["x"]), encode(self.problem["t"]), rate,
                                                       iterations, {"__rng__": self.seed}], "save": "r"},
                {"op": "get", "path": "$r[0].w", "out": "w"},
                {"op": "get", "path": "$r[0].b", "out": "b"},
                {"op": "get", "path": "$r[1]", "out": "losses"},
            ]})
        return cases

    def judge(self, outcomes: Mapping[str, CaseOutcome], facts: Facts) -> Verdict:
        convention = facts.values.get("convention")
        conventions = [convention] if convention else list(self.learning_rates())
        verdicts = [self.judge_one(outcomes[self.case_id(name)], name) for name in conventions]
        passed = [verdict for verdict in verdicts if verdict.passed]
        return passed[0] if passed else verdicts[0]

    def judge_one(self, outcome: CaseOutcome, convention: str) -> Verdict:
        error = self.stopped([outcome])
        if error:
            return error
        iterations = self.iterations
        rate = fmt(self.learning_rates()[convention])
        context = Message(f"converge.setting_{convention}", {"lr": rate, "iterations": iterations})
        losses = as_array(outcome.get("losses"))
        if losses is None or losses.ndim != 1 or losses.size != iterations:
            shown = describe_type(outcome.get("losses")) if losses is None else str(losses.shape)
            return Verdict.fail(Message("converge.losses", {"iterations": iterations, "obtained": shown}),
                                [context], self.hint())
        tolerance = Tolerance(self.params.get("rtol", 1e-4), self.params.get("atol", 1e-4))
        for name in ("w", "b"):
            obtained = as_array(outcome.get(name))
            expected = self.problem[name]
            if obtained is not None and obtained.size == expected.size:
                obtained = obtained.reshape(expected.shape)
            if obtained is None or obtained.shape != expected.shape or not tolerance.close(obtained, expected):
                details = [context, *explain(name, obtained, expected, tolerance, describe_type(outcome.get(name)))]
                details.append(Message("converge.final_loss", {"obtained": fmt(float(losses[-1])),
                                                               "expected": fmt(self.problem["loss"])}))
                return Verdict.fail(Message("converge.wrong"), details, self.hint())
        return Verdict.ok(Message("converge.passed", {"loss": fmt(float(losses[-1]))}), [context])


class Load(Check):
    """The file's top-level code ran to the end within the limits (judged from the load report)."""

    def judge(self, outcomes: Mapping[str, CaseOutcome], facts: Facts) -> Verdict:
        report = facts.load
        error = report.get("error")
        if report.get("mode") == "full" and not error:
            return Verdict.ok()
        error = error or {"type": "unknown", "message": ""}
        details = error_details(error)
        kind = error.get("type")
        if kind in ("CaseTimeout", "timeout"):
            summary = Message("load.timeout", {"seconds": error.get("seconds", "")})
        elif kind == "crash":
            summary = Message("load.crashed", {"detail": error.get("message", "")})
        elif kind == "SystemExit":
            summary = Message("load.exited", {"code": error.get("message", "")})
        else:
            summary = Message("load.raised", {"type": kind, "message": error.get("message", "")})
        details.append(Message("load.definitions_graded"))
        return Verdict.fail(summary, details, self.hint())
