"""Write the example class: ``uv run python examples/make_class.py [DEST] [--roster FILE]``.

DEST (default ``examples/class``) becomes a folder laid out like Moodle's "download all submissions":
one folder per student, ``<氏名>_<参加者番号>_assignsubmission_file_/ex_02_<学籍番号>.py``. The roster
(``student_id`` and ``氏名``, UTF-8 with BOM, as Excel writes it) goes next to it (default
``DEST/../roster.csv``) and also lists one student who handed in nothing.

Every submission is made from one of the two correct solutions in ``tests/fixtures/solutions/`` by a
small textual edit, so that it differs from correct work in exactly one way: a bug from the spec's check
table, or a form that is correct but awkward to grade (no main guard, a notebook, Shift_JIS, top-level
code that raises). An edit whose text is not found exactly once stops the script, so a change to the
solutions cannot silently turn a variant into something else. The output is byte-for-byte deterministic;
``tests/test_examples.py`` regenerates it and compares it with the shipped copy.

The expected result of each variant is in ``tests/test_grade_scenarios.py`` (and in ``examples/README.md``).
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import v4

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "tests" / "fixtures" / "solutions"
DEFAULT_DEST = ROOT / "examples" / "class"
BASES = {"mean": "ex_02_S0001.py", "sum": "ex_02_S0002.py"}  # mean: ÷k and ddof=0; sum: Σ and ddof=1


def replace_once(text: str, old: str, new: str) -> str:
    """``text`` with the single occurrence of ``old`` replaced; anything else is a generator bug."""
    count = text.count(old)
    if count != 1:
        raise ValueError(f"expected exactly one occurrence of {old!r}, found {count}")
    return text.replace(old, new)


def with_header(text: str, student_id: str) -> str:
    """Replace the fixture's docstring ("解答例, not for students") by a student's own header line."""
    end = text.index('"""', 3) + 3
    return f'"""第2回 課題: 正規化と標準化 (学籍番号 {student_id})"""' + text[end:]


# --- the edits, each the one difference from a correct solution ------------------------------------


def edits(*pairs: tuple[str, str]) -> Callable[[str], str]:
    def apply(text: str) -> str:
        for old, new in pairs:
            text = replace_once(text, old, new)
        return text

    return apply


def unchanged(text: str) -> str:
    return text


TOP_LEVEL_SCRIPT = """\
# 学習してグラフを表示する
data = pd.read_csv("../data/advertising.csv", index_col=0)
x = data[["TV", "Radio", "Newspaper"]].to_numpy(dtype=float)
t = data[["Sales"]].to_numpy(dtype=float)
x_std = standardize(x)
t_std = standardize(t)
perceptron, losses = train(x_std, t_std, 0.1, 300, np.random.default_rng(0))
print("w =", perceptron.w.ravel())
print("b =", perceptron.b)
plt.plot(losses)
plt.yscale("log")
plt.xlabel("iteration")
plt.ylabel("MSE")
plt.show()
"""


def top_level_script(text: str) -> str:
    """main() and its guard replaced by the same steps at top level, ending in plt.show()."""
    text = replace_once(text, "import pandas as pd\n", "import pandas as pd\nimport matplotlib.pyplot as plt\n")
    return text[: text.index("def main() -> None:")] + TOP_LEVEL_SCRIPT


def syntax_error(text: str) -> str:
    return replace_once(text, "    for _ in range(max_iteration):\n", "    for _ in range(max_iteration)\n")


# --- the notebook ------------------------------------------------------------------------------------


NOTEBOOK_RUN_CELL = """\
data = pd.read_csv("../data/advertising.csv", index_col=0)
x = data[["TV", "Radio", "Newspaper"]].to_numpy(dtype=float)
t = data[["Sales"]].to_numpy(dtype=float)
x_std = standardize(x)
t_std = standardize(t)
perceptron, losses = train(x_std, t_std, 0.1, 300, np.random.default_rng(0))
print("w =", perceptron.w.ravel(), "b =", perceptron.b)
plt.plot(losses)
plt.yscale("log")
plt.show()"""


def notebook(text: str, student_id: str) -> str:
    """The solution's definitions as notebook cells, after a ``!pip install`` cell and ``%matplotlib
    inline``, and a last cell that trains and shows the plot (as students run it on Colab)."""
    body = text[text.index("def normalize") : text.index("def main() -> None:")].rstrip() + "\n"
    chunks = [chunk.strip() for chunk in body.replace("\n\n\nclass ", "\n\n\n\0class ")
              .replace("\n\n\ndef ", "\n\n\n\0def ").split("\0")]
    cells = [
        v4.new_markdown_cell(f"# 第2回 課題: 正規化と標準化\n\n学籍番号 {student_id}"),
        v4.new_code_cell("!pip install japanize-matplotlib"),
        v4.new_code_cell("%matplotlib inline\nimport numpy as np\nimport pandas as pd\n"
                         "import matplotlib.pyplot as plt"),
        *(v4.new_code_cell(chunk) for chunk in chunks),
        v4.new_code_cell(NOTEBOOK_RUN_CELL),
    ]
    for index, cell in enumerate(cells):
        cell["id"] = f"cell-{index:02d}"  # nbformat draws random ids; fixed ones keep the output stable
    book = v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })
    nbformat.validate(book)
    return nbformat.writes(book)


# --- the class ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    student_id: str
    name: str  # 氏名 as Moodle shows it: family name, a space, given name
    participant: int  # Moodle's participant number in the folder name
    base: str  # "mean" or "sum": which correct solution the edit starts from
    description: str
    change: Callable[[str], str] = field(default=unchanged, compare=False)
    kind: str = "py"  # "py" or "ipynb"
    encoding: str = "utf-8"


VARIANTS: tuple[Variant, ...] = (
    # correct work
    Variant("S1001", "青木 陽菜", 4821001, "mean", "correct: batch mean, ddof=0"),
    Variant("S1002", "石井 蓮", 4821002, "sum", "correct: batch sum, ddof=1"),
    Variant("S1003", "上田 結衣", 4821003, "sum", "correct: MSE backward 2(y-t)/N with a batch-sum Perceptron",
            edits(("        return 2 * self.diff\n", "        return 2 * self.diff / self.diff.shape[0]\n"))),
    # one bug each
    Variant("S1004", "遠藤 大翔", 4821004, "mean", "normalize: min and max of the whole array (no axis)",
            edits(("    x_min = np.min(x, axis=0)\n    x_max = np.max(x, axis=0)\n",
                   "    x_min = np.min(x)\n    x_max = np.max(x)\n"))),
    Variant("S1005", "小川 芽依", 4821005, "sum", "normalize: modifies x in place",
            edits(("    return (x - x_min) / (x_max - x_min)\n",
                   "    x -= x_min\n    x /= x_max - x_min\n    return x\n"))),
    Variant("S1006", "加藤 湊", 4821006, "mean", "standardize: divides by std without subtracting the mean",
            edits(("    return (x - mean) / std\n", "    return x / std\n"))),
    Variant("S1007", "木村 さくら", 4821007, "sum", "forward: x @ w without + b",
            edits(("        return x @ self.w + self.b\n", "        return x @ self.w\n"))),
    Variant("S1008", "工藤 悠真", 4821008, "mean", "grad_w: x.T @ g divided by g.shape[1] instead of g.shape[0]",
            edits(("        k = g.shape[0]\n", "        k = g.shape[1]\n"))),
    Variant("S1009", "久保 心春", 4821009, "sum", "grad_w: g.T @ x (shape (m, d); the update then raises)",
            edits(("        self.g_w = self.x.T @ g\n", "        self.g_w = g.T @ self.x\n"))),
    Variant("S1010", "小林 紬", 4821010, "sum", "grad_b: g.sum() without axis=0 (a scalar)",
            edits(("        self.g_b = g.sum(axis=0)\n", "        self.g_b = g.sum()\n"))),
    Variant("S1011", "斎藤 樹", 4821011, "mean", "grad_x: g @ w.T computed with w after the update",
            edits(("        g_x = g @ self.w.T\n", ""),
                  ("        self.b = self.b - self.lr * self.g_b\n",
                   "        self.b = self.b - self.lr * self.g_b\n        g_x = g @ self.w.T\n"))),
    Variant("S1012", "佐々木 凛", 4821012, "mean", "update: w + lr*g_w, b + lr*g_b (wrong sign)",
            edits(("self.w = self.w - self.lr * self.g_w\n", "self.w = self.w + self.lr * self.g_w\n"),
                  ("self.b = self.b - self.lr * self.g_b\n", "self.b = self.b + self.lr * self.g_b\n"))),
    Variant("S1013", "清水 陽翔", 4821013, "mean", "mse_forward: sum of squares instead of the mean",
            edits(("        return float(np.mean(self.diff**2))\n", "        return float(np.sum(self.diff**2))\n"))),
    Variant("S1014", "鈴木 葵", 4821014, "sum", "mse_backward: y - t without the factor 2",
            edits(("        return 2 * self.diff\n", "        return self.diff\n"))),
    Variant("S1015", "高橋 朝陽", 4821015, "mean",
            "chain: MSE backward 2(y-t)/N and a batch-mean Perceptron (divides by N twice)",
            edits(("        return 2 * self.diff\n", "        return 2 * self.diff / self.diff.shape[0]\n"))),
    Variant("S1016", "田中 莉子", 4821016, "sum", "train: a fixed 10 iterations (10 losses)",
            edits(("    for _ in range(max_iteration):\n", "    for _ in range(10):\n"))),
    Variant("S1017", "中村 颯太", 4821017, "mean", "train: ignores learning_rate (uses 0.01)",
            edits(("    perceptron = Perceptron(x.shape[1], t.shape[1], learning_rate, rng)\n",
                   "    perceptron = Perceptron(x.shape[1], t.shape[1], 0.01, rng)\n"))),
    # correct, but awkward to grade
    Variant("S1018", "西村 美咲", 4821018, "mean",
            "correct; no main guard: top-level code reads ../data/advertising.csv, trains, plt.show()",
            top_level_script),
    Variant("S1019", "橋本 湊斗", 4821019, "mean",
            "correct; a notebook with a !pip install cell and %matplotlib inline", kind="ipynb"),
    Variant("S1020", "藤田 花", 4821020, "sum", "correct; Shift_JIS (cp932) without an encoding declaration",
            encoding="cp932"),
    Variant("S1021", "松本 大和", 4821021, "mean",
            "correct definitions; top-level code reads a file that does not exist",
            edits(("import pandas as pd\n",
                   'import pandas as pd\n\n# データを読み込む\ndata = pd.read_csv("advertising.csv", index_col=0)\n'))),
    Variant("S1022", "村上 結菜", 4821022, "sum", "syntax error: a for statement without its colon",
            syntax_error),
)

#: On the roster, no submission.
MISSING = (("S1023", "山本 悠人"),)


def submission_text(variant: Variant) -> str:
    solution = (SOLUTIONS / BASES[variant.base]).read_text(encoding="utf-8")
    if variant.kind == "ipynb":
        return notebook(solution, variant.student_id)
    return variant.change(with_header(solution, variant.student_id))


def submission_path(variant: Variant) -> Path:
    folder = f"{variant.name}_{variant.participant}_assignsubmission_file_"
    return Path(folder) / f"ex_02_{variant.student_id}.{variant.kind}"


def roster_csv() -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # as Excel saves "CSV UTF-8"
    writer.writerow(["student_id", "氏名"])
    rows = [(variant.student_id, variant.name) for variant in VARIANTS] + list(MISSING)
    writer.writerows(sorted(rows))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def build(dest: Path, roster: Path | None = None) -> None:
    """Write the class into ``dest`` (emptied first) and the roster to ``roster``."""
    dest = Path(dest)
    roster = Path(roster) if roster is not None else dest.parent / "roster.csv"
    if dest.exists():
        shutil.rmtree(dest)
    for variant in VARIANTS:
        path = dest / submission_path(variant)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(submission_text(variant).encode(variant.encoding))
    roster.parent.mkdir(parents=True, exist_ok=True)
    roster.write_bytes(roster_csv())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", nargs="?", type=Path, default=DEFAULT_DEST, help="class folder to (re)write")
    parser.add_argument("--roster", type=Path, help="roster CSV to write (default: DEST/../roster.csv)")
    args = parser.parse_args(argv)
    build(args.dest, args.roster)
    roster = args.roster or args.dest.parent / "roster.csv"
    print(f"wrote {len(VARIANTS)} submissions to {args.dest} and the roster to {roster}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
