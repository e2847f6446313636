"""Volatility update (step 5 of the round, docs/model.md): an EWMA of daily log returns anchored to a
fundamental volatility path.

.. math::

    σ_t^2 = (1 - γ) \\bigl[λ σ_{t-1}^2 + (1 - λ) r_t^2\\bigr] + γ\\, σ_{f,t}^2,
    \\qquad σ_t \\leftarrow \\min(σ_t,\\; c\\, σ_{f,t}), \\qquad r_t = \\ln(p_t / p_{t-1})

* ``λ`` (``ewma_lambda``): RiskMetrics decay, 0.94 (J.P. Morgan/Reuters, RiskMetrics
  Technical Document, 1996, §5.2).
* ``σ_f`` the *fundamental* volatility: ``sigma0`` at t0, moved only by volatility shocks
  (an exogenous path, e.g. the MOVE index tripling on 9 March 2020).
* ``γ`` (``anchor``): the share of the gap to the fundamental variance closed each round.
  This is GARCH(1,1) (Bollerslev 1986, J. Econometrics 31, eq. 2) with
  :math:`ω = γ σ_f^2`, :math:`α = (1 - γ)(1 - λ)`, :math:`β = (1 - γ) λ`: persistence
  :math:`α + β = 1 - γ < 1` and long-run variance :math:`σ_f^2`, so volatility the fire
  sale created decays back to the fundamental level, not towards 0 as a plain EWMA does
  in calm rounds. Neutral value 0: the plain EWMA.
* ``c`` (``cap``): the endogenous part is bounded, volatility at most ``c`` times the
  fundamental. Neutral value ``inf``.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["VolatilityParams", "ewma_volatility", "anchored_volatility"]

_TINY = 1e-300


class VolatilityParams(BaseModel):
    """Parameters of the volatility estimate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ewma_lambda: float = Field(
        0.94, ge=0.0, lt=1.0, description="EWMA decay λ of squared daily returns (RiskMetrics 0.94).",
        json_schema_extra={"unit": "-"},
    )
    anchor: float = Field(
        0.0, ge=0.0, le=1.0, allow_inf_nan=False,
        description="γ: share of the gap between the variance and the fundamental variance (sigma0, moved by "
        "volatility shocks) closed each round: GARCH(1,1) with long-run level sigma_f and persistence 1 - γ "
        "(Bollerslev 1986). 0 (neutral): plain EWMA, which decays towards 0 in calm rounds. Daily GARCH "
        "persistence of bond and equity returns is about 0.95-0.99, i.e. γ of 0.01-0.05.",
        json_schema_extra={"unit": "fraction/round"},
    )
    cap: float = Field(
        float("inf"), gt=1.0,
        description="Volatility is at most this multiple of its fundamental level: bounds the part the fire sale "
        "itself creates. inf (neutral): unbounded.", json_schema_extra={"unit": "x fundamental"},
    )


def ewma_volatility(sigma: np.ndarray, previous: np.ndarray, current: np.ndarray, decay: np.ndarray) -> np.ndarray:
    """EWMA update :math:`\\sqrt{λ σ^2 + (1 - λ) r^2}`, shape (S, K).

    Parameters
    ----------
    sigma : ndarray, shape (S, K)
        Volatility before the update.
    previous, current : ndarray, shape (S, K)
        Prices at the end of the previous and of this round.
    decay : ndarray, shape (S, 1)
        λ per scenario.

    Examples
    --------
    σ = 1%, a 5% log fall: σ² = 0.94·0.0001 + 0.06·0.0025 = 0.000244 → σ = 1.562%.

    >>> import numpy as np
    >>> round(float(ewma_volatility(np.array([[0.01]]), np.array([[1.0]]), np.array([[np.exp(-0.05)]]),
    ...                             np.array([[0.94]]))[0, 0]), 6)
    0.01562
    """
    log_return = np.log(np.maximum(current, _TINY) / np.maximum(previous, _TINY))
    return np.sqrt(decay * sigma**2 + (1.0 - decay) * log_return**2)


def anchored_volatility(
    sigma: np.ndarray, fundamental: np.ndarray, previous: np.ndarray, current: np.ndarray, decay: np.ndarray,
    anchor: np.ndarray, cap: np.ndarray,
) -> np.ndarray:
    """Updated volatility (module equation), shape (S, K).

    Parameters
    ----------
    sigma, fundamental : ndarray, shape (S, K)
        Volatility before the update and the fundamental volatility σ_f.
    previous, current : ndarray, shape (S, K)
        Prices at the end of the previous and of this round.
    decay, anchor, cap : ndarray, shape (S, 1)
        λ, γ and c per scenario.

    Examples
    --------
    In a calm round (no return) a plain EWMA decays towards 0; anchored with γ = 0.1 it
    returns towards σ_f = 1%:

    >>> import numpy as np
    >>> one = np.ones((1, 1))
    >>> args = (np.array([[0.03]]), np.array([[0.01]]), one, one, 0.94 * one)
    >>> round(float(anchored_volatility(*args, 0 * one, np.inf * one)[0, 0]), 5)
    0.02909
    >>> round(float(anchored_volatility(*args, 0.1 * one, np.inf * one)[0, 0]), 5)
    0.02777
    >>> round(float(anchored_volatility(*args, 0.1 * one, 2 * one)[0, 0]), 5)
    0.02
    """
    log_return = np.log(np.maximum(current, _TINY) / np.maximum(previous, _TINY))
    variance = decay * sigma**2 + (1.0 - decay) * log_return**2
    if anchor.any():  # (γ = 0 everywhere: the EWMA's own bits)
        variance = (1.0 - anchor) * variance + anchor * fundamental**2
    out = np.sqrt(variance)
    return np.minimum(out, cap * fundamental) if np.isfinite(cap).any() else out
