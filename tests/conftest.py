"""テスト共通の設定: 本物のデータ (../shared/data/) への道筋と、並列実行 (pytest-xdist) のまとまり。
Shared test setup: access to the real data in ../shared/data/, and which tests run together in parallel runs.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from submissions import CLASS, ROSTER

from grader.cli import main as grade_main
from grader.run.pools import fresh_workers, kept_workers

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


def spread_across_workers(fixture: F) -> F:
    """Mark a module- or session-scoped fixture whose tests need not share a pytest-xdist worker: it is cheap
    to make once per worker (a kit built in a second), or made once for the whole run (``once_per_run``)."""
    fixture._spread_across_workers = True  # type: ignore[attr-defined]
    return fixture


def once_per_run(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]) -> Path:
    """The folder ``name`` made by ``make(folder)`` once for the whole test run: the pytest-xdist workers share
    one temporary root, and the first to get there makes it while the other waits (a lock file)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # popen-gw0/ and popen-gw1/ are in this run's own folder
    folder, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        if not done.exists():
            make(folder)
            done.touch()
    return folder


#: test modules about how workers start, restart and stop: their runs start and stop their own, as the CLI's do
FRESH_WORKER_MODULES = {"test_containment", "test_worker_exchange"}


@pytest.fixture(scope="session", autouse=True)
@spread_across_workers
def warm_workers() -> Iterator[None]:
    """The many small classes the suite grades in its processes share warm sandbox workers (see
    grader/run/pools.py): starting them, not grading, was most of the suite's CPU."""
    with kept_workers():
        yield


@pytest.fixture(scope="module", autouse=True)
@spread_across_workers
def own_workers_where_workers_are_tested(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.module.__name__ in FRESH_WORKER_MODULES:
        with fresh_workers():
            yield
    else:
        yield


@pytest.fixture(scope="session")
@spread_across_workers
def graded_example_class(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/class graded as the README shows (its roster, two jobs, reports in Japanese), once for the
    whole run: the golden scenarios read it, and the student kit is compared with it. Read only."""
    def make(out: Path) -> None:
        assert grade_main([str(CLASS), "--out", str(out), "--roster", str(ROSTER), "--jobs", "2"]) == 0

    return once_per_run(tmp_path_factory, "graded-example-class", make)


@pytest.fixture(scope="session")
@spread_across_workers
def graded_variants(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The golden verdict variants (tests/test_verdict_variants.py) and the file without machine learning,
    in one folder graded with two jobs, once for the whole run: ``(folder, out)``. Read only."""
    from test_verdict_variants import VARIANTS, variant_text

    def make(root: Path) -> None:
        folder = root / "class"
        folder.mkdir(parents=True, exist_ok=True)  # a worker whose grading failed may have begun it
        for variant_id in [*VARIANTS, "V31"]:
            (folder / f"ex_02_{variant_id}.py").write_text(variant_text(variant_id), encoding="utf-8")
        assert grade_main([str(folder), "--out", str(root / "out"), "--jobs", "2"]) == 0

    root = once_per_run(tmp_path_factory, "graded-variants", make)
    return root / "class", root / "out"


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
                    and not getattr(definition.func, "_spread_across_workers", False)):
                module = definition.baseid.rpartition("/")[2].removesuffix(".py")
                nodes.append(f"{module}.{name}")  # no "::" nor "/": xdist reads the group off the test's id
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
