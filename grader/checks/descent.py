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


def step_problems(points: Sequence[np.ndarray | None], step_losses: np.ndarray | None, last_loss: float,
                  final: np.ndarray, mean_loss: MeanLoss) -> list[Message]:
    """Nothing when the steps are gradient descent, else why not.

    ``points``: w and b after 1, 2, 3 steps (None when unreadable); ``step_losses``: the losses the
    3-step run returned; ``last_loss`` and ``final``: the full run's last loss and parameters. Each step
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
        reported.append(last_loss)
        if not any(proportional(reported, [loss**power for loss in model])
                   for model in alignments for power in (1.0, 0.5)):
            return [Message("converge.losses_made_up")]
        return []


def proportional(reported: list[float], model: list[float]) -> bool:
    """reported = c * model for one c > 0, within 5 %: the mean or the sum of the squared errors (the root
    of the mean for a loss written as RMSE, which mse_forward judges)."""
    ratios = [value / base if base > 0 else math.nan for value, base in zip(reported, model, strict=True)]
    return all(math.isfinite(ratio) and ratio > 0 for ratio in ratios) and max(ratios) <= 1.05 * min(ratios)
