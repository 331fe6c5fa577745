"""reference.gradient_descent (演習3) のテスト。
Tests of reference.gradient_descent (exercise 3).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.gradient_descent import df, f, fit_line, gradient_descent
from reference.least_squares import least_squares

SETTINGS = settings(derandomize=True, deadline=None, max_examples=50)


def test_f_and_df() -> None:
    assert f(1.0) == 0.0 and f(3.0) == 4.0 and f(-1.0) == 4.0
    assert df(1.0) == 0.0 and df(3.0) == 4.0
    for x in [-3.0, 0.2, 5.0]:
        h = 1e-6
        assert df(x) == pytest.approx((f(x + h) - f(x - h)) / (2 * h), rel=1e-6)


@SETTINGS
@given(
    x0=st.floats(-100, 100),
    learning_rate=st.floats(0.01, 0.9),
)
def test_gradient_descent_reaches_minimum(x0: float, learning_rate: float) -> None:
    # Each step maps x - 1 to (1 - 2 lr)(x - 1); |1 - 2 lr| <= 0.98, and 0.98^3000 * 101 < 1e-24.
    x, history = gradient_descent(df, x0, learning_rate, 3000)
    assert x == pytest.approx(1.0, abs=1e-9)
    assert len(history) == 3001
    assert history[0] == x0 and history[-1] == x
    assert history[1] == pytest.approx(x0 - learning_rate * df(x0))


def test_gradient_descent_zero_iterations() -> None:
    assert gradient_descent(df, 4.0, 0.1, 0) == (4.0, [4.0])


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    slope=st.floats(-5, 5),
    intercept=st.floats(-5, 5),
)
def test_fit_line_reaches_least_squares(seed: int, slope: float, intercept: float) -> None:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, 50)
    y = slope * x + intercept + rng.normal(0, 0.3, 50)
    # Hessian of the mean loss: 2 [[mean x^2, mean x], [mean x, 1]]; its eigenvalues lie in about
    # [0.4, 2.1] for 50 points from U(-1, 1), so with lr = 0.3 the error shrinks by <= 0.88 per step
    # and 1000 steps reach the optimum to rounding. The assert below checks the bound itself.
    lr, iterations = 0.3, 1000
    hess = 2 * np.array([[np.mean(x**2), np.mean(x)], [np.mean(x), 1.0]])
    assert np.max(np.abs(1 - lr * np.linalg.eigvalsh(hess))) ** iterations < 1e-12

    w, b, losses = fit_line(x, y, lr, iterations)
    w_star, b_star = least_squares(x[:, None], y)
    assert len(losses) == iterations
    assert losses[0] == pytest.approx(np.mean(y**2))  # loss before the first update, at w = b = 0
    assert w == pytest.approx(w_star[0, 0], abs=1e-8)
    assert b == pytest.approx(b_star[0], abs=1e-8)
    assert all(later <= earlier + 1e-12 for earlier, later in itertools.pairwise(losses))
