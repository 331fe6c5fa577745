"""normalize and standardize: compared with the formula on many generated arrays."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

import numpy as np

from grader.checks.base import CaseOutcome, Check, as_array, describe_type
from grader.checks.compare import explain, first_match
from grader.checks.inputs import fixed_scaling_arrays, scaling_arrays
from grader.checks.ops import call, get, let, ref
from grader.i18n import Message
from grader.results import Verdict
from reference.perceptron import normalize, standardize


class _ScalingCheck(Check):
    """One case per array: call the function, read the result and the input afterwards."""

    function_name = ""
    #: The note saying which of the accepted forms the answers took (standardize: the ddof), if any.
    form_note = ""

    @cached_property
    def inputs(self) -> dict[str, np.ndarray]:
        """Each case's x by case id: the spec's fixed arrays, then ``examples`` drawn from the seed."""
        count = int(self.params.get("examples", 25))
        arrays = fixed_scaling_arrays() + scaling_arrays(count, self.seed)
        return {self.case_id(index): x for index, x in enumerate(arrays)}

    @cached_property
    def accepted(self) -> dict[str, list[np.ndarray]]:
        """The accepted answers per case id, computed once per run (not once per student)."""
        return {case_id: self.expected(x) for case_id, x in self.inputs.items()}

    def cases(self) -> list[dict[str, Any]]:
        cases = []
        for index, (case_id, x) in enumerate(self.inputs.items()):
            ops = [let("x", x), call(self.function_name, ref("x"), out="y", save="y"), get("$x", "x_after")]
            if index == 0:  # a DataFrame (or Series) returned: its values, to say whether only the type is wrong
                ops.append(call("$y.to_numpy", label=f"{self.function_name}(x).to_numpy", out="y_values",
                                optional=True))
            cases.append({"id": case_id, "ops": ops})
        return cases

    def expected(self, x: np.ndarray) -> list[np.ndarray]:
        raise NotImplementedError

    def judge(self, outcomes: Mapping[str, CaseOutcome]) -> Verdict:
        mine = self.mine(outcomes)
        error = self.stopped(mine)
        if error:
            return error
        tolerance = self.file_tolerance(1e-7, 1e-9)
        forms: set[int] = set()
        for outcome in mine:
            x = self.inputs[outcome.case_id]
            obtained = as_array(outcome.get("y"))
            candidates = self.accepted[outcome.case_id]
            form = first_match(obtained, candidates, tolerance)
            if form is None:
                details = [Message("check.example_input", {"shape": str(x.shape), "x": np.array2string(
                    x, precision=4, threshold=20, max_line_width=100)})]
                values = as_array(outcome.get("y_values"))
                if obtained is None and first_match(values, candidates, tolerance) is not None:
                    return Verdict.fail(Message("check.values_right_type_wrong", {
                        "name": self.function_name, "type": describe_type(outcome.get("y"))}))
                details += explain("y", obtained, candidates[0], tolerance, describe_type(outcome.get("y")))
                return Verdict.fail(Message(f"{self.id}.wrong"), details, self.hint())
            x_after = as_array(outcome.get("x_after"))
            if x_after is None or x_after.shape != x.shape or not np.array_equal(x_after, x):
                return Verdict.fail(Message("check.input_modified", {"name": self.function_name}),
                                    hint=self.hint())
            forms.add(form)
        notes = [Message(self.form_note, {"ddof": ", ".join(str(form) for form in sorted(forms))})] \
            if self.form_note else []
        return Verdict.ok(Message("check.passed_examples", {"count": len(mine)}), notes)


class Normalize(_ScalingCheck):
    function_name = "normalize"

    def expected(self, x: np.ndarray) -> list[np.ndarray]:
        return [normalize(x)]


class Standardize(_ScalingCheck):
    function_name = "standardize"
    form_note = "standardize.ddof"

    def expected(self, x: np.ndarray) -> list[np.ndarray]:
        return [standardize(x, ddof=0), standardize(x, ddof=1)]  # form i is ddof=i
