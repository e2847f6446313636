"""Dealer intermediation and the inter-dealer market (step 4 of the round, docs/model.md).

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

from firesale.channels._sums import segment_sums

__all__ = ["Positions", "Room", "Intermediation", "intermediate", "fill"]


@dataclass(frozen=True)
class Positions:
    """The dealers' positions: one per (dealer, asset) pair a dealer holds or makes a market
    in, P in all. Dealer-side arrays are (S, P), not a dense (S, D, K) block, so the work
    grows with the positions dealers actually have."""

    dealer: np.ndarray  # (P,) index into the D dealers
    asset: np.ndarray  # (P,) index into the K assets
    share: np.ndarray  # (P,) market share of the dealer in the asset
    n_dealers: int
    n_assets: int

    def __post_init__(self) -> None:
        # runs of positions per dealer and per asset (positions sorted stably by label),
        # summed sequentially: a batch equals its scenarios run alone, bit for bit
        for name, label, n_labels in (("dealer", self.dealer, self.n_dealers), ("asset", self.asset, self.n_assets)):
            order = np.argsort(label, kind="stable")
            order = None if np.array_equal(order, np.arange(order.size)) else order  # already in runs
            counts = np.bincount(label, minlength=n_labels)
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            object.__setattr__(self, f"_{name}_runs", (order, starts[counts > 0], counts > 0))

    def by_dealer(self, values: np.ndarray) -> np.ndarray:
        """Sum (S, P) over each dealer's positions → (S, D), in position order."""
        return _runs_sum(values, *self._dealer_runs)

    def by_asset(self, values: np.ndarray) -> np.ndarray:
        """Sum (S, P) over each asset's dealer positions → (S, K), in position order."""
        return _runs_sum(values, *self._asset_runs)


def _runs_sum(values: np.ndarray, order: np.ndarray | None, starts: np.ndarray, present: np.ndarray) -> np.ndarray:
    return segment_sums(values if order is None else values[:, order], starts, present)


@dataclass
class Room:
    """Dealers' balance-sheet room left (value at the round's price)."""

    slr: np.ndarray  # (S, D), used by assets counted in the SLR exposure
    leverage: np.ndarray  # (S, D)
    var: np.ndarray  # (S, P), per position


@dataclass(frozen=True)
class Intermediation:
    """Values (at the round's pre-trade price) of what dealers took, by step, per position."""

    absorbed: np.ndarray  # (S, P) client flow kept in inventory (after layoff)
    interdealer: np.ndarray  # (S, P) taken in the inter-dealer market
    lean: np.ndarray  # (S, P) bought from outside buyers against the wind
    outside: np.ndarray  # (S, K) net flow left for outside buyers (moves the price)

    @property
    def bought(self) -> np.ndarray:
        return self.absorbed + self.interdealer + self.lean


def fill(wanted: np.ndarray, room: Room, counted: np.ndarray, positions: Positions) -> np.ndarray:
    """What each dealer can take of ``wanted`` (S, P) within its room; ``room`` is reduced
    by it, to exactly zero where it bound. Each scalar room is shared among the dealer's
    positions in proportion to what is wanted. ``counted`` (S, P): positions in an asset
    the SLR exposure counts."""
    taken = np.minimum(wanted, room.var)
    slr_use = positions.by_dealer(taken * counted)
    lev_use = positions.by_dealer(taken)
    slr_scale = np.minimum(1.0, np.divide(room.slr, slr_use, out=np.ones_like(slr_use), where=slr_use > 0))
    lev_scale = np.minimum(1.0, np.divide(room.leverage, lev_use, out=np.ones_like(lev_use), where=lev_use > 0))
    d = positions.dealer
    taken = taken * np.minimum(lev_scale[:, d], np.where(counted, slr_scale[:, d], 1.0))
    # a room that bound is used up: none is left, not the rounding residue of room − Σ taken
    # (a residue of 1e-17 would make the dealer a taker of the inter-dealer pool and of
    # lean, and where the residue falls depends on the order of the sums)
    slr_used_up = (slr_scale < 1.0) & (slr_scale <= lev_scale)
    lev_used_up = (lev_scale < 1.0) & (lev_scale <= slr_scale)
    room.slr = np.where(slr_used_up, 0.0, np.maximum(room.slr - positions.by_dealer(taken * counted), 0.0))
    room.leverage = np.where(lev_used_up, 0.0, np.maximum(room.leverage - positions.by_dealer(taken), 0.0))
    room.var = np.maximum(room.var - taken, 0.0)
    return taken


def _has_room(room: Room) -> np.ndarray:
    return (room.slr > 0) & (room.leverage > 0)


def intermediate(
    client_flow: np.ndarray, dealer_sales: np.ndarray, positions: Positions, room: Room, counted: np.ndarray,
    layoff: np.ndarray, lean: np.ndarray, pressure: np.ndarray, size: np.ndarray,
) -> Intermediation:
    """Route a round's flow through the dealers.

    Parameters
    ----------
    client_flow : (S, K)
        Net value sold by clients (outside clients and non-dealer institutions); negative
        is net buying, which goes to outside sellers directly.
    dealer_sales : (S, P)
        Dealers' own net sales in the round per position (forced; negative are purchases).
    positions : Positions
        The dealers' positions and market shares.
    room : Room
        Dealers' room at the start of the step (a dealer that sells has none).
    counted : (S, K) bool, assets in the SLR exposure.
    layoff : (S,) ω.
    lean : (S,) share of outstanding pressure dealers with room buy back.
    pressure : (S, K) outstanding price pressure (value) before the round's flow.
    size : (S, D) dealers' balance sheets: inter-dealer takers share the pool in proportion.

    Returns
    -------
    Intermediation
        ``outside = client_flow + Σ_d dealer_sales − Σ_d bought``.
    """
    k, d = positions.asset, positions.dealer
    at = counted[:, k]
    offered = np.maximum(client_flow, 0.0)
    absorbed = fill(positions.share * offered[:, k], room, at, positions)
    laid_off = absorbed * layoff[:, None]
    kept = absorbed - laid_off
    # what is laid off frees the room it took
    room.slr = room.slr + positions.by_dealer(laid_off * at)
    room.leverage = room.leverage + positions.by_dealer(laid_off)
    room.var = room.var + laid_off
    pool = layoff[:, None] * (offered + positions.by_asset(np.maximum(dealer_sales, 0.0)))
    takers = size[:, d] * _has_room(room)[:, d]
    total = positions.by_asset(takers)[:, k]
    weight = np.divide(takers, total, out=np.zeros_like(takers), where=total > 0)
    interdealer = fill(weight * pool[:, k], room, at, positions)
    wanted = lean[:, None] * positions.share * np.maximum(pressure, 0.0)[:, k] * _has_room(room)[:, d]
    leaned = fill(wanted, room, at, positions)
    bought = kept + interdealer + leaned
    outside = client_flow + positions.by_asset(dealer_sales) - positions.by_asset(bought)
    return Intermediation(absorbed=kept, interdealer=interdealer, lean=leaned, outside=outside)
