"""課題 ex_02 の自己チェック。テスト名は採点のチェック ID と同じです (spec の表を参照)。
Self-check of the assignment; each test is named after the grader's check id."""

from grader.selfcheck import check, fail


def saved_under_own_name(submission, lang):
    if submission.name == "ex_02_template.py":
        raise fail("student.save_as", lang)


def test_load(submission, verify):
    verify(saved_under_own_name, submission)
    verify(check, submission, "load")


def test_normalize(submission, verify):
    verify(check, submission, "normalize")


def test_standardize(submission, verify):
    verify(check, submission, "standardize")


def test_forward(submission, verify):
    verify(check, submission, "forward")


def test_grad_w(submission, verify):
    verify(check, submission, "grad_w")


def test_grad_b(submission, verify):
    verify(check, submission, "grad_b")


def test_grad_x(submission, verify):
    verify(check, submission, "grad_x")


def test_update(submission, verify):
    verify(check, submission, "update")


def test_mse_forward(submission, verify):
    verify(check, submission, "mse_forward")


def test_mse_backward(submission, verify):
    verify(check, submission, "mse_backward")


def test_gradcheck(submission, verify):
    verify(check, submission, "gradcheck")


def test_converge(submission, verify):
    verify(check, submission, "converge")
