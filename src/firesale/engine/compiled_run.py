"""Rounds run in one compiled call, until a scenario stops.

The run loop (:func:`firesale.engine.simulate.simulate_arrays`) steps a chunk of scenarios
round by round. With the compiled round (:mod:`firesale.engine.compiled_round`) each round
was one call, and between two calls Python wrapped the new state, copied some fifty
records into the batch's arrays, checked the state, added up the sales and kept the
per-position detail: for a run of one scenario of a small system that took longer than
the round itself. :func:`run_rounds` steps on inside compiled code while every scenario
of the chunk goes on, checking each new state (:func:`~firesale.engine.compiled_passes.
state_violation`), adding each round's sales up and writing its dense records in place
into the batch's arrays (:meth:`firesale.engine.records.Records.store`). Records kept as
cells and the per-position detail come back as blocks, ``(rounds, scenarios, ...)``, that
the loop writes after the call (:meth:`~firesale.engine.records.Records.write_rounds`); a
batch's first call (:func:`first_rounds`), before it has record arrays, hands back every
record that way. The loop takes over again where a scenario stops (its final state is set aside and the others go on),
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

from firesale.channels import CHANNELS
from firesale.engine.compiled_passes import state_violation
from firesale.engine.compiled_round import round_table
from firesale.engine.compiled_scalars import inline, jit
from firesale.engine.compiled_tables import STATES, input_table, scenario_table, state_table
from firesale.engine.records import Records, as_run
from firesale.engine.round import ROUND_RECORDS, RoundRecords, record_bytes
from firesale.engine.state import Inputs, ScenarioArrays, State

__all__ = ["run_rounds", "first_rounds", "compiled_rounds", "Rounds", "DETAIL_BLOCKS"]

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
def _put_one(out, mode, t, t0, targets, value):  # pragma: no cover - compiled
    """Round ``t``'s ``value`` of one record: into its row ``t``, rows ``targets`` of the
    batch's array (mode 1), into round ``t - t0`` of a block (mode 2), or nowhere (0)."""
    if mode == 1:
        # cell by cell over flat runs: a row view a scenario would cost more than its cells
        n_scen = value.shape[0]
        width = value.size // n_scen if n_scen else 0
        cells, row = value.reshape(-1), out[t].reshape(-1)
        for s in range(n_scen):
            start = targets[s] * width
            for i in range(width):
                row[start + i] = cells[s * width + i]
    elif mode == 2:
        out[t - t0] = value


@jit
def _put(store, modes, t, t0, targets, rec):  # pragma: no cover - compiled
    """Round ``t``'s records ``rec`` into ``store`` (:func:`_put_one`, each with its mode)."""
    _put_one(store.price, modes[0], t, t0, targets, rec.price)
    _put_one(store.pre_trade_price, modes[1], t, t0, targets, rec.pre_trade_price)
    _put_one(store.fundamental, modes[2], t, t0, targets, rec.fundamental)
    _put_one(store.sigma, modes[3], t, t0, targets, rec.sigma)
    _put_one(store.equity, modes[4], t, t0, targets, rec.equity)
    _put_one(store.cash, modes[5], t, t0, targets, rec.cash)
    _put_one(store.debt, modes[6], t, t0, targets, rec.debt)
    _put_one(store.repo, modes[7], t, t0, targets, rec.repo)
    _put_one(store.redeemed, modes[8], t, t0, targets, rec.redeemed)
    _put_one(store.repo_interest, modes[9], t, t0, targets, rec.repo_interest)
    _put_one(store.capital_out, modes[10], t, t0, targets, rec.capital_out)
    _put_one(store.nav_per_share, modes[11], t, t0, targets, rec.nav_per_share)
    _put_one(store.haircut, modes[12], t, t0, targets, rec.haircut)
    _put_one(store.funding_need, modes[13], t, t0, targets, rec.funding_need)
    _put_one(store.funding_paid, modes[14], t, t0, targets, rec.funding_paid)
    _put_one(store.total_assets, modes[15], t, t0, targets, rec.total_assets)
    _put_one(store.margin_posted, modes[16], t, t0, targets, rec.margin_posted)
    _put_one(store.derivative_notional, modes[17], t, t0, targets, rec.derivative_notional)
    _put_one(store.repo_lending, modes[18], t, t0, targets, rec.repo_lending)
    _put_one(store.marked_equity, modes[19], t, t0, targets, rec.marked_equity)
    _put_one(store.marked_assets, modes[20], t, t0, targets, rec.marked_assets)
    _put_one(store.slr, modes[21], t, t0, targets, rec.slr)
    _put_one(store.slr_exposure, modes[22], t, t0, targets, rec.slr_exposure)
    _put_one(store.leverage_ratio, modes[23], t, t0, targets, rec.leverage_ratio)
    _put_one(store.var, modes[24], t, t0, targets, rec.var)
    _put_one(store.var_after, modes[25], t, t0, targets, rec.var_after)
    _put_one(store.mark, modes[26], t, t0, targets, rec.mark)
    _put_one(store.spread, modes[27], t, t0, targets, rec.spread)
    _put_one(store.quoting_share, modes[28], t, t0, targets, rec.quoting_share)
    _put_one(store.uncertainty, modes[29], t, t0, targets, rec.uncertainty)
    _put_one(store.depth_scale, modes[30], t, t0, targets, rec.depth_scale)
    _put_one(store.layoff_share, modes[31], t, t0, targets, rec.layoff_share)
    _put_one(store.client_sales, modes[32], t, t0, targets, rec.client_sales)
    _put_one(store.forced_sales, modes[33], t, t0, targets, rec.forced_sales)
    _put_one(store.market_flow, modes[34], t, t0, targets, rec.market_flow)
    _put_one(store.dealer_purchases, modes[35], t, t0, targets, rec.dealer_purchases)
    _put_one(store.interdealer, modes[36], t, t0, targets, rec.interdealer)
    _put_one(store.dealer_net, modes[37], t, t0, targets, rec.dealer_net)
    _put_one(store.defaulted, modes[38], t, t0, targets, rec.defaulted)
    _put_one(store.outside_q, modes[39], t, t0, targets, rec.outside_q)
    _put_one(store.outside_cash, modes[40], t, t0, targets, rec.outside_cash)
    _put_one(store.sold, modes[41], t, t0, targets, rec.sold)
    _put_one(store.sales_by_channel, modes[42], t, t0, targets, rec.sales_by_channel)
    _put_one(store.purchases, modes[43], t, t0, targets, rec.purchases)
    _put_one(store.breach, modes[44], t, t0, targets, rec.breach)
    _put_one(store.proceeds, modes[45], t, t0, targets, rec.proceeds)
    _put_one(store.slr_target_exposure, modes[46], t, t0, targets, rec.slr_target_exposure)
    _put_one(store.central_bank_purchases, modes[47], t, t0, targets, rec.central_bank_purchases)
    _put_one(store.eventful, modes[48], t, t0, targets, rec.eventful)


@jit
def _traded(value, binding):  # pragma: no cover - compiled
    """Whether a slot's trade is kept in the detail: a sale of any bits (-0.0 too), or a
    binding channel."""
    return value != 0.0 or math.copysign(1.0, value) < 0.0 or binding >= 0


# inlined into its two callers (numba's IR inlining): compiled on its own too, it would be
# a third copy of the round's code to generate, adding to the kernels' compile time
@inline
def _run(new, table, rec, trades, inp, sc, t, rounds, store, modes, targets, running, counted, sales_by_entry, p0,
         tolerance, price_bound, equity_bound, detail):  # pragma: no cover - compiled
    """The loop of :func:`run_rounds` and :func:`first_rounds`, from round ``t``'s results."""
    n_scen, n_entries = new.q.shape
    n_inst = inp.has_holdings.size
    t0 = t
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
        _put(store, modes, t, t0, targets, rec)
        for s in range(n_scen):
            counted[running[s]] += rec.eventful[s]
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
    return new, table, (sold, binding, holdings, trading), done, (check, where_s, where_j)


@jit
def run_rounds(st, inp, sc, t, rounds, store, modes, targets, running, counted, sales_by_entry, p0, tolerance,
               price_bound, equity_bound, detail):  # pragma: no cover - compiled
    """Step every scenario of ``st`` from round ``t`` while all of them go on, ``rounds``
    rounds at most, and stop at a state that :func:`state_violation` rejects. Each round's
    records go into ``store`` (a :data:`RoundRecords` of arrays, each written as its
    ``modes`` entry says, :func:`_put_one`; ``targets``: the batch's rows of the
    scenarios), its eventful flags are counted into ``counted`` and its acting rows' sales
    added to ``sales_by_entry`` (both at the rows ``running`` of the chunk).

    Returns the last new state (a :data:`~firesale.engine.compiled_tables.NewState` and
    its table), the per-position blocks of :data:`DETAIL_BLOCKS` (no rounds without
    ``detail``), the rounds completed and the violation of the last state (check, scenario,
    column; check -1: none): a rejected round is not completed and its records are not
    kept."""
    new, table, rec, trades = round_table(st, inp, sc, t)
    return _run(new, table, rec, trades, inp, sc, t, rounds, store, modes, targets, running, counted,
                sales_by_entry, p0, tolerance, price_bound, equity_bound, detail)


@jit
def first_rounds(st, inp, sc, t, rounds, capacity, running, counted, sales_by_entry, p0, tolerance, price_bound,
                 equity_bound, detail):  # pragma: no cover - compiled
    """:func:`run_rounds` before the batch has its record arrays: the records go into
    blocks of ``capacity`` rounds from round ``t`` (``(capacity, S, ...)``, not
    initialised beyond the rounds run), returned first."""
    new, table, rec, trades = round_table(st, inp, sc, t)
    blocks = _blocks(rec, capacity)
    modes = np.full(len(blocks), 2, np.int64)
    result = _run(new, table, rec, trades, inp, sc, t, rounds, blocks, modes, np.arange(rec.eventful.size),
                  running, counted, sales_by_entry, p0, tolerance, price_bound, equity_bound, detail)
    return (blocks,) + result


#: A batch whose records' first capacity takes at most this many bytes keeps the blocks of
#: its first compiled call as its records (:meth:`~firesale.engine.records.Records.write_rounds`).
ADOPT_BYTES = 4 << 20


class Rounds(NamedTuple):
    """What :func:`compiled_rounds` hands back.

    Attributes
    ----------
    state : State
        The state after the last round completed (after the rejected round where
        ``violation`` is set: the loop reports it and goes no further).
    detail : dict of ndarray
        :data:`DETAIL_BLOCKS`, ``(rounds, S, E)``; empty without ``detail``.
    rounds : int
        Rounds completed.
    violation : tuple of int, optional
        (check, scenario, column) of :meth:`firesale.engine.kernels.Kernels.state_violation`
        for the state a rejected round left; None where none was rejected.
    """

    state: State
    detail: dict[str, np.ndarray]
    rounds: int
    violation: tuple[int, int, int] | None


def compiled_rounds(state: State, inputs: Inputs, scen: ScenarioArrays, t: int, rounds: int, records: Records,
                    targets: np.ndarray, running: np.ndarray, counted: np.ndarray, sales_by_entry: np.ndarray,
                    detail: bool, keep: frozenset[str] | None, tolerance: float, price_bound: float,
                    equity_bound: float) -> Rounds:
    """Rounds ``t``, ``t + 1``, ... of every scenario of ``state`` in one compiled call
    (:func:`run_rounds`), while all of them go on and for ``rounds`` rounds at most. Their
    records go into ``records`` at the batch's rows ``targets``: written in place by the
    kernel where the batch has a dense array, through blocks otherwise
    (:meth:`~firesale.engine.records.Records.store`). Rounds in which something happened
    are counted into ``counted`` and sales added to ``sales_by_entry`` at the chunk's rows
    ``running``."""
    tables = state_table(state), input_table(inputs), scenario_table(scen)
    bounds = inputs.p0, float(tolerance), float(price_bound), float(equity_bound), bool(detail)
    rounds, rows = max(int(rounds), 1), np.ascontiguousarray(targets, dtype=np.int64)
    running = np.ascontiguousarray(running, dtype=np.int64)
    where = as_run(rows)
    store = records.store(ROUND_RECORDS, t, rounds, rows.size, keep)
    if store is None:
        # the batch's first rounds, in blocks: a small batch runs on in blocks of the records'
        # first capacity, which become its records; a large one runs one round, whose
        # records make the batch's arrays (numpy's), for the next calls to write in place
        per_round = record_bytes(records.n_scen, inputs.n_institutions, inputs.n_assets, len(CHANNELS))
        small = per_round * records.capacity <= ADOPT_BYTES
        rounds = rounds if small else 1
        blocks, new, table, details, done, (check, s, j) = first_rounds(
            *tables, int(t), rounds, max(records.capacity, rounds) if small else 1, running, counted, sales_by_entry,
            *bounds)
        records.write_rounds(t, where, dict(zip(ROUND_RECORDS, blocks)), done, keep, adopt=small)
    else:
        arrays, modes = store
        new, table, details, done, (check, s, j) = run_rounds(
            *tables, int(t), rounds, RoundRecords(*arrays), modes, rows, running, counted, sales_by_entry, *bounds)
        records.write_rounds(t, where, {name: block for name, block, mode in zip(ROUND_RECORDS, arrays, modes)
                                        if mode == 2}, done, keep)
    new_state = State(*new)
    STATES.put(new_state, table)
    kept = {name: block[:done] for name, block in zip(DETAIL_BLOCKS, details)} if detail else {}
    return Rounds(new_state, kept, done, None if check < 0 else (check, s, j))
