"""Phase 7 of a round: clearing — outside buyers take the flow through the impact law, a
central bank takes what its programme buys, and each order's execution price
(docs/model.md, the round)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from firesale.channels.impact import execution_price, impact_for_price, pressure_for_impact
from firesale.channels.information import marks
from firesale.engine.allocation import Orders
from firesale.engine.intermediation import Intermediated
from firesale.engine.shocks import Shocked, market_price
from firesale.engine.state import Inputs, Levers, ScenarioArrays, State

__all__ = ["Cleared", "clearing"]


class Cleared(NamedTuple):
    """The market after the round's trades. Shapes (S, K) unless noted."""

    pressure: np.ndarray  # permanent pressure, with the round's flow
    transient: np.ndarray  # transient pressure, with the round's flow
    purchases: np.ndarray  # the central bank's purchases
    post: np.ndarray  # post-trade price
    post_mark: np.ndarray  # post-trade marks
    bid: np.ndarray  # sellers' execution price
    ask: np.ndarray  # buyers' execution price


def clearing(state: State, inputs: Inputs, scen: ScenarioArrays, levers: Levers, shocked: Shocked,
             orders: Orders, dealt: Intermediated) -> Cleared:
    """Clear the round's flow.

    All-to-all trading matches a share of the flow with outside buyers at no impact; a
    central bank takes up to its caps of what is left (or what keeps its floor). Pressure
    is kept at t0 depth: flow in a market the information channel thinned counts
    1/depth_scale times (its impact; past pressure is not repriced), and what thin depth
    adds beyond its calm impact is kept apart as transient impact (it fades at the
    resilience rate). Sellers receive the bid, buyers pay the ask, half the effective
    spread off and on an execution price between the pre- and post-trade price
    (:func:`~firesale.channels.impact.execution_price`); under final settlement a sale
    books the pre-trade price and carries every move from there."""
    price, fundamental, depth_scale = shocked.price, shocked.fundamental, state.depth_scale
    flow = (1.0 - levers.all_to_all[:, None]) * dealt.market_flow
    inflow = flow + dealt.concession
    pressure = shocked.pressure + inflow
    thinness = 1.0 / depth_scale - 1.0
    transient = shocked.transient + inflow * thinness
    purchases = np.zeros_like(pressure)
    if levers.purchase_eligible.any():
        floor_psi = impact_for_price(fundamental, inputs.p0, scen.purchase_floor[:, None] * inputs.p0,
                                     levers.max_discount, inputs.relative_impact)
        ceiling = pressure_for_impact(floor_psi, inputs.impact_law, inputs.depth,
                                      inputs.impact_floor, inputs.sigma0, inputs.adv, inputs.impact_kappa)
        wanted = np.where(np.isnan(scen.purchase_floor)[:, None], np.maximum(inflow, 0.0),
                          np.maximum(pressure + transient - ceiling, 0.0) * depth_scale)
        wanted = np.where(levers.purchase_eligible, wanted, 0.0)
        budget = np.minimum(levers.purchase_daily_cap, scen.purchase_total - state.purchased)
        asked = wanted.sum(axis=1)
        purchases = wanted * np.minimum(1.0, np.divide(budget, asked, out=np.ones_like(asked), where=asked > 0))[:, None]
        pressure = pressure - purchases
        transient = transient - purchases * thinness
    post = market_price(inputs, fundamental, pressure + transient, levers.max_discount)
    post_mark = marks(post, inputs.opacity, state.uncertainty)
    executed = np.where(scen.final_settlement[:, None], price,
                        execution_price(price, post, scen.execution_alpha[:, None]))
    half_spread = state.spread / 2.0
    return Cleared(pressure, transient, purchases, post, post_mark, executed * (1.0 - half_spread),
                   executed * (1.0 + half_spread))
