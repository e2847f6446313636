"""Fund redemptions (step 3 of the round, docs/model.md): investors leave after losses, and more so when
leaving first pays.

The cash the redemptions need is met like any funding call (:mod:`firesale.engine.round`):
from the cash buffer first, then by sales. Swing pricing charges the redeemers the fund's
cost of selling for them, so the remaining investors keep their NAV.
"""

from __future__ import annotations

import numpy as np

__all__ = ["redemption_rate"]


def redemption_rate(
    nav_return: np.ndarray, sensitivity: np.ndarray, first_mover: np.ndarray, swing: np.ndarray,
    wave: np.ndarray, gate: np.ndarray, remaining: np.ndarray | float = 1.0,
) -> np.ndarray:
    """Share of a fund's NAV redeemed in the round, shape (S, N).

    .. math:: r = \\min\\bigl(g,\\; b \\max(-R, 0)\\,(1 + m\\,(1 - \\mathbb{1}_{swing}))\\,ρ + w\\bigr),
              \\qquad ρ = \\max(1 - F / c,\\; 0)

    with ``R`` the NAV return of the round, ``b`` the flow-performance sensitivity
    (Chen, Goldstein & Jiang 2010, "Payoff complementarities and financial fragility",
    J. Financial Economics 97(2)), ``m`` the first-mover term — redeemers who leave the
    cost of selling to those who stay redeem more; swing pricing removes the advantage
    (Jin, Kacperczyk, Kahraman & Suntheim 2022, J. Financial Economics 143(1)) — ``w`` a
    redemption wave (shock), ``g`` the gate (1 without one) and ``ρ`` the share of the
    flow-performance cap ``c`` still unused after ``F`` of NAV has left that way (1
    without a cap). With ρ the cumulative flow-performance redemptions of a steady loss
    L follow :math:`F = c\\,(1 - e^{-b'L/c})`: concave in the loss, at most ``c``, the most
    run-prone investors leaving first (corporate-bond funds' outflows are concave in
    poor performance: Goldstein, Jiang & Ng 2017, J. Financial Economics 126(3); in March
    2020 bond-fund outflows came to about 5% of assets and stopped within weeks: Falato,
    Goldstein & Hortaçsu 2021, J. Monetary Economics 123, and ICI).

    Examples
    --------
    NAV −2%, sensitivity 2, first-mover 0.5: 6% redeemed without swing pricing, 4% with.

    >>> import numpy as np
    >>> args = (np.array([[-0.02, -0.02]]), np.array([2.0, 2.0]), np.array([0.5, 0.5]), np.array([False, True]),
    ...         np.zeros((1, 2)), np.ones(2))
    >>> redemption_rate(*args).round(12).tolist()
    [[0.06, 0.04]]
    """
    flow = sensitivity * np.maximum(-nav_return, 0.0) * (1.0 + first_mover * ~swing) * remaining
    return np.minimum(flow + wave, gate)
