"""MeanSquaredError.forward and backward against mean((y - t)^2) and its derivative."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from grader.checks.base import CaseOutcome, Check, Facts, as_array, describe_type
from grader.checks.compare import Tolerance, explain, first_match
from grader.i18n import Message
from grader.results import Verdict
from grader.run.sandbox.protocol import encode


class _MseCheck(Check):
    output = "loss"

    def cases(self) -> list[dict[str, Any]]:
        self._inputs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        cases = []
        for index, (n, m) in enumerate(self.params.get("shapes", [[6, 1], [10, 1], [4, 2]])):
            rng = self.rng(index)
            y, t = rng.normal(size=(n, m)), rng.normal(size=(n, m))
            case_id = self.case_id(index)
            self._inputs[case_id] = (y, t)
            cases.append({"id": case_id, "ops": [
                {"op": "call", "fn": "MeanSquaredError", "save": "mse"},
                {"op": "call", "fn": "$mse.forward", "label": "MeanSquaredError.forward",
                 "args": [encode(y), encode(t)], "out": "loss"},
                {"op": "call", "fn": "$mse.backward", "label": "MeanSquaredError.backward", "out": "grad"},
            ]})
        return cases

    def accepted(self, y: np.ndarray, t: np.ndarray) -> list[np.ndarray]:
        raise NotImplementedError

    def hint_for(self, obtained: np.ndarray | None, y: np.ndarray, t: np.ndarray, tolerance: Tolerance) -> Message:
        return self.hint()

    def judge(self, outcomes: Mapping[str, CaseOutcome], facts: Facts) -> Verdict:
        mine = self.mine(outcomes)
        relevant = [outcome for outcome in mine if outcome.error and (self.output == "grad" or "loss" not in
                                                                      outcome.outputs)]
        error = self.stopped(relevant)
        if error:
            return error
        tolerance = Tolerance(self.params.get("rtol", 1e-9), self.params.get("atol", 1e-12))
        for outcome in mine:
            y, t = self._inputs[outcome.case_id]
            value = outcome.get(self.output)
            obtained = as_array(value)
            candidates = self.accepted(y, t)
            if first_match(obtained, candidates, tolerance) is None:
                details = [Message("check.mse_shapes", {"y": str(y.shape)})]
                details += explain(self.output, obtained, candidates[0], tolerance, describe_type(value))
                return Verdict.fail(Message(f"{self.id}.wrong"), details, self.hint_for(obtained, y, t, tolerance))
        return Verdict.ok(Message("check.passed_examples", {"count": len(mine)}))


class MseForward(_MseCheck):
    output = "loss"

    def accepted(self, y: np.ndarray, t: np.ndarray) -> list[np.ndarray]:
        return [np.asarray(np.mean((y - t) ** 2))]


class MseBackward(_MseCheck):
    output = "grad"

    def accepted(self, y: np.ndarray, t: np.ndarray) -> list[np.ndarray]:
        return [2 * (y - t), 2 * (y - t) / y.size, 2 * (y - t) / y.shape[0]]

    def hint_for(self, obtained: np.ndarray | None, y: np.ndarray, t: np.ndarray, tolerance: Tolerance) -> Message:
        """Half of an accepted form is the factor 2 of the square left out: say that, not the general hint."""
        if obtained is not None and first_match(obtained, [form / 2 for form in self.accepted(y, t)],
                                                tolerance) is not None:
            return Message("mse_backward.hint_two")
        return self.hint()
