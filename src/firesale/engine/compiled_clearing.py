"""Phase 7 of a round compiled (numba): clearing.

The numpy phase :func:`firesale.engine.clearing.clearing` is the reference, and this module
computes what it computes in one kernel, scenario by scenario: the round's flow added to
the pressure, the central bank's purchases (the pressure a price floor allows,
:func:`~firesale.channels.impact.impact_for_price` then
:func:`~firesale.channels.impact.pressure_for_impact`), the post-trade price through the
impact law (:func:`firesale.engine.shocks.market_price`), the marks and the execution
prices. The operations keep the reference's order, and the central bank's total ask is
summed in numpy's pairwise order, so the two agree to the last bit but for ``expm1`` and
``log1p`` (numpy may take vectorised versions of them). A scenario's result never depends
on the other scenarios of its batch beyond what the reference's own batch-wide shortcut
(whether any asset is eligible for purchases) decides.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from firesale.channels.impact import LAW_CODES
from firesale.engine.allocation import Orders
from firesale.engine.clearing import Cleared
from firesale.engine.intermediation import Intermediated
from firesale.engine.shocks import Shocked
from firesale.engine.state import Inputs, Levers, ScenarioArrays, State

__all__ = ["clearing"]

_LINEAR, _EXPONENTIAL, _SQRT, _MULTIPLICATIVE = (LAW_CODES[law] for law in ("linear", "exponential", "sqrt",
                                                                              "multiplicative"))
# numpy's blocks in its pairwise sums (PW_BLOCKSIZE in numpy's loops_utils.h)
_PAIRWISE_BLOCK = 128

# numpy's error model: a division by zero gives inf or NaN, as in the reference, instead of
# raising (a depth scale of 0, a zero fundamental)
_jit = njit(cache=True, nogil=True, error_model="numpy")


@_jit
def _minimum(a, b):  # pragma: no cover - compiled
    """``np.minimum``: NaN in either gives NaN (Python's ``min`` would drop it)."""
    if a != a:
        return a
    if b != b:
        return b
    return a if a <= b else b


@_jit
def _maximum(a, b):  # pragma: no cover - compiled
    """``np.maximum``: NaN in either gives NaN."""
    if a != a:
        return a
    if b != b:
        return b
    return a if a >= b else b


@_jit
def _sign(x):  # pragma: no cover - compiled
    """``np.sign``: NaN stays NaN."""
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return x * 0.0  # 0 for a zero, NaN for NaN


@_jit
def _block_sum(values, start, n):  # pragma: no cover - compiled
    """``values[start:start + n].sum()`` for ``n`` up to a block, in numpy's order:
    sequential below 8 terms, else eight interleaved partial sums."""
    if n < 8:
        total = 0.0
        for i in range(start, start + n):
            total += values[i]
        return total
    r0, r1, r2, r3 = values[start], values[start + 1], values[start + 2], values[start + 3]
    r4, r5, r6, r7 = values[start + 4], values[start + 5], values[start + 6], values[start + 7]
    i = start + 8
    end = start + n - n % 8
    while i < end:
        r0 += values[i]
        r1 += values[i + 1]
        r2 += values[i + 2]
        r3 += values[i + 3]
        r4 += values[i + 4]
        r5 += values[i + 5]
        r6 += values[i + 6]
        r7 += values[i + 7]
        i += 8
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < start + n:
        total += values[i]
        i += 1
    return total


@_jit
def _pairwise_sum(values):  # pragma: no cover - compiled
    """``values.sum()`` in numpy's pairwise order, bit for bit: above a block, the sum of
    its two halves (the first a multiple of 8 long). The halving runs on explicit stacks:
    numba's on-disk cache cannot load a self-recursive function back."""
    n = values.size
    if n <= _PAIRWISE_BLOCK:
        return _block_sum(values, 0, n)
    # pending ranges (start, length, whether its halves are summed already) and the sums
    # of finished ranges, in order: each range's halves are summed before it is
    starts = np.empty(192, np.int64)
    lengths = np.empty(192, np.int64)
    halved = np.empty(192, np.bool_)
    sums = np.empty(64)
    pending, done = 1, 0
    starts[0], lengths[0], halved[0] = 0, n, False
    while pending:
        pending -= 1
        start, length = starts[pending], lengths[pending]
        if length <= _PAIRWISE_BLOCK:
            sums[done] = _block_sum(values, start, length)
            done += 1
        elif halved[pending]:
            done -= 1
            sums[done - 1] = sums[done - 1] + sums[done]
        else:
            half = length // 2
            half -= half % 8
            halved[pending] = True
            starts[pending + 1], lengths[pending + 1], halved[pending + 1] = start + half, length - half, False
            starts[pending + 2], lengths[pending + 2], halved[pending + 2] = start, half, False
            pending += 3
    return sums[0]


@_jit
def _impact(pressure, law, depth, floor, sigma0, adv, kappa):  # pragma: no cover - compiled
    """:func:`~firesale.channels.impact.impact_fraction` of one asset."""
    finite = np.isfinite(depth)
    safe_depth = depth if finite else 1.0
    if law == _MULTIPLICATIVE:
        # signed, not mirrored: e^{-Q/D} with Q < 0 is the exact inverse of the same sale
        return -np.expm1(-pressure / safe_depth) if finite else 0.0
    size = abs(pressure)
    if not (finite or law == _SQRT):
        psi = 0.0
    elif law == _LINEAR:
        psi = size / safe_depth
    elif law == _EXPONENTIAL:
        room = 1.0 - floor
        psi = room * -np.expm1(-size / (room * safe_depth))
    else:
        psi = sigma0 * kappa * np.sqrt(size / (adv if adv > 0 else 1.0))
    return _sign(pressure) * psi  # NaN pressure gives NaN even where psi is 0


@_jit
def _price(fundamental, p0, psi, max_discount, relative):  # pragma: no cover - compiled
    """:func:`~firesale.channels.impact.price_from_pressure` of one asset."""
    if not np.isfinite(max_discount):
        if relative:
            return _maximum(fundamental * (1.0 - psi), 0.0)
        return _maximum(fundamental - p0 * psi, 0.0)
    if relative:
        discount = psi
    else:
        discount = p0 * psi / fundamental if fundamental > 0 else 0.0
    # outside demand's saturation (bounded_discount); a purchase's negative discount as is
    bounded = -max_discount * np.expm1(-discount / max_discount) if discount > 0 else discount
    return _maximum(fundamental * (1.0 - bounded), 0.0)


@_jit
def _floor_impact(fundamental, p0, price, max_discount, relative):  # pragma: no cover - compiled
    """:func:`~firesale.channels.impact.impact_for_price` of one asset: the impact that puts
    its price at ``price``."""
    discount = (fundamental - price) / fundamental if fundamental > 0 else 0.0
    if not np.isfinite(max_discount):
        return discount if relative else (fundamental - price) / p0
    bounded = _maximum(discount, 0.0)
    # discount_for_price: no pressure takes the price to the largest discount or beyond (nor
    # to a NaN discount: the comparison is false, as in the reference's np.where)
    raw = -max_discount * np.log1p(-bounded / max_discount) if bounded < max_discount else np.inf
    return raw * (1.0 if relative else fundamental / p0)


@_jit
def _pressure_for(psi, law, depth, floor, sigma0, adv, kappa):  # pragma: no cover - compiled
    """:func:`~firesale.channels.impact.pressure_for_impact` of one asset."""
    psi = _maximum(psi, 0.0)
    finite = np.isfinite(depth)
    if not (finite or law == _SQRT):
        return np.inf
    safe_depth = depth if finite else 1.0
    if law == _LINEAR:
        return psi * safe_depth
    if law == _EXPONENTIAL:
        room = 1.0 - floor
        return -room * safe_depth * np.log1p(-psi / room) if psi < room else np.inf
    if law == _MULTIPLICATIVE:
        return -safe_depth * np.log1p(-psi) if psi < 1.0 else np.inf
    scale = sigma0 * kappa
    root = psi / scale if scale > 0 else np.inf
    return root * root * adv


@_jit
def _clearing(all_to_all, market_flow, concession, old_pressure, old_transient, depth_scale, fundamental, price,
              spread, uncertainty, final_settlement, alpha, eligible, purchase_floor, daily_cap, purchase_total,
              purchased, max_discount, p0, law, depth, floor, sigma0, adv, kappa, relative, opacity,
              pressure, transient, purchases, post, post_mark, bid, ask):  # pragma: no cover - compiled
    n_scen, n_assets = pressure.shape
    # the reference computes purchases only where some asset of the batch is eligible
    # (purchase_eligible.any()); where it does, an ineligible asset's zero purchase still
    # goes through the arithmetic (0 x an infinite thinness is NaN), so the same here
    buying = False
    for s in range(n_scen):
        for k in range(n_assets):
            buying = buying or eligible[s, k]
    wanted = np.empty(n_assets)
    thinness = np.empty(n_assets)
    for s in range(n_scen):
        keep = 1.0 - all_to_all[s]
        for k in range(n_assets):
            # pressure at t0 depth; what thin depth adds beyond its calm impact is transient
            inflow = keep * market_flow[s, k] + concession[s, k]
            thinness[k] = 1.0 / depth_scale[s, k] - 1.0
            pressure[s, k] = old_pressure[s, k] + inflow
            transient[s, k] = old_transient[s, k] + inflow * thinness[k]
            purchases[s, k] = 0.0
            if not buying:
                continue
            if not eligible[s, k]:
                wanted[k] = 0.0
            elif np.isnan(purchase_floor[s]):  # no floor: the round's net sales
                wanted[k] = _maximum(inflow, 0.0)
            else:  # the pressure beyond what keeps the price at its floor
                psi = _floor_impact(fundamental[s, k], p0[k], purchase_floor[s] * p0[k], max_discount[s, k],
                                    relative[k])
                ceiling = _pressure_for(psi, law[k], depth[k], floor[k], sigma0[k], adv[k], kappa[k])
                wanted[k] = _maximum(pressure[s, k] + transient[s, k] - ceiling, 0.0) * depth_scale[s, k]
        if buying:
            budget = _minimum(daily_cap[s], purchase_total[s] - purchased[s])
            asked = _pairwise_sum(wanted)
            share = _minimum(1.0, budget / asked if asked > 0 else 1.0)
            for k in range(n_assets):
                bought = wanted[k] * share
                purchases[s, k] = bought
                pressure[s, k] = pressure[s, k] - bought
                transient[s, k] = transient[s, k] - bought * thinness[k]
        for k in range(n_assets):
            psi = _impact(pressure[s, k] + transient[s, k], law[k], depth[k], floor[k], sigma0[k], adv[k], kappa[k])
            after = _price(fundamental[s, k], p0[k], psi, max_discount[s, k], relative[k])
            post[s, k] = after
            post_mark[s, k] = after * (1.0 - opacity[k] * uncertainty[s, k])
            before = price[s, k]
            # under final settlement a sale books the pre-trade price
            executed = before if final_settlement[s] else before + alpha[s] * (after - before)
            half_spread = spread[s, k] / 2.0
            bid[s, k] = executed * (1.0 - half_spread)
            ask[s, k] = executed * (1.0 + half_spread)


def clearing(state: State, inputs: Inputs, scen: ScenarioArrays, levers: Levers, shocked: Shocked,
             orders: Orders, dealt: Intermediated) -> Cleared:
    """:func:`firesale.engine.clearing.clearing`, compiled: the same arguments, the same
    results to rounding."""
    contiguous = np.ascontiguousarray
    shape = shocked.price.shape
    pressure, transient, purchases, post, post_mark, bid, ask = (np.empty(shape) for _ in range(7))
    # the dealers' concession is a plain 0.0 without dealing
    concession = contiguous(np.broadcast_to(dealt.concession, shape), dtype=np.float64)
    _clearing(
        contiguous(levers.all_to_all), contiguous(dealt.market_flow), concession, contiguous(shocked.pressure),
        contiguous(shocked.transient), contiguous(state.depth_scale), contiguous(shocked.fundamental),
        contiguous(shocked.price), contiguous(state.spread), contiguous(state.uncertainty),
        contiguous(scen.final_settlement), contiguous(scen.execution_alpha), contiguous(levers.purchase_eligible),
        contiguous(scen.purchase_floor), contiguous(levers.purchase_daily_cap), contiguous(scen.purchase_total),
        contiguous(state.purchased), contiguous(levers.max_discount), inputs.p0, inputs.impact_law, inputs.depth,
        inputs.impact_floor, inputs.sigma0, inputs.adv, inputs.impact_kappa, inputs.relative_impact, inputs.opacity,
        pressure, transient, purchases, post, post_mark, bid, ask,
    )
    return Cleared(pressure, transient, purchases, post, post_mark, bid, ask)
