"""The whole chain: a finite-difference gradient check of the student's own loss, and convergence of
``train`` to the least-squares optimum of the course data."""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from grader.checks.base import (
    CaseOutcome,
    Check,
    Evidence,
    Judgement,
    Verdict,
    as_array,
    describe_type,
    error_details,
    error_message,
)
from grader.checks.compare import Tolerance, explain, fmt
from grader.checks.descent import CONVENTION, step_problems
from grader.checks.ops import call, get, ref, rng
from grader.checks.perceptron import construct, set_parameters
from grader.i18n import Message
from grader.run.sandbox.protocol import Failed
from reference.data import load_xt
from reference.least_squares import least_squares, least_squares_loss
from reference.perceptron import standardize


class LossPoint(NamedTuple):
    """Where gradcheck compares gradients: the data and the perceptron's parameters."""

    x: np.ndarray
    t: np.ndarray
    w: np.ndarray
    b: np.ndarray


class Gradcheck(Check):
    """The student's chain (mse.backward -> p.backward), one output as in the course, against two things.

    The grader's own gradient G of the mean loss at the same w, b, x, t decides the convention: the chain
    must be G (mean) or N·G (batch sum, which the slides allow); converge trains with the learning rate
    for it (issue 14.1: never read from the student's loss value, so a summed loss with right gradients
    does not make training diverge). Central differences of the student's own loss E(w, b) =
    mse.forward(p.forward(x), t) must be G or N·G too: the chain is the gradient of the loss the student
    wrote, and whether that loss is the mean or the sum is mse_forward's verdict, not this one's. A loss
    that does not move with w and b (a constant, zero gradients) passes nothing (issue 11.5)."""

    provides = (CONVENTION,)

    @cached_property
    def point(self) -> LossPoint:
        """Where the gradient is checked: data x, t and parameters w, b drawn from the check's seed."""
        generator = self.rng()
        n, d = self.params.get("samples", 8), self.params.get("inputs", 3)
        x, t = generator.normal(size=(n, d)), generator.normal(size=(n, 1))
        return LossPoint(x, t, generator.normal(size=(d, 1)), generator.normal(size=1))

    @property
    def h(self) -> float:
        """The step of the central differences."""
        return float(self.params.get("step", 1e-5))

    @property
    def lr(self) -> float:
        """The perceptron's learning rate (a chain that updates without g_w is read from the change of w)."""
        return float(self.params.get("learning_rate", 0.01))

    @cached_property
    def probes(self) -> list[tuple[str, str, tuple[int, ...], int]]:
        """``(output label, parameter, index, sign)``: the loss at the point moved by ±h in one element."""
        return [(f"E_{name}{'_'.join(map(str, index))}_{'p' if sign > 0 else 'm'}", name, index, sign)
                for name, shape in (("w", self.point.w.shape), ("b", self.point.b.shape))
                for index in np.ndindex(*shape) for sign in (1, -1)]

    def cases(self) -> list[dict[str, Any]]:
        point = self.point
        ops: list[dict[str, Any]] = [construct(point.x.shape[1], 1, self.lr, 0),
                                     call("MeanSquaredError", args=[], label="MeanSquaredError", save="mse")]
        for label, name, index, sign in self.probes:
            w, b = point.w.copy(), point.b.copy()
            (w if name == "w" else b)[index] += sign * self.h
            ops += [*set_parameters(w, b), *self.loss_ops(out=label)]
        ops += [*set_parameters(point.w, point.b), *self.loss_ops(),
                call("$mse.backward", args=[], label="MeanSquaredError.backward", save="g"),
                call("$p.backward", ref("g"), label="Perceptron.backward"),
                get("$p.w", "w_after"), get("$p.b", "b_after"),
                get("$p.g_w", "g_w", optional=True), get("$p.g_b", "g_b", optional=True)]
        return [{"id": self.case_id(0), "ops": ops}]

    def loss_ops(self, out: str | None = None) -> list[dict[str, Any]]:
        """E = mse.forward(p.forward(x), t) with the student's own two functions."""
        return [call("$p.forward", self.point.x, label="Perceptron.forward", save="y"),
                call("$mse.forward", ref("y"), self.point.t, label="MeanSquaredError.forward", out=out)]

    def numerical_gradient(self, outputs: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
        gradient = {"w": np.zeros_like(self.point.w), "b": np.zeros_like(self.point.b)}
        for label, name, index, sign in self.probes:
            value = as_array(outputs.get(label))
            if value is None or value.size != 1:
                return None
            gradient[name][index] += sign * float(value.reshape(())) / (2 * self.h)
        return gradient["w"], gradient["b"]

    def chain_gradient(self, outputs: Mapping[str, Any], name: str) -> np.ndarray | None:
        value = outputs.get(f"g_{name}")
        if isinstance(value, Failed):
            after = as_array(outputs.get(f"{name}_after"))
            before = self.point.w if name == "w" else self.point.b
            return None if after is None or after.shape != before.shape else (before - after) / self.lr
        array = as_array(value)
        return None if array is None else array.reshape(-1)

    def mean_loss_gradient(self) -> tuple[np.ndarray, np.ndarray]:
        """The grader's own gradient of the mean loss mean((x @ w + b - t)²) at the case's w, b: the
        yardstick for the chain's convention, computed here and never from the student's loss."""
        x, t, w, b = self.point
        residual = x @ w + b - t
        return 2.0 / len(x) * x.T @ residual, 2.0 / len(x) * residual.sum(axis=0)

    def common_factor(self, parts: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray],
                      tolerance: Tolerance) -> float | None:
        """1 or N when every part equals that multiple of the reference (mean or batch-sum convention)."""
        n = float(self.point.x.shape[0])
        for factor in (1.0, n):
            if all(tolerance.close(parts[name], factor * reference[name]) for name in parts):
                return factor
        return None

    def assess(self, evidence: Evidence) -> Judgement:
        verdict, convention = self.judge_chain(evidence.outcomes)
        return Judgement(verdict, {} if convention is None else {CONVENTION: convention})

    def judge_chain(self, outcomes: Mapping[str, CaseOutcome]) -> tuple[Verdict, str | None]:
        """The verdict, and the convention of the chain when it is the true gradient or N times it (also
        when the loss itself is off: converge then still trains with the right learning rate)."""
        mine = self.mine(outcomes)
        error = self.stopped(mine)
        if error:
            return error, None
        outputs = mine[0].outputs
        numerical = self.numerical_gradient(outputs)
        if numerical is None:
            return Verdict.fail(Message("gradcheck.loss_not_scalar"), hint=self.hint()), None
        parts = {"w": self.chain_gradient(outputs, "w"), "b": self.chain_gradient(outputs, "b")}
        if any(part is None for part in parts.values()) or parts["w"].size != self.point.w.size \
                or parts["b"].size != self.point.b.size:
            shown = [describe_type(outputs.get("g_w")), describe_type(outputs.get("g_b"))]
            return Verdict.fail(Message("gradcheck.no_gradient", {"g_w": shown[0], "g_b": shown[1]}),
                                hint=self.hint()), None
        fd = {"w": numerical[0].reshape(-1), "b": numerical[1].reshape(-1)}
        true = dict(zip(("w", "b"), (part.reshape(-1) for part in self.mean_loss_gradient()), strict=True))
        n = self.point.x.shape[0]
        tolerance = self.file_tolerance(1e-5, 1e-8)
        if all(np.all(np.abs(fd[name]) <= tolerance.atol) for name in fd):
            # a loss that does not move with w and b checks nothing, whatever the chain says
            return Verdict.fail(Message("gradcheck.constant_loss"), hint=self.hint()), None
        chain_factor = self.common_factor(parts, true, tolerance)
        loss_factor = self.common_factor(fd, true, tolerance)
        # the convention converge trains with: read from the chain against the grader's own gradient
        convention = None if chain_factor is None else "mean" if chain_factor == 1.0 else "sum"
        if chain_factor is not None and loss_factor is not None:
            details = [Message(f"convention.{convention}")]
            if loss_factor != 1.0:  # a summed loss is mse_forward's failure, not the chain's
                details.append(Message("gradcheck.loss_is_sum", {"n": n}))
            return Verdict.ok(Message("gradcheck.passed", {"factor": fmt(chain_factor)}), details), convention
        details: list[Message] = []
        if chain_factor is not None:
            details.append(Message("gradcheck.chain_right", {"factor": fmt(chain_factor)}))
        # the student's view: their chain against the numerical gradient of their own loss, per parameter
        factors = {name: [factor for factor in (1.0, float(n)) if tolerance.close(parts[name], factor * fd[name])]
                   for name in parts}
        reference_factor = next((found[0] for found in factors.values() if found), 1.0)
        for name in ("w", "b"):
            if factors[name]:
                details.append(Message("gradcheck.part_ok", {"name": name, "factor": fmt(factors[name][0])}))
                continue
            denominator = float(np.vdot(fd[name], fd[name]))
            ratio = fmt(float(np.vdot(fd[name], parts[name])) / denominator) if denominator > 0 else "-"
            details.append(Message("gradcheck.ratio", {"name": name, "ratio": ratio, "n": n}))
            details += explain(f"dE/d{name}", parts[name], reference_factor * fd[name], tolerance)
        summary = "gradcheck.loss_mismatch" if chain_factor is not None else "gradcheck.wrong"
        return Verdict.fail(Message(summary), details, self.chain_hint(parts, true, tolerance)), convention

    def chain_hint(self, parts: Mapping[str, np.ndarray], true: Mapping[str, np.ndarray],
                   tolerance: Tolerance) -> Message:
        """The hint for the factor the chain is off by: half (the 2 of the square left out), 1/N (divided
        by N twice), or anything else (the chain rule itself)."""
        n = float(self.point.x.shape[0])
        for factors, key in (((0.5, 0.5 * n), "gradcheck.hint_two"), ((1.0 / n,), "gradcheck.hint")):
            for factor in factors:
                if all(tolerance.close(parts[name], factor * true[name]) for name in parts):
                    return Message(key)
        return Message("gradcheck.hint_chain")


class Converge(Check):
    """``train`` on the standardized course data must reach least squares; the learning rate is the
    one for the convention gradcheck detected (lr for the mean, lr / N for the sum; both, and either
    may pass, when gradcheck could not tell)."""

    needs = (CONVENTION,)

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

    #: train() is also run for 1, 2 and 3 steps: the steps between them must be gradient descent
    DESCENT_STEPS = 3

    def cases(self) -> list[dict[str, Any]]:
        iterations = self.iterations
        x, t = self.problem["x"], self.problem["t"]
        cases = []
        for convention, rate in self.learning_rates().items():
            # the long run starts as the short ones below do (np.random seeded alike): its first losses are theirs
            cases.append({"id": self.case_id(convention), "ops": [
                {**call("np.random.seed", self.seed % 2**32, out="seeded"), "optional": True},
                call("train", x, t, rate, iterations, rng(self.seed), save="r"),
                get("$r[0].w", "w"), get("$r[0].b", "b"), get("$r[1]", "losses"),
            ]})
            # what the model looks like after 1, 2, 3 steps, and what train() constructs first
            # (optional ops: a constructor that fails costs the shape note, not the steps after it)
            ops = [{**call("Perceptron", x.shape[1], t.shape[1], rate, rng(self.seed), label="Perceptron",
                           save="p0", out="p0"), "optional": True},
                   get("$p0.w", "w0", optional=True), get("$p0.b", "b0", optional=True)]
            for steps in range(1, self.DESCENT_STEPS + 1):
                # the legacy global generator too starts each run alike, for a w drawn with np.random.randn
                ops += [{**call("np.random.seed", self.seed % 2**32, out=f"seeded{steps}"), "optional": True},
                        call("train", x, t, rate, steps, rng(self.seed), save=f"r{steps}"),
                        get(f"$r{steps}[0].w", f"w{steps}"), get(f"$r{steps}[0].b", f"b{steps}")]
            ops.append(get(f"$r{self.DESCENT_STEPS}[1]", "losses_steps"))
            cases.append({"id": self.case_id(f"{convention}_steps"), "ops": ops})
        return cases

    def assess(self, evidence: Evidence) -> Judgement:
        return Judgement(self.judge(evidence.outcomes, evidence.get(CONVENTION)))

    def judge(self, outcomes: Mapping[str, CaseOutcome], convention: str | None = None) -> Verdict:
        conventions = [convention] if convention else list(self.learning_rates())
        verdicts = [self.judge_one(outcomes[self.case_id(name)], outcomes[self.case_id(f"{name}_steps")], name)
                    for name in conventions]
        passed = [verdict for verdict in verdicts if verdict.passed]
        return passed[0] if passed else verdicts[0]

    def mean_loss(self, w: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray]:
        """The grader's own mean loss and its gradient (w and b flattened together) at w, b."""
        x, t = self.problem["x"], self.problem["t"]
        residual = x @ w.reshape(x.shape[1], -1) + b.reshape(1, -1) - t
        gradient = np.concatenate([(2.0 / len(x) * x.T @ residual).ravel(), 2.0 * residual.mean(axis=0)])
        return float(np.mean(residual**2)), gradient

    def parameters(self, outputs: Mapping[str, Any], suffix: str) -> np.ndarray | None:
        """w and b after some steps, flattened together; None when they are not one output's numbers."""
        w, b = as_array(outputs.get(f"w{suffix}")), as_array(outputs.get(f"b{suffix}"))
        if w is None or b is None or w.size != self.problem["w"].size or b.size != self.problem["b"].size:
            return None
        return np.concatenate([w.ravel(), b.ravel()])

    def shape_details(self, outcome: CaseOutcome) -> list[Message]:
        """What Perceptron(d, 1, ...) built, when its w or b cannot be one output's parameters."""
        details = []
        for name in ("w", "b"):
            value = as_array(outcome.get(f"{name}0"))
            expected = self.problem[name].shape
            if value is not None and value.size != int(np.prod(expected)):
                details.append(Message("converge.constructed_shape", {
                    "name": name, "obtained": str(value.shape), "expected": str(expected),
                    "d": self.problem["x"].shape[1]}))
        return details

    def descent(self, steps: CaseOutcome, losses: np.ndarray, final: np.ndarray) -> list[Message]:
        with np.errstate(all="ignore"):  # the student's numbers may overflow; that is a verdict, not a fault
            return self.descent_problems(steps, losses, final)

    def descent_problems(self, steps: CaseOutcome, losses: np.ndarray, final: np.ndarray) -> list[Message]:
        """Nothing when train() visibly does gradient descent, else why not (``descent.step_problems``,
        measured against the grader's own mean loss at each point)."""
        if steps.error:
            return [Message("converge.descent_failed"), error_message(steps.error), *error_details(steps.error)]
        points = [self.parameters(steps.outputs, str(index)) for index in range(1, self.DESCENT_STEPS + 1)]
        size = self.problem["w"].size
        return step_problems(points, as_array(steps.get("losses_steps")), losses, final,
                             lambda point: self.mean_loss(point[:size], point[size:]))

    def judge_one(self, outcome: CaseOutcome, steps: CaseOutcome, convention: str) -> Verdict:
        if outcome.error and str(outcome.error.get("fn", "")).startswith("$r[") \
                and "NoneType" in str(outcome.error.get("message", "")):
            # reading (perceptron, losses) out of what train() returned failed: it returned None
            return Verdict.fail(Message("converge.returned_none"), hint=self.hint())
        error = self.stopped([outcome])
        if error:
            shapes = self.shape_details(steps)
            if shapes:  # the cause first (issue 12.6): what the constructor made, then what it led to
                return Verdict.fail(shapes[0], [*shapes[1:], error.summary, *error.details],
                                    Message("converge.hint_shapes"))
            return error
        iterations = self.iterations
        rate = fmt(self.learning_rates()[convention])
        context = Message(f"converge.setting_{convention}", {"lr": rate, "iterations": iterations})
        losses = as_array(outcome.get("losses"))
        if losses is None or losses.size != iterations or losses.shape[0] != iterations:
            # one number per step, in any array shape: a list of (1,)-arrays from a per-axis loss is fine
            shown = describe_type(outcome.get("losses")) if losses is None else str(losses.shape)
            return Verdict.fail(Message("converge.losses", {"iterations": iterations, "obtained": shown}),
                                [context], self.hint())
        losses = losses.reshape(-1)
        tolerance = self.file_tolerance(1e-4, 1e-4)
        for name in ("w", "b"):
            obtained = as_array(outcome.get(name))
            expected = self.problem[name]
            if obtained is not None and obtained.size == expected.size:
                obtained = obtained.reshape(expected.shape)
            if obtained is None or obtained.shape != expected.shape or not tolerance.close(obtained, expected):
                details = [*self.shape_details(steps), context,
                           *explain(name, obtained, expected, tolerance, describe_type(outcome.get(name)))]
                details.append(Message("converge.final_loss", {"obtained": fmt(float(losses[-1])),
                                                               "expected": fmt(self.problem["loss"])}))
                return Verdict.fail(Message("converge.wrong"), details, self.hint())
        final = np.concatenate([as_array(outcome.get(name)).ravel() for name in ("w", "b")])
        problem = self.descent(steps, losses, final)
        if problem:
            return Verdict.fail(Message("converge.no_training"), [context, *problem], self.hint())
        return Verdict.ok(Message("converge.passed", {"loss": fmt(float(losses[-1]))}), [context])

