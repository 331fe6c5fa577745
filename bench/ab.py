"""Paired A/B timings of small changes to the grader's per-submission path (proposals, not applied).

    uv run python bench/ab.py [--rounds 15] [--only NAME ...]

Each proposal is a *current* function and a *proposed* one, run on the same input, alternately, round
after round (so that a noisy machine disturbs both alike); the outputs must be equal or the proposal is
reported as wrong. Printed: median ms per submission of each and the median of the paired differences.
Nothing in ``grader/`` is modified; the proposed versions live here, written as monkeypatches.

- ``decode``: ``decode._decode_python`` lexes every line for IPython magics even when no line could
  be one; proposed: skip ``strip_ipython`` when no line matches ``_IPYTHON_LINE`` at all.
- ``definitions``: ``definitions_only`` runs ``ast.fix_missing_locations`` over the whole tree, but
  only the top-level statements' line numbers are read (nested new nodes are unparsed);
  proposed: fix only top-level statements that lack a location.
- ``judge``: the scaling checks recompute the reference answers (``expected``) for every student;
  proposed: compute them once per run (memoized by input array).
- ``job_json``: ``Worker.run`` encodes the whole job, 80 cases included (~89 KB), for every
  submission; proposed: splice the plan's cases JSON, encoded once (``Plan._cases_json`` exists).
- ``case_wrappers``: ``child.run_case`` enters ``warnings.catch_warnings()``, ``simplefilter`` and
  ``np.errstate`` around every op (334 per submission); proposed: once per case (the alarm stays per op).
"""

from __future__ import annotations

import argparse
import ast
import json
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from compute import grader_definitions  # noqa: E402

from grader import decode, definitions  # noqa: E402
from grader.assignment import Assignment  # noqa: E402
from grader.checks import scaling  # noqa: E402
from grader.engine import Plan, execute, judge  # noqa: E402
from grader.inprocess import in_process_runner  # noqa: E402
from grader.sandbox import child  # noqa: E402

FIXTURES = PROJECT / "tests" / "fixtures" / "solutions"


# --- proposed versions ----------------------------------------------------------------------------
def strip_ipython_fast(lines: list[str]) -> tuple[list[str], list[str]]:
    if not any(decode._IPYTHON_LINE.match(line.lstrip()) for line in lines):
        return lines, []
    return STRIP_IPYTHON(lines)


STRIP_IPYTHON = decode.strip_ipython
FIX_LOCATIONS = ast.fix_missing_locations


def fix_top_level_locations(tree: ast.Module) -> ast.Module:
    for statement in tree.body:
        if not hasattr(statement, "lineno"):
            FIX_LOCATIONS(statement)
    return tree


def memoized_expected(cls: type) -> Callable[..., Any]:
    original = cls.expected

    def expected(self: Any, x: np.ndarray) -> list[np.ndarray]:
        cache = self.__dict__.setdefault("_expected_by_input", {})
        if id(x) not in cache:
            cache[id(x)] = original(self, x)
        return cache[id(x)]

    expected.original = original  # type: ignore[attr-defined]
    return expected


def job_line_spliced(plan: Plan, job: dict[str, Any]) -> bytes:
    head = json.dumps({key: value for key, value in job.items() if key != "cases"})
    return (head[:-1] + ', "cases": ' + plan._cases_json + "}\n").encode()


def run_case_per_case_context(case: dict[str, Any], module: Any, *, student_file: str | None = None,
                              seconds: float | None = None) -> dict[str, Any]:
    refs: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    error = None
    started = time.perf_counter()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for index, op in enumerate(case["ops"]):
            try:
                child._alarm(seconds)
                try:
                    child.run_op(op, module, refs, outputs)
                finally:
                    child._disarm()
            except BaseException as exc:
                name = op.get("label") or op.get("fn") or op.get("path")
                described = {"op": index, "fn": name, **child.describe_error(exc, student_file)}
                if op.get("optional") and op.get("out") and not isinstance(exc, child.CaseTimeout):
                    outputs[op["out"]] = {"__error__": described}
                    continue
                error = described
                break
    return {"case": case["id"], "outputs": outputs, "error": error,
            "seconds": round(time.perf_counter() - started, 6)}


# --- harness ----------------------------------------------------------------------------------------
class Proposal:
    def __init__(self, name: str, current: Callable[[], Any], proposed: Callable[[], Any],
                 normalize: Callable[[Any], Any] = lambda value: value) -> None:
        self.name, self.current, self.proposed, self.normalize = name, current, proposed, normalize


def proposals(plan: Plan) -> list[Proposal]:
    paths = [FIXTURES / "ex_02_S0001.py", FIXTURES / "ex_02_S0002.py"]
    sources = [path.read_text(encoding="utf-8") for path in paths]
    executions = [execute(plan, in_process_runner(path), f"ex_02_S000{index + 1}", source,
                          grader_definitions(source))
                  for index, (path, source) in enumerate(zip(paths, sources, strict=True))]
    jobs = [plan.job(f"ex_02_S000{index + 1}", source, grader_definitions(source),
                     start=0, mode="full", load_error=None, wall_seconds=20) for index, source in enumerate(sources)]
    modules = [child.load_submission(job, str(path))[0] for job, path in zip(jobs, paths, strict=True)]

    def with_patch(target: Any, name: str, value: Any, function: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            saved = getattr(target, name)
            setattr(target, name, value)
            try:
                return function()
            finally:
                setattr(target, name, saved)
        return run

    def decode_both() -> Any:
        return [decode.decode_submission(path, "py") for path in paths]

    def definitions_both() -> Any:
        return [grader_definitions(source) for source in sources]

    def judge_both() -> Any:
        return [[(result.id, result.passed, repr(result.verdict)) for result in judge(plan, execution)]
                for execution in executions]

    def judge_memo() -> Any:
        saved = (scaling.Normalize.expected, scaling.Standardize.expected)
        scaling.Normalize.expected = memoized_expected(scaling.Normalize)  # type: ignore[method-assign]
        scaling.Standardize.expected = memoized_expected(scaling.Standardize)  # type: ignore[method-assign]
        try:
            return judge_both()
        finally:
            scaling.Normalize.expected, scaling.Standardize.expected = saved  # type: ignore[method-assign]

    def run_cases(run_case: Callable[..., Any]) -> Callable[[], Any]:
        def run() -> Any:
            results = []
            for module, path in zip(modules, paths, strict=True):
                results.append([run_case(case, module, student_file=str(path), seconds=5.0) for case in plan.cases])
            return results
        return run

    def without_seconds(results: Any) -> Any:  # as JSON text: a diverging train() returns NaN != NaN
        return json.dumps([[{**line, "seconds": 0} for line in lines] for lines in results])

    return [
        Proposal("decode", decode_both, with_patch(decode, "strip_ipython", strip_ipython_fast, decode_both)),
        Proposal("definitions", definitions_both,
                 with_patch(definitions.ast, "fix_missing_locations", fix_top_level_locations, definitions_both)),
        Proposal("judge", judge_both, judge_memo),
        Proposal("job_json", lambda: [(json.dumps(job) + "\n").encode() for job in jobs],
                 lambda: [job_line_spliced(plan, job) for job in jobs], lambda lines: [json.loads(x) for x in lines]),
        Proposal("case_wrappers", run_cases(child.run_case), run_cases(run_case_per_case_context), without_seconds),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description="paired A/B timings of proposed changes")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    import signal

    signal.signal(signal.SIGALRM, child.raise_timeout)
    plan = Plan.create(Assignment.named("ex_02"), seed=0, data_file=PROJECT / "data" / "advertising.csv")
    print(f"{'proposal':14} {'current ms':>11} {'proposed ms':>12} {'saved ms':>9}  per submission, "
          f"median of {args.rounds} paired rounds")
    for proposal in proposals(plan):
        if args.only and proposal.name not in args.only:
            continue
        same = proposal.normalize(proposal.current()) == proposal.normalize(proposal.proposed())
        current, proposed, saved = [], [], []
        for _ in range(args.rounds):
            pair = []
            for function in (proposal.current, proposal.proposed):
                started = time.perf_counter()
                function()
                pair.append((time.perf_counter() - started) / 2 * 1000)  # two submissions per call
            current.append(pair[0])
            proposed.append(pair[1])
            saved.append(pair[0] - pair[1])
        print(f"{proposal.name:14} {statistics.median(current):>11.3f} {statistics.median(proposed):>12.3f} "
              f"{statistics.median(saved):>9.3f}  {'same output' if same else 'DIFFERENT OUTPUT'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
