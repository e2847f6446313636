"""Phase 6 of a round: the flow the orders make, and dealer intermediation — absorption,
inter-dealer layoff, leaning against the wind (:mod:`firesale.channels.dealers`)
(docs/model.md, the round)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import ndtri

from firesale.channels.balance_sheet import ratio, slr_exposure
from firesale.channels.dealers import Room, intermediate
from firesale.channels.information import dealer_cost
from firesale.engine.allocation import Orders
from firesale.engine.constraints import Constraints
from firesale.engine.funding_calls import FundingCalls
from firesale.engine.kernels import NUMPY, Kernels
from firesale.engine.marking import Marked
from firesale.engine.shocks import Shocked
from firesale.engine.state import Inputs, Levers, ScenarioArrays, State

__all__ = ["Intermediated", "intermediation", "calm_dealer_cost"]


class Intermediated(NamedTuple):
    """The round's flow and what dealers did with it. Shapes (S, K) unless noted."""

    traded: np.ndarray  # (R, L) value of each order at the pre-trade market price
    client: np.ndarray | None  # outside clients' sales to dealers (a shock), None without
    dealer_sales: np.ndarray  # (S, P) the acting dealers' own sales per dealer position
    dealer_sold: np.ndarray  # the same per asset
    cost: np.ndarray  # (S, D) dealers' balance-sheet cost
    bought: np.ndarray  # (S, P) value dealers bought per dealer position
    interdealer: np.ndarray | None  # (S, P) value taken in the inter-dealer market, None without dealing
    market_flow: np.ndarray  # the flow that reaches outside buyers
    concession: np.ndarray | float  # the price concession of the inventory dealers take


def calm_dealer_cost(state: State, inputs: Inputs, levers: Levers, cash: np.ndarray, equity: np.ndarray,
                     kernels: Kernels = NUMPY) -> np.ndarray:
    """Each dealer's balance-sheet cost at t0 (with any round-0 capital), shape (S, D): its
    calm break-even spread (:func:`firesale.channels.information.dealer_cost`)."""
    d = inputs.dealers
    exposure = slr_exposure(state.q, state.mark, cash, inputs, levers.slr_exemption,
                            lambda v, x: kernels.position_sums(v, x, inputs))
    calm_slr = ratio(equity, exposure + state.margin_posted + state.lending)
    n_scen = state.q.shape[0]
    return dealer_cost(calm_slr[:, d], np.broadcast_to(inputs.slr_trigger[d], (n_scen, d.size)),
                       kernels.desk_var(state.q_trading, state.mark, state.sigma, inputs)[:, d], inputs.var_limit[d],
                       np.zeros((n_scen, d.size), dtype=bool))


def intermediation(state: State, inputs: Inputs, scen: ScenarioArrays, levers: Levers, t: int, shocked: Shocked,
                   marked: Marked, constraints: Constraints, calls: FundingCalls, orders: Orders,
                   kernels: Kernels = NUMPY) -> Intermediated:
    """Clients' and dealers' orders become flow; dealers absorb, lay off and lean within
    their room (:func:`firesale.channels.dealers.intermediate`), rationed by their shadow
    cost of balance sheet: a dealer offers 1 / (1 + κc) of its room, and takes inventory
    at a share α + (1 − α) κc / (1 + κc) of the impact the flow would have on outside
    buyers (Grossman-Miller)."""
    price = shocked.price
    n_scen = price.shape[0]
    traded, client_flow, dealer_sales = kernels.row_flows(
        inputs, orders.units, price, scen.pressure_in_units[orders.s_of], orders.s_of, orders.n_of, orders.asset_rows,
        orders.valid, orders.entries)
    if (client := scen.at("client_sale_shock", t)) is not None:
        client_flow = client_flow + client
    d = inputs.dealers
    positions = inputs.dealer_positions
    dealer_sold = positions.by_asset(dealer_sales) if d.size else np.zeros_like(price)
    # dealers' balance-sheet cost: squared utilisation of their tightest constraint
    cost = dealer_cost(marked.slr[:, d], marked.slr_trigger[:, d], marked.var[:, d], inputs.var_limit[d],
                       np.zeros((n_scen, d.size), bool))
    interdealer = None
    if d.size and scen.intermediation.any():
        blocked = (orders.acting | constraints.defaulted | (calls.shortfall > 0) | (calls.roll_share > 0))[:, d]
        appetite = 1.0 / (1.0 + scen.balance_sheet_cost[:, None] * cost)
        room = _dealer_room(inputs, scen, calls.equity, marked, shocked.sigma,
                            blocked | ~scen.intermediation[:, None], appetite)
        counted = ~(inputs.slr_exempt & levers.slr_exemption[:, None])
        dealing = intermediate(client_flow, dealer_sales, positions, room, counted,
                               np.where(scen.intermediation, state.layoff, 0.0), scen.dealer_lean,
                               (shocked.pressure + shocked.transient) * state.depth_scale, marked.total_assets[:, d])
        bought, interdealer = dealing.bought, dealing.interdealer
        market_flow = dealing.outside
        taken = dealing.absorbed + dealing.interdealer
        if scen.balance_sheet_cost.any():
            alpha = scen.absorption_impact[:, None]
            share = alpha + (1.0 - alpha) * (1.0 - appetite)
            concession = positions.by_asset(taken * share[:, positions.dealer])
        else:
            concession = scen.absorption_impact[:, None] * positions.by_asset(taken)
    else:
        # no scenario intermediates: dealers' own sales reach outside buyers like anyone's
        # (what intermediate() gives with no room: the same bits, without the work)
        bought = np.zeros_like(dealer_sales)
        market_flow = client_flow + dealer_sold if d.size else client_flow
        concession = 0.0
    return Intermediated(traded, client, dealer_sales, dealer_sold, cost, bought, interdealer, market_flow,
                         concession)


def _dealer_room(inputs: Inputs, scen: ScenarioArrays, equity: np.ndarray, marked: Marked, sigma: np.ndarray,
                 blocked: np.ndarray, appetite: np.ndarray) -> Room:
    """Dealers' room to take inventory (value) before their SLR, leverage or VaR trigger, times
    its ``appetite`` (S, D); none for a dealer that is ``blocked`` (selling, defaulted, short of
    funding). A dealer past its trigger that deleverages only below the minimum has no room
    but keeps its inventory: it rations new balance sheet instead of dumping the old."""
    d = inputs.dealers
    eq = equity[:, d]
    slr_trig = marked.slr_trigger[:, d]
    lev_trig = inputs.leverage_trigger[d]
    limit = inputs.var_limit[d]
    with np.errstate(divide="ignore", invalid="ignore"):
        slr_room = np.where(np.isfinite(slr_trig) & scen.switch("slr"), eq / slr_trig - marked.exposure[:, d], np.inf)
        lev_room = np.where(np.isfinite(lev_trig) & scen.switch("leverage"), eq / lev_trig - marked.total_assets[:, d],
                            np.inf)
        z = ndtri(inputs.var_confidence[d])
        # per position: VaR room over the position's asset volatility
        p_dealer, p_asset = inputs.dealer_positions.dealer, inputs.dealer_positions.asset
        var_room = np.where((np.isfinite(limit) & scen.switch("var"))[:, p_dealer],
                            ((limit - np.nan_to_num(marked.var[:, d], nan=0.0)) / z)[:, p_dealer] / sigma[:, p_asset],
                            np.inf)
    return Room(slr=np.where(blocked, 0.0, np.maximum(slr_room, 0.0) * appetite),
                leverage=np.where(blocked, 0.0, np.maximum(lev_room, 0.0) * appetite),
                var=np.where(blocked[:, p_dealer], 0.0, np.maximum(var_room, 0.0) * appetite[:, p_dealer]))
