"""Builders for the child's ops (see ``grader/run/sandbox/protocol.py``), so checks read like the calls
they stand for: ``call("$p.forward", x, label="Perceptron.forward", save="y")``."""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.run.sandbox.protocol import encode


def value(item: Any) -> Any:
    """Encode arrays; pass references (``ref("y")``), rng markers and plain scalars through."""
    return encode(item) if isinstance(item, np.ndarray) else item


def ref(name: str) -> dict[str, str]:
    return {"__ref__": name}


def rng(seed: int) -> dict[str, int]:
    return {"__rng__": seed}


def call(fn: str, *args: Any, label: str | None = None, save: str | None = None, out: str | None = None) -> dict:
    op: dict[str, Any] = {"op": "call", "fn": fn, "args": [value(arg) for arg in args]}
    for key, item in (("label", label), ("save", save), ("out", out)):
        if item:
            op[key] = item
    return op


def get(path: str, out: str, *, optional: bool = False) -> dict[str, Any]:
    op: dict[str, Any] = {"op": "get", "path": path, "out": out}
    if optional:
        op["optional"] = True
    return op


def assign(path: str, item: Any) -> dict[str, Any]:
    return {"op": "set", "path": path, "value": value(item)}


def let(name: str, item: Any) -> dict[str, Any]:
    return {"op": "let", "save": name, "value": value(item)}
