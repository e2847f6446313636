"""Phase 2 of a round, marking, compiled (numba).

The numpy phase :func:`firesale.engine.marking.marking` is the reference: this module
computes what it computes — marks, the positions revalued, final settlement carried,
derivatives' margin, recapitalisation, SLR exposure, haircuts, triggers — in one pass per
scenario instead of one numpy call per operation, with the math of the channel functions
it calls (:func:`firesale.channels.information.marks`,
:func:`firesale.channels.balance_sheet.ratio`, :func:`firesale.channels.balance_sheet.slr_exposure`,
:func:`firesale.channels.funding.haircuts`) written out. The desks' VaR is the compiled
kernel set's (:meth:`firesale.engine.compiled.CompiledKernels.desk_var`), its kernel called
with the quantiles of the system's table.

Sums over an institution's positions and derivatives add their terms in the order of
``np.add.reduceat``, which the numpy phase's sums use (the first term plus numpy's pairwise
sum of the others), and every other operation is the numpy phase's, in its order: the
results are the numpy phase's to the bit but for the VaR, whose kernel sums in its own
order. A sum in another order could move a ratio across its trigger in one path only.
``tests/engine/test_compiled_marking.py`` compares the two call by call.
"""

from __future__ import annotations

import numpy as np

from firesale.engine.compiled_passes import desk_var
from firesale.engine.compiled_scalars import inline, jit, maximum, minimum, pairwise_sum, ratio
from firesale.engine.compiled_tables import canonical, input_table, lever_table, scenario_table, state_table
from firesale.engine.kernels import NUMPY, Kernels
from firesale.engine.marking import Marked
from firesale.engine.shocks import Shocked
from firesale.engine.state import Inputs, Levers, ScenarioArrays, State

__all__ = ["marking", "marking_table"]


#: Runs of at most this many terms: the others after the first are added in turn, as
#: numpy's pairwise sum adds fewer than 8 terms.
_SHORT = 8


# inlined where it is called (numba's IR inlining): a call per sum, passing the array,
# would cost more than the sum. It reads a run of one flat array, not a row view of a 2-D
# one: each view taken in the loop would change the array's reference count, two atomic
# operations per sum.
@inline
def _run_sum(values, start, count):  # pragma: no cover
    """The sum of ``values[start:start + count]`` (count ≥ 1) in the order of
    ``np.add.reduceat``, which the numpy phase's sums over positions use: the first term plus
    the pairwise sum of the others. The same order gives the same bits, so a trigger on a sum
    flips in both or in neither."""
    if count <= _SHORT:  # the others, 7 at most, added in turn
        others = -0.0
        for i in range(start + 1, start + count):
            others += values[i]
        return values[start] + others
    return values[start] + pairwise_sum(values, start + 1, count - 1)


@jit
def _marking(price, sigma, uncertainty, last_mark, last_price, q, pending, shocked_equity, shocked_cash,
             shocked_debt, margin_posted, lending, vm_owed, rounds_below_before, defaulted, derivative_open,
             opacity, sigma0, slr_exempt, haircut0, haircut_beta, haircut_cap, entry_asset, starts, has_holdings,
             derivative, derivative_asset, derivative_starts, has_derivative, margin_base, leverage_trigger,
             leverage_target, recapitalisation_lag, slr_trigger, slr_target, slr_minimum, final_settlement,
             has_derivatives, slr_exemption, haircut_floor, facility_eligible, facility_haircut,
             slr_buffer_release):  # pragma: no cover
    n_scen, n_assets = price.shape
    n_entries, n_inst, n_deriv = q.shape[1], has_holdings.size, derivative.size
    mark = np.empty((n_scen, n_assets))
    haircut = np.empty((n_scen, n_assets))
    notional = np.empty((n_scen, n_deriv))
    # the (S, N) outputs, one allocation each: views of one block would lie a multiple of
    # 4 KiB apart for batch sizes like 1,024, and their writes contend for the same cache sets
    shape = (n_scen, n_inst)
    equity, cash, debt, posted, settled_cash = np.empty(shape), np.empty(shape), np.empty(shape), \
        np.empty(shape), np.empty(shape)
    margin_out, vm_gain, vm_loss, total_assets, recap = np.empty(shape), np.empty(shape), np.empty(shape), \
        np.empty(shape), np.empty(shape)
    exposure, slr, leverage, trigger_out, target_out = np.empty(shape), np.empty(shape), np.empty(shape), \
        np.empty(shape), np.empty(shape)
    rounds_below = np.empty(shape, dtype=np.int64)
    # per asset, for the scenario at hand: mark and price moves, the mark the SLR counts, σ / σ0
    moved, price_moved = np.empty(n_assets), np.empty(n_assets)
    counted, sigma_ratio = np.empty(n_assets), np.empty(n_assets)
    # the four runs of terms of one institution's sums over its positions (or derivatives)
    width = max(n_entries, n_deriv, 1)
    terms = np.empty(4 * width)
    for s in range(n_scen):
        exempt = slr_exemption[s]
        for k in range(n_assets):
            m = price[s, k] * (1.0 - opacity[k] * uncertainty[s, k])
            mark[s, k] = m
            moved[k] = m - last_mark[s, k]
            price_moved[k] = price[s, k] - last_price[s, k]
            counted[k] = 0.0 if (slr_exempt[k] and exempt) else m
            sigma_ratio[k] = sigma[s, k] / sigma0[k]
            base = haircut0[k]
            if haircut_floor[s]:
                cut = base
            else:
                cut = minimum(maximum(base + haircut_beta[k] * (sigma_ratio[k] - 1.0), base), haircut_cap[k])
            if facility_eligible[s, k]:
                cut = minimum(cut, facility_haircut[s])
            haircut[s, k] = cut
        for j in range(n_deriv):
            notional[s, j] = derivative[j] * derivative_open[s, j]
        run = 0  # the runs of entries of the institutions with holdings, in order
        derivative_run = 0  # and of derivatives of those with derivatives
        for n in range(n_inst):
            revalued = held = held_counted = carried = 0.0
            if has_holdings[n]:
                first = starts[run]
                count = (starts[run + 1] if run + 1 < starts.size else n_entries) - first
                if count <= _SHORT:
                    # _run_sum's order for a short run (the first term plus the others added in
                    # turn), summed as the terms are made: no array passes through a helper
                    # here, whose reference count would change at every institution
                    e, k = first, entry_asset[first]
                    revalued, held = q[s, e] * moved[k], q[s, e] * mark[s, k]
                    held_counted, carried = q[s, e] * counted[k], pending[s, e] * price_moved[k]
                    revalued_others = held_others = counted_others = carried_others = -0.0
                    for e in range(first + 1, first + count):
                        k = entry_asset[e]
                        revalued_others += q[s, e] * moved[k]
                        held_others += q[s, e] * mark[s, k]
                        counted_others += q[s, e] * counted[k]
                        carried_others += pending[s, e] * price_moved[k]
                    revalued, held = revalued + revalued_others, held + held_others
                    held_counted, carried = held_counted + counted_others, carried + carried_others
                else:
                    for i in range(count):
                        e, k = first + i, entry_asset[first + i]
                        terms[i] = q[s, e] * moved[k]
                        terms[width + i] = q[s, e] * mark[s, k]
                        terms[2 * width + i] = q[s, e] * counted[k]
                        terms[3 * width + i] = pending[s, e] * price_moved[k]
                    revalued, held = _run_sum(terms, 0, count), _run_sum(terms, width, count)
                    held_counted, carried = _run_sum(terms, 2 * width, count), _run_sum(terms, 3 * width, count)
                run += 1
            variation = required = 0.0
            if has_derivative[n]:
                first = derivative_starts[derivative_run]
                count = (derivative_starts[derivative_run + 1] if derivative_run + 1 < derivative_starts.size
                         else n_deriv) - first
                for i in range(count):
                    j = first + i
                    terms[i] = notional[s, j] * price_moved[derivative_asset[j]]
                    terms[width + i] = margin_base[j] * derivative_open[s, j] * sigma_ratio[derivative_asset[j]]
                variation, required = _run_sum(terms, 0, count), _run_sum(terms, width, count)
                derivative_run += 1
            eq = shocked_equity[s, n] + revalued
            c, d, p = shocked_cash[s, n], shocked_debt[s, n], margin_posted[s, n]
            settled = 0.0
            if final_settlement:
                # sales settling at the final price carry their price moves in the seller's debt;
                # a rise beyond the debt is paid in cash (every scenario once any settles at
                # the final price, as in the numpy phase)
                eq, d = eq + carried, d - carried
                settled = maximum(-d, 0.0)
                d, c = d + settled, c + settled
            if has_derivatives:
                called = maximum(required - p, 0.0)
                back = maximum(p - required, 0.0)
                gain, loss = maximum(variation, 0.0), maximum(-variation, 0.0)
                eq = eq + variation
                c = c + gain + back
                d = d + loss
                loss = loss + vm_owed[s, n]
                p = p - back
            else:
                called = gain = 0.0
                loss = vm_owed[s, n]
            assets = c + p + lending[s, n] + held
            # a NaN trigger never binds: the comparison is False
            below = ratio(eq, assets) < leverage_trigger[n]
            rounds = rounds_below_before[s, n] + 1 if (below and not defaulted[s, n]) else 0
            added = 0.0
            if rounds > recapitalisation_lag[n]:
                target = leverage_target[n]
                added = maximum(target * assets - eq, 0.0) / (1.0 - target)
                c, eq, assets = c + added, eq + added, assets + added
            measure = held_counted + (0.0 if exempt else c) + p + lending[s, n]
            # an SLR buffer release lowers triggers and targets, not below the minimum
            floor = 0.0 if np.isnan(slr_minimum[n]) else slr_minimum[n]
            release = slr_buffer_release[s]
            equity[s, n], cash[s, n], debt[s, n], posted[s, n] = eq, c, d, p
            settled_cash[s, n], margin_out[s, n], vm_gain[s, n], vm_loss[s, n] = settled, called, gain, loss
            total_assets[s, n], rounds_below[s, n], recap[s, n], exposure[s, n] = assets, rounds, added, measure
            slr[s, n], leverage[s, n] = ratio(eq, measure), ratio(eq, assets)
            trigger_out[s, n] = maximum(slr_trigger[n] - release, floor)
            target_out[s, n] = maximum(slr_target[n] - release, floor)
    return (mark, equity, cash, debt, posted, settled_cash, notional, margin_out, vm_gain, vm_loss, total_assets,
            rounds_below, recap, exposure, slr, leverage, haircut, trigger_out, target_out)


@jit
def marking_table(st, inp, sc, lev, shocked):  # pragma: no cover - compiled
    """The phase on the compiled tables (:mod:`firesale.engine.compiled_tables`)."""
    (mark, equity, cash, debt, posted, settled_cash, notional, margin_out, vm_gain, vm_loss, total_assets,
     rounds_below, recap, exposure, slr, leverage, haircut, slr_trigger, slr_target) = _marking(
        shocked.price, shocked.sigma, st.uncertainty, st.mark, st.price, st.q, st.pending, shocked.equity,
        shocked.cash, shocked.debt, st.margin_posted, st.lending, st.vm_owed, st.rounds_below, st.defaulted,
        st.derivative_open, inp.opacity, inp.sigma0, inp.slr_exempt, inp.haircut0, inp.haircut_beta,
        inp.haircut_cap, inp.entry_asset, inp.segment_starts, inp.has_holdings, inp.derivative,
        inp.derivative_asset, inp.derivative_starts, inp.has_derivative, inp.margin_base, inp.leverage_trigger,
        inp.leverage_target, inp.recapitalisation_lag, inp.slr_trigger, inp.slr_target, inp.slr_minimum,
        sc.final_settlement.any(), inp.has_derivatives, lev.slr_exemption, lev.haircut_floor,
        lev.facility_eligible, sc.facility_haircut, lev.slr_buffer_release)
    var = desk_var(st.q_trading, mark, inp.tradable, shocked.sigma, inp.var_desks, inp.row_entries,
                    inp.entry_asset, inp.var_correlation, inp.var_z, inp.has_holdings.size)
    return Marked(mark, equity, cash, debt, posted, settled_cash, notional, margin_out, vm_gain, vm_loss,
                  total_assets, rounds_below, recap, exposure, slr, leverage, var, haircut, slr_trigger, slr_target)


def marking(state: State, inputs: Inputs, scen: ScenarioArrays, levers: Levers, shocked: Shocked,
            kernels: Kernels = NUMPY) -> Marked:
    """:func:`firesale.engine.marking.marking`, compiled: the same arguments and result.
    ``kernels`` is taken for the signature's sake; the phase runs compiled whatever it is."""
    return marking_table(state_table(state), input_table(inputs), scenario_table(scen), lever_table(levers),
                         canonical(shocked))
