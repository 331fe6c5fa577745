"""課題 ex_02 の自己チェック。テスト名は採点のチェック ID と同じです。
Self-check of the assignment; each test is named after the grader's check id."""

SUITE = "ex_02"


def test_load(submission, verify, save_as):
    save_as(submission)
    verify(submission, SUITE, "load")


def test_normalize(submission, verify):
    verify(submission, SUITE, "normalize")


def test_standardize(submission, verify):
    verify(submission, SUITE, "standardize")


def test_forward(submission, verify):
    verify(submission, SUITE, "forward")


def test_grad_w(submission, verify):
    verify(submission, SUITE, "grad_w")


def test_grad_b(submission, verify):
    verify(submission, SUITE, "grad_b")


def test_grad_x(submission, verify):
    verify(submission, SUITE, "grad_x")


def test_update(submission, verify):
    verify(submission, SUITE, "update")


def test_mse_forward(submission, verify):
    verify(submission, SUITE, "mse_forward")


def test_mse_backward(submission, verify):
    verify(submission, SUITE, "mse_backward")


def test_gradcheck(submission, verify):
    verify(submission, SUITE, "gradcheck")


def test_converge(submission, verify):
    verify(submission, SUITE, "converge")
