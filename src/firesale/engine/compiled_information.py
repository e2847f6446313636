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
from firesale.engine.constraints import Constraints
from firesale.engine.information import Informed
from firesale.engine.intermediation import Intermediated
from firesale.engine.kernels import NUMPY, Kernels
from firesale.engine.marking import Marked
from firesale.engine.shocks import Shocked
from firesale.engine.state import Inputs, ScenarioArrays, State

__all__ = ["information"]

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


def information(state: State, inputs: Inputs, scen: ScenarioArrays, shocked: Shocked, marked: Marked,
                limits: Constraints, orders: Orders, dealt: Intermediated, cleared: Cleared, calm_cost: np.ndarray,
                kernels: Kernels = NUMPY) -> Informed:
    """:func:`firesale.engine.information.information`, compiled: the same arguments, the
    same results to rounding."""
    sigma = np.empty(cleared.post.shape)
    spread, quoting_share, uncertainty, depth_scale = (np.empty_like(sigma) for _ in range(4))
    layoff = np.empty(sigma.shape[0])
    positions = inputs.dealer_positions
    contiguous = np.ascontiguousarray
    _information(
        contiguous(shocked.sigma), contiguous(shocked.sigma_fundamental), contiguous(state.price),
        contiguous(cleared.post), scen.ewma_lambda, scen.volatility_anchor, scen.volatility_cap, inputs.sigma0,
        inputs.mu0, contiguous(dealt.cost), contiguous(calm_cost), contiguous(limits.defaulted),
        contiguous(orders.acting), contiguous(marked.total_assets), inputs.dealers, positions.dealer, positions.asset,
        positions.share, scen.layoff_share, scen.info_elasticity, scen.info_cap, scen.info_rfq_spread,
        scen.info_rfq_depth, scen.info_depth_elasticity, scen.info_fear_freeze, scen.info_depth_floor,
        scen.info_spread_cap, scen.information, sigma, spread, quoting_share, uncertainty, depth_scale, layoff,
    )
    return Informed(sigma, Information(spread=spread, quoting_share=quoting_share, uncertainty=uncertainty,
                                       depth_scale=depth_scale, layoff=layoff))
