"""One round of the model, in the order of docs/model.md, for every scenario at once.

A round is a pipeline of phases, each a function of explicit arrays in its own module:

1. :func:`~firesale.engine.shocks.shocks` — the round's shocks, the fading of past price
   pressure, the pre-trade price;
2. :func:`~firesale.engine.marking.marking` — mark to market (at marks below prices where
   quotes are missing), derivatives' margin, recapitalisation, the constraints measured;
3. :func:`~firesale.engine.constraints.constraints` — defaults, what the SLR and leverage ask;
4. :func:`~firesale.engine.funding_calls.funding_calls` — margin, repo, runs, redemptions;
5. :func:`~firesale.engine.allocation.allocation` — cash first, then each channel's ask
   allocated to the acting institutions' positions, the largest ask per position;
6. :func:`~firesale.engine.intermediation.intermediation` — dealers absorb, lay off, lean;
7. :func:`~firesale.engine.clearing.clearing` — outside buyers through the impact law;
8. :func:`~firesale.engine.settlement.settlement` — positions, P&L, the cash waterfall;
9. :func:`~firesale.engine.information.information` — volatility, then the information
   channel's spreads, quoting shares, depth, uncertainty and the layoff share for the next
   round.

A kernel set may run some phases compiled (:attr:`firesale.engine.kernels.Kernels.phases`),
with the same signature and the same results to rounding, or the whole round in one call
(:attr:`~firesale.engine.kernels.Kernels.whole_round`).

The stop rule (step 7 of docs/model.md) is decided here per scenario and applied in
:mod:`firesale.engine.simulate`.

Holdings are stored per position held at t0 (``(S, E)``, see
:mod:`firesale.engine.state`). Marking and the constraint checks are a few passes over
them; allocation and trading run only over the *acting* rows (see
:mod:`firesale.engine.allocation`). Dealers' purchases are an ``(S, P)`` block over the
dealer positions.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from firesale.channels.information import Information
from firesale.engine.allocation import Orders, allocation
from firesale.engine.clearing import Cleared, clearing
from firesale.engine.constraints import Constraints, constraints
from firesale.engine.funding_calls import FundingCalls, funding_calls
from firesale.engine.information import information
from firesale.engine.intermediation import Intermediated, calm_dealer_cost, intermediation
from firesale.engine.kernels import NUMPY, Kernels
from firesale.engine.marking import Marked, marking
from firesale.engine.settlement import Settled, settlement
from firesale.engine.shocks import Shocked, shocks
from firesale.engine.state import Inputs, ScenarioArrays, State

__all__ = ["step", "round_records", "Trades", "LEVEL_RECORDS", "FLOW_RECORDS", "ROUND_RECORDS", "RoundRecords", "record_bytes"]

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
#: Every round record, in the order a round returns them: the fields of the named tuple
#: :func:`assemble_records` and the compiled round build, so that each is named once.
RoundRecords = namedtuple("RoundRecords", (
    "price", "pre_trade_price", "fundamental", "sigma", "equity", "cash", "debt", "repo", "redeemed",
    "repo_interest", "capital_out", "nav_per_share", "haircut", "funding_need", "funding_paid", "total_assets",
    "margin_posted", "derivative_notional", "repo_lending", "marked_equity", "marked_assets", "slr", "slr_exposure",
    "leverage_ratio", "var", "var_after", "mark", "spread", "quoting_share", "uncertainty", "depth_scale",
    "layoff_share", "client_sales", "forced_sales", "market_flow", "dealer_purchases", "interdealer", "dealer_net",
    "defaulted", "outside_q", "outside_cash", "sold", "sales_by_channel", "purchases", "breach", "proceeds",
    "slr_target_exposure", "central_bank_purchases", "eventful",
))
ROUND_RECORDS = RoundRecords._fields


def record_bytes(n_scen: int, n_institutions: int, n_assets: int, n_channels: int) -> int:
    """About the bytes of one round's records of ``n_scen`` scenarios: some 32 records per
    institution, 16 per asset and two per institution and channel, eight bytes a cell."""
    return 8 * n_scen * (32 * n_institutions + 16 * n_assets + 2 * n_institutions * n_channels + 4)


@dataclass(frozen=True)
class Trades:
    """What the acting rows traded in a round.

    Attributes
    ----------
    rows : ndarray of int, shape (R,)
        Flat indices ``s * N + n`` of the acting (scenario, institution) pairs.
    entries : ndarray of int, shape (R, L)
        Position (entry of the holdings pattern) of each slot; any value on padding (``assets`` -1).
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


def step(state: State, inputs: Inputs, scen: ScenarioArrays, t: int,
         kernels: Kernels = NUMPY) -> tuple[State, dict, Trades]:
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
    kernels : Kernels
        The passes over positions: the numpy reference (default) or the compiled kernels
        (:func:`firesale.engine.kernels.kernels_named`).

    Returns
    -------
    State, dict, Trades
        The new state (``active`` says which scenarios go on), the round's (S, N) and
        (S, K) records, and the acting rows' trades.
    """
    if kernels.whole_round is not None:  # the kernel set runs the round in one call
        return kernels.whole_round(state, inputs, scen, t)
    levers = scen.levers_at(t)
    # a kernel set may compile whole phases (``kernels.phases``), behind these signatures
    phases = kernels.phases
    shocked = phases.get("shocks", shocks)(state, inputs, scen, levers, t)
    calm_cost = (phases.get("calm_dealer_cost", calm_dealer_cost)(state, inputs, levers, shocked.cash,
                                                                   shocked.equity, kernels) if t == 0
                 else state.calm_cost)
    marked = phases.get("marking", marking)(state, inputs, scen, levers, shocked, kernels)
    limits = phases.get("constraints", constraints)(state, inputs, scen, marked, shocked.shocked_default)
    calls = phases.get("funding_calls", funding_calls)(state, inputs, scen, levers, t, shocked, marked, limits,
                                                       kernels)
    orders = phases.get("allocation", allocation)(state, inputs, scen, levers, t, marked, limits, calls, kernels)
    dealt = phases.get("intermediation", intermediation)(state, inputs, scen, levers, t, shocked, marked, limits,
                                                         calls, orders, kernels)
    cleared = phases.get("clearing", clearing)(state, inputs, scen, levers, shocked, orders, dealt)
    settled = phases.get("settlement", settlement)(state, inputs, scen, shocked, marked, limits, calls, orders,
                                                   dealt, cleared, kernels)
    sigma, info = phases.get("information", information)(state, inputs, scen, shocked, marked, limits, orders,
                                                         dealt, cleared, calm_cost, kernels)
    active, eventful = _still_active(state, scen, t, cleared.post, orders, dealt.traded)
    new_state = State(
        q=settled.q,
        q_trading=settled.q_trading,
        repo=settled.repo,
        cash=settled.cash,
        debt=settled.debt,
        short_term=settled.short_term,
        shares=settled.shares,
        last_nav=settled.nav_per_share,
        capital_out=state.capital_out + settled.payout - shocked.capital - marked.recap,  # capital added counts as paid in
        rounds_below=marked.rounds_below,
        flow_redeemed=state.flow_redeemed + settled.met * calls.flow_rate,
        derivative_open=settled.derivative_open,
        equity=settled.equity,
        price=cleared.post,
        mark=cleared.post_mark,
        spread=info.spread,
        quoting_share=info.quoting_share,
        uncertainty=info.uncertainty,
        depth_scale=info.depth_scale,
        layoff=info.layoff,
        calm_cost=calm_cost,
        pending=settled.pending,
        fundamental=shocked.fundamental,
        pressure=cleared.pressure,
        transient=cleared.transient,
        sigma=sigma,
        sigma_fundamental=shocked.sigma_fundamental,
        haircut=marked.haircut,
        repo_rate=shocked.repo_rate,
        defaulted=limits.defaulted,
        outside_q=settled.outside_q,
        purchased=state.purchased + cleared.purchases.sum(axis=1),
        margin_posted=settled.margin_posted,
        vm_owed=settled.vm_owed,
        lending=settled.lending,
        outside_cash=settled.outside_cash,
        active=active,
    )
    records = phases.get("round_records", round_records)(state, new_state, inputs, scen, shocked, marked, limits,
                                                         calls, orders, dealt, cleared, settled, info, eventful,
                                                         kernels)
    sold = np.where(orders.units > 0, dealt.traded, 0.0)
    return new_state, records, Trades(rows=orders.rows, entries=orders.entries,
                                      assets=np.where(orders.valid, orders.asset_rows, -1), sales=sold,
                                      binding=orders.binding)


def _still_active(state: State, scen: ScenarioArrays, t: int, post: np.ndarray, orders: Orders,
                  traded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The stop rule, per scenario: a scenario goes on while anybody traded, a price moved
    beyond both tolerances or a shock is still to come, up to its ``max_rounds``.
    Returns (active, eventful), shape (S,) each."""
    change = np.abs(post - state.price)
    relative = np.divide(change, state.price, out=np.where(change > 0, np.inf, 0.0), where=state.price > 0)
    moved = ((change.max(axis=1, initial=0.0) > scen.tolerance)
             & (relative.max(axis=1, initial=0.0) > scen.price_tolerance))
    traded_any = np.zeros(post.shape[0], dtype=bool)
    traded_any[orders.s_of[np.abs(traded).sum(axis=-1) > orders.tol_rows]] = True
    shocks_ahead = t + 1 <= scen.last_shock_round
    eventful = moved | traded_any
    return (eventful | shocks_ahead) & (t + 1 < scen.max_rounds), eventful


def round_records(state: State, new_state: State, inputs: Inputs, scen: ScenarioArrays, shocked: Shocked, marked: Marked,
                  limits: Constraints, calls: FundingCalls, orders: Orders, dealt: Intermediated, cleared: Cleared,
                  settled: Settled, info: Information, eventful: np.ndarray, kernels: Kernels) -> dict[str, np.ndarray]:
    """The round's records (:data:`LEVEL_RECORDS`, :data:`FLOW_RECORDS`), (S, N), (S, K),
    (S, N, C) or (S,)."""
    n_scen, n_inst = state.equity.shape
    equity, price = calls.equity, shocked.price
    positions = inputs.dealer_positions
    dealing = dealt.interdealer is not None
    dealer_bought = positions.by_asset(dealt.bought) if dealing else np.zeros_like(price)
    sold, purchases, channel_sales, forced_sales = kernels.row_records(
        dealt.traded, orders.units, orders.binding, orders.s_of, orders.n_of, orders.asset_rows, orders.valid, n_scen,
        n_inst, inputs.n_assets)
    breach = np.stack(
        [marked.slr < marked.slr_trigger, marked.var > inputs.var_limit, marked.leverage < inputs.leverage_trigger,
         limits.defaulted & ~state.defaulted, calls.margin_due > scen.tolerance[:, None], calls.rolled_due > 0,
         calls.run > 0, calls.redeem > 0],
        axis=-1,
    )
    post_mark = cleared.post_mark
    computed = ComputedRecords(
        repo=kernels.position_sums(new_state.repo, None, inputs) if calls.funding else np.zeros_like(equity),
        nav_per_share=np.divide(new_state.equity, new_state.shares, out=np.full_like(equity, np.nan),
                                where=new_state.shares > 0),
        total_assets=new_state.cash + new_state.margin_posted + new_state.lending
        + kernels.position_sums(new_state.q, post_mark, inputs),
        derivative_notional=inputs.derivatives_per_institution(np.ones_like(new_state.price),
                                                               inputs.derivative * new_state.derivative_open),
        var_after=kernels.desk_var(new_state.q_trading, post_mark, shocked.sigma, inputs),
        layoff_share=np.where(scen.intermediation, info.layoff, 0.0),
        forced_sales=forced_sales,
        dealer_purchases=dealer_bought,
        interdealer=positions.by_asset(dealt.interdealer) if dealing else np.zeros_like(price),
        dealer_net=dealer_bought - dealt.dealer_sold,
        sold=sold,
        sales_by_channel=channel_sales,
        purchases=purchases,
        breach=breach,
        slr_target_exposure=np.divide(equity, marked.slr_target, out=np.full_like(equity, np.nan),
                                      where=limits.slr_shed > 0),
    )
    return assemble_records(new_state, shocked, marked, calls, dealt, cleared, settled, info, eventful, computed)


class ComputedRecords(NamedTuple):
    """The records a round computes; the others are arrays of the new state or of the
    phases, as they are (:func:`assemble_records`)."""

    repo: np.ndarray
    nav_per_share: np.ndarray
    total_assets: np.ndarray
    derivative_notional: np.ndarray
    var_after: np.ndarray
    layoff_share: np.ndarray
    forced_sales: np.ndarray
    dealer_purchases: np.ndarray
    interdealer: np.ndarray
    dealer_net: np.ndarray
    sold: np.ndarray
    sales_by_channel: np.ndarray
    purchases: np.ndarray
    breach: np.ndarray
    slr_target_exposure: np.ndarray


def assemble_records(new_state: State, shocked: Shocked, marked: Marked, calls: FundingCalls, dealt: Intermediated,
                     cleared: Cleared, settled: Settled, info: Information, eventful: np.ndarray,
                     computed: ComputedRecords) -> dict[str, np.ndarray]:
    """The round's records in their order: the ``computed`` ones and the arrays of the new
    state and of the phases they are."""
    price = shocked.price
    return RoundRecords(
        price=new_state.price,
        pre_trade_price=price,
        fundamental=new_state.fundamental,
        sigma=new_state.sigma,
        equity=new_state.equity,
        cash=new_state.cash,
        debt=new_state.debt,
        repo=computed.repo,
        redeemed=settled.redeemed,
        repo_interest=calls.interest,
        capital_out=new_state.capital_out,
        nav_per_share=computed.nav_per_share,
        haircut=new_state.haircut,
        funding_need=calls.need,
        funding_paid=settled.paid,
        total_assets=computed.total_assets,
        margin_posted=new_state.margin_posted,
        derivative_notional=computed.derivative_notional,
        repo_lending=new_state.lending,
        marked_equity=calls.equity,
        marked_assets=marked.total_assets,
        slr=marked.slr,
        slr_exposure=marked.exposure,
        leverage_ratio=marked.leverage,
        var=marked.var,
        var_after=computed.var_after,
        mark=cleared.post_mark,
        spread=info.spread,
        quoting_share=info.quoting_share,
        uncertainty=info.uncertainty,
        depth_scale=info.depth_scale,
        layoff_share=computed.layoff_share,
        client_sales=np.zeros_like(price) if dealt.client is None else dealt.client,
        forced_sales=computed.forced_sales,
        market_flow=dealt.market_flow,
        dealer_purchases=computed.dealer_purchases,
        interdealer=computed.interdealer,
        dealer_net=computed.dealer_net,
        defaulted=new_state.defaulted,
        outside_q=new_state.outside_q,
        outside_cash=new_state.outside_cash,
        sold=computed.sold,
        sales_by_channel=computed.sales_by_channel,
        purchases=computed.purchases,
        breach=computed.breach,
        proceeds=settled.proceeds,
        slr_target_exposure=computed.slr_target_exposure,
        central_bank_purchases=cleared.purchases,
        eventful=eventful,
    )._asdict()
