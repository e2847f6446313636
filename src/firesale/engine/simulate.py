"""The loop over rounds and the stop rule (DESIGN §2 step 7).

A scenario stops when nobody trades and no price moves by more than its tolerance (and
no shock is still to come), or at its ``max_rounds``. Stopped scenarios stay frozen while
the rest of the batch runs on, so a scenario gives the same result in a batch as alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from firesale.engine.round import LEVEL_RECORDS, step
from firesale.engine.state import Inputs, ScenarioArrays, State, initial_state
from firesale.errors import ModelDivergenceError, Problem

__all__ = ["Trajectory", "simulate_arrays"]


@dataclass(frozen=True)
class Trajectory:
    """Raw engine output: records stacked on a round axis (axis 1), plus summaries.

    Attributes
    ----------
    records : dict of ndarray
        Each of shape (S, R, ...): see :mod:`firesale.engine.round`.
    rounds : ndarray of int, shape (S,)
        Rounds in which something happened (the stop round is not counted).
    initial_equity : ndarray, shape (S, N)
    initial_loss : ndarray, shape (S,)
        Loss of the shocks alone on t0 books: plain mark-to-market revaluation.
    sales_by_entry : ndarray, shape (S, E)
        Value sold over all rounds, per position of the holdings pattern.
    final : State
    inputs : Inputs
    """

    records: dict[str, np.ndarray]
    rounds: np.ndarray
    initial_equity: np.ndarray
    initial_loss: np.ndarray
    sales_by_entry: np.ndarray
    final: State
    inputs: Inputs

    @property
    def sales_total(self) -> np.ndarray:
        """Value sold over all rounds, shape (S, N, K)."""
        return self.inputs.to_dense(self.sales_by_entry)


def shock_only_loss(inputs: Inputs, scen: ScenarioArrays) -> np.ndarray:
    """Loss of the price shocks on t0 holdings, with no channel acting, shape (S,).

    .. math:: L_0 = \\sum_{i,k} (q_{ik} + d_{ik})\\, p_{0,k} \\Bigl(1 - \\prod_t (1 + F_{tk})\\Bigr)

    with ``d`` the derivatives' signed notionals.
    """
    growth = np.prod(1.0 + scen.price_shock, axis=1)
    # book value per asset (K,) of holdings and derivatives; the sum over assets below is
    # row-wise, the same in a batch as alone
    book = (np.bincount(inputs.entry_asset, weights=inputs.held, minlength=inputs.n_assets)
            + np.bincount(inputs.derivative_asset, weights=inputs.derivative, minlength=inputs.n_assets)) * inputs.p0
    return (book * (1.0 - growth)).sum(axis=-1)  # a row-wise sum: the same in a batch as alone


def _check_finite(state: State, t: int, labels: np.ndarray) -> None:
    """Stop with a clear error when a scenario's prices or equity stop being finite numbers."""
    bad = ~(np.isfinite(state.price).all(axis=1) & np.isfinite(state.equity).all(axis=1))
    if bad.any():
        s = int(labels[np.flatnonzero(bad)[0]])
        raise ModelDivergenceError(Problem(
            "FS601", f"scenario {s}, round {t}",
            "prices or equity are no longer finite: the feedback is explosive (e.g. two-sided leverage "
            "targeting buying into its own price impact). Lower the impact (raise depth), cap max_rounds, "
            "or make the leverage targeting sell_only",
        ))


#: Scenarios run together in one pass are chunked so that a (scenarios × positions)
#: array stays about this many elements (512 KiB of float64, within a core's L2 cache):
#: large batches then work in cache instead of streaming every array through memory.
CHUNK_ELEMENTS = 1 << 16
_LEVELS = set(LEVEL_RECORDS) | {"holdings", "trading_holdings"}
_EMPTY = {"binding": -1, "slr_target_exposure": np.nan}


def simulate_arrays(
    inputs: Inputs, scen: ScenarioArrays, detail: bool = True, chunk_size: int | None = None
) -> Trajectory:
    """Run every scenario of a batch to its stop.

    Parameters
    ----------
    inputs : Inputs
    scen : ScenarioArrays
    detail : bool
        Keep the (S, R, N, K) records (holdings, sales, binding channel); turn off for
        large batches, where only (S, R, N) and (S, R, K) records are kept.
    chunk_size : int, optional
        Scenarios stepped together; default: as many as keep a (scenarios × positions)
        array near ``CHUNK_ELEMENTS``. Results do not depend on it.
    """
    n_scen = scen.switches.shape[0]
    size = chunk_size or max(1, CHUNK_ELEMENTS // max(inputs.n_entries, 1))
    if n_scen <= size:
        return _simulate_chunk(inputs, scen, detail)
    parts = [_simulate_chunk(inputs, scen.take(np.arange(lo, min(lo + size, n_scen))), detail)
             for lo in range(0, n_scen, size)]
    return _concatenate(parts)


def _simulate_chunk(inputs: Inputs, scen: ScenarioArrays, detail: bool) -> Trajectory:
    n_scen = scen.switches.shape[0]
    n_inst, n_assets = inputs.n_institutions, inputs.n_assets
    state = initial_state(inputs, scen)
    initial_equity = state.equity.copy()
    sales_by_entry = np.zeros_like(state.q)
    rounds = np.zeros(n_scen, dtype=np.int64)
    history: list[dict[str, np.ndarray]] = []
    previous: dict[str, np.ndarray] = {}
    t = 0
    while state.active.any():
        running = np.flatnonzero(state.active)
        compact = running.size < n_scen  # step only the scenarios still running
        sub_state = state.take(running) if compact else state
        sub_scen = scen.take(running) if compact else scen
        with np.errstate(over="ignore", invalid="ignore"):  # non-finite results are reported just below
            new_sub, sub_rec, trades = step(sub_state, inputs, sub_scen, t)
        _check_finite(new_sub, t, running)
        if compact:
            state = state.put(running, new_sub)
            rec = {}
            for name, value in sub_rec.items():
                full = previous[name].copy() if name in _LEVELS else np.full(
                    (n_scen,) + value.shape[1:], _EMPTY.get(name, 0), dtype=value.dtype)
                full[running] = value
                rec[name] = full
            sub_s, n_of = np.divmod(trades.rows, n_inst)
            s_of = running[sub_s]
        else:
            state, rec = new_sub, sub_rec
            s_of, n_of = np.divmod(trades.rows, n_inst)
        rounds += rec["eventful"]
        slot = trades.assets >= 0
        sales_by_entry.reshape(-1)[(s_of[:, None] * sales_by_entry.shape[1] + trades.entries)[slot]] += trades.sales[slot]
        if detail:
            where = (np.broadcast_to(s_of[:, None], slot.shape)[slot], np.broadcast_to(n_of[:, None], slot.shape)[slot],
                     trades.assets[slot])
            sales = np.zeros((n_scen, n_inst, n_assets))
            sales[where] = trades.sales[slot]
            binding = np.full((n_scen, n_inst, n_assets), -1, dtype=np.int8)
            binding[where] = trades.binding[slot]
            rec.update(holdings=inputs.to_dense(state.q), trading_holdings=inputs.to_dense(state.q_trading),
                       sales=sales, binding=binding)
        previous = rec
        history.append(rec)
        t += 1
    records = {name: np.stack([h[name] for h in history], axis=1) for name in history[0]}
    return Trajectory(
        records=records,
        rounds=rounds,
        initial_equity=initial_equity,
        initial_loss=shock_only_loss(inputs, scen),
        sales_by_entry=sales_by_entry,
        final=state,
        inputs=inputs,
    )


def _concatenate(parts: list[Trajectory]) -> Trajectory:
    """Join chunk results on the scenario axis; a shorter chunk is padded like stopped scenarios."""
    n_rounds = max(p.records["price"].shape[1] for p in parts)
    records = {}
    for name in parts[0].records:
        padded = []
        for p in parts:
            value = p.records[name]
            missing = n_rounds - value.shape[1]
            if missing:
                if name in _LEVELS:
                    tail = np.repeat(value[:, -1:], missing, axis=1)
                else:
                    tail = np.full((value.shape[0], missing) + value.shape[2:], _EMPTY.get(name, 0), dtype=value.dtype)
                value = np.concatenate([value, tail], axis=1)
            padded.append(value)
        records[name] = np.concatenate(padded, axis=0)
    return Trajectory(
        records=records,
        rounds=np.concatenate([p.rounds for p in parts]),
        initial_equity=np.concatenate([p.initial_equity for p in parts]),
        initial_loss=np.concatenate([p.initial_loss for p in parts]),
        sales_by_entry=np.concatenate([p.sales_by_entry for p in parts]),
        final=State.concatenate([p.final for p in parts]),
        inputs=parts[0].inputs,
    )
