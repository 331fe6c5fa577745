"""演習4と課題: 単純パーセプトロン、平均二乗誤差、正規化と標準化の模範解答 (spec/ex_02.md の契約どおり)。
Exercise 4 and the assignment: reference perceptron, mean squared error, normalization and
standardization, exactly as in the contract of spec/ex_02.md.
"""

from __future__ import annotations

import numpy as np


def normalize(x: np.ndarray) -> np.ndarray:
    """列ごとの Min-Max 正規化 (x - min) / (max - min) を新しい配列で返す。x は変更しない。
    Min-Max normalization per column, (x - min) / (max - min), as a new array; x is not modified.

    定数の列は (0 除算を避けて) 0 になる。 / A constant column becomes 0 (no division by zero).
    """
    lo, hi = x.min(axis=0), x.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return (x - lo) / span


def standardize(x: np.ndarray, ddof: int = 0) -> np.ndarray:
    """列ごとの標準化 (x - mean) / std を新しい配列で返す (既定は np.std と同じ ddof=0)。x は変更しない。
    Standardization per column, (x - mean) / std, as a new array (ddof=0 by default, like np.std);
    x is not modified.

    定数の列は 0 除算を避けて x - mean (≈ 0) のまま。 / A constant column stays x - mean (≈ 0), no division by 0.
    """
    std = x.std(axis=0, ddof=ddof)
    varying = (x.max(axis=0) > x.min(axis=0)) & (std > 0)
    return (x - x.mean(axis=0)) / np.where(varying, std, 1.0)


class Perceptron:
    """単純パーセプトロン y = x @ w + b。
    A simple perceptron, y = x @ w + b.
    """

    def __init__(self, input_dim: int, output_dim: int, learning_rate: float, rng: np.random.Generator) -> None:
        self.w: np.ndarray = rng.standard_normal((input_dim, output_dim))
        self.b: np.ndarray = np.zeros(output_dim)
        self.lr: float = learning_rate

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (k, input_dim) を覚えておき、y = x @ w + b (k, output_dim) を返す。
        Keep x (k, input_dim) and return y = x @ w + b, shape (k, output_dim).
        """
        self.x = x
        return x @ self.w + self.b

    def backward(self, g: np.ndarray) -> np.ndarray:
        """g = dE/dy (k, output_dim) から勾配を求め (バッチの総和)、w, b を更新し、dE/dx を返す。
        From g = dE/dy (k, output_dim) compute the gradients (summed over the batch), update w and b,
        and return dE/dx (k, input_dim), computed with w from before the update.
        """
        self.g_w = self.x.T @ g  # dE/dw = x.T @ g
        self.g_b = g.sum(axis=0)  # dE/db = sum_i g_i
        g_x = g @ self.w.T  # dE/dx = g @ w.T  (w before the update)
        self.w = self.w - self.lr * self.g_w
        self.b = self.b - self.lr * self.g_b
        return g_x


class MeanSquaredError:
    """平均二乗誤差 E = mean((y - t)^2) (全要素の平均)。
    Mean squared error E = mean((y - t)^2), the mean over all elements.
    """

    def forward(self, y: np.ndarray, t: np.ndarray) -> float:
        """y - t を覚えておき、損失 (Python の float) を返す。
        Keep y - t and return the loss as a Python float.
        """
        self.diff = y - t
        return float(np.mean(self.diff**2))

    def backward(self) -> np.ndarray:
        """dE/dy を返す。y と同じ形。
        Return dE/dy, the same shape as y.
        """
        return 2 * self.diff / self.diff.size  # dE/dy = 2 (y - t) / N


def train(
    x: np.ndarray, t: np.ndarray, learning_rate: float, max_iteration: int, rng: np.random.Generator
) -> tuple[Perceptron, list[float]]:
    """全バッチで max_iteration 回 (forward → 損失 → backward) 学習し、(パーセプトロン, 各反復の損失) を返す。
    Train for max_iteration full-batch steps (forward -> loss -> backward); return (perceptron, losses),
    one loss per step, taken before that step's update.
    """
    model = Perceptron(x.shape[1], t.shape[1], learning_rate, rng)
    loss_fn = MeanSquaredError()
    losses: list[float] = []
    for _ in range(max_iteration):
        y = model.forward(x)
        losses.append(loss_fn.forward(y, t))
        model.backward(loss_fn.backward())
    return model, losses
