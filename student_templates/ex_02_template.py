"""情報システム実験実習II 機械学習によるデータ解析 第2回 課題: 正規化と標準化

入力 x と出力 t を Min-Max 正規化・標準化する関数を実装し、
標準化したデータで単純パーセプトロンを学習します。

提出の仕方:
  このファイルを ex_02_<学籍番号>.py (例: ex_02_S1234567.py) という名前で
  同じ scripts/ フォルダにコピーし、TODO の部分を実装して Moodle に提出してください。

やること (TODO の部分を実装してください):
  1. normalize(x): Min-Max 正規化 (列ごと)
  2. standardize(x): 標準化 (列ごと)
  3. Perceptron, MeanSquaredError, train:
     演習4 (perceptron.py) で書いたコードをそのままコピーしてください。

実行方法 (scripts/ フォルダで):
    uv run ex_02_<学籍番号>.py
  データは ../data/advertising.csv を読み、
  損失のグラフを ../outputs/ex_02_<学籍番号>_loss.png に保存します。

自己チェック (02_perceptron フォルダか scripts/ フォルダで):
    uv run pytest
  テスト名は採点のチェック ID と同じで、採点と同じ結果になります。

注意:
  - 関数・クラス・属性 (w, b, lr, g_w, g_b) の名前と引数は変えないでください。
    採点はこの名前で呼び出して行います。
  - ファイルの一番外側には import と def / class だけを書き、
    実行する処理は main() の中に書いてください
    (if __name__ == "__main__": の下で main() を呼びます)。
    採点ではファイルを読み込むだけなので、外側で学習などを
    実行すると時間切れになることがあります。
"""

from pathlib import Path

import numpy as np
import pandas as pd


def normalize(x: np.ndarray) -> np.ndarray:
    """Min-Max 正規化 (列ごと)

    各列を最小値 0, 最大値 1 になるように変換します (j は列の番号):
        x'_ij = (x_ij − min_j) / (max_j − min_j)
    min_j, max_j は列 j の n 個の値の最小値と最大値です。

    引数:
        x: float の配列, 形 (n, d)
    戻り値:
        正規化した新しい配列, 形 (n, d)。引数の x は書き換えないこと。
    """
    # TODO: 上の式の x' を新しい配列として返してください (形 (n, d) のまま)。
    #   列ごとの最小値・最大値には np.min / np.max (axis=0) が使えます。
    raise NotImplementedError("normalize を実装してください")


def standardize(x: np.ndarray) -> np.ndarray:
    """標準化 (列ごと)

    各列を平均 0, 標準偏差 1 になるように変換します (j は列の番号):
        x'_ij = (x_ij − μ_j) / σ_j
        μ_j = (1/n) Σ_i x_ij,    σ_j = √( (1/n) Σ_i (x_ij − μ_j)² )

    引数:
        x: float の配列, 形 (n, d)
    戻り値:
        標準化した新しい配列, 形 (n, d)。引数の x は書き換えないこと。
    """
    # TODO: 上の式の x' を新しい配列として返してください (形 (n, d) のまま)。
    #   列ごとの平均・標準偏差には np.mean / np.std (axis=0) が使えます。
    raise NotImplementedError("standardize を実装してください")


# ---- ここから下の Perceptron, MeanSquaredError, train は ----
# ---- 演習4 (perceptron.py) で書いたコードをコピーしてください ----


class Perceptron:
    """単純パーセプトロン (全結合の線形層): y = x w + b  (x w は行列の積)

    属性 (名前と形は採点の約束です):
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
        # TODO: 次の属性を作ってください (名前・形・初期値は採点の約束です)。
        #   w: 形 (input_dim, output_dim)。値は rng の標準正規分布から引く (rng.standard_normal を使う)
        #   b: 形 (output_dim,)。値はすべて 0
        #   lr: 引数の学習率
        #   x, g_w, g_b: forward / backward で値が入るまでは None
        raise NotImplementedError("Perceptron.__init__ を実装してください")

    def forward(self, x: np.ndarray) -> np.ndarray:
        """順伝播

            y = x w + b          (x w は行列の積。b は y のどの行にも足す)
            成分で書くと  y_ik = Σ_j x_ij w_jk + b_k

        引数:
            x: 入力, 形 (k, input_dim)  (k はバッチのデータ数)
        戻り値:
            y: 形 (k, output_dim)
        """
        # TODO: 上の式の y を返してください。行列の積には演算子 @ が使えます。
        #   backward で使うので、受け取った入力 x を属性 x に覚えておきます。
        raise NotImplementedError("Perceptron.forward を実装してください")

    def backward(self, g: np.ndarray) -> np.ndarray:
        """逆伝播とパラメータの更新

        g はデータごとの ∂E/∂y (形 (k, output_dim))。計算グラフの局所的な微分を
        k 個のデータで平均したものが、パラメータの勾配です (xᵀ, wᵀ は転置):
            ∂E/∂w = (1/k) xᵀ g             形 (input_dim, output_dim)
            ∂E/∂b = (1/k) Σ_i g_i          形 (output_dim,)   (g の k 行の平均)
            ∂E/∂x = g wᵀ                   形 (k, input_dim)  (前の層へ返す勾配)
        更新 (η は学習率 lr):
            w ← w − η ∂E/∂w,    b ← b − η ∂E/∂b

        引数:
            g: 形 (k, output_dim)
        戻り値:
            ∂E/∂x, 形 (k, input_dim)。更新「前」の w で計算すること。
        """
        # TODO: 上の式の ∂E/∂w を属性 g_w に、∂E/∂b を属性 g_b に入れ、w と b を更新して、
        #   ∂E/∂x を返してください。∂E/∂x は更新「前」の w で求めます。
        #   使えるもの: 行列の積 @、転置 .T、行ごとの平均 np.mean (axis=0)、k は g の行数。
        raise NotImplementedError("Perceptron.backward を実装してください")


class MeanSquaredError:
    """平均二乗誤差 E = (1/N) Σ (y − t)²  (N は y の要素の数)"""

    def __init__(self) -> None:
        """forward で計算した y − t を覚えておく属性を用意する"""
        # TODO: forward で差 y − t を入れる属性 diff を用意してください (forward までは None)。
        raise NotImplementedError("MeanSquaredError.__init__ を実装してください")

    def forward(self, y: np.ndarray, t: np.ndarray) -> float:
        """損失を計算する

            E = (1/N) Σ_i Σ_j (y_ij − t_ij)²      (N は y の要素の数: 全要素の平均)

        引数:
            y: 予測, 形 (n, output_dim)
            t: 正解, 形 (n, output_dim)
        戻り値:
            E (float)
        """
        # TODO: 上の式の E を 1 つの数 (Python の float) で返してください。np.mean と ** が使えます。
        #   backward で使うので、差 y − t を属性 diff に覚えておきます。
        raise NotImplementedError("MeanSquaredError.forward を実装してください")

    def backward(self) -> np.ndarray:
        """データごとの ∂E_i/∂y_i を返す

            E_i = (y_i − t_i)²
            ∂E_i/∂y_i = 2 (y_i − t_i)
        (データ数で平均するのは Perceptron.backward の 1/k です)

        戻り値:
            形は y と同じ (n, output_dim)
        """
        # TODO: forward で覚えた diff (= y − t) から、上の ∂E_i/∂y_i を y と同じ形の配列で返してください。
        raise NotImplementedError("MeanSquaredError.backward を実装してください")


def train(
    x: np.ndarray,
    t: np.ndarray,
    learning_rate: float,
    max_iteration: int,
    rng: np.random.Generator,
) -> tuple[Perceptron, list[float]]:
    """パーセプトロンを全データ (フルバッチ) の勾配法で学習する

    1 回の更新 (毎回 x の全体を使う):
        1. 順伝播: Perceptron の forward で x から y を求める
        2. 損失:   MeanSquaredError の forward で y と t から E を求める
        3. MeanSquaredError の backward で g = ∂E_i/∂y を求める
        4. 逆伝播: Perceptron の backward に g を渡す (勾配を求めて w, b を更新)

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
    # TODO: Perceptron (入力の次元は x の列数、出力の次元は t の列数、学習率と rng は引数のまま) と
    #   MeanSquaredError を 1 つずつ作り、上の 1 回の更新を max_iteration 回繰り返してください。
    #   毎回の損失 E を losses に追加し、(perceptron, losses) を返します。
    raise NotImplementedError("train を実装してください")


def main() -> None:
    """標準化したデータでパーセプトロンを学習する"""
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

    # Min-Max 正規化: 各列の最小値 0, 最大値 1 になる
    x_norm = normalize(x)
    print("正規化した x の最小値:", x_norm.min(axis=0))
    print("正規化した x の最大値:", x_norm.max(axis=0))

    # 標準化: 各列の平均 0, 標準偏差 1 になる (学習にはこちらを使う)
    x_std = standardize(x)
    t_std = standardize(t)
    print("標準化した x の平均:", x_std.mean(axis=0).round(6))
    # np.std (ddof=0) で確かめる。ddof=1 で標準化した場合は 0.9975 くらいになる
    print("標準化した x の標準偏差:", x_std.std(axis=0).round(6))

    rng = np.random.default_rng(0)
    # 勾配は平均二乗誤差の勾配 (Perceptron.backward で k 個の平均) なので、
    # 標準化したデータでは学習率 0.1 で 300 回あれば最小二乗解に収束します。
    learning_rate = 0.1
    max_iteration = 300
    perceptron, losses = train(x_std, t_std, learning_rate, max_iteration, rng)

    print("w =", perceptron.w.ravel())
    print("b =", perceptron.b)
    print(f"最初の損失: {losses[0]:.6f}, 最後の損失: {losses[-1]:.6f}")

    # 参考: 最小二乗法で求めた最適解 (学習がうまくいけば w, b, 損失がほぼ一致)
    x1 = np.hstack([x_std, np.ones((n, 1))])
    coef, *_ = np.linalg.lstsq(x1, t_std, rcond=None)
    print("参考 (最小二乗解) w =", coef[:-1].ravel(), "b =", coef[-1])
    print(f"参考 (最小二乗解の損失): {float(np.mean((x1 @ coef - t_std) ** 2)):.6f}")

    out_dir = root / "outputs"
    out_dir.mkdir(exist_ok=True)
    fig, ax = plt.subplots()
    ax.plot(losses)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("MSE (standardized)")
    ax.set_title("perceptron (standardized data)")
    path = out_dir / f"{Path(__file__).stem}_loss.png"
    fig.savefig(path)
    plt.close(fig)
    print(f"グラフを保存しました: {path}")


if __name__ == "__main__":
    main()
