"""The round compiled whole: every phase in one numba call.

:func:`firesale.engine.round.step` is the reference: a pipeline of phases, each a Python
function the compiled kernel set runs as a numba kernel. Between two kernels Python
converts arguments, allocates results and builds named tuples, and for a small system
that costs more than the kernels' work: one round of ``inet_eba2018`` (48 banks) made about
15 kernel calls of up to 95 arguments each. Here the phases' table entry points
(``<phase>_table`` of ``firesale.engine.compiled_<phase>``, on the tables of
:mod:`firesale.engine.compiled_tables`) are chained inside one compiled function,
:func:`round_table`, with the policy levers in force, the stop rule and the new state
computed there too. It calls the same kernels with the same arguments in the same order as
the compiled phases, so a round gives the same bits either way
(``tests/engine/test_compiled_round.py`` checks it on every preset and on random systems),
and ``tests/engine/test_compiled.py`` compares it with the numpy round on random systems
with every mechanism on (:func:`firesale.testing.assert_kernels_agree`).
"""

from __future__ import annotations

import math

import numpy as np

from firesale.engine.compiled_allocation import allocation_table
from firesale.engine.compiled_clearing import clearing_table
from firesale.engine.compiled_constraints import constraints_table
from firesale.engine.compiled_funding_calls import funding_calls_table
from firesale.engine.compiled_information import information_table
from firesale.engine.compiled_intermediation import calm_cost_table, intermediation_table
from firesale.engine.compiled_marking import marking_table
from firesale.engine.compiled_round_records import round_records_table
from firesale.engine.compiled_scalars import jit, maximum, minimum, pairwise_sum
from firesale.engine.compiled_settlement import settlement_table
from firesale.engine.compiled_shocks import shocks_table
from firesale.engine.compiled_tables import (
    STATES, LeverTable, NewState, StateTable, input_table, scenario_table, state_table)
from firesale.engine.round import RoundRecords, Trades
from firesale.engine.state import Inputs, ScenarioArrays, State
from firesale.scenario import POLICY_LEVERS

__all__ = ["compiled_step", "round_table", "levers_table"]


_SLR_EXEMPTION, _HAIRCUT_FLOOR = POLICY_LEVERS.index("slr_exemption"), POLICY_LEVERS.index("haircut_floor")
_SWING_PRICING, _BUFFER_RELEASE = POLICY_LEVERS.index("swing_pricing"), POLICY_LEVERS.index("slr_buffer_release")
_ALL_TO_ALL, _PURCHASES = POLICY_LEVERS.index("all_to_all"), POLICY_LEVERS.index("purchases")
_REPO_FACILITY = POLICY_LEVERS.index("repo_facility")


@jit
def levers_table(sc, t):  # pragma: no cover - compiled
    """:meth:`firesale.engine.state.ScenarioArrays.levers_at`: the levers in force in round
    ``t``, each off outside its window; from the announcement to the programme's end,
    outside buyers need at most the announced discount on eligible assets."""
    n_scen, n_assets = sc.purchase_eligible.shape
    on = (sc.lever_start <= t) & (t < sc.lever_end)
    slr_exemption, haircut_floor = np.empty(n_scen, np.bool_), np.empty(n_scen, np.bool_)
    swing_pricing = np.empty(n_scen, np.bool_)
    slr_buffer_release, all_to_all, daily_cap = np.empty(n_scen), np.empty(n_scen), np.empty(n_scen)
    purchase_eligible = np.empty((n_scen, n_assets), np.bool_)
    facility_eligible = np.empty((n_scen, n_assets), np.bool_)
    max_discount, repricing = np.empty((n_scen, n_assets)), np.empty((n_scen, n_assets))
    scheduled = t < sc.purchase_cap_by_round.shape[1]
    for s in range(n_scen):
        slr_exemption[s] = sc.slr_exemption[s] and on[s, _SLR_EXEMPTION]
        haircut_floor[s] = sc.haircut_floor[s] and on[s, _HAIRCUT_FLOOR]
        swing_pricing[s] = sc.swing_pricing[s] and on[s, _SWING_PRICING]
        slr_buffer_release[s] = sc.slr_buffer_release[s] if on[s, _BUFFER_RELEASE] else 0.0
        all_to_all[s] = sc.all_to_all[s] if on[s, _ALL_TO_ALL] else 0.0
        backstop = sc.announced[s] <= t < sc.lever_end[s, _PURCHASES]
        for k in range(n_assets):
            eligible = sc.purchase_eligible[s, k]
            purchase_eligible[s, k] = eligible and on[s, _PURCHASES]
            facility_eligible[s, k] = sc.facility_eligible[s, k] and on[s, _REPO_FACILITY]
            max_discount[s, k] = (minimum(sc.max_discount[s, k], sc.announcement_discount[s])
                                  if eligible and backstop else sc.max_discount[s, k])
            repricing[s, k] = sc.announcement_repricing[s] if eligible and sc.announced[s] == t else 0.0
        cap = sc.purchase_cap_by_round[s, t] if scheduled else math.nan
        daily_cap[s] = sc.purchase_daily_cap[s] if math.isnan(cap) else cap
    return LeverTable(slr_exemption=slr_exemption, haircut_floor=haircut_floor, swing_pricing=swing_pricing,
                      slr_buffer_release=slr_buffer_release, all_to_all=all_to_all,
                      purchase_eligible=purchase_eligible, facility_eligible=facility_eligible,
                      max_discount=max_discount, repricing=repricing, purchase_daily_cap=daily_cap)


@jit
def _still_active(price, post, traded, s_of, tol_rows, sc, t):  # pragma: no cover - compiled
    """The stop rule of :func:`firesale.engine.round._still_active`: a scenario goes on while
    anybody traded, a price moved beyond both tolerances or a shock is still to come, up to
    its ``max_rounds``. Returns (active, eventful)."""
    n_scen, n_assets = post.shape
    traded_any = np.zeros(n_scen, np.bool_)
    size = np.empty(traded.shape[1])
    for r in range(traded.shape[0]):
        for slot in range(traded.shape[1]):
            size[slot] = abs(traded[r, slot])
        if pairwise_sum(size, 0, size.size) > tol_rows[r]:
            traded_any[s_of[r]] = True
    active, eventful = np.empty(n_scen, np.bool_), np.empty(n_scen, np.bool_)
    for s in range(n_scen):
        change_max, relative_max = 0.0, 0.0
        for k in range(n_assets):
            change = abs(post[s, k] - price[s, k])
            if price[s, k] > 0:
                relative = change / price[s, k]
            else:
                relative = math.inf if change > 0 else 0.0
            change_max, relative_max = maximum(change_max, change), maximum(relative_max, relative)
        moved = change_max > sc.tolerance[s] and relative_max > sc.price_tolerance[s]
        eventful[s] = moved or traded_any[s]
        active[s] = (eventful[s] or t + 1 <= sc.last_shock_round[s]) and t + 1 < sc.max_rounds[s]
    return active, eventful


@jit
def _trades(units, traded, valid, asset_rows):  # pragma: no cover - compiled
    """The acting rows' trades as :class:`~firesale.engine.round.Trades` holds them: what a
    slot sold (nothing where it bought or kept), and its asset (-1 for an empty slot). One
    pass, where two ``np.where`` made a mask and a result each."""
    sales, assets = np.empty_like(traded), np.empty_like(asset_rows)
    for r in range(units.shape[0]):
        for slot in range(units.shape[1]):
            sales[r, slot] = traded[r, slot] if units[r, slot] > 0 else 0.0
            assets[r, slot] = asset_rows[r, slot] if valid[r, slot] else -1
    return sales, assets


@jit
def round_table(st, inp, sc, t):  # pragma: no cover - compiled
    """One round of every scenario (:func:`firesale.engine.round.step`) on the compiled
    tables: the new state (a :data:`~firesale.engine.compiled_tables.NewState` and its
    :class:`~firesale.engine.compiled_tables.StateTable`), the :data:`RoundRecords` and the
    acting rows' trades (rows, entries, assets, sales, binding;
    :class:`~firesale.engine.round.Trades`)."""
    lev = levers_table(sc, t)
    shocked = shocks_table(st, inp, sc, lev, t)
    calm_cost = calm_cost_table(st, inp, lev, shocked.cash, shocked.equity) if t == 0 else st.calm_cost
    marked = marking_table(st, inp, sc, lev, shocked)
    limits = constraints_table(st, inp, sc, marked, shocked.shocked_default)
    calls = funding_calls_table(st, inp, sc, lev, t, shocked, marked, limits)
    orders = allocation_table(st, inp, sc, lev, t, marked, limits, calls)
    dealt = intermediation_table(st, inp, sc, lev, t, shocked, marked, limits, calls, orders)
    cleared = clearing_table(st, inp, sc, lev, shocked, orders, dealt)
    settled = settlement_table(st, inp, sc, shocked, marked, limits, calls, orders, dealt, cleared)
    sigma, info = information_table(st, inp, sc, shocked, marked, limits, orders, dealt, cleared, calm_cost)
    active, eventful = _still_active(st.price, cleared.post, dealt.traded, orders.s_of, orders.tol_rows, sc, t)
    purchased = np.empty_like(st.purchased)
    # each scenario's run of one flat array: a row view per scenario would change its reference count
    bought, width = cleared.purchases.reshape(-1), cleared.purchases.shape[1]
    for s in range(purchased.size):
        purchased[s] = st.purchased[s] + pairwise_sum(bought, s * width, width)
    new = NewState(
        q=settled.q, q_trading=settled.q_trading, repo=settled.repo, cash=settled.cash, debt=settled.debt,
        short_term=settled.short_term, shares=settled.shares, last_nav=settled.nav_per_share,
        # capital added counts as paid in
        capital_out=st.capital_out + settled.payout - shocked.capital - marked.recap,
        flow_redeemed=st.flow_redeemed + settled.met * calls.flow_rate, rounds_below=marked.rounds_below,
        lending=settled.lending, margin_posted=settled.margin_posted, derivative_open=settled.derivative_open,
        vm_owed=settled.vm_owed, equity=settled.equity, price=cleared.post, mark=cleared.post_mark,
        spread=info.spread, quoting_share=info.quoting_share, uncertainty=info.uncertainty,
        depth_scale=info.depth_scale, layoff=info.layoff, calm_cost=calm_cost, pending=settled.pending,
        fundamental=shocked.fundamental, pressure=cleared.pressure, transient=cleared.transient, sigma=sigma,
        sigma_fundamental=shocked.sigma_fundamental, haircut=marked.haircut, repo_rate=shocked.repo_rate,
        defaulted=limits.defaulted, outside_q=settled.outside_q, outside_cash=settled.outside_cash,
        purchased=purchased, active=active,
    )
    new_table = StateTable(*new)
    computed = round_records_table(st, new_table, inp, sc, shocked, marked, limits, calls, orders, dealt, cleared,
                                   settled, info, eventful)
    records = RoundRecords(
        price=new.price, pre_trade_price=shocked.price, fundamental=new.fundamental, sigma=new.sigma,
        equity=new.equity, cash=new.cash, debt=new.debt, repo=computed.repo, redeemed=settled.redeemed,
        repo_interest=calls.interest, capital_out=new.capital_out, nav_per_share=computed.nav_per_share,
        haircut=new.haircut, funding_need=calls.need, funding_paid=settled.paid,
        total_assets=computed.total_assets, margin_posted=new.margin_posted,
        derivative_notional=computed.derivative_notional, repo_lending=new.lending, marked_equity=calls.equity,
        marked_assets=marked.total_assets, slr=marked.slr, slr_exposure=marked.exposure,
        leverage_ratio=marked.leverage, var=marked.var, var_after=computed.var_after, mark=new.mark,
        spread=info.spread, quoting_share=info.quoting_share, uncertainty=info.uncertainty,
        depth_scale=info.depth_scale, layoff_share=computed.layoff_share, client_sales=dealt.client,
        forced_sales=computed.forced_sales, market_flow=dealt.market_flow,
        dealer_purchases=computed.dealer_purchases, interdealer=computed.interdealer,
        dealer_net=computed.dealer_net, defaulted=new.defaulted, outside_q=new.outside_q,
        outside_cash=new.outside_cash, sold=computed.sold, sales_by_channel=computed.sales_by_channel,
        purchases=computed.purchases, breach=computed.breach, proceeds=settled.proceeds,
        slr_target_exposure=computed.slr_target_exposure, central_bank_purchases=cleared.purchases,
        eventful=eventful,
    )
    sales, assets = _trades(orders.units, dealt.traded, orders.valid, orders.asset_rows)
    return new, new_table, records, (orders.rows, orders.entries, assets, sales, orders.binding)


def compiled_step(state: State, inputs: Inputs, scen: ScenarioArrays, t: int) -> tuple[State, dict, Trades]:
    """:func:`firesale.engine.round.step` in one compiled call (:func:`round_table`): the
    same arguments and results. The new state's table is kept with it
    (:data:`~firesale.engine.compiled_tables.STATES`): the run loop steps on from that
    state, so the next round need not build its table again."""
    new, new_table, records, trades = round_table(state_table(state), input_table(inputs), scenario_table(scen),
                                                  int(t))
    new_state = State(*new)
    STATES.put(new_state, new_table)
    return new_state, dict(zip(RoundRecords._fields, records)), Trades(*trades)
