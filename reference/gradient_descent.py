"""演習3: 勾配降下法の模範解答。
Exercise 3: reference solution for gradient descent.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def f(x: float) -> float:
    """最小化する関数 f(x) = (x - 1)^2。
    The function to minimise, f(x) = (x - 1)^2.
    """
    return (x - 1) ** 2


def df(x: float) -> float:
    """f の導関数 f'(x) = 2(x - 1)。
    The derivative of f, f'(x) = 2(x - 1).
    """
    return 2 * (x - 1)


def gradient_descent(
    df: Callable[[float], float], x0: float, learning_rate: float, max_iteration: int
) -> tuple[float, list[float]]:
    """x0 から勾配降下法を max_iteration 回行い、(最終の x, x の履歴) を返す。履歴は x0 を含み長さ max_iteration + 1。
    Run max_iteration steps of gradient descent from x0; return (final x, history of x).
    The history starts with x0 and has length max_iteration + 1.
    """
    x = x0
    history = [x]
    for _ in range(max_iteration):
        x = x - learning_rate * df(x)  # x <- x - lr * f'(x)
        history.append(x)
    return x, history


def fit_line(
    x: np.ndarray, y: np.ndarray, learning_rate: float, max_iteration: int
) -> tuple[float, float, list[float]]:
    """y = w*x + b を平均二乗誤差の全バッチ勾配降下法で当てはめる (w = b = 0 から)。
    Fit y = w*x + b by full-batch gradient descent on the mean squared error, starting from w = b = 0.

    x, y: 1 次元配列 / 1-D arrays.
    返り値 (w, b, losses): losses は各更新の前の損失 (反復ごとに 1 つ)。
    Returns (w, b, losses), one loss per iteration, taken before that iteration's update.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w, b = 0.0, 0.0
    losses: list[float] = []
    for _ in range(max_iteration):
        r = w * x + b - y  # residual y_hat - y
        losses.append(float(np.mean(r**2)))  # E = mean((w*x + b - y)^2)
        grad_w = float(np.mean(2 * r * x))  # dE/dw = mean(2 r x)
        grad_b = float(np.mean(2 * r))  # dE/db = mean(2 r)
        w -= learning_rate * grad_w
        b -= learning_rate * grad_b
    return w, b, losses
