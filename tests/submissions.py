"""Shared by the example-class tests: where the class is, its generator, and file trees as bytes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
CLASS = EXAMPLES / "class"
ROSTER = EXAMPLES / "roster.csv"
MAKE_CLASS = EXAMPLES / "make_class.py"


def load_make_class() -> ModuleType:
    """``examples/make_class.py`` as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("make_class", MAKE_CLASS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by its relative POSIX path, with its bytes."""
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*"))
            if path.is_file()}


def submission_file(student_id: str) -> Path:
    """The shipped file of one student of the example class."""
    (path,) = [path for path in CLASS.rglob(f"ex_02_{student_id}.*") if path.is_file()]
    return path
