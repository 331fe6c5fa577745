"""最小二乗法 (切片つき): 勾配降下法が到達すべき最適解。
Least squares with an intercept: the optimum gradient descent should reach.
"""

from __future__ import annotations

import numpy as np


def least_squares(x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x @ w + b の平均二乗誤差を最小にする (w (d, k), b (k,)) を返す。t は (n, k) または (n,)。
    Return (w of shape (d, k), b of shape (k,)) minimising the mean squared error of x @ w + b;
    t is (n, k) or (n,) (treated as (n, 1)).
    """
    t = np.asarray(t, dtype=np.float64).reshape(len(t), -1)
    a = np.hstack([x, np.ones((len(x), 1))])  # intercept column
    coef, *_ = np.linalg.lstsq(a, t, rcond=None)  # argmin ||a @ coef - t||^2
    return coef[:-1], coef[-1]


def least_squares_loss(x: np.ndarray, t: np.ndarray) -> float:
    """最小二乗解での平均二乗誤差 (全要素の平均)。
    The mean squared error (mean over all elements) at the least-squares optimum.
    """
    t = np.asarray(t, dtype=np.float64).reshape(len(t), -1)
    w, b = least_squares(x, t)
    return float(np.mean((x @ w + b - t) ** 2))
