"""The warm worker: imports numpy, pandas and matplotlib once, then forks one child per submission.

Runs inside the sandbox (bubblewrap, when available). Reads one job per line on stdin, answers one JSON
line per job on stdout. Between two jobs it makes sure that nothing of the previous submission is left
for the next one: each child starts from the zygote's pristine memory (a fresh fork), so monkeypatched
modules and signal handlers die with it; every process the child started is killed (the zygote is a
child subreaper, so even a double-forked ``setsid`` daemon comes back to it and is waited for); the
private ``/tmp`` and ``/dev/shm`` are emptied, whatever permissions the child set; System V IPC objects
the child created are removed. Only the standard library, numpy, pandas, matplotlib and the two
sibling modules are imported here: never the grader package.

Why a fork server: a fork of a warm interpreter costs a small fraction of a fresh one that imports numpy
and pandas (docs/benchmark.md).
"""

from __future__ import annotations

import ctypes
import gc
import importlib.abc
import io
import json
import os
import secrets
import selectors
import shutil
import signal
import site
import stat
import subprocess
import sys
import threading
import time
from typing import Any

try:
    import fcntl
    import resource
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
    resource = None  # type: ignore[assignment]

HERE = os.path.dirname(os.path.abspath(__file__))
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
IPC_RMID = 0
MAX_RESULT_BYTES = 16 * 1024 * 1024  # what one job may send back; an honest job's results are far less
#: result bytes the answer carries as they are: printable ASCII and newlines (the child writes json.dumps'
#: ASCII); anything else becomes "?", so that escaping cannot make an answer more than twice its bytes
_RESULT_BYTES = bytes(range(256)).translate(
    bytes.maketrans(bytes(i for i in range(256) if not (32 <= i < 127 or i == 10)),
                    b"?" * (256 - 96)))
RESULT_PIPE_BYTES = 1024 * 1024  # the default pipe-max-size; an honest job's results fit
POLL_SECONDS = 0.05  # how often the watchdog looks at /tmp while the child runs
SWEEP_SECONDS = 5.0
LINUX = sys.platform.startswith("linux")

child: Any = None  # the sibling module child.py, imported by main() once sys.path is cleaned
_libc: Any = None


def libc() -> Any:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def prctl(option: int, value: int) -> None:
    try:
        libc().prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux
        pass


class HiddenPackages(importlib.abc.MetaPathFinder):
    """``import grader`` / ``import reference`` (and the assignment's unavailable libraries) fail in the child
    exactly as they do in the sandbox, also where there is no sandbox (an installed copy of the grader would
    otherwise be importable). The grader's in-process runner (grader/run/inprocess.py) uses it too."""

    def __init__(self, names: list[str]) -> None:
        self.names = set(names)

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def clean_import_path(config: dict[str, Any]) -> None:
    """Our sibling folder first, without the project root (an editable install puts it on sys.path, and
    it holds the reference solutions and the checks), then import the sibling child.py."""
    for folder in config.get("site_dirs", []):  # a runtime relocated from /tmp (launcher.interpreter)
        site.addsitedir(folder)
    hidden = {os.path.abspath(path) for path in config.get("hidden_paths", [])}
    sys.path[:] = [HERE] + [entry for entry in sys.path
                            if entry and entry != HERE and os.path.abspath(entry) not in hidden]
    sys.meta_path.insert(0, HiddenPackages(list(config.get("hidden_modules", []))))
    global child
    import child as sibling  # after the path is cleaned: the sibling file, never grader.run.sandbox.child

    child = sibling


def preload() -> None:
    """Import the heavy libraries once, so that every forked child has them for free."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot
    import pandas  # noqa: F401


# --- the child ----------------------------------------------------------------------------------------
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
#: the kernel keyring syscalls (add_key, request_key, keyctl) by architecture (its AUDIT_ARCH value). The
#: keyrings of a uid outlive its processes and, for an ordinary-user TA, are the TA's own: a key put there
#: would pass to the next student (and to the TA's other sessions). Nothing a submission needs uses them.
KEYRING_SYSCALLS = {"x86_64": (0xC000003E, (248, 249, 250)), "aarch64": (0xC00000B7, (217, 218, 219))}


class SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


def refuse_keyrings() -> bool:
    """A seccomp filter that makes the keyring syscalls fail with EPERM (and every syscall of another
    architecture's ABI, such as x32 or int 0x80, through which they could be reached otherwise).

    Nine classic-BPF instructions written out here rather than a libseccomp binding: libseccomp is not on
    every machine, and this is the whole filter. Returns False where it cannot be installed (not Linux, an
    architecture not listed): then only the sandbox's other walls hold, as the threat model says. Raises
    OSError when the kernel refuses it (the child then does not run: fail closed).
    """
    arch = KEYRING_SYSCALLS.get(os.uname().machine) if LINUX else None
    if arch is None:
        return False
    audit_arch, (add_key, request_key, keyctl) = arch
    load, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_JMP|JGE|K, BPF_RET|K
    allow, deny = 0x7FFF0000, 0x00050000 | 1  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM
    program = [(load, 0, 0, 4), (jeq, 0, 6, audit_arch),  # seccomp_data.arch: another ABI is refused
               (load, 0, 0, 0), (jge, 4, 0, 0x40000000),  # seccomp_data.nr; x32 syscalls are refused
               (jeq, 3, 0, add_key), (jeq, 2, 0, request_key), (jeq, 1, 0, keyctl),
               (ret, 0, 0, allow), (ret, 0, 0, deny)]
    filters = (SockFilter * len(program))(*(SockFilter(*instruction) for instruction in program))
    fprog = SockFprog(len(program), filters)
    if libc().prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "seccomp filter refused")
    return True


def apply_limits(limits: dict[str, Any]) -> None:
    """Resource limits of the child; the address-space limit counts from what the zygote already maps.
    On Linux a limit that cannot be set is an error; elsewhere (macOS) limits are best effort."""
    if resource is None:
        return

    def cap(kind: int, value: int) -> None:
        try:
            resource.setrlimit(kind, (value, value))
        except (ValueError, OSError):
            _soft, hard = resource.getrlimit(kind)
            if hard != resource.RLIM_INFINITY and value > hard:
                resource.setrlimit(kind, (hard, hard))
            elif LINUX:
                raise

    if limits.get("memory_mb") and LINUX:  # macOS does not enforce RLIMIT_AS (and has no /proc)
        with open("/proc/self/statm") as handle:
            mapped = int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        cap(resource.RLIMIT_AS, mapped + limits["memory_mb"] * 2**20)
    if limits.get("cpu_seconds"):
        cap(resource.RLIMIT_CPU, int(limits["cpu_seconds"]))
    if limits.get("file_mb"):
        cap(resource.RLIMIT_FSIZE, limits["file_mb"] * 2**20)
    if limits.get("open_files"):
        cap(resource.RLIMIT_NOFILE, limits["open_files"])
    if limits.get("processes"):
        cap(resource.RLIMIT_NPROC, limits["processes"])
    cap(resource.RLIMIT_CORE, 0)
    if hasattr(resource, "RLIMIT_MSGQUEUE"):
        cap(resource.RLIMIT_MSGQUEUE, 0)  # no POSIX message queue: it would outlive the job


def become_child(job: dict[str, Any], result_w: int, output_w: int, config: dict[str, Any]) -> None:
    """In the forked child: drop privileges, limit, redirect, then hand over to child.child_main."""
    try:
        prctl(PR_SET_NO_NEW_PRIVS, 1)  # no setuid binary can give the student privileges back
        os.setsid()  # its own process group: killpg(0) or kill(0) hit the submission, not the worker
        uid = config.get("child_uid")
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        refuse_keyrings()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(output_w, 1)
        os.dup2(output_w, 2)
        os.dup2(result_w, 3)
        os.closerange(4, 65536)
        for number in (signal.SIGPIPE, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(number, signal.SIG_DFL)
        # a grader started with SIGINT ignored (nohup, `cmd &` in a script) must not hand that on: the
        # student's code starts as a fresh `python` does, with KeyboardInterrupt on SIGINT
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writing past the file limit raises instead
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
        sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
        apply_limits(job.get("limits", {}))
        child.child_main(job, 3)
    except BaseException:
        os._exit(70)
    os._exit(0)


# --- after the child: kill what it left, wipe what it wrote -------------------------------------------
def reap_all() -> bool:
    """Reap every exited child; True when we have no child left at all."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        if pid == 0:
            return False


def proc_children(me: int) -> list[int]:
    """Our children, from /proc (Linux without the sandbox: find what reparented to us)."""
    found = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return found
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 1 and int(fields[1]) == me:
            found.append(int(name))
    return found


def sweep(config: dict[str, Any], pid: int) -> None:
    """Kill everything the child left behind, and wait until it is gone.

    We are a child subreaper: every orphan of the submission is reparented to us, so "no child left"
    means "no process of the submission left". In our PID namespace, kill(-1) reaches all of them at
    once (every process but us and the namespace's init); without a namespace, the child's process group
    and then, repeatedly, whatever reparented to us.
    """
    deadline = time.monotonic() + SWEEP_SECONDS
    me = os.getpid()
    while True:
        if config["sandboxed"]:
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
        else:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            for other in proc_children(me) if LINUX and not reap_all() else ():
                try:
                    os.kill(other, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        if reap_all() or time.monotonic() > deadline:
            return
        time.sleep(0.0005)


def remove_all(paths: list[str], spare_folder: str) -> None:
    """Delete files and folders whatever the child did to them: a folder is made ours-only (0700) before
    it is listed, and its subfolders are moved up into ``spare_folder`` and handled in turn, so that a very
    deep tree needs neither recursion nor long paths."""
    token = secrets.token_hex(4)
    moved = 0
    pending = list(paths)
    while pending:
        path = pending.pop()
        try:
            mode = os.lstat(path).st_mode
            if not stat.S_ISDIR(mode):
                os.unlink(path)
                continue
            os.chmod(path, 0o700)
            names = os.listdir(path)
        except OSError:
            continue
        for name in names:
            inner = os.path.join(path, name)
            try:
                if stat.S_ISDIR(os.lstat(inner).st_mode):
                    target = os.path.join(spare_folder, f".wipe-{token}-{moved}")
                    moved += 1
                    os.chmod(inner, 0o700)
                    os.rename(inner, target)
                    pending.append(target)
                else:
                    os.unlink(inner)
            except OSError:
                pass
        try:
            os.rmdir(path)
        except OSError:
            pass


def remove_ipc() -> None:
    """System V shared memory, message queues and semaphores outlive their process: remove them all
    (only the child's uid creates any; they live in the worker's own IPC namespace)."""
    removers = (("shm", lambda ident: libc().shmctl(ident, IPC_RMID, None)),
                ("msg", lambda ident: libc().msgctl(ident, IPC_RMID, None)),
                ("sem", lambda ident: libc().semctl(ident, 0, IPC_RMID)))
    for kind, remove in removers:
        try:
            with open(f"/proc/sysvipc/{kind}") as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 1 and fields[1].isdigit():
                remove(int(fields[1]))


def wipe(config: dict[str, Any], workdir: str) -> None:
    """Remove what the child wrote: its folder, and in the sandbox everything in /tmp and /dev/shm
    (nothing of ours lives there after start-up) and its IPC objects. A root zygote has no
    CAP_DAC_OVERRIDE/CAP_FOWNER: it acts as the child's uid for this (seteuid; no extra process)."""
    uid = config.get("child_uid")
    if uid is not None:
        os.seteuid(uid)
    try:
        if not config["sandboxed"]:
            remove_all([workdir], os.path.dirname(workdir))
            return
        for folder in ("/tmp", "/dev/shm"):
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            remove_all([os.path.join(folder, name) for name in names], folder)
        remove_ipc()
    finally:
        if uid is not None:
            os.seteuid(0)


def tmp_overused(config: dict[str, Any]) -> str | None:
    """Whether the child created more files in /tmp or /dev/shm than allowed (their bytes are capped by
    the tmpfs size; their number is not, and each costs kernel memory)."""
    limit = int(config.get("tmp_files") or 0)
    if not config["sandboxed"] or not limit:
        return None
    for folder in ("/tmp", "/dev/shm"):
        try:
            info = os.statvfs(folder)
        except OSError:
            continue
        if info.f_files and info.f_files - info.f_ffree > limit:
            return child.protocol.Limit.TMP_FILES.value
    return None


# --- one job -------------------------------------------------------------------------------------------
class Collected:
    """What came through the two pipes: the result lines (at most ``max_lines`` lines and MAX_RESULT_BYTES,
    past which the child is stopped) and the printed output (first part kept, everything counted)."""

    def __init__(self, keep: int, max_lines: int = 1 << 20) -> None:
        self.keep = keep
        self.output = bytearray()
        self.output_total = 0
        self.results = bytearray()
        self.lines = 0
        self.max_lines = max_lines
        self.overflow = False

    def add(self, kind: str, chunk: bytes) -> None:
        if kind == "output":
            self.output_total += len(chunk)
            if len(self.output) < self.keep:
                self.output += chunk[: self.keep - len(self.output)]
            return
        if self.overflow:
            return
        lines = chunk.count(b"\n")
        if len(self.results) + len(chunk) <= MAX_RESULT_BYTES and self.lines + lines <= self.max_lines:
            self.results += chunk
            self.lines += lines
        else:  # a flood: keep the whole lines that fit, drop the rest (the child is stopped)
            self.overflow = True
            room = chunk[: max(0, MAX_RESULT_BYTES - len(self.results))]
            cut = -1
            for _ in range(max(0, self.max_lines - self.lines)):
                found = room.find(b"\n", cut + 1)
                if found < 0:
                    break
                cut = found
            self.results += room[: cut + 1]

    def result_lines(self) -> list[str]:
        return self.results.translate(_RESULT_BYTES).decode("ascii").splitlines()


def enlarge_pipe(fd: int) -> bool:
    """Whether the pipe now holds RESULT_PIPE_BYTES (Linux only; capped by /proc/sys/fs/pipe-max-size)."""
    try:
        return fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, RESULT_PIPE_BYTES) >= RESULT_PIPE_BYTES
    except (AttributeError, OSError):
        return False


def drain(fd: int, kind: str, collected: Collected) -> int:
    """Read what a pipe holds now, without waiting: what is left once its writers are dead (or, without
    a sandbox, stop at once when a survivor still holds it), or the results so far. Returns the bytes read."""
    os.set_blocking(fd, False)
    read = 0
    while True:
        try:
            chunk = os.read(fd, 65536)
        except (BlockingIOError, InterruptedError):
            return read
        if not chunk:
            return read
        read += len(chunk)
        collected.add(kind, chunk)


def job_workdir(config: dict[str, Any]) -> str:
    return os.path.join("/tmp" if config["sandboxed"] else config["own_tmp"], "job-" + secrets.token_hex(8))


def run_job(job: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Fork a child for one job, collect its results and output, enforce the wall clock, the watchdog
    and the bound on results, then clean up (kill leftovers, wipe files) before answering."""
    job.setdefault("workdir", job_workdir(config))
    limits = job.setdefault("limits", {})
    if config.get("tmp_mb"):
        limits.setdefault("tmp_mb", config["tmp_mb"])
    result_r, result_w = os.pipe()
    output_r, output_w = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(result_r)
        os.close(output_r)
        become_child(job, result_w, output_w, config)
    os.close(result_w)
    os.close(output_w)
    deadline = started + float(limits.get("wall_seconds", 20))
    # a load report, a line per case, "done": anything more is a flood
    max_lines = len(job.get("cases", [])) - int(job.get("start", 0) or 0) + 3
    collected = Collected(int(limits.get("output_bytes", 65536)), max_lines)
    selector = selectors.DefaultSelector()
    selector.register(output_r, selectors.EVENT_READ, "output")
    try:  # a pidfd tells us the child has exited even when a leftover process keeps the pipes open
        exit_fd: int | None = os.pidfd_open(pid)
        selector.register(exit_fd, selectors.EVENT_READ, "exit")
    except (AttributeError, OSError):
        exit_fd = None
    # The child writes one result line per case. Waking up for each would cost more CPU than the line:
    # with a pidfd and a pipe large enough for a whole job's results, they are read at the watchdog's
    # polls and at exit instead (a child that fills the pipe waits for the next poll, which then
    # switches to reading as it comes).
    results_polled = exit_fd is not None and enlarge_pipe(result_r)
    if not results_polled:
        selector.register(result_r, selectors.EVENT_READ, "result")
    status: int | None = None
    timed_out = False
    limit = None
    next_check = started + POLL_SECONDS
    while status is None:
        now = time.monotonic()
        if now >= deadline:
            timed_out = True
            break
        if now >= next_check:
            next_check = now + POLL_SECONDS
            if results_polled and drain(result_r, "result", collected) >= RESULT_PIPE_BYTES // 2:
                # a big answer (a huge array): read it as it comes, not a pipe's worth per poll
                results_polled = False
                selector.register(result_r, selectors.EVENT_READ, "result")
            limit = tmp_overused(config)
            if limit:
                break
        if collected.overflow:
            limit = child.protocol.Limit.RESULTS.value
            break
        # without a pidfd and with both pipes closed, only waitpid can tell: look again soon
        idle = POLL_SECONDS if selector.get_map() else 0.001
        events = selector.select(timeout=min(deadline - now, idle))
        exited = exit_fd is None
        for key, _ in events:
            if key.data == "exit":
                exited = True
                continue
            chunk = os.read(key.fd, 65536)
            if chunk:
                collected.add(key.data, chunk)
            else:
                selector.unregister(key.fd)
        if exited:
            waited, code = os.waitpid(pid, os.WNOHANG)
            if waited:
                status = code
    elapsed = time.monotonic() - started
    if status is None:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _, status = os.waitpid(pid, 0)
    sweep(config, pid)
    drain(result_r, "result", collected)
    drain(output_r, "output", collected)
    selector.close()
    for fd in (result_r, output_r, exit_fd):
        if fd is not None:
            os.close(fd)
    wipe(config, job["workdir"])
    if collected.overflow:
        limit = child.protocol.Limit.RESULTS.value
    answer = {
        "timed_out": timed_out,
        "exit_code": os.waitstatus_to_exitcode(status),
        "seconds": round(elapsed, 4),
        "result_overflow": collected.overflow,
        "results": collected.result_lines(),
        "output": collected.output.decode("utf-8", errors="replace"),
        "output_bytes": collected.output_total,
    }
    if limit:
        answer["limit"] = limit
    return answer


# --- without fork (Windows) ---------------------------------------------------------------------------
def run_job_spawned(job: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """One job in a fresh interpreter (``zygote.py CONFIG --child``): costs the imports but needs
    neither fork nor select on pipes. Only the wall clock and the child's own limits apply; on Windows
    what the child starts is not killed (no sandbox there at all)."""
    job["workdir"] = os.path.join(config["own_tmp"], "job-" + secrets.token_hex(8))
    limits = job.setdefault("limits", {})
    collected = Collected(int(limits.get("output_bytes", 65536)))
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-I", "-B", os.path.abspath(__file__), json.dumps(config), "--child"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               cwd=config["own_tmp"], start_new_session=hasattr(os, "setsid"))

    def pump(stream: Any, kind: str) -> None:
        while chunk := stream.read1(65536):
            collected.add(kind, chunk)

    pumps = [threading.Thread(target=pump, args=(process.stdout, "result"), daemon=True),
             threading.Thread(target=pump, args=(process.stderr, "output"), daemon=True)]
    for thread in pumps:
        thread.start()
    timed_out = False
    try:
        process.stdin.write(json.dumps(job).encode())
        process.stdin.close()
    except OSError:  # it died before reading its job
        pass
    try:
        process.wait(timeout=float(limits.get("wall_seconds", 20)))
    except subprocess.TimeoutExpired:
        timed_out = True
        process.kill()
        process.wait()
    elapsed = time.monotonic() - started
    if hasattr(os, "killpg"):
        sweep(config, process.pid)
    for thread in pumps:
        thread.join(timeout=2.0)  # a leftover that holds the pipes (Windows) must not hold the worker
    remove_all([job["workdir"]], config["own_tmp"])
    return {"timed_out": timed_out, "exit_code": process.returncode,
            "seconds": round(elapsed, 4), "result_overflow": collected.overflow,
            "results": collected.result_lines(),
            "output": collected.output.decode("utf-8", errors="replace"), "output_bytes": collected.output_total}


def spawned_child(config: dict[str, Any]) -> None:
    """The child of :func:`run_job_spawned`: results on the original stdout, printed output on stderr."""
    clean_import_path(config)
    job = json.loads(sys.stdin.buffer.read())
    result_fd = os.dup(1)
    os.dup2(2, 1)
    try:
        sys.stdin = open(os.devnull)
        sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
        sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
        apply_limits(job.get("limits", {}))
        child.child_main(job, result_fd)
    except BaseException:
        os._exit(70)
    os._exit(0)


# --- the exchange with the grader ------------------------------------------------------------------------
def send_line(answer: dict[str, Any]) -> None:
    """One JSON line on the channel to the grader (fd 1), written whole with os.write."""
    view = memoryview((json.dumps(answer, ensure_ascii=False) + "\n").encode("utf-8"))
    while view:
        view = view[os.write(1, view):]


def read_exactly(stream: Any, size: int) -> bytearray | None:
    """``size`` bytes read straight into one buffer (no intermediate copies to leave behind), or None at
    the end of the input."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        count = stream.readinto(view[got:])
        if not count:
            view.release()
            return None
        got += count
    view.release()
    return buffer


def zero(buffer: bytearray) -> None:
    """Overwrite in place: freed memory is not cleared, and a later child inherits the worker's heap."""
    buffer[:] = bytes(len(buffer))


def serve(config: dict[str, Any], spawn: bool) -> None:
    """Answer frames until the grader closes the channel.

    The zygote never parses a job: it reads the job's bytes into one buffer, forks the job's own process
    (the "runner", which parses it, forks the student's child, collects and answers), zeroes the buffer
    and waits. Whatever one student's job put in memory (source, inputs, results, output) dies with its
    runner, so the next child, forked from a runner forked from this pristine process, cannot find it.
    """
    stdin = io.FileIO(0, "r", closefd=False)
    held: dict[str, Any] = {}  # the cases of the run (the same for every student), sent once per worker
    while True:
        header = read_exactly(stdin, child.protocol.FRAME_HEADER_BYTES)
        if header is None:
            return
        kind, tag, length = child.protocol.parse_frame_header(bytes(header))
        body = read_exactly(stdin, length)
        if body is None:
            return
        if kind == "cases":
            held = {"key": tag, "cases": json.loads(body)}
            gc.freeze()  # like the preloaded heap: the children's collections skip them
            continue
        if spawn:  # Windows: no fork, no sandbox (grading there needs --no-sandbox)
            send_line({**answer_job(body, held, config, spawn=True), "job": tag})
            continue
        workdir = job_workdir(config)
        pid = os.fork()
        if pid == 0:
            run_runner(body, tag, held, config, workdir)
        zero(body)
        del body
        _, status = os.waitpid(pid, 0)
        if status != 0:  # the student killed its runner (same uid): clean up after it, answer for it
            after_lost_runner(config, pid, workdir)
            send_line({"job": tag, "lost": "worker exited", "results": []})
        reap_all()


def answer_job(body: bytearray, held: dict[str, Any], config: dict[str, Any], *, spawn: bool = False,
               workdir: str | None = None) -> dict[str, Any]:
    try:
        job = json.loads(body)
        if "cases" not in job:
            if job.get("cases_key") is None or job.get("cases_key") != held.get("key"):
                return {"zygote_error": child.protocol.CASES_UNKNOWN}
            job["cases"] = held["cases"]
        if workdir is not None:
            job["workdir"] = workdir
        return run_job_spawned(job, config) if spawn else run_job(job, config)
    except Exception as exc:  # a bug here must still answer, so that the grader can go on
        return {"zygote_error": f"{type(exc).__name__}: {exc}"}


def run_runner(body: bytearray, tag: str, held: dict[str, Any], config: dict[str, Any], workdir: str) -> None:
    """The job's own process: answers the job tagged ``tag`` and exits."""
    try:
        if LINUX:
            prctl(PR_SET_CHILD_SUBREAPER, 1)  # not inherited: orphans of the submission come back to us
        send_line({**answer_job(body, held, config, workdir=workdir), "job": tag})
    except BaseException:
        os._exit(70)
    os._exit(0)


def after_lost_runner(config: dict[str, Any], pid: int, workdir: str) -> None:
    """Kill what the submission left (the zygote is the sandbox's pid 1, or a subreaper) and wipe its
    files from a process of its own, so that not even the names of its files enter the zygote's heap."""
    sweep(config, pid)
    cleaner = os.fork()
    if cleaner == 0:
        try:
            wipe(config, workdir)
        finally:
            os._exit(0)
    os.waitpid(cleaner, 0)


def main() -> None:
    config = json.loads(sys.argv[1])
    if sys.argv[2:] == ["--child"]:
        spawned_child(config)
        return
    clean_import_path(config)
    config["own_tmp"] = os.path.join(config.get("tmp", "/tmp"), "zygote-" + secrets.token_hex(6))
    os.makedirs(config["own_tmp"], mode=0o755)
    os.environ["MPLCONFIGDIR"] = config["own_tmp"]
    if config.get("font_list"):  # the grader's list of the fonts: matplotlib need not scan them again
        try:
            shutil.copyfile(config["font_list"], os.path.join(config["own_tmp"],
                                                              os.path.basename(config["font_list_name"])))
        except OSError:
            pass
    preload()
    gc.collect()
    gc.freeze()  # the preloaded heap is never collected again: children share its pages untouched
    if config["sandboxed"]:  # /tmp starts empty: nothing there is ours, everything there is wiped
        for name in os.listdir("/tmp"):
            path = os.path.join("/tmp", name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        os.environ.pop("MPLCONFIGDIR")
    if LINUX:
        prctl(PR_SET_DUMPABLE, 0)  # same-uid children must not ptrace us or open /proc/<pid>/fd
        prctl(PR_SET_CHILD_SUBREAPER, 1)  # orphans of a submission come back to us (see sweep)
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    spawn = not config["sandboxed"] and (config.get("spawn") or not hasattr(os, "fork"))
    send_line({"ready": True, "pid": os.getpid(), "uid": os.getuid()})
    serve(config, spawn)
    shutil.rmtree(config["own_tmp"], ignore_errors=True)


if __name__ == "__main__":
    main()
