"""Advertising データの合成版 (本物のデータは配布できないため)。
A synthetic stand-in for the Advertising data (the course's file cannot be shipped).

生成 / Generate:  ``uv run python -m reference.synthetic data/advertising.csv``

ISLR 版と同じ形式で書き出す: 先頭に引用符付きの無名インデックス列 ``""`` (1 始まりの行番号)、
引用符付きの列名、CRLF 改行、小数 1 桁 (R の write.csv と同じく 75.0 は ``75``)。
Written in the same format as the ISLR file: a quoted unnamed index column ``""`` (1-based row
numbers), quoted column names, CRLF line ends, one decimal place (``75`` for 75.0, like R's write.csv),
so that code written for the real file (``pd.read_csv(path, index_col=0)``) reads it too.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pandas as pd

from reference.data import COLUMNS, FEATURES, TARGET, load_xt
from reference.least_squares import least_squares, least_squares_loss


def make_advertising(n: int = 200, seed: int = 2) -> pd.DataFrame:
    """合成データ (列 TV, Radio, Newspaper, Sales; 小数 1 桁に丸め済み) を返す。
    Return the synthetic data (columns TV, Radio, Newspaper, Sales, already rounded to one decimal).

    TV ~ U(0, 300), Radio ~ U(0, 50), Newspaper: 右に裾の長い分布で Radio と弱い相関 / right-skewed,
    mildly correlated with Radio, at most 114; Sales = 3 + 0.046 TV + 0.19 Radio + N(0, 1.5^2), > 0.
    """
    rng = np.random.default_rng(seed)
    tv = rng.uniform(0.0, 300.0, n)
    radio = rng.uniform(0.0, 50.0, n)
    newspaper = np.minimum(0.45 * radio + rng.gamma(2.0, 10.0, n), 114.0)
    sales = 3.0 + 0.046 * tv + 0.19 * radio + rng.normal(0.0, 1.5, n)
    df = pd.DataFrame({"TV": tv, "Radio": radio, "Newspaper": newspaper, "Sales": sales}).round(1)
    df[TARGET] = df[TARGET].clip(lower=0.1)  # keep Sales positive
    return df[list(COLUMNS)] + 0.0  # + 0.0 turns a possible -0.0 into 0.0


def _format_number(value: float) -> str:
    """小数 1 桁、末尾の .0 は省く (R の write.csv と同じ)。
    One decimal place, a trailing .0 dropped (as R's write.csv does).
    """
    return f"{value:.1f}".removesuffix(".0")


def to_islr_csv(df: pd.DataFrame) -> str:
    """ISLR 版と同じ形式の CSV テキスト (CRLF 改行) を返す。
    Return CSV text in the format of the ISLR file (CRLF line ends).
    """
    lines = [",".join(f'"{name}"' for name in ("", *COLUMNS))]
    for i, row in enumerate(df[list(COLUMNS)].itertuples(index=False), start=1):
        lines.append(",".join([f'"{i}"', *(_format_number(v) for v in row)]))
    return "\r\n".join(lines) + "\r\n"


def write_advertising(path: str | os.PathLike[str], n: int = 200, seed: int = 2) -> None:
    """合成データを path に書き出す。
    Write the synthetic data to path.
    """
    Path(path).write_bytes(to_islr_csv(make_advertising(n, seed)).encode("ascii"))


def main(argv: list[str] | None = None) -> None:
    """コマンドライン: 合成データを書き出し、最小二乗の係数を表示する。
    Command line: write the synthetic data and print its least-squares coefficients.
    """
    parser = argparse.ArgumentParser(description="Write the synthetic Advertising stand-in (ISLR format).")
    parser.add_argument("path", help="output CSV, e.g. data/advertising.csv")
    parser.add_argument("--n", type=int, default=200, help="number of rows (default 200)")
    parser.add_argument("--seed", type=int, default=2, help="random seed (default 2)")
    args = parser.parse_args(argv)

    write_advertising(args.path, args.n, args.seed)
    x, t = load_xt(args.path)
    w, b = least_squares(x, t)
    resid = t - (x @ w + b)
    r2 = 1.0 - float(np.sum(resid**2) / np.sum((t - t.mean()) ** 2))
    print(f"wrote {args.path}: {len(t)} rows, seed {args.seed}")
    print("least squares, Sales ~ TV + Radio + Newspaper + intercept:")
    print(f"  intercept {b[0]:.6f}")
    for name, coef in zip(FEATURES, w[:, 0], strict=True):
        print(f"  {name:<9} {coef:.6f}")
    print(f"  MSE {least_squares_loss(x, t):.6f}, R^2 {r2:.4f}")


if __name__ == "__main__":
    main()
