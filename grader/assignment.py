"""An assignment is data: a TOML file naming its checks (by class), points, parameters, limits and
messages. Adding next week's assignment means a new file plus its check classes; this module and the
engine stay as they are."""

from __future__ import annotations

import functools
import importlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from grader.checks.base import Check, DependencyError, judging_order, load_check_class
from grader.i18n import Catalogue, engine_catalogue, flatten

ASSIGNMENTS_DIR = Path(__file__).with_name("assignments")
#: What the paths of an assignment file (its templates, its reference solution) are relative to.
PROJECT_ROOT = ASSIGNMENTS_DIR.parent.parent


@dataclass(frozen=True)
class CheckSpec:
    id: str
    points: float
    check_class: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Assignment:
    id: str
    file_prefix: str
    title: Mapping[str, str]
    limits: Mapping[str, Any]
    checks: tuple[CheckSpec, ...]
    messages: Mapping[str, Mapping[str, str]]
    path: Path
    #: Libraries a submission may not use (the grading environment has none of them); the student
    #: self-check hides them too, so that a student who has them installed learns it before handing in.
    unavailable_libraries: tuple[str, ...] = ()
    #: The name the course's data file has beside a submission (``data/<name>``), or "" when the
    #: assignment uses no data file: ``--data`` is then neither read nor required.
    data_file: str = ""
    #: The data file ``--data`` defaults to (relative to the project in the file) and the function that reads
    #: it (``"module:function"``): the CLI reads ``--data`` with it before grading, so a wrong file is one
    #: clear line instead of every student's failed check.
    data_default: Path | None = None
    data_reader: str = ""
    #: The functions and classes a solution defines: how a file named without the student id is told
    #: apart from a helper module in the same Moodle folder (``grader.intake.unnamed.find_unnamed``).
    defines: tuple[str, ...] = ()
    #: The code handed out to students (copy detection subtracts it) and the instructor's solution (whose
    #: code copy detection does not count as evidence), from the assignment file's ``templates`` and
    #: ``references`` (paths relative to the project).
    templates: tuple[Path, ...] = ()
    references: tuple[Path, ...] = ()
    #: The student kit built around this assignment (``student-kit``), from the file's ``[kit]`` table:
    #: empty for an assignment without a kit of its own.
    kit: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Assignment:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        meta = data["assignment"]
        checks = tuple(
            CheckSpec(check_id, float(spec["points"]), spec["class"], dict(spec.get("params", {})))
            for check_id, spec in data.get("checks", {}).items()
        )
        validate_dependencies(path, checks)
        return cls(id=meta["id"], file_prefix=meta.get("file_prefix", f"{meta['id']}_"), title=meta["title"],
                   limits=dict(data.get("limits", {})), checks=checks,
                   messages=flatten(data.get("messages", {})), path=path,
                   unavailable_libraries=tuple(meta.get("unavailable_libraries", ())),
                   data_file=str(meta.get("data_file", "")), defines=tuple(meta.get("defines", ())),
                   data_default=PROJECT_ROOT / meta["data_default"] if meta.get("data_default") else None,
                   data_reader=str(meta.get("data_reader", "")),
                   templates=tuple(PROJECT_ROOT / item for item in meta.get("templates", ())),
                   references=tuple(PROJECT_ROOT / item for item in meta.get("references", ())),
                   kit=dict(data.get("kit", {})))

    @classmethod
    def named(cls, name: str) -> Assignment:
        """The assignment file ``assignments/<name>.toml``; :class:`UnknownAssignment` for any other name
        (a name is looked up among the files, never joined into a path)."""
        if name not in available():
            raise UnknownAssignment(name)
        return cls.load(ASSIGNMENTS_DIR / f"{name}.toml")

    @classmethod
    def default(cls) -> Assignment:
        return cls.named(default_name())

    def read_data(self, path: Path) -> None:
        """Read ``path`` as this assignment's data file; raises what the reader raises (FileNotFoundError,
        ValueError with a ``missing`` list of columns, OSError). Nothing to read without a reader."""
        if self.data_reader:
            module_name, _, function = self.data_reader.partition(":")
            getattr(importlib.import_module(module_name), function)(path)

    @property
    def max_points(self) -> float:
        return sum(spec.points for spec in self.checks)

    @property
    def check_ids(self) -> list[str]:
        return [spec.id for spec in self.checks]

    def catalogue(self) -> Catalogue:
        """The engine's sentences plus this assignment's own."""
        catalogue = Catalogue()
        base = engine_catalogue()
        catalogue.extend({key: {lang: base.text(key, lang) for lang in ("ja", "en")} for key in base.keys()},
                         source="engine")
        catalogue.extend(self.messages, source=str(self.path))
        return catalogue

    def build_checks(self, seed: int, extra_params: Mapping[str, Any] | None = None) -> list[Check]:
        """Instantiate the checks; ``extra_params`` (e.g. the data file) reaches every check."""
        return [load_check_class(spec.check_class)(spec.id, {**(extra_params or {}), **spec.params}, seed)
                for spec in self.checks]


class InvalidAssignment(ValueError):
    """An assignment file whose checks cannot be judged together; the message names the file and checks."""


def validate_dependencies(path: Path, checks: tuple[CheckSpec, ...]) -> None:
    """Every finding a check needs is provided by exactly one check of the file (or by the engine), and no
    checks need each other's findings in a circle: the checks can then be judged in some order, whatever
    their order in the file."""
    try:
        judging_order([(spec.id, load_check_class(spec.check_class)) for spec in checks])
    except DependencyError as exc:
        raise InvalidAssignment(f"{path}: {exc}") from None


class UnknownAssignment(KeyError):
    """No assignment file has this name."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def available() -> list[str]:
    """The names of the assignment files, sorted."""
    return sorted(path.stem for path in ASSIGNMENTS_DIR.glob("*.toml"))


@functools.cache
def default_name() -> str:
    """The assignment ``grade`` grades without ``--assignment``: the one whose file says ``default = true``
    (data, like everything else about an assignment)."""
    marked = []
    for name in available():
        with (ASSIGNMENTS_DIR / f"{name}.toml").open("rb") as handle:
            if tomllib.load(handle)["assignment"].get("default", False) is True:
                marked.append(name)
    if len(marked) != 1:
        raise RuntimeError(f"exactly one assignment file must say default = true, found {marked}")
    return marked[0]


def with_kit() -> Assignment:
    """The assignment whose file has a ``[kit]`` table: the one ``student-kit`` builds the kit around."""
    kits = [name for name in available() if Assignment.named(name).kit]
    if len(kits) != 1:
        raise RuntimeError(f"exactly one assignment file must have a [kit] table, found {kits}")
    return Assignment.named(kits[0])


def only(assignment: Assignment, check_ids: list[str]) -> Assignment:
    """The same assignment restricted to some checks (exercise 4 shares the assignment's perceptron checks)."""
    unknown = set(check_ids) - set(assignment.check_ids)
    if unknown:
        raise KeyError(f"unknown check ids {sorted(unknown)}")
    checks = tuple(spec for spec in assignment.checks if spec.id in check_ids)
    validate_dependencies(assignment.path, checks)
    return replace(assignment, checks=checks)
