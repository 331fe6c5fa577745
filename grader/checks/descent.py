"""Whether ``train()`` visibly does gradient descent: the model after 1, 2 and 3 steps, judged against a
mean loss and its gradient that the caller supplies.

Its own module, free of any solution, because two judges share it: the grader's ``converge`` (which
passes its own closed-form gradient of the mean loss) and the student kit's self-check (which passes
central differences of the slides' loss, and gets this file copied in by ``student-kit``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np

from grader.checks.base import Finding
from grader.checks.compare import fmt
from grader.i18n import Message

#: The convention of the student's gradient chain, "mean" (the gradient of the mean loss) or "sum" (N times
#: it, the batch sum the slides allow): gradcheck finds it, converge trains with the learning rate for it.
CONVENTION: Finding[str] = Finding("convention")

#: (loss, gradient) of the mean loss at w and b flattened together
MeanLoss = Callable[[np.ndarray], tuple[float, np.ndarray]]


def step_problems(points: Sequence[np.ndarray | None], step_losses: np.ndarray | None, run_losses: np.ndarray,
                  final: np.ndarray, mean_loss: MeanLoss) -> list[Message]:
    """Nothing when the steps are gradient descent, else why not.

    ``points``: w and b after 1, 2, 3 steps (None when unreadable); ``step_losses``: the losses the
    3-step run returned; ``run_losses`` and ``final``: the full run's losses (one per step) and parameters. Each step
    must move the parameters against the mean loss's gradient at the point it starts from, by one common
    positive rate (any rate: the learning rate itself is judged by where training ends; 5 % slack covers
    data standardized once more inside train), and the returned losses must be the model's loss at those
    points up to one constant factor (the sum or the mean; mse_forward judges which).
    """
    with np.errstate(all="ignore"):  # the student's numbers may overflow; that is a verdict, not a fault
        if any(point is None for point in points) or step_losses is None or step_losses.size != len(points):
            return [Message("converge.descent_unreadable")]
        steps = step_losses.reshape(-1)
        if not all(np.all(np.isfinite(point)) for point in points) or not np.all(np.isfinite(steps)):
            return [Message("converge.descent_unreadable")]
        rates: list[float] = []
        model_losses: list[float] = []  # the model's mean loss at the points after steps 1, 2, 3
        reported: list[float] = []
        for index, (before, after) in enumerate(itertools.pairwise(points)):
            loss, gradient = mean_loss(before)
            move = after - before
            norm = float(np.linalg.norm(gradient))
            if not np.all(np.isfinite(move)) or norm == 0.0 or float(np.linalg.norm(move)) <= 1e-12 * max(norm, 1):
                return [Message("converge.no_descent", {"step": index + 2})]
            rate = -float(np.vdot(move, gradient)) / norm**2
            if rate <= 0 or float(np.linalg.norm(move + rate * gradient)) > 0.05 * float(np.linalg.norm(move)):
                return [Message("converge.not_gradient", {"step": index + 2})]
            rates.append(rate)
            model_losses.append(loss)
            reported.append(float(steps[index + 1]))
        if max(rates) > 1.05 * min(rates):
            return [Message("converge.rate_changes", {"rates": ", ".join(fmt(rate) for rate in rates)})]
        model_losses.append(mean_loss(points[-1])[0])  # type: ignore[arg-type]
        final_loss = mean_loss(final)[0]
        # the loss of step k is taken before its update (the course's loop), or after it (recorded late)
        alignments = [[*model_losses[:-1], final_loss], [*model_losses[1:], final_loss]]
        reported.append(float(run_losses[-1]))
        if not any(proportional(reported, [loss**power for loss in model])
                   for model in alignments for power in (1.0, 0.5)):
            return [Message("converge.losses_made_up")]
        last = points[-1]
        hessian = hessian_matrix(mean_loss, last)  # type: ignore[arg-type]
        predicted = descent_excess(mean_loss, hessian, last, sum(rates) / len(rates), run_losses.size)  # type: ignore[arg-type]
        return run_problems(steps, run_losses, rates, np.linalg.eigvalsh(hessian), predicted)  # type: ignore[arg-type]


def run_problems(step_losses: np.ndarray, run_losses: np.ndarray, rates: Sequence[float],
                 eigenvalues: np.ndarray, predicted: np.ndarray) -> list[Message]:
    """Nothing when the full run's losses are the descent its first steps show, else why not.

    A train() could do honest steps for the short runs and return the closed form with made-up losses
    for the long one (red team T0001). The long run starts as the short ones do, so its first losses
    must be the 3-step run's. After that, on this quadratic every step multiplies the excess loss
    E_k - E* by a factor between the smallest and largest (1 - rate * lambda)² over the mean loss's
    Hessian eigenvalues lambda, at the rate the steps showed; E* is read as the run's last loss (far
    below the excess where it is checked) and any constant factor of the loss (sum, half) cancels.
    And the excess must be a constant multiple of ``predicted``, the grader's own descent from the
    3-step run's point at the steps' rate. Checked while the excess is well above floating-point noise;
    the loss squared too (RMSE).
    """
    run = run_losses.reshape(-1).astype(float)
    if not np.all(np.isfinite(run)):
        return [Message("converge.run_not_descent", {"step": int(np.argmin(np.isfinite(run))) + 1})]
    head = min(len(step_losses), len(run))
    for index in range(head):
        if not math.isclose(run[index], float(step_losses[index]), rel_tol=1e-6, abs_tol=1e-12):
            return [Message("converge.run_not_descent", {"step": index + 1})]
    factors = np.array([(1.0 - rate * eigenvalues) ** 2 for rate in (min(rates), max(rates))])
    low, high = float(factors.min()), float(factors.max())
    if np.any(np.sign(1.0 - min(rates) * eigenvalues) != np.sign(1.0 - max(rates) * eigenvalues)):
        low = 0.0  # one mode's factor passes through zero between the rates the steps showed
    offenders = [excess_steps_off(run**power, 0.95 * low, 1.05 * high)
                 or descent_misfit(run**power, predicted) for power in (1, 2)]
    if all(offenders):
        return [Message("converge.run_not_descent", {"step": min(offenders)})]  # type: ignore[type-var]
    return []


def excess_steps_off(losses: np.ndarray, low: float, high: float) -> int | None:
    """The first step (1-based) whose excess loss over the last one is not ``low``..``high`` times the
    step before's, while that excess is well above noise (1e-5 of the losses' size: a loss kept in
    float32 is still judged, with its rounding as slack); None when none."""
    scale = float(np.max(np.abs(losses)))
    threshold = 1e-5 * scale
    noise = 1e-7 * scale
    excess = losses - losses[-1]
    for index in range(len(excess) - 1):
        if excess[index] < -threshold:  # descent never ends above where it was
            return index + 1
        if excess[index] > threshold:
            ratio = excess[index + 1] / excess[index]
            slack = noise / excess[index]
            if not low - slack <= ratio <= high + slack:
                return index + 2
    return None


def descent_excess(mean_loss: MeanLoss, hessian: np.ndarray, start: np.ndarray, rate: float,
                   count: int) -> np.ndarray:
    """The grader's own gradient descent from ``start`` at ``rate``: the excess of the mean loss over its
    minimum at ``start`` and after each of ``count`` steps (the minimum found by one Newton step with the
    loss's ``hessian``, exact on this quadratic)."""
    optimum = start - np.linalg.lstsq(hessian, mean_loss(start)[1], rcond=None)[0]
    floor = mean_loss(optimum)[0]
    point, excess = start, []
    for _ in range(count + 1):
        loss, gradient = mean_loss(point)
        excess.append(loss - floor)
        point = point - rate * gradient
    return np.array(excess)


def descent_misfit(losses: np.ndarray, predicted: np.ndarray, tolerance: float = 0.25) -> int | None:
    """The first step (1-based) where the excess loss over the last one is not one constant multiple of
    ``predicted`` (the grader's own descent from the 3-step run's point, so step 4 on, or step 3 on for a
    loss recorded after its update), while the prediction is well above noise; None when it is, within
    ``tolerance``, for either alignment. A made-up sequence that merely shrinks is not this one (it is off
    by 45 % and more), while data standardized again inside train (ddof=1: rates for w and b that differ
    by 1/N) drifts from the prediction by about 4 % over the steps checked."""
    excess = losses - losses[-1]
    below_noise = predicted <= 1e-5 * float(predicted[0])  # as in excess_steps_off: float32 losses too
    significant = int(np.argmax(below_noise)) if np.any(below_noise) else predicted.size
    firsts = []
    for offset in (3, 2):  # losses[offset + j] is the loss at the point j steps after the 3-step run's
        count = min(significant, len(excess) - offset - 1)
        if count < 1:
            return None
        ratios = excess[offset:offset + count] / predicted[:count]
        bad = np.flatnonzero(~(np.abs(ratios / ratios[0] - 1.0) <= tolerance))
        if not bad.size:
            return None
        firsts.append(int(bad[0]) + offset + 1)
    return max(firsts)


def hessian_matrix(mean_loss: MeanLoss, point: np.ndarray) -> np.ndarray:
    """The mean loss's Hessian, from differences of its gradient around ``point`` (exact for this
    quadratic up to rounding, whether the gradient is closed-form or numerical)."""
    columns = []
    for index in range(point.size):
        unit = np.zeros(point.size)
        unit[index] = 1.0
        columns.append((mean_loss(point + unit)[1] - mean_loss(point - unit)[1]) / 2.0)
    hessian = np.array(columns)
    return (hessian + hessian.T) / 2.0


def proportional(reported: list[float], model: list[float]) -> bool:
    """reported = c * model for one c > 0, within 5 %: the mean or the sum of the squared errors (the root
    of the mean for a loss written as RMSE, which mse_forward judges)."""
    ratios = [value / base if base > 0 else math.nan for value, base in zip(reported, model, strict=True)]
    return all(math.isfinite(ratio) and ratio > 0 for ratio in ratios) and max(ratios) <= 1.05 * min(ratios)
