"""Balance-sheet constraints: SLR, VaR and leverage targeting (step 3 of the round, docs/model.md).

Each function maps the marked balance sheet to what the constraint asks for, without
touching its inputs. The engine allocates the values to assets
(:mod:`firesale.channels.liquidation`) and takes the elementwise maximum over channels.

References
----------
.. [1] Adrian, T. and Shin, H. S. (2010), "Liquidity and leverage", J. Financial
   Intermediation 19(3): leverage targeting, procyclical balance sheets.
.. [2] Greenwood, R., Landier, A. and Thesmar, D. (2015), "Vulnerable banks", J. Financial
   Economics 115(3): deleveraging to a constant leverage.
.. [3] Cont, R. and Schaanning, E. (2017), "Fire sales, indirect contagion and systemic
   stress testing", Norges Bank WP 2/2017: leverage bound λ_max, target 0.95·λ_max.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.special import ndtri

__all__ = [
    "BalanceSheetSwitches",
    "ratio",
    "slr_exposure",
    "slr_shrink",
    "value_at_risk",
    "var_sale_fraction",
    "leverage_trade",
]


class BalanceSheetSwitches(BaseModel):
    """Which balance-sheet channels act in a scenario (each can be switched off)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slr: bool = Field(True, description="Supplementary leverage ratio: shrink to the SLR target.")
    var: bool = Field(True, description="Value-at-Risk limit: scale the trading book down.")
    leverage: bool = Field(True, description="Leverage targeting: sell (or buy) to the target equity/assets.")
    default: bool = Field(True, description="Default: an insolvent institution liquidates everything.")


def ratio(equity: np.ndarray, measure: np.ndarray) -> np.ndarray:
    """Equity over a size measure, ``inf`` where the measure is zero. Shapes (S, N)."""
    return np.divide(equity, measure, out=np.full_like(equity, np.inf), where=measure > 0)


def slr_exposure(q: np.ndarray, mark: np.ndarray, cash: np.ndarray, pattern, exemption: np.ndarray,
                 position_sums=None) -> np.ndarray:
    """SLR exposure measure :math:`X = \\sum_k q_k m_k + c - \\text{exempt}`.

    Parameters
    ----------
    q : ndarray, shape (S, E)
        Quantities held, one column per position of the holdings pattern.
    mark : ndarray, shape (S, K)
        Prices at which books are valued.
    cash : ndarray, shape (S, N)
        Cash and reserves (currency); reserves are exempt under the exemption.
    pattern : firesale.engine.state.Inputs
        The holdings pattern (``entry_asset``, ``slr_exempt``, ``per_institution``).
    exemption : ndarray of bool, shape (S,)
        Whether the 2020 exemption of Treasuries and reserves applies in the scenario.
    position_sums : callable, optional
        ``position_sums(values (S, E), per_asset (S, K)) -> (S, N)``, the sum over each
        institution's positions of values times the asset's column (the engine's kernels,
        :mod:`firesale.engine.kernels`); default ``pattern.per_institution`` of the product.

    Returns
    -------
    ndarray, shape (S, N)
    """
    counted = np.where(pattern.slr_exempt[None, :] & exemption[:, None], 0.0, mark)
    if position_sums is None:
        held = pattern.per_institution(q * np.take(counted, pattern.entry_asset, axis=1))
    else:
        held = position_sums(q, counted)
    return held + np.where(exemption[:, None], 0.0, cash)


def slr_shrink(equity: np.ndarray, exposure: np.ndarray, trigger: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Exposure to shed: where :math:`E/X <` trigger, :math:`X - X^*` with :math:`X^* = E / \\text{target}`.

    Sales repay liabilities, so the exposure falls by what is sold while Tier 1 (equity)
    stays. Institutions without an SLR (NaN trigger) and insolvent ones shed nothing here.

    Parameters
    ----------
    equity, exposure : ndarray, shape (S, N)
    trigger, target : ndarray, shape (N,)
        Fractions; NaN where the constraint does not bind.

    Examples
    --------
    Dealer Prime after a 4% fall in corporates: Tier 1 19, exposure 494, SLR 5% → shed 114.

    >>> import numpy as np
    >>> float(slr_shrink(np.array([[19.0]]), np.array([[494.0]]), np.array([0.05]), np.array([0.05]))[0, 0])
    114.0
    """
    binds = (equity > 0) & (ratio(equity, exposure) < trigger)
    wanted = exposure - np.divide(equity, target, out=np.zeros_like(equity), where=binds)
    return np.where(binds, np.maximum(wanted, 0.0), 0.0)


def value_at_risk(
    trading_book: np.ndarray, sigma: np.ndarray, correlation: np.ndarray, confidence: np.ndarray
) -> np.ndarray:
    """One-day parametric VaR :math:`z_{c} \\sqrt{w' \\Sigma w}`, :math:`\\Sigma = \\mathrm{diag}(σ) C \\mathrm{diag}(σ)`.

    Positions may be given over all K assets or, as the engine does, over each desk's own
    L positions with the matching block of the correlation matrix (the same number, at a
    fraction of the cost when desks hold few of the assets).

    Parameters
    ----------
    trading_book : ndarray, shape (S, N, L)
        Trading-book positions at marks, w (currency).
    sigma : ndarray, shape (S, N, L)
        Daily volatility of each position's asset (EWMA, see :mod:`firesale.channels.volatility`).
    correlation : ndarray, shape (N, L, L) or (L, L)
        Correlation between the positions' assets (zero rows for padding).
    confidence : ndarray, shape (N,)
        VaR confidence level c; :math:`z_c = Φ^{-1}(c)`.

    Returns
    -------
    ndarray, shape (S, N)

    Examples
    --------
    The VaR desk: 100 of corporates with σ = 4.29858325% at 99%: VaR 10; volatility doubles: VaR 20.

    >>> import numpy as np
    >>> book, c = np.array([[[100.0]]]), np.eye(1)
    >>> [round(float(value_at_risk(book, np.array([[[s]]]), c, np.array([0.99]))[0, 0]), 3)
    ...  for s in (0.0429858325, 2 * 0.0429858325)]
    [10.0, 20.0]
    """
    scaled = trading_book * sigma
    # einsum's own sum-of-products loops (no BLAS: optimize is off), whose summation order
    # depends on L only, so that every bit of the result is the same whatever the batch size
    subscripts = "lm,snm->snl" if correlation.ndim == 2 else "nlm,snm->snl"
    weighted = np.einsum(subscripts, correlation, scaled, optimize=False)
    variance = (weighted * scaled).sum(axis=-1)
    return ndtri(confidence) * np.sqrt(np.maximum(variance, 0.0))


def var_sale_fraction(var: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """Share of the trading book to sell: :math:`1 - \\text{limit}/\\text{VaR}` where VaR exceeds the limit.

    VaR is homogeneous of degree one in the book, so scaling every trading position by
    ``limit / VaR`` brings VaR back to the limit (seed: 20 vs 15 → sell 25%).

    Parameters
    ----------
    var : ndarray, shape (S, N)
    limit : ndarray, shape (N,)
        NaN where the institution has no VaR limit.
    """
    over = var > limit
    return np.where(over, 1.0 - np.divide(limit, var, out=np.ones_like(var), where=over), 0.0)


def leverage_trade(
    equity: np.ndarray, assets: np.ndarray, trigger: np.ndarray, target: np.ndarray, two_sided: np.ndarray
) -> np.ndarray:
    """Value to sell (positive) or buy (negative) to restore the target equity/assets.

    Where :math:`E/A <` trigger the institution sells :math:`A - E/\\text{target}` and repays
    debt; a two-sided (Adrian-Shin) targeter with :math:`E/A >` target buys
    :math:`E/\\text{target} - A` with new debt.

    Parameters
    ----------
    equity, assets : ndarray, shape (S, N)
    trigger, target : ndarray, shape (N,)
        Fractions; NaN where the institution does not target leverage.
    two_sided : ndarray of bool, shape (N,)

    Examples
    --------
    Adrian & Shin (2010): assets 100, equity 10, target leverage 10. Prices +1% → buy 9;
    −1% → sell 9.

    >>> import numpy as np
    >>> t = np.array([0.1])
    >>> [round(float(leverage_trade(np.array([[e]]), np.array([[a]]), t, t, np.array([True]))[0, 0]), 9)
    ...  for e, a in ((11.0, 101.0), (9.0, 99.0))]
    [-9.0, 9.0]
    """
    current = ratio(equity, assets)
    solvent = equity > 0
    wanted = assets - np.divide(equity, target, out=np.zeros_like(equity),
                                where=np.isfinite(target) & (target > 0) & solvent)
    sell = solvent & (current < trigger)
    buy = solvent & two_sided & (current > target)
    return np.where(sell, np.maximum(wanted, 0.0), np.where(buy, np.minimum(wanted, 0.0), 0.0))
