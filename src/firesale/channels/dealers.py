"""Dealer intermediation and the inter-dealer market (DESIGN §2 step 4).

In each round and asset, in this order:

1. **Client flow** — sales by clients outside the system (a ``client_sale`` shock) and
   by institutions that are not dealers — reaches dealers by their market shares
   :math:`m_{dk}`.
2. **Absorption.** A dealer with balance-sheet room takes its share into inventory at the
   round's price, up to its room: SLR room :math:`E/\\mathrm{trigger}_{SLR} - X` (used only
   by assets counted in the exposure), leverage room :math:`E/\\mathrm{trigger}_{lev} - A`,
   VaR room :math:`(\\mathrm{limit} - \\mathrm{VaR})/(z σ_k)` per asset (a conservative
   linear bound). A dealer in breach, in default or short of funding has none: it passes
   the flow on — the functioning market's negative feedback turns positive.
3. **Inter-dealer layoff.** A share :math:`ω` of what dealers absorbed, of client flow no
   dealer could absorb and of dealers' own forced sales is offered in the inter-dealer
   market, to dealers with room left in proportion to their balance sheets (no inventory is
   created or destroyed there: what one dealer lays off another holds, or it goes on).
4. **Leaning against the wind.** Dealers with room left buy a share ``dealer_lean`` of the
   outstanding price pressure (their market share of it) from outside buyers, betting on
   the reversal — the functioning market's mean reversion.
5. What no dealer holds goes to outside buyers through the impact law.

Dealers finance inventory with new borrowing; it is marked to market like any holding
and counts in the trading book (VaR), so warehoused risk has a cost.

References
----------
.. [1] Duffie, D. (2020), "Still the world's safe haven? Redesigning the U.S. Treasury
   market after the COVID-19 crisis", Hutchins Center WP 62: dealer balance-sheet capacity.
.. [2] Grossman, S. and Miller, M. (1988), "Liquidity and market structure", J. Finance
   43(3): 617-633.
.. [3] He, Z., Nagel, S. and Song, Z. (2022), "Treasury inconvenience yields during the
   COVID-19 crisis", J. Financial Economics 143(1): dealers' constrained absorption.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from firesale.channels._sums import last_axis_sum

__all__ = ["Room", "Intermediation", "intermediate", "fill"]


@dataclass
class Room:
    """Dealers' balance-sheet room left (value at the round's price)."""

    slr: np.ndarray  # (S, D), used by assets counted in the SLR exposure
    leverage: np.ndarray  # (S, D)
    var: np.ndarray  # (S, D, K)


@dataclass(frozen=True)
class Intermediation:
    """Values (at the round's pre-trade price) of what dealers took, by step."""

    absorbed: np.ndarray  # (S, D, K) client flow kept in inventory (after layoff)
    interdealer: np.ndarray  # (S, D, K) taken in the inter-dealer market
    lean: np.ndarray  # (S, D, K) bought from outside buyers against the wind
    outside: np.ndarray  # (S, K) net flow left for outside buyers (moves the price)

    @property
    def bought(self) -> np.ndarray:
        return self.absorbed + self.interdealer + self.lean


def fill(wanted: np.ndarray, room: Room, counted: np.ndarray) -> np.ndarray:
    """What each dealer can take of ``wanted`` (S, D, K) within its room; ``room`` is
    reduced by it. Each scalar room is shared among assets in proportion to what is wanted."""
    taken = np.minimum(wanted, room.var)
    slr_use = last_axis_sum(taken * counted[:, None, :])
    lev_use = last_axis_sum(taken)
    slr_scale = np.minimum(1.0, np.divide(room.slr, slr_use, out=np.ones_like(slr_use), where=slr_use > 0))
    lev_scale = np.minimum(1.0, np.divide(room.leverage, lev_use, out=np.ones_like(lev_use), where=lev_use > 0))
    scale = np.minimum(lev_scale[:, :, None], np.where(counted[:, None, :], slr_scale[:, :, None], 1.0))
    taken = taken * scale
    room.slr = np.maximum(room.slr - last_axis_sum(taken * counted[:, None, :]), 0.0)
    room.leverage = np.maximum(room.leverage - last_axis_sum(taken), 0.0)
    room.var = np.maximum(room.var - taken, 0.0)
    return taken


def _has_room(room: Room) -> np.ndarray:
    return (room.slr > 0) & (room.leverage > 0)


def intermediate(
    client_flow: np.ndarray, dealer_sales: np.ndarray, share: np.ndarray, room: Room, counted: np.ndarray,
    layoff: np.ndarray, lean: np.ndarray, pressure: np.ndarray, size: np.ndarray, holds: np.ndarray,
) -> Intermediation:
    """Route a round's flow through the dealers.

    Parameters
    ----------
    client_flow : (S, K)
        Net value sold by clients (outside clients and non-dealer institutions); negative
        is net buying, which goes to outside sellers directly.
    dealer_sales : (S, D, K)
        Dealers' own net sales in the round (forced; negative are purchases).
    share : (D, K) market shares.
    room : Room
        Dealers' room at the start of the step (a dealer that sells has none).
    counted : (S, K) bool, assets in the SLR exposure.
    layoff : (S,) ω.
    lean : (S,) share of outstanding pressure dealers with room buy back.
    pressure : (S, K) outstanding price pressure (value) before the round's flow.
    size : (S, D) dealers' balance sheets: inter-dealer takers share the pool in proportion.
    holds : (D, K) bool, where a dealer has a position (a place for the inventory).

    Returns
    -------
    Intermediation
        ``outside = client_flow + Σ_d dealer_sales − Σ_d bought``.
    """
    offered = np.maximum(client_flow, 0.0)
    absorbed = fill(share[None] * offered[:, None, :], room, counted)
    laid_off = absorbed * layoff[:, None, None]
    kept = absorbed - laid_off
    # what is laid off frees the room it took
    room.slr = room.slr + last_axis_sum(laid_off * counted[:, None, :])
    room.leverage = room.leverage + last_axis_sum(laid_off)
    room.var = room.var + laid_off
    pool = layoff[:, None] * (offered + np.maximum(dealer_sales, 0.0).sum(axis=1))
    takers = size[:, :, None] * holds[None] * _has_room(room)[:, :, None]
    weight = np.divide(takers, takers.sum(axis=1, keepdims=True), out=np.zeros_like(takers),
                       where=takers.sum(axis=1, keepdims=True) > 0)
    interdealer = fill(weight * pool[:, None, :], room, counted)
    wanted = lean[:, None, None] * share[None] * np.maximum(pressure, 0.0)[:, None, :] * _has_room(room)[:, :, None]
    leaned = fill(wanted, room, counted)
    bought = kept + interdealer + leaned
    outside = client_flow + dealer_sales.sum(axis=1) - bought.sum(axis=1)
    return Intermediation(absorbed=kept, interdealer=interdealer, lean=leaned, outside=outside)
