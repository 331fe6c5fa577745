"""Perceptron.forward and one backward step: gradients, returned gradient, update.

The grader sets ``w`` and ``b`` itself after construction, so every student is checked on the same
numbers whatever their initialisation. Each case has more than one output dimension in some variants,
so that a shape bug (``g.sum()`` instead of ``g.sum(axis=0)``) shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

import numpy as np

from grader.checks.base import CaseOutcome, Check, as_array, describe_type
from grader.checks.compare import Tolerance, explain, first_match, matches
from grader.checks.ops import assign, call, get, rng
from grader.i18n import Message
from grader.results import Verdict
from grader.run.sandbox.protocol import Failed


def construct(input_dim: int, output_dim: int, learning_rate: float, seed: int) -> dict[str, Any]:
    """``p = Perceptron(input_dim, output_dim, learning_rate, rng)``, the generator seeded for the case."""
    return call("Perceptron", input_dim, output_dim, learning_rate, rng(seed), save="p", label="Perceptron")


def set_parameters(w: np.ndarray, b: np.ndarray) -> list[dict[str, Any]]:
    """The grader's own w and b in place of the student's initialisation."""
    return [assign("$p.w", w), assign("$p.b", b)]


def broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


class Forward(Check):
    """y = x @ w + b with the grader's w and b, for one and for several outputs."""

    @cached_property
    def inputs(self) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``(x, w, b)`` per case id, drawn from the check's seed for each shape ``(k, d, m)``."""
        inputs = {}
        for index, (k, d, m) in enumerate(self.params.get("shapes", [[5, 3, 1], [4, 3, 3], [1, 2, 2]])):
            generator = self.rng(index)
            inputs[self.case_id(index)] = (generator.normal(size=(k, d)), generator.normal(size=(d, m)),
                                           generator.normal(size=m))
        return inputs

    def cases(self) -> list[dict[str, Any]]:
        return [{"id": case_id, "ops": [construct(w.shape[0], w.shape[1], 0.1, index), *set_parameters(w, b),
                                        call("$p.forward", label="Perceptron.forward", args=[x], out="y")]}
                for index, (case_id, (x, w, b)) in enumerate(self.inputs.items())]

    def judge(self, outcomes: Mapping[str, CaseOutcome]) -> Verdict:
        mine = self.mine(outcomes)
        error = self.stopped(mine)
        if error:
            return error
        tolerance = self.file_tolerance(1e-9, 1e-12)
        for outcome in mine:
            x, w, b = self.inputs[outcome.case_id]
            expected = x @ w + b
            obtained = as_array(outcome.get("y"))
            if not matches(obtained, expected, tolerance):
                details = [Message("check.shapes_used", {"x": str(x.shape), "w": str(w.shape), "b": str(b.shape)})]
                details += explain("y", obtained, expected, tolerance, describe_type(outcome.get("y")))
                return Verdict.fail(Message("forward.wrong"), details, self.hint())
        return Verdict.ok(Message("check.passed_examples", {"count": len(mine)}))


class BackwardStep(Check):
    """Shared by grad_w, grad_b, grad_x and update: forward(x), then backward(g) once, then read back
    the returned gradient, w, b, and the optional g_w, g_b."""

    @cached_property
    def inputs(self) -> dict[str, dict[str, Any]]:
        """x, w, b, the upstream gradient g and the learning rate per case id, drawn from the check's seed
        for each shape ``(k, d, m)``."""
        learning_rate = float(self.params.get("learning_rate", 0.1))
        inputs = {}
        for index, (k, d, m) in enumerate(self.params.get("shapes", [[4, 3, 1], [5, 3, 2]])):
            generator = self.rng(index)
            inputs[self.case_id(index)] = {"x": generator.normal(size=(k, d)), "w": generator.normal(size=(d, m)),
                                           "b": generator.normal(size=m), "g": generator.normal(size=(k, m)),
                                           "lr": learning_rate}
        return inputs

    def cases(self) -> list[dict[str, Any]]:
        cases = []
        for index, (case_id, data) in enumerate(self.inputs.items()):
            d, m = data["w"].shape
            cases.append({"id": case_id, "ops": [
                construct(d, m, data["lr"], index), *set_parameters(data["w"], data["b"]),
                call("$p.forward", label="Perceptron.forward", args=[data["x"]]),
                call("$p.backward", label="Perceptron.backward", args=[data["g"]], out="g_x"),
                get("$p.w", "w_after"), get("$p.b", "b_after"),
                get("$p.g_w", "g_w", optional=True), get("$p.g_b", "g_b", optional=True),
            ]})
        return cases

    def tolerance(self) -> Tolerance:
        return self.file_tolerance(1e-7, 1e-10)

    def judge(self, outcomes: Mapping[str, CaseOutcome]) -> Verdict:
        mine = self.mine(outcomes)
        error = self.stopped(mine)
        if error:
            return error
        notes: list[Message] = []
        for outcome in mine:
            data = self.inputs[outcome.case_id]
            verdict = self.judge_one(data, outcome)
            if not verdict.passed:
                verdict.hint = verdict.hint or self.hint()
                k, d = data["x"].shape
                verdict.details.insert(0, Message("check.step_shapes", {"k": k, "d": d, "m": data["g"].shape[1]}))
                return verdict
            notes = verdict.details  # what the last case says about every case (the convention it took)
        return Verdict.ok(Message("check.passed_examples", {"count": len(mine)}), notes)

    def judge_one(self, data: dict[str, Any], outcome: CaseOutcome) -> Verdict:
        raise NotImplementedError

    @staticmethod
    def accepted(data: dict[str, Any], name: str) -> list[np.ndarray]:
        """The accepted forms of a parameter gradient: batch sum, then batch mean."""
        x, g = data["x"], data["g"]
        total = x.T @ g if name == "w" else g.sum(axis=0)
        return [total, total / x.shape[0]]

    @staticmethod
    def reported_or_inferred(data: dict[str, Any], outcome: CaseOutcome, name: str) -> tuple[Any, bool]:
        """The student's g_w (g_b); when the attribute is absent, read it from the change of w (b)."""
        value = outcome.get(f"g_{name}")
        if not isinstance(value, Failed):
            return value, False
        after = as_array(outcome.get(f"{name}_after"))
        if after is None or after.shape != data[name].shape:
            return value, True
        return (data[name] - after) / data["lr"], True


class _ParameterGradient(BackwardStep):
    parameter = "w"

    def judge_one(self, data: dict[str, Any], outcome: CaseOutcome) -> Verdict:
        value, inferred = self.reported_or_inferred(data, outcome, self.parameter)
        obtained = as_array(value)
        candidates = self.accepted(data, self.parameter)
        form = first_match(obtained, candidates, self.tolerance())
        if form is None:
            name = f"g_{self.parameter}"
            details = [Message("check.inferred_from_update", {"name": name})] if inferred else []
            details += explain(name, obtained, candidates[0], self.tolerance(), describe_type(value))
            return Verdict.fail(Message(f"{self.id}.wrong"), details)
        return Verdict.ok(details=[Message(f"convention.{('sum', 'mean')[form]}")])


class GradW(_ParameterGradient):
    parameter = "w"


class GradB(_ParameterGradient):
    parameter = "b"


class GradX(BackwardStep):
    def judge_one(self, data: dict[str, Any], outcome: CaseOutcome) -> Verdict:
        expected = data["g"] @ data["w"].T
        obtained = as_array(outcome.get("g_x"))
        if matches(obtained, expected, self.tolerance()):
            return Verdict.ok()
        w_after = as_array(outcome.get("w_after"))
        if w_after is not None and w_after.shape == data["w"].shape and not np.allclose(w_after, data["w"]) \
                and matches(obtained, data["g"] @ w_after.T, self.tolerance()):
            return Verdict.fail(Message("grad_x.after_update"), hint=self.hint())
        details = explain("g_x", obtained, expected, self.tolerance(), describe_type(outcome.get("g_x")))
        return Verdict.fail(Message("grad_x.wrong"), details)


class Update(BackwardStep):
    def judge_one(self, data: dict[str, Any], outcome: CaseOutcome) -> Verdict:
        for name in ("w", "b"):
            after = as_array(outcome.get(f"{name}_after"))
            steps = self.accepted(data, name)
            reported = as_array(outcome.get(f"g_{name}"))
            if reported is not None and not np.any(reported):
                reported = None  # a zero gradient moves nothing: staying put proves no update rule (issue 11.5)
            if reported is not None and after is not None and self.own_update(data, name, reported, after):
                continue
            if reported is not None and broadcasts_to(reported.shape, data[name].shape):
                # the update is judged against the student's own gradient, even a wrongly shaped one
                steps = [np.broadcast_to(reported, data[name].shape), *steps]
            expected = [data[name] - data["lr"] * step for step in steps]
            if first_match(after, expected, self.tolerance()) is None:
                details = explain(f"{name}_after", after, expected[0], self.tolerance(),
                                  describe_type(outcome.get(f"{name}_after")))
                if after is not None and after.shape == data[name].shape and np.allclose(after, data[name]):
                    details = [Message("update.unchanged", {"name": name})]
                elif after is not None and first_match(after, [data[name] + data["lr"] * s for s in steps],
                                                       self.tolerance()) is not None:
                    details = [Message("update.sign", {"name": name})]
                return Verdict.fail(Message("update.wrong", {"name": name}), details)
        return Verdict.ok()

    def own_update(self, data: dict[str, Any], name: str, reported: np.ndarray, after: np.ndarray) -> bool:
        """after = before - lr * g as the student computed g, in the student's own shapes (issue 16.2): a
        g_b of shape (1, m) makes b (1, m), which grad_b judges; the update itself is right."""
        try:  # the shape first: a hostile g must not make the grader build a huge array
            if np.broadcast_shapes(data[name].shape, reported.shape) != after.shape:
                return False
        except ValueError:  # shapes that do not broadcast
            return False
        with np.errstate(all="ignore"):
            expected = data[name] - data["lr"] * reported
        return after.shape == expected.shape and bool(np.all(np.isfinite(after))) \
            and self.tolerance().close(after, expected)
