"""reference.perceptron (正規化・標準化・パーセプトロン・平均二乗誤差・学習) のテスト。
Tests of reference.perceptron: scaling, perceptron, mean squared error and training.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from reference.data import DEFAULT_DATA_PATH, load_xt
from reference.least_squares import least_squares, least_squares_loss
from reference.perceptron import MeanSquaredError, Perceptron, normalize, standardize, train

SETTINGS = settings(derandomize=True, deadline=None, max_examples=60)

# Arrays of moderate magnitude (negative values, one column, two rows, large values up to 1e6).
_floats = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
arrays = st.tuples(st.integers(2, 12), st.integers(1, 4)).flatmap(
    lambda shape: hnp.arrays(np.float64, shape, elements=_floats)
)


@SETTINGS
@given(arrays)
def test_normalize(x: np.ndarray) -> None:
    before = x.copy()
    y = normalize(x)
    np.testing.assert_array_equal(x, before)  # input unchanged
    assert y.shape == x.shape
    assert np.all((y >= 0) & (y <= 1))
    varying = x.max(axis=0) > x.min(axis=0)
    assert np.all(y.min(axis=0)[varying] == 0)
    assert np.all(y.max(axis=0)[varying] == 1)
    np.testing.assert_array_equal(y[:, ~varying], 0)  # constant column -> 0, no NaN


def test_normalize_example() -> None:
    x = np.array([[0.0, -2.0], [5.0, 0.0], [10.0, 2.0]])
    np.testing.assert_allclose(normalize(x), [[0, 0], [0.5, 0.5], [1, 1]])


@SETTINGS
@given(arrays, st.sampled_from([0, 1]))
def test_standardize(x: np.ndarray, ddof: int) -> None:
    before = x.copy()
    y = standardize(x, ddof=ddof)
    np.testing.assert_array_equal(x, before)  # input unchanged
    assert y.shape == x.shape
    # Columns whose spread is tiny next to their magnitude lose all precision in x - mean, and spreads
    # below 1e-100 lose it when squared (underflow); the mean/std checks skip those.
    scale = np.abs(x).max(axis=0)
    ok = x.std(axis=0) > np.maximum(1e-6 * scale, 1e-100)
    # Tolerance: relative rounding in x - mean is about eps * scale / std <= 2e-16 * 1e6, far below 1e-8.
    np.testing.assert_allclose(y.mean(axis=0)[ok], 0, atol=1e-8)
    np.testing.assert_allclose(y.std(axis=0, ddof=ddof)[ok], 1, rtol=1e-8)
    assert np.all(np.isfinite(y))
    # A constant column gives x - mean, zero up to the rounding of the mean (no division by zero).
    constant = x.max(axis=0) == x.min(axis=0)
    assert np.all(np.abs(y[:, constant]) <= 1e-14 * scale[constant])


def test_standardize_default_is_ddof0() -> None:
    x = np.array([[1.0], [2.0], [3.0], [6.0]])
    np.testing.assert_allclose(standardize(x), (x - x.mean()) / x.std())
    np.testing.assert_allclose(standardize(x, ddof=1), (x - x.mean()) / x.std(ddof=1))


shapes = st.tuples(st.integers(1, 8), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2**32 - 1))


def _model(d: int, k: int, lr: float, seed: int) -> Perceptron:
    model = Perceptron(d, k, lr, np.random.default_rng(seed))
    model.b = np.random.default_rng(seed + 1).standard_normal(k)  # nonzero b so that b's gradient matters
    return model


def test_perceptron_init() -> None:
    model = Perceptron(3, 2, 0.05, np.random.default_rng(7))
    np.testing.assert_array_equal(model.w, np.random.default_rng(7).standard_normal((3, 2)))
    np.testing.assert_array_equal(model.b, np.zeros(2))
    assert model.lr == 0.05


@SETTINGS
@given(shapes)
def test_forward_backward_update(shape: tuple[int, int, int, int]) -> None:
    n, d, k, seed = shape
    rng = np.random.default_rng(seed)
    x, g = rng.standard_normal((n, d)), rng.standard_normal((n, k))
    model = _model(d, k, 0.1, seed)
    w_before, b_before = model.w.copy(), model.b.copy()

    y = model.forward(x)
    assert y.shape == (n, k)
    np.testing.assert_allclose(y, x @ w_before + b_before)

    g_x = model.backward(g)
    assert g_x.shape == (n, d)
    np.testing.assert_allclose(g_x, g @ w_before.T)  # uses w from before the update
    np.testing.assert_allclose(model.g_w, x.T @ g)
    np.testing.assert_allclose(model.g_b, g.sum(axis=0))
    assert model.g_w.shape == (d, k) and model.g_b.shape == (k,)
    np.testing.assert_allclose(model.w, w_before - 0.1 * model.g_w)
    np.testing.assert_allclose(model.b, b_before - 0.1 * model.g_b)


@SETTINGS
@given(shapes)
def test_mse(shape: tuple[int, int, int, int]) -> None:
    n, _, k, seed = shape
    rng = np.random.default_rng(seed)
    y, t = rng.standard_normal((n, k)), rng.standard_normal((n, k))
    loss_fn = MeanSquaredError()
    loss = loss_fn.forward(y, t)
    assert type(loss) is float
    assert loss == pytest.approx(np.mean((y - t) ** 2), rel=1e-12)
    g = loss_fn.backward()
    assert g.shape == y.shape
    np.testing.assert_allclose(g, 2 * (y - t) / y.size)


@SETTINGS
@given(shapes)
def test_gradcheck(shape: tuple[int, int, int, int]) -> None:
    """中心差分と連鎖律 (MSE.backward → Perceptron.backward) の勾配が一致する。
    Central finite differences of the loss agree with the chain MSE.backward -> Perceptron.backward.
    """
    n, d, k, seed = shape
    rng = np.random.default_rng(seed)
    x, t = rng.standard_normal((n, d)), rng.standard_normal((n, k))
    model = _model(d, k, 0.1, seed)
    loss_fn = MeanSquaredError()
    w, b = model.w.copy(), model.b.copy()

    def loss_at(w_: np.ndarray, b_: np.ndarray) -> float:
        return loss_fn.forward(x @ w_ + b_, t)

    # The loss is quadratic in (w, b), so central differences have no truncation error; what is left is
    # rounding, about eps * |E| / h ~ 1e-16 * 10 / 1e-5 = 1e-10. Tolerance: atol 1e-7, rtol 1e-6.
    h = 1e-5
    num_w = np.zeros_like(w)
    for idx in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[idx] = h
        num_w[idx] = (loss_at(w + e, b) - loss_at(w - e, b)) / (2 * h)
    num_b = np.zeros_like(b)
    for i in range(k):
        e = np.zeros_like(b)
        e[i] = h
        num_b[i] = (loss_at(w, b + e) - loss_at(w, b - e)) / (2 * h)

    loss_fn.forward(model.forward(x), t)
    model.backward(loss_fn.backward())
    np.testing.assert_allclose(model.g_w, num_w, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(model.g_b, num_b, rtol=1e-6, atol=1e-7)


# --- train() reaches least squares on the standardized data ---------------------------------------------

# With x standardized (ddof 0, so each column has mean 0) the Hessian of the mean loss w.r.t. (w, b) is
# H = 2/n [x 1].T [x 1] = diag(2 C, 2), C the correlation matrix of x. Gradient descent multiplies the error
# (w - w*, b - b*) by (I - lr H) each step, so it shrinks at least by rho = max |1 - lr * lambda_i(H)|.
# For these data the eigenvalues of 2C lie in about [1.2, 2.9], so lr = 0.1 gives rho <= 0.88 and
# 400 steps give rho^400 < 1e-20: far more than enough to reach w* from w ~ N(0, 1) within 1e-8.
# test_train_converges asserts rho^ITERATIONS itself rather than trusting this comment.
LEARNING_RATE = 0.1
ITERATIONS = 400


@pytest.mark.parametrize("name", ["stand-in", "advertising.csv", "advertising_kaggle.csv"])
def test_train_converges(name: str, shared_data: Callable[[str], Path]) -> None:
    x, t = load_xt(DEFAULT_DATA_PATH if name == "stand-in" else shared_data(name))
    xs, ts = standardize(x), standardize(t)

    a = np.hstack([xs, np.ones((len(xs), 1))])
    eig = np.linalg.eigvalsh(2 / len(xs) * a.T @ a)
    rho = np.max(np.abs(1 - LEARNING_RATE * eig))
    assert rho**ITERATIONS < 1e-12

    model, losses = train(xs, ts, LEARNING_RATE, ITERATIONS, np.random.default_rng(0))
    w_star, b_star = least_squares(xs, ts)
    assert len(losses) == ITERATIONS
    assert all(type(loss) is float for loss in losses)
    assert all(later <= earlier + 1e-12 for earlier, later in itertools.pairwise(losses))
    np.testing.assert_allclose(model.w, w_star, atol=1e-8)
    np.testing.assert_allclose(model.b, b_star, atol=1e-8)
    assert losses[-1] == pytest.approx(least_squares_loss(xs, ts), rel=1e-10)


def test_train_builds_model_from_rng() -> None:
    x, t = load_xt(DEFAULT_DATA_PATH)
    model, losses = train(standardize(x), standardize(t), 0.1, 0, np.random.default_rng(3))
    assert losses == []
    np.testing.assert_array_equal(model.w, np.random.default_rng(3).standard_normal((3, 1)))
    np.testing.assert_array_equal(model.b, np.zeros(1))
