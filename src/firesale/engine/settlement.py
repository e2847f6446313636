"""Phase 8 of a round: settlement — positions, profit and loss at execution prices, the
cash waterfall (repo, funding calls, debt), redemptions paid, and the outside sector's
cash (docs/model.md, the round)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from firesale.engine.allocation import Orders
from firesale.engine.clearing import Cleared
from firesale.engine.constraints import Constraints
from firesale.engine.funding_calls import FundingCalls
from firesale.engine.intermediation import Intermediated
from firesale.engine.kernels import NUMPY, Kernels
from firesale.engine.marking import Marked
from firesale.engine.shocks import Shocked
from firesale.engine.state import Inputs, ScenarioArrays, State

__all__ = ["Settled", "settlement", "SHARES_LEFT"]

#: Shares left after redemptions below this share of those before count as none.
SHARES_LEFT = 1e-12


class Settled(NamedTuple):
    """Books at the end of the round. (S, E) per position, (S, N), (S, K)."""

    q: np.ndarray  # (S, E)
    q_trading: np.ndarray  # (S, E)
    repo: np.ndarray  # (S, E)
    pending: np.ndarray  # (S, E) units sold that settle at the final price
    derivative_open: np.ndarray  # (S, M) share of each derivative still open
    equity: np.ndarray
    cash: np.ndarray
    debt: np.ndarray
    short_term: np.ndarray
    shares: np.ndarray
    nav_per_share: np.ndarray  # NAV per share the round's redemptions were paid at
    lending: np.ndarray
    margin_posted: np.ndarray
    vm_owed: np.ndarray
    outside_q: np.ndarray  # (S, K)
    outside_cash: np.ndarray  # (S,)
    proceeds: np.ndarray  # cash received from trades at execution prices
    paid: np.ndarray  # funding calls met
    met: np.ndarray  # share of the calls met
    redeemed: np.ndarray
    payout: np.ndarray  # paid to redeeming investors, after any swing charge


def settlement(state: State, inputs: Inputs, scen: ScenarioArrays, shocked: Shocked, marked: Marked,
               constraints: Constraints, calls: FundingCalls, orders: Orders, dealt: Intermediated,
               cleared: Cleared, kernels: Kernels = NUMPY) -> Settled:
    """Settle the round's trades.

    Dealers buy at the bid what they absorb, take in the inter-dealer market or buy
    against the wind, into the trading book, financed by new borrowing. Derivatives are
    revalued at the post-trade price (a gain is received, a loss owed in debt and called
    next round); a hedge is closed in step with its position's sale. Then the cash
    waterfall: a sale first repays the repo its collateral secured; what is left meets
    the funding calls, then repays debt, and a call that cannot be met stays owed.
    Redeemers are paid the NAV they redeem; under swing pricing they bear the fund's cost
    of selling in the round, which stays with the remaining investors."""
    price, post, post_mark = shocked.price, cleared.post, cleared.post_mark
    mark, equity = marked.mark, calls.equity
    q, units, valid, flat, rows, s_of = state.q, orders.units, orders.valid, orders.flat, orders.rows, orders.s_of
    defaulted = constraints.defaulted
    final = scen.final_settlement

    new_q, new_q_trading, row_proceeds, row_execution, released_slots = kernels.settle_rows(
        q, state.q_trading, valid, flat, s_of, orders.asset_rows, orders.q_rows, orders.qt_rows, orders.price_rows,
        orders.repo_rows, units, orders.trading_cut, cleared.bid, cleared.ask)
    proceeds = _per_row(row_proceeds, rows, equity.shape)
    execution = _per_row(row_execution, rows, equity.shape)
    outside_q = state.outside_q + kernels.per_asset(units, s_of, orders.asset_rows, valid, price.shape)
    dealer_cost = np.zeros_like(equity)
    if dealt.interdealer is not None:
        positions = inputs.dealer_positions
        at_price = price[:, positions.asset]
        bought_units = np.divide(dealt.bought, at_price, out=np.zeros_like(dealt.bought), where=at_price > 0)
        entries = inputs.dealer_position_entry
        new_q[:, entries] += bought_units
        new_q_trading[:, entries] += bought_units
        dealer_cost[:, inputs.dealers] = positions.by_dealer(bought_units * cleared.bid[:, positions.asset])
        execution[:, inputs.dealers] += positions.by_dealer(bought_units * (mark - cleared.bid)[:, positions.asset])
        outside_q = outside_q - positions.by_asset(bought_units)
    new_equity = equity + kernels.position_sums(new_q, post_mark - mark, inputs) + execution
    if final.any():
        new_pending = state.pending.copy()
        new_pending.reshape(-1)[flat[valid]] += np.maximum(units, 0.0)[valid]
        new_pending = np.where(final[:, None], new_pending, 0.0)
        carried_after = kernels.position_sums(new_pending, post - price, inputs)
        new_equity = new_equity + carried_after
    else:
        new_pending, carried_after = state.pending, 0.0
    if inputs.has_derivatives:
        after_trades = inputs.derivatives_per_institution(post - price, marked.notional)
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

    # the cash waterfall
    if calls.funding:
        released = _per_row(released_slots.sum(axis=-1), rows, equity.shape)
    else:
        released = np.zeros_like(equity)
    cash, need = calls.cash, calls.need
    gross = np.maximum(proceeds, 0.0)
    borrowed = np.maximum(-proceeds, 0.0)  # purchases are financed by new debt from outside lenders
    cash_free = cash - calls.funding_cash - orders.cash_used
    loan_paid = np.minimum(released, gross + np.where(defaulted, cash, cash_free))
    deficiency = released - loan_paid  # the repo lender's claim beyond its collateral turns unsecured
    after_loans = gross - loan_paid
    calls_from_sales = np.minimum(calls.shortfall, np.maximum(after_loans, 0.0))
    paid = calls.funding_cash + calls_from_sales
    met = np.divide(paid, need, out=np.ones_like(need), where=need > 0)
    excess = after_loans - calls_from_sales  # negative: the loans took some cash too
    debt_after_cash = (calls.debt - orders.cash_used - met * (calls.run + calls.vm_call + calls.interest_call)
                       + deficiency)
    # a defaulter's creditors take everything; a solvent seller repays what can be repaid
    # early, now or (holding proceeds) from its cash in the next round
    available = np.where(defaulted, cash + excess,
                         np.where(scen.hold_proceeds[:, None], 0.0, np.maximum(excess, 0.0)))
    repayable = debt_after_cash
    early = inputs.other_liabilities > 0
    if early.any():
        repayable = np.where(early & ~defaulted, np.maximum(debt_after_cash - inputs.other_liabilities, 0.0),
                             debt_after_cash)
    repaid = np.minimum(repayable, np.maximum(available, 0.0))
    new_debt = debt_after_cash - repaid + borrowed + dealer_cost - carried_after
    settled_after = np.maximum(-new_debt, 0.0)
    new_debt = new_debt + settled_after
    new_cash = np.where(defaulted, cash + excess - repaid, cash_free + excess - repaid) + late_gain
    new_debt = new_debt + late_loss
    new_short_term = np.minimum(state.short_term - met * calls.run, new_debt)
    redeemed = met * calls.redeem
    swing_charge = np.where(calls.swing, np.minimum(redeemed, np.maximum(-execution, 0.0)), 0.0)
    payout = redeemed - swing_charge
    new_cash = new_cash + swing_charge + settled_after
    new_equity = new_equity - payout
    nav_per_share = np.divide(equity, state.shares, out=np.ones_like(equity), where=state.shares > 0)
    new_shares = state.shares - np.divide(redeemed, nav_per_share, out=np.zeros_like(equity), where=nav_per_share > 0)
    # a fund whose investors redeem all of its NAV is wound up: no shares are left, not a
    # rounding residue of either sign (whose NAV per share would be noise)
    new_shares = np.where(new_shares <= SHARES_LEFT * state.shares, 0.0, new_shares)
    if calls.funding:
        new_repo = state.repo - np.take(met, inputs.entry_institution, axis=1) * (calls.margin + calls.rolled_off)
        new_repo.reshape(-1)[flat[valid]] -= released_slots[valid]
        new_repo = np.maximum(new_repo, 0.0)
    else:
        new_repo = state.repo
    # Repo repaid in the round goes to its lenders in proportion to what they lend: the
    # money-market funds' share of the pool (after their recall) and outside lenders.
    lending = calls.lending
    repaid_to_funds = np.zeros_like(equity)
    if calls.funding and lending.any():
        pool_before = state.repo.sum(axis=1) - calls.recalled.sum(axis=1)
        repaid_pool = np.maximum(pool_before - new_repo.sum(axis=1), 0.0)
        fund_share = np.divide(repaid_pool, pool_before, out=np.zeros(pool_before.shape), where=pool_before > 0)
        repaid_to_funds = lending * np.minimum(fund_share, 1.0)[:, None]
        lending = lending - repaid_to_funds
        new_cash = new_cash + repaid_to_funds
    # the outside sector receives repayments and pays for what it buys (a purchase's price
    # and the loan financing it cancel out); initial margin posted stays the poster's
    # asset, variation margin changes hands
    outside_cash = state.outside_cash + (
        paid - met * calls.margin_out - swing_charge + loan_paid + repaid + orders.cash_used - gross - marked.vm_gain
        - calls.recalled - repaid_to_funds - late_gain - shocked.capital_cash - marked.recap - marked.settled_cash
        - settled_after).sum(axis=1)
    return Settled(
        q=new_q, q_trading=new_q_trading, repo=new_repo, pending=new_pending, derivative_open=derivative_open,
        equity=new_equity, cash=new_cash, debt=new_debt, short_term=new_short_term, shares=new_shares,
        nav_per_share=nav_per_share, lending=lending, margin_posted=marked.posted + met * calls.margin_out,
        vm_owed=marked.vm_loss - met * calls.vm_call + late_loss, outside_q=outside_q, outside_cash=outside_cash,
        proceeds=proceeds, paid=paid, met=met, redeemed=redeemed, payout=payout,
    )


def _per_row(values: np.ndarray, rows: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Per-row values (R,) into an (S, N) array, zero elsewhere (``rows`` are flat ``s * N + n``)."""
    out = np.zeros(shape, dtype=values.dtype)
    out.reshape(-1)[rows] = values
    return out
