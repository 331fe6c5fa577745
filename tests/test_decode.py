"""Reading a submission's code: encodings, line ends, notebooks with IPython syntax, broken files."""

from __future__ import annotations

import json
import re
import sysconfig
from pathlib import Path
from typing import Any

import nbformat
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.i18n import LANGUAGES, Catalogue, Message
from grader.intake import decode as decode_module
from grader.intake.decode import MESSAGE_KEYS, DecodedSource, decode_submission, strip_ipython

CATALOGUE = Catalogue.load_engine()
JAPANESE = "# 正規化と標準化のテスト（日本語コメント）\ns = '標準化～①㈱ソ表'\n\n\ndef f(x):\n    return x\n"


def assert_renders(messages: tuple[Message, ...] | list[Message]) -> None:
    for message in messages:
        for lang in LANGUAGES:
            assert CATALOGUE.render(message, lang)


def keys(result: DecodedSource) -> list[str]:
    return [w.key for w in result.warnings]


def run(source: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(source, "<submission>", "exec"), namespace)
    return namespace


def write_py(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "ex_02_S1.py"
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------------------------------------------
# .py


def test_plain_utf8(tmp_path: Path) -> None:
    result = decode_submission(write_py(tmp_path, JAPANESE.encode()), "py")
    assert result == DecodedSource(JAPANESE, (), None)


def test_utf8_bom(tmp_path: Path) -> None:
    result = decode_submission(write_py(tmp_path, b"\xef\xbb\xbf" + JAPANESE.encode()), "py")
    assert result.source == JAPANESE
    assert result.warnings == () and result.error is None


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_crlf_and_cr_are_normalised(tmp_path: Path, newline: str) -> None:
    result = decode_submission(write_py(tmp_path, JAPANESE.replace("\n", newline).encode()), "py")
    assert result.source == JAPANESE


def test_cp932_without_declaration(tmp_path: Path) -> None:
    result = decode_submission(write_py(tmp_path, JAPANESE.replace("\n", "\r\n").encode("cp932")), "py")
    assert result.source == JAPANESE
    assert keys(result) == ["decode.fallback_encoding"]
    assert result.warnings[0].params["encoding"] == "cp932"
    assert run(result.source)["s"] == "標準化～①㈱ソ表"
    assert_renders(result.warnings)


@pytest.mark.parametrize(
    "declaration",
    ["# -*- coding: shift_jis -*-", "# coding: cp932", "#!/usr/bin/env python\n# vim: set fileencoding=sjis :"],
)
def test_cp932_with_declaration(tmp_path: Path, declaration: str) -> None:
    text = f"{declaration}\n{JAPANESE}"
    result = decode_submission(write_py(tmp_path, text.encode("cp932")), "py")
    assert result.source is not None
    declared_lines = declaration.count("\n") + 1
    # The Japanese comment and string survive exactly; line numbers do not move.
    assert result.source.split("\n")[declared_lines:] == JAPANESE.split("\n")
    assert "coding" not in result.source.split("\n")[declared_lines - 1].replace("encoding line", "")
    assert keys(result) == ["decode.fallback_encoding"]
    assert run(result.source)["s"] == "標準化～①㈱ソ表"
    # Written back as UTF-8 and compiled from bytes, it must still mean the same thing.
    assert run(result.source.encode().decode())["s"] == "標準化～①㈱ソ表"
    namespace: dict[str, Any] = {}
    exec(compile(result.source.encode("utf-8"), "<bytes>", "exec"), namespace)
    assert namespace["s"] == "標準化～①㈱ソ表"


def test_utf8_declaration_on_a_cp932_file(tmp_path: Path) -> None:
    text = f"# -*- coding: utf-8 -*-\n{JAPANESE}"
    result = decode_submission(write_py(tmp_path, text.encode("cp932")), "py")
    assert result.source == text
    assert keys(result) == ["decode.declaration_mismatch", "decode.fallback_encoding"]
    assert result.warnings[0].params == {"declared": "utf-8", "encoding": "cp932"}
    assert_renders(result.warnings)


def test_unknown_declaration_is_ignored(tmp_path: Path) -> None:
    result = decode_submission(write_py(tmp_path, b"# coding: klingon\nx = 1\n"), "py")
    assert result.source is not None and result.source.endswith("\nx = 1\n")
    assert keys(result) == ["decode.unknown_declared_encoding"]
    compile(result.source, "<s>", "exec")  # a leftover unknown cookie would be a SyntaxError
    assert_renders(result.warnings)


def test_latin1_last_resort_and_utf16(tmp_path: Path) -> None:
    result = decode_submission(write_py(tmp_path, b"x = 1  # \x81\xff\n"), "py")
    assert result.source == "x = 1  # \x81\xff\n"
    assert result.warnings[0].params == {"encoding": "latin-1"}
    result = decode_submission(write_py(tmp_path, "x = '日本'\r\n".encode("utf-16")), "py")
    assert result.source == "x = '日本'\n"
    assert result.warnings[0].params == {"encoding": "utf-16"}


@pytest.mark.parametrize(("kind", "data"), [("py", b""), ("py", b" \r\n\t\n"), ("py", b"\xef\xbb\xbf"), ("ipynb", b"")])
def test_empty_file(tmp_path: Path, kind: str, data: bytes) -> None:
    path = tmp_path / f"ex_02_S1.{kind}"
    path.write_bytes(data)
    result = decode_submission(path, kind)
    assert result.source is None
    assert result.error is not None and result.error.key == "decode.empty"
    assert_renders([result.error])


def test_unreadable_file(tmp_path: Path) -> None:
    result = decode_submission(tmp_path / "ex_02_none.py", "py")
    assert result.source is None and result.error is not None
    assert result.error.key == "decode.unreadable"
    assert_renders([result.error])


def test_colab_export_with_shell_lines(tmp_path: Path) -> None:
    text = '"""ex_02.ipynb\n\n%d items, !important\n"""\n!pip install japanize-matplotlib\nimport numpy as np\n'
    result = decode_submission(write_py(tmp_path, text.encode()), "py")
    assert result.source == '"""ex_02.ipynb\n\n%d items, !important\n"""\n\nimport numpy as np\n'
    assert keys(result) == ["decode.magics_dropped"]
    assert result.warnings[0].params["count"] == 1
    compile(result.source, "<s>", "exec")


# ---------------------------------------------------------------------------------------------------
# IPython syntax


def test_strip_ipython_keeps_valid_python_untouched() -> None:
    """Plain Python never changes: tried on a sample of the standard library."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    checked = 0
    for path in sorted(stdlib.glob("*.py"))[:80]:
        text = path.read_text(encoding="utf-8", errors="replace")
        lines = text.split("\n")
        out, dropped = strip_ipython(lines)
        if "get_ipython" in text:
            continue
        assert dropped == [], path
        assert out == lines
        checked += 1
    assert checked > 50


def test_strip_ipython_statement_starts_only() -> None:
    lines = [
        "x = (1,",
        "     2)",
        's = """',
        "%d percent",
        "!not shell",
        '"""',
        "files = !ls -la",
        "np.mean?",
        "get_ipython().run_line_magic(",
        "    'matplotlib', 'inline')",
        "!echo it's \\",
        "   continued",
        "y = 3",
    ]
    out, dropped = strip_ipython(lines)
    assert out == [*lines[:6], "", "", "", "", "", "", "y = 3"]
    assert dropped == lines[6:12]


# ---------------------------------------------------------------------------------------------------
# .ipynb


def write_notebook(tmp_path: Path, cells: list[Any]) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = cells
    path = tmp_path / "ex_02_S1.ipynb"
    nbformat.write(notebook, str(path))
    return path


def test_notebook_with_magics_and_shell_escapes(tmp_path: Path) -> None:
    code = nbformat.v4.new_code_cell
    path = write_notebook(
        tmp_path,
        [
            nbformat.v4.new_markdown_cell("# 課題 ex_02"),
            code("%matplotlib inline\nimport numpy as np"),
            code("!pip install japanize-matplotlib"),
            code("total = 0\nfor i in range(3):\n    !echo {i}\n    total += i"),
            code("def loud():\n    %time x = 1\n"),
            code("%%time\nsquares = [i * i for i in range(4)]"),
            code("%%bash\necho 'not python'\nls"),
            code("%%writefile helper.py\ndef helper():\n    return 'written'"),
            code("%%writefile notes.txt\nnot python at all"),
            code("%pip install numpy\nget_ipython().system('ls')"),
            code("def normalize(x):\n    '''正規化'''\n    return (x - x.min(0)) / (x.max(0) - x.min(0))"),
            code(""),
        ],
    )
    result = decode_submission(path, "ipynb")
    assert result.error is None and result.source is not None
    compile(result.source, "<notebook>", "exec")
    namespace = run(result.source)
    assert namespace["total"] == 3
    assert namespace["squares"] == [0, 1, 4, 9]
    assert namespace["loud"]() is None
    assert namespace["helper"]() == "written"
    assert namespace["normalize"](namespace["np"].array([[1.0], [3.0]])).tolist() == [[0.0], [1.0]]
    assert keys(result) == ["decode.magics_dropped"]
    # %matplotlib, !pip, !echo, %time, %%time, the 3 lines of the %%bash cell, %%writefile helper.py,
    # the 2 lines of the %%writefile notes.txt cell, %pip, get_ipython()
    assert result.warnings[0].params["count"] == 13
    assert result.warnings[0].params["first"] == "%matplotlib inline"
    assert "    pass" in result.source
    assert "\n\n" in result.source  # cells are separated by blank lines
    assert_renders(result.warnings)


def test_notebook_with_bom_and_v3_format(tmp_path: Path) -> None:
    v3 = {
        "nbformat": 3,
        "nbformat_minor": 0,
        "metadata": {"name": ""},
        "worksheets": [
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "input": ["x = 1\n", "y = 2"],
                        "language": "python",
                        "outputs": [],
                        "metadata": {},
                    }
                ],
                "metadata": {},
            }
        ],
    }
    path = tmp_path / "ex_02_S1.ipynb"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(v3).encode())
    result = decode_submission(path, "ipynb")
    assert result.source == "x = 1\ny = 2\n"


def test_invalid_but_readable_notebook_gives_a_warning(tmp_path: Path) -> None:
    data = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [{"cell_type": "code", "source": ["x = 1\n", "y = x + 1"]}],
    }
    path = tmp_path / "ex_02_S1.ipynb"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = decode_submission(path, "ipynb")
    assert result.error is None
    assert result.source == "x = 1\ny = x + 1\n"
    assert keys(result) == ["decode.notebook_invalid"]
    assert_renders(result.warnings)


@pytest.mark.parametrize(
    "content",
    [b"this is not json", b'{"cells": [', b"[]", b'{"nbformat": 4}', b"\x81\xff\xfe", b'{"nbformat": 4, "cells": 3}'],
)
def test_corrupt_notebook(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "ex_02_S1.ipynb"
    path.write_bytes(content)
    result = decode_submission(path, "ipynb")
    assert result.source is None
    assert result.error is not None and result.error.key == "decode.corrupt_notebook"
    assert result.error.params["reason"]
    assert_renders([result.error])


def test_notebook_without_code_is_empty(tmp_path: Path) -> None:
    cells = [nbformat.v4.new_markdown_cell("メモだけ"), nbformat.v4.new_code_cell("%matplotlib inline")]
    path = write_notebook(tmp_path, cells)
    result = decode_submission(path, "ipynb")
    assert result.source is None and result.error is not None and result.error.key == "decode.empty"


# ---------------------------------------------------------------------------------------------------
# Catalogue


def test_every_message_key_is_in_the_catalogue() -> None:
    source = Path(decode_module.__file__).read_text(encoding="utf-8")
    used = set(re.findall(r'"(decode\.[a-z_]+)"', source))
    assert used == set(MESSAGE_KEYS)
    for key in MESSAGE_KEYS:
        assert key in CATALOGUE
        for lang in LANGUAGES:
            assert CATALOGUE.text(key, lang).strip()


# --- the shortcut: a file with no possible IPython line is not lexed line by line -------------------
_PIECES = ["%matplotlib inline", "!pip install x", "x = !ls", "get_ipython().run_line_magic('x', '')", "?np",
           "np.mean??", "print(1)", "a = 5 % 3", "# %comment", "s = '''", "'''", "f(", ")", "x = \\", "y",
           "if a:", "    b = 1", "\u3000%time f()", "\t!ls", "\f%x", "z = {'a': 1,", "'b': 2}", ""]


@given(st.lists(st.tuples(st.sampled_from(["", "  ", "\t", "\u3000"]), st.sampled_from(_PIECES)), max_size=12))
def test_the_shortcut_never_skips_a_file_that_strip_ipython_would_change(parts: list[tuple[str, str]]) -> None:
    lines = [indent + piece for indent, piece in parts]
    if strip_ipython(lines)[1]:
        assert decode_module._IPYTHON_ANYWHERE.search("\n".join(lines))


def test_plain_code_decodes_unchanged_without_warnings(tmp_path: Path) -> None:
    path = tmp_path / "ex_02_S1.py"
    text = "import numpy as np\n\nx = 5 % 3  # 2\ns = '''\n%not a magic\n'''\n"
    path.write_text(text, encoding="utf-8")
    decoded = decode_submission(path, "py")
    assert decoded.source == text and decoded.warnings == ()


def test_the_ipython_scan_never_runs_across_lines() -> None:
    """Issue 11.3: ``^\\s*`` ran from every line start over all the blank lines after it, so 85,000
    blank lines took minutes (bench/hostile_class.py times it). A match now stays on its line."""


    match = decode_module._IPYTHON_ANYWHERE.search("x = 1\n" + "\n" * 50 + "  %ls\n")
    assert match is not None and "\n" not in match.group()
    assert decode_module._IPYTHON_ANYWHERE.search("\n" * 1000 + "x = 1\n") is None


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    from grader.intake.decode import MAX_FILE_BYTES

    path = tmp_path / "ex_02_B0001.py"
    path.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    decoded = decode_submission(path, "py")
    assert decoded.source is None and decoded.error is not None and decoded.error.key == "decode.too_large"


def test_a_deeply_nested_notebook_is_a_corrupt_notebook(tmp_path: Path) -> None:
    path = tmp_path / "ex_02_D0001.ipynb"
    path.write_text('{"cells": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")
    decoded = decode_submission(path, "ipynb")
    assert decoded.source is None and decoded.error is not None and decoded.error.key == "decode.corrupt_notebook"
