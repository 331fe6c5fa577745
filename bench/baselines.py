"""The two baselines the warm workers are compared with, as runners for the grader's own engine.

Both go through exactly the grader's per-submission path (``grade_submission``: decode, definitions,
``engine.execute`` with the plan's 80 cases, ``engine.judge``); only the runner differs:

(a) ``fresh_process_runner``: a fresh ``python -I -B bench/fresh_child.py`` per submission, which
    imports numpy, pandas and matplotlib and runs the sandbox's own case interpreter. No sandbox.
(b) ``nbclient_runner``: the submission wrapped into a notebook (set-up cell, imports, the student's
    file with its ``if __name__ == "__main__":`` disabled, a cell that runs the same cases), executed
    by nbclient with a fresh kernel per notebook, as nbgrader and otter-grader do. No sandbox.

``run_sample`` grades a sample with ``jobs`` submissions in flight, like ``grade --jobs``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.grade import grade_submission
from grader.intake.discover import Submission
from grader.run.engine import Plan, Runner
from grader.run.sandbox.launcher import environment

BENCH_DIR = Path(__file__).resolve().parent
SANDBOX_DIR = BENCH_DIR.parent / "grader" / "run" / "sandbox"
MAIN_GUARD = re.compile(r"^if\s+__name__\s*==\s*['\"]__main__['\"]\s*:", re.MULTILINE)


def fresh_process_runner(data_dir: Path, scratch: Path) -> Runner:
    env = {**environment(0), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TMPDIR": str(scratch)}

    def run(job: dict[str, Any]) -> dict[str, Any]:
        job = {**job, "data_dir": str(data_dir), "workdir": str(scratch / f"job-{secrets.token_hex(8)}")}
        wall = float(job["limits"].get("wall_seconds", 20))
        try:
            done = subprocess.run([sys.executable, "-I", "-B", str(BENCH_DIR / "fresh_child.py")],
                                  input=json.dumps(job).encode(), capture_output=True, env=env, timeout=wall)
        except subprocess.TimeoutExpired:
            return {"timed_out": True, "results": []}
        return {"results": done.stdout.decode("utf-8", "replace").splitlines(), "exit_code": done.returncode,
                "output": done.stderr.decode("utf-8", "replace")[:8192], "output_bytes": len(done.stderr)}

    return run


def nbclient_available() -> str | None:
    """None when nbclient and ipykernel can run a notebook here, else why not."""
    try:
        import ipykernel  # noqa: F401
        import nbclient  # noqa: F401
        import nbformat  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is not installed (uv sync --group bench)"
    return None


def notebook_for(job: dict[str, Any], job_file: Path) -> Any:
    """The submission as a student notebook plus a grading cell that runs the plan's cases."""
    import nbformat

    source, count = MAIN_GUARD.subn("if False:  # __main__ guard disabled for the notebook", job["source"])
    setup = (f"import sys\nsys.path.insert(0, {str(SANDBOX_DIR)!r})\nimport child as _child\n"
             f"_child.fix_randomness({int(job.get('seed', 0))})")
    imports = ("import numpy as np\nimport pandas as pd\nimport matplotlib\nmatplotlib.use('Agg')\n"
               "import matplotlib.pyplot as plt")
    grading = f"""import json as _json, signal as _signal, types as _types
_job = _json.loads(open({str(job_file)!r}, encoding="utf-8").read())
_signal.signal(_signal.SIGALRM, _child.raise_timeout)
_module = _types.ModuleType(_job["module_name"])
_module.__dict__.update({{k: v for k, v in globals().items() if not k.startswith("_")}})
_lines = [_json.dumps({{"load": {{"mode": "full", "error": None, "guard_disabled": {count}}}}})]
for _case in _job["cases"][_job.get("start", 0):]:
    _lines.append(_json.dumps(_child.run_case(_case, _module, seconds=_job.get("case_seconds"))))
_lines.append(_json.dumps({{"done": True}}))
print("\\n".join(_lines))"""
    cells = [nbformat.v4.new_code_cell(text) for text in (setup, imports, source, grading)]
    return nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3",
                                                                          "display_name": "Python 3",
                                                                          "language": "python"}})


ERRORS: list[str] = []
ERRORS_LOCK = threading.Lock()


def nbclient_runner(scratch: Path) -> Runner:
    from nbclient import NotebookClient

    def run(job: dict[str, Any]) -> dict[str, Any]:
        folder = scratch / f"nb-{secrets.token_hex(8)}"
        folder.mkdir(parents=True)
        job_file = folder / "job.json"
        job_file.write_text(json.dumps(job), encoding="utf-8")
        for attempt in (1, 2):  # two kernels starting at once can collide on their ports: retry once
            notebook = notebook_for(job, job_file)
            client = NotebookClient(notebook, timeout=max(1, int(job["limits"].get("wall_seconds", 20))),
                                    kernel_name="python3", allow_errors=True,
                                    resources={"metadata": {"path": str(folder)}})
            try:
                client.execute(stderr=subprocess.DEVNULL)  # the kernel's own banner and warnings
                break
            except Exception as exc:  # counted and reported: the retry's time stays in the measurement
                with ERRORS_LOCK:
                    ERRORS.append(f"nbclient attempt {attempt}: {type(exc).__name__}: {exc}"[:300])
                if attempt == 2:
                    raise
        last = notebook.cells[-1]
        text = "".join(output.get("text", "") for output in last.get("outputs", [])
                       if output.get("output_type") == "stream" and output.get("name") == "stdout")
        errors = [output for cell in notebook.cells for output in cell.get("outputs", [])
                  if output.get("output_type") == "error"]
        lines = text.splitlines() if not errors else []
        return {"results": lines, "exit_code": 0 if not errors else 1,
                "output": "; ".join(f"{e.get('ename')}: {e.get('evalue')}" for e in errors)[:8192]}

    return run


@dataclass
class SampleRun:
    name: str
    sample: int
    jobs: int
    wall_seconds: float
    full_marks: int
    max_points: float
    totals: list[float]
    errors: list[str]

    @property
    def per_submission_wall(self) -> float:
        return self.wall_seconds / self.sample

    def extrapolated_class_wall(self, n: int) -> float:
        return self.per_submission_wall * n

    def as_dict(self) -> dict[str, Any]:
        return {"sample": self.sample, "jobs": self.jobs, "wall_seconds": round(self.wall_seconds, 3),
                "per_submission_wall_ms": round(self.per_submission_wall * 1000, 1),
                "per_submission_job_ms": round(self.per_submission_wall * self.jobs * 1000, 1),
                "full_marks": self.full_marks, "max_points": self.max_points, "errors": self.errors}


def run_sample(name: str, plan: Plan, submissions: Sequence[Submission], runner: Runner, jobs: int) -> SampleRun:
    """Grade ``submissions`` through the grader's own per-submission path with ``jobs`` in flight."""
    ERRORS.clear()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as executor:
        results = list(executor.map(lambda item: grade_submission(plan, item, runner, []), submissions))
    wall = time.perf_counter() - started
    totals = [result.total for result in results]
    full = sum(1 for total in totals if total == plan.assignment.max_points)
    errors = list(ERRORS) + [f"{result.student_id}: {warning}" for result in results
                             for warning in result.warnings if "internal" in str(warning)]
    return SampleRun(name, len(submissions), jobs, wall, full, plan.assignment.max_points, totals, errors)
