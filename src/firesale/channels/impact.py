"""Price impact, execution price and mean reversion (step 4 of the round, docs/model.md).

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
  (Breuer, Summer & Urosevic, OeNB WP 235);
* multiplicative: :math:`p_k = f_k e^{-Q_k / D_k}`, so that :math:`Ψ = 1 - e^{-Q/D}` is a
  fraction of the fundamental rather than of ``p0`` (Cifuentes, Ferrucci & Shin 2005, the
  Bank of England / Oxford INET fire-sale stress test: :math:`p \\leftarrow p\\,e^{-β q/Q_0}`
  with ``Q0`` the asset's initial holdings, i.e. ``D = Q0 / β``; each round's impact
  multiplies the price, shocks included).

Net purchases (``Q < 0``) move prices up by the law's mirror image (the multiplicative
law by :math:`e^{|Q|/D}`, its exact inverse). Sellers execute at
:math:`p^{exec} = p^{pre} + \\alpha (p^{post} - p^{pre})`; without new pressure ``Q``
decays at rate ρ, pulling the price back to its fundamental.

Two brakes, each neutral at its default:

* **Outside demand with slow-moving capital** (Duffie 2010, "Presidential address: asset
  price dynamics with slow-moving capital", J. Finance 65(4); Greenwood, Hanson & Liao
  2018, "Asset price dynamics in partially segmented markets", RFS 31(9)). Outside buyers'
  demand rises with the fire-sale discount and becomes unbounded as it nears the largest
  discount ``d_k`` their capital tolerates, so the discount the law gives,
  :math:`δ = p_0 Ψ(Q)/f`, is saturated:

  .. math:: p_k = f_k \\bigl(1 - d_k (1 - e^{-δ_k / d_k})\\bigr) \\;\\ge\\; f_k (1 - d_k)

  (the first-order impact is unchanged, :math:`\\partial p/\\partial Q = -p_0 Ψ'` at
  :math:`Q = 0`). Their capital arrives over days: each round it absorbs the share
  ``a_k`` (``capital_arrival``) of the outstanding pressure. ``d = inf``, ``a = 0`` are
  neutral.
* **Transient impact with resilience** (Obizhaeva & Wang 2013, "Optimal trading strategy
  and supply/demand dynamics", J. Financial Markets 16(1), eq. 3). Flow ``x`` arriving
  when the information channel has thinned depth to ``D · s`` moves the price by
  :math:`x / (D s)`; the part beyond its calm impact, :math:`x (1/s - 1)/D`, is
  transient and decays at the resilience rate ``r`` a round as the book refills, while the
  calm part fades only with ρ and ``a``. ``r = 0`` (neutral) keeps thin-market impact for
  ever.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "MarketParams", "LAW_CODES", "impact_fraction", "pressure_for_impact", "price_from_pressure", "execution_price",
    "mean_revert", "bounded_discount", "discount_for_price", "impact_for_price",
]

LAW_CODES = {"linear": 0, "exponential": 1, "sqrt": 2, "multiplicative": 3}


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
    clearing: Literal["same_round", "next_round"] = Field(
        "same_round", description="When orders execute: 'same_round', at the close of the round that places them; "
        "'next_round', as the next round opens, before its shocks, as in the Bank of England / INET model, whose "
        "market clears at each step the orders of the step before. Nothing happens between a round's close and the "
        "next one's opening, so the arithmetic is the same and a round's records show its orders executed; the "
        "difference is that the orders of the last round are left unexecuted: max_rounds counts evaluations.",
    )
    proceeds: Literal["repay", "hold"] = Field(
        "repay", description="What a solvent seller does with sale proceeds: 'repay', repay debt at once; 'hold', "
        "keep them as cash until the next round, where institutions with repay_with_cash repay debt with cash "
        "before selling more (the Bank of England / INET model: banks raise liquidity one step and repay the "
        "next). Funding calls are met from proceeds either way.",
    )
    settlement: Literal["round", "final"] = Field(
        "round", description="When sales settle: 'round', at the round's execution price; 'final', at the price in "
        "force when the cascade ends (sellers carry the moves of what they sold until then; their debt takes them), "
        "as in Breuer-Summer-Urosevic's equilibrium, where every trade clears at the equilibrium price.",
    )
    intermediation: bool = Field(
        True, description="Dealers absorb client flow, lay it off to each other and lean against the wind "
        "(step 4 of the round, docs/model.md); off: every sale goes straight to outside buyers.",
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
    outside_demand: bool = Field(
        False, description="Outside buyers with slow-moving capital: every asset's price stays above "
        "fundamental x (1 - max_discount) and its pressure is absorbed at capital_arrival a round; assets that set "
        "neither take their class's calibrated defaults. Off (neutral): only the values assets set themselves.",
    )
    resilience: float = Field(
        0.0, ge=0.0, le=1.0, allow_inf_nan=False,
        description="r: share of the transient impact (what flow added beyond its calm-depth impact because the "
        "information channel had thinned depth) that fades each round as the book refills (Obizhaeva & Wang "
        "2013). 0 (neutral): thin-market impact stays until mean reversion removes it.",
        json_schema_extra={"unit": "fraction/round"},
    )
    balance_sheet_cost: float = Field(
        0.0, ge=0.0, allow_inf_nan=False,
        description="κ: dealers' shadow cost of balance sheet per unit of squared utilisation c = u^2 (u: the "
        "tighter of SLR trigger / SLR and VaR / limit). A dealer offers 1 / (1 + κ c) "
        "of its room for new absorption and takes inventory at a concession that rises from absorption_impact towards "
        "the full outside impact, absorption_impact + (1 - absorption_impact) κc / (1 + κc): liquidity tracks "
        "volatility until utilisation is high, then deteriorates far more (Duffie, Fleming, Keane, Nelson, "
        "Shachar & Van Tassel 2023, NY Fed SR 1070). 0 (neutral): absorb up to the room, at one concession.",
        json_schema_extra={"unit": "-"},
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
    """Price impact Ψ(Q) as a fraction of the t0 price (of the fundamental, for the
    multiplicative law).

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
    multiplicative = law == LAW_CODES["multiplicative"]
    if not multiplicative.any():
        return sign * psi
    # signed, not mirrored: e^{-Q/D} with Q < 0 is the exact inverse of the same sale
    relative = np.where(finite, -np.expm1(-pressure / safe_depth), 0.0)
    return np.where(multiplicative, relative, sign * psi)


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
    with np.errstate(divide="ignore"):
        multiplicative = np.where(psi < 1.0, -safe_depth * np.log1p(-np.minimum(psi, 1.0)), np.inf)
    q = np.where(law == LAW_CODES["linear"], linear, np.where(law == LAW_CODES["exponential"], exponential, square_root))
    q = np.where(law == LAW_CODES["multiplicative"], multiplicative, q)
    return np.where(finite | (law == LAW_CODES["sqrt"]), q, np.inf)


def bounded_discount(discount: np.ndarray, max_discount: np.ndarray) -> np.ndarray:
    """Outside demand's saturation :math:`d (1 - e^{-δ/d})` of a fire-sale discount δ ≥ 0
    (a fraction of the fundamental); δ itself where ``d`` is ``inf`` or δ < 0 (purchases).

    Examples
    --------
    >>> import numpy as np
    >>> bounded_discount(np.array([0.01, 0.1, 10.0, -0.02]), np.array([0.1, 0.1, 0.1, 0.1])).round(5).tolist()
    [0.00952, 0.06321, 0.1, -0.02]
    """
    finite = np.isfinite(max_discount)
    safe = np.where(finite, max_discount, 1.0)
    saturated = -safe * np.expm1(-np.maximum(discount, 0.0) / safe)
    return np.where(finite & (discount > 0), saturated, discount)


def discount_for_price(bounded: np.ndarray, max_discount: np.ndarray) -> np.ndarray:
    """Inverse of :func:`bounded_discount` for bounded discounts ≥ 0: ``inf`` at or beyond
    the largest discount (no pressure can push the price there)."""
    bounded = np.maximum(bounded, 0.0)
    finite = np.isfinite(max_discount)
    safe = np.where(finite, max_discount, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.where(bounded < safe, -safe * np.log1p(-bounded / safe), np.inf)
    return np.where(finite, raw, bounded)


def impact_for_price(fundamental: np.ndarray, p0: np.ndarray, price: np.ndarray,
                     max_discount: np.ndarray, relative: np.ndarray | None = None) -> np.ndarray:
    """Inverse of :func:`price_from_pressure`: the impact Ψ (units of p0, or of the
    fundamental where ``relative``) that puts the price at ``price``, ``inf`` where outside
    demand's bound keeps it above that.

    Examples
    --------
    >>> import numpy as np
    >>> f, p0 = np.array([[1.0, 1.0]]), np.ones(2)
    >>> psi = impact_for_price(f, p0, np.array([[0.95, 0.95]]), np.array([np.inf, 0.1]))
    >>> price_from_pressure(f, p0, psi, np.array([np.inf, 0.1])).round(12).tolist()
    [[0.95, 0.95]]
    """
    linear = (fundamental - price) / p0
    scale = fundamental / p0
    if relative is not None and relative.any():
        linear = np.where(relative, np.divide(fundamental - price, fundamental, out=np.zeros_like(linear),
                                              where=fundamental > 0), linear)
        scale = np.where(relative, 1.0, scale)
    if not np.isfinite(max_discount).any():
        return linear
    discount = np.divide(fundamental - price, fundamental, out=np.zeros_like(linear), where=fundamental > 0)
    return np.where(np.isfinite(max_discount), discount_for_price(discount, max_discount) * scale, linear)


def price_from_pressure(fundamental: np.ndarray, p0: np.ndarray, psi: np.ndarray,
                        max_discount: np.ndarray | None = None, relative: np.ndarray | None = None) -> np.ndarray:
    """Market price, shape (S, K): :math:`\\max(f - p_0 Ψ, 0)`, or with outside demand
    (``max_discount`` d, (S, K) or (K,), finite) :math:`f (1 - d (1 - e^{-p_0 Ψ / (f d)}))`.
    Where ``relative`` (K,) is set (the multiplicative law) Ψ is a fraction of the
    fundamental: :math:`f (1 - Ψ)`, and the discount outside demand bounds is Ψ itself.

    Examples
    --------
    >>> import numpy as np
    >>> f, p0 = np.array([[1.0, 1.0]]), np.ones(2)
    >>> price_from_pressure(f, p0, np.array([[0.5, 0.5]]), np.array([np.inf, 0.1])).round(4).tolist()
    [[0.5, 0.9007]]

    The Bank of England / INET rule: after a 20% shock, 5% of the market sold at
    β = −ln(0.95)/0.05 takes another 5% off the shocked price:

    >>> beta = -np.log(0.95) / 0.05
    >>> psi = impact_fraction(np.array([[5.0]]), np.array([3]), np.array([100 / beta]), np.zeros(1),
    ...                       np.ones(1), np.ones(1), np.ones(1))
    >>> round(float(price_from_pressure(np.array([[0.8]]), np.ones(1), psi, relative=np.array([True]))[0, 0]), 12)
    0.76
    """
    relative = relative if relative is not None and relative.any() else None
    linear = np.maximum(fundamental - p0 * psi, 0.0)
    if relative is not None:
        linear = np.where(relative, np.maximum(fundamental * (1.0 - psi), 0.0), linear)
    if max_discount is None or not np.isfinite(max_discount).any():
        return linear
    discount = np.divide(p0 * psi, fundamental, out=np.zeros_like(linear), where=fundamental > 0)
    if relative is not None:
        discount = np.where(relative, psi, discount)
    bounded = np.maximum(fundamental * (1.0 - bounded_discount(discount, max_discount)), 0.0)
    return np.where(np.isfinite(max_discount), bounded, linear)


def execution_price(pre: np.ndarray, post: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Execution price :math:`p^{pre} + α (p^{post} - p^{pre})`; ``alpha`` shape (S, 1)."""
    return pre + alpha * (post - pre)


def mean_revert(pressure: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """Fade accumulated pressure: :math:`Q \\leftarrow (1 - ρ) Q`; ``rate`` shape (S, 1) or (S, K)."""
    return (1.0 - rate) * pressure
