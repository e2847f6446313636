"""The round's records compiled (numba).

The numpy phase :func:`firesale.engine.round.round_records` is the reference, and this
module computes what it computes: most records are arrays of the new state or of the
phases passed through unchanged; the rest (the repo and the total assets summed over each
institution's positions, the NAV per share, the open derivative notional, the breach
flags, the exposure the SLR targets, the dealers' purchases and inter-dealer trades per
asset and the layoff share) come from one kernel, scenario by scenario. The desks' VaR
after the round's sales and the records of the acting rows' trades are the kernel set's
passes (``desk_var``, ``row_records``), as in the reference. Sums over positions are sequential where numpy's
``reduceat`` may sum pairwise, so the two agree to rounding, not bit for bit.
"""

from __future__ import annotations

import numpy as np

from firesale.channels import CHANNELS
from firesale.channels.information import Information
from firesale.engine.allocation import Orders
from firesale.engine.clearing import Cleared
from firesale.engine.compiled_passes import desk_var, row_records, row_starts
from firesale.engine.compiled_scalars import institution_sums, jit
from firesale.engine.compiled_tables import (
    InformationTable, canonical, canonical_calls, canonical_dealt, canonical_marked, input_table, scenario_table,
    state_table)
from firesale.engine.constraints import Constraints
from firesale.engine.funding_calls import FundingCalls
from firesale.engine.intermediation import Intermediated
from firesale.engine.kernels import Kernels
from firesale.engine.marking import Marked
from firesale.engine.round import ComputedRecords, assemble_records
from firesale.engine.settlement import Settled
from firesale.engine.shocks import Shocked
from firesale.engine.state import Inputs, ScenarioArrays, State

__all__ = ["round_records", "round_records_table"]

#: the breach flags, in the order of the reference's last axis of ``breach``
_N_BREACHES = 8
_N_CHANNELS = len(CHANNELS)


@jit
def _records(funding, repo, q, post_mark, entry_asset, segment_starts, has_holdings, cash, margin_posted, lending,
             new_equity, shares, derivative, derivative_open, derivative_starts, has_derivative,
             slr, slr_trigger, var, var_limit, leverage, leverage_trigger, defaulted, was_defaulted, margin_due,
             tolerance, rolled_due, run, redeem, equity, slr_target, slr_shed, dealing, pos_asset, bought,
             interdealer, dealer_sold, intermediation, layoff):  # pragma: no cover
    n_scen, n_inst = cash.shape
    n_assets = dealer_sold.shape[1]
    repo_sum = np.zeros((n_scen, n_inst))
    total_assets = np.empty((n_scen, n_inst))
    nav = np.empty((n_scen, n_inst))
    notional = np.empty((n_scen, n_inst))
    breach = np.empty((n_scen, n_inst, _N_BREACHES), dtype=np.bool_)
    target_exposure = np.empty((n_scen, n_inst))
    dealer_bought = np.zeros((n_scen, n_assets))
    interdealer_by_asset = np.zeros((n_scen, n_assets))
    dealer_net = np.empty((n_scen, n_assets))
    layoff_share = np.empty(n_scen)
    amounts = np.empty((1, derivative.size))
    for s in range(n_scen):
        if funding:
            institution_sums(repo, s, post_mark, s, False, entry_asset, segment_starts, has_holdings, repo_sum, s)
        institution_sums(q, s, post_mark, s, True, entry_asset, segment_starts, has_holdings, total_assets, s)
        # the open notionals: the reference values them at a price of one, and x * 1.0 is x,
        # so an unweighted sum (the marks passed are not read)
        for m in range(derivative.size):
            amounts[0, m] = derivative[m] * derivative_open[s, m]
        institution_sums(amounts, 0, post_mark, s, False, entry_asset, derivative_starts, has_derivative, notional,
                         s)
        for n in range(n_inst):
            total_assets[s, n] = cash[s, n] + margin_posted[s, n] + lending[s, n] + total_assets[s, n]
            nav[s, n] = new_equity[s, n] / shares[s, n] if shares[s, n] > 0 else np.nan
            target_exposure[s, n] = equity[s, n] / slr_target[s, n] if slr_shed[s, n] > 0 else np.nan
            breach[s, n, 0] = slr[s, n] < slr_trigger[s, n]
            breach[s, n, 1] = var[s, n] > var_limit[n]
            breach[s, n, 2] = leverage[s, n] < leverage_trigger[n]
            breach[s, n, 3] = defaulted[s, n] and not was_defaulted[s, n]
            breach[s, n, 4] = margin_due[s, n] > tolerance[s]
            breach[s, n, 5] = rolled_due[s, n] > 0
            breach[s, n, 6] = run[s, n] > 0
            breach[s, n, 7] = redeem[s, n] > 0
        if dealing:  # each asset's dealer positions summed in position order, as Positions.by_asset
            for p in range(pos_asset.size):
                dealer_bought[s, pos_asset[p]] += bought[s, p]
                interdealer_by_asset[s, pos_asset[p]] += interdealer[s, p]
        for k in range(n_assets):
            dealer_net[s, k] = dealer_bought[s, k] - dealer_sold[s, k]
        layoff_share[s] = layoff[s] if intermediation[s] else 0.0
    return (repo_sum, total_assets, nav, notional, breach, target_exposure, dealer_bought, interdealer_by_asset,
            dealer_net, layoff_share)


@jit
def round_records_table(st, new_st, inp, sc, shocked, marked, limits, calls, orders, dealt, cleared, settled, info,
                        eventful):  # pragma: no cover - compiled
    """The records the round computes (:class:`~firesale.engine.round.ComputedRecords`), on
    the compiled tables (:mod:`firesale.engine.compiled_tables`); the desks' VaR after the
    round and the acting rows' trade records are the compiled kernel set's passes."""
    n_scen, n_inst = st.equity.shape
    dealing = inp.dealers.size > 0 and sc.intermediation.any()
    # without funding (dealing) the kernel reads neither the repo (nor the dealers' trades)
    (repo, total_assets, nav, notional, breach, target_exposure, dealer_bought, interdealer, dealer_net,
     layoff_share) = _records(
        calls.funding, new_st.repo, new_st.q, cleared.post_mark, inp.entry_asset, inp.segment_starts, inp.has_holdings,
        new_st.cash, new_st.margin_posted, new_st.lending, new_st.equity, new_st.shares, inp.derivative,
        new_st.derivative_open, inp.derivative_starts, inp.has_derivative, marked.slr, marked.slr_trigger, marked.var,
        inp.var_limit, marked.leverage, inp.leverage_trigger, limits.defaulted, st.defaulted, calls.margin_due,
        sc.tolerance, calls.rolled_due, calls.run, calls.redeem, calls.equity, marked.slr_target, limits.slr_shed,
        dealing, inp.position_asset, dealt.bought, dealt.interdealer, dealt.dealer_sold, sc.intermediation,
        info.layoff)
    n_assets = inp.p0.size
    sold, purchases = np.zeros((n_scen, n_inst)), np.zeros((n_scen, n_inst))
    channel_sales, forced_sales = np.zeros((n_scen, n_inst, _N_CHANNELS)), np.zeros((n_scen, n_assets))
    row_records(dealt.traded, orders.units, orders.binding, orders.n_of, orders.asset_rows, orders.valid,
                row_starts(orders.s_of, n_scen), sold, purchases, channel_sales, forced_sales)
    # without desks the kernel gives NaN everywhere, as the kernel set's pass does
    var_after = desk_var(new_st.q_trading, cleared.post_mark, inp.tradable, shocked.sigma, inp.var_desks,
                          inp.row_entries, inp.entry_asset, inp.var_correlation, inp.var_z, n_inst)
    return ComputedRecords(repo, nav, total_assets, notional, var_after, layoff_share, forced_sales, dealer_bought,
                           interdealer, dealer_net, sold, channel_sales, purchases, breach, target_exposure)


def round_records(state: State, new_state: State, inputs: Inputs, scen: ScenarioArrays, shocked: Shocked,
                  marked: Marked, limits: Constraints, calls: FundingCalls, orders: Orders, dealt: Intermediated,
                  cleared: Cleared, settled: Settled, info: Information, eventful: np.ndarray,
                  kernels: Kernels) -> dict[str, np.ndarray]:
    """:func:`firesale.engine.round.round_records`, compiled: the same arguments, the same
    records to rounding. ``kernels`` is unused: the acting rows' trade records and the desks'
    VaR after the round are the compiled kernel set's passes, run inside :func:`round_records_table`."""
    info_table = canonical(InformationTable(*(getattr(info, name) for name in InformationTable._fields)))
    computed = round_records_table(
        state_table(state), state_table(new_state), input_table(inputs), scenario_table(scen), canonical(shocked),
        canonical_marked(marked), canonical(limits), canonical_calls(calls), canonical(orders), canonical_dealt(dealt),
        canonical(cleared), canonical(settled), info_table, np.ascontiguousarray(eventful))
    return assemble_records(new_state, shocked, marked, calls, dealt, cleared, settled, info, eventful, computed)
