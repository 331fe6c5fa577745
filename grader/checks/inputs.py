"""Inputs for property-style checks, drawn from numpy's seeded generator.

Why not hypothesis here (it serves the project's own property tests): since 6.131 it mixes into its
draws constants it finds in the source of every first-party module the process has imported. The
arrays would then depend on what the process happened to import — the TA's ``grade`` and a student's
``pytest student_templates`` would try different arrays — and on any edit to a constant anywhere in
the project. A ``np.random.Generator`` seeded from ``--seed`` gives the same arrays everywhere, and the
awkward shapes hypothesis would find (one column, two rows, negative values, ties, mixed magnitudes)
are drawn on purpose below and named in :func:`fixed_scaling_arrays`.
"""

from __future__ import annotations

import numpy as np

SCALES = (1.0, 1e-3, 1e6)


def scaling_array(rng: np.random.Generator) -> np.ndarray:
    """One (n, d) array whose every column varies enough for Min-Max and z-scores to be well defined."""
    rows, cols = int(rng.integers(2, 13)), int(rng.integers(1, 5))
    kind = int(rng.integers(0, 4))
    if kind == 0:  # plain floats of both signs
        values = rng.uniform(-1000, 1000, size=(rows, cols))
    elif kind == 1:  # small integers: ties, repeated minima and maxima
        values = rng.integers(-5, 6, size=(rows, cols)).astype(float)
    elif kind == 2:  # all negative
        values = -rng.exponential(50, size=(rows, cols)) - 1
    else:  # a large offset with a moderate spread
        values = rng.normal(0, 10, size=(rows, cols)) + rng.choice([-1e4, 1e4], size=cols)
    array = values * rng.choice(SCALES, size=cols)
    spread = array.max(axis=0) - array.min(axis=0)
    magnitude = np.abs(array).max(axis=0)
    degenerate = (spread <= 1e-3 * magnitude) | (spread < 1e-100)
    if np.any(degenerate):  # only those columns: a ramp added to a good column can make it constant
        array[:, degenerate] += np.outer(np.arange(rows), np.maximum(magnitude[degenerate], 1.0))
    return array


def scaling_arrays(count: int, seed: int) -> list[np.ndarray]:
    """``count`` arrays, the same ones for the same seed in every process."""
    rng = np.random.default_rng([seed, 2])
    return [scaling_array(rng) for _ in range(count)]


def fixed_scaling_arrays() -> list[np.ndarray]:
    """The cases the spec names explicitly, tried whatever is drawn."""
    return [
        np.array([[-3.0, 2.0], [5.0, -7.0], [1.0, 0.5]]),                       # negative values
        np.array([[4.0], [1.0], [9.0], [-2.0]]),                                  # one column
        np.array([[1.0, 10.0, -5.0], [3.0, -10.0, 5.0]]),                         # two rows
        np.array([[2.3e8, 1.5e-4], [1.1e9, 3.5e-4], [7.7e8, 2.0e-4], [4.0e8, 9.0e-4]]),  # magnitudes
        np.array([[230.1, 37.8, 69.2], [44.5, 39.3, 45.1], [17.2, 45.9, 69.3], [151.5, 41.3, 58.5]]),
    ]
