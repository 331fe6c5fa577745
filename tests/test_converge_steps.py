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
