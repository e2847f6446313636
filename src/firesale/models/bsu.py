"""Breuer, Summer & Urosevic, "Systemic loss evaluation", OeNB Working Paper 235: fire-sale
equilibria of banks bound by a leverage limit.

N banks, K marketable security classes. After the stress (the paper's t = 1) bank i has
equity :math:`e_i`, securities :math:`S_{ik}` (market value at t0 prices, price 1) and other
assets (loans) :math:`L_i`. A price fall :math:`Δ_k ∈ [0, 1]` marks the securities to
:math:`S_{ik}(1 - Δ_k)` and equity to :math:`e_i - S_i·Δ`. A bank whose leverage exceeds
the bound :math:`\\bar λ` sells the same fraction :math:`θ_i` of every security class and
repays debt with the proceeds, so that its leverage at prices :math:`1 - Δ` is back at
:math:`\\bar λ`:

.. math::

    \\frac{(1 - θ_i)\\, S_i·(1 - Δ) + L_i}{e_i - S_i·Δ} = \\bar λ
    \\;\\Longrightarrow\\;
    θ_i(Δ) = 1 - \\frac{\\bar λ (e_i - S_i·Δ) - L_i}{S_i·(1 - Δ)} .

With :math:`λ^{min}_i = L_i / (e_i - S_i·Δ)` (leverage after selling every security) and
:math:`λ^{max}_i = (S_i·(1 - Δ) + L_i) / (e_i - S_i·Δ)` (leverage selling nothing) the
paper's Assumption 2 (eq. 6) reads: :math:`θ_i = 0` if :math:`\\bar λ > λ^{max}_i`;
:math:`θ_i = 1` if :math:`\\bar λ < λ^{min}_i` (even selling everything cannot restore
the bound); the formula above in between. Quantities sold are measured at t0 prices,
:math:`Q_k = \\sum_i θ_i S_{ik}` (eq. 12), and move prices by the square-root law

.. math::

    Δ_k = \\min\\left(1,\\; σ_k\\, κ \\sqrt{Q_k / ADV_k}\\right)   \\qquad (\\text{eq. } 9)

(or any increasing impact function). A fire-sale equilibrium is a fixed point
:math:`Δ = Φ(Δ) := \\text{impact}(S' θ(Δ))`. Φ is increasing, so (Theorem 2) iterating
from Δ = 0 climbs to the least equilibrium and iterating from
:math:`\\bar Δ = \\text{impact}(S'1)` (every security sold) falls to the greatest; in
between there may be unstable ones (their Appendix A3 toy has three).

The θ convention is the one of the authors' R package ``syslosseval``
(github.com/Martin-Summer-1090/syslosseval, ``R/bank_behavior_function.R``,
``R/price_impact_function.R``, ``R/fixed_point_computation_function.R``): leverage and θ are
taken at prices :math:`1 - Δ` with equity :math:`e - S·Δ`, sales counted at t0 prices. It
reproduces the toy of ``R/test_example_thomas.R`` (e = [28, 80, 65], S = [145, 435, 300],
L = [1170, 1245, 1190], :math:`\\bar λ` = 44, impact :math:`\\sqrt{0.000022\\, q}`):
fixed points 0.056480, 0.114085 and 0.139140.

Departures from the R code: a bank insolvent at prices 1 − Δ (:math:`e_i - S_i·Δ ≤ 0`)
sells everything (θ = 1; the R code would give θ = 0 there, because both leverage bounds
turn negative), and an impact above 1 is capped at 1 instead of stopping (their
Assumption 3, eq. 8, requires :math:`\\bar Δ < 1`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from firesale.errors import ConfigError, Problem

__all__ = [
    "SquareRootImpact",
    "FireSaleEquilibrium",
    "FireSaleEquilibria",
    "sales_fractions",
    "fire_sale_map",
    "lower_equilibrium",
    "upper_equilibrium",
    "equilibria",
    "equilibrium_stability",
    "STRESS_STATES",
    "BsuStressTest",
    "stress_test",
]

_CODE = "FS802"

Impact = Callable[[np.ndarray], np.ndarray]


def _problem(where: str, message: str) -> Problem:
    return Problem(_CODE, f"bsu argument {where}", message)


@dataclass(frozen=True)
class SquareRootImpact:
    """The square-root price impact of BSU eq. (9): :math:`Δ_k = \\min(1, σ_k κ \\sqrt{Q_k/ADV_k})`.

    Parameters
    ----------
    volatility : array_like, shape (K,)
        σ_k, daily price volatility of security class k (fraction, > 0).
    adv : array_like, shape (K,)
        ADV_k, average daily volume, in the currency unit of the holdings (> 0).
    kappa : float
        κ, the constant of the square-root law (> 0); the paper uses 1.5.

    Examples
    --------
    The Appendix A3 toy: σκ = 1 and ADV = 1/0.000022, i.e. :math:`Δ = \\sqrt{0.000022\\, q}`.

    >>> impact = SquareRootImpact(volatility=[1.0], adv=[1 / 0.000022], kappa=1.0)
    >>> round(float(impact([880.0])[0]), 6)  # every bond sold
    0.13914
    """

    volatility: np.ndarray
    adv: np.ndarray
    kappa: float = 1.5

    def __post_init__(self):
        sigma = np.atleast_1d(np.asarray(self.volatility, dtype=float))
        adv = np.atleast_1d(np.asarray(self.adv, dtype=float))
        problems = []
        if sigma.ndim != 1 or adv.shape != sigma.shape:
            problems.append(("volatility/adv", f"shapes disagree: volatility {sigma.shape}, adv {adv.shape}; give one "
                             "value per security class"))
        if not (np.isfinite(sigma).all() and (sigma > 0).all()):
            problems.append(("volatility", f"got {sigma.tolist()}: volatilities must be finite and above 0 (0.01 = 1% "
                             "a day)"))
        if not (np.isfinite(adv).all() and (adv > 0).all()):
            problems.append(("adv", f"got {adv.tolist()}: average daily volumes must be finite and above 0, in the "
                             "currency unit of the holdings"))
        if not (np.isfinite(self.kappa) and self.kappa > 0):
            problems.append(("kappa", f"got {self.kappa!r}: the square-root constant must be above 0 (the paper uses "
                             "1.5)"))
        if problems:
            raise ConfigError([_problem(name, msg) for name, msg in problems])
        object.__setattr__(self, "volatility", sigma)
        object.__setattr__(self, "adv", adv)

    def __call__(self, quantity) -> np.ndarray:
        q = np.maximum(np.asarray(quantity, dtype=float), 0.0)
        return np.minimum(1.0, self.volatility * self.kappa * np.sqrt(q / self.adv))


@dataclass(frozen=True)
class FireSaleEquilibrium:
    """One fire-sale equilibrium Δ = Φ(Δ).

    Attributes
    ----------
    price_fall : ndarray, shape (K,)
        Δ, the fall of each security class's price (fraction of the t0 price).
    sales_fraction : ndarray, shape (N,)
        θ(Δ), the share of its securities each bank sells.
    quantity_sold : ndarray, shape (K,)
        Q = S'θ, value sold at t0 prices.
    iterations : int
        Fixed-point iterations used (0 for a root found by bracketing).
    residual : float
        :math:`\\|Φ(Δ) - Δ\\|_2` at the returned Δ.
    """

    price_fall: np.ndarray
    sales_fraction: np.ndarray
    quantity_sold: np.ndarray
    iterations: int
    residual: float


@dataclass(frozen=True)
class FireSaleEquilibria:
    """The least and greatest equilibria and the unstable ones found between them.

    Attributes
    ----------
    lower, upper : FireSaleEquilibrium
        Iterated from Δ = 0 and from Δ = impact(every security sold).
    multiple : bool
        Whether lower and upper differ (by more than ``1e3 · tol``).
    unstable : list of FireSaleEquilibrium
        Fixed points strictly between lower and upper, in increasing order (found exactly
        in one dimension; along the segment from lower to upper, then polished, for K > 1).
    """

    lower: FireSaleEquilibrium
    upper: FireSaleEquilibrium
    multiple: bool
    unstable: list = field(default_factory=list)


def _check(equity, securities, other_assets, leverage_bound, impact=None, *, needs_impact=True,
           failed_allowed=False):
    e = np.asarray(equity, dtype=float)
    s = np.asarray(securities, dtype=float)
    if s.ndim == 1:
        s = s[:, None]
    loans = np.asarray(other_assets, dtype=float)
    problems = []
    if e.ndim != 1 or s.ndim != 2 or s.shape[0] != e.size or loans.shape != e.shape:
        problems.append(("equity/securities/other_assets", f"shapes disagree: equity {e.shape}, securities "
                         f"{np.shape(securities)}, other_assets {loans.shape}; give equity and other_assets one "
                         "entry per bank (N,) and securities one row per bank (N, K)"))
    if not (np.isfinite(e).all() and (failed_allowed or (e > 0).all())):
        bad = np.flatnonzero(~np.isfinite(e) | (e <= 0)).tolist()
        problems.append(("equity", f"bank(s) {bad} have equity ≤ 0 (or not finite): leverage is undefined; drop "
                         "them (they have failed) or fix their equity"))
    if not (np.isfinite(s).all() and (s >= 0).all()):
        problems.append(("securities", "holdings must be finite and at least 0 (market values at t0 prices)"))
    if s.size and s.shape[1] == 0:
        problems.append(("securities", "no security class: give at least one column"))
    if not (np.isfinite(loans).all() and (loans >= 0).all()):
        problems.append(("other_assets", "other assets (loans) must be finite and at least 0"))
    if not (np.isscalar(leverage_bound) and np.isfinite(leverage_bound) and leverage_bound > 0):
        problems.append(("leverage_bound", f"got {leverage_bound!r}: the leverage bound λ̄ (assets / equity) must be "
                         "a number above 0, e.g. 33"))
    if needs_impact and not callable(impact):
        problems.append(("impact", f"got {impact!r}: give SquareRootImpact(volatility, adv, kappa) or a function "
                         "mapping quantities sold (K,) to price falls (K,)"))
    if problems:
        raise ConfigError([_problem(name, msg) for name, msg in problems])
    return e, s, loans, float(leverage_bound)


def _theta(delta, e, s, loans, lb):
    """θ(Δ) of Assumption 2 (eq. 6), shape (N,); private kernel on checked arrays."""
    equity_now = e - s @ delta
    securities_now = s @ (1.0 - delta)
    with np.errstate(divide="ignore", invalid="ignore"):
        lam_min = loans / equity_now
        lam_max = (securities_now + loans) / equity_now
        partial = 1.0 - (lb * equity_now - loans) / securities_now
    theta = np.where(lb > lam_max, 0.0, np.where(lb < lam_min, 1.0, partial))
    theta = np.where(equity_now <= 0, 1.0, theta)  # insolvent at these prices: sell everything
    theta = np.where(securities_now <= 0, 0.0, theta)  # nothing left to sell
    return np.clip(theta, 0.0, 1.0)


def _impact(impact, quantity):
    out = np.asarray(impact(quantity), dtype=float)
    if out.shape != quantity.shape or not np.isfinite(out).all() or (out < 0).any():
        raise ConfigError(_problem("impact", f"returned {out!r} for quantities {quantity!r}: an impact function must "
                                   f"return {quantity.size} finite price falls ≥ 0, one per security class"))
    return np.minimum(out, 1.0)


def _phi(delta, e, s, loans, lb, impact):
    return _impact(impact, s.T @ _theta(delta, e, s, loans, lb))


def _equilibrium(delta, e, s, loans, lb, impact, iterations):
    theta = _theta(delta, e, s, loans, lb)
    residual = float(np.linalg.norm(_phi(delta, e, s, loans, lb, impact) - delta))
    return FireSaleEquilibrium(delta, theta, s.T @ theta, iterations, residual)


def _iterate(start, e, s, loans, lb, impact, tol, max_iter):
    delta = start
    for n in range(max_iter + 1):
        new = _phi(delta, e, s, loans, lb, impact)
        if np.linalg.norm(new - delta) < tol:
            return _equilibrium(new, e, s, loans, lb, impact, n + 1)
        delta = new
    raise ConfigError(_problem("max_iter", f"the fixed-point iteration did not reach tol = {tol:g} in {max_iter} "
                               "iterations; raise max_iter or loosen tol"))


def sales_fractions(price_fall, equity, securities, other_assets, leverage_bound: float) -> np.ndarray:
    """θ(Δ): the share of its securities each bank sells at price falls Δ (BSU Assumption 2, eq. 6).

    .. math::

        θ_i(Δ) = \\begin{cases} 0 & \\bar λ > λ^{max}_i(Δ) \\\\
        1 - \\dfrac{\\bar λ (e_i - S_i·Δ) - L_i}{S_i·(1 - Δ)} & λ^{min}_i(Δ) ≤ \\bar λ ≤ λ^{max}_i(Δ) \\\\
        1 & \\bar λ < λ^{min}_i(Δ) \\text{ or } e_i - S_i·Δ ≤ 0 \\end{cases}

    Parameters
    ----------
    price_fall : array_like, shape (K,)
        Δ, price falls in [0, 1].
    equity : array_like, shape (N,)
        e, equity after the stress (> 0).
    securities : array_like, shape (N, K) or (N,)
        S, securities at t0 prices; a vector means one security class.
    other_assets : array_like, shape (N,)
        L, other (non-marketable) assets.
    leverage_bound : float
        λ̄, the bound on assets / equity.

    Returns
    -------
    ndarray, shape (N,)

    Examples
    --------
    The toy of Appendix A3 at its lower equilibrium: only bank 1 sells.

    >>> theta = sales_fractions([0.0564801], [28, 80, 65], [145, 435, 300], [1170, 1245, 1190], 44)
    >>> [round(float(t), 4) for t in theta]
    [1.0, 0.0, 0.0]
    """
    e, s, loans, lb = _check(equity, securities, other_assets, leverage_bound, needs_impact=False)
    return _theta(_check_delta(price_fall, s.shape[1]), e, s, loans, lb)


def _check_delta(price_fall, k):
    delta = np.atleast_1d(np.asarray(price_fall, dtype=float))
    if delta.shape != (k,) or not np.isfinite(delta).all() or (delta < 0).any() or (delta > 1).any():
        raise ConfigError(_problem("price_fall", f"got {price_fall!r}: give {k} price falls in [0, 1], one per "
                                   "security class"))
    return delta


def fire_sale_map(price_fall, equity, securities, other_assets, leverage_bound: float, impact: Impact) -> np.ndarray:
    """Φ(Δ) = impact(S'θ(Δ)): the price falls caused by the sales that price falls Δ force.

    Its fixed points are the fire-sale equilibria (BSU eqs. 9 and 12, Definition of equilibrium).

    Examples
    --------
    >>> impact = SquareRootImpact([1.0], [1 / 0.000022], kappa=1.0)
    >>> args = ([28, 80, 65], [145, 435, 300], [1170, 1245, 1190], 44, impact)
    >>> round(float(fire_sale_map([0.0], *args)[0]), 6)  # bank 1 (leverage 47 > 44) sells 57% of its bonds
    0.042732
    """
    e, s, loans, lb = _check(equity, securities, other_assets, leverage_bound, impact)
    return _phi(_check_delta(price_fall, s.shape[1]), e, s, loans, lb, impact)


def lower_equilibrium(equity, securities, other_assets, leverage_bound: float, impact: Impact, *,
                      tol: float = 1e-13, max_iter: int = 100_000) -> FireSaleEquilibrium:
    """The least fire-sale equilibrium: iterate :math:`Δ_{n+1} = Φ(Δ_n)` from Δ = 0 (BSU Theorem 2).

    Φ is increasing, so the iterates increase to the least fixed point. Stops when
    :math:`\\|Φ(Δ_n) - Δ_n\\|_2 <` ``tol``.

    Parameters
    ----------
    equity, securities, other_assets, leverage_bound
        As in :func:`sales_fractions`.
    impact : callable
        Maps quantities sold (K,), at t0 prices, to price falls (K,): a
        :class:`SquareRootImpact` or any increasing function (values above 1 are capped at 1).
    tol : float
        Stopping tolerance on the fixed-point residual.
    max_iter : int
        Raise :class:`~firesale.errors.ConfigError` after this many iterations.

    Returns
    -------
    FireSaleEquilibrium

    Examples
    --------
    >>> impact = SquareRootImpact([1.0], [1 / 0.000022], kappa=1.0)
    >>> eq = lower_equilibrium([28, 80, 65], [145, 435, 300], [1170, 1245, 1190], 44, impact)
    >>> round(float(eq.price_fall[0]), 6)
    0.05648
    """
    e, s, loans, lb = _check(equity, securities, other_assets, leverage_bound, impact)
    return _iterate(np.zeros(s.shape[1]), e, s, loans, lb, impact, tol, max_iter)


def upper_equilibrium(equity, securities, other_assets, leverage_bound: float, impact: Impact, *,
                      tol: float = 1e-13, max_iter: int = 100_000) -> FireSaleEquilibrium:
    """The greatest fire-sale equilibrium: iterate Φ from :math:`\\bar Δ = \\text{impact}(S'1)` (BSU Theorem 2).

    :math:`\\bar Δ` is the price fall if every bank sold every security, an upper bound of
    Φ, so the iterates decrease to the greatest fixed point. Arguments as in
    :func:`lower_equilibrium`.

    Examples
    --------
    >>> impact = SquareRootImpact([1.0], [1 / 0.000022], kappa=1.0)
    >>> eq = upper_equilibrium([28, 80, 65], [145, 435, 300], [1170, 1245, 1190], 44, impact)
    >>> round(float(eq.price_fall[0]), 6)
    0.13914
    """
    e, s, loans, lb = _check(equity, securities, other_assets, leverage_bound, impact)
    start = _impact(impact, s.sum(axis=0))
    return _iterate(start, e, s, loans, lb, impact, tol, max_iter)


def _unstable_1d(lower, upper, e, s, loans, lb, impact, grid):
    """Roots of g(Δ) = Φ(Δ) − Δ strictly inside (lower, upper), by a sign scan then brentq."""
    def g(x):
        return float(_phi(np.array([x]), e, s, loans, lb, impact)[0] - x)

    width = upper - lower
    xs = lower + width * np.linspace(0.0, 1.0, grid + 2)[1:-1]
    gs = np.array([g(x) for x in xs])
    roots = []
    for a, b, ga, gb in zip(xs[:-1], xs[1:], gs[:-1], gs[1:], strict=True):
        if ga == 0.0:
            roots.append(a)
        elif ga * gb < 0:
            roots.append(optimize.brentq(g, a, b, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500))
    return roots


def _unstable_segment(lower, upper, e, s, loans, lb, impact, grid):
    """K > 1: roots of the projection of Φ − id on the segment lower → upper, polished by ``optimize.root``."""
    direction = upper - lower
    norm2 = float(direction @ direction)

    def h(t):
        x = lower + t * direction
        return float((_phi(x, e, s, loans, lb, impact) - x) @ direction) / norm2

    ts = np.linspace(0.0, 1.0, grid + 2)[1:-1]
    hs = np.array([h(t) for t in ts])
    found = []
    for a, b, ha, hb in zip(ts[:-1], ts[1:], hs[:-1], hs[1:], strict=True):
        if ha * hb < 0:
            t = optimize.brentq(h, a, b, xtol=1e-15)
            sol = optimize.root(lambda x: _phi(np.clip(x, 0, 1), e, s, loans, lb, impact) - x,
                                lower + t * direction, method="hybr", tol=1e-14)
            x = np.clip(sol.x, 0.0, 1.0)
            if np.linalg.norm(_phi(x, e, s, loans, lb, impact) - x) < 1e-10:
                found.append(x)
    return found


def equilibria(equity, securities, other_assets, leverage_bound: float, impact: Impact, *,
               tol: float = 1e-13, max_iter: int = 100_000, grid: int = 2000) -> FireSaleEquilibria:
    """Least, greatest and unstable fire-sale equilibria (BSU Theorem 2 and Appendix A3).

    The least and greatest come from :func:`lower_equilibrium` and
    :func:`upper_equilibrium`. If they differ, the fixed points between them are found
    from the sign changes of :math:`g(Δ) = Φ(Δ) - Δ` on ``grid`` points strictly inside
    the interval, each refined by Brent's method to machine precision. With K > 1
    securities the search runs along the segment from lower to upper (on the projection
    of g onto that direction), and each candidate is polished by ``scipy.optimize.root``
    and kept only if :math:`\\|Φ(Δ) - Δ\\| < 10^{-10}`; fixed points off the segment are
    not searched for.

    Examples
    --------
    The Appendix A3 toy has three equilibria:

    >>> impact = SquareRootImpact([1.0], [1 / 0.000022], kappa=1.0)
    >>> eqs = equilibria([28, 80, 65], [145, 435, 300], [1170, 1245, 1190], 44, impact)
    >>> eqs.multiple, [round(float(x.price_fall[0]), 6) for x in (eqs.lower, *eqs.unstable, eqs.upper)]
    (True, [0.05648, 0.114085, 0.13914])
    """
    e, s, loans, lb = _check(equity, securities, other_assets, leverage_bound, impact)
    if not (isinstance(grid, int) and grid >= 2):
        raise ConfigError(_problem("grid", f"got {grid!r}: the number of scan points must be a whole number ≥ 2"))
    low = _iterate(np.zeros(s.shape[1]), e, s, loans, lb, impact, tol, max_iter)
    high = _iterate(_impact(impact, s.sum(axis=0)), e, s, loans, lb, impact, tol, max_iter)
    multiple = bool(np.max(np.abs(high.price_fall - low.price_fall)) > 1e3 * tol)
    unstable = []
    if multiple:
        if s.shape[1] == 1:
            points = [np.array([x]) for x in _unstable_1d(float(low.price_fall[0]), float(high.price_fall[0]),
                                                         e, s, loans, lb, impact, grid)]
        else:
            points = _unstable_segment(low.price_fall, high.price_fall, e, s, loans, lb, impact, grid)
        unstable = [_equilibrium(x, e, s, loans, lb, impact, 0) for x in points]
    return FireSaleEquilibria(low, high, multiple, unstable)


def equilibrium_stability(price_fall, equity, securities, other_assets, leverage_bound: float, impact: Impact, *,
              step: float = 1e-7) -> float:
    """Spectral radius of the Jacobian :math:`∂Φ/∂Δ` at Δ, by central differences.

    Below 1 the fixed point attracts the iteration (stable); above 1 it repels it. At a
    kink of Φ (a bank starting or stopping to sell) the difference quotient straddles it.

    Examples
    --------
    >>> impact = SquareRootImpact([1.0], [1 / 0.000022], kappa=1.0)
    >>> args = ([28, 80, 65], [145, 435, 300], [1170, 1245, 1190], 44, impact)
    >>> equilibrium_stability([0.0564801], *args) < 1 < equilibrium_stability([0.114085], *args)
    True
    """
    e, s, loans, lb = _check(equity, securities, other_assets, leverage_bound, impact)
    delta = _check_delta(price_fall, s.shape[1])
    k = delta.size
    jac = np.empty((k, k))
    for j in range(k):
        up, down = delta.copy(), delta.copy()
        up[j] = min(1.0, up[j] + step)
        down[j] = max(0.0, down[j] - step)
        jac[:, j] = (_phi(up, e, s, loans, lb, impact) - _phi(down, e, s, loans, lb, impact)) / (up[j] - down[j])
    return float(np.max(np.abs(np.linalg.eigvals(jac))))


#: The states of :class:`BsuStressTest`, BSU's t = 0, t = 1 and t = 1 + τ at each equilibrium.
STRESS_STATES = ("initial", "stressed", "lower", "upper")


@dataclass(frozen=True)
class BsuStressTest:
    """The paper's tables: each bank's state before the stress, after it, and after the fire sales.

    Attributes
    ----------
    equilibria : FireSaleEquilibria
        Least and greatest equilibria (and unstable ones between).
    max_price_fall : ndarray, shape (K,)
        :math:`\\bar Δ = \\text{impact}(S'1)`, every security sold.
    states : tuple of str
        :data:`STRESS_STATES`: ``initial`` (t = 0), ``stressed`` (t = 1, no deleveraging),
        ``lower`` and ``upper`` (t = 1 + τ, after the fire sales of that equilibrium).
    assets, equity, leverage : ndarray, shape (4, N)
        a, e and λ = a / e of each bank in each state (currency unit of the inputs; λ is
        ``inf`` where e ≤ 0).
    over_bound : ndarray of bool, shape (4, N)
        λ > λ̄ (relative tolerance 1e-9, so a bank that sold down to λ̄ exactly is not over) or e ≤ 0.
    sales_fraction : ndarray, shape (2, N)
        θ at the lower and the upper equilibrium.
    """

    equilibria: FireSaleEquilibria
    max_price_fall: np.ndarray
    states: tuple[str, ...]
    assets: np.ndarray
    equity: np.ndarray
    leverage: np.ndarray
    over_bound: np.ndarray
    sales_fraction: np.ndarray

    def equity_loss(self) -> dict[str, float]:
        """System equity lost since t = 0, :math:`1 - \\sum_i e_i / \\sum_i e^0_i`, per state."""
        total = self.equity.sum(axis=1)
        return {s: float(1.0 - total[j] / total[0]) for j, s in enumerate(self.states)}


def stress_test(equity0, assets0, equity1, securities, other_assets1, leverage_bound: float, impact: Impact, *,
                tol: float = 1e-13, max_iter: int = 100_000) -> BsuStressTest:
    """BSU's stress test: equilibria and the banks' states before and after the fire sales.

    Breuer, Summer & Urosevic (OeNB WP 235), Tables 1-3 of sec. 4 (the authors' ``make_table_*``):

    .. math::

        λ^0_i = a^0_i / e^0_i, \\qquad
        λ^1_i = \\frac{S^1_i·1 + L^1_i}{e^1_i}, \\qquad
        λ^{1+τ}_i = \\frac{(1 - θ_i)\\, S^1_i·(1 - Δ) + L^1_i}{e^1_i - S^1_i·Δ},

    at the least and at the greatest equilibrium Δ. Equity loss without deleveraging is
    :math:`1 - \\sum e^1 / \\sum e^0`; with it, :math:`1 - \\sum (e^1 - S^1Δ) / \\sum e^0`.
    A bank failed at t = 1 (:math:`e^1_i ≤ 0`) sells everything (θ = 1).

    Parameters
    ----------
    equity0, assets0 : array_like, shape (N,)
        :math:`e^0`, :math:`a^0` at t = 0.
    equity1 : array_like, shape (N,)
        :math:`e^1` after the stress (may be ≤ 0 for failed banks).
    securities : array_like, shape (N, K)
        :math:`S^1` at t0 prices.
    other_assets1 : array_like, shape (N,)
        :math:`L^1` after the stress.
    leverage_bound, impact, tol, max_iter
        As in :func:`equilibria`.

    Examples
    --------
    The Appendix A3 toy (t = 0 taken equal to t = 1). At the least equilibrium Δ = 0.05648
    bank 1 sells every bond and is still above λ̄ = 44: 1170 / (28 - 145 Δ) = 59.06; bank 2
    sells nothing, (435 (1 - Δ) + 1245) / (80 - 435 Δ) = 29.86.

    >>> impact = SquareRootImpact([1.0], [1 / 0.000022], kappa=1.0)
    >>> e, s, l = [28, 80, 65], [[145], [435], [300]], [1170, 1245, 1190]
    >>> out = stress_test(e, [1315, 1680, 1490], e, s, l, 44, impact)
    >>> [round(float(x), 2) for x in out.leverage[2]]
    [59.06, 29.86, 30.65]
    >>> out.over_bound.sum(axis=1).tolist()  # initial, stressed, lower, upper
    [1, 1, 1, 3]
    """
    e1, s, loans, lb = _check(equity1, securities, other_assets1, leverage_bound, impact, failed_allowed=True)
    e0 = np.asarray(equity0, dtype=float)
    a0 = np.asarray(assets0, dtype=float)
    if e0.shape != e1.shape or a0.shape != e1.shape or not (e0 > 0).all() or not np.isfinite(a0).all():
        raise ConfigError(_problem("equity0/assets0", f"give one t = 0 equity (> 0) and total assets per bank "
                                   f"({e1.size}); got shapes {e0.shape} and {a0.shape}"))
    low = _iterate(np.zeros(s.shape[1]), e1, s, loans, lb, impact, tol, max_iter)
    high = _iterate(_impact(impact, s.sum(axis=0)), e1, s, loans, lb, impact, tol, max_iter)
    multiple = bool(np.max(np.abs(high.price_fall - low.price_fall)) > 1e3 * tol)
    deltas = np.stack([low.price_fall, high.price_fall])  # (2, K)
    theta = np.stack([low.sales_fraction, high.sales_fraction])  # (2, N)
    marked = s.sum(axis=1) - deltas @ s.T  # (2, N): S·(1 - Δ)
    assets = np.vstack([a0, s.sum(axis=1) + loans, marked * (1.0 - theta) + loans])
    equity = np.vstack([e0, e1, e1 - deltas @ s.T])
    with np.errstate(divide="ignore", invalid="ignore"):
        leverage = np.where(equity > 0, assets / equity, np.inf)
    over = (leverage > lb * (1.0 + 1e-9)) | (equity <= 0)
    return BsuStressTest(FireSaleEquilibria(low, high, multiple), _impact(impact, s.sum(axis=0)), STRESS_STATES,
                         assets, equity, leverage, over, theta)
