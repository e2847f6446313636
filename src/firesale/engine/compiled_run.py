"""Rounds run in one compiled call, until a scenario stops.

The run loop (:func:`firesale.engine.simulate.simulate_arrays`) steps a chunk of scenarios
round by round. With the compiled round (:mod:`firesale.engine.compiled_round`) each round
was one call, and between two calls Python wrapped the new state, copied some fifty
records into the batch's arrays, checked the state, added up the sales and kept the
per-position detail: for a run of one scenario of a small system that took longer than
the round itself. :func:`run_rounds` steps on inside compiled code while every scenario
of the chunk goes on, checking each new state (:func:`~firesale.engine.compiled_passes.
state_violation`) and adding each round's sales up, and hands back the rounds' records as
blocks, ``(rounds, scenarios, ...)``, which the loop writes into the batch's records one
copy per record (:meth:`firesale.engine.records.Records.write_rounds`). The loop takes
over again where a scenario stops (its final state is set aside and the others go on),
when the state leaves what is possible (the loop reports it) or after ``rounds`` rounds:
Python sizes the blocks so that they stay small.

Each round is :func:`~firesale.engine.compiled_round.round_table`, with the same
arguments as one call a round makes: the records are the same bits either way
(``tests/engine/test_compiled_run.py``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from firesale.engine.compiled_passes import state_violation
from firesale.engine.compiled_round import round_table
from firesale.engine.compiled_scalars import jit
from firesale.engine.compiled_tables import STATES, input_table, scenario_table, state_table
from firesale.engine.round import RoundRecords
from firesale.engine.state import Inputs, ScenarioArrays, State

__all__ = ["run_rounds", "compiled_rounds", "Rounds", "DETAIL_BLOCKS"]

#: The per-position blocks a run with ``detail`` hands back besides the round records, each
#: ``(rounds, scenarios, positions)``: the value each position sold (0 where it did not
#: trade), its binding channel (-1 none), its holdings and trading-book holdings after
#: the round.
DETAIL_BLOCKS = ("sales", "binding", "holdings", "trading_holdings")


@jit
def _block(value, rounds):  # pragma: no cover - compiled
    return np.empty((rounds,) + value.shape, value.dtype)


@jit
def _blocks(rec, rounds):  # pragma: no cover - compiled
    """A block of ``rounds`` rounds for each of the round records ``rec``."""
    return RoundRecords(
        price=_block(rec.price, rounds),
        pre_trade_price=_block(rec.pre_trade_price, rounds),
        fundamental=_block(rec.fundamental, rounds),
        sigma=_block(rec.sigma, rounds),
        equity=_block(rec.equity, rounds),
        cash=_block(rec.cash, rounds),
        debt=_block(rec.debt, rounds),
        repo=_block(rec.repo, rounds),
        redeemed=_block(rec.redeemed, rounds),
        repo_interest=_block(rec.repo_interest, rounds),
        capital_out=_block(rec.capital_out, rounds),
        nav_per_share=_block(rec.nav_per_share, rounds),
        haircut=_block(rec.haircut, rounds),
        funding_need=_block(rec.funding_need, rounds),
        funding_paid=_block(rec.funding_paid, rounds),
        total_assets=_block(rec.total_assets, rounds),
        margin_posted=_block(rec.margin_posted, rounds),
        derivative_notional=_block(rec.derivative_notional, rounds),
        repo_lending=_block(rec.repo_lending, rounds),
        marked_equity=_block(rec.marked_equity, rounds),
        marked_assets=_block(rec.marked_assets, rounds),
        slr=_block(rec.slr, rounds),
        slr_exposure=_block(rec.slr_exposure, rounds),
        leverage_ratio=_block(rec.leverage_ratio, rounds),
        var=_block(rec.var, rounds),
        var_after=_block(rec.var_after, rounds),
        mark=_block(rec.mark, rounds),
        spread=_block(rec.spread, rounds),
        quoting_share=_block(rec.quoting_share, rounds),
        uncertainty=_block(rec.uncertainty, rounds),
        depth_scale=_block(rec.depth_scale, rounds),
        layoff_share=_block(rec.layoff_share, rounds),
        client_sales=_block(rec.client_sales, rounds),
        forced_sales=_block(rec.forced_sales, rounds),
        market_flow=_block(rec.market_flow, rounds),
        dealer_purchases=_block(rec.dealer_purchases, rounds),
        interdealer=_block(rec.interdealer, rounds),
        dealer_net=_block(rec.dealer_net, rounds),
        defaulted=_block(rec.defaulted, rounds),
        outside_q=_block(rec.outside_q, rounds),
        outside_cash=_block(rec.outside_cash, rounds),
        sold=_block(rec.sold, rounds),
        sales_by_channel=_block(rec.sales_by_channel, rounds),
        purchases=_block(rec.purchases, rounds),
        breach=_block(rec.breach, rounds),
        proceeds=_block(rec.proceeds, rounds),
        slr_target_exposure=_block(rec.slr_target_exposure, rounds),
        central_bank_purchases=_block(rec.central_bank_purchases, rounds),
        eventful=_block(rec.eventful, rounds),
    )


@jit
def _put(blocks, i, rec):  # pragma: no cover - compiled
    blocks.price[i] = rec.price
    blocks.pre_trade_price[i] = rec.pre_trade_price
    blocks.fundamental[i] = rec.fundamental
    blocks.sigma[i] = rec.sigma
    blocks.equity[i] = rec.equity
    blocks.cash[i] = rec.cash
    blocks.debt[i] = rec.debt
    blocks.repo[i] = rec.repo
    blocks.redeemed[i] = rec.redeemed
    blocks.repo_interest[i] = rec.repo_interest
    blocks.capital_out[i] = rec.capital_out
    blocks.nav_per_share[i] = rec.nav_per_share
    blocks.haircut[i] = rec.haircut
    blocks.funding_need[i] = rec.funding_need
    blocks.funding_paid[i] = rec.funding_paid
    blocks.total_assets[i] = rec.total_assets
    blocks.margin_posted[i] = rec.margin_posted
    blocks.derivative_notional[i] = rec.derivative_notional
    blocks.repo_lending[i] = rec.repo_lending
    blocks.marked_equity[i] = rec.marked_equity
    blocks.marked_assets[i] = rec.marked_assets
    blocks.slr[i] = rec.slr
    blocks.slr_exposure[i] = rec.slr_exposure
    blocks.leverage_ratio[i] = rec.leverage_ratio
    blocks.var[i] = rec.var
    blocks.var_after[i] = rec.var_after
    blocks.mark[i] = rec.mark
    blocks.spread[i] = rec.spread
    blocks.quoting_share[i] = rec.quoting_share
    blocks.uncertainty[i] = rec.uncertainty
    blocks.depth_scale[i] = rec.depth_scale
    blocks.layoff_share[i] = rec.layoff_share
    blocks.client_sales[i] = rec.client_sales
    blocks.forced_sales[i] = rec.forced_sales
    blocks.market_flow[i] = rec.market_flow
    blocks.dealer_purchases[i] = rec.dealer_purchases
    blocks.interdealer[i] = rec.interdealer
    blocks.dealer_net[i] = rec.dealer_net
    blocks.defaulted[i] = rec.defaulted
    blocks.outside_q[i] = rec.outside_q
    blocks.outside_cash[i] = rec.outside_cash
    blocks.sold[i] = rec.sold
    blocks.sales_by_channel[i] = rec.sales_by_channel
    blocks.purchases[i] = rec.purchases
    blocks.breach[i] = rec.breach
    blocks.proceeds[i] = rec.proceeds
    blocks.slr_target_exposure[i] = rec.slr_target_exposure
    blocks.central_bank_purchases[i] = rec.central_bank_purchases
    blocks.eventful[i] = rec.eventful


@jit
def _traded(value, binding):  # pragma: no cover - compiled
    """Whether a slot's trade is kept in the detail: a sale of any bits (-0.0 too), or a
    binding channel."""
    return value != 0.0 or math.copysign(1.0, value) < 0.0 or binding >= 0


@jit
def run_rounds(st, inp, sc, t, rounds, running, sales_by_entry, p0, tolerance, price_bound, equity_bound,
               detail):  # pragma: no cover - compiled
    """Step every scenario of ``st`` from round ``t`` while all of them go on, ``rounds``
    rounds at most, and stop at a state that :func:`state_violation` rejects. Each round's
    acting rows' sales are added to ``sales_by_entry`` (the rows ``running`` of it).

    Returns the last new state (a :data:`~firesale.engine.compiled_tables.NewState` and
    its table), the rounds' records as blocks (:data:`RoundRecords` of ``(rounds, S, ...)``
    arrays), the per-position blocks of :data:`DETAIL_BLOCKS` (no rounds without
    ``detail``), the rounds completed and the violation of the last state (check, scenario,
    column; check -1: none): a rejected round is not completed and its records are not
    kept."""
    n_scen, n_entries = st.q.shape
    n_inst = inp.has_holdings.size
    new, table, rec, trades = round_table(st, inp, sc, t)
    blocks = _blocks(rec, rounds)
    kept = rounds if detail else 0
    sold = np.zeros((kept, n_scen, n_entries))
    binding = np.full((kept, n_scen, n_entries), -1, np.int8)
    holdings, trading = np.empty((kept, n_scen, n_entries)), np.empty((kept, n_scen, n_entries))
    done = 0
    check, where_s, where_j = -1, 0, 0
    while True:
        check, where_s, where_j = state_violation(new.price, new.equity, new.spread, new.q, new.cash,
                                                  new.fundamental, p0, tolerance, price_bound, equity_bound)
        if check >= 0:
            break
        _put(blocks, done, rec)
        rows, entries, assets, sales, binds = trades
        for r in range(rows.size):
            s = rows[r] // n_inst
            for slot in range(sales.shape[1]):
                if assets[r, slot] >= 0:
                    e = entries[r, slot]
                    sales_by_entry[running[s], e] += sales[r, slot]
                    if detail and _traded(sales[r, slot], binds[r, slot]):
                        sold[done, s, e] = sales[r, slot]
                        binding[done, s, e] = binds[r, slot]
        if detail:
            holdings[done] = new.q
            trading[done] = new.q_trading
        done += 1
        if done == rounds or not new.active.all():
            break
        t += 1
        new, table, rec, trades = round_table(table, inp, sc, t)
    return new, table, blocks, (sold, binding, holdings, trading), done, (check, where_s, where_j)


class Rounds(NamedTuple):
    """What :func:`compiled_rounds` hands back.

    Attributes
    ----------
    state : State
        The state after the last round completed (after the rejected round where
        ``violation`` is set: the loop reports it and goes no further).
    records : dict of ndarray
        Each round record of the rounds completed, ``(rounds, S, ...)``.
    detail : dict of ndarray
        :data:`DETAIL_BLOCKS`, ``(rounds, S, E)``; empty without ``detail``.
    rounds : int
        Rounds completed.
    violation : tuple of int, optional
        (check, scenario, column) of :meth:`firesale.engine.kernels.Kernels.state_violation`
        for the state a rejected round left; None where none was rejected.
    """

    state: State
    records: dict[str, np.ndarray]
    detail: dict[str, np.ndarray]
    rounds: int
    violation: tuple[int, int, int] | None


def compiled_rounds(state: State, inputs: Inputs, scen: ScenarioArrays, t: int, rounds: int, running: np.ndarray,
                    sales_by_entry: np.ndarray, detail: bool, tolerance: float, price_bound: float,
                    equity_bound: float) -> Rounds:
    """Rounds ``t``, ``t + 1``, ... of every scenario of ``state`` in one compiled call
    (:func:`run_rounds`), while all of them go on and for ``rounds`` rounds at most."""
    new, table, blocks, details, done, (check, s, j) = run_rounds(
        state_table(state), input_table(inputs), scenario_table(scen), int(t), max(int(rounds), 1),
        np.ascontiguousarray(running, dtype=np.int64), sales_by_entry, inputs.p0, float(tolerance),
        float(price_bound), float(equity_bound), bool(detail))
    new_state = State(*new)
    STATES.put(new_state, table)
    records = {name: block[:done] for name, block in zip(RoundRecords._fields, blocks)}
    kept = {name: block[:done] for name, block in zip(DETAIL_BLOCKS, details)} if detail else {}
    return Rounds(new_state, records, kept, done, None if check < 0 else (check, s, j))
