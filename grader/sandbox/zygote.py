"""The warm worker: imports numpy, pandas and matplotlib once, then forks one child per submission.

Runs inside the sandbox (bubblewrap, when available). Reads one job per line on stdin, answers one JSON
line per job on stdout. Between two jobs it kills every process the previous child left behind and wipes
the shared temporary folder, so that one submission cannot reach the next: each child also starts from
the zygote's pristine memory (a fresh fork), so monkeypatched modules and signal handlers die with it.

Why a fork server: a fresh interpreter that imports numpy and pandas costs ~0.45 s, a fork ~4 ms.
Only the standard library, numpy, pandas, matplotlib and the two sibling modules are imported here.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import secrets
import selectors
import shutil
import signal
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    from grader.sandbox import child
except ImportError:  # inside the sandbox: the sibling file
    import child  # type: ignore[no-redef]

PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
MAX_RESULT_BYTES = 32 * 1024 * 1024


def prctl(option: int, value: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux
        pass


def preload() -> None:
    """Import the heavy libraries once, so that every forked child has them for free."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot
    import pandas  # noqa: F401


def apply_limits(limits: dict[str, Any]) -> None:
    """Resource limits of the child; the address-space limit counts from what the zygote already maps."""
    def cap(kind: int, value: int) -> None:
        try:
            resource.setrlimit(kind, (value, value))
        except (ValueError, OSError):
            _soft, hard = resource.getrlimit(kind)
            if hard == resource.RLIM_INFINITY or value <= hard:
                raise
            resource.setrlimit(kind, (hard, hard))

    if limits.get("memory_mb"):
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


def become_child(job: dict[str, Any], result_w: int, output_w: int, config: dict[str, Any]) -> None:
    """In the forked child: drop privileges, limit, redirect, then hand over to child.child_main."""
    try:
        prctl(PR_SET_NO_NEW_PRIVS, 1)  # no setuid binary can give the student privileges back
        if not config["sandboxed"]:
            os.setsid()  # without a PID namespace the process group is how leftovers are found
        uid = config.get("child_uid")
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(output_w, 1)
        os.dup2(output_w, 2)
        os.dup2(result_w, 3)
        os.closerange(4, 65536)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writing past the file limit raises instead
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
        sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
        apply_limits(job.get("limits", {}))
        child.child_main(job, 3)
    except BaseException:
        os._exit(70)
    os._exit(0)


def sweep(config: dict[str, Any], pid: int) -> None:
    """Kill everything the child left behind: in our PID namespace, every process but us and init."""
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
    while True:  # reap whatever was ours
        try:
            reaped, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if reaped == 0:
            time.sleep(0.001)


def wipe_tmp(config: dict[str, Any], workdir: str) -> None:
    """Remove what the child wrote: its folder, and in the sandbox everything in the private /tmp."""
    shutil.rmtree(workdir, ignore_errors=True)
    if not config["sandboxed"]:
        return
    for folder in ("/tmp", "/dev/shm"):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            if path == config["own_tmp"]:
                continue
            try:
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.unlink(path)
            except OSError:
                pass


def wipe_as_child_user(config: dict[str, Any], workdir: str) -> None:
    """A root zygote without CAP_DAC_OVERRIDE deletes the child's files as the child's own user."""
    if config.get("child_uid") is None:
        wipe_tmp(config, workdir)
        return
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(config["child_uid"])
            os.setuid(config["child_uid"])
            wipe_tmp(config, workdir)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def run_job(job: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Fork a child for one job, collect its results and output, enforce the wall clock, clean up."""
    job["workdir"] = os.path.join("/tmp" if config["sandboxed"] else config["own_tmp"],
                                  "job-" + secrets.token_hex(8))
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
    limits = job.get("limits", {})
    deadline = started + float(limits.get("wall_seconds", 20))
    keep = int(limits.get("output_bytes", 65536))
    output = bytearray()
    output_total = 0
    results = bytearray()
    overflow = False
    selector = selectors.DefaultSelector()
    selector.register(result_r, selectors.EVENT_READ, "result")
    selector.register(output_r, selectors.EVENT_READ, "output")
    timed_out = False
    while selector.get_map():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        for key, _ in selector.select(timeout=min(remaining, 1.0)):
            chunk = os.read(key.fd, 65536)
            if not chunk:
                selector.unregister(key.fd)
                continue
            if key.data == "output":
                output_total += len(chunk)
                if len(output) < keep:
                    output += chunk[: keep - len(output)]
            elif len(results) + len(chunk) <= MAX_RESULT_BYTES:
                results += chunk
            else:
                overflow = True
    status = None
    if not timed_out:
        while status is None and time.monotonic() < deadline:
            waited, status_code = os.waitpid(pid, os.WNOHANG)
            if waited:
                status = status_code
            else:
                time.sleep(0.001)
        timed_out = status is None
    elapsed = time.monotonic() - started
    if timed_out:
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    sweep(config, pid)
    selector.close()
    os.close(result_r)
    os.close(output_r)
    wipe_as_child_user(config, job["workdir"])
    lines = results.decode("utf-8", errors="replace").splitlines()
    return {
        "job": job.get("job"),
        "timed_out": timed_out,
        "exit_code": os.waitstatus_to_exitcode(status) if status is not None else None,
        "seconds": round(elapsed, 4),
        "result_overflow": overflow,
        "results": lines,
        "output": output.decode("utf-8", errors="replace"),
        "output_bytes": output_total,
    }


def main() -> None:
    config = json.loads(sys.argv[1])
    config["own_tmp"] = os.path.join(config.get("tmp", "/tmp"), "zygote-" + secrets.token_hex(6))
    os.makedirs(config["own_tmp"], mode=0o755)
    os.environ["MPLCONFIGDIR"] = config["own_tmp"]
    preload()
    prctl(PR_SET_DUMPABLE, 0)  # same-uid children must not ptrace us or open /proc/<pid>/fd
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    out = sys.stdout
    out.write(json.dumps({"ready": True, "pid": os.getpid(), "uid": os.getuid()}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            job = json.loads(line)
            answer = run_job(job, config)
        except Exception as exc:  # a bug here must still answer, so that the grader can go on
            answer = {"job": None, "zygote_error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()
    shutil.rmtree(config["own_tmp"], ignore_errors=True)


if __name__ == "__main__":
    main()
