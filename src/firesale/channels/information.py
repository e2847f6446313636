"""Information asymmetry (steps 2 and 6 of the round, docs/model.md): spreads, quotes, opaque marks, the freeze.

Per asset ``k`` and scenario, after the round's volatility update:

* **Adverse selection.** The informed share of order flow rises with volatility, in odds
  so that it stays in [0, 1):
  :math:`\\frac{μ_k}{1-μ_k} = \\frac{μ_{0,k}}{1-μ_{0,k}} (σ_k/σ_{0,k})^{η}` (η =
  ``adverse_selection_elasticity``). Informed traders gain more when prices move more,
  so the informed share of flow rises with volatility (Kyle 1985; Collin-Dufresne & Fos 2015).
* **Spread.** Glosten & Milgrom (1985), with the asset worth :math:`p(1 \\pm σ)` with equal
  chance: ask − bid = :math:`μ (V_H - V_L)`, a spread :math:`s^{lit}_k = 2 μ_k σ_k` of the price.
* **Quote withdrawal.** Dealer ``d``'s break-even spread in ``k`` is
  :math:`b_{dk} = s^{lit}_k (1 + c_d)`: the spread that covers its expected loss to informed
  flow, scaled up by the cost of carrying inventory, :math:`c_d` the squared utilisation of
  its tightest constraint (SLR trigger / SLR, VaR / limit; balance-sheet costs rise convexly
  near a constraint, Duffie 2018). Clients accept a streamed spread up to
  ``quote_spread_cap`` × the calm one, so the dealer streams the share
  :math:`\\mathrm{clip}(1 - \\ln(b_{dk}/b^0_{dk}) / \\ln(\\mathrm{cap}), 0, 1)` of its flow
  (:math:`b^0` at t0): all of it in a calm market, none once its break-even spread is
  ``cap`` times the calm one. Quoting falls continuously with the cost: a dealer that
  sells (in breach) still quotes, less; only a dealer in default quotes nothing. The quoting
  share :math:`φ_k` is the market-share-weighted quoting of the dealers.
* **Lit to RFQ.** Flow the streams do not take goes to request-for-quote, at
  ``rfq_spread_multiplier`` × the lit spread with fewer responses: the effective spread is
  :math:`s_k = s^{lit}_k (φ_k + (1-φ_k) m)` and market depth scales by
  :math:`(φ_k + (1-φ_k) δ_{rfq}) (σ_{0,k}/σ_k)^{ζ}` (:math:`D_k ∝ φ_k σ_0/σ`, with an
  RFQ floor ``rfq_depth`` so that a market without streams is thin, not closed, and an
  elasticity ζ ≤ 1 because volume rises with volatility too), bounded below by
  ``depth_floor``; the lit spread is bounded above by ``spread_cap`` × its t0 value. New
  flow moves the price by its impact at that depth; the excess over its calm impact is
  transient (``market.resilience``, :mod:`firesale.channels.impact`).
* **Opaque marks.** Uncertainty :math:`u_k = 1 - φ_k` (the share of the market without a
  firm price); books are marked at :math:`p_k (1 - \\mathrm{opacity}_k u_k)` in the next round.
* **Freeze.** Counterparty fear is the share of dealer balance sheets in breach or in
  default; the inter-dealer layoff share falls with it,
  :math:`ω = ω_0 \\max(1 - \\mathrm{fear}/\\mathrm{fear}_{freeze}, 0)`, and the inter-dealer
  market freezes (ω = 0) once ``fear_freeze`` of dealer balance sheets are in trouble.

Sellers pay half the effective spread on every sale; the effective spread is at most
``MAX_SPREAD`` (100% of the price), so the bid never falls below half the price.

References
----------
.. [1] Glosten, L. and Milgrom, P. (1985), "Bid, ask and transaction prices in a specialist
   market with heterogeneously informed traders", J. Financial Economics 14(1): 71-100.
.. [2] Kyle, A. (1985), "Continuous auctions and insider trading", Econometrica 53(6).
.. [3] Duffie, D. (2018), "Post-crisis bank regulations and financial market liquidity",
   Baffi Lecture, Banca d'Italia.
.. [4] Fleming, M. and Ruela, F. (2020), "Treasury market liquidity during the COVID-19
   crisis", Liberty Street Economics, Federal Reserve Bank of New York, 17 April 2020.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from firesale.channels._sums import last_axis_sum
from firesale.channels.dealers import Positions

__all__ = ["InformationParams", "Information", "adverse_selection", "glosten_milgrom_spread", "dealer_cost",
           "quoting", "information_update", "layoff_share", "marks"]


#: Volatility over its t0 level, as the spread and depth links read it, stays within these.
VOL_RATIO_BOUNDS = (1e-6, 1e6)
#: The widest effective spread, a share of the price: sellers get at least half the price
#: (a spread of 200% would put the bid at zero, and beyond it sellers would pay to sell).
MAX_SPREAD = 1.0


class InformationParams(BaseModel):
    """Parameters of the information channel (each with its source or rationale)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    adverse_selection_elasticity: float = Field(
        0.5, ge=0.0, le=10.0, allow_inf_nan=False,
        description="η: odds of informed flow scale with (sigma/sigma0)^η, so the lit spread grows about as "
        "(sigma/sigma0)^(1+η): with η = 0.5 a doubling of volatility widens it 2.8x, within the 2-5x of "
        "on-the-run Treasury spreads in March 2020 (Fleming & Ruela 2020).", json_schema_extra={"unit": "-"},
    )
    quote_spread_cap: float = Field(
        8.0, gt=1.0, allow_inf_nan=False,
        description="A dealer stops streaming once its break-even spread reaches this multiple of its calm one "
        "(it streams half at the square root of it); clients go to RFQ. Off-the-run Treasury spreads reached "
        "several times the on-the-run 2-5x widening in March 2020 (Fleming & Ruela 2020).",
        json_schema_extra={"unit": "x t0 spread"},
    )
    rfq_spread_multiplier: float = Field(
        2.0, ge=1.0, allow_inf_nan=False,
        description="RFQ effective spread over the lit spread (fewer dealers respond; off-the-run spreads were "
        "about twice on-the-run in March 2020).", json_schema_extra={"unit": "-"},
    )
    rfq_depth: float = Field(
        0.5, gt=0.0, le=1.0, allow_inf_nan=False,
        description="Depth left in a market without streaming quotes, as a share of its depth: RFQ still "
        "trades, thinly (with volatility tripled, impact per unit of flow rises 6x, of the order of the rise "
        "in Treasury price impact in March 2020, Fleming & Ruela 2020).", json_schema_extra={"unit": "fraction"},
    )
    depth_volatility_elasticity: float = Field(
        0.5, ge=0.0, le=1.0, allow_inf_nan=False,
        description="ζ: depth scales with (sigma0/sigma)^ζ. Kyle's depth is noise volume over value volatility; "
        "volume rises with volatility too (Treasury volumes set records in March 2020), so depth falls less than "
        "1/sigma: ζ = 1 is Kyle with volume fixed, 0 leaves depth to the quoting share alone.",
        json_schema_extra={"unit": "-"},
    )
    depth_floor: float = Field(
        0.0, ge=0.0, le=1.0, allow_inf_nan=False,
        description="Least depth the quoting share and volatility can leave, as a share of t0 depth: the link "
        "from volatility to depth is bounded. 0 (neutral): none. Treasury order-book depth at the best quotes "
        "fell to about a tenth of its February level in March 2020 (Fleming & Ruela 2020).",
        json_schema_extra={"unit": "fraction"},
    )
    spread_cap: float = Field(
        float("inf"), gt=1.0,
        description="Largest lit spread as a multiple of its t0 value: the link from volatility to the spread is "
        "bounded. inf (neutral): none. The 30-year's on-the-run spread went from 1/32 to 5/32 in March 2020, "
        "the widest multiple of the on-the-run curve (Fleming & Ruela 2020).",
        json_schema_extra={"unit": "x t0 spread"},
    )
    fear_freeze: float = Field(
        0.5, gt=0.0, le=1.0, allow_inf_nan=False,
        description="Share of dealer balance sheets in breach or default at which the inter-dealer market "
        "freezes (ω = 0); ω falls linearly to it.", json_schema_extra={"unit": "fraction"},
    )


def adverse_selection(mu0: np.ndarray, vol_ratio: np.ndarray, elasticity: np.ndarray) -> np.ndarray:
    """Informed share :math:`μ` with odds :math:`μ_0/(1-μ_0) · (σ/σ_0)^η`, in [0, 1).

    Examples
    --------
    >>> import numpy as np
    >>> float(adverse_selection(np.array(0.2), np.array(2.0), np.array(1.0)))  # odds 0.25 -> 0.5
    0.3333333333333333
    """
    # exp(η log v), not np.power: power takes a sqrt fast path for a broadcast exponent of
    # 0.5 whose last bits depend on the batch shape (a batch must equal its scenarios)
    with np.errstate(divide="ignore"):
        odds = mu0 / (1.0 - mu0) * np.exp(elasticity * np.log(np.maximum(vol_ratio, 0.0)))
    return odds / (1.0 + odds)


def glosten_milgrom_spread(mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Ask − bid as a share of the price, :math:`s = 2 μ σ` (Glosten-Milgrom 1985 with
    values :math:`p(1 \\pm σ)` equally likely).

    Examples
    --------
    The 10-year Treasury at t0: μ0 = 0.02, σ0 = 0.4% → 1.6 bp, about 0.5/32 of par.

    >>> round(float(glosten_milgrom_spread(0.02, 0.004)) * 32 * 100, 3)  # in 32nds of a point
    0.512
    """
    return 2.0 * np.asarray(mu) * np.asarray(sigma)


def dealer_cost(slr: np.ndarray, slr_trigger: np.ndarray, var: np.ndarray, var_limit: np.ndarray,
                out: np.ndarray) -> np.ndarray:
    """Balance-sheet cost :math:`c_d`: squared utilisation of the tighter constraint (SLR
    trigger / SLR, VaR / limit; balance-sheet costs rise convexly near a constraint, Duffie
    2018), ``inf`` for a dealer out of the market (``out``; the engine passes those in
    default). Shapes (S, D)."""
    slr_use = np.where(np.isfinite(slr_trigger) & (slr > 0), slr_trigger / np.where(slr > 0, slr, 1.0), 0.0)
    var_use = np.where(np.isfinite(var_limit) & np.isfinite(var), var / np.where(var_limit > 0, var_limit, 1.0), 0.0)
    cost = np.maximum(slr_use, var_use) ** 2
    return np.where(out, np.inf, cost)


def quoting(spread_ratio: np.ndarray, cap: np.ndarray, cost: np.ndarray, calm_cost: np.ndarray,
            positions: Positions) -> np.ndarray:
    """Quoting share :math:`φ_k = Σ_d m_{dk} \\mathrm{clip}(1 - \\ln(b_{dk}/b^0_{dk})/\\ln \\mathrm{cap}, 0, 1)`,
    :math:`b_{dk}/b^0_{dk} = (s^{lit}_k/s^{lit}_{0,k}) (1 + c_d)/(1 + c^0_d)`.

    Parameters
    ----------
    spread_ratio : (S, K) lit spread over its t0 value (1 where both are 0).
    cap : (S,)
    cost, calm_cost : (S, D) dealers' balance-sheet cost now and at t0 (``inf``: out).
    positions : Positions
        The dealers' positions and market shares (an asset's shares sum to 1 where there are dealers).

    Returns
    -------
    (S, K); 1 where no dealer makes the market (no dealer model to withdraw).

    Examples
    --------
    One dealer, no balance-sheet cost: quotes fully while calm, half at sqrt(cap) × the calm
    spread, none from cap × on.

    >>> import numpy as np
    >>> one = Positions(dealer=np.zeros(4, dtype=int), asset=np.arange(4), share=np.ones(4), n_dealers=1,
    ...                 n_assets=4)
    >>> ratio = np.array([[1.0, 2.0, 4.0, 8.0]])
    >>> quoting(ratio, np.array([4.0]), np.zeros((1, 1)), np.zeros((1, 1)), one).tolist()
    [[1.0, 0.5, 0.0, 0.0]]
    """
    d, k = positions.dealer, positions.asset
    with np.errstate(invalid="ignore"):
        relative = spread_ratio[:, k] * ((1.0 + cost) / (1.0 + calm_cost))[:, d]
    intensity = np.clip(1.0 - np.log(np.maximum(relative, 1e-300)) / np.log(cap)[:, None], 0.0, 1.0)
    intensity = np.where(np.isinf(cost)[:, d], 0.0, np.nan_to_num(intensity, nan=0.0))
    covered = positions.by_asset(np.broadcast_to(positions.share, intensity.shape))
    phi = positions.by_asset(intensity * positions.share)
    return np.where(covered > 0, np.minimum(phi, 1.0), 1.0)


def layoff_share(omega0: np.ndarray, fear: np.ndarray, freeze: np.ndarray) -> np.ndarray:
    """:math:`ω = ω_0 \\max(1 - \\mathrm{fear}/\\mathrm{fear}_{freeze}, 0)`, shape (S,)."""
    return omega0 * np.clip(1.0 - fear / freeze, 0.0, 1.0)


def marks(price: np.ndarray, opacity: np.ndarray, uncertainty: np.ndarray) -> np.ndarray:
    """Marks :math:`p (1 - \\mathrm{opacity} · u)` (step 2 of the round, docs/model.md), shape (S, K)."""
    return price * (1.0 - opacity * uncertainty)


@dataclass(frozen=True)
class Information:
    """The information channel's output for the next round, each (S, K) but ``layoff`` (S,)."""

    spread: np.ndarray  # effective spread sellers pay (fraction of price)
    quoting_share: np.ndarray  # φ
    uncertainty: np.ndarray  # u = 1 - φ
    depth_scale: np.ndarray  # multiplier of market depth
    layoff: np.ndarray  # ω (S,)


def information_update(
    sigma: np.ndarray, sigma0: np.ndarray, mu0: np.ndarray, cost: np.ndarray, calm_cost: np.ndarray,
    positions: Positions, dealer_size: np.ndarray, omega0: np.ndarray, params: dict[str, np.ndarray],
    on: np.ndarray, troubled: np.ndarray | None = None,
) -> Information:
    """Step 6 of a round for every scenario.

    Parameters
    ----------
    sigma : (S, K) volatility after the round.
    sigma0, mu0 : (K,)
    cost, calm_cost : (S, D) dealers' balance-sheet cost (:func:`dealer_cost`) now and at t0.
    positions : Positions, the dealers' positions and market shares.
    dealer_size : (S, D) dealers' balance sheets (weights of counterparty fear).
    omega0 : (S,) layoff share of a calm market.
    params : arrays (S,) ``elasticity``, ``cap``, ``rfq_spread``, ``rfq_depth``, ``depth_elasticity``,
        ``fear_freeze``, ``depth_floor``, ``spread_cap``.
    on : (S,) bool, the channel's switch; off: no spread, full quotes, transparent marks,
        depth unchanged, ω = ω0.
    troubled : (S, D) bool, optional
        Dealers in breach or default, whose balance sheets make counterparty fear (default:
        those out of the market, ``cost = inf``).
    """
    if not on.any():  # the same values as the switch gives below, without the work
        return Information(spread=np.zeros_like(sigma), quoting_share=np.ones_like(sigma),
                           uncertainty=np.zeros_like(sigma), depth_scale=np.ones_like(sigma), layoff=omega0.copy())
    # (bounded away from 0 and infinity: a market whose price did not move under a decay
    # λ = 0 has σ = 0, which would make depth infinite)
    vol_ratio = np.clip(sigma / sigma0, VOL_RATIO_BOUNDS[0], VOL_RATIO_BOUNDS[1])
    mu = adverse_selection(mu0, vol_ratio, params["elasticity"][:, None])
    lit = glosten_milgrom_spread(mu, sigma)
    lit0 = glosten_milgrom_spread(mu0, sigma0)
    spread_cap = params.get("spread_cap")
    if spread_cap is not None and np.isfinite(spread_cap).any():
        lit = np.minimum(lit, spread_cap[:, None] * lit0)
    ratio = np.divide(lit, lit0, out=np.ones_like(lit), where=lit0 > 0)
    phi = quoting(ratio, params["cap"], cost, calm_cost, positions)
    rfq = params["rfq_spread"][:, None]
    spread = np.minimum(lit * (phi + (1.0 - phi) * rfq), MAX_SPREAD)
    depth = (phi + (1.0 - phi) * params["rfq_depth"][:, None]) * np.exp(
        -params["depth_elasticity"][:, None] * np.log(vol_ratio))
    if (depth_floor := params.get("depth_floor")) is not None:
        depth = np.maximum(depth, depth_floor[:, None])
    total = last_axis_sum(dealer_size)
    troubled = last_axis_sum(np.where(np.isinf(cost) if troubled is None else troubled, dealer_size, 0.0))
    fear = np.divide(troubled, total, out=np.zeros_like(total), where=total > 0)
    omega = layoff_share(omega0, fear, params["fear_freeze"])
    col = on[:, None]
    return Information(
        spread=np.where(col, spread, 0.0),
        quoting_share=np.where(col, phi, 1.0),
        uncertainty=np.where(col, 1.0 - phi, 0.0),
        depth_scale=np.where(col, depth, 1.0),
        layoff=np.where(on, omega, omega0),
    )
