"""An assignment is data: a TOML file naming its checks (by class), points, parameters, limits and
messages. Adding next week's assignment means a new file plus its check classes; this module and the
engine stay as they are."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from grader.checks.base import Check, load_check_class
from grader.i18n import Catalogue, engine_catalogue, flatten

ASSIGNMENTS_DIR = Path(__file__).with_name("assignments")


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

    @classmethod
    def load(cls, path: Path) -> Assignment:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        meta = data["assignment"]
        checks = tuple(
            CheckSpec(check_id, float(spec["points"]), spec["class"], dict(spec.get("params", {})))
            for check_id, spec in data.get("checks", {}).items()
        )
        return cls(id=meta["id"], file_prefix=meta.get("file_prefix", f"{meta['id']}_"), title=meta["title"],
                   limits=dict(data.get("limits", {})), checks=checks,
                   messages=flatten(data.get("messages", {})), path=path,
                   unavailable_libraries=tuple(meta.get("unavailable_libraries", ())))

    @classmethod
    def named(cls, name: str) -> Assignment:
        return cls.load(ASSIGNMENTS_DIR / f"{name}.toml")

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


def only(assignment: Assignment, check_ids: list[str]) -> Assignment:
    """The same assignment restricted to some checks (exercise 4 shares the assignment's perceptron checks)."""
    unknown = set(check_ids) - set(assignment.check_ids)
    if unknown:
        raise KeyError(f"unknown check ids {sorted(unknown)}")
    return replace(assignment, checks=tuple(spec for spec in assignment.checks if spec.id in check_ids))
