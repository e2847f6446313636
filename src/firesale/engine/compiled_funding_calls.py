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
from firesale.engine.constraints import Constraints
from firesale.engine.funding_calls import TRADING_DAYS, FundingCalls
from firesale.engine.kernels import NUMPY, Kernels
from firesale.engine.marking import Marked
from firesale.engine.shocks import Shocked
from firesale.engine.state import Inputs, Levers, ScenarioArrays, State

__all__ = ["funding_calls"]


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


def funding_calls(state: State, inputs: Inputs, scen: ScenarioArrays, levers: Levers, t: int, shocked: Shocked,
                  marked: Marked, constraints: Constraints, kernels: Kernels = NUMPY) -> FundingCalls:
    """:func:`firesale.engine.funding_calls.funding_calls`, compiled: the same arguments, the
    same results to rounding. ``kernels`` is unused: the sums over positions run inside the kernel."""
    funding = inputs.has_funding or bool(scen.redemption_shock.any())
    contiguous = np.ascontiguousarray
    shape = marked.equity.shape
    (roll_share, run, margin_due, rolled_due, redeem, flow_rate, interest, interest_call, vm_call, margin_out, need,
     recalled, cash, equity, debt, lending, funding_cash, shortfall) = (np.empty(shape) for _ in range(18))
    if funding:
        margin, rolled_off, repo_called = (np.empty(state.repo.shape) for _ in range(3))
        swing = np.empty(shape, dtype=bool)
        written = margin, rolled_off, repo_called, swing
    else:
        # what the reference returns without funding; the kernel writes none of these
        margin, rolled_off, repo_called, swing = np.zeros(1), np.zeros(1), state.repo, inputs.swing_pricing
        unused = np.empty((0, 0))
        written = unused, unused, unused, np.empty((0, 0), dtype=bool)
    wave = scen.at("redemption_shock", t)
    has_wave = wave is not None
    _funding_calls(
        funding, contiguous(scen.switches), CHANNELS.index("margin"), CHANNELS.index("rollover"),
        CHANNELS.index("unsecured"), CHANNELS.index("redemption"), float(TRADING_DAYS), inputs.entry_asset,
        inputs.segment_starts, inputs.has_holdings, inputs.rollover_threshold, inputs.rollover_share,
        inputs.run_threshold, inputs.run_share, inputs.swing_pricing, inputs.redemption_sensitivity,
        inputs.first_mover, inputs.redemption_gate, inputs.redemption_cap, scen.tolerance, scen.facility_min_rate,
        contiguous(levers.swing_pricing), contiguous(levers.facility_eligible), has_wave,
        contiguous(wave) if has_wave else np.zeros((1, 1)), contiguous(state.q), contiguous(state.repo),
        contiguous(state.short_term), contiguous(state.shares), contiguous(state.last_nav),
        contiguous(state.flow_redeemed), contiguous(state.lending), contiguous(shocked.repo_rate),
        contiguous(marked.mark), contiguous(marked.haircut), contiguous(constraints.alive),
        contiguous(marked.leverage), contiguous(marked.equity), contiguous(marked.debt), contiguous(marked.cash),
        contiguous(marked.vm_loss), contiguous(marked.margin_out),
        *written, roll_share, run, margin_due, rolled_due, redeem, flow_rate, interest, interest_call, vm_call,
        margin_out, need, recalled, cash, equity, debt, lending, funding_cash, shortfall,
    )
    return FundingCalls(
        funding=funding, margin=margin, rolled_off=rolled_off, repo_called=repo_called, roll_share=roll_share, run=run,
        margin_due=margin_due, rolled_due=rolled_due, redeem=redeem, flow_rate=flow_rate, interest=interest,
        interest_call=interest_call, vm_call=vm_call, margin_out=margin_out, swing=swing, need=need,
        recalled=recalled, cash=cash, equity=equity, debt=debt, lending=lending, funding_cash=funding_cash,
        shortfall=shortfall,
    )
