"""Advertising データの読み込み (プロジェクト全体で使う唯一のローダ)。
Loader for the Advertising data (the one loader the whole project uses).

読めるファイル / Files it reads:

- ISLR 版: 先頭に名前のない引用符付きインデックス列 ``""``、CRLF 改行。
  the ISLR file: a quoted, unnamed index column ``""`` first, CRLF line ends.
- Kaggle 版: ヘッダ ``TV,Radio,Newspaper,Sales``、インデックス列なし。
  the Kaggle file: header ``TV,Radio,Newspaper,Sales``, no index column.
- 本プロジェクトの合成データ ``data/advertising.csv`` (ISLR 版と同じ形式)。
  this project's synthetic stand-in ``data/advertising.csv`` (same format as the ISLR file).

列名は大文字小文字と前後の空白を無視して照合し、BOM も受け付けます。
Column names are matched ignoring case and surrounding whitespace; a UTF-8 BOM is accepted.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

FEATURES: tuple[str, ...] = ("TV", "Radio", "Newspaper")
TARGET: str = "Sales"
COLUMNS: tuple[str, ...] = (*FEATURES, TARGET)

PROJECT_ROOT: Path = Path(__file__).resolve().parent.parent
# プロジェクト同梱の合成データ / the synthetic stand-in shipped with the project
DEFAULT_DATA_PATH: Path = PROJECT_ROOT / "data" / "advertising.csv"
# 本物のデータ (コースの CI と開発者のみ; 利用者の環境には無いことがある)
# the real data (only the course's CI and developers have it; may not exist on a user's machine)
SHARED_DATA_DIR: Path = PROJECT_ROOT.parent / "shared" / "data"

_UNNAMED = re.compile(r"^(|Unnamed: \d+)$")


class MissingColumnError(ValueError):
    """必要な列がファイルに無いときのエラー。
    Raised when a required column is not in the file.

    Attributes:
        path: 読んだファイル / the file that was read.
        missing: 見つからなかった列 (正式な表記) / the missing columns (canonical names).
        found: ファイルにあった列名 (無名インデックス列を除く) / the column names found (unnamed index excluded).
    """

    def __init__(self, path: str | os.PathLike[str], missing: list[str], found: list[str]) -> None:
        self.path = path
        self.missing = missing
        self.found = found
        super().__init__(
            f"{os.fspath(path)}: missing column(s) {', '.join(missing)}; "
            f"found column(s): {', '.join(repr(name) for name in found) or '(none)'}"
        )


def load_advertising(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Advertising の CSV を読み、列 TV, Radio, Newspaper, Sales (float64, この順, index 0..n-1) を返す。
    Read an Advertising CSV; return columns TV, Radio, Newspaper, Sales (float64, in that order, index 0..n-1).

    Raises:
        FileNotFoundError: ファイルが無い / the file does not exist.
        MissingColumnError: 必要な列が無い / a required column is missing.
        ValueError: 数値でないセル、または列名の重複 / a non-numeric cell, or an ambiguous column name.
    """
    # Everything as text first, so that an error message can quote the offending cell.
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    names = {str(name): str(name).strip() for name in raw.columns}
    found = [stripped for stripped in names.values() if not _UNNAMED.match(stripped)]

    by_key: dict[str, list[str]] = {}
    for name, stripped in names.items():
        by_key.setdefault(stripped.casefold(), []).append(name)

    missing = [col for col in COLUMNS if col.casefold() not in by_key]
    if missing:
        raise MissingColumnError(path, missing, found)

    columns: dict[str, np.ndarray] = {}
    for col in COLUMNS:
        matches = by_key[col.casefold()]
        if len(matches) > 1:
            raise ValueError(f"{os.fspath(path)}: column {col} is ambiguous: {matches}")
        columns[col] = _to_float(raw[matches[0]], path, col)
    return pd.DataFrame(columns, columns=list(COLUMNS))


def _to_float(cells: pd.Series, path: str | os.PathLike[str], column: str) -> np.ndarray:
    """文字列の列を float64 に変換する。変換できないセルがあれば列名と行番号付きで ValueError。
    Convert a text column to float64; raise ValueError naming the column and row of a bad cell.
    """
    text = cells.str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = int(bad[0])
        raise ValueError(
            f"{os.fspath(path)}: column {column}, data row {row + 1} (1-based, header not counted): "
            f"{text.iloc[row]!r} is not a finite number"
        )
    return values


def load_xt(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """入力 x (n, 3) と目標 t (n, 1) を float64 で返す。
    Return the inputs x (n, 3) and the targets t (n, 1) as float64.
    """
    df = load_advertising(path)
    x = df[list(FEATURES)].to_numpy(dtype=np.float64)
    t = df[[TARGET]].to_numpy(dtype=np.float64)
    return x, t
