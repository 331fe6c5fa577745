"""reference.data (Advertising のローダ) のテスト。
Tests of reference.data, the Advertising loader.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reference.data import (
    DEFAULT_DATA_PATH,
    FEATURES,
    SHARED_DATA_DIR,
    TARGET,
    MissingColumnError,
    load_advertising,
    load_xt,
)

CANONICAL = ["TV", "Radio", "Newspaper", "Sales"]


def _check_frame(df: pd.DataFrame, n: int) -> None:
    assert list(df.columns) == CANONICAL
    assert df.shape == (n, 4)
    assert all(dtype == np.float64 for dtype in df.dtypes)
    assert df.index.equals(pd.RangeIndex(n))


def _write(tmp_path: Path, text: str, *, bom: bool = False, name: str = "ad.csv") -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def test_constants() -> None:
    assert FEATURES == ("TV", "Radio", "Newspaper")
    assert TARGET == "Sales"
    assert DEFAULT_DATA_PATH.is_file()
    assert DEFAULT_DATA_PATH.parent.name == "data"
    assert SHARED_DATA_DIR == DEFAULT_DATA_PATH.parent.parent.parent / "shared" / "data"


@pytest.mark.parametrize("name", ["stand-in", "advertising.csv", "advertising_kaggle.csv"])
def test_reads_all_three_files(name: str, shared_data: Callable[[str], Path]) -> None:
    path = DEFAULT_DATA_PATH if name == "stand-in" else shared_data(name)
    _check_frame(load_advertising(path), 200)
    # str paths work as well as Path objects
    _check_frame(load_advertising(str(path)), 200)


def test_real_files_agree_on_inputs(shared_data: Callable[[str], Path]) -> None:
    islr = load_advertising(shared_data("advertising.csv"))
    kaggle = load_advertising(shared_data("advertising_kaggle.csv"))
    pd.testing.assert_frame_equal(islr[list(FEATURES)], kaggle[list(FEATURES)])


def test_islr_first_row(shared_data: Callable[[str], Path]) -> None:
    df = load_advertising(shared_data("advertising.csv"))
    assert df.iloc[0].tolist() == [230.1, 37.8, 69.2, 22.1]


def test_load_xt_shapes() -> None:
    x, t = load_xt(DEFAULT_DATA_PATH)
    assert x.shape == (200, 3) and t.shape == (200, 1)
    assert x.dtype == np.float64 and t.dtype == np.float64
    df = load_advertising(DEFAULT_DATA_PATH)
    np.testing.assert_array_equal(x, df[list(FEATURES)].to_numpy())
    np.testing.assert_array_equal(t[:, 0], df[TARGET].to_numpy())


def test_lower_case_headers_and_whitespace(tmp_path: Path) -> None:
    path = _write(tmp_path, " tv ,RADIO,  newspaper,Sales \n1, 2,3 ,4\n5,6,7,8.5\n")
    df = load_advertising(path)
    _check_frame(df, 2)
    assert df.to_numpy().tolist() == [[1, 2, 3, 4], [5, 6, 7, 8.5]]


def test_columns_reordered_to_canonical_order(tmp_path: Path) -> None:
    path = _write(tmp_path, "Sales,Newspaper,Extra,Radio,TV\n4,3,x,2,1\n")
    df = load_advertising(path)
    _check_frame(df, 1)
    assert df.to_numpy().tolist() == [[1, 2, 3, 4]]


def test_crlf_and_bom(tmp_path: Path) -> None:
    text = '"","TV","Radio","Newspaper","Sales"\r\n"1",230.1,37.8,69.2,22.1\r\n"2",44.5,39.3,45.1,10.4\r\n'
    df = load_advertising(_write(tmp_path, text, bom=True))
    _check_frame(df, 2)
    assert df.iloc[1].tolist() == [44.5, 39.3, 45.1, 10.4]


def test_pandas_to_csv_index_column(tmp_path: Path) -> None:
    # DataFrame.to_csv() writes an unquoted empty first header cell; pandas reads it as "Unnamed: 0".
    path = tmp_path / "ad.csv"
    pd.DataFrame({"TV": [1.0], "Radio": [2.0], "Newspaper": [3.0], "Sales": [4.0]}).to_csv(path)
    df = load_advertising(path)
    _check_frame(df, 1)
    assert df.to_numpy().tolist() == [[1, 2, 3, 4]]


def test_missing_column(tmp_path: Path) -> None:
    path = _write(tmp_path, '"","TV","Radio","Sales"\r\n"1",1,2,4\r\n')
    with pytest.raises(MissingColumnError) as info:
        load_advertising(path)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.missing == ["Newspaper"]
    assert err.found == ["TV", "Radio", "Sales"]
    assert Path(err.path) == path
    assert "Newspaper" in str(err)
    assert "TV" in str(err) and "Sales" in str(err)


def test_several_missing_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, "tv,price\n1,2\n")
    with pytest.raises(MissingColumnError) as info:
        load_advertising(path)
    assert info.value.missing == ["Radio", "Newspaper", "Sales"]
    assert info.value.found == ["tv", "price"]
    assert all(name in str(info.value) for name in ["Radio", "Newspaper", "Sales", "price"])


def test_non_numeric_cell(tmp_path: Path) -> None:
    path = _write(tmp_path, "TV,Radio,Newspaper,Sales\n1,2,3,4\n5,six,7,8\n")
    with pytest.raises(ValueError, match=r"Radio.*row 2.*'six'"):
        load_advertising(path)


def test_empty_cell(tmp_path: Path) -> None:
    path = _write(tmp_path, "TV,Radio,Newspaper,Sales\n1,2,3,4\n5,6,7,\n")
    with pytest.raises(ValueError, match=r"Sales.*row 2"):
        load_advertising(path)


def test_ambiguous_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "TV,tv,Radio,Newspaper,Sales\n1,1,2,3,4\n")
    with pytest.raises(ValueError, match="ambiguous"):
        load_advertising(path)


def test_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_advertising(tmp_path / "nope.csv")
