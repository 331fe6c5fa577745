"""Memory and CPU of a process tree, sampled from /proc (Linux only).

``TreeMonitor(pid).start()`` samples the tree rooted at ``pid`` about every ``interval`` seconds from a
background thread: the sum of RSS over the tree, the sum of PSS (proportional set size: shared pages
such as the zygote's copy-on-write numpy/pandas pages counted once, split between the processes that
share them) every ``pss_every`` samples, the peak RSS of each process (its ``VmHWM``) by role, and the
CPU time of each process including its reaped children. A sample reads a few /proc files per process,
cheap enough to take at 20 Hz beside the run it measures.

Roles: ``grader`` (the root), ``bwrap`` (the sandbox's own processes), ``zygote`` (a warm worker:
runs ``zygote.py`` and its parent is not itself a zygote), ``runner`` (a fork of a zygote: one job's own
process, or the short-lived fork that wipes files after a lost runner) and ``child`` (a fork of a runner:
one submission, and what it starts).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")
MB = 2**20


@dataclass
class ProcInfo:
    pid: int
    ppid: int
    comm: str
    cpu_own: float  # utime + stime, seconds
    cpu_children: float  # cutime + cstime: reaped children
    uid: int = -1
    cmdline: str = ""
    rss: int = 0
    hwm: int = 0


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def read_stat(pid: int) -> ProcInfo | None:
    raw = _read(f"/proc/{pid}/stat")
    if raw is None:
        return None
    text = raw.decode("utf-8", "replace")
    comm = text[text.index("(") + 1: text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    # fields[0] is state (field 3); ppid field 4; utime 14, stime 15, cutime 16, cstime 17
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return ProcInfo(pid, ppid, comm, (utime + stime) / TICK, (cutime + cstime) / TICK)


def read_status(info: ProcInfo) -> None:
    raw = _read(f"/proc/{info.pid}/status")
    if raw is None:
        return
    for line in raw.decode("utf-8", "replace").splitlines():
        if line.startswith("VmRSS:"):
            info.rss = int(line.split()[1]) * 1024
        elif line.startswith("VmHWM:"):
            info.hwm = int(line.split()[1]) * 1024
        elif line.startswith("Uid:"):
            info.uid = int(line.split()[1])


def read_pss(pid: int) -> int:
    raw = _read(f"/proc/{pid}/smaps_rollup")
    if raw is None:
        return 0
    for line in raw.decode("utf-8", "replace").splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def children_of(pid: int) -> list[int] | None:
    """Direct children from /proc/<pid>/task/<tid>/children (every thread can be a parent)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found: list[int] = []
    for tid in tasks:
        raw = _read(f"/proc/{pid}/task/{tid}/children")
        if raw is None:
            return None  # kernel without CONFIG_PROC_CHILDREN: fall back to a full scan
        found += [int(word) for word in raw.split()]
    return found


def descendants(root: int) -> list[int]:
    """``root`` and every process below it."""
    result, queue = [], [root]
    while queue:
        pid = queue.pop(0)  # breadth first: parents before their children
        result.append(pid)
        kids = children_of(pid)
        if kids is None:
            return _descendants_by_scan(root)
        queue += kids
    return result


def _descendants_by_scan(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            info = read_stat(int(name))
            if info is not None:
                parents.setdefault(info.ppid, []).append(info.pid)
    result, queue = [], [root]
    while queue:
        pid = queue.pop(0)
        result.append(pid)
        queue += parents.get(pid, [])
    return result


@dataclass
class TreeMonitor:
    root: int
    interval: float = 0.05
    pss_every: int = 4
    samples: int = 0
    peak_tree_rss: int = 0
    peak_tree_pss: int = 0
    peak_by_role: dict[str, int] = field(default_factory=dict)
    cpu_by_pid: dict[int, tuple[str, float]] = field(default_factory=dict)
    roles_seen: dict[str, int] = field(default_factory=dict)
    child_uid_by_pid: dict[int, int] = field(default_factory=dict)  # last uid seen: forks start as the zygote's
    sample_seconds: float = 0.0
    others: dict[str, int] = field(default_factory=dict)  # command name -> peak RSS of unexpected processes
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _seen: set[int] = field(default_factory=set)
    _cmdlines: dict[int, str] = field(default_factory=dict)

    def start(self) -> TreeMonitor:
        self._thread = threading.Thread(target=self._loop, name="procmon", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _cmdline(self, pid: int) -> str:
        if pid not in self._cmdlines:
            raw = _read(f"/proc/{pid}/cmdline") or b""
            self._cmdlines[pid] = raw.replace(b"\0", b" ").decode("utf-8", "replace")
        return self._cmdlines[pid]

    def _role(self, info: ProcInfo, infos: dict[int, ProcInfo], roles: dict[int, str]) -> str:
        """``infos`` is in tree order (parents first), so the parent's role is known already."""
        parent = roles.get(info.ppid)
        if info.pid == self.root:
            return "grader"
        if parent == "zygote":
            return "runner"  # the zygote forks one runner per job (the runner forks the student's child)
        if parent in ("runner", "child"):
            return "child"  # the student's child, and what that starts
        if info.comm == "bwrap":
            return "bwrap"
        if "zygote.py" in self._cmdline(info.pid):  # bwrap's own command line names zygote.py too
            return "zygote"
        if "grader.copydetect.copycheck" in self._cmdline(info.pid):  # copy detection beside grading (nice 19)
            return "copycheck"
        return "other"

    def sample(self) -> None:
        started = time.perf_counter()
        infos: dict[int, ProcInfo] = {}
        for pid in descendants(self.root):
            info = read_stat(pid)
            if info is None:
                continue
            read_status(info)
            infos[pid] = info
        tree_rss = 0
        roles: dict[int, str] = {}
        for info in infos.values():
            role = roles[info.pid] = self._role(info, infos, roles)
            tree_rss += info.rss
            self.peak_by_role[role] = max(self.peak_by_role.get(role, 0), info.hwm)
            if info.pid not in self._seen:
                self._seen.add(info.pid)
                self.roles_seen[role] = self.roles_seen.get(role, 0) + 1
            if role == "child":
                self.child_uid_by_pid[info.pid] = info.uid
            if role == "other":
                self.others[info.comm] = max(self.others.get(info.comm, 0), info.hwm)
            if role in ("grader", "zygote", "bwrap", "copycheck"):  # children's CPU arrives in their zygote's cutime
                extra = info.cpu_children if role == "zygote" else 0.0
                self.cpu_by_pid[info.pid] = (role, info.cpu_own + extra)
        self.peak_tree_rss = max(self.peak_tree_rss, tree_rss)
        if self.samples % self.pss_every == 0:
            self.peak_tree_pss = max(self.peak_tree_pss, sum(read_pss(pid) for pid in infos))
        self.samples += 1
        self.sample_seconds += time.perf_counter() - started

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    @property
    def child_uids(self) -> dict[int, int]:
        """How many children were last seen under each uid. A fork sampled between ``fork()`` and the drop
        of privileges still shows the zygote's uid (0 as root); -1: gone before its status was read."""
        counts: dict[int, int] = {}
        for uid in self.child_uid_by_pid.values():
            counts[uid] = counts.get(uid, 0) + 1
        return dict(sorted(counts.items()))

    def cpu_by_role(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for role, seconds in self.cpu_by_pid.values():
            totals[role] = totals.get(role, 0.0) + seconds
        return totals
