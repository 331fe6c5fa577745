"""Numeric comparison with pytest-style explanations: shape first, then the worst element, then a
factor when the whole result is off by a constant (the usual sign of a missing ÷N or 2×)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from grader.i18n import Message


@dataclass(frozen=True)
class Tolerance:
    rtol: float = 1e-7
    atol: float = 1e-9

    def close(self, obtained: np.ndarray, expected: np.ndarray) -> bool:
        return bool(np.allclose(obtained, expected, rtol=self.rtol, atol=self.atol, equal_nan=False))


def fmt(value: float) -> str:
    return f"{value:.6g}"


def matches(obtained: np.ndarray | None, expected: np.ndarray, tolerance: Tolerance) -> bool:
    return (obtained is not None and obtained.shape == expected.shape and np.all(np.isfinite(obtained))
            and tolerance.close(obtained, expected))


def first_match(obtained: np.ndarray | None, candidates: Sequence[np.ndarray], tolerance: Tolerance) -> int | None:
    """Index of the first accepted form the value matches (e.g. sum or mean), or None."""
    for index, candidate in enumerate(candidates):
        if matches(obtained, candidate, tolerance):
            return index
    return None


def constant_factor(obtained: np.ndarray, expected: np.ndarray, tolerance: Tolerance) -> float | None:
    """c when obtained ≈ c·expected for a constant c ≠ 1 (least squares fit of c, then checked)."""
    denominator = float(np.vdot(expected, expected))
    if obtained.shape != expected.shape or denominator == 0 or not np.all(np.isfinite(obtained)):
        return None
    factor = float(np.vdot(expected, obtained)) / denominator
    if abs(factor - 1) < 1e-9 or abs(factor) < 1e-12:
        return None
    return factor if tolerance.close(obtained, factor * expected) else None


def explain(name: str, obtained: np.ndarray | None, expected: np.ndarray, tolerance: Tolerance,
            description: str = "") -> list[Message]:
    """Detail lines for a mismatch between ``obtained`` and ``expected`` (never empty)."""
    if obtained is None:
        if description == "NoneType":  # the function ended without `return`, most likely
            return [Message("compare.returned_none", {"name": name})]
        return [Message("compare.not_numeric", {"name": name, "obtained": description})]
    if obtained.shape != expected.shape:
        lines = [Message("compare.shape", {"name": name, "obtained": str(obtained.shape),
                                           "expected": str(expected.shape)})]
        if obtained.size == expected.size and tolerance.close(obtained.reshape(expected.shape), expected):
            lines.append(Message("compare.shape_only", {"name": name}))
        return lines
    if not np.all(np.isfinite(obtained)):
        count = int(np.sum(~np.isfinite(obtained)))
        return [Message("compare.not_finite", {"name": name, "count": count, "total": obtained.size})]
    difference = np.abs(obtained - expected)
    bad = ~np.isclose(obtained, expected, rtol=tolerance.rtol, atol=tolerance.atol)
    worst = np.unravel_index(int(np.argmax(difference)), difference.shape) if difference.size else ()
    # relative to the elements whose expected value is not 0: dividing by 0 (or by the smallest float)
    # would print "relative 1.5e+307" or "inf" for any Min-Max result, which always holds zeros
    nonzero = expected != 0
    relative = np.divide(difference, np.abs(expected), out=np.zeros_like(difference), where=nonzero)
    largest = fmt(float(difference.max()))
    lines = [
        Message("compare.mismatched", {"name": name, "count": int(bad.sum()), "total": int(bad.size)}),
        Message("compare.max_difference", {"abs": largest, "rel": fmt(float(relative.max()))}) if nonzero.any()
        else Message("compare.max_difference_absolute", {"abs": largest}),  # every expected value is 0
        Message("compare.worst", {"index": str(tuple(int(i) for i in worst)), "obtained": fmt(float(obtained[worst])),
                                  "expected": fmt(float(expected[worst]))}),
    ]
    factor = constant_factor(obtained, expected, tolerance)
    if factor is not None:
        lines.append(Message("compare.factor", {"name": name, "factor": fmt(factor)}))
    return lines
