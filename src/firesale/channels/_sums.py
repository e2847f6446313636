"""Sums whose result does not depend on the batch's shape.

numpy sums a contiguous last axis pairwise, in blocks whose boundaries can move with the
array's other dimensions, so the last bits of a scenario's result could depend on which
scenarios share its batch. A batch must equal its scenarios run alone, bit for bit:
reductions over the last axis of per-scenario arrays go through :func:`last_axis_sum`.
"""

from __future__ import annotations

import numpy as np


def last_axis_sum(values: np.ndarray) -> np.ndarray:
    """Sequential sum over the last axis (``np.add.reduceat``); zeros when it is empty."""
    if values.shape[-1] == 0:
        return np.zeros(values.shape[:-1])
    return np.add.reduceat(values, [0], axis=-1)[..., 0]


def segment_sums(values: np.ndarray, starts: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Sequential sums of consecutive runs of columns, (S, M) → (S, len(present)): run j
    starts at column ``starts[j]`` and belongs to the j-th row of ``present``; rows not
    present get 0."""
    out = np.zeros((values.shape[0], present.size))
    if values.shape[1]:
        out[:, present] = np.add.reduceat(values, starts, axis=1)
    return out
