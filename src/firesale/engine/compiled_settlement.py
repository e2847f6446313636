"""Phase 8 of a round compiled (numba): settlement.

The numpy phase :func:`firesale.engine.settlement.settlement` is the reference, and this
module computes what it computes — the acting rows' trades settled at the bid and the ask
(:meth:`firesale.engine.kernels.Kernels.settle_rows`), dealers' purchases booked, profit
and loss at the post-trade marks, derivatives revalued and hedges closed, the cash
waterfall, redemptions, repo repaid to its lenders and the outside sector's cash — in one
kernel, scenario by scenario, without the temporaries of one numpy call per operation.
The operations keep the reference's order; its sums over positions, dealers' positions
and derivatives are sequential there and here, while its sums over a row's slots, a
scenario's repo and its institutions are pairwise in numpy and sequential here, so the two
agree to rounding, not bit for bit. A scenario's result never depends on the other
scenarios of its batch beyond what the reference's own batch-wide shortcuts decide.
:func:`settlement` converts its arguments to the compiled tables and runs
:func:`settlement_table`, the phase the compiled round calls.
"""

from __future__ import annotations

import numpy as np

from firesale.engine.allocation import Orders
from firesale.engine.clearing import Cleared
from firesale.engine.compiled_scalars import jit, maximum, minimum
from firesale.engine.compiled_tables import (
    canonical, canonical_calls, canonical_dealt, canonical_marked, input_table, scenario_table, state_table)
from firesale.engine.constraints import Constraints
from firesale.engine.funding_calls import FundingCalls
from firesale.engine.intermediation import Intermediated
from firesale.engine.kernels import NUMPY, Kernels
from firesale.engine.marking import Marked
from firesale.engine.settlement import SHARES_LEFT, Settled
from firesale.engine.shocks import Shocked
from firesale.engine.state import Inputs, ScenarioArrays, State

__all__ = ["settlement", "settlement_table"]


@jit
def _released(repo_row, sold, held):  # pragma: no cover - compiled
    """The repo a sale releases, :math:`B \\max(u, 0) / q` (none where nothing is held)."""
    return repo_row * (maximum(sold, 0.0) / held if held > 0 else 0.0)


@jit
def _run_sums(values, x, y, s, assets, starts, present, out):  # pragma: no cover - compiled
    """:math:`\\sum v_{sj} (x - y)_{s,k(j)}` over each run of columns of ``values`` (one run
    per ``present`` owner, starting at ``starts``), 0 for owners without one: the
    reference's ``segment_sums`` of one scenario, in column order."""
    n_cols = values.shape[1]
    run = 0
    for n in range(present.size):
        if not present[n]:
            out[n] = 0.0
            continue
        end = starts[run + 1] if run + 1 < starts.size else n_cols
        total = 0.0
        for j in range(starts[run], end):
            k = assets[j]
            total += values[s, j] * (x[s, k] - y[s, k])
        out[n] = total
        run += 1


@jit
def _settle(valid, flat, rows, s_of, asset_rows, q_rows, qt_rows, price_rows, repo_rows, units, trading_cut,
            price, mark, post, post_mark, bid, ask, q, pending, repo, derivative_open, outside_q0,
            outside_cash0, shares, short_term, entry_asset, entry_institution, segment_starts, has_holdings,
            dealers, pos_dealer, pos_asset, pos_entry, derivative_asset, derivative_starts, has_derivative, hedges,
            hedge_entry, other_liabilities, final_settlement, hold_proceeds, bought, notional, posted, vm_gain,
            vm_loss, recap, settled_cash, capital_cash, defaulted, equity, cash, need, funding_cash, shortfall, debt,
            run, vm_call, interest_call, redeem, swing, margin, rolled_off, recalled, lending0, margin_out, cash_used,
            dealing, final_any, derivatives, hedging, funding, lending_any,
            new_q, new_q_trading, new_repo, new_pending, new_open, new_equity, new_cash, new_debt, new_short_term,
            new_shares, nav_per_share, lending, margin_posted, vm_owed, outside_q, outside_cash, proceeds, paid, met,
            redeemed, payout):  # pragma: no cover - compiled
    """Settle every scenario: the acting rows' blocks, then the (S, K), (S, E), (S, N)
    arrays the reference reads, the flags of its branches, and last the fields of
    :class:`~firesale.engine.settlement.Settled` to fill (a field the reference passes on
    unchanged where its branch does not run is that input, and is not written). ``new_q``
    and ``new_q_trading`` arrive as copies of ``q`` and ``q_trading``: only the positions
    that trade are written."""
    n_scen, n_inst = equity.shape
    n_entries, n_assets = q.shape[1], price.shape[1]
    n_rows, width = units.shape
    n_dealers, n_positions = dealers.size, pos_entry.size
    # per-scenario scratch, reused
    execution = np.empty(n_inst)
    released = np.empty(n_inst)
    dealer_cost = np.empty(n_inst)
    sums = np.empty(n_inst)
    carried = np.zeros(n_inst)  # final settlement's carry after the trades; none without it
    late_gain = np.empty(n_inst)
    late_loss = np.empty(n_inst)
    gross = np.empty(n_inst)
    loan_paid = np.empty(n_inst)
    repaid = np.empty(n_inst)
    swing_charge = np.empty(n_inst)
    settled_after = np.empty(n_inst)
    repaid_to_funds = np.empty(n_inst)
    row_flow = np.empty(n_assets)
    dealer_flow = np.empty(n_assets)
    cost_by_dealer = np.empty(n_dealers)
    gain_by_dealer = np.empty(n_dealers)
    first = 0  # the acting rows run in scenario order
    for s in range(n_scen):
        last = first
        while last < n_rows and s_of[last] == s:
            last += 1
        final = final_settlement[s]
        if final_any:
            for e in range(n_entries):
                new_pending[s, e] = pending[s, e] if final else 0.0
        for n in range(n_inst):
            proceeds[s, n] = 0.0
            execution[n] = 0.0
            released[n] = 0.0
            dealer_cost[n] = 0.0
        row_flow[:] = 0.0

        # the acting rows' orders: sales at the bid, purchases at the ask
        for r in range(first, last):
            n = rows[r] - s * n_inst
            received = 0.0
            gained = 0.0
            freed = 0.0
            for slot in range(width):
                sold = units[r, slot]
                k = asset_rows[r, slot]
                executed = bid[s, k] if sold > 0 else ask[s, k]
                received += sold * executed
                gained += sold * (executed - price_rows[r, slot])
                held = q_rows[r, slot]
                freed += _released(repo_rows[r, slot], sold, held)
                if valid[r, slot]:
                    e = flat[r, slot] - s * n_entries
                    new_q[s, e] = held - sold
                    new_q_trading[s, e] = minimum(maximum(qt_rows[r, slot] - trading_cut[r, slot], 0.0),
                                                   held - sold)
                    row_flow[k] += sold
                    if final_any and final:
                        new_pending[s, e] += maximum(sold, 0.0)
            proceeds[s, n] = received
            execution[n] = gained
            if funding:
                released[n] = freed

        # dealers' purchases join their trading books, financed by new borrowing
        if dealing:
            dealer_flow[:] = 0.0
            cost_by_dealer[:] = 0.0
            gain_by_dealer[:] = 0.0
            for p in range(n_positions):
                k = pos_asset[p]
                at_price = price[s, k]
                units_bought = bought[s, p] / at_price if at_price > 0 else 0.0
                e = pos_entry[p]
                new_q[s, e] += units_bought
                new_q_trading[s, e] += units_bought
                d = pos_dealer[p]
                cost_by_dealer[d] += units_bought * bid[s, k]
                gain_by_dealer[d] += units_bought * (mark[s, k] - bid[s, k])
                dealer_flow[k] += units_bought
            for d in range(n_dealers):
                dealer_cost[dealers[d]] = cost_by_dealer[d]
                execution[dealers[d]] += gain_by_dealer[d]
        for k in range(n_assets):
            outside_q[s, k] = outside_q0[s, k] + row_flow[k]
            if dealing:
                outside_q[s, k] = outside_q[s, k] - dealer_flow[k]

        # profit and loss: the move to the post-trade marks, final settlement's carry,
        # derivatives revalued at the post-trade price
        _run_sums(new_q, post_mark, mark, s, entry_asset, segment_starts, has_holdings, sums)
        for n in range(n_inst):
            new_equity[s, n] = equity[s, n] + sums[n] + execution[n]
        if final_any:
            _run_sums(new_pending, post, price, s, entry_asset, segment_starts, has_holdings, carried)
            for n in range(n_inst):
                new_equity[s, n] = new_equity[s, n] + carried[n]
        if derivatives:
            _run_sums(notional, post, price, s, derivative_asset, derivative_starts, has_derivative, sums)
            if hedging:
                for m in range(derivative_open.shape[1]):
                    new_open[s, m] = derivative_open[s, m]
                for h in range(hedges.size):
                    before, after = q[s, hedge_entry[h]], new_q[s, hedge_entry[h]]
                    kept = after / before if before > 0 else 1.0
                    new_open[s, hedges[h]] *= minimum(kept, 1.0)
            for n in range(n_inst):
                new_equity[s, n] = new_equity[s, n] + sums[n]
                late_gain[n], late_loss[n] = maximum(sums[n], 0.0), maximum(-sums[n], 0.0)
        else:
            late_gain[:] = 0.0
            late_loss[:] = 0.0

        # the cash waterfall
        hold = hold_proceeds[s]
        for n in range(n_inst):
            out = defaulted[s, n]
            sale = proceeds[s, n]
            gross[n] = maximum(sale, 0.0)
            borrowed = maximum(-sale, 0.0)  # purchases are financed by new debt from outside lenders
            cash_free = cash[s, n] - funding_cash[s, n] - cash_used[s, n]
            loan_paid[n] = minimum(released[n], gross[n] + (cash[s, n] if out else cash_free))
            deficiency = released[n] - loan_paid[n]  # the repo lender's claim beyond its collateral
            after_loans = gross[n] - loan_paid[n]
            calls_from_sales = minimum(shortfall[s, n], maximum(after_loans, 0.0))
            paid[s, n] = funding_cash[s, n] + calls_from_sales
            share_met = paid[s, n] / need[s, n] if need[s, n] > 0 else 1.0
            met[s, n] = share_met
            excess = after_loans - calls_from_sales
            debt_after_cash = (debt[s, n] - cash_used[s, n]
                               - share_met * (run[s, n] + vm_call[s, n] + interest_call[s, n]) + deficiency)
            # a defaulter's creditors take everything; a solvent seller repays what can be
            # repaid early, now or (holding proceeds) from its cash in the next round
            if out:
                available = cash[s, n] + excess
            else:
                available = 0.0 if hold else maximum(excess, 0.0)
            repayable = debt_after_cash
            if other_liabilities[n] > 0 and not out:
                repayable = maximum(debt_after_cash - other_liabilities[n], 0.0)
            repaid[n] = minimum(repayable, maximum(available, 0.0))
            owed = debt_after_cash - repaid[n] + borrowed + dealer_cost[n] - carried[n]
            settled_after[n] = maximum(-owed, 0.0)
            owed = owed + settled_after[n]
            if out:
                kept_cash = cash[s, n] + excess - repaid[n]
            else:
                kept_cash = cash_free + excess - repaid[n]
            kept_cash = kept_cash + late_gain[n]
            owed = owed + late_loss[n]
            new_debt[s, n] = owed
            new_short_term[s, n] = minimum(short_term[s, n] - share_met * run[s, n], owed)
            redeemed[s, n] = share_met * redeem[s, n]
            swing_charge[n] = (minimum(redeemed[s, n], maximum(-execution[n], 0.0)) if swing[s, n] else 0.0)
            payout[s, n] = redeemed[s, n] - swing_charge[n]
            new_cash[s, n] = kept_cash + swing_charge[n] + settled_after[n]
            new_equity[s, n] = new_equity[s, n] - payout[s, n]
            nav = equity[s, n] / shares[s, n] if shares[s, n] > 0 else 1.0
            nav_per_share[s, n] = nav
            left = shares[s, n] - (redeemed[s, n] / nav if nav > 0 else 0.0)
            # a fund whose investors redeem all of its NAV is wound up: no shares left
            new_shares[s, n] = 0.0 if left <= SHARES_LEFT * shares[s, n] else left
            margin_posted[s, n] = posted[s, n] + share_met * margin_out[s, n]
            vm_owed[s, n] = vm_loss[s, n] - share_met * vm_call[s, n] + late_loss[n]
            repaid_to_funds[n] = 0.0

        # repo: margin and roll-offs met in the share of the calls met, sales repay their repo
        if funding:
            for e in range(n_entries):
                new_repo[s, e] = repo[s, e] - met[s, entry_institution[e]] * (margin[s, e] + rolled_off[s, e])
            for r in range(first, last):
                for slot in range(width):
                    if valid[r, slot]:
                        e = flat[r, slot] - s * n_entries
                        new_repo[s, e] -= _released(repo_rows[r, slot], units[r, slot], q_rows[r, slot])
            for e in range(n_entries):
                new_repo[s, e] = maximum(new_repo[s, e], 0.0)
            # repo repaid goes to its lenders in proportion to what they lend: the
            # money-market funds' share of the pool (after their recall), outside lenders
            if lending_any:
                pool_before = 0.0
                pool_after = 0.0
                for e in range(n_entries):
                    pool_before += repo[s, e]
                    pool_after += new_repo[s, e]
                pulled = 0.0
                for n in range(n_inst):
                    pulled += recalled[s, n]
                pool_before = pool_before - pulled
                repaid_pool = maximum(pool_before - pool_after, 0.0)
                fund_share = minimum(repaid_pool / pool_before if pool_before > 0 else 0.0, 1.0)
                for n in range(n_inst):
                    repaid_to_funds[n] = lending0[s, n] * fund_share
                    lending[s, n] = lending0[s, n] - repaid_to_funds[n]
                    new_cash[s, n] = new_cash[s, n] + repaid_to_funds[n]

        # the outside sector receives repayments and pays for what it buys
        total = 0.0
        for n in range(n_inst):
            total += (paid[s, n] - met[s, n] * margin_out[s, n] - swing_charge[n] + loan_paid[n] + repaid[n]
                      + cash_used[s, n] - gross[n] - vm_gain[s, n] - recalled[s, n] - repaid_to_funds[n]
                      - late_gain[n] - capital_cash[s, n] - recap[s, n] - settled_cash[s, n] - settled_after[n])
        outside_cash[s] = outside_cash0[s] + total
        first = last


@jit
def settlement_table(st, inp, sc, shocked, marked, limits, calls, orders, dealt,
                     cleared):  # pragma: no cover - compiled
    """The phase on the compiled tables (:mod:`firesale.engine.compiled_tables`)."""
    shape = calls.equity.shape
    n_scen = shape[0]
    dealing = inp.dealers.size > 0 and sc.intermediation.any()
    final_any = sc.final_settlement.any()
    derivatives = inp.has_derivatives
    hedging = derivatives and inp.hedges.size > 0
    funding = calls.funding
    lending_any = funding and calls.lending.any()
    q, pending, repo, derivative_open, lending0 = st.q, st.pending, st.repo, st.derivative_open, calls.lending
    # what the reference passes on unchanged where its branch does not run (chosen before
    # the call: numba reads no branch among keyword arguments)
    new_repo = np.empty_like(repo) if funding else repo
    new_pending = np.empty_like(pending) if final_any else pending
    new_open = np.empty_like(derivative_open) if hedging else derivative_open
    lending = np.empty(shape) if lending_any else lending0
    out = Settled(
        # the holdings the trades leave untouched, copied whole (one memcpy each) before the
        # trades are booked
        q=q.copy(), q_trading=st.q_trading.copy(), repo=new_repo, pending=new_pending, derivative_open=new_open,
        equity=np.empty(shape), cash=np.empty(shape), debt=np.empty(shape), short_term=np.empty(shape),
        shares=np.empty(shape), nav_per_share=np.empty(shape), lending=lending, margin_posted=np.empty(shape),
        vm_owed=np.empty(shape), outside_q=np.empty(cleared.post.shape), outside_cash=np.empty(n_scen),
        proceeds=np.empty(shape), paid=np.empty(shape), met=np.empty(shape), redeemed=np.empty(shape),
        payout=np.empty(shape),
    )
    _settle(
        orders.valid, orders.flat, orders.rows, orders.s_of, orders.asset_rows, orders.q_rows, orders.qt_rows,
        orders.price_rows, orders.repo_rows, orders.units, orders.trading_cut,
        shocked.price, marked.mark, cleared.post, cleared.post_mark, cleared.bid, cleared.ask, q,
        pending, repo, derivative_open, st.outside_q, st.outside_cash, st.shares, st.short_term,
        inp.entry_asset, inp.entry_institution, inp.segment_starts, inp.has_holdings, inp.dealers,
        inp.position_dealer, inp.position_asset, inp.dealer_position_entry, inp.derivative_asset,
        inp.derivative_starts, inp.has_derivative, inp.hedges, inp.hedge_entry, inp.other_liabilities,
        sc.final_settlement, sc.hold_proceeds, dealt.bought, marked.notional, marked.posted, marked.vm_gain,
        marked.vm_loss, marked.recap, marked.settled_cash, shocked.capital_cash, limits.defaulted,
        calls.equity, calls.cash, calls.need, calls.funding_cash, calls.shortfall, calls.debt, calls.run,
        calls.vm_call, calls.interest_call, calls.redeem, calls.swing, calls.margin, calls.rolled_off,
        calls.recalled, lending0, calls.margin_out, orders.cash_used,
        dealing, final_any, derivatives, hedging, funding, lending_any,
        out.q, out.q_trading, out.repo, out.pending, out.derivative_open, out.equity, out.cash, out.debt,
        out.short_term, out.shares, out.nav_per_share, out.lending, out.margin_posted, out.vm_owed, out.outside_q,
        out.outside_cash, out.proceeds, out.paid, out.met, out.redeemed, out.payout)
    return out


def settlement(state: State, inputs: Inputs, scen: ScenarioArrays, shocked: Shocked, marked: Marked,
               constraints: Constraints, calls: FundingCalls, orders: Orders, dealt: Intermediated,
               cleared: Cleared, kernels: Kernels = NUMPY) -> Settled:
    """:func:`firesale.engine.settlement.settlement`, compiled: the same arguments, the same
    :class:`~firesale.engine.settlement.Settled`, to rounding."""
    return settlement_table(state_table(state), input_table(inputs), scenario_table(scen), canonical(shocked),
                            canonical_marked(marked), canonical(constraints), canonical_calls(calls),
                            canonical(orders), canonical_dealt(dealt), canonical(cleared))
