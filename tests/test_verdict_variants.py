"""Golden scenarios for the code students really write (issues 11.5, 12.6, 14.1, 16): one deviation costs
one check, the message says which, and the self-check agrees with ``grade`` on every file.

Each variant is one of the two correct solutions of ``tests/fixtures/solutions/`` with one textual edit
(the edit helpers of ``examples/make_class.py``: an edit whose text is not found exactly once stops the
test), or a whole file for the hostile no-ML case. The class is graded once through ``grader.cli.main``
(module fixture); each variant asserts the exact set of failed checks and key fragments of the messages.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from submissions import load_make_class

from grader.run import trusted as selfcheck

MAKE_CLASS = load_make_class()
ALL_CHECKS = frozenset({"load", "normalize", "standardize", "forward", "grad_w", "grad_b", "grad_x", "update",
                        "mse_forward", "mse_backward", "gradcheck", "converge"})

NORMALIZE_BODY = ("    x_min = np.min(x, axis=0)\n    x_max = np.max(x, axis=0)\n"
                  "    return (x - x_min) / (x_max - x_min)\n")
STANDARDIZE_MEAN = "    mean = np.mean(x, axis=0)\n    std = np.std(x, axis=0)\n    return (x - mean) / std\n"
MSE_FORWARD = "        return float(np.mean(self.diff**2))\n"
TRAIN_LOOP = """    for _ in range(max_iteration):
        y = perceptron.forward(x)
        loss = mse.forward(y, t)
        g = mse.backward()
        perceptron.backward(g)
        losses.append(loss)
"""
LSTSQ = """    a = np.hstack([x, np.ones((len(x), 1))])
    coef, *_ = np.linalg.lstsq(a, t, rcond=None)
    perceptron.w, perceptron.b = coef[:-1], coef[-1]
    best = float(np.mean((a @ coef - t) ** 2))
    losses = [best + 1.0 / (step + 1) for step in range(max_iteration)]
"""
NO_ML = '''"""第2回 課題"""
import numpy as np


def normalize(x):
    return x


def standardize(x):
    return x


class Perceptron:
    def __init__(self, input_dim, output_dim, learning_rate, rng):
        self.w = np.zeros((input_dim, output_dim))
        self.b = np.zeros(output_dim)
        self.lr = learning_rate

    def forward(self, x):
        self.x = x
        return np.zeros((len(x), self.w.shape[1]))

    def backward(self, g):
        self.g_w = np.zeros_like(self.w)
        self.g_b = np.zeros_like(self.b)
        return np.zeros((len(g), self.w.shape[0]))


class MeanSquaredError:
    def forward(self, y, t):
        return 0.0

    def backward(self):
        return 0.0


def train(x, t, learning_rate, max_iteration, rng):
    perceptron = Perceptron(x.shape[1], t.shape[1], learning_rate, rng)
    a = np.hstack([x, np.ones((len(x), 1))])
    coef, *_ = np.linalg.lstsq(a, t, rcond=None)
    perceptron.w, perceptron.b = coef[:-1], coef[-1]
    return perceptron, list(np.linspace(1.0, 0.1, max_iteration))
'''

#: id -> (base, what is different, edits, exact failed checks, {check: fragments of its message (ja)})
Variant = tuple[str, str, tuple[tuple[str, str], ...], frozenset[str], dict[str, list[str]]]
VARIANTS: dict[str, Variant] = {
    # --- correct in substance: full marks (issue 16.5) ---
    "V01": ("mean", "pandas in and out", (
        (NORMALIZE_BODY, "    df = pd.DataFrame(x)\n    return ((df - df.min()) / (df.max() - df.min())).to_numpy()\n"),
        (STANDARDIZE_MEAN, "    df = pd.DataFrame(x)\n    return ((df - df.mean()) / df.std(ddof=0)).to_numpy()\n")),
        frozenset(), {}),
    "V02": ("mean", "np.ptp", ((NORMALIZE_BODY, "    return (x - x.min(axis=0)) / np.ptp(x, axis=0)\n"),),
            frozenset(), {}),
    "V03": ("mean", "loops per column", (
        (NORMALIZE_BODY, "    out = np.empty(x.shape)\n    for j in range(x.shape[1]):\n        col = x[:, j]\n"
                         "        out[:, j] = (col - col.min()) / (col.max() - col.min())\n    return out\n"),
        (STANDARDIZE_MEAN, "    out = np.empty(x.shape)\n    for j in range(x.shape[1]):\n"
                           "        out[:, j] = (x[:, j] - x[:, j].mean()) / x[:, j].std()\n    return out\n")),
        frozenset(), {}),
    "V04": ("mean", "keepdims", (
        (NORMALIZE_BODY, NORMALIZE_BODY.replace("axis=0)", "axis=0, keepdims=True)")),
        (STANDARDIZE_MEAN, STANDARDIZE_MEAN.replace("axis=0)", "axis=0, keepdims=True)"))),
        frozenset(), {}),
    "V05": ("mean", "other parameter names", (
        ("self, input_dim: int, output_dim: int, learning_rate: float, rng: np.random.Generator",
         "self, n_in: int, n_out: int, eta: float, generator: np.random.Generator"),
        ("        self.w = rng.standard_normal((input_dim, output_dim))\n        self.b = np.zeros(output_dim)\n"
         "        self.lr = learning_rate\n",
         "        self.w = generator.standard_normal((n_in, n_out))\n        self.b = np.zeros(n_out)\n"
         "        self.lr = eta\n")),
        frozenset(), {}),
    "V06": ("sum", "standardizing again inside train (ddof=1)", (
        ("    perceptron = Perceptron(x.shape[1], t.shape[1], learning_rate, rng)\n",
         "    x = standardize(x)\n    t = standardize(t)\n"
         "    perceptron = Perceptron(x.shape[1], t.shape[1], learning_rate, rng)\n"),),
        frozenset(), {}),
    "V07": ("mean", "printing inside forward", (
        ("        self.x = x\n        return x @ self.w + self.b\n",
         "        self.x = x\n        y = x @ self.w + self.b\n        print('forward', y.shape)\n"
         "        return y\n"),),
        frozenset(), {}),
    "V08": ("mean", "the mean convention in Perceptron.backward with len(g)",
            (("        k = g.shape[0]\n", "        k = len(g)\n"),), frozenset(), {}),
    "V09": ("sum", "w drawn with np.random.randn (the rng argument unused)", (
        ("        self.w = rng.standard_normal((input_dim, output_dim))\n",
         "        self.w = np.random.randn(input_dim, output_dim)\n"),), frozenset(), {}),
    "V10": ("mean", "the loss recorded after the update", (
        (TRAIN_LOOP, TRAIN_LOOP.replace("        losses.append(loss)\n",
                                        "        losses.append(mse.forward(perceptron.forward(x), t))\n")),),
        frozenset(), {}),
    # --- one deviation of the loss: one check (issues 14.1, 16.3) ---
    "V20": ("sum", "mse_forward: the sum, with a batch-sum chain", (
        (MSE_FORWARD, "        return float(np.sum(self.diff**2))\n"),), frozenset({"mse_forward"}), {}),
    "V21": ("mean", "mse_forward: per-axis mean, shape (1,)", (
        (MSE_FORWARD, "        return np.mean(self.diff**2, axis=0)\n"),), frozenset({"mse_forward"}), {}),
    "V22": ("sum", "mse_forward: per-axis mean, shape (1,), batch-sum chain", (
        (MSE_FORWARD, "        return np.mean(self.diff**2, axis=0)\n"),), frozenset({"mse_forward"}), {}),
    "V24": ("mean", "mse_forward: the root of the mean (RMSE); the chain is not its gradient", (
        (MSE_FORWARD, "        return float(np.sqrt(np.mean(self.diff**2)))\n"),),
        frozenset({"mse_forward", "gradcheck"}), {"gradcheck": ["正しいのですが"]}),
    "V23": ("sum", "mse_backward: t - y (sign)", (
        ("        return 2 * self.diff\n", "        return -2 * self.diff\n"),),
        frozenset({"mse_backward", "gradcheck", "converge"}), {}),
    # --- vacuous passes (issue 11.5) ---
    "V30": ("mean", "train returns np.linalg.lstsq's answer with made-up losses", ((TRAIN_LOOP, LSTSQ),),
            frozenset({"converge"}), {"converge": ["勾配降下法"]}),
    "V32": ("mean", "train: lstsq for long runs, overflowing numbers for short ones", ((TRAIN_LOOP, """\
    if max_iteration < 100:
        perceptron.w = np.full_like(perceptron.w, 1e308) * 10
        perceptron.b = np.array([np.nan])
        losses = [np.inf] * max_iteration
        return perceptron, losses
""" + LSTSQ),), frozenset({"converge"}), {"converge": ["勾配降下法"]}),
    # --- shapes (issue 16.2, 12.6) ---
    "V40": ("sum", "bias (1, output_dim) with keepdims in the sum", (
        ("        self.b = np.zeros(output_dim)\n", "        self.b = rng.standard_normal((1, output_dim))\n"),
        ("        self.g_b = g.sum(axis=0)\n", "        self.g_b = g.sum(axis=0, keepdims=True)\n")),
        frozenset({"grad_b"}), {"grad_b": ["(1, 1)", "(1,)"]}),
    "V41": ("mean", "bias drawn with shape (input_dim,)", (
        ("        self.b = np.zeros(output_dim)\n", "        self.b = rng.standard_normal(input_dim)\n"),),
        frozenset({"converge"}), {"converge": ["Perceptron(3, 1, ...) が作る b の形が (3,) です (期待 (1,))",
                                               "np.zeros(output_dim)"]}),
    # --- messages at the cause (issues 12.6, 14.3, 16.1, 16.4) ---
    "V42": ("mean", "normalize without return", (
        ("    return (x - x_min) / (x_max - x_min)\n", "    (x - x_min) / (x_max - x_min)\n"),),
        frozenset({"normalize"}), {"normalize": ["None", "return"]}),
    "V44": ("mean", "train without return", (("    return perceptron, losses\n", ""),),
            frozenset({"converge"}), {"converge": ["None", "return perceptron, losses"]}),
    "V43": ("sum", "class Perceptron misspelt", (("class Perceptron:\n", "class Perceptoron:\n"),
                                                  (") -> tuple[Perceptron,", ") -> tuple[Perceptoron,")),
            frozenset({"forward", "grad_w", "grad_b", "grad_x", "update", "gradcheck", "converge"}),
            {"forward": ["Perceptron", "見つかりません"], "grad_w": ["`forward`"], "gradcheck": ["`forward`"]}),
    "V50": ("mean", "standardize with sklearn's StandardScaler (imported inside)", (
        (STANDARDIZE_MEAN, "    from sklearn.preprocessing import StandardScaler\n\n"
                           "    return StandardScaler().fit_transform(x)\n"),),
        frozenset({"standardize"}), {"standardize": ["sklearn", "この課題では使えません", "np.mean", "np.std"]}),
    "V51": ("sum", "standardize with scipy.stats.zscore (imported at top)", (
        ("import pandas as pd\n", "import pandas as pd\nfrom scipy.stats import zscore\n"),
        ("    mean = np.mean(x, axis=0)\n    std = np.std(x, axis=0, ddof=1)  # 不偏標準偏差\n"
         "    return (x - mean) / std\n", "    return zscore(x, axis=0)\n")),
        frozenset({"load", "standardize"}), {"load": ["scipy", "np.mean"], "standardize": ["`load`"]}),
    "V52": ("mean", "normalize returns a DataFrame", (
        (NORMALIZE_BODY, "    df = pd.DataFrame(x)\n    return (df - df.min()) / (df.max() - df.min())\n"),),
        frozenset({"normalize"}), {"normalize": ["値は正しい", "DataFrame", ".to_numpy()"]}),
}


def variant_text(variant_id: str) -> str:
    if variant_id == "V31":
        return NO_ML
    base, _, pairs, _, _ = VARIANTS[variant_id]
    solution = (MAKE_CLASS.SOLUTIONS / MAKE_CLASS.BASES[base]).read_text("utf-8")
    return MAKE_CLASS.edits(*pairs)(MAKE_CLASS.with_header(solution, variant_id))


@pytest.fixture
def variants_folder(graded_variants: tuple[Path, Path]) -> Path:
    """Every variant and V31 as ``ex_02_<id>.py`` (written once for the run: conftest.graded_variants)."""
    return graded_variants[0]


@pytest.fixture
def graded(graded_variants: tuple[Path, Path]) -> Path:
    """The variants' folder graded with two jobs (once for the run: conftest.graded_variants)."""
    return graded_variants[1]


def report(out: Path, student_id: str) -> dict:
    return json.loads((out / "reports" / f"{student_id}.json").read_text("utf-8"))


def failed(data: dict) -> frozenset[str]:
    return frozenset(check["id"] for check in data["checks"] if not check["passed"])


@pytest.mark.parametrize("variant_id", sorted(VARIANTS))
def test_one_deviation_costs_its_own_check(graded: Path, variant_id: str) -> None:
    _, description, _, expected, fragments = VARIANTS[variant_id]
    data = report(graded, variant_id)
    assert data["status"] == "graded"  # whatever the numbers, never a grader fault
    messages = {check["id"]: check["message"] for check in data["checks"]}
    assert failed(data) == expected, f"{variant_id} ({description}): " + "; ".join(
        f"{check_id}: {messages[check_id].splitlines()[0]}" for check_id in failed(data) ^ expected)
    for check_id, parts in fragments.items():
        missing = [part for part in parts if part not in messages[check_id]]
        assert not missing, f"{variant_id}: {missing} not in\n{messages[check_id]}"


def test_a_none_result_gets_no_formula_hint(graded: Path) -> None:
    """Issue 12.6: "y が数値の配列ではありません: NoneType" and an axis hint used to be all a student saw."""
    (text,) = [check["message"] for check in report(graded, "V42")["checks"] if check["id"] == "normalize"]
    assert "axis" not in text and "NoneType" not in text


def test_a_file_without_machine_learning_earns_nothing_for_training(graded: Path) -> None:
    """Issue 11.5: a constant loss with zero gradients and a train() returning np.linalg.lstsq's answer
    with made-up losses earned gradcheck and converge (6/16 with load and update)."""
    data = report(graded, "V31")
    assert {"gradcheck", "converge", "update", "normalize", "standardize", "mse_forward"} <= failed(data)
    scores = {check["id"]: check["score"] for check in data["checks"]}
    assert scores["gradcheck"] == 0 and scores["converge"] == 0
    assert scores["update"] == 0  # a zero g_w that leaves w where it was shows no update rule
    assert data["total"] <= 1  # load only


@pytest.mark.parametrize("variant_id", [*sorted(VARIANTS), "V31"])
def test_the_self_check_agrees_with_grade(graded: Path, variants_folder: Path, variant_id: str) -> None:
    path = variants_folder / f"ex_02_{variant_id}.py"
    results = selfcheck.grade_file(path.resolve(), "ex_02", None)
    assert {check_id for check_id, result in results.items() if not result.passed} == failed(
        report(graded, variant_id))


def test_the_self_check_hides_unavailable_libraries_a_student_has(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 16.1: a student with scikit-learn installed learns from the self-check, as from grade, that it
    is not available for this assignment (here a stand-in ``sklearn`` package is importable)."""
    fake = tmp_path / "site" / "sklearn"
    (fake / "preprocessing").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "preprocessing" / "__init__.py").write_text(
        "class StandardScaler:\n    def fit_transform(self, x):\n        return (x - x.mean(0)) / x.std(0)\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    import sklearn.preprocessing  # noqa: F401  # loaded before the self-check runs: it must be hidden too

    path = tmp_path / "ex_02_V50.py"
    path.write_text(variant_text("V50"), encoding="utf-8")
    results = selfcheck.grade_file(path.resolve(), "ex_02", None)
    assert [check_id for check_id, result in results.items() if not result.passed] == ["standardize"]
    text = selfcheck.failure_text(results["standardize"], selfcheck.catalogue_for("ex_02"), "en")
    assert "sklearn" in text and "not available for this assignment" in text and "np.mean" in text
    assert "sklearn.preprocessing" in sys.modules  # given back afterwards


def test_the_self_check_says_a_syntax_error_as_grade_does() -> None:
    """Issue 13.4, self-check side: the same messages as grade's report for S1022 (a missing colon)."""
    from submissions import submission_file

    results = selfcheck.grade_file(submission_file("S1022").resolve(), "ex_02", None)
    catalogue = selfcheck.catalogue_for("ex_02")
    texts = {check_id: selfcheck.failure_text(result, catalogue, "en") for check_id, result in results.items()}
    assert "syntax error" in texts["load"] and "^" in texts["load"]
    assert all(texts[check_id] == "could not be judged for the same reason as `load` (see `load` above)"
               for check_id in texts if check_id != "load")
