"""Warm workers kept between grading runs of one process (grader/run/pools.py), and the font list a
zygote starts from (launcher.font_list). These tests use the real worker (bubblewrap when the machine has it).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hostile import corpus
from test_containment import alive, write_class

from grader.assignment import Assignment
from grader.cli import main as grade_main
from grader.grade import GradeOptions, grade_class
from grader.run.pools import PoolKeeper, fresh_workers, kept_workers
from grader.run.sandbox import launcher
from grader.run.sandbox.launcher import SandboxSettings
from reference.data import DEFAULT_DATA_PATH

#: a correct file that also prints which fonts its matplotlib knows by a marker's name
FONT_PROBE = corpus.correct_with(
    "import matplotlib.font_manager as _fm\n"
    "print('FONTS', sorted({_f.name for _f in _fm.fontManager.ttflist if _f.name.startswith('Exgrader')}),"
    " 'HOME' if any('/home/' in str(_f.fname) for _f in _fm.fontManager.ttflist) else 'NOHOME', flush=True)\n")


def reports(out: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted((out / "reports").glob("*.json"))}


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The process ids of the workers started while the test runs, in order."""
    pids: list[int] = []
    original = launcher.Worker.start

    def start(self: launcher.Worker) -> None:
        original(self)
        assert self.process is not None
        pids.append(self.process.pid)

    monkeypatch.setattr(launcher.Worker, "start", start)
    return pids


@pytest.fixture
def small_class(tmp_path: Path) -> Path:
    return write_class(tmp_path / "class", {"S0001": corpus.CORRECT, "E0001": corpus.correct_with("1 / 0\n")})


def test_kept_workers_start_once_and_grade_each_run_alike(small_class: Path, tmp_path: Path,
                                                          started: list[int]) -> None:
    """Three runs with the same settings: one worker start; the worker outlives the thread and the run
    that started it (bubblewrap's --die-with-parent follows the starting thread); the reports are the same
    bytes as a run with its own workers; leaving the block stops the kept worker."""
    with fresh_workers():
        assert grade_main([str(small_class), "--out", str(tmp_path / "own"), "--jobs", "1"]) == 0
    assert len(started) == 1 and not alive(started[0])
    with kept_workers():
        for run in range(3):
            assert grade_main([str(small_class), "--out", str(tmp_path / f"kept{run}"), "--jobs", "1"]) == 0
            assert len(started) == 2 and alive(started[1]), started
            assert reports(tmp_path / f"kept{run}") == reports(tmp_path / "own")
    assert not alive(started[1])
    assert json.loads(reports(tmp_path / "own")["E0001.json"])["checks"][0]["passed"] is False  # a real class


def test_an_interrupted_run_kills_its_kept_workers(small_class: Path, tmp_path: Path, started: list[int]) -> None:
    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    options = GradeOptions(path=small_class, out=tmp_path / "out", data=DEFAULT_DATA_PATH, jobs=1)
    with kept_workers():
        with pytest.raises(KeyboardInterrupt):
            grade_class(options, Assignment.named("ex_02").catalogue(), interrupt)
        assert len(started) == 1 and not alive(started[0])
        assert grade_main([str(small_class), "--out", str(tmp_path / "again"), "--jobs", "1"]) == 0
        assert len(started) == 2  # a new worker, not the killed one
    assert json.loads(reports(tmp_path / "again")["S0001.json"])["status"] == "graded"


def test_a_changed_data_file_or_other_settings_get_other_workers(tmp_path: Path) -> None:
    data = tmp_path / "advertising.csv"
    shutil.copyfile(DEFAULT_DATA_PATH, data)
    settings = SandboxSettings.detect(data)
    keeper = PoolKeeper()
    try:
        key = keeper.key(settings, 1)
        assert keeper.key(settings, 1) == key
        assert keeper.key(settings, 2) != key
        assert keeper.key(SandboxSettings.detect(data, unavailable=("scipy",)), 1) != key
        data.write_bytes(data.read_bytes().replace(b"\n", b"\r\n"))  # the worker's copy is made at its start
        assert keeper.key(settings, 1) != key
    finally:
        keeper.close()
    assert not keeper.folder.exists()


def test_the_font_list_keeps_only_fonts_a_worker_can_see(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from matplotlib import font_manager

    def dump(manager: object, path: str) -> None:
        Path(path).write_text(json.dumps({"_version": "x", "afmlist": [{"fname": "/home/ta/.fonts/a.afm"}],
                                          "ttflist": [{"fname": "/home/ta/.local/share/fonts/TA.ttf"},
                                                      {"fname": "/usr/share/fonts/truetype/b.ttf"},
                                                      {"fname": "fonts/ttf/DejaVuSans.ttf"}]}), encoding="utf-8")

    monkeypatch.setattr(font_manager, "json_dump", dump)
    listed = json.loads(launcher.font_list(tmp_path).read_text(encoding="utf-8"))
    assert listed["afmlist"] == []
    assert [font["fname"] for font in listed["ttflist"]] == ["/usr/share/fonts/truetype/b.ttf",
                                                             "fonts/ttf/DejaVuSans.ttf"]
    assert launcher.font_list_name().startswith("fontlist-v")


def test_a_worker_starts_from_the_graders_font_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The zygote's matplotlib knows the fonts of the list it was given (a marker font added to the
    grader's list), not a list it scanned itself; no TA folder shows; the student still gets full marks."""
    original = launcher.font_list

    def marked(scratch: Path) -> Path | None:
        path = original(scratch)
        assert path is not None
        listed = json.loads(path.read_text(encoding="utf-8"))
        if not any(font["name"] == "ExgraderMarker" for font in listed["ttflist"]):
            listed["ttflist"].append({**listed["ttflist"][0], "name": "ExgraderMarker"})
            path.write_text(json.dumps(listed), encoding="utf-8")
        return path

    monkeypatch.setattr(launcher, "font_list", marked)
    folder = write_class(tmp_path / "class", {"F0001": FONT_PROBE})
    with fresh_workers():
        assert grade_main([str(folder), "--out", str(tmp_path / "out"), "--jobs", "1", "--lang", "en"]) == 0
    report = json.loads((tmp_path / "out" / "reports" / "F0001.json").read_text(encoding="utf-8"))
    printed = (tmp_path / "out" / "reports" / "F0001.md").read_text(encoding="utf-8")
    assert "FONTS ['ExgraderMarker'] NOHOME" in printed, printed
    assert report["total"] == report["max"]


def test_the_kept_folder_is_the_keepers_and_goes_with_it() -> None:
    with kept_workers() as keeper:
        assert keeper.folder.is_dir() and keeper.folder.name.startswith("exgrader-kept-")
        assert oct(keeper.folder.stat().st_mode & 0o777) == oct(0o700)  # the run's scratch: the grader's only
    assert not keeper.folder.exists()
