"""Phase 4 of a round compiled (numba): the funding calls and the part cash meets.

The numpy phase :func:`firesale.engine.funding_calls.funding_calls` is the reference, and
this module computes what it computes in one kernel, scenario by scenario: the margin calls
(:func:`firesale.channels.funding.margin_calls`), repo not rolled and short-term runs
(:func:`firesale.channels.funding.withdrawal_share`), a day's repo interest, redemptions
(:func:`firesale.channels.redemptions.redemption_rate`), derivative margin and the money-market
funds' recall of repo lending, with the sums over each institution's positions
(``position_sums``) done in the same pass. The operations keep the reference's order, so the
two agree to rounding (the sums are sequential where numpy's may be pairwise); a scenario's
result never depends on the other scenarios of its batch beyond what the reference's own
batch-wide shortcut (whether anybody lends) decides.
"""

from __future__ import annotations

import numpy as np

from firesale.channels import CHANNELS
from firesale.engine.compiled_scalars import jit, maximum, minimum
from firesale.engine.compiled_tables import (
    canonical, canonical_marked, input_table, lever_table, scenario_table, state_table)
from firesale.engine.constraints import Constraints
from firesale.engine.funding_calls import TRADING_DAYS, FundingCalls
from firesale.engine.kernels import NUMPY, Kernels
from firesale.engine.marking import Marked
from firesale.engine.shocks import Shocked
from firesale.engine.state import Inputs, Levers, ScenarioArrays, State

__all__ = ["funding_calls", "funding_calls_table"]

_MARGIN, _ROLLOVER = CHANNELS.index("margin"), CHANNELS.index("rollover")
_UNSECURED, _REDEMPTION = CHANNELS.index("unsecured"), CHANNELS.index("redemption")
#: the trading days a year, a float as the kernel divides by it
_DAYS = float(TRADING_DAYS)


@jit
def _funding_calls(funding, switches, margin_on, rollover_on, unsecured_on, redemption_on, days, entry_asset,
                   segment_starts, has_holdings, rollover_threshold, rollover_share, run_threshold, run_share,
                   fund_swing, sensitivity, first_mover, gate, cap, tolerance, facility_min_rate, lever_swing,
                   facility_eligible, has_wave, wave, q, repo, short_term, shares, last_nav, flow_redeemed,
                   lending_in, repo_rate, mark, haircut, alive, leverage, equity_in, debt_in, cash_in, vm_loss,
                   margin_in, margin, rolled_off, repo_called, swing, roll_share, run, margin_due, rolled_due,
                   redeem, flow_rate, interest, interest_call, vm_call, margin_out, need, recalled, cash, equity,
                   debt, lending, funding_cash, shortfall):  # pragma: no cover - compiled
    """The phase's arrays, read-only inputs first, then the outputs it fills: (S, E) per
    position, (S, N) per institution. Without funding (``funding`` False) the position
    outputs and ``swing`` are empty placeholders the kernel leaves alone."""
    n_scen, n_inst = equity_in.shape
    n_entries = repo.shape[1]
    n_runs = segment_starts.size
    # the reference recalls lending when anybody in the batch lends (np.any): the same here,
    # so that both take the same branch on the same arguments
    recall = False
    if funding:
        for s in range(n_scen):
            for n in range(n_inst):
                recall = recall or lending_in[s, n] != 0.0  # (NaN counts as lending, as in np.any)
    for s in range(n_scen):
        on_margin, on_rollover = switches[s, margin_on], switches[s, rollover_on]
        on_unsecured, on_redemption = switches[s, unsecured_on], switches[s, redemption_on]
        segment = 0  # the runs of entries of the institutions with holdings, in order
        for n in range(n_inst):
            living = alive[s, n]
            margin_sum = rolled_sum = interest_day = interest_called = run_n = redeem_n = flow_n = share = 0.0
            equity_n, debt_n = equity_in[s, n], debt_in[s, n]
            if funding:
                lev = leverage[s, n]
                share = rollover_share[n] if on_rollover and living and lev < rollover_threshold[n] else 0.0
                if on_unsecured and living:
                    run_n = (run_share[n] if lev < run_threshold[n] else 0.0) * short_term[s, n]
                paid = 0.0
                if has_holdings[n]:
                    end = segment_starts[segment + 1] if segment + 1 < n_runs else n_entries
                    for e in range(segment_starts[segment], end):
                        k = entry_asset[e]
                        called = 0.0
                        if on_margin and living:
                            called = maximum(repo[s, e] - (1.0 - haircut[s, k]) * (q[s, e] * mark[s, k]), 0.0)
                        # a standing facility rolls the repo on eligible collateral, at most at its minimum bid rate
                        off = 0.0 if facility_eligible[s, k] else (repo[s, e] - called) * share
                        rate = minimum(repo_rate[s, k], facility_min_rate[s]) if facility_eligible[s, k] \
                            else repo_rate[s, k]
                        margin[s, e], rolled_off[s, e] = called, off
                        margin_sum += called
                        rolled_sum += off
                        paid += repo[s, e] * rate
                    segment += 1
                if on_rollover:  # the interest is part of repo funding
                    interest_day = paid / days
                equity_n, debt_n = equity_n - interest_day, debt_n + interest_day
                interest_called = interest_day if living else 0.0
                rolled_sum = rolled_sum + interest_called
                # investors react to the NAV per share since the last marking
                nav_now = equity_n / shares[s, n] if shares[s, n] > 0 else 0.0
                nav_return = (nav_now / last_nav[s, n] if last_nav[s, n] > 0 else 1.0) - 1.0
                swinging = fund_swing[n] or lever_swing[s]
                swing[s, n] = swinging
                # a redemption wave is a shock and comes whatever the channel's switch says
                reaction = sensitivity[n] if on_redemption else 0.0
                remaining = maximum(1.0 - flow_redeemed[s, n] / cap[n], 0.0)
                wave_n = wave[s, n] if has_wave else 0.0
                flow = reaction * maximum(-nav_return, 0.0) * (1.0 + first_mover[n] * (0.0 if swinging else 1.0)) \
                    * remaining
                rate_n = minimum(flow + wave_n, gate[n])
                flow_n = maximum(rate_n - wave_n, 0.0)
                redeem_n = rate_n * maximum(equity_n, 0.0) if living else 0.0
            # derivative margin for the living (a defaulter's variation loss stays in its debt)
            calls_on = living and on_margin
            vm = vm_loss[s, n] if calls_on else 0.0
            initial = margin_in[s, n] if calls_on else 0.0
            due = margin_sum + vm + initial
            roll_share[s, n], run[s, n], margin_due[s, n], rolled_due[s, n] = share, run_n, due, rolled_sum
            redeem[s, n], flow_rate[s, n], interest[s, n], interest_call[s, n] = redeem_n, flow_n, interest_day, \
                interest_called
            vm_call[s, n], margin_out[s, n], equity[s, n], debt[s, n] = vm, initial, equity_n, debt_n
            need[s, n] = due + rolled_sum + run_n + redeem_n
            recalled[s, n], cash[s, n], lending[s, n] = 0.0, cash_in[s, n], lending_in[s, n]
        if recall:
            # money-market funds recall repo lending to meet their calls before selling, and
            # every borrower of the scenario loses that share of its repo
            total = 0.0
            for n in range(n_inst):
                if alive[s, n] and on_rollover:
                    recalled[s, n] = minimum(maximum(need[s, n] - cash_in[s, n], 0.0), lending_in[s, n])
                total += recalled[s, n]
            borrowed = 0.0
            for e in range(n_entries):
                borrowed += repo[s, e]
            pulled = minimum(total / borrowed if borrowed > 0 else 0.0, 1.0)
            segment = 0
            for n in range(n_inst):
                withdrawn_sum = 0.0
                if has_holdings[n]:
                    end = segment_starts[segment + 1] if segment + 1 < n_runs else n_entries
                    for e in range(segment_starts[segment], end):
                        withdrawn = 0.0
                        if not facility_eligible[s, entry_asset[e]] and alive[s, n]:
                            withdrawn = (repo[s, e] - margin[s, e] - rolled_off[s, e]) * pulled
                        rolled_off[s, e] = rolled_off[s, e] + withdrawn
                        withdrawn_sum += withdrawn
                    segment += 1
                rolled_due[s, n] = rolled_due[s, n] + withdrawn_sum
                need[s, n] = margin_due[s, n] + rolled_due[s, n] + run[s, n] + redeem[s, n]
                cash[s, n] = cash_in[s, n] + recalled[s, n]
                lending[s, n] = lending_in[s, n] - recalled[s, n]
        for n in range(n_inst):
            met = minimum(cash[s, n], need[s, n])
            funding_cash[s, n] = met
            shortfall[s, n] = need[s, n] - met if need[s, n] - met > tolerance[s] else 0.0
        if funding:
            for e in range(n_entries):
                repo_called[s, e] = repo[s, e] - margin[s, e] - rolled_off[s, e]


@jit
def funding_calls_table(st, inp, sc, lev, t, shocked, marked, limits):  # pragma: no cover - compiled
    """The phase on the compiled tables (:mod:`firesale.engine.compiled_tables`), in the
    canonical form: without funding, ``margin`` and ``rolled_off`` empty (0, 0), ``repo_called``
    the state's repo and ``swing`` the system's swing pricing in every scenario."""
    funding = inp.has_funding or (sc.redemption_shock != 0).any()
    shape = marked.equity.shape
    roll_share, run, margin_due, rolled_due = np.empty(shape), np.empty(shape), np.empty(shape), np.empty(shape)
    redeem, flow_rate, interest, interest_call = np.empty(shape), np.empty(shape), np.empty(shape), np.empty(shape)
    vm_call, margin_out, need, recalled = np.empty(shape), np.empty(shape), np.empty(shape), np.empty(shape)
    cash, equity, debt, lending = np.empty(shape), np.empty(shape), np.empty(shape), np.empty(shape)
    funding_cash, shortfall = np.empty(shape), np.empty(shape)
    if funding:
        margin, rolled_off, repo_called = np.empty(st.repo.shape), np.empty(st.repo.shape), np.empty(st.repo.shape)
        swing = np.empty(shape, np.bool_)
    else:
        # the kernel writes none of these without funding
        margin = rolled_off = repo_called = np.zeros((0, 0))
        swing = np.empty((0, 0), np.bool_)
    has_wave = t < sc.redemption_shock.shape[1]
    wave = np.ascontiguousarray(sc.redemption_shock[:, t]) if has_wave else np.zeros((1, 1))
    _funding_calls(
        funding, sc.switches, _MARGIN, _ROLLOVER, _UNSECURED, _REDEMPTION, _DAYS, inp.entry_asset, inp.segment_starts,
        inp.has_holdings, inp.rollover_threshold, inp.rollover_share, inp.run_threshold, inp.run_share,
        inp.swing_pricing, inp.redemption_sensitivity, inp.first_mover, inp.redemption_gate, inp.redemption_cap,
        sc.tolerance, sc.facility_min_rate, lev.swing_pricing, lev.facility_eligible, has_wave, wave, st.q, st.repo,
        st.short_term, st.shares, st.last_nav, st.flow_redeemed, st.lending, shocked.repo_rate, marked.mark,
        marked.haircut, limits.alive, marked.leverage, marked.equity, marked.debt, marked.cash, marked.vm_loss,
        marked.margin_out, margin, rolled_off, repo_called, swing, roll_share, run, margin_due, rolled_due, redeem,
        flow_rate, interest, interest_call, vm_call, margin_out, need, recalled, cash, equity, debt, lending,
        funding_cash, shortfall)
    if not funding:
        repo_called = st.repo
        swing = np.empty(shape, np.bool_)
        for s in range(shape[0]):
            swing[s] = inp.swing_pricing
    return FundingCalls(funding, margin, rolled_off, repo_called, roll_share, run, margin_due, rolled_due, redeem,
                        flow_rate, interest, interest_call, vm_call, margin_out, swing, need, recalled, cash, equity,
                        debt, lending, funding_cash, shortfall)


def funding_calls(state: State, inputs: Inputs, scen: ScenarioArrays, levers: Levers, t: int, shocked: Shocked,
                  marked: Marked, constraints: Constraints, kernels: Kernels = NUMPY) -> FundingCalls:
    """:func:`firesale.engine.funding_calls.funding_calls`, compiled: the same arguments, the
    same results to rounding. ``kernels`` is unused: the sums over positions run inside the kernel."""
    calls = funding_calls_table(state_table(state), input_table(inputs), scenario_table(scen), lever_table(levers),
                                int(t), canonical(shocked), canonical_marked(marked), canonical(constraints))
    return calls if calls.funding else calls._replace(margin=np.zeros(1), rolled_off=np.zeros(1),
                                                      swing=inputs.swing_pricing)

