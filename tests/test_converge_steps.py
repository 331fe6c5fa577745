"""converge: the number of training steps is derived from the data and the tolerance, and it is enough.

The check used to run a fixed 300 steps (far more than the tolerance needs: most of a submission's
compute). These tests hold the derivation to what it promises: the bound is tight (one step fewer would
not guarantee it), and real training runs reach the tolerance within it, including a chain whose
gradient is half the true one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from grader.assignment import Assignment
from grader.checks.compare import Tolerance
from grader.checks.descent import step_problems
from grader.checks.training import Converge
from grader.run.engine import Plan
from reference.data import DEFAULT_DATA_PATH
from reference.least_squares import least_squares
from reference.perceptron import train


def converge_check(data_file: Path) -> Converge:
    plan = Plan.create(Assignment.named("ex_02"), seed=0, data_file=data_file)
    return next(check for check in plan.checks if isinstance(check, Converge))


def data_file(name: str, shared_data: Callable[[str], Path]) -> Path:
    return DEFAULT_DATA_PATH if name == "stand-in" else shared_data(name)


@pytest.mark.parametrize("name", ["stand-in", "advertising.csv", "advertising_kaggle.csv"])
def test_steps_are_the_fewest_that_the_contraction_guarantees(name: str, shared_data: Callable[[str], Path]) -> None:
    check = converge_check(data_file(name, shared_data))
    x = check.problem["x"]
    design = np.hstack([x, np.ones((len(x), 1))])
    eigenvalues = np.linalg.eigvalsh(2 / len(x) * design.T @ design)
    params = check.params
    slow_rate = params["learning_rate"] * params["slowest_gradient_factor"]
    rho = np.max(np.abs(1 - slow_rate * eigenvalues))
    target = params["atol"] / params["margin"]
    steps = check.iterations
    assert params["initial_error"] * rho**steps <= target < params["initial_error"] * rho ** (steps - 1)
    assert 100 < steps < 300  # fewer than the old fixed 300, and still far from a handful
    long_runs = [case for case in check.cases() if not case["id"].endswith("_steps")]
    assert long_runs and all([op["args"][3] for op in case["ops"] if op.get("fn") == "train"] == [steps]
                             for case in long_runs)


@pytest.mark.parametrize("name", ["stand-in", "advertising.csv"])
@pytest.mark.parametrize("gradient_factor", [1.0, 0.5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_training_reaches_the_tolerance_within_the_steps(name: str, gradient_factor: float, seed: int,
                                                         shared_data: Callable[[str], Path]) -> None:
    """Half the learning rate stands for half the gradient: the steps are the same."""
    check = converge_check(data_file(name, shared_data))
    x, t = check.problem["x"], check.problem["t"]
    model, losses = train(x, t, check.params["learning_rate"] * gradient_factor, check.iterations,
                          np.random.default_rng(seed))
    w_star, b_star = least_squares(x, t)
    tolerance = Tolerance(check.params["rtol"], check.params["atol"])
    assert len(losses) == check.iterations
    assert tolerance.close(model.w, w_star) and tolerance.close(model.b, b_star)
    # and with room to spare: the error left is at most a tenth of atol
    assert np.max(np.abs(model.w - w_star)) < check.params["atol"] / 10


def test_an_explicit_number_of_steps_wins() -> None:
    check = converge_check(DEFAULT_DATA_PATH)
    check.params["iterations"] = 300
    check.__dict__.pop("iterations", None)  # computed when the plan built its cases
    assert check.iterations == 300


def test_a_learning_rate_that_diverges_is_a_configuration_error() -> None:
    check = converge_check(DEFAULT_DATA_PATH)
    check.params["learning_rate"] = 2.0
    check.__dict__.pop("iterations", None)  # computed when the plan built its cases
    with pytest.raises(ValueError, match="does not converge"):
        _ = check.iterations
    assert math.isfinite(check.problem["loss"])


def descend(x: np.ndarray, t: np.ndarray, rate: float, steps: int, after: bool,
            seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """A student's full-batch descent on the mean loss (w from the seed, b = 0): w and b flattened after
    each step, and the losses recorded before each update (the course's loop) or after it."""
    w, b = np.random.default_rng(seed).standard_normal((x.shape[1], 1)), np.zeros(1)
    points, losses = [], []
    for _ in range(steps):
        residual = x @ w + b - t
        w, b = w - rate * 2 / len(x) * x.T @ residual, b - rate * 2 * residual.mean(axis=0)
        points.append(np.concatenate([w.ravel(), b]))
        losses.append(float(np.mean((x @ w + b - t) ** 2 if after else residual**2)))
    return points, np.array(losses)


def judge_run(check: Converge, points: list[np.ndarray], losses: np.ndarray, steps: np.ndarray) -> list[str]:
    """step_problems' message keys for a run whose 1-3 step runs gave ``points`` and ``steps`` (losses)."""
    size = check.problem["w"].size
    return [message.key for message in step_problems(
        points[:3], steps, losses, points[-1], lambda point: check.mean_loss(point[:size], point[size:]))]


@pytest.mark.parametrize("name", ["stand-in", "advertising.csv"])
@pytest.mark.parametrize("gradient_factor", [1.0, 0.5])
@pytest.mark.parametrize("after", [False, True])
@pytest.mark.parametrize("loss", ["mean", "sum", "half", "root", "float32"])
def test_an_honest_long_run_is_the_descent_its_first_steps_show(name: str, gradient_factor: float, after: bool,
                                                                loss: str, shared_data: Callable[[str], Path]) -> None:
    check = converge_check(data_file(name, shared_data))
    x, t = check.problem["x"], check.problem["t"]
    points, losses = descend(x, t, check.learning_rates()["mean"] * gradient_factor, check.iterations, after)
    shown = {"mean": losses, "sum": losses * len(x), "half": losses / 2, "root": np.sqrt(losses),
             "float32": losses.astype(np.float32).astype(float)}[loss]
    assert judge_run(check, points, shown, shown[:3]) == []


@pytest.mark.parametrize("name", ["stand-in", "advertising.csv"])
def test_data_standardized_again_inside_train_still_descends(name: str, shared_data: Callable[[str], Path]) -> None:
    """V06's case: ddof=1 inside train scales x and t by one factor, so w and b move at rates 1/N apart."""
    check = converge_check(data_file(name, shared_data))
    x, t = check.problem["x"], check.problem["t"]
    again = [(values - values.mean(axis=0)) / values.std(axis=0, ddof=1) for values in (x, t)]
    points, losses = descend(*again, check.learning_rates()["mean"], check.iterations, after=False)
    assert judge_run(check, points, losses, losses[:3]) == []


@pytest.mark.parametrize("name", ["stand-in", "advertising.csv"])
@pytest.mark.parametrize("made_up", ["lstsq", "steady", "slowest_mode", "first_differs"])
def test_a_long_run_that_is_not_the_descent_of_its_first_steps_fails(name: str, made_up: str,
                                                                     shared_data: Callable[[str], Path]) -> None:
    """Red team T0001 and sharper forms of it: honest 1-3 step runs, the closed form for the long run, with
    losses made up to shrink (like 1/k, at one steady ratio inside the contraction bounds, or as the
    slowest mode alone after the three honest first losses), or right but for the first one."""
    check = converge_check(data_file(name, shared_data))
    x, t = check.problem["x"], check.problem["t"]
    rate = check.learning_rates()["mean"]
    points, losses = descend(x, t, rate, check.iterations, after=False)
    design = np.hstack([x, np.ones((len(x), 1))])
    slowest = (1 - rate * np.linalg.eigvalsh(2 / len(x) * design.T @ design).min()) ** 2
    best, excess = losses[-1], losses[2] - losses[-1]
    later = np.arange(1, len(losses) - 2)
    fakes = {"lstsq": best * (1 + 1 / np.arange(1, len(losses) + 1)),
             "steady": np.concatenate([losses[:3], best + excess * 0.65**later]),
             "slowest_mode": np.concatenate([losses[:3], best + excess * slowest**later]),
             "first_differs": np.concatenate([[losses[0] * 1.01], losses[1:]])}
    fake = fakes[made_up]
    fake[-1] = best
    assert "converge.run_not_descent" in judge_run(check, points, fake, losses[:3])
