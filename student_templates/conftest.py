"""Self-check for students: `uv run pytest student_templates` (English messages: add `--lang en`).

Tests `gradient_method.py` (演習3), `perceptron.py` (演習4) and every `ex_02_*.py` saved in this folder
(the template itself when none is saved yet). Each test is named after the check id the TA's grader
uses, and fails with the same message the grader's report would show.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grader.selfcheck import SelfCheckFailure

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "ex_02_template.py"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--lang", choices=("ja", "en"), default=None, help="language of the messages (ja or en)")


@pytest.fixture(scope="session")
def lang(request: pytest.FixtureRequest) -> str:
    return request.config.getoption("--lang", default=None) or os.environ.get("EXGRADER_LANG") or "ja"


def assignment_files() -> list[Path]:
    """Saved `ex_02_<学籍番号>.py` files; the template when the student has not saved one yet."""
    saved = sorted(path for path in HERE.glob("ex_02_*.py") if path != TEMPLATE)
    return saved or [TEMPLATE]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "submission" in metafunc.fixturenames:
        files = assignment_files()
        metafunc.parametrize("submission", files, ids=[path.name for path in files])


@pytest.fixture
def verify(lang: str) -> Callable[..., Any]:
    """Run a self-check step; its failure is shown as the message alone, without a traceback."""

    def run(step: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return step(*args, lang=lang, **kwargs)
        except SelfCheckFailure as exc:
            message = str(exc)
        pytest.fail(message, pytrace=False)  # outside the except: no "during handling..." chain

    return run
