"""演習4 (perceptron.py) の自己チェック。課題と同じチェックのうち、パーセプトロンと損失の部分です。
Self-check of exercise 4: the assignment's perceptron and loss checks, applied to perceptron.py."""

from pathlib import Path

TARGET = Path(__file__).resolve().parent / "perceptron.py"
SUITE = "perceptron"


def test_forward(verify):
    verify(TARGET, SUITE, "forward")


def test_grad_w(verify):
    verify(TARGET, SUITE, "grad_w")


def test_grad_b(verify):
    verify(TARGET, SUITE, "grad_b")


def test_grad_x(verify):
    verify(TARGET, SUITE, "grad_x")


def test_update(verify):
    verify(TARGET, SUITE, "update")


def test_mse_forward(verify):
    verify(TARGET, SUITE, "mse_forward")


def test_mse_backward(verify):
    verify(TARGET, SUITE, "mse_backward")


def test_gradcheck(verify):
    verify(TARGET, SUITE, "gradcheck")


def test_converge(verify):
    verify(TARGET, SUITE, "converge")
