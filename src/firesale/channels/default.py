"""Default (step 3 of the round, docs/model.md): an institution whose equity is gone, or whose capital ratio
fell below a minimum the preset sets, fails and liquidates every tradable position.

Its creditors take whatever the liquidation and its cash do not repay; the unpaid debt
stays on its books so that the balance-sheet identity holds (equity is negative).
"""

from __future__ import annotations

import numpy as np

__all__ = ["in_default"]


def in_default(
    equity: np.ndarray,
    slr: np.ndarray,
    leverage: np.ndarray,
    slr_minimum: np.ndarray,
    leverage_minimum: np.ndarray,
    already: np.ndarray,
) -> np.ndarray:
    """Which institutions are in default after marking.

    Parameters
    ----------
    equity : ndarray, shape (S, N)
    slr, leverage : ndarray, shape (S, N)
        Current SLR and equity/assets.
    slr_minimum, leverage_minimum : ndarray, shape (N,)
        Default thresholds; NaN where the preset sets none.
    already : ndarray of bool, shape (S, N)
        Defaulted in an earlier round or by a default shock; default is absorbing.

    Returns
    -------
    ndarray of bool, shape (S, N)

    Examples
    --------
    >>> import numpy as np
    >>> in_default(np.array([[1.0, -0.5, 2.0]]), np.array([[0.1, 0.1, 0.02]]), np.array([[0.1] * 3]),
    ...            np.array([np.nan, np.nan, 0.03]), np.full(3, np.nan), np.zeros((1, 3), bool)).tolist()
    [[False, True, True]]
    """
    return already | (equity <= 0) | (slr < slr_minimum) | (leverage < leverage_minimum)
