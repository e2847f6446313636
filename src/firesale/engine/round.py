"""One round of the model, in the order of docs/model.md, for every scenario at once.

1. shocks (and the fading of past price pressure);
2. mark to market, at marks below prices where quotes are missing;
3. constraints → target sales per channel, allocated to assets, elementwise maximum;
4. dealer intermediation (absorption, inter-dealer layoff, leaning against the wind,
   :mod:`firesale.channels.dealers`), then clearing: outside buyers take the rest through
   the impact law, sellers execute between the pre- and post-impact price less half the
   spread, proceeds repay debt;
5. volatility update;
6. information: spreads, quoting shares, depth, uncertainty and the layoff share for the
   next round (:mod:`firesale.channels.information`).

Step 7 (stop) is decided here per scenario and applied in
:mod:`firesale.engine.simulate`.

Holdings are stored per position held at t0 (``(S, E)``, see
:mod:`firesale.engine.state`). Marking and the constraint checks are a few passes over
them; allocation and trading run only over the *acting* rows — the (scenario,
institution) pairs that breach a constraint or default in the round — gathered from
every scenario into one ``(R, L)`` block of their positions in liquidity order, so a
round costs work proportional to the positions held plus those actually traded. Dealers'
purchases are an ``(S, D, K)`` block over the D dealers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

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
from firesale.channels.funding import haircuts, margin_calls, net_book, withdrawal_share
from firesale.channels.redemptions import redemption_rate
from firesale.channels.impact import (
    execution_price,
    impact_fraction,
    impact_for_price,
    mean_revert,
    pressure_for_impact,
    price_from_pressure,
)
from firesale.channels.dealers import Room, intermediate
from firesale.channels.information import dealer_cost as dealer_cost_of
from firesale.channels.information import information_update, marks
from firesale.channels.liquidation import allocate_sales, pro_rata_buys
from firesale.channels.volatility import anchored_volatility
from firesale.engine.state import Inputs, ScenarioArrays, State

__all__ = ["step", "Trades", "LEVEL_RECORDS", "FLOW_RECORDS"]

#: Round records that describe a level (a stopped scenario repeats them) ...
LEVEL_RECORDS = (
    "price", "pre_trade_price", "fundamental", "sigma", "haircut", "equity", "cash", "debt", "repo", "total_assets",
    "capital_out", "nav_per_share", "margin_posted", "derivative_notional", "repo_lending",
    "marked_equity", "marked_assets", "slr", "slr_exposure", "leverage_ratio", "var", "var_after", "defaulted",
    "outside_q", "outside_cash", "mark", "spread", "quoting_share", "uncertainty", "depth_scale", "layoff_share",
)
#: ... and those that describe what happened in the round (zero, or none, once stopped).
FLOW_RECORDS = (
    "eventful", "sold", "sales_by_channel", "purchases", "breach", "proceeds", "slr_target_exposure",
    "funding_need", "funding_paid", "redeemed", "central_bank_purchases", "repo_interest",
    "client_sales", "forced_sales", "market_flow", "dealer_purchases", "interdealer", "dealer_net",
)


@dataclass(frozen=True)
class Trades:
    """What the acting rows traded in a round.

    Attributes
    ----------
    rows : ndarray of int, shape (R,)
        Flat indices ``s * N + n`` of the acting (scenario, institution) pairs.
    entries : ndarray of int, shape (R, L)
        Position (entry of the holdings pattern) of each slot, -1 for padding.
    assets : ndarray of int, shape (R, L)
        Asset of each slot of the row's positions (liquidity order), -1 for padding.
    sales : ndarray, shape (R, L)
        Value sold of each position, at the pre-impact price.
    binding : ndarray of int8, shape (R, L)
        Index into ``CHANNELS`` of the channel asking the most of each sale, -1 none.
    """

    rows: np.ndarray
    entries: np.ndarray
    assets: np.ndarray
    sales: np.ndarray
    binding: np.ndarray


#: Rounds are trading days: an annual rate accrues 1/252 a round.
TRADING_DAYS = 252


def _impact(inputs: Inputs, pressure: np.ndarray) -> np.ndarray:
    return impact_fraction(
        pressure, inputs.impact_law, inputs.depth, inputs.impact_floor, inputs.sigma0, inputs.adv, inputs.impact_kappa
    )


def _var(q_trading: np.ndarray, price: np.ndarray, sigma: np.ndarray, inputs: Inputs) -> np.ndarray:
    """VaR of the institutions with a limit (NaN for the others), shape (S, N).

    Each desk's VaR is computed over its own positions (its row of ``row_entries``) with
    the matching correlation block, not over all K assets."""
    out = np.full((q_trading.shape[0], inputs.has_holdings.size), np.nan)
    desks = inputs.var_desks
    if desks.size:
        slots = inputs.row_entries[desks]
        valid = slots >= 0
        entries = np.where(valid, slots, 0)
        assets = inputs.entry_asset[entries]
        held = np.take(q_trading, entries, axis=1) * valid  # (S, V, L)
        book = held * np.take(price * inputs.tradable, assets, axis=1)
        out[:, desks] = value_at_risk(book, np.take(sigma, assets, axis=1), inputs.var_correlation,
                                      inputs.var_confidence[desks])
    return out


def _at_rows(per_asset: np.ndarray, s_of: np.ndarray, assets: np.ndarray) -> np.ndarray:
    """Values (S, K) at each acting row's slots → (R, L). ``np.take`` on the flat array:
    several times faster than the equivalent fancy index."""
    return np.take(per_asset.reshape(-1), s_of[:, None] * per_asset.shape[1] + assets)


def _per_asset(values: np.ndarray, s_of: np.ndarray, assets: np.ndarray, valid: np.ndarray, shape) -> np.ndarray:
    """Sum row-slot values (R, L) into (S, K) by scenario and asset (sequential, so exact per scenario)."""
    bins = (s_of[:, None] * shape[1] + assets)[valid]
    return np.bincount(bins, weights=values[valid], minlength=shape[0] * shape[1]).reshape(shape)


def step(state: State, inputs: Inputs, scen: ScenarioArrays, t: int) -> tuple[State, dict, Trades]:
    """Advance every scenario by one round.

    Parameters
    ----------
    state : State
        State at the end of round ``t - 1`` (or t0) of scenarios still running (the loop
        steps only those; a stopped scenario is never passed in). Not modified.
    inputs : Inputs
    scen : ScenarioArrays
    t : int
        Round index (0 is the shock round).

    Returns
    -------
    State, dict, Trades
        The new state (``active`` says which scenarios go on), the round's (S, N) and
        (S, K) records, and the acting rows' trades.
    """
    n_scen, n_entries = state.q.shape
    n_inst = inputs.n_institutions
    entry_asset = inputs.entry_asset
    tol = scen.tolerance[:, None]
    levers = scen.levers_at(t)

    # 1. shocks, fading of past pressure: mean reversion, outside capital arriving, and
    # the transient part of thin-market impact at the resilience rate
    pressure, transient = state.pressure, state.transient
    if t > 0:
        pressure = mean_revert(pressure, scen.mean_reversion[:, None])
        transient = mean_revert(transient, scen.mean_reversion[:, None])
        if scen.capital_arrival.any():
            # outside capital arrives once its delay has passed
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
    depth_scale = state.depth_scale
    # capital added in cash (a recapitalisation), or a loss paid in cash and owed beyond it
    capital = scen.at("capital_shock", t)
    if capital is None:
        capital = capital_cash = np.zeros_like(state.cash)
        start_cash, start_equity, start_debt = state.cash, state.equity, state.debt
    else:
        # (against cash at or above 0: a rounding residue of -1e-16 must not turn a zero
        # shock into a payment, or a scenario would differ in a batch with later shocks)
        capital_cash = np.maximum(capital, -np.maximum(state.cash, 0.0))
        start_cash, start_equity = state.cash + capital_cash, state.equity + capital
        start_debt = state.debt + (capital_cash - capital)
    if t == 0:
        # dealers' balance-sheet cost at t0 (with any round-0 capital): each dealer's calm
        # break-even spread
        d = inputs.dealers
        calm_exposure = slr_exposure(state.q, state.mark, start_cash, inputs, levers.slr_exemption)
        calm_slr = ratio(start_equity, calm_exposure + state.margin_posted + state.lending)
        calm_cost = dealer_cost_of(calm_slr[:, d], np.broadcast_to(inputs.slr_trigger[d], (n_scen, d.size)),
                                   _var(state.q_trading, state.mark, state.sigma, inputs)[:, d], inputs.var_limit[d],
                                   np.zeros((n_scen, d.size), dtype=bool))
    else:
        calm_cost = state.calm_cost
    price = price_from_pressure(fundamental, inputs.p0, _impact(inputs, pressure + transient), levers.max_discount,
                                inputs.relative_impact)

    # 2. mark to market, below the price where quotes are missing (the uncertainty the
    # information channel left last round); derivatives settle variation margin in cash at
    # the market price (a loss is owed to the counterparty until paid) and initial margin
    # follows volatility
    mark = marks(price, inputs.opacity, state.uncertainty)
    q, cash, debt, posted = state.q, start_cash, start_debt, state.margin_posted
    equity = start_equity + inputs.per_institution(q * np.take(mark - state.mark, entry_asset, axis=1))
    final = scen.final_settlement
    if final.any():
        # sales settling at the final price: the seller carries their price moves, in its debt
        carried = inputs.per_institution(state.pending * np.take(price - state.price, entry_asset, axis=1))
        equity, debt = equity + carried, debt - carried
        # a rise beyond the debt is paid in cash by the buyers
        settled_cash = np.maximum(-debt, 0.0)
        debt, cash = debt + settled_cash, cash + settled_cash
    else:
        settled_cash = np.zeros_like(equity)
    derivatives = inputs.has_derivatives
    if derivatives:
        notional = inputs.derivative * state.derivative_open
        variation = inputs.derivatives_per_institution(price - state.price, notional)
        required = inputs.derivatives_per_institution(sigma / inputs.sigma0, inputs.margin_base * state.derivative_open)
        margin_out, margin_back = np.maximum(required - posted, 0.0), np.maximum(posted - required, 0.0)
        vm_gain, vm_loss = np.maximum(variation, 0.0), np.maximum(-variation, 0.0)
        equity = equity + variation
        cash = cash + vm_gain + margin_back
        debt = debt + vm_loss
        vm_loss = vm_loss + state.vm_owed  # and what the last round's trading left owed
        posted = posted - margin_back
    else:
        margin_out = vm_gain = margin_back = np.zeros_like(equity)
        vm_loss = state.vm_owed
    lending = state.lending
    total_assets = cash + posted + lending + inputs.per_institution(q * np.take(mark, entry_asset, axis=1))
    # investors recapitalise an institution that has been below its leverage trigger for
    # more rounds in a row than their lag: cash c restoring the target λ, (E + c) / (A + c) = λ
    below = ratio(equity, total_assets) < inputs.leverage_trigger  # NaN trigger: never
    rounds_below = np.where(below & ~state.defaulted, state.rounds_below + 1, 0)
    recapitalised = rounds_below > inputs.recapitalisation_lag
    if recapitalised.any():
        target = np.where(recapitalised, inputs.leverage_target, 0.0)
        recap = np.where(recapitalised, np.maximum(target * total_assets - equity, 0.0) / (1.0 - target), 0.0)
        cash, equity, total_assets = cash + recap, equity + recap, total_assets + recap
    else:
        recap = np.zeros_like(equity)
    exposure = slr_exposure(q, mark, cash, inputs, levers.slr_exemption) + posted + lending
    slr = ratio(equity, exposure)
    leverage = ratio(equity, total_assets)
    var = _var(state.q_trading, mark, sigma, inputs)
    haircut = haircuts(sigma, inputs.sigma0, inputs.haircut0, inputs.haircut_beta, inputs.haircut_cap,
                       levers.haircut_floor)
    haircut = np.where(levers.facility_eligible, np.minimum(haircut, scen.facility_haircut[:, None]), haircut)
    # an SLR buffer release lowers triggers and targets, not below the minimum
    release = levers.slr_buffer_release[:, None]
    slr_floor = np.where(np.isnan(inputs.slr_minimum), 0.0, inputs.slr_minimum)
    slr_trigger = np.maximum(inputs.slr_trigger - release, slr_floor)
    slr_target = np.maximum(inputs.slr_target - release, slr_floor)

    # 3. constraints → what each channel asks, per institution. An institution that
    # deleverages only below its SLR minimum restores the minimum (and does not default there)
    at_minimum = inputs.slr_at_minimum
    defaulted = scen.switch("default") & in_default(
        equity, slr, leverage, np.where(at_minimum, np.nan, inputs.slr_minimum), inputs.leverage_minimum,
        state.defaulted | shocked_default
    )
    alive = ~defaulted
    shed_trigger = np.where(at_minimum, inputs.slr_minimum, slr_trigger)
    shed_target = np.where(at_minimum, inputs.slr_minimum, slr_target)
    slr_shed = np.where(scen.switch("slr") & alive, slr_shrink(equity, exposure, shed_trigger, shed_target), 0.0)
    lev_trade = np.where(
        scen.switch("leverage") & alive,
        leverage_trade(equity, total_assets, inputs.leverage_trigger, inputs.leverage_target, inputs.two_sided),
        0.0,
    )
    # Funding: margin calls, repo not rolled, short-term runs, redemptions — paid from
    # cash first. (A system without repo, short-term debt or funds skips this work.)
    funding = inputs.has_funding or bool(scen.redemption_shock.any())
    if funding:
        collateral = q * np.take(mark, entry_asset, axis=1)
        alive_at = np.take(alive, inputs.entry_institution, axis=1)
        margin = np.where(scen.switch("margin") & alive_at,
                          margin_calls(state.repo, collateral, np.take(haircut, entry_asset, axis=1)), 0.0)
        roll_share = np.where(scen.switch("rollover") & alive,
                              withdrawal_share(leverage, inputs.rollover_threshold, inputs.rollover_share), 0.0)
        rolled_off = (state.repo - margin) * np.take(roll_share, inputs.entry_institution, axis=1)
        rolled_off = np.where(np.take(levers.facility_eligible, entry_asset, axis=1), 0.0, rolled_off)  # facility rolls it
        run = np.where(scen.switch("unsecured") & alive,
                       withdrawal_share(leverage, inputs.run_threshold, inputs.run_share) * state.short_term, 0.0)
        margin_due, rolled_due = inputs.per_institution(margin), inputs.per_institution(rolled_off)
        # a day's repo interest, at the market rate or the facility's minimum bid rate on
        # eligible collateral, accrues to debt and is called with the other repo funding
        rate_paid = np.where(levers.facility_eligible, np.minimum(repo_rate, scen.facility_min_rate[:, None]), repo_rate)
        interest = inputs.per_institution(state.repo * np.take(rate_paid, entry_asset, axis=1)) / TRADING_DAYS
        interest = np.where(scen.switch("rollover"), interest, 0.0)  # part of repo funding
        equity, debt = equity - interest, debt + interest
        interest_call = np.where(alive, interest, 0.0)
        rolled_due = rolled_due + interest_call
        wave = scen.at("redemption_shock", t)
        # investors react to the NAV per share since the last marking: the shock and the
        # fire-sale losses booked after the last round's trades
        nav_now = np.divide(equity, state.shares, out=np.zeros_like(equity), where=state.shares > 0)
        nav_return = np.divide(nav_now, state.last_nav, out=np.ones_like(equity), where=state.last_nav > 0) - 1.0
        swing = inputs.swing_pricing | levers.swing_pricing[:, None]
        # the redemption channel is the investors' reaction to losses; a redemption wave is
        # a shock and comes whatever the channel's switch says
        sensitivity = np.where(scen.switch("redemption"), inputs.redemption_sensitivity, 0.0)
        remaining = np.maximum(1.0 - state.flow_redeemed / inputs.redemption_cap, 0.0)
        wave = np.zeros_like(equity) if wave is None else wave
        rate = redemption_rate(nav_return, sensitivity, inputs.first_mover, swing, wave, inputs.redemption_gate,
                               remaining)
        flow_rate = np.maximum(rate - wave, 0.0)
        redeem = np.where(alive, rate * np.maximum(equity, 0.0), 0.0)
    else:
        margin = rolled_off = np.zeros(1)
        roll_share = np.zeros_like(equity)
        run = margin_due = rolled_due = redeem = interest = interest_call = flow_rate = np.zeros_like(equity)
        swing = inputs.swing_pricing
    # derivative margin: variation owed and initial margin called, for the living (a
    # defaulter's variation loss stays in its debt, paid from its liquidation)
    calls_on = alive & scen.switch("margin")
    vm_call, margin_out = np.where(calls_on, vm_loss, 0.0), np.where(calls_on, margin_out, 0.0)
    margin_due = margin_due + vm_call + margin_out
    need = margin_due + rolled_due + run + redeem
    # Money-market funds recall repo lending before they sell; every borrower loses that
    # share of its repo (a standing facility keeps funding eligible collateral).
    recalled = np.zeros_like(equity)
    if funding and lending.any():
        recalled = np.where(alive & scen.switch("rollover"), np.minimum(np.maximum(need - cash, 0.0), lending), 0.0)
        borrowed_repo = state.repo.sum(axis=1)
        pulled = np.minimum(np.divide(recalled.sum(axis=1), borrowed_repo, out=np.zeros(n_scen),
                                      where=borrowed_repo > 0), 1.0)
        withdrawn = (state.repo - margin - rolled_off) * pulled[:, None]
        withdrawn = np.where(np.take(levers.facility_eligible, entry_asset, axis=1) | ~alive_at, 0.0, withdrawn)
        rolled_off = rolled_off + withdrawn
        rolled_due = rolled_due + inputs.per_institution(withdrawn)
        need = margin_due + rolled_due + run + redeem
        cash = cash + recalled
        lending = lending - recalled
    funding_cash = np.minimum(cash, need)
    shortfall = np.where(need - funding_cash > tol, need - funding_cash, 0.0)
    repo_called = state.repo - margin - rolled_off if funding else state.repo

    # Cash repays debt first where the institution's policy says so (up to the debt that
    # can be repaid early); it shrinks total assets always, and the SLR exposure unless
    # reserves are exempt. What the cash does not cover is sold.
    cash_counts_slr = ~levers.slr_exemption[:, None]
    wanted_cash = np.maximum(np.maximum(lev_trade, 0.0), np.where(cash_counts_slr, slr_shed, 0.0))
    cash_for_debt = np.where(inputs.repay_with_cash & alive, cash - funding_cash, 0.0)
    cash_used = np.minimum(cash_for_debt, wanted_cash)
    early = inputs.other_liabilities > 0
    if early.any():
        cash_used = np.where(early, np.minimum(cash_used, np.maximum(debt - inputs.other_liabilities, 0.0)), cash_used)
    slr_value = np.maximum(slr_shed - np.where(cash_counts_slr, cash_for_debt, 0.0), 0.0)
    lev_sell = np.maximum(lev_trade - cash_for_debt, 0.0)
    var_fraction = np.where(scen.switch("var") & alive, var_sale_fraction(var, inputs.var_limit), 0.0)

    # ... allocated to the positions of the acting rows only, each row's positions in
    # liquidity order (R, L)
    acting = defaulted | (slr_value > 0) | (lev_sell > 0) | (var_fraction > 0) | (lev_trade < -tol) | (shortfall > 0)
    rows = np.flatnonzero(acting)
    s_of, n_of = np.divmod(rows, n_inst)
    slots = inputs.row_entries[n_of]
    valid = slots >= 0
    flat = s_of[:, None] * n_entries + np.where(valid, slots, 0)
    asset_rows = np.where(valid, entry_asset[np.where(valid, slots, 0)], 0)
    q_rows = np.where(valid, q.reshape(-1)[flat], 0.0)
    qt_rows = np.where(valid, state.q_trading.reshape(-1)[flat], 0.0)
    price_rows = _at_rows(mark, s_of, asset_rows)  # books, and so sales, are valued at marks
    tradable_mask = inputs.tradable[asset_rows] & valid
    tradable = q_rows * price_rows * tradable_mask
    counted = ~(inputs.slr_exempt[asset_rows] & levers.slr_exemption[s_of, None])
    policy = inputs.liquidation[n_of]
    weights = np.where(valid, inputs.initial_weights[np.where(valid, slots, 0)], 0.0)
    var_rows = var_fraction.reshape(-1)[rows]
    dead_rows = defaulted.reshape(-1)[rows]
    # a funding sale must raise cash net of the repo each position secures
    if funding:
        repo_rows = np.where(valid, repo_called.reshape(-1)[flat], 0.0)
        net = net_book(tradable, repo_rows) * tradable_mask
        net_sold = allocate_sales(shortfall.reshape(-1)[rows], net, policy, None, weights)
        funding_sale = np.divide(net_sold * tradable, net, out=np.zeros_like(net), where=net > 0)
        funding_label = CHANNELS.index("margin") + np.argmax(
            np.stack([x.reshape(-1)[rows] for x in (margin_due, rolled_due, run, redeem)], axis=-1),
            axis=-1,
        )
    else:
        repo_rows = funding_sale = np.zeros_like(q_rows)
        funding_label = np.full(rows.size, -1)
    candidates = (
        (allocate_sales(slr_value.reshape(-1)[rows], tradable * counted, policy, None, weights), 0),
        (qt_rows * price_rows * tradable_mask * var_rows[:, None], 1),
        (allocate_sales(lev_sell.reshape(-1)[rows], tradable, policy, None, weights), 2),
        (np.where(dead_rows[:, None], tradable, 0.0), 3),
        (funding_sale, funding_label[:, None]),
    )
    sales = candidates[0][0]
    binding = np.where(sales > 0, 0, -1).astype(np.int8)
    for candidate, label in candidates[1:]:
        larger = candidate > sales
        sales = np.where(larger, candidate, sales)
        binding = np.where(larger, label, binding).astype(np.int8)
    tol_rows = scen.tolerance[s_of]
    quiet_seller = sales.sum(axis=-1) <= tol_rows
    sales = np.where(quiet_seller[:, None], 0.0, sales)
    binding = np.where(quiet_seller[:, None], -1, binding).astype(np.int8)
    lev_rows = lev_trade.reshape(-1)[rows]
    buys = pro_rata_buys(np.where(quiet_seller & (lev_rows < -tol_rows), -lev_rows, 0.0), tradable)

    safe_price = np.where(price_rows > 0, price_rows, 1.0)
    units = np.where(dead_rows[:, None], q_rows * tradable_mask, (sales - buys) / safe_price)
    units = np.minimum(units, q_rows)
    if scen.next_round_clearing.any():
        # orders placed in the last round would execute when a next round opens: none does
        left = scen.next_round_clearing[s_of] & (t + 1 >= scen.max_rounds[s_of])
        units = np.where(left[:, None], 0.0, units)
    # The trading book gives up what VaR asked of it, and at least its pro-rata share of
    # any larger sale; purchases join the books in proportion.
    book_share = np.divide(qt_rows, q_rows, out=np.zeros_like(q_rows), where=q_rows > 0)
    var_units = qt_rows * tradable_mask * np.where(dead_rows, 0.0, var_rows)[:, None]
    trading_cut = np.where(units > 0, np.minimum(np.maximum(var_units, units * book_share), units), units * book_share)

    # 4. dealer intermediation, then clearing through the impact law
    traded = units * _at_rows(price, s_of, asset_rows)  # at the pre-trade market price
    # what moves prices: value at the round's prices, or units (t0 value) where the scenario says so
    flowing = np.where(scen.pressure_in_units[s_of, None], units * _at_rows(np.broadcast_to(inputs.p0, price.shape),
                                                                            s_of, asset_rows), traded)
    dealer_of = inputs.dealer_index[n_of]
    by_dealer = dealer_of >= 0
    client_flow = _per_asset(flowing, s_of, asset_rows, valid & ~by_dealer[:, None], pressure.shape)
    if (client := scen.at("client_sale_shock", t)) is not None:
        client_flow = client_flow + client
    n_dealers = inputs.dealers.size
    positions = inputs.dealer_positions
    if n_dealers:
        # the acting dealers' own sales, per dealer position (S, P)
        at_position = inputs.entry_position[np.where(valid, slots, 0)]
        mine = valid & (at_position >= 0)
        n_pos = positions.dealer.size
        dealer_sales = np.bincount((s_of[:, None] * n_pos + at_position)[mine], weights=flowing[mine],
                                   minlength=n_scen * n_pos).reshape(n_scen, n_pos)
    dealer_sold = positions.by_asset(dealer_sales) if n_dealers else np.zeros_like(pressure)
    # dealers' balance-sheet cost: squared utilisation of their tightest constraint
    d = inputs.dealers
    cost = dealer_cost_of(slr[:, d], slr_trigger[:, d], var[:, d], inputs.var_limit[d], np.zeros((n_scen, d.size), bool))
    if n_dealers and scen.intermediation.any():
        blocked = (acting | defaulted | (shortfall > 0) | (roll_share > 0))[:, inputs.dealers]
        # the shadow cost rations new absorption: a dealer offers 1 / (1 + κ c) of its room
        appetite = 1.0 / (1.0 + scen.balance_sheet_cost[:, None] * cost)
        room = _dealer_room(inputs, scen, equity, exposure, total_assets, var, sigma, slr_trigger,
                            blocked | ~scen.intermediation[:, None], appetite)
        counted = ~(inputs.slr_exempt & levers.slr_exemption[:, None])
        dealing = intermediate(client_flow, dealer_sales, positions, room, counted,
                               np.where(scen.intermediation, state.layoff, 0.0), scen.dealer_lean,
                               (pressure + transient) * depth_scale, total_assets[:, inputs.dealers])
        bought = dealing.bought
        market_flow = dealing.outside
        # dealers take inventory at a price concession (Grossman-Miller), a share of the
        # impact the flow would have on outside buyers that their shadow cost of balance
        # sheet raises towards all of it: α + (1 - α) κc / (1 + κc)
        taken = dealing.absorbed + dealing.interdealer
        if scen.balance_sheet_cost.any():
            alpha = scen.absorption_impact[:, None]
            share = alpha + (1.0 - alpha) * (1.0 - appetite)
            concession = positions.by_asset(taken * share[:, positions.dealer])
        else:
            concession = scen.absorption_impact[:, None] * positions.by_asset(taken)
    elif n_dealers:
        # no scenario intermediates: dealers' own sales reach outside buyers like anyone's
        # (what intermediate() gives with no room: the same bits, without the work)
        bought = np.zeros_like(dealer_sales)
        dealing = None
        market_flow = client_flow + dealer_sold
        concession = 0.0
    else:
        dealer_sales = bought = np.zeros((n_scen, 0))
        dealing = None
        market_flow = client_flow
        concession = 0.0
    # all-to-all trading matches a share of the flow with outside buyers at no impact;
    # a central bank takes up to its caps of what is left (or what keeps its floor).
    # Pressure is kept at t0 depth: flow in a market the information channel thinned
    # counts 1/depth_scale times (its impact; past pressure is not repriced).
    # Flow moves the price at the round's depth; what thin depth adds beyond its calm
    # impact is kept apart as transient impact (it fades with the resilience rate).
    flow = (1.0 - levers.all_to_all[:, None]) * market_flow
    inflow = flow + concession
    new_pressure = pressure + inflow
    thinness = 1.0 / depth_scale - 1.0
    new_transient = transient + inflow * thinness
    purchases = np.zeros_like(new_pressure)
    if levers.purchase_eligible.any():
        floor_psi = impact_for_price(fundamental, inputs.p0, scen.purchase_floor[:, None] * inputs.p0,
                                     levers.max_discount, inputs.relative_impact)
        ceiling = pressure_for_impact(floor_psi, inputs.impact_law, inputs.depth,
                                      inputs.impact_floor, inputs.sigma0, inputs.adv, inputs.impact_kappa)
        wanted = np.where(np.isnan(scen.purchase_floor)[:, None], np.maximum(inflow, 0.0),
                          np.maximum(new_pressure + new_transient - ceiling, 0.0) * depth_scale)
        wanted = np.where(levers.purchase_eligible, wanted, 0.0)
        budget = np.minimum(levers.purchase_daily_cap, scen.purchase_total - state.purchased)
        asked = wanted.sum(axis=1)
        purchases = wanted * np.minimum(1.0, np.divide(budget, asked, out=np.ones_like(asked), where=asked > 0))[:, None]
        new_pressure = new_pressure - purchases
        new_transient = new_transient - purchases * thinness
    post = price_from_pressure(fundamental, inputs.p0, _impact(inputs, new_pressure + new_transient),
                               levers.max_discount, inputs.relative_impact)
    post_mark = marks(post, inputs.opacity, state.uncertainty)
    # sellers receive the bid, buyers pay the ask: half the effective spread off and on
    # final settlement: a sale books the pre-trade price and carries every move from there
    executed = np.where(final[:, None], price, execution_price(price, post, scen.execution_alpha[:, None]))
    half_spread = state.spread / 2.0
    bid, ask = executed * (1.0 - half_spread), executed * (1.0 + half_spread)
    executed_rows = np.where(units > 0, _at_rows(bid, s_of, asset_rows), _at_rows(ask, s_of, asset_rows))

    new_q = q.copy()
    new_q.reshape(-1)[flat[valid]] = (q_rows - units)[valid]
    new_q_trading = state.q_trading.copy()
    new_q_trading.reshape(-1)[flat[valid]] = np.minimum(np.maximum(qt_rows - trading_cut, 0.0), q_rows - units)[valid]
    proceeds = np.zeros_like(equity)
    proceeds.reshape(-1)[rows] = (units * executed_rows).sum(axis=-1)
    execution = _scatter((units * (executed_rows - price_rows)).sum(axis=-1), rows, equity.shape)
    outside_q = state.outside_q + _per_asset(units, s_of, asset_rows, valid, pressure.shape)
    # Dealers buy at the bid what they absorb, take in the inter-dealer market or buy
    # against the wind, into the trading book, financed by new borrowing.
    dealer_cost = np.zeros_like(equity)
    if dealing is not None:
        k_pos = positions.asset
        at_price = price[:, k_pos]
        bought_units = np.divide(bought, at_price, out=np.zeros_like(bought), where=at_price > 0)
        entries = inputs.dealer_position_entry
        new_q[:, entries] += bought_units
        new_q_trading[:, entries] += bought_units
        dealer_cost[:, inputs.dealers] = positions.by_dealer(bought_units * bid[:, k_pos])
        execution[:, inputs.dealers] += positions.by_dealer(bought_units * (mark - bid)[:, k_pos])
        outside_q = outside_q - positions.by_asset(bought_units)
    new_equity = equity + inputs.per_institution(new_q * np.take(post_mark - mark, entry_asset, axis=1)) + execution
    if final.any():
        new_pending = state.pending.copy()
        new_pending.reshape(-1)[flat[valid]] += np.maximum(units, 0.0)[valid]
        new_pending = np.where(final[:, None], new_pending, 0.0)
        carried_after = inputs.per_institution(new_pending * np.take(post - price, entry_asset, axis=1))
        new_equity = new_equity + carried_after
    else:
        new_pending, carried_after = state.pending, 0.0
    # derivatives are revalued at the post-trade price too: a gain is received, a loss
    # is owed (in debt) and called next round
    if derivatives:
        after_trades = inputs.derivatives_per_institution(post - price, notional)
        # a hedge is closed at the round's post-trade price in step with its position's sale
        derivative_open = state.derivative_open
        if inputs.hedges.size:
            before, after = q[:, inputs.hedge_entry], new_q[:, inputs.hedge_entry]
            kept = np.divide(after, before, out=np.ones_like(before), where=before > 0)
            derivative_open = derivative_open.copy()
            derivative_open[:, inputs.hedges] *= np.minimum(kept, 1.0)
        new_equity = new_equity + after_trades
        late_gain, late_loss = np.maximum(after_trades, 0.0), np.maximum(-after_trades, 0.0)
    else:
        late_gain = late_loss = np.zeros_like(equity)
        derivative_open = state.derivative_open

    # Cash waterfall. A sale first repays the repo its collateral secured; what is left
    # meets the funding calls, then repays debt. A call that cannot be met stays owed.
    if funding:
        sold_share = np.divide(np.maximum(units, 0.0), q_rows, out=np.zeros_like(q_rows), where=q_rows > 0)
        released_slots = repo_rows * sold_share
        released = _scatter(released_slots.sum(axis=-1), rows, equity.shape)
    else:
        released = np.zeros_like(equity)
    gross = np.maximum(proceeds, 0.0)
    borrowed = np.maximum(-proceeds, 0.0)  # purchases are financed by new debt from outside lenders
    cash_free = cash - funding_cash - cash_used
    loan_paid = np.minimum(released, gross + np.where(defaulted, cash, cash_free))
    deficiency = released - loan_paid  # the repo lender's claim beyond its collateral turns unsecured
    after_loans = gross - loan_paid
    calls_from_sales = np.minimum(shortfall, np.maximum(after_loans, 0.0))
    paid = funding_cash + calls_from_sales
    met = np.divide(paid, need, out=np.ones_like(need), where=need > 0)
    excess = after_loans - calls_from_sales  # negative: the loans took some cash too
    debt_after_cash = debt - cash_used - met * (run + vm_call + interest_call) + deficiency
    # a defaulter's creditors take everything; a solvent seller repays what can be repaid
    # early, now or (holding proceeds) from its cash in the next round
    available = np.where(defaulted, cash + excess,
                         np.where(scen.hold_proceeds[:, None], 0.0, np.maximum(excess, 0.0)))
    repayable = debt_after_cash
    if early.any():
        repayable = np.where(early & ~defaulted, np.maximum(debt_after_cash - inputs.other_liabilities, 0.0),
                             debt_after_cash)
    repaid = np.minimum(repayable, np.maximum(available, 0.0))
    new_debt = debt_after_cash - repaid + borrowed + dealer_cost - carried_after
    settled_after = np.maximum(-new_debt, 0.0)
    new_debt = new_debt + settled_after
    new_cash = np.where(defaulted, cash + excess - repaid, cash_free + excess - repaid) + late_gain
    new_debt = new_debt + late_loss
    new_short_term = np.minimum(state.short_term - met * run, new_debt)
    # Redeemers are paid the NAV they redeem; under swing pricing they bear the fund's
    # cost of selling in the round, which stays with the remaining investors.
    redeemed = met * redeem
    swing_charge = np.where(swing, np.minimum(redeemed, np.maximum(-execution, 0.0)), 0.0)
    payout = redeemed - swing_charge
    new_cash = new_cash + swing_charge + settled_after
    new_equity = new_equity - payout
    nav_per_share = np.divide(equity, state.shares, out=np.ones_like(equity), where=state.shares > 0)
    new_shares = state.shares - np.divide(redeemed, nav_per_share, out=np.zeros_like(equity), where=nav_per_share > 0)
    if funding:
        new_repo = state.repo - np.take(met, inputs.entry_institution, axis=1) * (margin + rolled_off)
        new_repo.reshape(-1)[flat[valid]] -= released_slots[valid]
        new_repo = np.maximum(new_repo, 0.0)
    else:
        new_repo = state.repo
    # Repo repaid in the round goes to its lenders in proportion to what they lend: the
    # money-market funds' share of the pool (after their recall) and outside lenders.
    repaid_to_funds = np.zeros_like(equity)
    if funding and lending.any():
        pool_before = state.repo.sum(axis=1) - recalled.sum(axis=1)
        repaid_pool = np.maximum(pool_before - new_repo.sum(axis=1), 0.0)
        fund_share = np.divide(repaid_pool, pool_before, out=np.zeros(n_scen), where=pool_before > 0)
        repaid_to_funds = lending * np.minimum(fund_share, 1.0)[:, None]
        lending = lending - repaid_to_funds
        new_cash = new_cash + repaid_to_funds

    # 5. volatility
    new_sigma = anchored_volatility(sigma, sigma_fundamental, state.price, post, scen.ewma_lambda[:, None],
                                    scen.volatility_anchor[:, None], scen.volatility_cap[:, None])

    # 6. information: spreads, quotes and marks for the next round, from the new
    # volatility and the dealers' constraints in this round
    # (quoting falls continuously with the cost: a dealer that sells still quotes, less;
    # one in default is out; dealers in breach or default make counterparty fear)
    dealers = inputs.dealers
    info = information_update(
        new_sigma, inputs.sigma0, inputs.mu0, np.where(defaulted[:, dealers], np.inf, cost), calm_cost, positions,
        total_assets[:, dealers], scen.layoff_share,
        {"elasticity": scen.info_elasticity, "cap": scen.info_cap, "rfq_spread": scen.info_rfq_spread,
         "rfq_depth": scen.info_rfq_depth, "depth_elasticity": scen.info_depth_elasticity,
         "fear_freeze": scen.info_fear_freeze, "depth_floor": scen.info_depth_floor,
         "spread_cap": scen.info_spread_cap},
        scen.information, troubled=(acting | defaulted)[:, dealers],
    )

    # 7. stop rule, per scenario: nobody traded and no price moved
    change = np.abs(post - state.price)
    relative = np.divide(change, state.price, out=np.where(change > 0, np.inf, 0.0), where=state.price > 0)
    moved = ((change.max(axis=1, initial=0.0) > scen.tolerance)
             & (relative.max(axis=1, initial=0.0) > scen.price_tolerance))
    traded_any = np.zeros(n_scen, dtype=bool)
    traded_any[s_of[np.abs(traded).sum(axis=-1) > tol_rows]] = True
    shocks_ahead = t + 1 <= scen.last_shock_round
    eventful = moved | traded_any
    still_active = (moved | traded_any | shocks_ahead) & (t + 1 < scen.max_rounds)

    new_state = State(
        q=new_q,
        q_trading=new_q_trading,
        repo=new_repo,
        cash=new_cash,
        debt=new_debt,
        short_term=new_short_term,
        shares=new_shares,
        last_nav=nav_per_share,
        capital_out=state.capital_out + payout - capital - recap,  # capital added counts as paid in
        rounds_below=rounds_below,
        flow_redeemed=state.flow_redeemed + met * flow_rate,
        derivative_open=derivative_open,
        equity=new_equity,
        price=post,
        mark=post_mark,
        spread=info.spread,
        quoting_share=info.quoting_share,
        uncertainty=info.uncertainty,
        depth_scale=info.depth_scale,
        layoff=info.layoff,
        calm_cost=calm_cost,
        pending=new_pending,
        fundamental=fundamental,
        pressure=new_pressure,
        transient=new_transient,
        sigma=new_sigma,
        sigma_fundamental=sigma_fundamental,
        haircut=haircut,
        repo_rate=repo_rate,
        defaulted=defaulted,
        outside_q=outside_q,
        purchased=state.purchased + purchases.sum(axis=1),
        margin_posted=posted + met * margin_out,
        vm_owed=vm_loss - met * vm_call + late_loss,
        lending=lending,
        outside_cash=state.outside_cash
        # outside sector: receives repayments, pays for what it buys (a purchase's price
        # and the loan financing it cancel out)
        # initial margin posted stays the poster's asset; variation margin changes hands
        + (paid - met * margin_out - swing_charge + loan_paid + repaid + cash_used - gross - vm_gain
           - recalled - repaid_to_funds - late_gain - capital_cash - recap - settled_cash - settled_after).sum(axis=1),
        active=still_active,
    )

    sold = np.where(units > 0, traded, 0.0)
    dealer_bought = np.zeros_like(price) if dealing is None else positions.by_asset(bought)
    per_row = lambda values: _scatter(values, rows, (n_scen, n_inst))  # noqa: E731
    # each sale into its (scenario, institution, binding channel) cell, in one pass
    n_channels = len(CHANNELS)
    selling = binding >= 0
    cells = (rows[:, None] * n_channels + binding)[selling]
    channel_sales = np.bincount(cells, weights=sold[selling], minlength=n_scen * n_inst * n_channels).reshape(
        n_scen, n_inst, n_channels)
    breach = np.stack(
        [slr < slr_trigger, var > inputs.var_limit, leverage < inputs.leverage_trigger,
         defaulted & ~state.defaulted, margin_due > tol, rolled_due > 0, run > 0, redeem > 0],
        axis=-1,
    )
    records = {
        "price": new_state.price,
        "pre_trade_price": price,
        "fundamental": new_state.fundamental,
        "sigma": new_state.sigma,
        "equity": new_state.equity,
        "cash": new_state.cash,
        "debt": new_state.debt,
        "repo": inputs.per_institution(new_state.repo) if funding else np.zeros_like(equity),
        "redeemed": redeemed,
        "repo_interest": interest,
        "capital_out": new_state.capital_out,
        "nav_per_share": np.divide(new_state.equity, new_state.shares, out=np.full_like(equity, np.nan),
                                   where=new_state.shares > 0),
        "haircut": new_state.haircut,
        "funding_need": need,
        "funding_paid": paid,
        "total_assets": new_state.cash + new_state.margin_posted + new_state.lending
        + inputs.per_institution(new_state.q * np.take(post_mark, entry_asset, axis=1)),
        "margin_posted": new_state.margin_posted,
        "derivative_notional": inputs.derivatives_per_institution(np.ones_like(new_state.price),
                                                                  inputs.derivative * new_state.derivative_open),
        "repo_lending": new_state.lending,
        "marked_equity": equity,
        "marked_assets": total_assets,
        "slr": slr,
        "slr_exposure": exposure,
        "leverage_ratio": leverage,
        "var": var,
        "var_after": _var(new_state.q_trading, post_mark, sigma, inputs),
        "mark": post_mark,
        "spread": info.spread,
        "quoting_share": info.quoting_share,
        "uncertainty": info.uncertainty,
        "depth_scale": info.depth_scale,
        "layoff_share": np.where(scen.intermediation, info.layoff, 0.0),
        "client_sales": np.zeros_like(price) if client is None else client,
        "forced_sales": _per_asset(np.maximum(traded, 0.0), s_of, asset_rows, valid, pressure.shape),
        "market_flow": market_flow,
        "dealer_purchases": dealer_bought,
        "interdealer": np.zeros_like(price) if dealing is None else positions.by_asset(dealing.interdealer),
        "dealer_net": dealer_bought - dealer_sold,
        "defaulted": new_state.defaulted,
        "outside_q": new_state.outside_q,
        "outside_cash": new_state.outside_cash,
        "sold": per_row(sold.sum(axis=-1)),
        "sales_by_channel": channel_sales,
        "purchases": per_row(np.where(units < 0, -traded, 0.0).sum(axis=-1)),
        "breach": breach,
        "proceeds": proceeds,
        "slr_target_exposure": np.divide(equity, slr_target, out=np.full_like(equity, np.nan), where=slr_shed > 0),
        "central_bank_purchases": purchases,
        "eventful": eventful,
    }
    return new_state, records, Trades(
        rows=rows, entries=slots, assets=np.where(valid, asset_rows, -1), sales=sold, binding=binding
    )


def _dealer_room(inputs: Inputs, scen: ScenarioArrays, equity: np.ndarray, exposure: np.ndarray,
                 total_assets: np.ndarray, var: np.ndarray, sigma: np.ndarray, slr_trigger: np.ndarray,
                 blocked: np.ndarray, appetite: np.ndarray) -> Room:
    """Dealers' room to take inventory (value) before their SLR, leverage or VaR trigger, times
    its ``appetite`` (S, D); none for a dealer that is ``blocked`` (selling, defaulted, short of
    funding). A dealer past its trigger that deleverages only below the minimum has no room
    but keeps its inventory: it rations new balance sheet instead of dumping the old."""
    d = inputs.dealers
    eq = equity[:, d]
    slr_trig = slr_trigger[:, d]
    lev_trig = inputs.leverage_trigger[d]
    limit = inputs.var_limit[d]
    with np.errstate(divide="ignore", invalid="ignore"):
        slr_room = np.where(np.isfinite(slr_trig) & scen.switch("slr"), eq / slr_trig - exposure[:, d], np.inf)
        lev_room = np.where(np.isfinite(lev_trig) & scen.switch("leverage"), eq / lev_trig - total_assets[:, d],
                            np.inf)
        z = ndtri(inputs.var_confidence[d])
        # per position: VaR room over the position's asset volatility
        p_dealer, p_asset = inputs.dealer_positions.dealer, inputs.dealer_positions.asset
        var_room = np.where((np.isfinite(limit) & scen.switch("var"))[:, p_dealer],
                            ((limit - np.nan_to_num(var[:, d], nan=0.0)) / z)[:, p_dealer] / sigma[:, p_asset],
                            np.inf)
    return Room(slr=np.where(blocked, 0.0, np.maximum(slr_room, 0.0) * appetite),
                leverage=np.where(blocked, 0.0, np.maximum(lev_room, 0.0) * appetite),
                var=np.where(blocked[:, p_dealer], 0.0, np.maximum(var_room, 0.0) * appetite[:, p_dealer]))


def _scatter(values: np.ndarray, rows: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    out = np.zeros(shape, dtype=values.dtype)
    out.reshape(-1)[rows] = values
    return out
