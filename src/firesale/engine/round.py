"""One round of the model, in DESIGN §2's order, for every scenario at once.

1. shocks (and the fading of past price pressure);
2. mark to market;
3. constraints → target sales per channel, allocated to assets, elementwise maximum;
4. clearing: outside buyers take the sales through the impact law, sellers execute
   between the pre- and post-impact price, proceeds repay debt;
5. volatility update.

Step 7 (stop) is in :mod:`firesale.engine.simulate`. Steps 4's dealer intermediation and
6 (information) join with their mechanisms.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from firesale.channels import CHANNELS
from firesale.channels.balance_sheet import (
    leverage_trade,
    ratio,
    slr_exposure,
    slr_shrink,
    value_at_risk,
    var_sale_fraction,
)
from firesale.channels.default import in_default
from firesale.channels.impact import execution_price, impact_fraction, mean_revert, price_from_pressure
from firesale.channels.liquidation import allocate_sales, pro_rata_buys
from firesale.channels.volatility import ewma_volatility
from firesale.engine.state import Inputs, ScenarioArrays, State

__all__ = ["step", "LEVEL_RECORDS", "FLOW_RECORDS", "DETAIL_RECORDS"]

#: Records of shape (S, N, K), kept per round only in detailed runs.
DETAIL_RECORDS = ("holdings", "trading_holdings", "sales", "binding")
#: Round records that describe a level (a frozen scenario repeats them) ...
LEVEL_RECORDS = (
    "price", "pre_trade_price", "fundamental", "sigma", "equity", "cash", "debt", "total_assets", "marked_equity", "marked_assets",
    "slr", "slr_exposure",
    "leverage_ratio", "var", "var_after", "defaulted", "holdings", "trading_holdings", "outside_q", "outside_cash",
)
#: ... and those that describe what happened in the round (zero, or none, once stopped).
FLOW_RECORDS = (
    "eventful", "sold", "sales", "binding", "sales_by_channel", "purchases", "breach", "proceeds", "slr_target_exposure",
)


def _impact(inputs: Inputs, pressure: np.ndarray) -> np.ndarray:
    return impact_fraction(
        pressure, inputs.impact_law, inputs.depth, inputs.impact_floor, inputs.sigma0, inputs.adv, inputs.impact_kappa
    )


def _dot(q: np.ndarray, per_asset: np.ndarray) -> np.ndarray:
    """Σ_k q[s, n, k] · x[s, k] → (S, N)."""
    return np.einsum("snk,sk->sn", q, per_asset)


def step(state: State, inputs: Inputs, scen: ScenarioArrays, t: int) -> tuple[State, dict]:
    """Advance every scenario by one round.

    Parameters
    ----------
    state : State
        State at the end of round ``t - 1`` (or t0).
    inputs : Inputs
    scen : ScenarioArrays
    t : int
        Round index (0 is the shock round).

    Returns
    -------
    State, dict
        The new state (stopped scenarios unchanged) and the round's records.
    """
    tol = scen.tolerance[:, None]
    alpha = scen.execution_alpha[:, None]

    # 1. shocks, fading of past pressure
    pressure = mean_revert(state.pressure, scen.mean_reversion[:, None]) if t > 0 else state.pressure
    fundamental = state.fundamental
    sigma = state.sigma
    shocked_default = np.zeros_like(state.defaulted)
    if (shock := scen.at("price_shock", t)) is not None:
        fundamental = fundamental * (1.0 + shock)
    if (shock := scen.at("volatility_shock", t)) is not None:
        sigma = sigma * shock
    if (shock := scen.at("default_shock", t)) is not None:
        shocked_default = shock
    price = price_from_pressure(fundamental, inputs.p0, _impact(inputs, pressure))

    # 2. mark to market
    q, cash, debt = state.q, state.cash, state.debt
    equity = state.equity + _dot(q, price - state.price)
    positions = q * price[:, None, :]
    tradable = positions * inputs.tradable
    total_assets = cash + positions.sum(axis=-1)
    exposure = slr_exposure(positions, cash, inputs.slr_exempt, scen.slr_exemption)
    slr = ratio(equity, exposure)
    leverage = ratio(equity, total_assets)

    # 3. constraints → target sales
    defaulted = scen.switch("default") & in_default(
        equity, slr, leverage, inputs.slr_minimum, inputs.leverage_minimum, state.defaulted | shocked_default
    )
    alive = ~defaulted
    slr_shed = np.where(scen.switch("slr") & alive, slr_shrink(equity, exposure, inputs.slr_trigger, inputs.slr_target), 0.0)
    lev_trade = np.where(
        scen.switch("leverage") & alive,
        leverage_trade(equity, total_assets, inputs.leverage_trigger, inputs.leverage_target, inputs.two_sided),
        0.0,
    )
    # Cash repays debt first where the institution's policy says so; it shrinks total
    # assets always, and the SLR exposure unless reserves are exempt.
    cash_counts_slr = ~scen.slr_exemption[:, None]
    wanted_cash = np.maximum(np.maximum(lev_trade, 0.0), np.where(cash_counts_slr, slr_shed, 0.0))
    cash_used = np.where(inputs.repay_with_cash & alive, np.minimum(cash, wanted_cash), 0.0)
    slr_value = np.maximum(slr_shed - np.where(cash_counts_slr, cash_used, 0.0), 0.0)
    lev_sell = np.maximum(lev_trade - cash_used, 0.0)

    trading_book = state.q_trading * (price * inputs.tradable)[:, None, :]
    has_var = np.isfinite(inputs.var_limit)
    var = np.full_like(equity, np.nan)
    var_fraction = np.zeros_like(equity)
    if has_var.any():
        var[:, has_var] = value_at_risk(trading_book[:, has_var], sigma, inputs.correlation, inputs.var_confidence[has_var])
        var_fraction = np.where(scen.switch("var") & alive, var_sale_fraction(var, inputs.var_limit), 0.0)

    counted = ~(inputs.slr_exempt[None, :] & scen.slr_exemption[:, None])
    candidates = (
        allocate_sales(slr_value, tradable * counted[:, None, :], inputs.liquidation, inputs.liquidity_order, inputs.initial_weights),
        trading_book * var_fraction[..., None],
        allocate_sales(lev_sell, tradable, inputs.liquidation, inputs.liquidity_order, inputs.initial_weights),
        np.where(defaulted[..., None], tradable, 0.0),
    )
    sales = candidates[0]
    binding = np.where(sales > 0, 0, -1).astype(np.int8)
    for c, candidate in enumerate(candidates[1:], start=1):
        larger = candidate > sales
        sales = np.where(larger, candidate, sales)
        binding = np.where(larger, c, binding).astype(np.int8)
    sold_value = sales.sum(axis=-1)
    quiet_seller = sold_value <= tol
    sales = np.where(quiet_seller[..., None], 0.0, sales)
    binding = np.where(quiet_seller[..., None], -1, binding).astype(np.int8)
    buy_value = np.where(quiet_seller & (lev_trade < -tol), -lev_trade, 0.0)
    buys = pro_rata_buys(buy_value, tradable)

    safe_price = np.where(price > 0, price, 1.0)[:, None, :]
    units = np.where(defaulted[..., None], q * inputs.tradable, (sales - buys) / safe_price)
    units = np.minimum(units, q)
    # The trading book gives up what VaR asked of it, and at least its pro-rata share of
    # any larger sale; purchases join the books in proportion.
    book_share = np.divide(state.q_trading, q, out=np.zeros_like(q), where=q > 0)
    var_units = state.q_trading * inputs.tradable * np.where(defaulted, 0.0, var_fraction)[..., None]
    trading_cut = np.where(units > 0, np.minimum(np.maximum(var_units, units * book_share), units), units * book_share)

    # 4. clearing through the impact law
    traded = units * price[:, None, :]
    new_pressure = pressure + traded.sum(axis=1)
    post = price_from_pressure(fundamental, inputs.p0, _impact(inputs, new_pressure))
    executed = execution_price(price, post, alpha)
    new_q = q - units
    proceeds = _dot(units, executed)
    new_equity = equity + _dot(new_q, post - price) + _dot(units, executed - price)

    debt_after_cash = debt - cash_used
    cash_after = cash - cash_used
    available = np.where(defaulted, cash_after + proceeds, np.maximum(proceeds, 0.0))
    repaid = np.minimum(debt_after_cash, available)
    borrowed = np.maximum(-proceeds, 0.0)  # purchases are financed by new debt from outside lenders
    new_debt = debt_after_cash - repaid + borrowed
    new_cash = cash_after + np.maximum(proceeds, 0.0) - repaid
    new_cash = np.where(defaulted, cash_after + proceeds - repaid, new_cash)

    # 5. volatility
    new_sigma = ewma_volatility(sigma, state.price, post, scen.ewma_lambda[:, None])

    new_state = State(
        q=new_q,
        q_trading=np.minimum(np.maximum(state.q_trading - trading_cut, 0.0), new_q),
        cash=new_cash,
        debt=new_debt,
        equity=new_equity,
        price=post,
        fundamental=fundamental,
        pressure=new_pressure,
        sigma=new_sigma,
        defaulted=defaulted,
        outside_q=state.outside_q + units.sum(axis=1),
        outside_cash=state.outside_cash - proceeds.sum(axis=1) + (repaid + cash_used - borrowed).sum(axis=1),
        active=state.active,
    )

    # 7. stop rule, per scenario: nobody traded and no price moved
    moved = np.abs(post - state.price).max(axis=1, initial=0.0) > scen.tolerance
    traded_any = (np.abs(traded).sum(axis=-1) > tol).any(axis=1)
    shocks_ahead = t + 1 <= scen.last_shock_round
    still_active = state.active & (moved | traded_any | shocks_ahead) & (t + 1 < scen.max_rounds)
    new_state = replace(new_state, active=still_active).where(state.active, replace(state, active=still_active))

    channel_sales = np.stack([np.where(binding == c, sales, 0.0).sum(axis=-1) for c in range(len(CHANNELS))], axis=-1)
    breach = np.stack(
        [slr < inputs.slr_trigger, var > inputs.var_limit, leverage < inputs.leverage_trigger, defaulted & ~state.defaulted],
        axis=-1,
    )
    sold_now = np.where(units > 0, traded, 0.0)
    new_positions = new_state.q * new_state.price[:, None, :]
    var_after = np.full_like(var, np.nan)
    if has_var.any():
        book_after = new_state.q_trading * (new_state.price * inputs.tradable)[:, None, :]
        var_after[:, has_var] = value_at_risk(book_after[:, has_var], sigma, inputs.correlation, inputs.var_confidence[has_var])
    slr_targets = np.divide(equity, inputs.slr_target, out=np.full_like(equity, np.nan), where=slr_shed > 0)
    records = {
        "price": new_state.price,
        "fundamental": new_state.fundamental,
        "sigma": new_state.sigma,
        "equity": new_state.equity,
        "cash": new_state.cash,
        "debt": new_state.debt,
        "total_assets": new_state.cash + new_positions.sum(axis=-1),
        "pre_trade_price": price,
        "marked_equity": equity,
        "marked_assets": total_assets,
        "slr": slr,
        "slr_exposure": exposure,
        "leverage_ratio": leverage,
        "var": var,
        "var_after": var_after,
        "defaulted": new_state.defaulted,
        "outside_q": new_state.outside_q,
        "outside_cash": new_state.outside_cash,
        "sold": sold_now.sum(axis=-1),
        "sales_by_channel": channel_sales,
        "purchases": np.where(units < 0, -traded, 0.0).sum(axis=-1),
        "breach": breach,
        "proceeds": proceeds,
        "slr_target_exposure": slr_targets,
        "eventful": moved | traded_any,
        "holdings": new_state.q,
        "trading_holdings": new_state.q_trading,
        "sales": sold_now,
        "binding": binding,
    }
    return new_state, records
