"""``student-kit --out DIR [--data CSV]``: the folder and zip an instructor uploads to Moodle.

Why a separate release (like nbgrader's ``generate_assignment`` or Otter's ``otter assign``): students must
not work inside this repository, whose ``reference/``, fixtures and example class hold complete solutions.
The kit is built from ``student_templates/`` and carries, besides the templates, only what the self-check
needs and nothing that computes an answer:

- ``scripts/selfcheck/plan.json``: the grader's own cases for this seed (inputs and calls only) and its
  tolerances, for the kit's assignment and for each exercise graded as an assignment of its own
  (``EXERCISE_ASSIGNMENTS``: exercise 3 is ``grade --assignment gradient_method``); ``converge`` trains on a
  synthetic standardized data set made here (never the course data standardized, which would be the answer
  of ``standardize``);
- ``scripts/selfcheck/messages.json``: the grader's sentences for those checks, ja and en;
- ``scripts/selfcheck/_vendor/``: the grader's child-side runner, plain-data protocol, definitions-only
  filter and comparison helpers, copied with their ``grader.*`` imports pointed at the kit. A vendored file
  that imports anything else stops the build (so no solution can come in through an import).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import os
import shutil
import stat
import sys
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from grader.assignment import Assignment, with_kit
from grader.checks.base import Check
from grader.checks.gradient_method import Df, GradientDescent, _FitLineCheck
from grader.checks.mse import MseBackward, MseForward
from grader.checks.perceptron import BackwardStep, Forward
from grader.checks.scaling import Normalize, Standardize
from grader.checks.training import Converge, Gradcheck
from grader.i18n import DEFAULT_LANGUAGE, LANGUAGES
from grader.run.sandbox.protocol import encode
from reference.data import DEFAULT_DATA_PATH, FEATURES, TARGET, MissingColumnError, load_xt
from reference.least_squares import least_squares, least_squares_loss
from reference.perceptron import standardize

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "student_templates"
#: The assignment the kit is built around (its file's ``[kit]`` table says the kit's folder, template, ...).
KIT_ASSIGNMENT = with_kit()
KIT = KIT_ASSIGNMENT.kit
KIT_NAME = str(KIT["folder"])
SEED = 0
#: files of student_templates/ that go to scripts/ (a whitelist: a solution saved there never travels)
SCRIPT_FILES = ("gradient_method.py", "perceptron.py", KIT["template"], KIT["self_check"],
                "test_perceptron.py", "test_gradient_method.py")
SELFCHECK_FILES = ("__init__.py", "messages.py", "plan.py", "process.py", "runner.py", "session.py", "judge.py",
                   "verdicts.py", "plugin.py", "result.py")
ROOT_FILES = ("pyproject.toml", "README.md")  # student_templates/kit/ -> the kit's root
VENDORED = {"protocol.py": "grader/run/sandbox/protocol.py", "child.py": "grader/run/sandbox/child.py",
            "definitions.py": "grader/intake/definitions.py", "base.py": "grader/checks/base.py",
            "compare.py": "grader/checks/compare.py", "failures.py": "grader/checks/failures.py",
            "descent.py": "grader/checks/descent.py", "cells.py": "grader/intake/cells.py",
            "results.py": "grader/results.py", "line_fit.py": "grader/checks/line_fit.py"}
IMPORT_REWRITES = {"from grader.i18n import": "from selfcheck.messages import",
                   "from grader.run.sandbox.protocol import": "from selfcheck._vendor.protocol import",
                   "from grader.run.sandbox import protocol": "from selfcheck._vendor import protocol",
                   "from grader.checks.compare import": "from selfcheck._vendor.compare import",
                   "from grader.checks.base import": "from selfcheck._vendor.base import",
                   "from grader.results import": "from selfcheck._vendor.results import"}
#: modules a vendored file may import: the standard library, numpy and the kit itself
ALLOWED_IMPORTS = frozenset(sys.stdlib_module_names) | {"numpy", "selfcheck", "protocol"}
#: exercises graded as assignments of their own (``exercises`` in the [kit] table; suite -> its assignment):
#: the kit's suite is that assignment's checks and cases, without ``load`` (the exercise is saved under the
#: template's own name, so there is no file name to check, and its top-level code is the template's main guard)
EXERCISE_ASSIGNMENTS = {str(name): Assignment.named(str(name)) for name in KIT.get("exercises", ())}
SUITES = {KIT_ASSIGNMENT.id: None, "perceptron": ("forward", "grad_w", "grad_b", "grad_x", "update", "mse_forward",
                                        "mse_backward", "gradcheck", "converge"),
          **{suite: tuple(check_id for check_id in exercise.check_ids if check_id != "load")
             for suite, exercise in EXERCISE_ASSIGNMENTS.items()}}
MESSAGE_PREFIXES = ("check.", "compare.", "common.", "convention.", "decode.fallback_encoding", "student.save_as",
                    "report.syntax_", "report.code_line", "check.traceback_cell",
                    "selfcheck.", "load.", "normalize.", "standardize.", "forward.", "grad_w.", "grad_b.",
                    "grad_x.", "update.", "mse_forward.", "mse_backward.", "gradcheck.", "converge.",
                    *(f"{check_id}." for suite in EXERCISE_ASSIGNMENTS for check_id in SUITES[suite]))
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class KitError(Exception):
    """A build that cannot be made; ``key`` and ``params`` are a message of the catalogue."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key, self.params = key, params


# --- plan.json -------------------------------------------------------------------------------------
class KitConverge(Converge):
    """The grader's converge check on a synthetic stand-in of the standardized course data: same shape,
    same kind of correlations, mean 0 so that the optimal b is 0 as on the course data; not the course
    data, whose standardized values are the answer of ``standardize``."""

    @cached_property
    def problem(self) -> dict[str, Any]:
        module, _, name = str(KIT["stand_in"]).partition(":")  # "package.module:function" in the [kit] table
        make = getattr(importlib.import_module(module), name)
        frame = make(n=200, seed=int(self.params.get("kit_data_seed", 20260)))
        x = standardize(frame[list(FEATURES)].to_numpy(dtype=float))
        t = standardize(frame[[TARGET]].to_numpy(dtype=float))
        w, b = least_squares(x, t)
        return {"x": x, "t": t, "w": w, "b": b, "loss": least_squares_loss(x, t)}


def encode_tree(value: Any) -> Any:
    """Plain data (``protocol.encode``) for nested dicts of arrays and numbers."""
    if isinstance(value, Mapping):
        return {str(key): encode_tree(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [encode_tree(item) for item in value]
    return encode(value)


def check_inputs(check: Check, cases: list[dict[str, Any]]) -> dict[str, Any]:
    """What each case of a grader check gives the student's code, by case id (inputs, never answers)."""
    if not cases:  # load: judged from the load report alone
        return {}
    if isinstance(check, Normalize | Standardize):
        return {case_id: {"x": x} for case_id, x in check.inputs.items()}
    if isinstance(check, Forward):
        return {case_id: dict(zip("xwb", data, strict=True)) for case_id, data in check.inputs.items()}
    if isinstance(check, BackwardStep):
        return dict(check.inputs)
    if isinstance(check, MseForward | MseBackward):
        return {case_id: dict(zip("yt", data, strict=True)) for case_id, data in check.inputs.items()}
    if isinstance(check, Gradcheck):
        probes = [[label, name, list(index), sign] for label, name, index, sign in check.probes]
        return {cases[0]["id"]: {**check.point._asdict(), "h": check.h, "lr": check.lr, "probes": probes}}
    if isinstance(check, Converge):
        problem = check.problem
        return {check.case_id(f"{name}{suffix}"): {"x": problem["x"], "t": problem["t"], "lr": rate,
                                                   "iterations": check.iterations}
                for name, rate in check.learning_rates().items() for suffix in ("", "_steps")}
    if isinstance(check, Df):
        return {cases[0]["id"]: {"xs": check.points()}}
    if isinstance(check, GradientDescent):  # the derivative handed over (x - c or a x), x0, rate, steps
        return {case["id"]: run for case, run in zip(cases, check.runs(), strict=True)}
    if isinstance(check, _FitLineCheck):  # per data set (its cases are "<id>/<set>/<label>"): points and runs
        return {check.case_id(index): {"x": data["x"], "y": data["y"], "lr": data["lr"],
                                       "iterations": data["iterations"], "runs": check.labels(data)}
                for index, data in enumerate(check.datasets())}
    raise KitError("kit.unknown_check", check=check.id)


def suite_checks(assignment: Assignment, data_file: Path, seed: int) -> list[Check]:
    """The assignment's checks as the kit runs them (``converge`` on the synthetic stand-in)."""
    checks = assignment.build_checks(seed, {"data_file": str(data_file)})
    return [KitConverge(check.id, {**check.params, "iterations": check.iterations}, seed)
            if isinstance(check, Converge) else check for check in checks]


def exercise_problem(assignment: Assignment) -> KitError | None:
    """Why an exercise's assignment cannot share the kit's run settings (one set of limits for the plan)."""
    if dict(assignment.limits) != dict(KIT_ASSIGNMENT.limits) \
            or list(assignment.unavailable_libraries) != list(KIT_ASSIGNMENT.unavailable_libraries):
        return KitError("kit.exercise_limits", assignment=assignment.id, kit=KIT_ASSIGNMENT.id)
    return None


def build_plan(data_file: Path = DEFAULT_DATA_PATH, seed: int = SEED) -> dict[str, Any]:
    """The kit's cases and inputs. ``converge`` keeps the grader's number of steps for ``data_file`` (the
    data the kit ships), so that a ``train`` that stops early fails with the same count in both. An
    exercise's suite is its own assignment's checks (check ids are unique across the kit's suites)."""
    assignment = KIT_ASSIGNMENT
    checks = suite_checks(assignment, data_file, seed)
    params = {spec.id: spec.params for spec in assignment.checks}
    for suite, exercise in EXERCISE_ASSIGNMENTS.items():
        problem = exercise_problem(exercise)
        if problem is not None:
            raise problem
        chosen = [check for check in suite_checks(exercise, data_file, seed) if check.id in SUITES[suite]]
        clash = sorted({check.id for check in chosen} & {check.id for check in checks})
        if clash:
            raise KitError("kit.check_clash", assignment=exercise.id, checks=", ".join(clash))
        checks += chosen
        params.update({spec.id: spec.params for spec in exercise.checks if spec.id in SUITES[suite]})
    cases_by_check = {check.id: check.cases() for check in checks}
    inputs = {check.id: check_inputs(check, cases_by_check[check.id]) for check in checks}
    suites: dict[str, Any] = {}
    for suite, ids in SUITES.items():
        chosen_ids = list(ids) if ids else list(assignment.check_ids)
        suites[suite] = {"checks": chosen_ids,
                         "cases": [case for check_id in chosen_ids for case in cases_by_check[check_id]]}
    numeric = {check_id: {key: value for key, value in values.items() if isinstance(value, int | float)}
               for check_id, values in params.items()}
    return {"seed": seed, "limits": dict(assignment.limits), "suites": suites, "inputs": encode_tree(inputs),
            "params": numeric, "unavailable_libraries": list(assignment.unavailable_libraries)}


# --- messages.json and _vendor/ ------------------------------------------------------------------------
def kit_messages() -> dict[str, dict[str, str]]:
    """The sentences the self-check says: the kit assignment's catalogue, then each exercise assignment's
    own keys (its checks' messages) that the kit assignment does not define."""
    messages: dict[str, dict[str, str]] = {}
    catalogues = [KIT_ASSIGNMENT.catalogue(), *(exercise.catalogue() for exercise in EXERCISE_ASSIGNMENTS.values())]
    for catalogue in catalogues:
        for key in catalogue.keys():
            if key.startswith(MESSAGE_PREFIXES) and key not in messages:
                messages[key] = {lang: catalogue.text(key, lang) for lang in LANGUAGES}
    return messages


def vendored_source(relative: str) -> str:
    """A grader module with its ``grader.*`` imports pointed at the kit; any other import stops the build."""
    text = (ROOT / relative).read_text(encoding="utf-8")
    for old, new in IMPORT_REWRITES.items():
        text = text.replace(old, new)
    for node in ast.walk(ast.parse(text)):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
        for name in names:
            if name.partition(".")[0] not in ALLOWED_IMPORTS:
                raise KitError("kit.vendor_import", file=relative, module=name)
    return text


# --- the kit ---------------------------------------------------------------------------------------------
#: the exercises' TODOs: each must still be a stub in the templates, or the kit would hand out a solution
STUBS = {KIT["template"]: ("normalize", "standardize", "Perceptron.__init__", "Perceptron.forward",
                               "Perceptron.backward", "MeanSquaredError.__init__", "MeanSquaredError.forward",
                               "MeanSquaredError.backward", "train"),
         "perceptron.py": ("Perceptron.__init__", "Perceptron.forward", "Perceptron.backward",
                           "MeanSquaredError.__init__", "MeanSquaredError.forward", "MeanSquaredError.backward",
                           "train"),
         "gradient_method.py": ("df", "gradient_descent", "fit_line")}


def filled_in(path: Path, names: Sequence[str]) -> list[str]:
    """The TODOs of a template that no longer just raise NotImplementedError (someone filled them in)."""
    bodies: dict[str, list[ast.stmt]] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef):
            bodies[node.name] = node.body
        elif isinstance(node, ast.ClassDef):
            bodies.update({f"{node.name}.{item.name}": item.body for item in node.body
                           if isinstance(item, ast.FunctionDef)})

    def stub(body: list[ast.stmt]) -> bool:
        code = [statement for statement in body
                if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant))]
        return len(code) == 1 and isinstance(code[0], ast.Raise) and "NotImplementedError" in ast.unparse(code[0])

    return [name for name in names if name not in bodies or not stub(bodies[name])]


def write_tree(kit: Path, data_file: Path, templates: Path = TEMPLATES) -> None:
    scripts = kit / "scripts"
    package = scripts / "selfcheck"
    vendor = package / "_vendor"
    for folder in (kit, kit / "data", kit / "outputs", scripts, package, vendor):
        folder.mkdir()
    for name in ROOT_FILES:
        shutil.copyfile(templates / "kit" / name, kit / name)
    shutil.copyfile(data_file, kit / "data" / KIT_ASSIGNMENT.data_file)
    for name in SCRIPT_FILES:
        shutil.copyfile(templates / name, scripts / name)
    for name in SELFCHECK_FILES:
        shutil.copyfile(templates / "selfcheck" / name, package / name)
    (package / "plan.json").write_text(json.dumps(build_plan(data_file), separators=(",", ":")), encoding="utf-8")
    (package / "messages.json").write_text(json.dumps(kit_messages(), ensure_ascii=False, indent=1, sort_keys=True),
                                           encoding="utf-8")
    (vendor / "__init__.py").write_text('"""Copied from the grader by student-kit; do not edit."""\n', encoding="utf-8")
    for name, relative in VENDORED.items():
        (vendor / name).write_text(vendored_source(relative), encoding="utf-8")


def write_zip(kit: Path, archive: Path) -> None:
    """Deterministic (sorted entries, fixed times and modes) and safe (relative names, no links)."""
    entries = sorted(kit.rglob("*"), key=lambda path: path.relative_to(kit).as_posix())
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in [kit, *entries]:
            relative = KIT_NAME if path == kit else f"{KIT_NAME}/{path.relative_to(kit).as_posix()}"
            if path.is_symlink():
                raise KitError("kit.symlink", path=str(path))
            info = zipfile.ZipInfo(relative + ("/" if path.is_dir() else ""), date_time=ZIP_DATE)
            info.create_system = 3  # unix, so that the modes below are honoured
            if path.is_dir():
                info.external_attr = (stat.S_IFDIR | 0o755) << 16 | 0x10
                bundle.writestr(info, b"")
            else:
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                bundle.writestr(info, path.read_bytes())


def build(out: Path, data_file: Path = DEFAULT_DATA_PATH, templates: Path = TEMPLATES) -> tuple[Path, Path]:
    """Write ``out/02_perceptron/`` and ``out/02_perceptron.zip`` from ``templates``; refuse to overwrite
    either, and refuse templates whose TODOs were filled in (work saved beside them is never copied)."""
    kit, archive = out / KIT_NAME, out / f"{KIT_NAME}.zip"
    for existing in (kit, archive):
        if existing.exists() or existing.is_symlink():
            raise KitError("kit.exists", path=str(existing))
    for name, stubs in STUBS.items():
        filled = filled_in(templates / name, stubs)
        if filled:
            raise KitError("kit.template_filled", file=str(templates / name), names=", ".join(filled))
    try:
        load_xt(data_file)
    except FileNotFoundError:
        raise KitError("cli.data_missing", path=str(data_file), name=KIT_ASSIGNMENT.data_file) from None
    except MissingColumnError as exc:
        raise KitError("cli.data_columns", path=str(data_file), missing=", ".join(exc.missing)) from None
    except (ValueError, OSError) as exc:
        raise KitError("cli.data_unreadable", path=str(data_file), detail=str(exc)) from None
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out, prefix=".student-kit-") as scratch:
        staged = Path(scratch) / KIT_NAME
        try:
            write_tree(staged, data_file, templates)
        except ValueError as exc:  # e.g. data on which the grader's learning rate cannot converge
            raise KitError("kit.data_unsuitable", path=str(data_file), detail=str(exc)) from None
        write_zip(staged, Path(scratch) / "kit.zip")
        os.replace(Path(scratch) / "kit.zip", archive)
        os.replace(staged, kit)
    return kit, archive


def main(argv: Sequence[str] | None = None) -> int:
    catalogue = KIT_ASSIGNMENT.catalogue()
    arguments = list(sys.argv[1:] if argv is None else argv)
    lang = DEFAULT_LANGUAGE
    if "--lang" in arguments[:-1]:
        lang = arguments[arguments.index("--lang") + 1]
    parser = argparse.ArgumentParser(prog="student-kit", description=catalogue.text("kit.description", "en"))
    parser.add_argument("--out", type=Path, required=True, help="folder to write 02_perceptron/ and its zip into")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_PATH, help="the course data file to ship")
    parser.add_argument("--lang", choices=LANGUAGES, default=DEFAULT_LANGUAGE)
    args = parser.parse_args(arguments)
    lang = args.lang
    try:
        kit, archive = build(args.out, args.data)
    except KitError as exc:
        print(catalogue.text(exc.key, lang, **exc.params), file=sys.stderr)
        return 2
    print(catalogue.text("kit.written", lang, kit=str(kit), archive=str(archive)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
