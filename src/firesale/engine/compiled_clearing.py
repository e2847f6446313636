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

from firesale.channels.impact import LAW_CODES
from firesale.engine.allocation import Orders
from firesale.engine.clearing import Cleared
from firesale.engine.compiled_scalars import (impact_fraction, jit, maximum, minimum, pairwise_sum,
                                              price_from_pressure)
from firesale.engine.compiled_tables import (
    canonical, canonical_dealt, input_table, lever_table, scenario_table, state_table)
from firesale.engine.intermediation import Intermediated
from firesale.engine.shocks import Shocked
from firesale.engine.state import Inputs, Levers, ScenarioArrays, State

__all__ = ["clearing", "clearing_table"]

_LINEAR, _EXPONENTIAL, _SQRT, _MULTIPLICATIVE = (LAW_CODES[law] for law in ("linear", "exponential", "sqrt",
                                                                              "multiplicative"))

@jit
def _floor_impact(fundamental, p0, price, max_discount, relative):  # pragma: no cover - compiled
    """:func:`~firesale.channels.impact.impact_for_price` of one asset: the impact that puts
    its price at ``price``."""
    discount = (fundamental - price) / fundamental if fundamental > 0 else 0.0
    if not np.isfinite(max_discount):
        return discount if relative else (fundamental - price) / p0
    bounded = maximum(discount, 0.0)
    # discount_for_price: no pressure takes the price to the largest discount or beyond (nor
    # to a NaN discount: the comparison is false, as in the reference's np.where)
    raw = -max_discount * np.log1p(-bounded / max_discount) if bounded < max_discount else np.inf
    return raw * (1.0 if relative else fundamental / p0)


@jit
def _pressure_for(psi, law, depth, floor, sigma0, adv, kappa):  # pragma: no cover - compiled
    """:func:`~firesale.channels.impact.pressure_for_impact` of one asset."""
    psi = maximum(psi, 0.0)
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


@jit
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
                wanted[k] = maximum(inflow, 0.0)
            else:  # the pressure beyond what keeps the price at its floor
                psi = _floor_impact(fundamental[s, k], p0[k], purchase_floor[s] * p0[k], max_discount[s, k],
                                    relative[k])
                ceiling = _pressure_for(psi, law[k], depth[k], floor[k], sigma0[k], adv[k], kappa[k])
                wanted[k] = maximum(pressure[s, k] + transient[s, k] - ceiling, 0.0) * depth_scale[s, k]
        if buying:
            budget = minimum(daily_cap[s], purchase_total[s] - purchased[s])
            asked = 0.0 + pairwise_sum(wanted, 0, wanted.size)  # np.sum: its identity, then the pairwise sum
            share = minimum(1.0, budget / asked if asked > 0 else 1.0)
            for k in range(n_assets):
                bought = wanted[k] * share
                purchases[s, k] = bought
                pressure[s, k] = pressure[s, k] - bought
                transient[s, k] = transient[s, k] - bought * thinness[k]
        for k in range(n_assets):
            psi = impact_fraction(pressure[s, k] + transient[s, k], law[k], depth[k], floor[k], sigma0[k], adv[k],
                                  kappa[k])
            after = price_from_pressure(fundamental[s, k], p0[k], psi, max_discount[s, k], relative[k])
            post[s, k] = after
            post_mark[s, k] = after * (1.0 - opacity[k] * uncertainty[s, k])
            before = price[s, k]
            # under final settlement a sale books the pre-trade price
            executed = before if final_settlement[s] else before + alpha[s] * (after - before)
            half_spread = spread[s, k] / 2.0
            bid[s, k] = executed * (1.0 - half_spread)
            ask[s, k] = executed * (1.0 + half_spread)


@jit
def clearing_table(st, inp, sc, lev, shocked, orders, dealt):  # pragma: no cover - compiled
    """The phase on the compiled tables (:mod:`firesale.engine.compiled_tables`)."""
    shape = shocked.price.shape
    pressure, transient, purchases = np.empty(shape), np.empty(shape), np.empty(shape)
    post, post_mark, bid, ask = np.empty(shape), np.empty(shape), np.empty(shape), np.empty(shape)
    _clearing(
        lev.all_to_all, dealt.market_flow, dealt.concession, shocked.pressure, shocked.transient, st.depth_scale,
        shocked.fundamental, shocked.price, st.spread, st.uncertainty, sc.final_settlement, sc.execution_alpha,
        lev.purchase_eligible, sc.purchase_floor, lev.purchase_daily_cap, sc.purchase_total, st.purchased,
        lev.max_discount, inp.p0, inp.impact_law, inp.depth, inp.impact_floor, inp.sigma0, inp.adv,
        inp.impact_kappa, inp.relative_impact, inp.opacity, pressure, transient, purchases, post, post_mark, bid, ask,
    )
    return Cleared(pressure, transient, purchases, post, post_mark, bid, ask)


def clearing(state: State, inputs: Inputs, scen: ScenarioArrays, levers: Levers, shocked: Shocked,
             orders: Orders, dealt: Intermediated) -> Cleared:
    """:func:`firesale.engine.clearing.clearing`, compiled: the same arguments, the same
    results to rounding."""
    return clearing_table(state_table(state), input_table(inputs), scenario_table(scen), lever_table(levers),
                          canonical(shocked), canonical(orders), canonical_dealt(dealt))
