"""Gathers and scatters between the (S, K) / (S, N) arrays of a round and the acting rows.

The acting rows are the (scenario, institution) pairs that trade in a round, each with its
positions in liquidity order, an ``(R, L)`` block (:mod:`firesale.engine.allocation`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["at_rows", "scatter_rows"]


def at_rows(values: np.ndarray, s_of: np.ndarray, assets: np.ndarray) -> np.ndarray:
    """Values (S, K) at each acting row's slots → (R, L). ``np.take`` on the flat array:
    several times faster than the equivalent fancy index."""
    return np.take(values.reshape(-1), s_of[:, None] * values.shape[1] + assets)


def scatter_rows(values: np.ndarray, rows: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Per-row values (R,) into an (S, N) array, zero elsewhere (``rows`` are flat ``s * N + n``)."""
    out = np.zeros(shape, dtype=values.dtype)
    out.reshape(-1)[rows] = values
    return out
