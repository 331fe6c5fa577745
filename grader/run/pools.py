"""Which warm workers a grading run uses.

Normally a run starts its own pool and stops it when the run ends: the CLI grades one class per process.
A process that grades many classes one after another (the test suite grades some fifty small classes)
would spend most of its time starting workers, each importing numpy, pandas and matplotlib afresh. Inside
:func:`kept_workers` a pool outlives its run and the next run with the same sandbox settings takes it warm.

Keeping a pool changes nothing a student can see: a zygote never runs student code (each job is a fresh
fork of it, see zygote.py), so the next run's first student meets the worker exactly as the previous run's
next student would have. An interrupted run still kills its workers (the pool is not kept), and a pool is
lent to one run at a time.

A pool is kept with its grading threads: a worker is started from the thread that first needs it, and
bubblewrap's ``--die-with-parent`` ends the worker when that thread ends.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Hashable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from grader.run.sandbox import launcher
from grader.run.sandbox.launcher import SandboxSettings, WorkerPool


class Lanes:
    """A pool of warm workers and the grading threads that use them, one thread per worker: a thread never
    waits for a worker, so the time a submission's budget counts is its own (two threads per worker gained
    nothing and let one student's slow job eat into another's budget: docs/benchmark.md)."""

    def __init__(self, settings: SandboxSettings, size: int, scratch: Path) -> None:
        self.pool = WorkerPool(settings, size, scratch)
        self.threads = ThreadPoolExecutor(max_workers=size)

    def close(self, *, wait: bool = True) -> None:
        """Stop the threads (dropping queued jobs when not waiting) and kill the workers."""
        self.threads.shutdown(wait=wait, cancel_futures=not wait)
        self.pool.close()


class PoolKeeper:
    """Idle warm pools by what makes a worker what it is; their files live in the keeper's own folder
    (a run's scratch folder is deleted when the run ends, and a worker's data folder is bound from it)."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="exgrader-kept-"))
        self._idle: dict[Hashable, Lanes] = {}
        self._lock = threading.Lock()
        self._made = 0

    @staticmethod
    def key(settings: SandboxSettings, size: int) -> Hashable:
        data = settings.data_file.stat() if settings.data_file is not None else None
        version = (data.st_ino, data.st_size, data.st_mtime_ns) if data is not None else None
        return settings, size, version, launcher.FORK  # the data file's version: its copy is made at start

    def take(self, settings: SandboxSettings, size: int) -> tuple[Hashable, Lanes]:
        key = self.key(settings, size)
        with self._lock:
            lanes = self._idle.pop(key, None)
            if lanes is None:
                self._made += 1
                lanes = Lanes(settings, size, self.folder / str(self._made))
        return key, lanes

    def give_back(self, key: Hashable, lanes: Lanes) -> None:
        with self._lock:
            extra = self._idle.get(key)
            self._idle[key] = lanes
        if extra is not None:  # two runs at once made two: keep one
            extra.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = list(self._idle.values()), {}
        for lanes in idle:
            lanes.close()
        shutil.rmtree(self.folder, ignore_errors=True)


_keeper: PoolKeeper | None = None


@contextmanager
def kept_workers() -> Iterator[PoolKeeper]:
    """Within this block, grading runs of this process keep their warm pools for the next run; on leaving
    it every kept worker is stopped and its files removed."""
    global _keeper
    outer, _keeper = _keeper, PoolKeeper()
    try:
        yield _keeper
    finally:
        keeper, _keeper = _keeper, outer
        keeper.close()


@contextmanager
def fresh_workers() -> Iterator[None]:
    """Within this block every run starts and stops its own pool, as the CLI does (for tests of how
    workers start, restart and stop)."""
    global _keeper
    outer, _keeper = _keeper, None
    try:
        yield
    finally:
        _keeper = outer


@contextmanager
def run_lanes(settings: SandboxSettings, size: int, scratch: Path) -> Iterator[Lanes]:
    """The workers and threads one grading run uses: its own (files in ``scratch``, stopped when the run
    ends) or, inside :func:`kept_workers`, warm ones kept for the next run. An interrupted run (any
    exception) drops its queued jobs and kills its workers at once, kept or not."""
    keeper = _keeper
    key, lanes = keeper.take(settings, size) if keeper is not None else (None, Lanes(settings, size, scratch))
    try:
        yield lanes
    except BaseException:
        lanes.close(wait=False)
        raise
    if keeper is None:
        lanes.close()
    else:
        keeper.give_back(key, lanes)
