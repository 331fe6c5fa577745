"""Verdicts of the self-check, one per check id of the grader, decided without any solution.

What each check compares with (the grader's tolerances, from ``plan.json``):

- ``normalize`` / ``standardize``: properties of the answer — per column min 0 and max 1, or mean 0
  and std 1 (ddof 0 or 1), an increasing linear function of the column (correlation 1), the shape, and
  ``x`` left as it was. Together these pin the answer down as tightly as the grader's comparison does.
- ``forward``, ``mse_forward``: the formulas the slides print, ``y = x @ w + b`` and ``E = mean((y - t)²)``.
- ``grad_w``, ``grad_b``, ``grad_x``, ``mse_backward``: central differences of those printed formulas
  (never a backward formula), with the same accepted forms as the grader (batch sum or mean, ÷N).
- ``update``: ``w ← w − lr·g_w`` with the student's own ``g_w`` or the numerical one.
- ``gradcheck``: central differences of the student's own loss against their own chain, as the grader.
- ``converge``: ``train`` must reach the least-squares solution of the data it was given (lstsq).
- ``df``, ``gradient_descent``, ``fit_line``, ``fit_line_losses`` (exercise 3, the checks of
  ``grade --assignment gradient_method``): the template's formulas — f'(x) = 2(x − 1), x ← x − η·df(x) with
  the derivative the case hands over, w, b ← w, b − η·∇E with ∇E by central differences of E, the
  least-squares line (lstsq) and E at the student's own w, b.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from selfcheck import plan
from selfcheck._vendor.base import (
    LOAD_REPORT,
    CaseOutcome,
    Check,
    Evidence,
    Judgement,
    Verdict,
    as_array,
    describe_type,
    error_details,
    error_message,
    judge_checks,
    load_verdict,
)
from selfcheck._vendor.cells import cite_checks
from selfcheck._vendor.compare import Tolerance, explain, first_match, fmt, matches
from selfcheck._vendor.descent import CONVENTION, step_problems
from selfcheck._vendor.failures import relate, syntax_error_verdicts
from selfcheck._vendor.line_fit import (
    DescentJudging,
    DfJudging,
    FitLineJudging,
    fit_problem,
    line_loss,
    losses_problem,
    read_runs,
)
from selfcheck._vendor.protocol import Failed
from selfcheck.messages import Message
from selfcheck.result import Result

STEP = 1e-3  # the functions differentiated below are linear or quadratic: central differences are exact


def central_difference(function: Callable[[np.ndarray], float], at: np.ndarray) -> np.ndarray:
    """d function / d at, element by element, by central differences."""
    gradient = np.zeros_like(at, dtype=float)
    for index in np.ndindex(*at.shape):
        plus, minus = at.astype(float), at.astype(float)
        plus[index] += STEP
        minus[index] -= STEP
        gradient[index] = (function(plus) - function(minus)) / (2 * STEP)
    return gradient


def slides_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """y = x @ w + b, as printed on the slides (the perceptron's forward formula)."""
    return x @ w + b


def numerical_step_gradients(data: Mapping[str, Any], w: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """dL/dw, dL/db, dL/dx of L = Σ g ⊙ y(x, w, b): what backward(g) must produce (batch sum form)."""
    x, b, g = data["x"], data["b"], data["g"]
    w = data["w"] if w is None else w
    return {"w": central_difference(lambda v: float(np.sum(g * slides_forward(x, v, b))), w),
            "b": central_difference(lambda v: float(np.sum(g * slides_forward(x, w, v))), b),
            "x": central_difference(lambda v: float(np.sum(g * slides_forward(v, w, b))), x)}


class KitCheck(Check):
    """A check of the kit: the grader's check id, the grader's params and inputs from ``plan.json``."""

    def data(self, outcome: CaseOutcome) -> dict[str, Any]:
        return plan.inputs(self.id)[outcome.case_id]


# --- normalize, standardize: properties ----------------------------------------------------------------
class _Scaling(KitCheck):
    function_name = ""

    def judge(self, outcomes: Mapping[str, CaseOutcome]) -> Verdict:
        mine = self.mine(outcomes)
        error = self.stopped(mine)
        if error:
            return error
        forms: set[int] = set()
        for outcome in mine:
            x = self.data(outcome)["x"]
            obtained = as_array(outcome.get("y"))
            problems, form = self.properties(x, obtained, describe_type(outcome.get("y")))
            values = as_array(outcome.get("y_values"))
            if problems and obtained is None and values is not None and not self.properties(x, values, "")[0]:
                return Verdict.fail(Message("check.values_right_type_wrong", {
                    "name": self.function_name, "type": describe_type(outcome.get("y"))}))
            if problems:
                details = [Message("check.example_input", {"shape": str(x.shape), "x": np.array2string(
                    x, precision=4, threshold=20, max_line_width=100)}), *problems]
                return Verdict.fail(Message(f"{self.id}.wrong"), details, self.hint())
            x_after = as_array(outcome.get("x_after"))
            if x_after is None or x_after.shape != x.shape or not np.array_equal(x_after, x):
                return Verdict.fail(Message("check.input_modified", {"name": self.function_name}), hint=self.hint())
            forms.add(form)
        return Verdict.ok(Message("check.passed_examples", {"count": len(mine)}), self.form_notes(forms))

    def properties(self, x: np.ndarray, y: np.ndarray | None, shown: str) -> tuple[list[Message], int]:
        if y is None:
            return [Message("compare.not_numeric", {"name": "y", "obtained": shown})], 0
        if y.shape != x.shape:
            return [Message("compare.shape", {"name": "y", "obtained": str(y.shape), "expected": str(x.shape)})], 0
        if not np.all(np.isfinite(y)):
            count = int(np.sum(~np.isfinite(y)))
            return [Message("compare.not_finite", {"name": "y", "count": count, "total": y.size})], 0
        problems, form = self.column_properties(y)
        for column in range(x.shape[1]):
            if x.shape[0] > 2 and not self.linear(x[:, column], y[:, column]):
                problems.append(Message("selfcheck.not_linear", {"column": column}))
        return problems, form

    @staticmethod
    def linear(x: np.ndarray, y: np.ndarray) -> bool:
        """y is an increasing linear function a·x + c of x (a > 0): their correlation is 1."""
        if np.ptp(y) == 0:
            return False
        return bool(np.corrcoef(x, y)[0, 1] > 1 - 1e-9)

    def column_properties(self, y: np.ndarray) -> tuple[list[Message], int]:
        raise NotImplementedError

    def form_notes(self, forms: set[int]) -> list[Message]:
        return []


class Normalize(_Scaling):
    function_name = "normalize"

    def column_properties(self, y: np.ndarray) -> tuple[list[Message], int]:
        atol, rtol = self.params.get("atol", 1e-9), self.params.get("rtol", 1e-7)
        problems = []
        for column, (low, high) in enumerate(zip(y.min(axis=0), y.max(axis=0), strict=True)):
            if abs(low) > atol or abs(high - 1) > atol + rtol:
                problems.append(Message("selfcheck.min_max", {"column": column, "min": fmt(low), "max": fmt(high)}))
        return problems, 0


class Standardize(_Scaling):
    function_name = "standardize"

    def column_properties(self, y: np.ndarray) -> tuple[list[Message], int]:
        tolerance = 10 * (self.params.get("atol", 1e-9) + self.params.get("rtol", 1e-7))
        means = y.mean(axis=0)
        problems = [Message("selfcheck.mean", {"column": column, "mean": fmt(mean)})
                    for column, mean in enumerate(means) if abs(mean) > tolerance]
        stds = {ddof: y.std(axis=0, ddof=ddof) for ddof in (0, 1)}
        form = next((ddof for ddof, std in stds.items() if np.all(np.abs(std - 1) <= tolerance)), None)
        if form is None:
            problems += [Message("selfcheck.std", {"column": column, "std0": fmt(stds[0][column]),
                                                   "std1": fmt(stds[1][column])}) for column in range(y.shape[1])
                         if abs(stds[0][column] - 1) > tolerance and abs(stds[1][column] - 1) > tolerance]
            problems = problems or [Message("selfcheck.std_mixed")]
        return problems, form or 0

    def form_notes(self, forms: set[int]) -> list[Message]:
        return [Message("standardize.ddof", {"ddof": ", ".join(str(form) for form in sorted(forms))})]


# --- the perceptron's forward and one backward step ----------------------------------------------------
class Forward(KitCheck):
    def judge(self, outcomes: Mapping[str, CaseOutcome]) -> Verdict:
        mine = self.mine(outcomes)
        error = self.stopped(mine)
        if error:
            return error
        tolerance = self.file_tolerance(1e-9, 1e-12)
        for outcome in mine:
            data = self.data(outcome)
            x, w, b = data["x"], data["w"], data["b"]
            expected = slides_forward(x, w, b)
            obtained = as_array(outcome.get("y"))
            if not matches(obtained, expected, tolerance):
                details = [Message("check.shapes_used", {"x": str(x.shape), "w": str(w.shape), "b": str(b.shape)})]
                details += explain("y", obtained, expected, tolerance, describe_type(outcome.get("y")))
                return Verdict.fail(Message("forward.wrong"), details, self.hint())
        return Verdict.ok(Message("check.passed_examples", {"count": len(mine)}))


class _BackwardStep(KitCheck):
    def tolerance(self) -> Tolerance:
        return self.file_tolerance(1e-7, 1e-10)

    def judge(self, outcomes: Mapping[str, CaseOutcome]) -> Verdict:
        mine = self.mine(outcomes)
        error = self.stopped(mine)
        if error:
            return error
        notes: list[Message] = []
        for outcome in mine:
            data = self.data(outcome)
            verdict = self.judge_one(data, numerical_step_gradients(data), outcome)
            if not verdict.passed:
                verdict.hint = verdict.hint or self.hint()
                k, d = data["x"].shape
                verdict.details.insert(0, Message("check.step_shapes", {"k": k, "d": d, "m": data["g"].shape[1]}))
                return verdict
            notes = verdict.details  # what the last case says about every case (the convention it took)
        return Verdict.ok(Message("check.passed_examples", {"count": len(mine)}), notes)

    def judge_one(self, data: dict[str, Any], numerical: dict[str, np.ndarray], outcome: CaseOutcome) -> Verdict:
        raise NotImplementedError

    @staticmethod
    def accepted(data: Mapping[str, Any], numerical: Mapping[str, np.ndarray], name: str) -> list[np.ndarray]:
        """Batch sum (the numerical gradient of Σ g ⊙ y), then batch mean."""
        return [numerical[name], numerical[name] / data["x"].shape[0]]

    @staticmethod
    def reported_or_inferred(data: Mapping[str, Any], outcome: CaseOutcome, name: str) -> tuple[Any, bool]:
        value = outcome.get(f"g_{name}")
        if not isinstance(value, Failed):
            return value, False
        after = as_array(outcome.get(f"{name}_after"))
        if after is None or after.shape != data[name].shape:
            return value, True
        return (data[name] - after) / data["lr"], True


class _ParameterGradient(_BackwardStep):
    parameter = "w"

    def judge_one(self, data, numerical, outcome) -> Verdict:  # type: ignore[no-untyped-def]
        value, inferred = self.reported_or_inferred(data, outcome, self.parameter)
        candidates = self.accepted(data, numerical, self.parameter)
        form = first_match(as_array(value), candidates, self.tolerance())
        if form is None:
            name = f"g_{self.parameter}"
            details = [Message("check.inferred_from_update", {"name": name})] if inferred else []
            details += explain(name, as_array(value), candidates[0], self.tolerance(), describe_type(value))
            return Verdict.fail(Message(f"{self.id}.wrong"), details)
        return Verdict.ok(details=[Message(f"convention.{('sum', 'mean')[form]}")])


class GradW(_ParameterGradient):
    parameter = "w"


class GradB(_ParameterGradient):
    parameter = "b"


class GradX(_BackwardStep):
    def judge_one(self, data, numerical, outcome) -> Verdict:  # type: ignore[no-untyped-def]
        obtained = as_array(outcome.get("g_x"))
        if matches(obtained, numerical["x"], self.tolerance()):
            return Verdict.ok()
        w_after = as_array(outcome.get("w_after"))
        if w_after is not None and w_after.shape == data["w"].shape and not np.allclose(w_after, data["w"]) \
                and matches(obtained, numerical_step_gradients(data, w_after)["x"], self.tolerance()):
            return Verdict.fail(Message("grad_x.after_update"), hint=self.hint())
        details = explain("g_x", obtained, numerical["x"], self.tolerance(), describe_type(outcome.get("g_x")))
        return Verdict.fail(Message("grad_x.wrong"), details)


class Update(_BackwardStep):
    def judge_one(self, data, numerical, outcome) -> Verdict:  # type: ignore[no-untyped-def]
        for name in ("w", "b"):
            after = as_array(outcome.get(f"{name}_after"))
            steps = self.accepted(data, numerical, name)
            reported = as_array(outcome.get(f"g_{name}"))
            if reported is not None and not np.any(reported):
                reported = None  # a zero gradient moves nothing: staying put proves no update rule (issue 11.5)
            if reported is not None and after is not None and self.own_update(data, name, reported, after):
                continue
            if reported is not None:
                try:
                    steps = [np.broadcast_to(reported, data[name].shape), *steps]
                except ValueError:
                    pass
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


    def own_update(self, data: Mapping[str, Any], name: str, reported: np.ndarray, after: np.ndarray) -> bool:
        """after = before - lr * g as the student computed g, in the student's own shapes (as the grader)."""
        try:
            if np.broadcast_shapes(data[name].shape, reported.shape) != after.shape:
                return False
        except ValueError:
            return False
        with np.errstate(all="ignore"):
            expected = data[name] - data["lr"] * reported
        return after.shape == expected.shape and bool(np.all(np.isfinite(after))) \
            and self.tolerance().close(after, expected)


# --- the loss -----------------------------------------------------------------------------------------
def slides_loss(y: np.ndarray, t: np.ndarray) -> float:
    """E = mean((y - t)²), as printed on the slides."""
    return float(np.mean((y - t) ** 2))


class _Mse(KitCheck):
    output = "loss"

    def judge(self, outcomes: Mapping[str, CaseOutcome]) -> Verdict:
        mine = self.mine(outcomes)
        relevant = [outcome for outcome in mine if outcome.error and (self.output == "grad" or "loss" not in
                                                                      outcome.outputs)]
        error = self.stopped(relevant)
        if error:
            return error
        tolerance = self.file_tolerance(1e-9, 1e-12)
        for outcome in mine:
            data = self.data(outcome)
            value = outcome.get(self.output)
            candidates = self.accepted(data["y"], data["t"])
            if first_match(as_array(value), candidates, tolerance) is None:
                details = [Message("check.mse_shapes", {"y": str(data["y"].shape)})]
                details += explain(self.output, as_array(value), candidates[0], tolerance, describe_type(value))
                return Verdict.fail(Message(f"{self.id}.wrong"), details,
                                    self.hint_for(as_array(value), candidates, tolerance))
        return Verdict.ok(Message("check.passed_examples", {"count": len(mine)}))

    def accepted(self, y: np.ndarray, t: np.ndarray) -> list[np.ndarray]:
        raise NotImplementedError

    def hint_for(self, obtained: np.ndarray | None, candidates: list[np.ndarray], tolerance: Tolerance) -> Message:
        return self.hint()


class MseForward(_Mse):
    output = "loss"

    def accepted(self, y: np.ndarray, t: np.ndarray) -> list[np.ndarray]:
        return [np.asarray(slides_loss(y, t))]


class MseBackward(_Mse):
    output = "grad"

    def accepted(self, y: np.ndarray, t: np.ndarray) -> list[np.ndarray]:
        """Central differences of each sample's (y_i − t_i)², then the accepted ÷N forms."""
        per_element = (((y + STEP) - t) ** 2 - ((y - STEP) - t) ** 2) / (2 * STEP)
        return [per_element, per_element / y.size, per_element / y.shape[0]]

    def hint_for(self, obtained: np.ndarray | None, candidates: list[np.ndarray], tolerance: Tolerance) -> Message:
        """Half of an accepted form: the factor 2 of the square left out."""
        if obtained is not None and first_match(obtained, [form / 2 for form in candidates], tolerance) is not None:
            return Message("mse_backward.hint_two")
        return self.hint()


# --- the whole chain ------------------------------------------------------------------------------------
def mean_loss_and_gradient(x: np.ndarray, t: np.ndarray, parameters: np.ndarray) -> tuple[float, np.ndarray]:
    """The slides' mean loss E(w, b) = mean((x @ w + b - t)²) at w, b (flattened together) and its gradient by
    central differences (exact for this quadratic up to rounding): the yardstick, never a backward formula."""
    size = x.shape[1]

    def loss(values: np.ndarray) -> float:
        return slides_loss(slides_forward(x, values[:size].reshape(size, -1), values[size:]), t)

    return loss(parameters), central_difference(loss, parameters)


class Gradcheck(KitCheck):
    """The student's chain against the slides' mean loss (which decides the convention, as in the grader)
    and against central differences of the student's own loss."""

    provides = (CONVENTION,)

    def assess(self, evidence: Evidence) -> Judgement:
        verdict, convention = self.judge_chain(evidence.outcomes)
        return Judgement(verdict, {} if convention is None else {CONVENTION: convention})

    def judge_chain(self, outcomes: Mapping[str, CaseOutcome]) -> tuple[Verdict, str | None]:
        mine = self.mine(outcomes)
        error = self.stopped(mine)
        if error:
            return error, None
        data, outputs = self.data(mine[0]), mine[0].outputs
        numerical = {"w": np.zeros_like(data["w"]), "b": np.zeros_like(data["b"])}
        for label, name, index, sign in data["probes"]:
            value = as_array(outputs.get(label))
            if value is None or value.size != 1:
                return Verdict.fail(Message("gradcheck.loss_not_scalar"), hint=self.hint()), None
            numerical[name][tuple(index)] += sign * float(value.reshape(())) / (2 * data["h"])
        parts = {name: self.chain(data, outputs, name) for name in ("w", "b")}
        if any(part is None or part.size != data[name].size for name, part in parts.items()):
            shown = [describe_type(outputs.get("g_w")), describe_type(outputs.get("g_b"))]
            return Verdict.fail(Message("gradcheck.no_gradient", {"g_w": shown[0], "g_b": shown[1]}),
                                hint=self.hint()), None
        fd = {name: numerical[name].reshape(-1) for name in numerical}
        size = data["w"].size
        gradient = mean_loss_and_gradient(data["x"], data["t"], np.concatenate([data["w"].ravel(),
                                                                                data["b"].ravel()]))[1]
        true = {"w": gradient[:size], "b": gradient[size:]}
        n = data["x"].shape[0]
        tolerance = self.file_tolerance(1e-5, 1e-8)
        if all(np.all(np.abs(fd[name]) <= tolerance.atol) for name in fd):
            return Verdict.fail(Message("gradcheck.constant_loss"), hint=self.hint()), None
        chain_factor = common_factor(parts, true, n, tolerance)
        loss_factor = common_factor(fd, true, n, tolerance)
        convention = None if chain_factor is None else "mean" if chain_factor == 1.0 else "sum"
        if chain_factor is not None and loss_factor is not None:
            details = [Message(f"convention.{convention}")]
            if loss_factor != 1.0:
                details.append(Message("gradcheck.loss_is_sum", {"n": n}))
            return Verdict.ok(Message("gradcheck.passed", {"factor": fmt(chain_factor)}), details), convention
        details: list[Message] = []
        if chain_factor is not None:
            details.append(Message("gradcheck.chain_right", {"factor": fmt(chain_factor)}))
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
        return Verdict.fail(Message(summary), details, self.chain_hint(parts, true, n, tolerance)), convention

    @staticmethod
    def chain_hint(parts: Mapping[str, np.ndarray], true: Mapping[str, np.ndarray], n: int,
                   tolerance: Tolerance) -> Message:
        for factors, key in (((0.5, 0.5 * n), "gradcheck.hint_two"), ((1.0 / n,), "gradcheck.hint")):
            for factor in factors:
                if all(tolerance.close(parts[name], factor * true[name]) for name in parts):
                    return Message(key)
        return Message("gradcheck.hint_chain")

    @staticmethod
    def chain(data: Mapping[str, Any], outputs: Mapping[str, Any], name: str) -> np.ndarray | None:
        value = outputs.get(f"g_{name}")
        if isinstance(value, Failed):
            after = as_array(outputs.get(f"{name}_after"))
            return None if after is None or after.shape != data[name].shape else (data[name] - after) / data["lr"]
        array = as_array(value)
        return None if array is None else array.reshape(-1)


def common_factor(parts: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray], n: int,
                  tolerance: Tolerance) -> float | None:
    """1 or N when every part equals that multiple of the reference (mean or batch-sum convention)."""
    for factor in (1.0, float(n)):
        if all(tolerance.close(parts[name], factor * reference[name]) for name in parts):
            return factor
    return None


class Converge(KitCheck):
    """``train`` must reach the least-squares solution of the data it is given, by gradient descent."""

    DESCENT_STEPS = 3
    needs = (CONVENTION,)

    def assess(self, evidence: Evidence) -> Judgement:
        return Judgement(self.judge(evidence.outcomes, evidence.get(CONVENTION)))

    def judge(self, outcomes: Mapping[str, CaseOutcome], convention: str | None = None) -> Verdict:
        conventions = [convention] if convention else ["mean", "sum"]
        verdicts = [self.judge_one(outcomes[self.case_id(name)], outcomes[self.case_id(f"{name}_steps")], name)
                    for name in conventions]
        passed = [verdict for verdict in verdicts if verdict.passed]
        return passed[0] if passed else verdicts[0]

    def problem(self, outcome: CaseOutcome) -> dict[str, Any]:
        data = self.data(outcome)
        x, t = data["x"], data["t"]
        design = np.hstack([x, np.ones((x.shape[0], 1))])
        coefficients = np.linalg.lstsq(design, t, rcond=None)[0]
        return {**data, "w": coefficients[:-1], "b": coefficients[-1],
                "loss": slides_loss(design @ coefficients, t)}

    def parameters(self, problem: Mapping[str, Any], outputs: Mapping[str, Any], suffix: str) -> np.ndarray | None:
        w, b = as_array(outputs.get(f"w{suffix}")), as_array(outputs.get(f"b{suffix}"))
        if w is None or b is None or w.size != problem["w"].size or b.size != problem["b"].size:
            return None
        return np.concatenate([w.ravel(), b.ravel()])

    def shape_details(self, problem: Mapping[str, Any], outcome: CaseOutcome) -> list[Message]:
        details = []
        for name in ("w", "b"):
            value = as_array(outcome.get(f"{name}0"))
            expected = problem[name].shape
            if value is not None and value.size != int(np.prod(expected)):
                details.append(Message("converge.constructed_shape", {
                    "name": name, "obtained": str(value.shape), "expected": str(expected), "d": problem["x"].shape[1]}))
        return details

    def descent(self, problem: Mapping[str, Any], steps: CaseOutcome, losses: np.ndarray,
                final: np.ndarray) -> list[Message]:
        """Nothing when train() visibly does gradient descent (the grader's own test), else why not."""
        if steps.error:
            return [Message("converge.descent_failed"), error_message(steps.error), *error_details(steps.error)]
        points = [self.parameters(problem, steps.outputs, str(index)) for index in range(1, self.DESCENT_STEPS + 1)]
        return step_problems(points, as_array(steps.get("losses_steps")), losses, final,
                             lambda point: mean_loss_and_gradient(problem["x"], problem["t"], point))

    def judge_one(self, outcome: CaseOutcome, steps: CaseOutcome, convention: str) -> Verdict:
        problem = self.problem(outcome)
        if outcome.error and str(outcome.error.get("fn", "")).startswith("$r[") \
                and "NoneType" in str(outcome.error.get("message", "")):
            return Verdict.fail(Message("converge.returned_none"), hint=self.hint())
        error = self.stopped([outcome])
        if error:
            shapes = self.shape_details(problem, steps)
            if shapes:
                return Verdict.fail(shapes[0], [*shapes[1:], error.summary, *error.details],
                                    Message("converge.hint_shapes"))
            return error
        iterations = int(problem["iterations"])
        context = Message(f"converge.setting_{convention}", {"lr": fmt(problem["lr"]), "iterations": iterations})
        losses = as_array(outcome.get("losses"))
        if losses is None or losses.size != iterations or losses.shape[0] != iterations:
            shown = describe_type(outcome.get("losses")) if losses is None else str(losses.shape)
            return Verdict.fail(Message("converge.losses", {"iterations": iterations, "obtained": shown}),
                                [context], self.hint())
        losses = losses.reshape(-1)
        tolerance = self.file_tolerance(1e-4, 1e-4)
        for name in ("w", "b"):
            obtained = as_array(outcome.get(name))
            expected = problem[name]
            if obtained is not None and obtained.size == expected.size:
                obtained = obtained.reshape(expected.shape)
            if obtained is None or obtained.shape != expected.shape or not tolerance.close(obtained, expected):
                details = [*self.shape_details(problem, steps), context,
                           *explain(name, obtained, expected, tolerance, describe_type(outcome.get(name)))]
                details.append(Message("converge.final_loss", {"obtained": fmt(float(losses[-1])),
                                                               "expected": fmt(problem["loss"])}))
                return Verdict.fail(Message("converge.wrong"), details, self.hint())
        final = np.concatenate([as_array(outcome.get(name)).ravel() for name in ("w", "b")])
        problems = self.descent(problem, steps, losses, final)
        if problems:
            return Verdict.fail(Message("converge.no_training"), [context, *problems], self.hint())
        return Verdict.ok(Message("converge.passed", {"loss": fmt(float(losses[-1]))}), [context])


class Load(KitCheck):
    """The file's top-level code ran to the end (the same sentences as the grader's report)."""

    needs = (LOAD_REPORT,)

    def assess(self, evidence: Evidence) -> Judgement:
        return Judgement(load_verdict(evidence.get(LOAD_REPORT) or {}, self.hint()))


# --- exercise 3 (gradient_method.py): the checks of grade --assignment gradient_method -------------------
class Df(DfJudging, KitCheck):
    """``df(x)`` is the derivative the template prints, f'(x) = 2(x − 1), at the grader's points."""

    def df_points(self, outcome: CaseOutcome) -> list[float]:
        return self.data(outcome)["xs"]


class GradientDescent(DescentJudging, KitCheck):
    """The history is x0 and every x ← x − η·df(x) (the template's update), where df is the derivative the
    case hands over (x ↦ x − c or x ↦ a·x, as in grade), never the student's own ``df``."""

    def descent_runs(self, outcomes: Mapping[str, CaseOutcome]) -> list[tuple[CaseOutcome, Mapping[str, Any]]]:
        return [(outcome, self.data(outcome)) for outcome in self.mine(outcomes)]

    def wanted_history(self, run: Mapping[str, Any]) -> list[float]:
        """x0, then the template's update with the handed-over derivative, ``iterations`` times."""
        constant = np.float64(run["constant"])
        slope = (lambda x: x - constant) if run["kind"] == "shift" else (lambda x: constant * x)
        x, history = np.float64(run["x0"]), [float(run["x0"])]
        for _ in range(int(run["iterations"])):
            x = x - run["lr"] * slope(x)
            history.append(float(x))
        return history


class _FitLine(FitLineJudging, KitCheck):
    """``fit_line`` and ``fit_line_losses``: per data set of ``plan.json`` (its points, rate and runs of 1, 2,
    3 and, for ``fit_line``, many steps from w = b = 0), what each run returned as ``(w, b, losses)``."""

    def fit_runs(self, outcomes: Mapping[str, CaseOutcome]) -> tuple[list[dict[str, Any]], Message | None]:
        sets = [(data, [(label, steps, f"{set_id}/{label}") for label, steps in data["runs"]])
                for set_id, data in plan.inputs(self.id).items()]
        return read_runs(sets, outcomes)


def template_updates(x: np.ndarray, y: np.ndarray, lr: float, steps: int) -> list[tuple[float, float]]:
    """(w, b) after 1..steps of the template's update from w = b = 0, with the gradient of its loss E taken
    by central differences (exact for a quadratic: a step of 1 keeps rounding far below the tolerance)."""
    w, b, points = 0.0, 0.0, []
    for _ in range(steps):
        grad_w = (line_loss(x, y, w + 1, b) - line_loss(x, y, w - 1, b)) / 2
        grad_b = (line_loss(x, y, w, b + 1) - line_loss(x, y, w, b - 1)) / 2
        w, b = w - lr * grad_w, b - lr * grad_b
        points.append((w, b))
    return points


class FitLine(_FitLine):
    """w, b after 1, 2, 3 steps are the template's update from w = b = 0; the long run ends on the
    least-squares line (lstsq, within ``converge_atol``)."""

    def problem(self, run: Mapping[str, Any]) -> Message | None:
        counted = sorted(label for label in run["results"] if isinstance(label, int))
        wanted = template_updates(run["x"], run["y"], run["lr"], max(counted))
        return fit_problem(run, wanted, self.tolerance(), self.converge_atol())


class FitLineLosses(_FitLine):
    """The losses of the 3-step run are E before each update, at the student's own w, b (w = b = 0, then the
    1- and 2-step runs' ends): a wrong gradient is ``fit_line``'s failure, not this one's."""

    def problem(self, run: Mapping[str, Any]) -> Message | None:
        return losses_problem(run, self.tolerance())


JUDGES: dict[str, type[KitCheck]] = {
    "load": Load, "normalize": Normalize, "standardize": Standardize, "forward": Forward, "grad_w": GradW,
    "grad_b": GradB, "grad_x": GradX, "update": Update, "mse_forward": MseForward, "mse_backward": MseBackward,
    "gradcheck": Gradcheck, "converge": Converge, "df": Df, "gradient_descent": GradientDescent,
    "fit_line": FitLine, "fit_line_losses": FitLineLosses,
}


def judge_all(suite: str, load: Mapping[str, Any], outcomes: Mapping[str, CaseOutcome],
              cells: Sequence[tuple[int, int]] = ()) -> dict[str, Verdict]:
    """Every check of the suite, reported in the grader's order (gradcheck is judged before converge, which
    needs its convention); a failure that repeats an earlier one names it instead, a syntax error is told
    once, and a notebook's lines are cited by cell, as in grade."""
    check_ids = plan.check_ids(suite)
    if load.get("syntax_error"):
        error = load["error"]
        exc = SyntaxError(error["message"], ("<file>", error["line"], error.get("offset"), error.get("text")))
        verdicts = syntax_error_verdicts(check_ids, exc)
        return {result.id: result.verdict for result in cite_checks(
            [Result(check_id, False, verdicts[check_id]) for check_id in check_ids], cells)}
    checks = [JUDGES[check_id](check_id, plan.params(check_id), plan.seed()) for check_id in check_ids]
    judged = judge_checks(checks, outcomes, dict(load))
    results = [Result(check_id, verdict.passed, verdict) for check_id, verdict in zip(check_ids, judged, strict=True)]
    relate(results, load)
    return {result.id: result.verdict for result in cite_checks(results, cells)}
