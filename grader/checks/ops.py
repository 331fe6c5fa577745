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


#: The fields of a call besides ``op`` and ``fn``.
CALL_FIELDS = frozenset({"args", "label", "save", "out", "optional"})


def call(fn: str, *args: Any, **fields: Any) -> dict[str, Any]:
    """A call of ``fn`` (a student's name, or ``$saved.method``): positional ``args`` go right after
    ``fn``; ``label``, ``save``, ``out``, ``optional`` (or ``args=[...]`` to place them later) follow in
    the order given, those that are None or False left out. The order is kept on purpose: the cases'
    JSON is the run's cases key, which the resume cache and the student kit's plan.json depend on."""
    unknown = set(fields) - CALL_FIELDS
    if unknown or (args and "args" in fields):
        raise TypeError(f"call({fn!r}): unexpected fields {sorted(unknown) or ['args']}")
    op: dict[str, Any] = {"op": "call", "fn": fn}
    if args:
        op["args"] = [value(arg) for arg in args]
    for key, item in fields.items():
        if item is not None and item is not False:
            op[key] = [value(arg) for arg in item] if key == "args" else item
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
