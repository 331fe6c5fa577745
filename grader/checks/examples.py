"""Inputs for property-style checks, drawn with hypothesis under a fixed seed.

Why hypothesis outside a test: its strategies already know how to make awkward arrays (one column,
two rows, negative values, mixed magnitudes). ``@seed`` plus the generate phase alone makes the draw
deterministic, so every student gets exactly the same arrays for the same ``--seed``.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


@st.composite
def scaling_arrays(draw: st.DrawFn) -> np.ndarray:
    """(n, d) float arrays whose every column varies enough for Min-Max and z-scores to be well defined."""
    rows = draw(st.integers(min_value=2, max_value=12))
    cols = draw(st.integers(min_value=1, max_value=4))
    values = draw(hnp.arrays(np.float64, (rows, cols),
                             elements=st.floats(-1000, 1000, allow_nan=False, allow_infinity=False, width=64)))
    scales = np.array(draw(st.lists(st.sampled_from([1.0, 1e-3, 1e6]), min_size=cols, max_size=cols)))
    array = values * scales
    spread = array.max(axis=0) - array.min(axis=0)
    magnitude = np.abs(array).max(axis=0)
    # too little spread for the formulas to be well defined: relative to the column's magnitude, or in
    # absolute terms (a spread of 1e-187 makes the variance underflow to 0, so std = 0)
    degenerate = (spread <= 1e-3 * magnitude) | (spread < 1e-100)
    if np.any(degenerate):
        # only those columns: a ramp added to a good column can make it constant ([m, 0] + [0, m])
        array[:, degenerate] += np.outer(np.arange(rows), np.maximum(magnitude[degenerate], 1.0))
    return array


def draw_examples(strategy: st.SearchStrategy, count: int, random_seed: int) -> list:
    """``count`` examples of ``strategy``, the same ones for the same seed."""
    drawn: list = []

    @seed(random_seed)
    @settings(max_examples=count, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(value: object) -> None:
        drawn.append(value)

    collect()
    return drawn[:count]


def fixed_scaling_arrays() -> list[np.ndarray]:
    """The cases the spec names explicitly, so they are tried whatever hypothesis draws."""
    return [
        np.array([[-3.0, 2.0], [5.0, -7.0], [1.0, 0.5]]),                       # negative values
        np.array([[4.0], [1.0], [9.0], [-2.0]]),                                  # one column
        np.array([[1.0, 10.0, -5.0], [3.0, -10.0, 5.0]]),                         # two rows
        np.array([[2.3e8, 1.5e-4], [1.1e9, 3.5e-4], [7.7e8, 2.0e-4], [4.0e8, 9.0e-4]]),  # magnitudes
        np.array([[230.1, 37.8, 69.2], [44.5, 39.3, 45.1], [17.2, 45.9, 69.3], [151.5, 41.3, 58.5]]),
    ]
