"""Phase 6 of a round, dealer intermediation, compiled whole (numba).

:func:`intermediation` runs what the numpy phase
:func:`firesale.engine.intermediation.intermediation` runs, the reference it is tested
against (``tests/engine/test_compiled_intermediation.py``), on the compiled tables
(:func:`intermediation_table`, which the compiled round calls): after the flow of the acting
rows' orders (the compiled kernel set's row flows), the dealers' balance-sheet cost
(:func:`firesale.channels.information.dealer_cost`), their room
(``firesale.engine.intermediation._dealer_room``) and absorption, inter-dealer layoff and
leaning (:func:`firesale.channels.dealers.intermediate` and
:func:`~firesale.channels.dealers.fill`), in one kernel that walks each scenario's dealers
and their positions, instead of a numpy call and an (S, P) temporary per operation.

Sums over a dealer's or an asset's positions run in position order, as the numpy phase's
do; the phase's arithmetic keeps the numpy order of operations, so the two agree to
rounding. Each scenario is computed on its own (see :mod:`firesale.engine.compiled`): where
the numpy phase chooses the concession's formula for the whole batch (any scenario with a
balance-sheet cost), each scenario here takes the one its own cost selects, which differs
from the batch's only in rounding, so that a scenario gives the same bits in any batch.

:func:`calm_cost_table` is the dealers' cost at t0
(:func:`firesale.engine.intermediation.calm_dealer_cost`), which the round computes in its
first round.
"""

from __future__ import annotations

import math

import numpy as np

from firesale.channels import CHANNELS
from firesale.engine.allocation import Orders
from firesale.engine.compiled_passes import desk_var, row_flows, row_starts
from firesale.engine.compiled_scalars import inline, institution_sums, jit, maximum, minimum, ratio
from firesale.engine.compiled_tables import (
    canonical, canonical_calls, canonical_marked, input_table, lever_table, scenario_table, state_table)
from firesale.engine.constraints import Constraints
from firesale.engine.funding_calls import FundingCalls
from firesale.engine.intermediation import Intermediated
from firesale.engine.kernels import NUMPY, Kernels
from firesale.engine.marking import Marked
from firesale.engine.shocks import Shocked
from firesale.engine.state import Inputs, Levers, ScenarioArrays, State

__all__ = ["intermediation", "intermediation_table", "calm_dealer_cost", "calm_cost_table"]


_SLR, _LEVERAGE, _VAR = CHANNELS.index("slr"), CHANNELS.index("leverage"), CHANNELS.index("var")
#: What ``np.nan_to_num`` turns an infinite VaR into.
_LARGEST = float(np.finfo(np.float64).max)


@inline
def _dealer_cost(slr, trigger, at_risk, limit):  # pragma: no cover - compiled
    """:func:`firesale.channels.information.dealer_cost` of one dealer in the market: the
    squared utilisation of the tighter of its SLR and its VaR limit."""
    slr_use = trigger / slr if (math.isfinite(trigger) and slr > 0) else 0.0
    var_use = at_risk / (limit if limit > 0 else 1.0) if (math.isfinite(limit) and math.isfinite(at_risk)) else 0.0
    use = maximum(slr_use, var_use)
    return use * use


@inline
def _take(j, first, last, taken, slr_use, lev_use, room_slr, room_lev, room_var, at):  # pragma: no cover
    """The end of :func:`firesale.channels.dealers.fill` for dealer ``j`` of one scenario,
    whose positions are the slots ``first:last`` of the per-slot arrays: ``taken``, what is
    wanted within the VaR room, whose SLR-counted and total sums are ``slr_use`` and
    ``lev_use``, scaled into the dealer's SLR and leverage room, which it reduces. A
    dealer's fill involves only its own positions and room, so dealers are filled one by
    one; the caller computes ``taken`` in the pass that makes what is wanted."""
    slr_scale = minimum(1.0, room_slr[j] / slr_use if slr_use > 0 else 1.0)
    lev_scale = minimum(1.0, room_lev[j] / lev_use if lev_use > 0 else 1.0)
    slr_use = 0.0
    lev_use = 0.0
    for i in range(first, last):
        value = taken[i] * minimum(lev_scale, slr_scale if at[i] else 1.0)
        taken[i] = value
        slr_use += value * at[i]
        lev_use += value
        room_var[i] = maximum(room_var[i] - value, 0.0)
    # a room that bound is used up, exactly (as the numpy fill)
    room_slr[j] = 0.0 if slr_scale < 1.0 and slr_scale <= lev_scale else maximum(room_slr[j] - slr_use, 0.0)
    room_lev[j] = 0.0 if lev_scale < 1.0 and lev_scale <= slr_scale else maximum(room_lev[j] - lev_use, 0.0)


@jit
def _intermediation(price, client, has_client, dealers, dealer, asset, share, order, slot_of, starts, slr,
                    slr_trigger, var, var_limit, dealing, acting, defaulted, shortfall, roll_share, intermediates,
                    kappa, equity, exposure, total_assets, leverage_trigger, z, switches, sigma, slr_exempt,
                    slr_exemption, layoff_share, lean, pressure, transient, depth_scale, absorption_impact,
                    market_flow, dealer_sales, dealer_sold, cost, bought, interdealer, concession):  # pragma: no cover
    n_scen, n_assets = price.shape
    n_dealers, n_pos = dealers.size, dealer.size
    # scratch, one set for every scenario; the per-position scratch is in slots, each
    # dealer's positions side by side (slot i holds position order[i]): the fills walk
    # them without indirection
    client_flow, offered, selling = np.empty(n_assets), np.empty(n_assets), np.empty(n_assets)
    leaning, pool, total = np.empty(n_assets), np.empty(n_assets), np.empty(n_assets)
    room_slr, room_lev = np.empty(n_dealers), np.empty(n_dealers)
    appetite, takers = np.empty(n_dealers), np.empty(n_dealers)
    room_var, at = np.empty(n_pos), np.empty(n_pos)
    kept, taken, leaned = np.empty(n_pos), np.empty(n_pos), np.empty(n_pos)
    for s in range(n_scen):
        for k in range(n_assets):
            flow = market_flow[s, k]
            client_flow[k] = flow + client[s, k] if has_client else flow
            dealer_sold[s, k] = 0.0
        # sums per asset run over its positions in position order, as Positions.by_asset's
        for p in range(n_pos):
            dealer_sold[s, asset[p]] += dealer_sales[s, p]
        for j in range(n_dealers):
            n = dealers[j]
            cost[s, j] = _dealer_cost(slr[s, n], slr_trigger[s, n], var[s, n], var_limit[n])
        if not dealing:
            # dealers' own sales reach outside buyers like anyone's
            for k in range(n_assets):
                market_flow[s, k] = client_flow[k] + dealer_sold[s, k] if n_dealers else client_flow[k]
            bought[s, :] = 0.0
            continue
        omega = layoff_share[s] if intermediates[s] else 0.0
        for k in range(n_assets):
            offered[k] = maximum(client_flow[k], 0.0)
            leaning[k] = maximum((pressure[s, k] + transient[s, k]) * depth_scale[s, k], 0.0)
            selling[k] = 0.0
            total[k] = 0.0
        for p in range(n_pos):
            selling[asset[p]] += maximum(dealer_sales[s, p], 0.0)
        for j in range(n_dealers):
            n = dealers[j]
            first, last = starts[j], starts[j + 1]
            # _dealer_room: the room before each trigger, times the dealer's appetite; none
            # for a dealer that sells, is in default or short of funding
            blocked = (acting[s, n] or defaulted[s, n] or shortfall[s, n] > 0 or roll_share[s, n] > 0
                       or not intermediates[s])
            appetite[j] = 1.0 / (1.0 + kappa[s] * cost[s, j])
            trigger = slr_trigger[s, n]
            room = equity[s, n] / trigger - exposure[s, n] if (math.isfinite(trigger) and switches[s, 0]) else np.inf
            room_slr[j] = 0.0 if blocked else maximum(room, 0.0) * appetite[j]
            trigger = leverage_trigger[n]
            room = equity[s, n] / trigger - total_assets[s, n] if (math.isfinite(trigger) and switches[s, 1]) \
                else np.inf
            room_lev[j] = 0.0 if blocked else maximum(room, 0.0) * appetite[j]
            limit = var_limit[n]
            var_on = math.isfinite(limit) and switches[s, 2]
            headroom = 0.0
            if var_on:
                at_risk = var[s, n]  # as np.nan_to_num(nan=0.0) reads it
                if at_risk != at_risk:
                    at_risk = 0.0
                elif at_risk == np.inf:
                    at_risk = _LARGEST
                elif at_risk == -np.inf:
                    at_risk = -_LARGEST
                headroom = (limit - at_risk) / z[j]
            # intermediate: absorption of client flow (fill), then the share laid off,
            # which frees the room it took. A fill in which nothing is taken (every value
            # 0, none NaN) leaves the room as it is, rooms being never negative: the rest
            # of it is skipped, and so is a layoff of nothing
            slr_use = 0.0
            lev_use = 0.0
            moved = False
            for i in range(first, last):
                p = order[i]
                k = asset[p]
                # VaR room per position: over the position's asset volatility
                room = headroom / sigma[s, k] if var_on else np.inf
                room_var[i] = 0.0 if blocked else maximum(room, 0.0) * appetite[j]
                at[i] = 0.0 if (slr_exempt[k] and slr_exemption[s]) else 1.0
                value = minimum(share[p] * offered[k], room_var[i])
                kept[i] = value
                # times the 0/1 flag, not skipped: NaN * 0 stays NaN, as in the numpy product
                slr_use += value * at[i]
                lev_use += value
                moved |= value != 0.0
            if moved:
                _take(j, first, last, kept, slr_use, lev_use, room_slr, room_lev, room_var, at)
                slr_freed = 0.0
                lev_freed = 0.0
                for i in range(first, last):
                    laid_off = kept[i] * omega
                    kept[i] = kept[i] - laid_off
                    slr_freed += laid_off * at[i]
                    lev_freed += laid_off
                    room_var[i] = room_var[i] + laid_off
                room_slr[j] = room_slr[j] + slr_freed
                room_lev[j] = room_lev[j] + lev_freed
            # the inter-dealer takers: dealers with room, by their balance sheets
            takers[j] = total_assets[s, n] * (1.0 if (room_slr[j] > 0 and room_lev[j] > 0) else 0.0)
        # the inter-dealer pool, shared by the takers in proportion
        for k in range(n_assets):
            pool[k] = omega * (offered[k] + selling[k])
        for p in range(n_pos):
            total[asset[p]] += takers[dealer[p]]
        for j in range(n_dealers):
            first, last = starts[j], starts[j + 1]
            slr_use = 0.0
            lev_use = 0.0
            moved = False
            for i in range(first, last):
                k = asset[order[i]]
                value = minimum((takers[j] / total[k] if total[k] > 0 else 0.0) * pool[k], room_var[i])
                taken[i] = value
                slr_use += value * at[i]
                lev_use += value
                moved |= value != 0.0
            if moved:
                _take(j, first, last, taken, slr_use, lev_use, room_slr, room_lev, room_var, at)
            # leaning against the outstanding pressure, with the room left
            room_left = 1.0 if (room_slr[j] > 0 and room_lev[j] > 0) else 0.0
            slr_use = 0.0
            lev_use = 0.0
            moved = False
            for i in range(first, last):
                p = order[i]
                value = minimum(lean[s] * share[p] * leaning[asset[p]] * room_left, room_var[i])
                leaned[i] = value
                slr_use += value * at[i]
                lev_use += value
                moved |= value != 0.0
            if moved:
                _take(j, first, last, leaned, slr_use, lev_use, room_slr, room_lev, room_var, at)
        # bought, the outside flow and the concession on the inventory taken, at each
        # dealer's share of the impact
        alpha = absorption_impact[s]
        for j in range(n_dealers):
            appetite[j] = alpha + (1.0 - alpha) * (1.0 - appetite[j])
        for k in range(n_assets):
            selling[k] = 0.0
            total[k] = 0.0
        for p in range(n_pos):
            i = slot_of[p]
            k = asset[p]
            held = kept[i] + taken[i]
            value = held + leaned[i]
            interdealer[s, p] = taken[i]
            bought[s, p] = value
            selling[k] += value
            total[k] += held * appetite[dealer[p]] if kappa[s] != 0 else held
        for k in range(n_assets):
            market_flow[s, k] = client_flow[k] + dealer_sold[s, k] - selling[k]
            concession[s, k] = total[k] if kappa[s] != 0 else alpha * total[k]


@jit
def calm_cost_table(st, inp, lev, cash, equity):  # pragma: no cover - compiled
    """:func:`firesale.engine.intermediation.calm_dealer_cost` on the compiled tables
    (:mod:`firesale.engine.compiled_tables`): each dealer's balance-sheet cost at t0, with
    the round's ``cash`` and ``equity`` (S, N), shape (S, D). The compiled kernel set's
    passes in its order: the SLR exposure's sums over positions
    (:func:`~firesale.engine.compiled_scalars.institution_sums`) and the desks' VaR."""
    n_scen, n_assets = st.mark.shape
    n_inst, dealers = cash.shape[1], inp.dealers
    at_risk = desk_var(st.q_trading, st.mark, inp.tradable, st.sigma, inp.var_desks, inp.row_entries,
                        inp.entry_asset, inp.var_correlation, inp.var_z, n_inst)
    counted, held = np.empty((1, n_assets)), np.empty((1, n_inst))
    cost = np.empty((n_scen, dealers.size))
    for s in range(n_scen):
        # slr_exposure: the marks the SLR counts, exempt assets and cash not under the exemption
        exempt = lev.slr_exemption[s]
        for k in range(n_assets):
            counted[0, k] = 0.0 if (inp.slr_exempt[k] and exempt) else st.mark[s, k]
        institution_sums(st.q, s, counted, 0, True, inp.entry_asset, inp.segment_starts, inp.has_holdings, held, 0)
        for j in range(dealers.size):
            n = dealers[j]
            exposure = held[0, n] + (0.0 if exempt else cash[s, n])
            calm_slr = ratio(equity[s, n], exposure + st.margin_posted[s, n] + st.lending[s, n])
            cost[s, j] = _dealer_cost(calm_slr, inp.slr_trigger[n], at_risk[s, n], inp.var_limit[n])
    return cost


@jit
def intermediation_table(st, inp, sc, lev, t, shocked, marked, limits, calls, orders):  # pragma: no cover - compiled
    """The phase on the compiled tables (:mod:`firesale.engine.compiled_tables`), in the
    canonical forms: ``client`` and ``concession`` (S, K) (zeros without a client shock or
    dealing), ``interdealer`` (0, 0) without dealing."""
    price = shocked.price
    n_scen, n_assets = price.shape
    n_dealers, n_pos = inp.dealers.size, inp.position_dealer.size
    dealing = n_dealers > 0 and sc.intermediation.any()
    has_client = t < sc.client_sale_shock.shape[1]
    client = np.ascontiguousarray(sc.client_sale_shock[:, t]) if has_client else np.zeros((n_scen, n_assets))
    # the acting rows' flow (the compiled kernels' pass): clients' per asset, made the
    # market flow in place, and dealers' per position
    traded = np.empty_like(orders.units)
    market_flow, dealer_sales = np.zeros((n_scen, n_assets)), np.zeros((n_scen, n_pos))
    row_flows(orders.units, price, inp.p0, sc.pressure_in_units[orders.s_of], orders.asset_rows, orders.valid,
               orders.entries, inp.dealer_index[orders.n_of] < 0, inp.entry_position,
               row_starts(orders.s_of, n_scen), n_pos, traded, market_flow, dealer_sales)
    dealer_sold, cost = np.empty((n_scen, n_assets)), np.empty((n_scen, n_dealers))
    bought = np.empty((n_scen, n_pos))
    interdealer = np.empty((n_scen, n_pos)) if dealing else np.zeros((0, 0))
    concession = np.empty((n_scen, n_assets)) if dealing else np.zeros((n_scen, n_assets))
    switches = np.empty((n_scen, 3), dtype=np.bool_)
    for s in range(n_scen):
        switches[s, 0], switches[s, 1], switches[s, 2] = (sc.switches[s, _SLR], sc.switches[s, _LEVERAGE],
                                                          sc.switches[s, _VAR])
    _intermediation(
        price, client, has_client, inp.dealers, inp.position_dealer, inp.position_asset, inp.position_share,
        inp.dealer_order, inp.dealer_slot_of, inp.dealer_starts, marked.slr, marked.slr_trigger, marked.var,
        inp.var_limit, dealing, orders.acting, limits.defaulted, calls.shortfall, calls.roll_share,
        sc.intermediation, sc.balance_sheet_cost, calls.equity, marked.exposure, marked.total_assets,
        inp.leverage_trigger, inp.dealer_z, switches, shocked.sigma, inp.slr_exempt, lev.slr_exemption, st.layoff,
        sc.dealer_lean, shocked.pressure, shocked.transient, st.depth_scale, sc.absorption_impact, market_flow,
        dealer_sales, dealer_sold, cost, bought, interdealer, concession)
    return Intermediated(traded, client, dealer_sales, dealer_sold, cost, bought, interdealer, market_flow,
                         concession)


def intermediation(state: State, inputs: Inputs, scen: ScenarioArrays, levers: Levers, t: int, shocked: Shocked,
                   marked: Marked, constraints: Constraints, calls: FundingCalls, orders: Orders,
                   kernels: Kernels) -> Intermediated:
    """:func:`firesale.engine.intermediation.intermediation`, compiled: the same arguments,
    the same :class:`~firesale.engine.intermediation.Intermediated` to rounding.
    ``kernels`` is taken for the signature's sake; the phase runs compiled whatever it is."""
    dealt = intermediation_table(
        state_table(state), input_table(inputs), scenario_table(scen), lever_table(levers), int(t),
        canonical(shocked), canonical_marked(marked), canonical(constraints), canonical_calls(calls),
        canonical(orders))
    # the reference's forms: None without a client shock or dealing, no concession
    dealing = bool(inputs.dealers.size) and bool(scen.intermediation.any())
    return dealt._replace(client=None if scen.at("client_sale_shock", t) is None else dealt.client,
                          interdealer=dealt.interdealer if dealing else None,
                          concession=dealt.concession if dealing else 0.0)


def calm_dealer_cost(state: State, inputs: Inputs, levers: Levers, cash: np.ndarray, equity: np.ndarray,
                     kernels: Kernels = NUMPY) -> np.ndarray:
    """:func:`firesale.engine.intermediation.calm_dealer_cost`, compiled (:func:`calm_cost_table`):
    the same arguments and result, to rounding. ``kernels`` is taken for the signature's sake."""
    return calm_cost_table(state_table(state), input_table(inputs), lever_table(levers),
                           np.ascontiguousarray(cash, dtype=np.float64), np.ascontiguousarray(equity, dtype=np.float64))
