"""演習3 (gradient_method.py) の自己チェック。
Self-check of exercise 3: the derivative, gradient descent on f(x) = (x - 1)^2, and a line fit."""

from pathlib import Path

import numpy as np

from grader.selfcheck import call, fail, load_module

GRADIENT_METHOD = Path(__file__).resolve().parent / "gradient_method.py"


def student(lang):
    return load_module(GRADIENT_METHOD, lang)


def check_df(lang):
    module = student(lang)
    for x in (-2.0, 0.0, 1.0, 2.5, 10.0):
        obtained = call(module, "df", lang, x)
        expected = 2 * (x - 1)
        if not np.isclose(obtained, expected, rtol=1e-12, atol=1e-12):
            raise fail("student.df_wrong", lang, x=x, obtained=obtained, expected=expected)


def check_gradient_descent(lang):
    module = student(lang)
    x0, rate, steps = 3.0, 0.1, 100
    result = call(module, "gradient_descent", lang, lambda x: 2 * (x - 1), x0, rate, steps)
    if not (isinstance(result, tuple) and len(result) == 2):
        raise fail("student.gd_return", lang, obtained=type(result).__name__)
    x_final, history = result
    if len(history) != steps + 1 or not np.isclose(history[0], x0):
        raise fail("student.gd_history", lang, obtained=len(history), expected=steps + 1)
    first = x0 - rate * 2 * (x0 - 1)
    if not np.isclose(history[1], first, rtol=1e-12):
        raise fail("student.gd_step", lang, obtained=history[1], expected=first)
    if not np.isclose(x_final, history[-1]) or abs(x_final - 1) > 1e-6:
        raise fail("student.gd_converge", lang, obtained=x_final)


def check_fit_line(lang):
    module = student(lang)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 50)
    y = 2.5 * x - 0.7 + rng.normal(0, 0.1, 50)
    steps = 3000
    result = call(module, "fit_line", lang, x, y, 0.5, steps)
    if not (isinstance(result, tuple) and len(result) == 3):
        raise fail("student.fit_return", lang, obtained=type(result).__name__)
    w, b, losses = result
    if len(losses) != steps:
        raise fail("student.fit_losses", lang, obtained=len(losses), expected=steps)
    first_loss = float(np.mean(y**2))  # w = b = 0 before the first update
    if not np.isclose(losses[0], first_loss, rtol=1e-9):
        raise fail("student.fit_first_loss", lang, obtained=losses[0], expected=first_loss)
    w_ls, b_ls = np.polyfit(x, y, 1)
    if not (np.isclose(w, w_ls, atol=1e-4) and np.isclose(b, b_ls, atol=1e-4)):
        raise fail("student.fit_wrong", lang, w=w, b=b, w_ls=w_ls, b_ls=b_ls)


def test_df(verify):
    verify(check_df)


def test_gradient_descent(verify):
    verify(check_gradient_descent)


def test_fit_line(verify):
    verify(check_fit_line)
