"""Greenwood, Landier & Thesmar (2015), "Vulnerable banks", J. Financial Economics 115(3).

N banks, K assets. ``A = diag(a)`` total assets, ``M`` (N×K) portfolio weights (rows sum
to 1), ``B = diag(b)`` leverage as debt/equity, ``L = diag(ℓ)`` price impact per unit of
value sold, ``F`` the asset shock. One round: each bank loses ``a_n m_n'F``, sells
``b_n`` times that pro rata to its weights to return to its leverage, prices move by
``L M'BAMF`` and every bank loses on its holdings:

.. math::

    AV = \\frac{1' A M L M' B A M F}{E}, \\qquad
    S_n = \\frac{1' A M L\\, m_n\\, a_n b_n (m_n' F)}{E}, \\qquad
    IV_n = \\frac{e_n' A M L M' B A M F}{E_n}

(GLT 2015, eqs. for aggregate vulnerability, systemicness and indirect vulnerability;
Σ_n S_n = AV). These are first order: sales pro rata to pre-shock weights and losses on
pre-shock holdings. Here ``F`` is a *fall*: ``F_k = 0.01`` is a 1% price drop, so the
results are shares of equity lost (positive).
"""

from __future__ import annotations

import numpy as np

from firesale.errors import ConfigError, Problem

__all__ = ["aggregate_vulnerability", "systemicness", "indirect_vulnerability", "vulnerability_rounds",
           "cascade_multiplier"]


def _check(assets, weights, leverage, impact, fall):
    a = np.asarray(assets, dtype=float)
    m = np.asarray(weights, dtype=float)
    b = np.asarray(leverage, dtype=float)
    ell = np.asarray(impact, dtype=float)
    f = np.asarray(fall, dtype=float)
    problems = []
    if m.shape != (a.size, ell.size) or b.shape != a.shape or f.shape != ell.shape:
        problems.append(("weights", f"shapes disagree: assets {a.shape}, weights {m.shape}, leverage {b.shape}, "
                         f"impact {ell.shape}, fall {f.shape}; weights must be (N, K): one row per bank"))
    else:
        for name, arr in (("assets", a), ("weights", m), ("leverage", b), ("impact", ell), ("fall", f)):
            if not np.isfinite(arr).all():
                problems.append((name, "must be finite (no NaN or inf)"))
        if (a <= 0).any():
            problems.append(("assets", f"bank(s) {np.flatnonzero(a <= 0).tolist()} have no assets: drop them"))
        if (b < 0).any():
            problems.append(("leverage", f"bank(s) {np.flatnonzero(b < 0).tolist()} have negative debt / equity: "
                             "equity must be above 0 and at most the assets"))
        if (ell < 0).any():
            problems.append(("impact", "price impact per unit sold must be at least 0 (0 for cash)"))
        if (m < 0).any() or not np.allclose(m.sum(axis=1), 1.0, rtol=1e-9, atol=1e-12):
            problems.append(("weights", "each bank's weights must be at least 0 and sum to 1"))
    if problems:
        raise ConfigError([Problem("FS811", f"GLT argument {name}", msg) for name, msg in problems])
    return a, m, b, ell, f


def _fire_sale_returns(a, m, b, ell, f):
    """Price fall per asset, :math:`L M' B A M F`, shape (K,)."""
    sales = m.T @ (b * a * (m @ f))
    return ell * sales


def aggregate_vulnerability(assets, weights, leverage, impact, fall) -> float:
    """AV: system equity lost to fire sales after the shock, as a share of system equity.

    Parameters
    ----------
    assets : array_like, shape (N,)
        Total assets ``a`` (currency).
    weights : array_like, shape (N, K)
        Portfolio weights ``M``, rows sum to 1.
    leverage : array_like, shape (N,)
        Debt / equity ``b``.
    impact : array_like, shape (K,)
        ``ℓ``: price fall per unit of value sold (1/currency).
    fall : array_like, shape (K,)
        ``F``: price fall of each asset (0.01 = 1%).

    Examples
    --------
    One bank, one asset: a = 100, b = 9 (equity 10), ℓ = 0.001, F = 1%:
    sales 9, price fall 0.9%, loss 0.9 = 9% of equity.

    >>> round(aggregate_vulnerability([100.0], [[1.0]], [9.0], [0.001], [0.01]), 12)
    0.09
    """
    a, m, b, ell, f = _check(assets, weights, leverage, impact, fall)
    equity = (a / (1.0 + b)).sum()
    return float(a @ (m @ _fire_sale_returns(a, m, b, ell, f)) / equity)


def systemicness(assets, weights, leverage, impact, fall) -> np.ndarray:
    """S_n: the part of AV caused by bank n's sales, shape (N,); sums to AV."""
    a, m, b, ell, f = _check(assets, weights, leverage, impact, fall)
    equity = (a / (1.0 + b)).sum()
    exposure = a @ m * ell  # 1'AML, shape (K,)
    return (m @ exposure) * a * b * (m @ f) / equity


def indirect_vulnerability(assets, weights, leverage, impact, fall) -> np.ndarray:
    """IV_n: bank n's loss from everyone's fire sales, as a share of its own equity, shape (N,)."""
    a, m, b, ell, f = _check(assets, weights, leverage, impact, fall)
    own_equity = a / (1.0 + b)
    return a * (m @ _fire_sale_returns(a, m, b, ell, f)) / own_equity


def vulnerability_rounds(assets, weights, leverage, impact, fall, rounds: int | None = None) -> np.ndarray:
    """Multi-round extension: AV accumulated over deleveraging rounds, shape (R,).

    Each round's fire-sale losses :math:`y_t` are the next round's losses to delever
    from, to first order (GLT 2015, section 5's iteration; Duarte & Eisenbach 2021):

    .. math::

        x_1 = A M F, \\qquad y_t = A M L M' B\\, x_t = K x_t, \\qquad x_{t+1} = y_t,
        \\qquad AV_R = \\frac{1' \\sum_{t \\le R} y_t}{E}

    so round 1 is :func:`aggregate_vulnerability`. With ``rounds=None`` the series is
    summed to convergence in closed form, :math:`1'(I - K)^{-1} K x_1 / E` (returned as a
    one-element array), which needs the spectral radius of K below 1; otherwise the
    cascade does not converge and a ValueError says so.

    Examples
    --------
    One bank, one asset: K = 100 · 0.001 · 9 = 0.9, x1 = 1, E = 10: rounds add 0.09,
    0.081, ...; the limit is 0.9 / (1 - 0.9) / 10 = 0.9.

    >>> [round(float(v), 6) for v in vulnerability_rounds([100.0], [[1.0]], [9.0], [0.001], [0.01], 3)]
    [0.09, 0.171, 0.2439]
    >>> round(float(vulnerability_rounds([100.0], [[1.0]], [9.0], [0.001], [0.01])[0]), 12)
    0.9
    """
    a, m, b, ell, f = _check(assets, weights, leverage, impact, fall)
    equity = (a / (1.0 + b)).sum()
    kernel = _kernel(a, m, b, ell)
    direct = a * (m @ f)
    if rounds is None:
        radius = _spectral_radius(kernel)
        if radius >= 1.0:
            raise ValueError(f"the fire-sale multiplier has spectral radius {radius:.4g} >= 1: the cascade "
                             "does not converge; give a number of rounds")
        total = np.linalg.solve(np.eye(a.size) - kernel, kernel @ direct)
        return np.array([total.sum() / equity])
    out, x = [], direct
    for _ in range(int(rounds)):
        x = kernel @ x
        out.append(x.sum() / equity)
    return np.cumsum(out)


def _kernel(a: np.ndarray, m: np.ndarray, b: np.ndarray, ell: np.ndarray) -> np.ndarray:
    """The round-to-round map of losses, :math:`K = A M L M' B`, shape (N, N)."""
    return (a[:, None] * m) @ (ell[:, None] * m.T) * b[None, :]


def _spectral_radius(kernel: np.ndarray) -> float:
    return float(np.max(np.abs(np.linalg.eigvals(kernel)), initial=0.0))


def cascade_multiplier(assets, weights, leverage, impact) -> float:
    """Spectral radius of :math:`K = A M L M' B`: how much one round's fire-sale losses grow
    the next's. Below 1 the multi-round extension converges (:func:`vulnerability_rounds`);
    at or above 1 the linear cascade diverges.

    >>> cascade_multiplier([100.0], [[1.0]], [9.0], [0.001])  # 100 x 0.001 x 9
    0.9
    """
    a, m, b, ell, _ = _check(assets, weights, leverage, impact, np.zeros(np.asarray(impact).size))
    return _spectral_radius(_kernel(a, m, b, ell))
