"""テスト共通の設定: 本物のデータ (../shared/data/) への道筋。
Shared test setup: access to the real data in ../shared/data/.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

PROJECT_ROOT: Path = Path(__file__).resolve().parent.parent
SHARED_DATA_DIR: Path = PROJECT_ROOT.parent / "shared" / "data"


def shared_data_path(name: str) -> Path:
    """../shared/data/<name> のパスを返す。無ければそのテストをスキップする。
    Return the path of ../shared/data/<name>; skip the calling test when the file is absent.
    """
    path = SHARED_DATA_DIR / name
    if not path.is_file():
        pytest.skip(
            f"real data not available: ../shared/data/{name} not present "
            f"(looked for {path}; only the course's CI and developers have it)"
        )
    return path


@pytest.fixture
def shared_data() -> Callable[[str], Path]:
    """本物のデータのパスを返す関数 (無ければスキップ)。使い方: ``shared_data("advertising.csv")``。
    A function returning the path of a real data file (skips when absent): ``shared_data("advertising.csv")``.
    """
    return shared_data_path
