"""Phases 9 and 10 of a round: volatility after the round's prices, then the information
channel's spreads, quoting shares, depth, uncertainty and layoff share for the next round
(:mod:`firesale.channels.volatility`, :mod:`firesale.channels.information`; docs/model.md,
the round)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from firesale.channels.information import Information, information_update
from firesale.channels.volatility import anchored_volatility
from firesale.engine.allocation import Orders
from firesale.engine.clearing import Cleared
from firesale.engine.constraints import Constraints
from firesale.engine.intermediation import Intermediated
from firesale.engine.kernels import NUMPY, Kernels
from firesale.engine.marking import Marked
from firesale.engine.shocks import Shocked
from firesale.engine.state import Inputs, ScenarioArrays, State

__all__ = ["Informed", "information"]


class Informed(NamedTuple):
    """Volatility after the round (S, K) and the information channel's output."""

    sigma: np.ndarray
    info: Information


def information(state: State, inputs: Inputs, scen: ScenarioArrays, shocked: Shocked, marked: Marked,
                limits: Constraints, orders: Orders, dealt: Intermediated, cleared: Cleared, calm_cost: np.ndarray,
                kernels: Kernels = NUMPY) -> Informed:
    """Volatility anchored to the fundamental's (:func:`~firesale.channels.volatility.anchored_volatility`),
    then :func:`~firesale.channels.information.information_update` from it and the dealers'
    constraints in this round: quoting falls continuously with a dealer's balance-sheet
    cost (a dealer that sells still quotes, less; one in default is out), and dealers in
    breach or default make counterparty fear."""
    sigma = anchored_volatility(shocked.sigma, shocked.sigma_fundamental, state.price, cleared.post,
                                scen.ewma_lambda[:, None], scen.volatility_anchor[:, None],
                                scen.volatility_cap[:, None])
    dealers = inputs.dealers
    info = information_update(
        sigma, inputs.sigma0, inputs.mu0, np.where(limits.defaulted[:, dealers], np.inf, dealt.cost), calm_cost,
        inputs.dealer_positions, marked.total_assets[:, dealers], scen.layoff_share,
        {"elasticity": scen.info_elasticity, "cap": scen.info_cap, "rfq_spread": scen.info_rfq_spread,
         "rfq_depth": scen.info_rfq_depth, "depth_elasticity": scen.info_depth_elasticity,
         "fear_freeze": scen.info_fear_freeze, "depth_floor": scen.info_depth_floor,
         "spread_cap": scen.info_spread_cap},
        scen.information, troubled=(orders.acting | limits.defaulted)[:, dealers],
    )
    return Informed(sigma, info)
