"""情報システム実験実習II 機械学習によるデータ解析 第2回 演習4: 単純パーセプトロン

計算グラフの考え方で、単純パーセプトロン (線形の層) と
平均二乗誤差 (MSE) の forward / backward を実装し、
Advertising データ (TV, Radio, Newspaper → Sales) で学習します。

    x ──[Perceptron]── y ──[MeanSquaredError]── E
                              ↑ t
  forward:  y = x @ w + b,  E = mean((y - t)^2)
  backward: g = dE/dy を MeanSquaredError.backward で求め、
            Perceptron.backward(g) で w, b の勾配を求めて更新

やること (TODO の部分を実装してください):
  Perceptron.__init__, Perceptron.forward, Perceptron.backward,
  MeanSquaredError.__init__, MeanSquaredError.forward,
  MeanSquaredError.backward, train

実行方法 (scripts/ フォルダで):
    uv run perceptron.py
  データは ../data/advertising.csv を読みます。
  損失のグラフは ../outputs/perceptron_loss.png に保存されます。

自己チェック (02_perceptron フォルダか scripts/ フォルダで):
    uv run pytest

注意: クラス・関数・属性 (w, b, lr, g_w, g_b) の名前と引数は
変えないでください。課題 (ex_02) でもこのコードを使います。
"""

from pathlib import Path

import numpy as np
import pandas as pd


class Perceptron:
    """単純パーセプトロン (全結合の線形層): y = x @ w + b

    属性:
        w: 重み, 形 (input_dim, output_dim)
        b: バイアス, 形 (output_dim,)
        lr: 学習率
        x: forward に渡された入力 (backward で使う)
        g_w: w の勾配, 形 (input_dim, output_dim)
        g_b: b の勾配, 形 (output_dim,)
    """

    def __init__(
        self, input_dim: int, output_dim: int, learning_rate: float, rng: np.random.Generator
    ) -> None:
        """パラメータを用意する

        引数:
            input_dim: 入力の次元 d
            output_dim: 出力の次元 (Sales だけなら 1)
            learning_rate: 学習率 η
            rng: 乱数生成器 (np.random.default_rng(0) など)
        """
        # TODO: 次の属性を作ってください (属性の名前と初期値は採点の約束です)。
        #   self.w = rng.standard_normal((input_dim, output_dim))
        #   self.b = np.zeros(output_dim)
        #   self.lr = learning_rate
        #   self.x = None (forward で入力を覚えておく)
        #   self.g_w = None, self.g_b = None (backward で計算する)
        raise NotImplementedError("Perceptron.__init__ を実装してください")

    def forward(self, x: np.ndarray) -> np.ndarray:
        """順伝播

        # y = x @ w + b

        引数:
            x: 入力, 形 (k, input_dim)  (k はバッチのデータ数)
        戻り値:
            y: 形 (k, output_dim)
        """
        # TODO: 上の式の y を返してください。backward のため入力を self.x = x と覚えておきます。
        #   y = x @ self.w + self.b
        raise NotImplementedError("Perceptron.forward を実装してください")

    def backward(self, g: np.ndarray) -> np.ndarray:
        """逆伝播とパラメータの更新

        g はデータごとの dE/dy (形 (k, output_dim))。計算グラフの局所的な微分を
        k 個のデータで平均したものが、パラメータの勾配です:
        # y = x @ w + b
        # dE/dw = x.T @ g / k        形 (input_dim, output_dim)
        # dE/db = g.mean(axis=0)     形 (output_dim,)
        # dE/dx = g @ w.T            形 (k, input_dim)   (前の層へ返す勾配)
        更新 (η = self.lr):
        # w ← w - η * dE/dw,  b ← b - η * dE/db

        引数:
            g: 形 (k, output_dim)
        戻り値:
            dE/dx, 形 (k, input_dim)。更新「前」の w で計算すること。
        """
        # TODO: 上の式で勾配 self.g_w, self.g_b を求め、w, b を更新して、dE/dx を返してください。
        #   dE/dx (g_x = g @ self.w.T) は更新「前」の w で求めます。
        raise NotImplementedError("Perceptron.backward を実装してください")


class MeanSquaredError:
    """平均二乗誤差 E = mean((y - t)^2)"""

    def __init__(self) -> None:
        """forward で計算した y - t を覚えておく属性を用意する"""
        # TODO: forward で y - t を入れる属性を用意してください: self.diff = None
        raise NotImplementedError("MeanSquaredError.__init__ を実装してください")

    def forward(self, y: np.ndarray, t: np.ndarray) -> float:
        """損失を計算する

        # E = mean((y - t)^2)    (全要素の平均)

        引数:
            y: 予測, 形 (n, output_dim)
            t: 正解, 形 (n, output_dim)
        戻り値:
            E (float)
        """
        # TODO: 上の式の E を 1 つの数で返してください。y - t は backward のために覚えておきます。
        #   self.diff = y - t,  E = float(np.mean(self.diff ** 2))
        raise NotImplementedError("MeanSquaredError.forward を実装してください")

    def backward(self) -> np.ndarray:
        """データごとの dE_i/dy を返す

        # E_i = (y_i - t_i)^2
        # dE_i/dy_i = 2 * (y_i - t_i)

        戻り値:
            2 * (y - t), 形は y と同じ (n, output_dim)
        """
        # TODO: forward で覚えた self.diff (= y - t) から、上の式の dE_i/dy_i = 2 * self.diff を返してください。
        raise NotImplementedError("MeanSquaredError.backward を実装してください")


def train(
    x: np.ndarray,
    t: np.ndarray,
    learning_rate: float,
    max_iteration: int,
    rng: np.random.Generator,
) -> tuple[Perceptron, list[float]]:
    """パーセプトロンを全データ (フルバッチ) の勾配法で学習する

    1 回の更新:
    # y = perceptron.forward(x)      順伝播
    # E = mse.forward(y, t)          損失
    # g = mse.backward()             dE/dy
    # perceptron.backward(g)         逆伝播と更新

    引数:
        x: 入力, 形 (n, d)
        t: 正解, 形 (n, 1)
        learning_rate: 学習率
        max_iteration: 更新の回数
        rng: 乱数生成器 (重みの初期値に使う)
    戻り値:
        (perceptron, losses)
        perceptron: 学習後の Perceptron
        losses: 各回の損失 (float のリスト, 長さ max_iteration)
    """
    # TODO: Perceptron(x.shape[1], t.shape[1], learning_rate, rng) と MeanSquaredError() を作り、
    #   上の 1 回の更新を max_iteration 回繰り返してください。
    #   毎回の損失 E を losses に追加し、(perceptron, losses) を返します。
    raise NotImplementedError("train を実装してください")


def main() -> None:
    """Advertising データ (生の値のまま) でパーセプトロンを学習する

    ここではあえて正規化・標準化をしない生のデータで学習します。
    TV は数百、Radio は数十と値が大きいので、学習率をかなり小さく
    しないと損失が発散します。小さい学習率では、特に b が
    なかなか学習されず、損失が最小二乗解まで下がりきりません。
    これが課題 (ex_02) で入力と出力を正規化・標準化する理由です。
    """
    # 画面のない環境でもグラフを保存できるように Agg を使う
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    root = Path(__file__).resolve().parent.parent
    # 先頭列は名前のない行番号なので index_col=0 で読み飛ばす
    data = pd.read_csv(root / "data" / "advertising.csv", index_col=0)
    x = data[["TV", "Radio", "Newspaper"]].to_numpy(dtype=float)  # (n, 3)
    t = data[["Sales"]].to_numpy(dtype=float)  # (n, 1)
    n = x.shape[0]

    rng = np.random.default_rng(0)
    # 生のデータでは、学習率が 3e-5 くらいを超えると損失が発散します。
    learning_rate = 1e-5
    max_iteration = 1000
    perceptron, losses = train(x, t, learning_rate, max_iteration, rng)

    print(f"データ数 n = {n}")
    print("w =", perceptron.w.ravel())
    print("b =", perceptron.b)
    print(f"最初の損失: {losses[0]:.4f}, 最後の損失: {losses[-1]:.4f}")

    # 参考: 最小二乗法で求めた最適解での損失
    x1 = np.hstack([x, np.ones((n, 1))])
    coef, *_ = np.linalg.lstsq(x1, t, rcond=None)
    print(f"参考 (最小二乗解の損失): {float(np.mean((x1 @ coef - t) ** 2)):.4f}")

    out_dir = root / "outputs"
    out_dir.mkdir(exist_ok=True)
    fig, ax = plt.subplots()
    ax.plot(losses)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("MSE")
    ax.set_title("perceptron (raw data)")
    path = out_dir / "perceptron_loss.png"
    fig.savefig(path)
    plt.close(fig)
    print(f"グラフを保存しました: {path}")


if __name__ == "__main__":
    main()
