"""reference.synthetic (合成データ) のテスト: 同梱ファイルの再現性と ISLR 版と同じ形式。
Tests of reference.synthetic: the committed stand-in is reproducible and has the ISLR file's format.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reference.data import DEFAULT_DATA_PATH, load_advertising
from reference.synthetic import main, make_advertising, to_islr_csv


def test_committed_file_is_reproducible() -> None:
    assert DEFAULT_DATA_PATH.read_bytes() == to_islr_csv(make_advertising()).encode("ascii")
    pd.testing.assert_frame_equal(load_advertising(DEFAULT_DATA_PATH), make_advertising())


def test_format_like_islr(shared_data: Callable[[str], Path]) -> None:
    ours = DEFAULT_DATA_PATH.read_bytes()
    real = shared_data("advertising.csv").read_bytes()
    assert ours.splitlines()[0] == real.splitlines()[0] == b'"","TV","Radio","Newspaper","Sales"'
    assert ours.count(b"\r\n") == real.count(b"\r\n") == 201
    assert ours.endswith(b"\r\n") and real.endswith(b"\r\n")


def test_format() -> None:
    raw = DEFAULT_DATA_PATH.read_bytes()
    lines = raw.split(b"\r\n")
    assert lines[0] == b'"","TV","Radio","Newspaper","Sales"'
    assert lines[1].startswith(b'"1",') and lines[200].startswith(b'"200",')
    assert lines[-1] == b"" and len(lines) == 202  # CRLF after every line, including the last
    assert b"\n" not in raw.replace(b"\r\n", b"")
    # What students write for the real file reads the stand-in too.
    df = pd.read_csv(DEFAULT_DATA_PATH, index_col=0)
    assert list(df.columns) == ["TV", "Radio", "Newspaper", "Sales"]
    assert list(df.index) == list(range(1, 201))
    np.testing.assert_array_equal(df.to_numpy(), np.round(df.to_numpy(), 1))  # one decimal place


def test_distribution() -> None:
    df = make_advertising()
    assert df.shape == (200, 4)
    assert df["TV"].between(0, 300).all()
    assert df["Radio"].between(0, 50).all()
    assert df["Newspaper"].between(0, 115).all()
    assert df["Newspaper"].skew() > 0.5  # right-skewed
    assert 0.2 < df["Radio"].corr(df["Newspaper"]) < 0.5  # mildly correlated, like the real data
    assert (df["Sales"] > 0).all()


def test_other_sizes_and_seeds() -> None:
    a, b = make_advertising(50, seed=1), make_advertising(50, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert a.shape == (50, 4)
    assert not make_advertising(50, seed=3).equals(a)


def test_main_writes_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "advertising.csv"
    main([str(out)])
    assert out.read_bytes() == DEFAULT_DATA_PATH.read_bytes()
    printed = capsys.readouterr().out
    assert "intercept 2.954139" in printed
