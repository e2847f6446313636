"""The loop over rounds and the stop rule (DESIGN §2 step 7).

A scenario stops when nobody trades and no price moves by more than its tolerance (and
no shock is still to come), or at its ``max_rounds``. Stopped scenarios stay frozen while
the rest of the batch runs on, so a scenario gives the same result in a batch as alone.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    sales_total : ndarray, shape (S, N, K)
        Value sold over all rounds.
    final : State
    """

    records: dict[str, np.ndarray]
    rounds: np.ndarray
    initial_equity: np.ndarray
    initial_loss: np.ndarray
    sales_total: np.ndarray
    final: State


def shock_only_loss(inputs: Inputs, scen: ScenarioArrays) -> np.ndarray:
    """Loss of the price shocks on t0 holdings, with no channel acting, shape (S,).

    .. math:: L_0 = \\sum_{i,k} q_{ik}\\, p_{0,k} \\Bigl(1 - \\prod_t (1 + F_{tk})\\Bigr)
    """
    growth = np.prod(1.0 + scen.price_shock, axis=1)
    book = (inputs.holdings * inputs.p0).sum(axis=0)  # (K,), a row-wise sum below
    return (book * (1.0 - growth)).sum(axis=-1)  # a row-wise sum: the same in a batch as alone


def _check_finite(state: State, active: np.ndarray, t: int) -> None:
    """Stop with a clear error when a scenario's prices or equity stop being finite numbers."""
    bad = active & ~(np.isfinite(state.price).all(axis=1) & np.isfinite(state.equity).all(axis=1))
    if bad.any():
        s = int(np.flatnonzero(bad)[0])
        raise ModelDivergenceError(Problem(
            "FS601", f"scenario {s}, round {t}",
            "prices or equity are no longer finite: the feedback is explosive (e.g. two-sided leverage "
            "targeting buying into its own price impact). Lower the impact (raise depth), cap max_rounds, "
            "or make the leverage targeting sell_only",
        ))


def simulate_arrays(inputs: Inputs, scen: ScenarioArrays, detail: bool = True) -> Trajectory:
    """Run every scenario of a batch to its stop.

    Parameters
    ----------
    inputs : Inputs
    scen : ScenarioArrays
    detail : bool
        Keep the (S, R, N, K) records (holdings, sales, binding channel); turn off for
        large batches, where only (S, R, N) and (S, R, K) records are kept.
    """
    n_scen = scen.switches.shape[0]
    n_inst, n_assets = inputs.holdings.shape
    state = initial_state(inputs, n_scen)
    initial_equity = state.equity.copy()
    sales_total = np.zeros((n_scen, n_inst, n_assets))
    rounds = np.zeros(n_scen, dtype=np.int64)
    history: list[dict[str, np.ndarray]] = []
    previous: dict[str, np.ndarray] = {}
    t = 0
    while state.active.any():
        was_active = state.active
        with np.errstate(over="ignore", invalid="ignore"):  # non-finite results are reported just below
            state, rec, trades = step(state, inputs, scen, t)
        _check_finite(state, was_active, t)
        if previous and not was_active.all():
            for name in LEVEL_RECORDS:
                mask = was_active.reshape((-1,) + (1,) * (rec[name].ndim - 1))
                rec[name] = np.where(mask, rec[name], previous[name])
        rounds += rec["eventful"]
        s_of, n_of = np.divmod(trades.rows, n_inst)
        slot = trades.assets >= 0
        where = (np.broadcast_to(s_of[:, None], slot.shape)[slot], np.broadcast_to(n_of[:, None], slot.shape)[slot],
                 trades.assets[slot])
        sales_total[where] += trades.sales[slot]  # each (s, n, k) at most once a round
        if detail:
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
        sales_total=sales_total,
        final=state,
    )
