"""Phase 1 of a round: the round's shocks, the fading of past price pressure, and the
pre-trade price (docs/model.md, the round)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from firesale.channels.impact import impact_fraction, mean_revert, price_from_pressure
from firesale.engine.state import Inputs, Levers, ScenarioArrays, State

__all__ = ["Shocked", "shocks", "market_price"]


class Shocked(NamedTuple):
    """State after the round's shocks, before marking. Shapes (S, K) or (S, N)."""

    pressure: np.ndarray  # permanent price pressure, after mean reversion and arriving capital
    transient: np.ndarray  # transient pressure of thin markets, after its decay
    fundamental: np.ndarray
    sigma: np.ndarray
    sigma_fundamental: np.ndarray
    shocked_default: np.ndarray  # (S, N) bool, defaults imposed by the scenario
    repo_rate: np.ndarray
    capital: np.ndarray  # (S, N) capital added (negative: a loss)
    capital_cash: np.ndarray  # (S, N) the part of it paid in cash
    cash: np.ndarray
    equity: np.ndarray
    debt: np.ndarray
    price: np.ndarray  # pre-trade price


def market_price(inputs: Inputs, fundamental: np.ndarray, pressure: np.ndarray,
                 max_discount: np.ndarray) -> np.ndarray:
    """The price under ``pressure`` through each asset's impact law,
    :func:`firesale.channels.impact.price_from_pressure`."""
    impact = impact_fraction(pressure, inputs.impact_law, inputs.depth, inputs.impact_floor, inputs.sigma0,
                             inputs.adv, inputs.impact_kappa)
    return price_from_pressure(fundamental, inputs.p0, impact, max_discount, inputs.relative_impact)


def shocks(state: State, inputs: Inputs, scen: ScenarioArrays, levers: Levers, t: int) -> Shocked:
    """Apply round ``t``'s shocks and fade past pressure: mean reversion, outside capital
    arriving after its delay, and the transient part of thin-market impact at the
    resilience rate (from round 1 on)."""
    pressure, transient = state.pressure, state.transient
    if t > 0:
        pressure = mean_revert(pressure, scen.mean_reversion[:, None])
        transient = mean_revert(transient, scen.mean_reversion[:, None])
        if scen.capital_arrival.any():
            arrival = np.where(t > scen.capital_delay, scen.capital_arrival, 0.0)
            pressure = mean_revert(pressure, arrival)
            transient = mean_revert(transient, arrival)
        if scen.resilience.any():
            transient = mean_revert(transient, scen.resilience[:, None])
    fundamental = state.fundamental
    sigma, sigma_fundamental = state.sigma, state.sigma_fundamental
    shocked_default = np.zeros_like(state.defaulted)
    if (shock := scen.at("price_shock", t)) is not None:
        fundamental = fundamental * (1.0 + shock)
    if levers.repricing.any():  # what a programme's announcement says about value
        fundamental = fundamental * (1.0 + levers.repricing)
    if (shock := scen.at("volatility_shock", t)) is not None:
        sigma, sigma_fundamental = sigma * shock, sigma_fundamental * shock
    if (shock := scen.at("default_shock", t)) is not None:
        shocked_default = shock
    repo_rate = state.repo_rate
    if (shock := scen.at("repo_rate_shock", t)) is not None:
        repo_rate = np.where(np.isnan(shock), repo_rate, shock)
    # capital added in cash (a recapitalisation), or a loss paid in cash and owed beyond it
    capital = scen.at("capital_shock", t)
    if capital is None:
        capital = capital_cash = np.zeros_like(state.cash)
        cash, equity, debt = state.cash, state.equity, state.debt
    else:
        # (against cash at or above 0: a rounding residue of -1e-16 must not turn a zero
        # shock into a payment, or a scenario would differ in a batch with later shocks)
        capital_cash = np.maximum(capital, -np.maximum(state.cash, 0.0))
        cash, equity = state.cash + capital_cash, state.equity + capital
        debt = state.debt + (capital_cash - capital)
    price = market_price(inputs, fundamental, pressure + transient, levers.max_discount)
    return Shocked(pressure, transient, fundamental, sigma, sigma_fundamental, shocked_default, repo_rate, capital,
                   capital_cash, cash, equity, debt, price)
