"""Price impact, execution price and mean reversion (DESIGN §2 step 4).

Impact is measured in units of the t0 price ``p0`` from the cumulative net value sold
``Q`` (the *pressure*, valued at the pre-impact price of each round), so that a market's
depth is calibrated once at t0 as in the reference models:

.. math::

    p_k = \\max\\bigl(f_k - p_{0,k}\\, \\Psi_k(Q_k),\\; 0\\bigr)

with ``f`` the fundamental price and the impact laws

* linear: :math:`\\Psi(Q) = Q / D` (Greenwood, Landier & Thesmar 2015, ℓ = 1/D per unit sold);
* exponential: :math:`\\Psi(Q) = (1 - b)(1 - e^{-Q / ((1 - b) D)})`, floor ``b``
  (Cont & Schaanning 2017, eq. for Ψ with δ = (1 − B/S) D);
* square root: :math:`\\Psi(Q) = \\sigma_0 \\kappa \\sqrt{Q / \\mathrm{ADV}}`
  (Breuer, Summer & Urosevic, OeNB WP 235).

Net purchases (``Q < 0``) move prices up by the law's mirror image. Sellers execute at
:math:`p^{exec} = p^{pre} + \\alpha (p^{post} - p^{pre})`; without new pressure ``Q``
decays at rate ρ, pulling the price back to its fundamental.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "MarketParams", "LAW_CODES", "impact_fraction", "pressure_for_impact", "price_from_pressure", "execution_price",
    "mean_revert",
]

LAW_CODES = {"linear": 0, "exponential": 1, "sqrt": 2}


class MarketParams(BaseModel):
    """Market-clearing parameters of a scenario."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    execution_alpha: float = Field(
        0.5, ge=0.0, le=1.0,
        description="Where sellers execute between the pre-impact (0) and post-impact (1) price.",
        json_schema_extra={"unit": "fraction"},
    )
    mean_reversion: float = Field(
        0.0, ge=0.0, le=1.0,
        description="Share of the accumulated price pressure that fades each round (ρ).",
        json_schema_extra={"unit": "fraction/round"},
    )
    pressure_in_units: bool = Field(
        False, description="Price pressure counts what is sold at t0 prices (units) rather than at the round's "
        "prices: Breuer-Summer-Urosevic's Q = S'θ. Off: value sold, as Cont-Schaanning's published path needs.",
    )
    settlement: Literal["round", "final"] = Field(
        "round", description="When sales settle: 'round', at the round's execution price; 'final', at the price in "
        "force when the cascade ends (sellers carry the moves of what they sold until then; their debt takes them), "
        "as in Breuer-Summer-Urosevic's equilibrium, where every trade clears at the equilibrium price.",
    )
    intermediation: bool = Field(
        True, description="Dealers absorb client flow, lay it off to each other and lean against the wind "
        "(DESIGN §2 step 4); off: every sale goes straight to outside buyers.",
    )
    layoff_share: float = Field(
        0.5, ge=0.0, le=1.0, allow_inf_nan=False,
        description="ω0: share of absorbed and unabsorbed flow dealers lay off in the inter-dealer market when "
        "calm. About half of US Treasury cash volume trades between dealers (inter-dealer platforms, TRACE "
        "2017-2019).", json_schema_extra={"unit": "fraction"},
    )
    absorption_impact: float = Field(
        0.5, ge=0.0, le=1.0, allow_inf_nan=False,
        description="Price concession at which dealers take inventory, as a share of the impact the same flow "
        "would have on outside buyers: liquidity providers are paid for the inventory risk they take "
        "(Grossman & Miller 1988), and the concession fades as dealers lean against the wind.",
        json_schema_extra={"unit": "fraction"},
    )
    dealer_lean: float = Field(
        0.2, ge=0.0, le=1.0, allow_inf_nan=False,
        description="Share of the outstanding price pressure dealers with room buy back each round (leaning "
        "against the wind): a half-life of about 3 days, of the order of dealers' inventory half-lives "
        "(Hendershott & Menkveld 2014).", json_schema_extra={"unit": "fraction/round"},
    )


def impact_fraction(
    pressure: np.ndarray,
    law: np.ndarray,
    depth: np.ndarray,
    floor: np.ndarray,
    sigma0: np.ndarray,
    adv: np.ndarray,
    kappa: np.ndarray,
) -> np.ndarray:
    """Price impact Ψ(Q) as a fraction of the t0 price.

    Parameters
    ----------
    pressure : ndarray, shape (S, K)
        Cumulative net value sold, Q (currency); negative for net purchases.
    law : ndarray of int, shape (K,)
        Impact law code, see ``LAW_CODES``.
    depth, floor, sigma0, adv, kappa : ndarray, shape (K,)
        Market depth D (currency, ``inf`` for no impact), exponential floor b (fraction of
        p0), daily volatility, average daily volume (currency/day), square-root coefficient.

    Returns
    -------
    ndarray, shape (S, K)
        Ψ, signed like ``pressure``.

    Examples
    --------
    Cont & Schaanning's check: D = 0.4·sqrt(20)·50/0.02, floor 0.5, 34.73 sold → Ψ = 0.0077059.

    >>> import numpy as np
    >>> D = 0.4 * np.sqrt(20) * 50 / 0.02
    >>> psi = impact_fraction(np.array([[34.73]]), np.array([1]), np.array([D]), np.array([0.5]),
    ...                       np.array([0.02]), np.array([50.0]), np.array([1.5]))
    >>> round(float(psi[0, 0]), 7)
    0.0077059
    """
    size = np.abs(pressure)
    sign = np.sign(pressure)
    finite = np.isfinite(depth)
    safe_depth = np.where(finite, depth, 1.0)
    linear = size / safe_depth
    room = 1.0 - floor
    exponential = room * -np.expm1(-size / (room * safe_depth))
    safe_adv = np.where(adv > 0, adv, 1.0)
    square_root = sigma0 * kappa * np.sqrt(size / safe_adv)
    psi = np.where(law == LAW_CODES["linear"], linear, np.where(law == LAW_CODES["exponential"], exponential, square_root))
    psi = np.where(finite | (law == LAW_CODES["sqrt"]), psi, 0.0)
    return sign * psi


def pressure_for_impact(
    psi: np.ndarray, law: np.ndarray, depth: np.ndarray, floor: np.ndarray, sigma0: np.ndarray, adv: np.ndarray,
    kappa: np.ndarray,
) -> np.ndarray:
    """Inverse of :func:`impact_fraction` for Ψ ≥ 0: the pressure that moves the price by Ψ.

    ``inf`` where no pressure can (an infinitely deep market, or Ψ at the exponential floor).

    Examples
    --------
    >>> import numpy as np
    >>> one = np.ones(1)
    >>> float(pressure_for_impact(np.array([[0.1]]), np.array([0]), 500 * one, 0 * one, one, one, one)[0, 0])
    50.0
    """
    psi = np.maximum(psi, 0.0)
    finite = np.isfinite(depth)
    safe_depth = np.where(finite, depth, 1.0)
    room = 1.0 - floor
    linear = psi * safe_depth
    with np.errstate(divide="ignore"):
        exponential = np.where(psi < room, -room * safe_depth * np.log1p(-psi / room), np.inf)
    scale = sigma0 * kappa
    square_root = np.divide(psi, scale, out=np.full_like(psi, np.inf), where=scale > 0) ** 2 * adv
    q = np.where(law == LAW_CODES["linear"], linear, np.where(law == LAW_CODES["exponential"], exponential, square_root))
    return np.where(finite | (law == LAW_CODES["sqrt"]), q, np.inf)


def price_from_pressure(fundamental: np.ndarray, p0: np.ndarray, psi: np.ndarray) -> np.ndarray:
    """Market price :math:`\\max(f - p_0 Ψ, 0)`, shape (S, K)."""
    return np.maximum(fundamental - p0 * psi, 0.0)


def execution_price(pre: np.ndarray, post: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Execution price :math:`p^{pre} + α (p^{post} - p^{pre})`; ``alpha`` shape (S, 1)."""
    return pre + alpha * (post - pre)


def mean_revert(pressure: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """Fade accumulated pressure: :math:`Q \\leftarrow (1 - ρ) Q`; ``rate`` shape (S, 1)."""
    return (1.0 - rate) * pressure
