"""Phases 9 and 10 of a round compiled (numba): volatility, then the information channel.

The numpy phase :func:`firesale.engine.information.information` is the reference, and this
module computes what it computes (:func:`firesale.channels.volatility.anchored_volatility`,
then :func:`firesale.channels.information.information_update`) in one kernel, scenario by
scenario, without the temporaries of one numpy call per operation. The operations keep the
reference's order, so the two agree to rounding (``log``/``exp`` and the sequential sums
over dealers may differ in the last bits); a scenario's result never depends on the other
scenarios of its batch beyond what the reference's own batch-wide shortcuts decide.
"""

from __future__ import annotations

import numpy as np

from firesale.channels.information import MAX_SPREAD, VOL_RATIO_BOUNDS, Information
from firesale.channels.volatility import _TINY
from firesale.engine.allocation import Orders
from firesale.engine.clearing import Cleared
from firesale.engine.compiled_scalars import clip, jit, maximum, minimum
from firesale.engine.compiled_tables import (
    InformationTable, canonical, canonical_dealt, canonical_marked, input_table, scenario_table, state_table)
from firesale.engine.constraints import Constraints
from firesale.engine.information import Informed
from firesale.engine.intermediation import Intermediated
from firesale.engine.kernels import NUMPY, Kernels
from firesale.engine.marking import Marked
from firesale.engine.shocks import Shocked
from firesale.engine.state import Inputs, ScenarioArrays, State

__all__ = ["information", "information_table"]

_LOW_RATIO, _HIGH_RATIO = VOL_RATIO_BOUNDS


@jit
def _information(old_sigma, fundamental, previous, current, decay, anchor, vol_cap, sigma0, mu0, cost, calm_cost,
                 defaulted, acting, total_assets, dealers, pos_dealer, pos_asset, pos_share, omega0, elasticity,
                 quote_cap, rfq_spread, rfq_depth, depth_elasticity, fear_freeze, depth_floor, spread_cap, on,
                 sigma, spread, quoting_share, uncertainty, depth_scale, layoff):  # pragma: no cover - compiled
    n_scen, n_assets = sigma.shape
    n_dealers, n_positions = dealers.size, pos_share.size
    # the reference's shortcuts are decided over the whole batch (np.any): the same here,
    # so that both take the same branch on the same arguments
    anchored = False
    capped = False
    spread_capped = False
    for s in range(n_scen):
        anchored = anchored or anchor[s] != 0.0  # (NaN counts as set, as in np.any)
        capped = capped or np.isfinite(vol_cap[s])
        spread_capped = spread_capped or np.isfinite(spread_cap[s])
    lit = np.empty(n_assets)
    ratio = np.empty(n_assets)
    log_vol_ratio = np.empty(n_assets)
    phi = np.empty(n_assets)
    covered = np.empty(n_assets)
    for s in range(n_scen):
        # anchored_volatility
        for k in range(n_assets):
            log_return = np.log(maximum(current[s, k], _TINY) / maximum(previous[s, k], _TINY))
            variance = decay[s] * (old_sigma[s, k] * old_sigma[s, k]) + (1.0 - decay[s]) * (log_return * log_return)
            if anchored:
                variance = (1.0 - anchor[s]) * variance + anchor[s] * (fundamental[s, k] * fundamental[s, k])
            out = np.sqrt(variance)
            sigma[s, k] = minimum(out, vol_cap[s] * fundamental[s, k]) if capped else out
        if not on[s]:  # the channel off: no spread, full quotes, transparent marks, depth unchanged, ω = ω0
            for k in range(n_assets):
                spread[s, k] = 0.0
                quoting_share[s, k] = 1.0
                uncertainty[s, k] = 0.0
                depth_scale[s, k] = 1.0
            layoff[s] = omega0[s]
            continue
        # adverse selection, the Glosten-Milgrom lit spread and its ratio to t0
        for k in range(n_assets):
            # (the reference takes the log of max(ratio, 0) here and of the ratio for depth: the
            # same once the ratio is clipped to positive bounds, so one log serves both)
            log_ratio = np.log(clip(sigma[s, k] / sigma0[k], _LOW_RATIO, _HIGH_RATIO))
            log_vol_ratio[k] = log_ratio
            odds = mu0[k] / (1.0 - mu0[k]) * np.exp(elasticity[s] * log_ratio)
            mu = odds / (1.0 + odds)
            spread_k = 2.0 * mu * sigma[s, k]
            spread0 = 2.0 * mu0[k] * sigma0[k]
            if spread_capped:
                spread_k = minimum(spread_k, spread_cap[s] * spread0)
            lit[k] = spread_k
            ratio[k] = spread_k / spread0 if spread0 > 0 else 1.0
            phi[k] = 0.0
            covered[k] = 0.0
        # quoting: each dealer position's streaming intensity, summed per asset in position
        # order weighted by market share
        log_cap = np.log(quote_cap[s])
        for p in range(n_positions):
            d, k = pos_dealer[p], pos_asset[p]
            dealer_cost = np.inf if defaulted[s, dealers[d]] else cost[s, d]
            if np.isinf(dealer_cost):
                intensity = 0.0
            else:
                relative = ratio[k] * ((1.0 + dealer_cost) / (1.0 + calm_cost[s, d]))
                if relative <= 1.0:
                    # no wider than calm: 1 - log / log cap >= 1 clips to full quotes, so the
                    # log (and the reference's floor under it, 1e-300) is not needed
                    intensity = 1.0
                else:
                    intensity = clip(1.0 - np.log(relative) / log_cap, 0.0, 1.0)
                    if intensity != intensity:  # NaN quotes nothing (the reference's nan_to_num)
                        intensity = 0.0
            covered[k] += pos_share[p]
            phi[k] += intensity * pos_share[p]
        for k in range(n_assets):
            share = minimum(phi[k], 1.0) if covered[k] > 0 else 1.0
            spread[s, k] = minimum(lit[k] * (share + (1.0 - share) * rfq_spread[s]), MAX_SPREAD)
            depth = (share + (1.0 - share) * rfq_depth[s]) * np.exp(-depth_elasticity[s] * log_vol_ratio[k])
            depth_scale[s, k] = maximum(depth, depth_floor[s])
            quoting_share[s, k] = share
            uncertainty[s, k] = 1.0 - share
        # counterparty fear: the share of dealer balance sheets in breach or default
        total = 0.0
        troubled = 0.0
        for d in range(n_dealers):
            n = dealers[d]
            size = total_assets[s, n]
            total += size
            troubled += size if acting[s, n] or defaulted[s, n] else 0.0
        fear = troubled / total if total > 0 else 0.0
        layoff[s] = omega0[s] * clip(1.0 - fear / fear_freeze[s], 0.0, 1.0)


@jit
def information_table(st, inp, sc, shocked, marked, limits, orders, dealt, cleared,
                      calm_cost):  # pragma: no cover - compiled
    """The phase on the compiled tables (:mod:`firesale.engine.compiled_tables`): the
    volatility and the information channel's state, as a plain tuple."""
    sigma = np.empty(cleared.post.shape)
    spread, quoting_share = np.empty(sigma.shape), np.empty(sigma.shape)
    uncertainty, depth_scale = np.empty(sigma.shape), np.empty(sigma.shape)
    layoff = np.empty(sigma.shape[0])
    _information(
        shocked.sigma, shocked.sigma_fundamental, st.price, cleared.post, sc.ewma_lambda, sc.volatility_anchor,
        sc.volatility_cap, inp.sigma0, inp.mu0, dealt.cost, calm_cost, limits.defaulted, orders.acting,
        marked.total_assets, inp.dealers, inp.position_dealer, inp.position_asset, inp.position_share,
        sc.layoff_share, sc.info_elasticity, sc.info_cap, sc.info_rfq_spread, sc.info_rfq_depth,
        sc.info_depth_elasticity, sc.info_fear_freeze, sc.info_depth_floor, sc.info_spread_cap, sc.information,
        sigma, spread, quoting_share, uncertainty, depth_scale, layoff,
    )
    return sigma, InformationTable(spread, quoting_share, uncertainty, depth_scale, layoff)


def information(state: State, inputs: Inputs, scen: ScenarioArrays, shocked: Shocked, marked: Marked,
                limits: Constraints, orders: Orders, dealt: Intermediated, cleared: Cleared, calm_cost: np.ndarray,
                kernels: Kernels = NUMPY) -> Informed:
    """:func:`firesale.engine.information.information`, compiled: the same arguments, the
    same results to rounding."""
    sigma, info = information_table(
        state_table(state), input_table(inputs), scenario_table(scen), canonical(shocked), canonical_marked(marked),
        canonical(limits), canonical(orders), canonical_dealt(dealt), canonical(cleared),
        np.ascontiguousarray(calm_cost, dtype=np.float64))
    return Informed(sigma, Information(*info))
