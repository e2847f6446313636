"""Funding (steps 3 and 5 of the round, docs/model.md): haircuts, margin calls, repo not rolled, runs.

* Haircuts rise with volatility: :math:`h_k = \\min(\\max(h_{0,k} + β_k(σ_k/σ_{0,k} - 1), h_{0,k}), \\bar h_k)`;
  the Treasury seed is 2% → 5% when volatility doubles (β = 0.03). Under the haircut-floor
  policy haircuts stay at :math:`h_0`.
* A loan :math:`B` against collateral worth :math:`V` may be at most :math:`(1 - h) V`;
  the excess is called: :math:`m = \\max(B - (1 - h) V, 0)` — a 2% → 5% haircut on a book
  financed at the old maximum calls 3% of it.
* Below ``repo_rollover_threshold`` (equity / assets) lenders do not roll a share of the
  repo each round; below ``run_threshold`` short-term creditors withdraw a share of the
  short-term debt.

Calls and withdrawals are paid from cash first, then by selling; a sale of repo-financed
collateral first repays the loan it secured, so it releases only the haircut slice
:math:`(1 - B/V)` of its price (:func:`net_book`).

References
----------
.. [1] Brunnermeier, M. and Pedersen, L. (2009), "Market liquidity and funding
   liquidity", Review of Financial Studies 22(6): margins rising with volatility.
.. [2] Gorton, G. and Metrick, A. (2012), "Securitized banking and the run on repo",
   J. Financial Economics 104(3): haircuts as the run on repo.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FundingSwitches", "haircuts", "margin_calls", "withdrawal_share", "net_book"]


class FundingSwitches(BaseModel):
    """Which funding channels act in a scenario (each can be switched off)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    margin: bool = Field(True, description="Margin calls when haircuts rise or collateral falls.")
    rollover: bool = Field(True, description="Repo lenders stop rolling repo of weak borrowers.")
    unsecured: bool = Field(True, description="Short-term unsecured creditors run on weak borrowers.")
    redemption: bool = Field(True, description="Fund investors redeem after NAV falls (and in redemption waves).")


def haircuts(
    sigma: np.ndarray, sigma0: np.ndarray, base: np.ndarray, beta: np.ndarray, cap: np.ndarray, floor: np.ndarray
) -> np.ndarray:
    """Repo haircut of each asset, shape (S, K).

    Parameters
    ----------
    sigma : ndarray, shape (S, K)
        Current volatility.
    sigma0, base, beta, cap : ndarray, shape (K,)
        t0 volatility, t0 haircut h0, sensitivity β, cap.
    floor : ndarray of bool, shape (S,)
        Haircut-floor policy: haircuts stay at h0.

    Examples
    --------
    Treasury repo: h0 = 2%, β = 0.03; volatility doubles → 5%.

    >>> import numpy as np
    >>> one = np.array([1.0])
    >>> float(haircuts(np.array([[0.02]]), 0.01 * one, 0.02 * one, 0.03 * one, 0.5 * one, np.array([False]))[0, 0])
    0.05
    """
    rising = np.clip(base + beta * (sigma / sigma0 - 1.0), base, cap)
    return np.where(floor[:, None], base, rising)


def margin_calls(repo: np.ndarray, collateral: np.ndarray, haircut: np.ndarray) -> np.ndarray:
    """Loan called back: :math:`\\max(B - (1 - h) V, 0)` per position, shape (S, E).

    Examples
    --------
    A Treasury book of 100 financed with 98 at a 2% haircut; the haircut goes to 5%: 3 called.

    >>> import numpy as np
    >>> round(float(margin_calls(np.array([[98.0]]), np.array([[100.0]]), np.array([[0.05]]))[0, 0]), 12)
    3.0
    """
    return np.maximum(repo - (1.0 - haircut) * collateral, 0.0)


def withdrawal_share(ratio: np.ndarray, threshold: np.ndarray, share: np.ndarray) -> np.ndarray:
    """Share of funding withdrawn this round: ``share`` where equity / assets < threshold, shape (S, N)."""
    return np.where(ratio < threshold, share, 0.0)


def net_book(collateral: np.ndarray, repo: np.ndarray) -> np.ndarray:
    """Cash a position releases if sold whole at its mark: :math:`V - B`, at least 0."""
    return np.maximum(collateral - repo, 0.0)
