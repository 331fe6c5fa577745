"""自己チェックの設定 / set-up of the self-check: ``uv run pytest`` (English: ``uv run pytest --lang en``).

A pytest plugin named in the kit's pyproject.toml (``-p selfcheck.plugin``, with ``scripts/`` on the
path), so that ``--lang`` works whether pytest starts in the kit's root or in ``scripts/``.

Tests ``gradient_method.py`` (演習3), ``perceptron.py`` (演習4) and every ``ex_02_*.py`` / ``ex_02_*.ipynb``
saved in this folder (the template itself while none is saved yet). Each test is named after the check
id the TA's grader uses and fails with the message the grader's report would show.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from selfcheck import process
from selfcheck.messages import text

HERE = Path(__file__).resolve().parent.parent  # scripts/
TEMPLATE = HERE / "ex_02_template.py"


def pytest_configure(config: pytest.Config) -> None:
    """Start the child process at once; numpy and the tests load in this process meanwhile."""
    if not (config.option.help or config.option.collectonly or getattr(config.option, "version", False)):
        process.warm_up()


def pytest_unconfigure(config: pytest.Config) -> None:
    process.close_idle()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--lang", choices=("ja", "en"), default=None, help="language of the messages (ja or en)")


def language(config: pytest.Config) -> str:
    return config.getoption("--lang", default=None) or os.environ.get("EXGRADER_LANG") or "ja"


@pytest.fixture(scope="session")
def lang(request: pytest.FixtureRequest) -> str:
    return language(request.config)


def assignment_files() -> list[Path]:
    """Saved ``ex_02_<学籍番号>.py`` (or ``.ipynb``) files; the template while none is saved yet."""
    saved = sorted(path for pattern in ("ex_02_*.py", "ex_02_*.ipynb") for path in HERE.glob(pattern)
                   if path != TEMPLATE)
    return saved or [TEMPLATE]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "submission" in metafunc.fixturenames:
        files = assignment_files()
        metafunc.parametrize("submission", files, ids=[path.name for path in files])


@pytest.fixture
def verify(lang: str) -> Callable[[Path, str, str], None]:
    """Fail the test with the grader's message for one check, shown alone (no traceback)."""

    from selfcheck import verdicts  # numpy and the judge: loaded while the child process starts

    def run(path: Path, suite: str, check_id: str) -> None:
        found = verdicts.failure(path, suite, check_id, lang)
        if found is not None:
            pytest.fail(found, pytrace=False)

    return run


@pytest.fixture
def save_as(lang: str) -> Callable[[Path], None]:
    def run(path: Path) -> None:
        if path == TEMPLATE:
            pytest.fail(text("student.save_as", lang), pytrace=False)

    return run


def pytest_collection_finish(session: pytest.Session) -> None:
    """Run every file in the child process now; each test then only reads its verdict."""
    if session.config.option.collectonly:
        return
    targets = []
    for item in session.items:
        suite = getattr(item.module, "SUITE", None)
        callspec = getattr(item, "callspec", None)
        target = callspec.params.get("submission") if callspec else getattr(item.module, "TARGET", None)
        if suite and target:
            targets.append((target, suite))
    if targets:
        from selfcheck import verdicts

        verdicts.prefetch(targets)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    verdicts = sys.modules.get("selfcheck.verdicts")  # None: no test ran
    lines = verdicts.warnings_text(language(config)) if verdicts else []
    if lines:
        terminalreporter.section(text("selfcheck.warnings_title", language(config)))
        for line in lines:
            terminalreporter.write_line(line)
