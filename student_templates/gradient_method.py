"""情報システム実験実習II 機械学習によるデータ解析 第2回 演習3: 勾配法

勾配法 (最急降下法) で関数の最小値を求め、
さらに直線 y = w * x + b をデータに当てはめます。

やること (TODO の部分を実装してください):
  1. df(x): f(x) = (x - 1)^2 の導関数
  2. gradient_descent(...): 勾配法で x を更新し、x の履歴を返す
  3. fit_line(...): 平均二乗誤差を勾配法で最小化して w, b を求める

実行方法 (scripts/ フォルダで):
    uv run gradient_method.py
  データは ../data/advertising.csv を読みます。
  グラフは ../outputs/gradient_method.png に保存されます。

自己チェック (02_perceptron フォルダか scripts/ フォルダで):
    uv run pytest

注意: 関数の名前と引数は変えないでください。
テストはこの名前で関数を呼び出します。
"""

from pathlib import Path

import numpy as np
import pandas as pd


def f(x: float) -> float:
    """最小化したい関数 f(x) = (x - 1)^2 (実装済み)

    引数:
        x: 実数
    戻り値:
        f(x) の値 (x = 1 で最小値 0)
    """
    return (x - 1) ** 2


def df(x: float) -> float:
    """f(x) = (x − 1)² の導関数

        f(x)  = (x − 1)²
        f'(x) = 2 (x − 1)

    引数:
        x: 実数
    戻り値:
        f'(x) の値
    """
    # TODO: 上の f'(x) の値を返してください。
    raise NotImplementedError("df を実装してください")


def gradient_descent(df, x0: float, learning_rate: float, max_iteration: int) -> tuple[float, list[float]]:
    """勾配法で関数の最小値を与える x を求める

    更新式 (η は学習率 learning_rate, f' は引数の df):
        x ← x − η f'(x)

    引数:
        df: 導関数 (実数を受け取り実数を返す関数)
        x0: x の初期値
        learning_rate: 学習率 η
        max_iteration: 更新の回数
    戻り値:
        (x, history)
        x: 最後の x (float)
        history: x の履歴 (float のリスト)。
            先頭は x0、更新のたびに追加するので
            長さは max_iteration + 1
    """
    # TODO: x0 から始めて上の更新を max_iteration 回行い、(最後の x, history) を返してください。
    #   history は x0 と、更新のたびの x を順に並べたリストです。
    raise NotImplementedError("gradient_descent を実装してください")


def fit_line(
    x: np.ndarray, y: np.ndarray, learning_rate: float, max_iteration: int
) -> tuple[float, float, list[float]]:
    """直線 y = w * x + b を勾配法 (全データを使う) で当てはめる

    損失は平均二乗誤差 (n はデータ数, ŷ_i は i 番目の予測):
        予測:  ŷ_i = w x_i + b
        損失:  E = (1/n) Σ_i (ŷ_i − y_i)²
        勾配:  ∂E/∂w = (2/n) Σ_i (ŷ_i − y_i) x_i
               ∂E/∂b = (2/n) Σ_i (ŷ_i − y_i)
        更新:  w ← w − η ∂E/∂w,    b ← b − η ∂E/∂b

    引数:
        x: 入力, 形 (n,) の 1 次元配列
        y: 正解, 形 (n,) の 1 次元配列
        learning_rate: 学習率 η
        max_iteration: 更新の回数
    戻り値:
        (w, b, losses)
        w, b: 学習後の傾きと切片 (float)
        losses: 各回の損失 E (float のリスト, 長さ max_iteration)。
            損失はその回の更新の「前」の w, b で計算します。
    """
    # TODO: w = b = 0 から始めて、max_iteration 回、上の予測・損失・勾配・更新を行ってください。
    #   損失 E は毎回 losses に追加し、最後に (w, b, losses) を返します (w, b は float)。
    #   x, y は配列なので、Σ はループを書かずに np.mean や np.sum で計算できます。
    raise NotImplementedError("fit_line を実装してください")


def main() -> None:
    """f の最小化と、TV から Sales を予測する直線の当てはめ"""
    # 画面のない環境でもグラフを保存できるように Agg を使う
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    root = Path(__file__).resolve().parent.parent
    out_dir = root / "outputs"
    out_dir.mkdir(exist_ok=True)

    # (1) f(x) = (x - 1)^2 の最小化 (x0 = 3 から)
    x_min, history = gradient_descent(df, x0=3.0, learning_rate=0.1, max_iteration=50)
    print(f"勾配法: x = {x_min:.6f}, f(x) = {f(x_min):.6e} (最小値は x = 1)")

    # (2) Sales を TV の直線で当てはめる
    # 先頭列は名前のない行番号なので index_col=0 で読み飛ばす
    df_data = pd.read_csv(root / "data" / "advertising.csv", index_col=0)
    tv = df_data["TV"].to_numpy(dtype=float)
    sales = df_data["Sales"].to_numpy(dtype=float)
    # TV の値は数百と大きいので Min-Max 正規化で 0〜1 にしておく
    tv_norm = (tv - tv.min()) / (tv.max() - tv.min())
    w, b, losses = fit_line(tv_norm, sales, learning_rate=0.1, max_iteration=2000)
    print(f"直線: Sales = {w:.4f} * TV(正規化) + {b:.4f}")
    print(f"最後の損失 (平均二乗誤差): {losses[-1]:.4f}")

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    xs = np.linspace(-1.0, 3.5, 200)
    axes[0].plot(xs, [f(v) for v in xs], label="f(x) = (x - 1)^2")
    axes[0].plot(history, [f(v) for v in history], "o-", ms=3, label="gradient descent")
    axes[0].set_xlabel("x")
    axes[0].set_ylabel("f(x)")
    axes[0].legend()
    axes[1].scatter(tv_norm, sales, s=10, label="data")
    line_x = np.linspace(0.0, 1.0, 2)
    axes[1].plot(line_x, w * line_x + b, "r-", label="y = w x + b")
    axes[1].set_xlabel("TV (normalized)")
    axes[1].set_ylabel("Sales")
    axes[1].legend()
    axes[2].plot(losses)
    axes[2].set_yscale("log")
    axes[2].set_xlabel("iteration")
    axes[2].set_ylabel("MSE")
    fig.tight_layout()
    path = out_dir / "gradient_method.png"
    fig.savefig(path)
    plt.close(fig)
    print(f"グラフを保存しました: {path}")


if __name__ == "__main__":
    main()
