"""演習4 (perceptron.py) の自己チェック。課題と同じチェックのうち、パーセプトロンと損失の部分です。
Self-check of exercise 4: the assignment's perceptron and loss checks, applied to perceptron.py."""

from pathlib import Path

from grader.selfcheck import check

PERCEPTRON = Path(__file__).resolve().parent / "perceptron.py"
CHECKS = ("forward", "grad_w", "grad_b", "grad_x", "update", "mse_forward", "mse_backward", "gradcheck",
          "converge")


def run(verify, check_id):
    verify(check, PERCEPTRON, check_id, check_ids=CHECKS)


def test_forward(verify):
    run(verify, "forward")


def test_grad_w(verify):
    run(verify, "grad_w")


def test_grad_b(verify):
    run(verify, "grad_b")


def test_grad_x(verify):
    run(verify, "grad_x")


def test_update(verify):
    run(verify, "update")


def test_mse_forward(verify):
    run(verify, "mse_forward")


def test_mse_backward(verify):
    run(verify, "mse_backward")


def test_gradcheck(verify):
    run(verify, "gradcheck")


def test_converge(verify):
    run(verify, "converge")
