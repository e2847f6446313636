"""Phase 1 of a round, the shocks, compiled (numba).

The numpy phase :func:`firesale.engine.shocks.shocks` is the reference: this module
computes what it computes — past pressure faded by mean reversion, arriving outside capital
and resilience, the round's price, volatility, default, repo-rate and capital shocks, and
the pre-trade price — in one pass per scenario instead of one numpy call per operation,
with the math of the channel functions it calls (:func:`firesale.channels.impact.mean_revert`,
:func:`~firesale.channels.impact.impact_fraction`,
:func:`~firesale.channels.impact.price_from_pressure`,
:func:`~firesale.channels.impact.bounded_discount`) written out per asset. Every operation
is the numpy phase's, in its order, so the two agree to the bit but where ``expm1`` is
taken: numpy's vectorised ``expm1`` and the C library's, which numba calls, differ in the
last bit at times.
``tests/engine/test_compiled_shocks.py`` compares the two call by call.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from firesale.channels.impact import LAW_CODES
from firesale.engine.shocks import Shocked
from firesale.engine.state import Inputs, Levers, ScenarioArrays, State

__all__ = ["shocks"]

# numpy's error model: a division by zero (a depth or outside buyers' bound of 0, an
# exponential floor of 1) gives inf or NaN, as in the numpy phase, where numba's default would raise
_jit = njit(cache=True, nogil=True, error_model="numpy")

_LINEAR, _EXPONENTIAL = LAW_CODES["linear"], LAW_CODES["exponential"]
_SQRT, _MULTIPLICATIVE = LAW_CODES["sqrt"], LAW_CODES["multiplicative"]


@_jit
def _maximum(a, b):  # pragma: no cover - compiled
    """``np.maximum`` of two floats: NaN if either is NaN."""
    return a if (a >= b or a != a) else b


@_jit
def _sign(x):  # pragma: no cover - compiled
    """``np.sign``: NaN for NaN."""
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return x if x != x else 0.0


@_jit
def _impact(pressure, law, depth, floor, sigma0, adv, kappa):  # pragma: no cover - compiled
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
    return _sign(pressure) * psi


@_jit
def _price(fundamental, p0, psi, max_discount, relative):  # pragma: no cover - compiled
    """:func:`firesale.channels.impact.price_from_pressure` of one asset, with outside
    demand's saturation (:func:`~firesale.channels.impact.bounded_discount`) where its
    largest discount is finite."""
    if not math.isfinite(max_discount):
        if relative:
            return _maximum(fundamental * (1.0 - psi), 0.0)
        return _maximum(fundamental - p0 * psi, 0.0)
    if relative:
        discount = psi
    else:
        discount = p0 * psi / fundamental if fundamental > 0 else 0.0
    if discount > 0:
        discount = -max_discount * np.expm1(-_maximum(discount, 0.0) / max_discount)
    return _maximum(fundamental * (1.0 - discount), 0.0)


@_jit
def _shocks(t, pressure_before, transient_before, mean_reversion, capital_arrival, capital_delay, resilience,
            fundamental_before, sigma_before, sigma_fundamental_before, repo_rate_before, repricing, price_shock,
            volatility_shock, default_shock, repo_rate_shock, capital_shock, defaulted, cash_before, equity_before,
            debt_before, p0, law, depth, floor, sigma0, adv, kappa, relative, max_discount):  # pragma: no cover
    n_scen, n_assets = pressure_before.shape
    n_inst = defaulted.shape[1]
    # every shock array covers the same rounds; beyond them the reference's ``scen.at`` is None
    shocked = t < price_shock.shape[1]
    asset_shape, inst_shape = (n_scen, n_assets), (n_scen, n_inst)
    pressure, transient, fundamental = np.empty(asset_shape), np.empty(asset_shape), np.empty(asset_shape)
    sigma, sigma_fundamental, repo_rate = np.empty(asset_shape), np.empty(asset_shape), np.empty(asset_shape)
    price = np.empty(asset_shape)
    shocked_default = np.zeros(inst_shape, dtype=np.bool_)
    capital, capital_cash = np.zeros(inst_shape), np.zeros(inst_shape)
    cash, equity, debt = np.empty(inst_shape), np.empty(inst_shape), np.empty(inst_shape)
    for s in range(n_scen):
        keep = 1.0 - mean_reversion[s]
        fade = 1.0 - resilience[s]
        for k in range(n_assets):
            p, q = pressure_before[s, k], transient_before[s, k]
            if t > 0:
                # The reference skips arrival and resilience when no scenario has any; a rate
                # of 0 multiplies by 1.0, which leaves every value as it is to the bit.
                arrival = 1.0 - (capital_arrival[s, k] if t > capital_delay[s, k] else 0.0)
                p, q = keep * p, keep * q
                p, q = arrival * p, arrival * q
                q = fade * q
            pressure[s, k], transient[s, k] = p, q
            # likewise a repricing of 0 multiplies the fundamental by 1.0
            f = fundamental_before[s, k]
            if shocked:
                f = f * (1.0 + price_shock[s, t, k])
            f = f * (1.0 + repricing[s, k])
            fundamental[s, k] = f
            v, vf, rate = sigma_before[s, k], sigma_fundamental_before[s, k], repo_rate_before[s, k]
            if shocked:
                v, vf = v * volatility_shock[s, t, k], vf * volatility_shock[s, t, k]
                if not np.isnan(repo_rate_shock[s, t, k]):
                    rate = repo_rate_shock[s, t, k]
            sigma[s, k], sigma_fundamental[s, k], repo_rate[s, k] = v, vf, rate
            psi = _impact(p + q, law[k], depth[k], floor[k], sigma0[k], adv[k], kappa[k])
            price[s, k] = _price(f, p0[k], psi, max_discount[s, k], relative[k])
        for n in range(n_inst):
            c, e, d = cash_before[s, n], equity_before[s, n], debt_before[s, n]
            if shocked:
                shocked_default[s, n] = default_shock[s, t, n]
                added = capital_shock[s, t, n]
                # against cash at or above 0: a rounding residue of -1e-16 must not turn a zero
                # shock into a payment, or a scenario would differ in a batch with later shocks
                paid = _maximum(added, -_maximum(c, 0.0))
                capital[s, n], capital_cash[s, n] = added, paid
                c, e = c + paid, e + added
                d = d + (paid - added)
            cash[s, n], equity[s, n], debt[s, n] = c, e, d
    return (pressure, transient, fundamental, sigma, sigma_fundamental, shocked_default, repo_rate, capital,
            capital_cash, cash, equity, debt, price)


def shocks(state: State, inputs: Inputs, scen: ScenarioArrays, levers: Levers, t: int) -> Shocked:
    """:func:`firesale.engine.shocks.shocks`, compiled: the same arguments and result."""
    c = np.ascontiguousarray
    return Shocked(*_shocks(
        int(t), c(state.pressure), c(state.transient), c(scen.mean_reversion), c(scen.capital_arrival),
        c(scen.capital_delay), c(scen.resilience), c(state.fundamental), c(state.sigma), c(state.sigma_fundamental),
        c(state.repo_rate), c(levers.repricing), c(scen.price_shock), c(scen.volatility_shock),
        c(scen.default_shock), c(scen.repo_rate_shock), c(scen.capital_shock), c(state.defaulted), c(state.cash),
        c(state.equity), c(state.debt), c(inputs.p0), c(inputs.impact_law), c(inputs.depth), c(inputs.impact_floor),
        c(inputs.sigma0), c(inputs.adv), c(inputs.impact_kappa), c(inputs.relative_impact),
        c(levers.max_discount)))
