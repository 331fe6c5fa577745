"""Perceptron.forward and one backward step: gradients, returned gradient, update.

The grader sets ``w`` and ``b`` itself after construction, so every student is checked on the same
numbers whatever their initialisation. Each case has more than one output dimension in some variants,
so that a shape bug (``g.sum()`` instead of ``g.sum(axis=0)``) shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from grader.checks.base import CaseOutcome, Check, Facts, as_array, describe_type
from grader.checks.compare import Tolerance, explain, first_match, matches
from grader.i18n import Message
from grader.results import Verdict
from grader.run.sandbox.protocol import Failed, encode


def construct(input_dim: int, output_dim: int, learning_rate: float, seed: int) -> dict[str, Any]:
    return {"op": "call", "fn": "Perceptron", "args": [input_dim, output_dim, learning_rate, {"__rng__": seed}],
            "save": "p", "label": "Perceptron"}


def set_parameters(w: np.ndarray, b: np.ndarray) -> list[dict[str, Any]]:
    return [{"op": "set", "path": "$p.w", "value": encode(w)}, {"op": "set", "path": "$p.b", "value": encode(b)}]


def broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


class Forward(Check):
    """y = x @ w + b with the grader's w and b, for one and for several outputs."""

    def cases(self) -> list[dict[str, Any]]:
        self._inputs: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        cases = []
        for index, (k, d, m) in enumerate(self.params.get("shapes", [[5, 3, 1], [4, 3, 3], [1, 2, 2]])):
            rng = self.rng(index)
            x, w, b = rng.normal(size=(k, d)), rng.normal(size=(d, m)), rng.normal(size=m)
            case_id = self.case_id(index)
            self._inputs[case_id] = (x, w, b)
            cases.append({"id": case_id, "ops": [construct(d, m, 0.1, index), *set_parameters(w, b),
                                                  {"op": "call", "fn": "$p.forward", "label": "Perceptron.forward",
                                                   "args": [encode(x)], "out": "y"}]})
        return cases

    def judge(self, outcomes: Mapping[str, CaseOutcome], facts: Facts) -> Verdict:
        mine = self.mine(outcomes)
        error = self.stopped(mine)
        if error:
            return error
        tolerance = Tolerance(self.params.get("rtol", 1e-9), self.params.get("atol", 1e-12))
        for outcome in mine:
            x, w, b = self._inputs[outcome.case_id]
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

    def cases(self) -> list[dict[str, Any]]:
        self._inputs: dict[str, dict[str, Any]] = {}
        cases = []
        learning_rate = float(self.params.get("learning_rate", 0.1))
        for index, (k, d, m) in enumerate(self.params.get("shapes", [[4, 3, 1], [5, 3, 2]])):
            rng = self.rng(index)
            data = {"x": rng.normal(size=(k, d)), "w": rng.normal(size=(d, m)), "b": rng.normal(size=m),
                    "g": rng.normal(size=(k, m)), "lr": learning_rate}
            case_id = self.case_id(index)
            self._inputs[case_id] = data
            cases.append({"id": case_id, "ops": [
                construct(d, m, learning_rate, index), *set_parameters(data["w"], data["b"]),
                {"op": "call", "fn": "$p.forward", "label": "Perceptron.forward", "args": [encode(data["x"])]},
                {"op": "call", "fn": "$p.backward", "label": "Perceptron.backward", "args": [encode(data["g"])],
                 "out": "g_x"},
                {"op": "get", "path": "$p.w", "out": "w_after"},
                {"op": "get", "path": "$p.b", "out": "b_after"},
                {"op": "get", "path": "$p.g_w", "out": "g_w", "optional": True},
                {"op": "get", "path": "$p.g_b", "out": "g_b", "optional": True},
            ]})
        return cases

    def tolerance(self) -> Tolerance:
        return Tolerance(self.params.get("rtol", 1e-7), self.params.get("atol", 1e-10))

    def judge(self, outcomes: Mapping[str, CaseOutcome], facts: Facts) -> Verdict:
        mine = self.mine(outcomes)
        error = self.stopped(mine)
        if error:
            return error
        for outcome in mine:
            verdict = self.judge_one(self._inputs[outcome.case_id], outcome, facts)
            if not verdict.passed:
                verdict.hint = verdict.hint or self.hint()
                k, d = self._inputs[outcome.case_id]["x"].shape
                verdict.details.insert(0, Message("check.step_shapes", {
                    "k": k, "d": d, "m": self._inputs[outcome.case_id]["g"].shape[1]}))
                return verdict
        return Verdict.ok(Message("check.passed_examples", {"count": len(mine)}), self.notes(facts))

    def judge_one(self, data: dict[str, Any], outcome: CaseOutcome, facts: Facts) -> Verdict:
        raise NotImplementedError

    def notes(self, facts: Facts) -> list[Message]:
        return []

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

    def judge_one(self, data: dict[str, Any], outcome: CaseOutcome, facts: Facts) -> Verdict:
        value, inferred = self.reported_or_inferred(data, outcome, self.parameter)
        obtained = as_array(value)
        candidates = self.accepted(data, self.parameter)
        form = first_match(obtained, candidates, self.tolerance())
        if form is None:
            name = f"g_{self.parameter}"
            details = [Message("check.inferred_from_update", {"name": name})] if inferred else []
            details += explain(name, obtained, candidates[0], self.tolerance(), describe_type(value))
            return Verdict.fail(Message(f"{self.id}.wrong"), details)
        facts.values[f"{self.id}.convention"] = ("sum", "mean")[form]
        return Verdict.ok()

    def notes(self, facts: Facts) -> list[Message]:
        convention = facts.values.get(f"{self.id}.convention")
        return [Message(f"convention.{convention}")] if convention else []


class GradW(_ParameterGradient):
    parameter = "w"


class GradB(_ParameterGradient):
    parameter = "b"


class GradX(BackwardStep):
    def judge_one(self, data: dict[str, Any], outcome: CaseOutcome, facts: Facts) -> Verdict:
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
    def judge_one(self, data: dict[str, Any], outcome: CaseOutcome, facts: Facts) -> Verdict:
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
