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

import numpy as np

from firesale.engine.compiled_scalars import impact_fraction, jit, maximum, price_from_pressure
from firesale.engine.compiled_tables import input_table, lever_table, scenario_table, state_table
from firesale.engine.shocks import Shocked
from firesale.engine.state import Inputs, Levers, ScenarioArrays, State

__all__ = ["shocks", "shocks_table"]






@jit
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
            psi = impact_fraction(p + q, law[k], depth[k], floor[k], sigma0[k], adv[k], kappa[k])
            price[s, k] = price_from_pressure(f, p0[k], psi, max_discount[s, k], relative[k])
        for n in range(n_inst):
            c, e, d = cash_before[s, n], equity_before[s, n], debt_before[s, n]
            if shocked:
                shocked_default[s, n] = default_shock[s, t, n]
                added = capital_shock[s, t, n]
                # against cash at or above 0: a rounding residue of -1e-16 must not turn a zero
                # shock into a payment, or a scenario would differ in a batch with later shocks
                paid = maximum(added, -maximum(c, 0.0))
                capital[s, n], capital_cash[s, n] = added, paid
                c, e = c + paid, e + added
                d = d + (paid - added)
            cash[s, n], equity[s, n], debt[s, n] = c, e, d
    return (pressure, transient, fundamental, sigma, sigma_fundamental, shocked_default, repo_rate, capital,
            capital_cash, cash, equity, debt, price)


@jit
def shocks_table(st, inp, sc, lev, t):  # pragma: no cover - compiled
    """The phase on the compiled tables (:mod:`firesale.engine.compiled_tables`)."""
    return Shocked(*_shocks(
        t, st.pressure, st.transient, sc.mean_reversion, sc.capital_arrival, sc.capital_delay, sc.resilience,
        st.fundamental, st.sigma, st.sigma_fundamental, st.repo_rate, lev.repricing, sc.price_shock,
        sc.volatility_shock, sc.default_shock, sc.repo_rate_shock, sc.capital_shock, st.defaulted, st.cash, st.equity,
        st.debt, inp.p0, inp.impact_law, inp.depth, inp.impact_floor, inp.sigma0, inp.adv, inp.impact_kappa,
        inp.relative_impact, lev.max_discount))


def shocks(state: State, inputs: Inputs, scen: ScenarioArrays, levers: Levers, t: int) -> Shocked:
    """:func:`firesale.engine.shocks.shocks`, compiled: the same arguments and result."""
    return shocks_table(state_table(state), input_table(inputs), scenario_table(scen), lever_table(levers), int(t))
