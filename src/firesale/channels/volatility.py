"""Volatility update (DESIGN §2 step 5): EWMA of daily log returns.

.. math::

    σ_t^2 = λ σ_{t-1}^2 + (1 - λ) r_t^2, \\qquad r_t = \\ln(p_t / p_{t-1})

with λ = 0.94 (J.P. Morgan/Reuters, RiskMetrics Technical Document, 1996, §5.2).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["VolatilityParams", "ewma_volatility"]

_TINY = 1e-300


class VolatilityParams(BaseModel):
    """Parameters of the volatility estimate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ewma_lambda: float = Field(
        0.94, ge=0.0, lt=1.0, description="EWMA decay λ of squared daily returns (RiskMetrics 0.94).",
        json_schema_extra={"unit": "-"},
    )


def ewma_volatility(sigma: np.ndarray, previous: np.ndarray, current: np.ndarray, decay: np.ndarray) -> np.ndarray:
    """Updated volatility, shape (S, K).

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
