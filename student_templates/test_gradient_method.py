"""演習3 (gradient_method.py) の自己チェック。テスト名は採点 (grade --assignment gradient_method) のチェック ID と
同じです。
Self-check of exercise 3; each test is named after a check id of ``grade --assignment gradient_method``."""

from pathlib import Path

TARGET = Path(__file__).resolve().parent / "gradient_method.py"
SUITE = "gradient_method"


def test_df(verify):
    verify(TARGET, SUITE, "df")


def test_gradient_descent(verify):
    verify(TARGET, SUITE, "gradient_descent")


def test_fit_line(verify):
    verify(TARGET, SUITE, "fit_line")


def test_fit_line_losses(verify):
    verify(TARGET, SUITE, "fit_line_losses")
