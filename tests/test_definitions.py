"""definitions_only: a script that hangs, exits or plots is reduced to what can be graded."""

from __future__ import annotations

import ast
import textwrap
from typing import Any

import pytest

from grader.intake.definitions import definitions_only, definitions_tree

SCRIPT = textwrap.dedent(
    '''\
    """ex_02 提出ファイル"""
    from __future__ import annotations

    import sys
    import os.path
    from dataclasses import dataclass
    import numpy as np
    import matplotlib.pyplot as plt

    try:
        import japanize_matplotlib
    except ImportError:
        print("japanize_matplotlib がありません")
        japanize_matplotlib = None

    try:
        data = np.loadtxt("data/advertising.csv")
    except OSError:
        data = None

    SEED: int = 0
    LEARNING_RATE = 1e-3
    MAX_ITERATION = 10 ** 4
    SHAPE = (3, -1)
    COLUMNS = ["TV", "Radio", "Newspaper"]
    CONFIG = {"lr": LEARNING_RATE, "n": MAX_ITERATION * 2, "cols": COLUMNS}
    TAU = np.pi * 2
    HUGE = 10 ** 10 ** 10
    MANY = [0] * 10 ** 10
    rng = np.random.default_rng(SEED)
    x = np.loadtxt("data/advertising.csv", delimiter=",")
    counter = 0
    counter += 1
    plt.rcParams["font.family"] = "IPAexGothic"


    def normalize(x):
        return (x - x.min(axis=0)) / (x.max(axis=0) - x.min(axis=0))


    @dataclass
    class Point:
        x: float
        y: float


    class Perceptron:
        def __init__(self, input_dim, output_dim, learning_rate, rng):
            self.w = rng.standard_normal((input_dim, output_dim))


    activation = normalize
    while True:
        pass
    for i in range(10):
        print(i)
    plt.plot([1, 2, 3])
    plt.show()
    sys.exit()


    def main():
        print("main")


    if __name__ == "__main__":
        main()
    '''
)


def run(source: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(source, "<definitions>", "exec"), namespace)
    return namespace


def test_script_is_reduced_to_definitions() -> None:
    result = definitions_only(SCRIPT)
    namespace = run(result)  # would loop forever or exit if anything behavioural survived
    for name in [
        "normalize",
        "Point",
        "Perceptron",
        "main",
        "activation",
        "np",
        "plt",
        "sys",
        "os",
        "dataclass",
        "SEED",
        "LEARNING_RATE",
        "MAX_ITERATION",
        "SHAPE",
        "COLUMNS",
        "CONFIG",
        "TAU",
        "japanize_matplotlib",
    ]:
        assert name in namespace, name
    for name in ["rng", "x", "data", "i", "HUGE", "MANY"]:
        assert name not in namespace, name
    assert namespace["CONFIG"] == {"lr": 1e-3, "n": 20_000, "cols": ["TV", "Radio", "Newspaper"]}
    assert namespace["SHAPE"] == (3, -1)
    assert namespace["counter"] == 1  # augmented arithmetic on a kept constant is kept
    assert namespace["activation"] is namespace["normalize"]
    assert namespace["Point"](1.0, 2.0).y == 2.0
    assert namespace["__doc__"] == "ex_02 提出ファイル"

    tree = ast.parse(result)
    top = tree.body
    assert not any(isinstance(node, ast.While | ast.For | ast.If | ast.With) for node in top)
    assert not any(isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) for node in top)
    assert "print(i)" not in result and "sys.exit" not in result and "plt.show" not in result
    assert "がありません" not in result
    assert "rcParams" not in result
    # The try/except ImportError survives without its print; the try around loadtxt is dropped.
    [kept_try] = [node for node in top if isinstance(node, ast.Try)]
    assert ast.unparse(kept_try) == (
        "try:\n    import japanize_matplotlib\nexcept ImportError:\n    japanize_matplotlib = None"
    )


def test_result_is_stable() -> None:
    once = definitions_only(SCRIPT)
    assert definitions_only(once) == once


def test_syntax_error_passes_through() -> None:
    with pytest.raises(SyntaxError):
        definitions_only("def f(:\n    pass\n")


def test_empty_and_definition_free_sources() -> None:
    assert definitions_only("") == ""
    assert definitions_only("print('hi')\nwhile True:\n    pass\n") == ""


def test_tree_keeps_the_students_line_numbers() -> None:
    tree = definitions_tree(SCRIPT)
    [normalize] = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "normalize"]
    assert SCRIPT.split("\n")[normalize.lineno - 1] == "def normalize(x):"
    compile(tree, "ex_02_S1.py", "exec")


def test_decorators_and_constant_names() -> None:
    source = textwrap.dedent(
        """\
        import functools
        A = 2
        B = -A + 3 * (A - 1) / 4
        C = D = (A, B, None, True, ...)
        E, F = 1, 2
        G = undefined_name + 1
        H = A ** B
        I = float
        @functools.lru_cache(maxsize=None)
        def cached(n):
            return n
        """
    )
    namespace = run(definitions_only(source))
    assert namespace["B"] == -1.25 and namespace["C"] == namespace["D"] and (namespace["E"], namespace["F"]) == (1, 2)
    assert "G" not in namespace and "H" not in namespace
    assert namespace["I"] is float
    assert namespace["cached"](3) == 3


def test_kept_definitions_stay_on_their_own_line_numbers() -> None:
    """A traceback in definitions-only mode must point at the student's own lines."""
    source = (
        "import numpy as np\n"
        "data = load_everything()\n"
        "for i in range(10**9):\n"
        "    pass\n"
        "\n"
        "@staticmethod\n"
        "def broken(x):\n"
        "    # a comment the student wrote\n"
        "    return x / 0  # line 9\n"
        "SCALE = 2.0\n"
    )
    result = definitions_only(source).splitlines()
    assert result[8] == "    return x / 0  # line 9"
    assert result[5] == "@staticmethod"
    assert result[9] == "SCALE = 2.0"
    assert "load_everything" not in "\n".join(result)
