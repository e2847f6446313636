"""Cont & Schaanning (2017), "Fire sales, indirect contagion and systemic stress testing",
Norges Bank Working Paper 2/2017 (section 3: the deleveraging dynamics).

N banks hold marketable assets Π (N×K, value at t0 prices S0 = 1) and illiquid assets Θ
(N×L, L illiquid asset classes), with equity C (N,). The stress scenario writes each
illiquid class down: ε (L,), one write-down per class, the paper's convention (its stress
scenarios hit asset classes, so every bank holding a class takes the same fractional loss
on it), and bank i loses :math:`\\sum_l Θ_{il} ε_l`. On the EBA 2011 banks
(:func:`firesale.data.eba2011.load_eba2011`) the illiquid classes are the exposure
classes by country (institutions, corporates, retail, commercial real estate, defaulted)
and each bank's residual ``other`` assets. A bank-specific write-down is the special case
of one class per bank. Each round:

1. leverage :math:`λ_i = (Π_i·S + \\sum_l Θ_{il}) / C_i`; a bank with :math:`λ_i > λ_{max}`
   sells the fraction :math:`Γ_i = \\min\\left(1, \\frac{A_i - λ_b C_i}{Π_i·S}\\right)`, :math:`λ_b =
   0.95 λ_{max}`, of each marketable holding (the sale that would return it to λ_b at
   current prices, pro rata); an insolvent bank (:math:`C_i ≤ 0`) sells everything;
2. the market depth of asset k is :math:`δ_k = (1 - B/S)\\, c \\sqrt{τ}\\, ADV_k / σ_k`
   (computed once, at S0) and its price :math:`S_k = S_{0,k}(1 - Ψ_k(q_k))`,
   :math:`Ψ(q) = (1 - B/S)(1 - e^{-q/δ})`, with :math:`q_k` the cumulative value sold;
3. units sold execute at the pre-impact price less the fraction α of the round's move,
   :math:`S^{pre} + α (S^{post} - S^{pre})`; every bank loses on what it still holds and on
   its execution: :math:`C_i \\leftarrow C_i - Π_i'(S^{pre} - S^{post}) - (\\text{sold})'(S^{pre} - S^{exec})`.

It stops when no bank is above λ_max (or after ``max_rounds``). The published check (two
banks, one asset) needs q in value sold and execution at the midpoint (α = 1/2):
Γ_1 = 0.385889, 0.315088, 0.145351.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from firesale.errors import ConfigError, Problem

__all__ = ["ContSchaanningPath", "cont_schaanning", "market_depth"]


@dataclass(frozen=True)
class ContSchaanningPath:
    """Round-by-round path of the deleveraging cascade (R rounds that sold)."""

    sold_fraction: np.ndarray  # (R, N) Γ per round
    sold: np.ndarray  # (R, N, K) value sold per round, at the pre-impact price
    price: np.ndarray  # (R, K) post-impact price after each round
    impact: np.ndarray  # (R, K) Ψ after each round
    loss: np.ndarray  # (R, N) fire-sale loss in each round
    equity: np.ndarray  # (R, N) equity after each round
    holdings: np.ndarray  # (R, N, K) marketable holdings (units) after each round
    insolvent: np.ndarray  # (R, N) bool, equity ≤ 0 after the round
    shock_loss: np.ndarray  # (N,) the shock's loss on Θ

    @property
    def rounds(self) -> int:
        return int(self.sold_fraction.shape[0])


def market_depth(adv, sigma, c: float = 0.4, tau: float = 20.0):
    """:math:`D_k = c \\sqrt{τ} ADV_k / σ_k` (Cont-Schaanning 2017, eq. for market depth).

    >>> round(float(market_depth(50.0, 0.02)), 2)  # the published check: δ = (1 - 0.5) D = 2236.07
    4472.14
    """
    return c * np.sqrt(tau) * np.asarray(adv, dtype=float) / np.asarray(sigma, dtype=float)


def _check(marketable, illiquid, equity, shock, depth, floor, lambda_max, alpha):
    pi = np.atleast_2d(np.asarray(marketable, dtype=float))
    theta = np.asarray(illiquid, dtype=float)
    theta = theta[:, None] if theta.ndim == 1 else theta  # (N,): one illiquid class
    c = np.asarray(equity, dtype=float)
    classes = theta.shape[1] if theta.ndim == 2 else 0
    eps = np.zeros(classes) if shock is None else np.atleast_1d(np.asarray(shock, dtype=float))
    d = np.atleast_1d(np.asarray(depth, dtype=float))
    b = np.broadcast_to(np.asarray(floor, dtype=float), d.shape)
    problems = []
    n = c.size
    if pi.shape[0] != n or theta.ndim != 2 or theta.shape[0] != n:
        problems.append(("marketable/illiquid/equity", f"shapes disagree: marketable {pi.shape}, illiquid "
                         f"{theta.shape}, equity {c.shape}; one row or entry per bank"))
    elif eps.shape != (classes,):
        problems.append(("shock", f"{eps.size} write-downs for {classes} illiquid asset class(es): give one per class "
                         "(Cont & Schaanning write down asset classes, not banks); to hit banks differently, give "
                         "illiquid as an (N, L) matrix, e.g. one class per bank"))
    if pi.shape[1:] != d.shape:
        problems.append(("depth", f"{d.size} depths for {pi.shape[1]} marketable assets: give one per asset"))
    for name, arr in (("marketable", pi), ("illiquid", theta)):
        if not np.isfinite(arr).all() or (arr < 0).any():
            problems.append((name, "holdings must be finite and at least 0"))
    if not np.isfinite(c).all() or (c <= 0).any():
        bad = np.flatnonzero(~np.isfinite(c) | (c <= 0))
        problems.append(("equity", f"bank(s) {bad.tolist()} have equity ≤ 0 at t0: leverage is undefined; drop them "
                         "or fix their equity"))
    if not np.isfinite(eps).all() or (eps < 0).any() or (eps > 1).any():
        problems.append(("shock", "the write-down of illiquid assets is a fraction in [0, 1]"))
    if not np.all(d > 0):
        problems.append(("depth", "market depth must be above 0 (inf for no impact)"))
    if not np.all((b >= 0) & (b < 1)):
        problems.append(("floor", "B/S is a price floor as a fraction of S0, in [0, 1)"))
    if not (np.isfinite(lambda_max) and lambda_max > 1):
        problems.append(("lambda_max", f"got {lambda_max!r}: a leverage bound (assets / equity) above 1"))
    if not 0 <= alpha <= 1:
        problems.append(("alpha", f"got {alpha!r}: the execution fraction lies in [0, 1]"))
    if problems:
        raise ConfigError([Problem("FS801", f"cont_schaanning argument {name}", msg) for name, msg in problems])
    return pi, theta, c, eps, d, b


def cont_schaanning(
    marketable, illiquid, equity, shock=None, *, depth, floor=0.5, lambda_max: float = 33.3,
    target_share: float = 0.95, alpha: float = 0.5, price_shock=None, max_rounds: int = 100,
    tolerance: float = 1e-12,
) -> ContSchaanningPath:
    """Run the Cont-Schaanning deleveraging cascade to its end.

    Parameters
    ----------
    marketable : array_like, shape (N, K)
        Π: marketable holdings, value at S0 = 1.
    illiquid : array_like, shape (N, L) or (N,)
        Θ: illiquid assets by illiquid asset class (a vector is one class).
    equity : array_like, shape (N,)
        C at t0 (> 0).
    shock : array_like, shape (L,), or float, optional
        ε: write-down of each illiquid asset class (0.2 = 20%), the same for every holder;
        bank i loses :math:`\\sum_l Θ_{il} ε_l`.
    depth : array_like, shape (K,)
        D (:func:`market_depth`); δ = (1 − floor)·D.
    floor : float or array_like (K,)
        B/S, the price floor as a fraction of S0.
    lambda_max, target_share : float
        Leverage bound and the target λ_b = target_share · λ_max.
    alpha : float
        Execution between the pre- (0) and post-impact (1) price.
    price_shock : array_like, shape (K,), optional
        A fall of the marketable assets' prices at t0 (0.5 halves it): :math:`S_0 = 1 - w`,
        and then :math:`S = S_0 (1 - Ψ)`.

    Returns
    -------
    ContSchaanningPath

    Examples
    --------
    The published check; each bank's illiquid assets are a class of their own,
    and the first class is written down 20%:

    >>> p = cont_schaanning([[90.0], [70.0]], [[10.0, 0.0], [0.0, 20.0]], [4.0, 4.5], [0.2, 0.0],
    ...                     depth=market_depth(50.0, 0.02))
    >>> [round(float(g), 6) for g in p.sold_fraction[:, 0]]
    [0.385889, 0.315088, 0.145351]
    >>> [round(float(x), 6) for x in p.equity[0]]
    [1.440284, 3.960589]
    """
    pi, theta, c, eps, d, b = _check(marketable, illiquid, equity, shock, depth, floor, lambda_max, alpha)
    delta = (1.0 - b) * d
    n, k = pi.shape
    units = pi.copy()
    fall = np.zeros(k) if price_shock is None else np.asarray(price_shock, dtype=float)
    if fall.shape != (k,) or not np.all((fall >= 0) & (fall < 1)):
        raise ConfigError(Problem("FS801", "cont_schaanning argument price_shock",
                                  f"give one fall in [0, 1) per marketable asset ({k}), got {fall.tolist()}"))
    start = 1.0 - fall
    price = start.copy()
    sold_total = np.zeros(k)
    shock_loss = theta @ eps + pi @ fall
    theta = theta @ (1.0 - eps)  # (N,): what is left of the illiquid assets, in total
    c = c - shock_loss
    target = target_share * lambda_max
    path: dict[str, list[np.ndarray]] = {key: [] for key in
                                         ("gamma", "sold", "price", "impact", "loss", "equity", "holdings", "insolvent")}
    for _ in range(max_rounds):
        book = units @ price
        assets = book + theta
        insolvent = c <= 0
        with np.errstate(divide="ignore", invalid="ignore"):
            leverage = np.where(c > 0, assets / c, np.inf)
            gamma = np.where(book > 0, np.clip((assets - target * c) / book, 0.0, 1.0), 0.0)
        gamma = np.where(insolvent, np.where(book > 0, 1.0, 0.0), np.where(leverage > lambda_max, gamma, 0.0))
        if not (gamma * book > tolerance).any():
            break
        sold_units = units * gamma[:, None]
        sold_value = sold_units * price
        sold_total = sold_total + sold_value.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            psi = np.where(np.isfinite(delta), (1.0 - b) * -np.expm1(-sold_total / delta), 0.0)
        post = start * (1.0 - psi)
        executed = price + alpha * (post - price)
        units = units - sold_units
        loss = units @ (price - post) + sold_units @ (price - executed)
        c = c - loss
        price = post
        for key, value in (("gamma", gamma), ("sold", sold_value), ("price", price), ("impact", psi), ("loss", loss),
                           ("equity", c), ("holdings", units), ("insolvent", c <= 0)):
            path[key].append(value.copy())

    def stack(key: str, shape: tuple[int, ...]) -> np.ndarray:
        return np.array(path[key]) if path[key] else np.zeros((0, *shape))

    return ContSchaanningPath(
        sold_fraction=stack("gamma", (n,)), sold=stack("sold", (n, k)), price=stack("price", (k,)),
        impact=stack("impact", (k,)), loss=stack("loss", (n,)), equity=stack("equity", (n,)),
        holdings=stack("holdings", (n, k)), insolvent=stack("insolvent", (n,)).astype(bool), shock_loss=shock_loss,
    )
