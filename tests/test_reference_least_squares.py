"""reference.least_squares のテスト: 本物のデータで公表されている係数を再現する。
Tests of reference.least_squares: it reproduces the published coefficients on the real data.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from reference.data import DEFAULT_DATA_PATH, load_xt
from reference.least_squares import least_squares, least_squares_loss

# Quoted in ../shared/data/README.md: (intercept, TV, Radio, Newspaper) and the number of decimals given.
PUBLISHED = {
    "advertising.csv": ((2.93889, 0.045765, 0.188530, -0.001037), (5, 6, 6, 6)),
    "advertising_kaggle.csv": ((4.62512, 0.05445, 0.10700, 0.00034), (5, 5, 5, 5)),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_coefficients(name: str, shared_data: Callable[[str], Path]) -> None:
    x, t = load_xt(shared_data(name))
    w, b = least_squares(x, t)
    assert w.shape == (3, 1) and b.shape == (1,)
    values, decimals = PUBLISHED[name]
    got = (b[0], *w[:, 0])
    for expected, actual, places in zip(values, got, decimals, strict=True):
        # agrees with the quoted value to its last quoted decimal (half a unit of rounding)
        assert abs(actual - expected) <= 0.5 * 10.0**-places, (name, expected, actual)


def test_stand_in_coefficients() -> None:
    # Quoted in data/README.md.
    x, t = load_xt(DEFAULT_DATA_PATH)
    w, b = least_squares(x, t)
    np.testing.assert_allclose(b, [2.954139], atol=5e-7)
    np.testing.assert_allclose(w[:, 0], [0.047612, 0.187715, -0.000661], atol=5e-7)
    assert least_squares_loss(x, t) == pytest.approx(2.389021, abs=5e-7)


def test_exact_fit_and_shapes() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 4))
    w_true, b_true = rng.standard_normal((4, 2)), rng.standard_normal(2)
    w, b = least_squares(x, x @ w_true + b_true)
    assert w.shape == (4, 2) and b.shape == (2,)
    np.testing.assert_allclose(w, w_true, atol=1e-10)
    np.testing.assert_allclose(b, b_true, atol=1e-10)
    assert least_squares_loss(x, x @ w_true + b_true) < 1e-20


def test_optimum_beats_perturbations() -> None:
    x, t = load_xt(DEFAULT_DATA_PATH)
    w, b = least_squares(x, t)
    best = least_squares_loss(x, t)
    assert best == pytest.approx(float(np.mean((x @ w + b - t) ** 2)))
    rng = np.random.default_rng(1)
    for _ in range(20):
        dw, db = 1e-3 * rng.standard_normal(w.shape), 1e-2 * rng.standard_normal(b.shape)
        assert np.mean((x @ (w + dw) + (b + db) - t) ** 2) > best
