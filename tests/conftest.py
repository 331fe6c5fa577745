"""テスト共通の設定: 本物のデータ (../shared/data/) への道筋と、並列実行 (pytest-xdist) のまとまり。
Shared test setup: access to the real data in ../shared/data/, and which tests run together in parallel runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

PROJECT_ROOT: Path = Path(__file__).resolve().parent.parent
SHARED_DATA_DIR: Path = PROJECT_ROOT.parent / "shared" / "data"
F = TypeVar("F", bound=Callable[..., object])


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


def cheap_per_worker(fixture: F) -> F:
    """Mark a module- or session-scoped fixture as cheap enough to be made once per pytest-xdist worker: its
    tests are then not kept together (a kit built in a second, a class graded once through a lock)."""
    fixture._cheap_per_worker = True  # type: ignore[attr-defined]
    return fixture


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep together, on one pytest-xdist worker, the tests that share a module- or session-scoped fixture of
    ours (a class graded once, a kit built once), and those given one ``xdist_group`` by hand (tests that are
    not safe side by side). Without this, ``--dist loadgroup`` would grade such a class once per worker.

    Tests that share a fixture are joined transitively: a test using two graded classes puts both
    fixtures' tests in one group. Other tests go to whichever worker is free.
    """
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        while parent.setdefault(node, node) != node:
            node = parent[node]
        return node

    nodes_of: dict[int, list[str]] = {}
    for index, item in enumerate(items):
        nodes = [f"group:{mark.args[0] if mark.args else mark.kwargs.get('name', 'default')}"
                 for mark in item.iter_markers("xdist_group")]
        info = getattr(item, "_fixtureinfo", None)
        for name, definitions in (info.name2fixturedefs.items() if info is not None else ()):
            definition = definitions[-1]
            if (definition.scope != "function" and definition.baseid  # ours: pytest's own have no baseid
                    and not getattr(definition.func, "_cheap_per_worker", False)):
                nodes.append(f"{definition.baseid}::{name}")
        if nodes:
            nodes_of[index] = nodes
            for node in nodes:
                parent[find(node)] = find(nodes[0])
    members: dict[str, list[str]] = {}
    for node in list(parent):
        members.setdefault(find(node), []).append(node)
    names = {root: min((node.removeprefix("group:") for node in group if node.startswith("group:")), default=None)
             or min(group) for root, group in members.items()}
    for index, nodes in nodes_of.items():
        name = names[find(nodes[0])]
        if all(mark.args[:1] != (name,) and mark.kwargs.get("name") != name
               for mark in items[index].iter_markers("xdist_group")):
            items[index].add_marker(pytest.mark.xdist_group(name))
