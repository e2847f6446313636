"""Phase 5 of a round: cash first, then each channel's ask allocated to the positions of
the institutions that act, and the orders they place (docs/model.md, the round).

Only the *acting* rows — the (scenario, institution) pairs that breach a constraint,
fall short of funding or default in the round — are gathered, from every scenario into
one ``(R, L)`` block of their positions in liquidity order, so a round costs work
proportional to the positions held plus those actually traded.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from firesale.channels import CHANNELS
from firesale.channels.balance_sheet import var_sale_fraction
from firesale.engine.constraints import Constraints
from firesale.engine.funding_calls import FundingCalls
from firesale.engine.marking import Marked
from firesale.engine.kernels import NUMPY, Kernels
from firesale.engine.state import Inputs, Levers, ScenarioArrays, State

__all__ = ["Orders", "allocation"]


class Orders(NamedTuple):
    """The acting rows and their orders. (S, N) arrays, then (R,) and (R, L) blocks."""

    cash_used: np.ndarray  # (S, N) cash that repays debt instead of a sale
    acting: np.ndarray  # (S, N) bool
    rows: np.ndarray  # (R,) flat s * N + n of the acting rows
    s_of: np.ndarray  # (R,) scenario of each row
    n_of: np.ndarray  # (R,) institution of each row
    valid: np.ndarray  # (R, L) bool, False on padding
    entries: np.ndarray  # (R, L) entry of each slot (0 on padding)
    flat: np.ndarray  # (R, L) flat index s * E + entry into (S, E) arrays
    asset_rows: np.ndarray  # (R, L) asset of each slot (0 on padding)
    q_rows: np.ndarray  # (R, L) holdings
    qt_rows: np.ndarray  # (R, L) trading-book holdings
    price_rows: np.ndarray  # (R, L) marks the books are valued at
    repo_rows: np.ndarray  # (R, L) repo each position still secures
    sales: np.ndarray  # (R, L) value each channel asks, the largest
    binding: np.ndarray  # (R, L) int8 index into CHANNELS of the channel asking it, -1 none
    units: np.ndarray  # (R, L) units sold (negative: bought)
    trading_cut: np.ndarray  # (R, L) units the trading book gives up
    tol_rows: np.ndarray  # (R,) the scenario's tolerance


def allocation(state: State, inputs: Inputs, scen: ScenarioArrays, levers: Levers, t: int, marked: Marked,
               constraints: Constraints, calls: FundingCalls, kernels: Kernels = NUMPY) -> Orders:
    """Cash repays debt first where the institution's policy says so (up to the debt that
    can be repaid early); it shrinks total assets always, and the SLR exposure unless
    reserves are exempt. What the cash does not cover is sold: each channel's value is
    allocated to the row's positions by its liquidation policy
    (:func:`~firesale.channels.liquidation.allocate_sales`), a funding sale so as to raise
    cash net of the repo each position secures, and each position sells the largest ask
    (the elementwise maximum over channels): :meth:`~firesale.engine.kernels.Kernels.order_rows`."""
    tol = scen.tolerance[:, None]
    defaulted, alive = constraints.defaulted, constraints.alive
    slr_shed, lev_trade = constraints.slr_shed, constraints.lev_trade
    cash_counts_slr = ~levers.slr_exemption[:, None]
    wanted_cash = np.maximum(np.maximum(lev_trade, 0.0), np.where(cash_counts_slr, slr_shed, 0.0))
    cash_for_debt = np.where(inputs.repay_with_cash & alive, calls.cash - calls.funding_cash, 0.0)
    cash_used = np.minimum(cash_for_debt, wanted_cash)
    early = inputs.other_liabilities > 0
    if early.any():
        cash_used = np.where(early, np.minimum(cash_used, np.maximum(calls.debt - inputs.other_liabilities, 0.0)),
                             cash_used)
    slr_value = np.maximum(slr_shed - np.where(cash_counts_slr, cash_for_debt, 0.0), 0.0)
    lev_sell = np.maximum(lev_trade - cash_for_debt, 0.0)
    var_fraction = np.where(scen.switch("var") & alive, var_sale_fraction(marked.var, inputs.var_limit), 0.0)
    shortfall = calls.shortfall

    acting = defaulted | (slr_value > 0) | (lev_sell > 0) | (var_fraction > 0) | (lev_trade < -tol) | (shortfall > 0)
    rows = np.flatnonzero(acting)
    s_of, n_of = np.divmod(rows, inputs.n_institutions)
    if calls.funding:
        funding_label = CHANNELS.index("margin") + np.argmax(
            np.stack([x.reshape(-1)[rows] for x in (calls.margin_due, calls.rolled_due, calls.run, calls.redeem)],
                     axis=-1),
            axis=-1,
        )
    else:
        funding_label = np.full(rows.size, -1)
    asks = np.stack([x.reshape(-1)[rows] for x in (slr_value, var_fraction, lev_sell, shortfall, lev_trade)], axis=-1)
    # orders placed in the last round would execute when a next round opens: none does
    left = scen.next_round_clearing[s_of] & (t + 1 >= scen.max_rounds[s_of])
    row_orders = kernels.order_rows(inputs, state.q, state.q_trading, marked.mark,
                                    calls.repo_called if calls.funding else None, s_of, n_of,
                                    levers.slr_exemption[s_of], asks, funding_label, defaulted.reshape(-1)[rows],
                                    left, scen.tolerance[s_of])
    return Orders(cash_used, acting, rows, s_of, n_of, *row_orders, scen.tolerance[s_of])
