"""演習3 (gradient_method.py) の自己チェック。
Self-check of exercise 3: the derivative, gradient descent on f(x) = (x - 1)^2, and a line fit."""

from pathlib import Path

TARGET = Path(__file__).resolve().parent / "gradient_method.py"
SUITE = "gradient_method"


def test_df(verify):
    verify(TARGET, SUITE, "df")


def test_gradient_descent(verify):
    verify(TARGET, SUITE, "gradient_descent")


def test_fit_line(verify):
    verify(TARGET, SUITE, "fit_line")
