"""MeanSquaredError.forward and backward against mean((y - t)^2) and its derivative."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

import numpy as np

from grader.checks.base import CaseOutcome, Check, as_array, describe_type
from grader.checks.compare import Tolerance, explain, first_match
from grader.checks.ops import call
from grader.i18n import Message
from grader.results import Verdict


class _MseCheck(Check):
    output = "loss"
    #: The hint for an answer that is half an accepted one, if that means something (the 2 left out).
    half_hint = ""

    @cached_property
    def inputs(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``(y, t)`` per case id, drawn from the check's seed for each shape ``(n, m)``."""
        inputs = {}
        for index, (n, m) in enumerate(self.params.get("shapes", [[6, 1], [10, 1], [4, 2]])):
            generator = self.rng(index)
            inputs[self.case_id(index)] = (generator.normal(size=(n, m)), generator.normal(size=(n, m)))
        return inputs

    def cases(self) -> list[dict[str, Any]]:
        return [{"id": case_id, "ops": [
            call("MeanSquaredError", save="mse"),
            call("$mse.forward", label="MeanSquaredError.forward", args=[y, t], out="loss"),
            call("$mse.backward", label="MeanSquaredError.backward", out="grad"),
        ]} for case_id, (y, t) in self.inputs.items()]

    def accepted(self, y: np.ndarray, t: np.ndarray) -> list[np.ndarray]:
        raise NotImplementedError

    def hint_for(self, obtained: np.ndarray | None, candidates: list[np.ndarray], tolerance: Tolerance) -> Message:
        """Half of an accepted form is the factor 2 of the square left out: say that (``half_hint``), not
        the general hint."""
        if self.half_hint and obtained is not None \
                and first_match(obtained, [form / 2 for form in candidates], tolerance) is not None:
            return Message(self.half_hint)
        return self.hint()

    def judge(self, outcomes: Mapping[str, CaseOutcome]) -> Verdict:
        mine = self.mine(outcomes)
        relevant = [outcome for outcome in mine if outcome.error and (self.output == "grad" or "loss" not in
                                                                      outcome.outputs)]
        error = self.stopped(relevant)
        if error:
            return error
        tolerance = self.file_tolerance(1e-9, 1e-12)
        for outcome in mine:
            y, t = self.inputs[outcome.case_id]
            value = outcome.get(self.output)
            obtained = as_array(value)
            candidates = self.accepted(y, t)
            if first_match(obtained, candidates, tolerance) is None:
                details = [Message("check.mse_shapes", {"y": str(y.shape)})]
                details += explain(self.output, obtained, candidates[0], tolerance, describe_type(value))
                hint = self.hint_for(obtained, candidates, tolerance)
                return Verdict.fail(Message(f"{self.id}.wrong"), details, hint)
        return Verdict.ok(Message("check.passed_examples", {"count": len(mine)}))


class MseForward(_MseCheck):
    output = "loss"

    def accepted(self, y: np.ndarray, t: np.ndarray) -> list[np.ndarray]:
        return [np.asarray(np.mean((y - t) ** 2))]


class MseBackward(_MseCheck):
    output = "grad"
    half_hint = "mse_backward.hint_two"

    def accepted(self, y: np.ndarray, t: np.ndarray) -> list[np.ndarray]:
        return [2 * (y - t), 2 * (y - t) / y.size, 2 * (y - t) / y.shape[0]]
