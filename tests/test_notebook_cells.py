"""A notebook as its author sees it: errors cite "セル 5 の 3 行目", and the data beside it is found.

A notebook is graded as one script of its code cells; the line numbers of that script mean nothing to
a student, who sees cells. And in Jupyter a notebook's working directory is its own folder, so
``pd.read_csv("advertising.csv")`` (or ``data/advertising.csv``) works there and must work here too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from grader.cli import main
from grader.i18n import Catalogue, Message
from grader.intake.cells import cite, cite_checks, locate
from grader.intake.decode import decode_submission
from grader.results import CheckResult, Verdict

SOLUTIONS = Path(__file__).parent / "fixtures" / "solutions"
GOOD = (SOLUTIONS / "ex_02_S0001.py").read_text(encoding="utf-8")
CATALOGUE = Catalogue.load_engine()
BAD_NORMALIZE = 'def normalize(x):\n    """Min-Max"""\n    raise ValueError("boom")\n'


def notebook(path: Path, cells: list[tuple[str, str]]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(text) if kind == "md" else nbformat.v4.new_code_cell(text)
                for kind, text in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    return path


def test_decode_records_where_each_code_cell_starts(tmp_path: Path) -> None:
    path = notebook(tmp_path / "ex_02_S1.ipynb", [("md", "# title"), ("code", "import numpy as np\n\n"),
                                                  ("code", ""), ("code", "%matplotlib inline\nx = 1\ny = 2"),
                                                  ("md", "text"), ("code", "\nz = 3")])
    decoded = decode_submission(path, "ipynb")
    assert decoded.cells == ((2, 1), (4, 3), (6, 7))
    lines = decoded.source.split("\n")
    assert lines[0] == "import numpy as np" and locate(decoded.cells, 1) == (2, 1)
    assert lines[3] == "x = 1" and locate(decoded.cells, 4) == (4, 2)  # the magic's line is kept blank
    assert lines[7] == "z = 3" and locate(decoded.cells, 8) == (6, 2)
    assert locate(decoded.cells, 0) is None
    assert decode_submission(SOLUTIONS / "ex_02_S0001.py", "py").cells == ()


def test_cited_messages_in_both_languages() -> None:
    cells = ((2, 1), (5, 10))
    frame = cite(Message("check.traceback_line", {"line": 12, "function": "normalize", "code": "raise"}), cells)
    assert CATALOGUE.render(frame, "ja") == "  セル 5 の 3 行目 (normalize): raise"
    assert CATALOGUE.render(frame, "en") == "  cell 5, line 3 in normalize: raise"
    syntax = cite(Message("report.syntax_error", {"message": "invalid syntax", "line": 2}), cells)
    assert CATALOGUE.render(syntax, "ja") == "構文エラー: invalid syntax (セル 2 の 2 行目)"
    loaded = cite(Message("load.raised", {"type": "SyntaxError", "message": "invalid syntax (line 12)"}), cells)
    assert loaded.params["message"] == "invalid syntax"  # the frame below it cites the cell
    untouched = Message("check.traceback_line", {"line": 3, "function": "f", "code": ""})
    checks = [CheckResult("load", False, 0, 1, Verdict.fail(untouched, [untouched]))]
    assert cite_checks(checks, ()) == checks


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nb")
    folder = root / "class" / "山田 太郎_101_assignsubmission_file_"
    notebook(folder / "ex_02_S0001.ipynb", [
        ("md", "# 第2回 課題"),
        ("code", "import numpy as np\nimport pandas as pd\n"
                 "data = pd.read_csv('advertising.csv', index_col=0)\n"
                 "again = pd.read_csv('./data/advertising.csv', index_col=0)\nassert len(data) == len(again) > 0"),
        ("md", "## 解答"),
        ("code", GOOD),
        ("code", BAD_NORMALIZE),
    ])
    notebook(root / "class" / "佐藤 花子_102_assignsubmission_file_" / "ex_02_S0002.ipynb", [
        ("md", "# 第2回 課題"), ("code", GOOD), ("md", "## 試す"), ("code", "x = 1\nfor i in range(3)\n    x += i"),
    ])
    out = root / "out"
    assert main([str(root / "class"), "--out", str(out), "--jobs", "2"]) == 0
    return out


def test_a_notebook_finds_the_data_beside_it(graded: Path) -> None:
    report = json.loads((graded / "reports" / "S0001.json").read_text("utf-8"))
    checks = {check["id"]: check for check in report["checks"]}
    assert checks["load"]["passed"], checks["load"]["message"]


def test_a_notebook_error_cites_its_cell(graded: Path) -> None:
    report = json.loads((graded / "reports" / "S0001.json").read_text("utf-8"))
    message = next(check["message"] for check in report["checks"] if check["id"] == "normalize")
    assert "セル 5 の 3 行目" in message, message
    assert "boom" in message and "セル 5 の 3 行目" in (graded / "reports" / "S0001.html").read_text("utf-8")


def test_a_script_still_reads_data_only_from_the_course_layout(tmp_path: Path) -> None:
    source = GOOD + "\nimport pandas as pd\ndata = pd.read_csv('advertising.csv')\n"
    path = tmp_path / "class" / "ex_02_S0002.py"
    path.parent.mkdir()
    path.write_text(source, encoding="utf-8")
    assert main([str(tmp_path / "class"), "--out", str(tmp_path / "out"), "--jobs", "1"]) == 0
    report = json.loads((tmp_path / "out" / "reports" / "S0002.json").read_text("utf-8"))
    load = next(check for check in report["checks"] if check["id"] == "load")
    assert not load["passed"] and "FileNotFoundError" in load["message"]


def test_a_notebook_syntax_error_cites_its_cell(graded: Path) -> None:
    report = json.loads((graded / "reports" / "S0002.json").read_text("utf-8"))
    messages = "\n".join(check["message"] for check in report["checks"])
    assert "セル 4 の 2 行目" in messages, messages
    assert not re.search(r"(?<!の )\b\d+ 行目", messages.replace("セル 4 の 2 行目", "")), messages
