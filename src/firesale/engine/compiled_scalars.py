"""Scalar helpers shared by the compiled phases (``firesale.engine.compiled_<phase>``).

Each reproduces, for one pair of floats, what the numpy function the numpy phases call
gives element by element, so that a compiled phase agrees with its numpy reference: NaN
propagates through :func:`minimum` and :func:`maximum` (Python's ``min`` and ``max`` would
drop it) and ties go to the second argument, as in ``np.minimum``, so that even signed zeros
come out as numpy's.

``jit`` is the decorator of every compiled kernel: cached on disk, no GIL, no fastmath, and
numpy's error model, so that a division by zero gives inf or NaN as it does in the numpy
phases instead of raising.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from firesale.channels.impact import LAW_CODES

__all__ = ["jit", "inline", "minimum", "maximum", "clip", "sign", "ratio", "impact_fraction", "price_from_pressure",
           "pairwise_sum", "institution_sums"]

_LINEAR, _EXPONENTIAL = LAW_CODES["linear"], LAW_CODES["exponential"]
_SQRT, _MULTIPLICATIVE = LAW_CODES["sqrt"], LAW_CODES["multiplicative"]

jit = njit(cache=True, nogil=True, error_model="numpy")
#: For the small helpers called in inner loops: inlined into the caller.
inline = njit(cache=True, nogil=True, error_model="numpy", inline="always")


@inline
def minimum(a, b):  # pragma: no cover - compiled
    """``np.minimum(a, b)``: NaN if either is NaN; ``b`` on a tie."""
    return a if (a < b or a != a) else b


@inline
def maximum(a, b):  # pragma: no cover - compiled
    """``np.maximum(a, b)``: NaN if either is NaN; ``b`` on a tie."""
    return a if (a > b or a != a) else b


@inline
def clip(x, low, high):  # pragma: no cover - compiled
    """``np.clip(x, low, high)``: NaN stays NaN; ``x`` itself unless it is beyond a bound."""
    if x != x:
        return x
    return low if x < low else (high if x > high else x)


@inline
def sign(x):  # pragma: no cover - compiled
    """``np.sign(x)``: NaN stays NaN."""
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return x if x != x else 0.0  # np.sign(-0.0) is 0.0


@inline
def ratio(equity, measure):  # pragma: no cover - compiled
    """:func:`firesale.channels.balance_sheet.ratio`: inf where the measure is not positive."""
    return equity / measure if measure > 0 else np.inf


@jit
def impact_fraction(pressure, law, depth, floor, sigma0, adv, kappa):  # pragma: no cover - compiled
    """:func:`firesale.channels.impact.impact_fraction` of one asset."""
    finite = math.isfinite(depth)
    safe_depth = depth if finite else 1.0
    if law == _MULTIPLICATIVE:
        # signed, not mirrored, as in the reference
        return -np.expm1(-pressure / safe_depth) if finite else 0.0
    size = abs(pressure)
    if not (finite or law == _SQRT):  # an infinitely deep market moves no price
        psi = 0.0
    elif law == _LINEAR:
        psi = size / safe_depth
    elif law == _EXPONENTIAL:
        room = 1.0 - floor
        psi = room * -np.expm1(-size / (room * safe_depth))
    else:
        safe_adv = adv if adv > 0 else 1.0
        psi = sigma0 * kappa * np.sqrt(size / safe_adv)
    # a NaN pressure stays NaN through its sign even where ψ is 0
    return sign(pressure) * psi


@jit
def price_from_pressure(fundamental, p0, psi, max_discount, relative):  # pragma: no cover - compiled
    """:func:`firesale.channels.impact.price_from_pressure` of one asset, with outside
    demand's saturation (:func:`~firesale.channels.impact.bounded_discount`) where its
    largest discount is finite."""
    if not math.isfinite(max_discount):
        if relative:
            return maximum(fundamental * (1.0 - psi), 0.0)
        return maximum(fundamental - p0 * psi, 0.0)
    if relative:
        discount = psi
    else:
        discount = p0 * psi / fundamental if fundamental > 0 else 0.0
    if discount > 0:
        discount = -max_discount * np.expm1(-maximum(discount, 0.0) / max_discount)
    return maximum(fundamental * (1.0 - discount), 0.0)


@inline
def _block_sum(values, start, count):  # pragma: no cover
    """numpy's pairwise sum of ``values[start:start + count]`` up to 128 terms: sequential
    below 8, else 8 running sums added in a tree."""
    if count < 8:
        total = -0.0
        for i in range(start, start + count):
            total += values[i]
        return total
    r0, r1, r2, r3 = values[start], values[start + 1], values[start + 2], values[start + 3]
    r4, r5, r6, r7 = values[start + 4], values[start + 5], values[start + 6], values[start + 7]
    end = start + count - count % 8
    for i in range(start + 8, end, 8):
        r0, r1, r2, r3 = r0 + values[i], r1 + values[i + 1], r2 + values[i + 2], r3 + values[i + 3]
        r4, r5, r6, r7 = r4 + values[i + 4], r5 + values[i + 5], r6 + values[i + 6], r7 + values[i + 7]
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for i in range(end, start + count):
        total += values[i]
    return total


@inline
def pairwise_sum(values, start, count):  # pragma: no cover
    """numpy's pairwise sum of ``values[start:start + count]`` (its float add loop's
    reduction): above 128 terms, the sum of two halves' sums, the first half a multiple of
    8 long (:func:`_long_pairwise_sum`)."""
    if count <= 128:
        return _block_sum(values, start, count)
    return _long_pairwise_sum(values, start, count)


@jit
def _long_pairwise_sum(values, start, count):  # pragma: no cover
    """:func:`pairwise_sum` above 128 terms. The halving tree is walked with stacks, not
    recursion: numba cannot load a recursive function from its cache."""
    # each halving leaves its run on the stack under its two halves: 64 levels, any count,
    # stay within 130 runs and 66 sums waiting
    run_start, run_count = np.empty(130, dtype=np.int64), np.empty(130, dtype=np.int64)
    expanded = np.zeros(130, dtype=np.bool_)
    sums = np.empty(66)
    runs, done = 1, 0
    run_start[0], run_count[0] = start, count
    while runs:
        top = runs - 1
        first, length = run_start[top], run_count[top]
        if length <= 128:
            sums[done] = _block_sum(values, first, length)
            done += 1
            runs -= 1
        elif expanded[top]:  # both halves summed: add them, first half first
            sums[done - 2] = sums[done - 2] + sums[done - 1]
            done -= 1
            expanded[top] = False
            runs -= 1
        else:
            half = length // 2
            half -= half % 8
            expanded[top] = True
            # the second half below the first, so the first is summed first
            run_start[runs], run_count[runs] = first + half, length - half
            run_start[runs + 1], run_count[runs + 1] = first, half
            expanded[runs] = expanded[runs + 1] = False
            runs += 2
    return sums[0]


@inline
def institution_sums(values, row, per_asset, asset_row, weighted, entry_asset, starts, present, out,
                     out_row):  # pragma: no cover
    """One scenario's sequential sums of ``values[row]`` (E,) over each institution's run of
    entries into ``out[out_row]`` (N,), weighted by ``per_asset[asset_row]`` (K,) of the
    entry's asset; 0 for an institution without entries. Rows of 2-D arrays, not row views:
    a view taken per scenario would change the array's reference count."""
    run = 0  # the runs of entries of the institutions present, in order
    n_values = values.shape[1]
    for n in range(present.size):
        if not present[n]:
            out[out_row, n] = 0.0
            continue
        end = starts[run + 1] if run + 1 < starts.size else n_values
        total = 0.0
        if weighted:
            for e in range(starts[run], end):
                total += values[row, e] * per_asset[asset_row, entry_asset[e]]
        else:
            for e in range(starts[run], end):
                total += values[row, e]
        out[out_row, n] = total
        run += 1
