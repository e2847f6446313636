"""Phase 5 of a round compiled (numba): cash first, then the acting rows' channel asks and
their orders.

The numpy phase :func:`firesale.engine.allocation.allocation` is the reference. One kernel
here does its work per (scenario, institution): the cash that repays debt instead of a
sale, each channel's ask (the SLR value net of that cash, the VaR fraction of
:func:`firesale.channels.balance_sheet.var_sale_fraction`, the leverage value to sell, the
funding shortfall), whether the institution acts, and, for the acting rows, the funding
channel that asks the most and whether the orders are left unexecuted. The acting rows'
orders are then the compiled kernel of
:meth:`firesale.engine.compiled.CompiledKernels.order_rows`, as in the reference. Every
operation is elementwise in the reference's order, so the two agree to the last bit except
where the compiled row orders round differently (sums in another order).
"""

from __future__ import annotations

import numpy as np

from firesale.channels import CHANNELS
from firesale.engine.allocation import Orders
from firesale.engine.compiled_passes import order_rows
from firesale.engine.compiled_scalars import jit, maximum, minimum
from firesale.engine.compiled_tables import (
    canonical, canonical_calls, canonical_marked, input_table, lever_table, scenario_table, state_table)
from firesale.engine.constraints import Constraints
from firesale.engine.funding_calls import FundingCalls
from firesale.engine.kernels import NUMPY, Kernels
from firesale.engine.marking import Marked
from firesale.engine.state import Inputs, Levers, ScenarioArrays, State

__all__ = ["allocation", "allocation_table"]


#: column of the VaR channel in ``ScenarioArrays.switches``
_VAR = CHANNELS.index("var")
#: the first funding channel's index in CHANNELS (the funding labels count from it)
_MARGIN = CHANNELS.index("margin")


@jit
def _acting_rows(tolerance, slr_exemption, var_on, next_round_clearing, max_rounds, t, repay_with_cash,
                 other_liabilities, var_limit, defaulted, alive, slr_shed, lev_trade, cash, funding_cash, debt, var,
                 shortfall, funding, first_funding, margin_due, rolled_due, run, redeem,
                 cash_used, acting):  # pragma: no cover - compiled
    """Fill ``cash_used`` and ``acting`` (S, N) and return the acting rows in flat order
    (scenario by scenario): their flat index, scenario, institution, asks (R, 5), funding
    label (``first_funding``, the CHANNELS index of margin, plus the funding call that
    asks the most, in CHANNELS' order), SLR exemption, default, orders left, tolerance.
    Without funding (``funding`` False) the four funding calls are placeholders the kernel
    leaves alone."""
    n_scen, n_inst = defaulted.shape
    # at most every (scenario, institution) acts: the rows fill the front of these
    size = n_scen * n_inst
    rows, s_of, n_of = np.empty(size, np.int64), np.empty(size, np.int64), np.empty(size, np.int64)
    asks, label = np.empty((size, 5)), np.empty(size, np.int64)
    exempt, dead, left = np.empty(size, np.bool_), np.empty(size, np.bool_), np.empty(size, np.bool_)
    tol_rows = np.empty(size)
    count = 0
    for s in range(n_scen):
        tol = tolerance[s]
        counts_slr = not slr_exemption[s]
        # orders placed in the last round would execute when a next round opens: none does
        leaves = next_round_clearing[s] and t + 1 >= max_rounds[s]
        for n in range(n_inst):
            shed, lev = slr_shed[s, n], lev_trade[s, n]
            living = alive[s, n]
            wanted = maximum(maximum(lev, 0.0), shed if counts_slr else 0.0)
            for_debt = cash[s, n] - funding_cash[s, n] if repay_with_cash[n] and living else 0.0
            used = minimum(for_debt, wanted)
            if other_liabilities[n] > 0:  # only the debt beyond them can be repaid early
                used = minimum(used, maximum(debt[s, n] - other_liabilities[n], 0.0))
            cash_used[s, n] = used
            slr_value = maximum(shed - (for_debt if counts_slr else 0.0), 0.0)
            lev_sell = maximum(lev - for_debt, 0.0)
            var_fraction = 0.0
            if var_on[s] and living and var[s, n] > var_limit[n]:
                var_fraction = 1.0 - var_limit[n] / var[s, n]
            short = shortfall[s, n]
            acts = (defaulted[s, n] or slr_value > 0 or lev_sell > 0 or var_fraction > 0 or lev < -tol
                    or short > 0)
            acting[s, n] = acts
            if not acts:
                continue
            rows[count], s_of[count], n_of[count] = s * n_inst + n, s, n
            asks[count, 0], asks[count, 1], asks[count, 2] = slr_value, var_fraction, lev_sell
            asks[count, 3], asks[count, 4] = short, lev
            best = -1
            if funding:
                # np.argmax over (margin, rollover, unsecured, redemption): the first largest,
                # and the first NaN if there is one
                best = 0
                calls = (margin_due[s, n], rolled_due[s, n], run[s, n], redeem[s, n])
                for j in range(1, 4):
                    if calls[best] != calls[best]:
                        break
                    if calls[j] != calls[j] or calls[j] > calls[best]:
                        best = j
                best += first_funding
            label[count] = best
            exempt[count], dead[count], left[count] = slr_exemption[s], defaulted[s, n], leaves
            tol_rows[count] = tol
            count += 1
    return (rows[:count], s_of[:count], n_of[:count], asks[:count], label[:count], exempt[:count], dead[:count],
            left[:count], tol_rows[:count])


@jit
def allocation_table(st, inp, sc, lev, t, marked, limits, calls):  # pragma: no cover - compiled
    """The phase on the compiled tables (:mod:`firesale.engine.compiled_tables`): the acting
    rows, then their orders (:meth:`firesale.engine.compiled.CompiledKernels.order_rows`'s kernel)."""
    shape = limits.defaulted.shape
    cash_used, acting = np.empty(shape), np.empty(shape, np.bool_)
    # without funding the kernels leave the funding calls and the repo alone
    rows, s_of, n_of, asks, funding_label, exempt, dead, left, tol_rows = _acting_rows(
        sc.tolerance, lev.slr_exemption, np.ascontiguousarray(sc.switches[:, _VAR]), sc.next_round_clearing,
        sc.max_rounds, t, inp.repay_with_cash, inp.other_liabilities, inp.var_limit, limits.defaulted, limits.alive,
        limits.slr_shed, limits.lev_trade, calls.cash, calls.funding_cash, calls.debt, marked.var, calls.shortfall,
        calls.funding, _MARGIN, calls.margin_due, calls.rolled_due, calls.run, calls.redeem, cash_used, acting)
    size = (rows.size, inp.row_entries.shape[1])
    valid, entries, flat = np.empty(size, np.bool_), np.empty(size, np.int64), np.empty(size, np.int64)
    asset_rows, q_rows, qt_rows, price_rows = np.empty(size, np.int64), np.empty(size), np.empty(size), np.empty(size)
    repo_rows, sales, binding = np.empty(size), np.empty(size), np.empty(size, np.int8)
    units, trading_cut = np.empty(size), np.empty(size)
    order_rows(inp.row_entries, inp.entry_asset, inp.tradable, inp.slr_exempt, inp.liquidation, inp.initial_weights,
                st.q, st.q_trading, marked.mark, calls.repo_called, calls.funding, s_of, n_of, exempt, asks,
                funding_label, dead, left, tol_rows, valid, entries, flat, asset_rows, q_rows, qt_rows, price_rows,
                repo_rows, sales, binding, units, trading_cut)
    return Orders(cash_used, acting, rows, s_of, n_of, valid, entries, flat, asset_rows, q_rows, qt_rows, price_rows,
                  repo_rows, sales, binding, units, trading_cut, tol_rows)


def allocation(state: State, inputs: Inputs, scen: ScenarioArrays, levers: Levers, t: int, marked: Marked,
               constraints: Constraints, calls: FundingCalls, kernels: Kernels = NUMPY) -> Orders:
    """:func:`firesale.engine.allocation.allocation`, compiled: the same arguments, the same
    :class:`~firesale.engine.allocation.Orders`. ``kernels`` is unused: the row orders are the
    compiled kernel set's pass, run inside :func:`allocation_table`."""
    return allocation_table(state_table(state), input_table(inputs), scenario_table(scen), lever_table(levers),
                            int(t), canonical_marked(marked), canonical(constraints), canonical_calls(calls))
