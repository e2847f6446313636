"""Caccioli, Shrestha, Moore & Farmer (2014), "Stability analysis of financial contagion due
to overlapping portfolios", J. Banking & Finance 46, 233-245 (arXiv:1210.5987).

N banks and M assets on a random bipartite graph: each (bank, asset) link is present with
probability :math:`μ_b / M`, so a bank holds :math:`μ_b` assets on average (its
*diversification*, Poisson degrees) and an asset has :math:`μ_a = μ_b N / M` holders. Every
bank has the same balance sheet, total assets :math:`A = 1`, invested in equal parts in its
:math:`k_i` assets, :math:`Q_{ij} = A / k_i` at the initial price 1, and the same leverage
:math:`λ = A / E`, so equity :math:`E = A/λ` and liabilities :math:`A(1 - 1/λ)`. Prices
follow the market impact

.. math::

    p_j = e^{-α x_j}, \\qquad x_j = \\frac{\\sum_{i\\ \\text{failed}} Q_{ij}}{\\sum_i Q_{ij}},

:math:`x_j` the fraction of asset j liquidated so far. :math:`α = 1.0536 = -\\ln(0.9)/0.1`
makes the price fall 10% when 10% of an asset is sold. A bank fails when its equity is
gone, :math:`\\sum_j Q_{ij}(1 - p_j) ≥ E` (assets no longer cover liabilities), and a
failed bank liquidates all its holdings. The cascade starts from one failed bank, drawn
uniformly among the banks that hold at least one asset (or from a shock to one asset's
price), and runs in rounds, every bank marking to the current prices, until no new bank
fails. In the random graph a bank holds no asset with probability
:math:`(1 - μ_b/M)^M ≈ e^{-μ_b}` (13.5% at :math:`μ_b = 2`); such a bank has nothing to
sell and would trigger nothing, so the initial failure of the paper's simulations (those
behind its figures of the window of instability) is drawn among the holders:

.. math::

    P(\\text{first failure} = i) = \\frac{1[k_i ≥ 1]}{\\#\\{j : k_j ≥ 1\\}}.

Drawing it among all N banks would scale the probability of contagion by
:math:`1 - e^{-μ_b}` (about 0.80 instead of 0.92 at :math:`μ_b = 2`, λ = 20, N = M = 1000).

*Contagion* is a cascade in which more than a ``threshold`` share of banks fail (5% by
default, the convention of Gai & Kapadia 2010 for contagion on networks); its probability
and its mean size given that it happens are what the paper maps over diversification
:math:`μ_b` and leverage λ. The map shows a *window of instability*: above a critical
leverage, contagion is likely only for intermediate diversification. With few assets per
bank the graph falls
apart into small pieces (too little overlap to carry a cascade); with many, each asset
is a small share of each portfolio and one holder's sale moves its price by about
:math:`α / μ_a`, too little to break a bank unless :math:`k\\, d < αλ` roughly (the
intuition behind the paper's branching-process stability analysis).

This implementation batches trials as an axis: the graphs of all trials are drawn at
once as edge lists (exact Bernoulli links, by geometric gaps), and each round of the
cascade is a few ``np.bincount`` over edges, with no loop over banks.

The defaults here (N = M = 1000 for a single run and for ``firesale contagion``, 400 for
:func:`contagion_sweep`) trade resolution for speed, so the edges of the window are
blurred by finite size (contagion first appears between λ = 7 and 7.5 at N = M = 1000).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from firesale.errors import ConfigError, Problem

__all__ = ["ALPHA_TEN_PERCENT", "CascadeResult", "ContagionSweep", "liquidation_cascade", "simulate_contagion",
           "contagion_sweep", "wilson_interval"]

_CODE = "FS804"

ALPHA_TEN_PERCENT = -np.log(0.9) / 0.1
"""α = 1.0536: the price falls 10% when 10% of an asset is liquidated."""

Z_95 = 1.959963984540054
"""z = Φ⁻¹(0.975): two-sided 95% intervals."""


def wilson_interval(successes, trials, z: float = Z_95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson (1927) score interval for a binomial probability.

    With :math:`\\hat p = s/n`,

    .. math::

        \\frac{\\hat p + z^2/(2n) \\pm z \\sqrt{\\hat p(1 - \\hat p)/n + z^2/(4n^2)}}{1 + z^2/n}.

    Unlike :math:`\\hat p ± z\\sqrt{\\hat p(1-\\hat p)/n}` it stays in [0, 1] and is not empty
    at :math:`\\hat p = 0` or 1 (there its upper bound is :math:`z^2/(n + z^2)`). Wilson,
    E. B. (1927), "Probable inference, the law of succession, and statistical inference",
    JASA 22, 209-212.

    Parameters
    ----------
    successes, trials : array_like of int
        s ≤ n, n ≥ 1 (broadcast together).
    z : float
        Normal quantile (1.96 for 95%).

    Returns
    -------
    (low, high) : ndarrays

    Examples
    --------
    >>> low, high = wilson_interval(8, 10)
    >>> round(float(low), 4), round(float(high), 4)
    (0.4902, 0.9433)
    """
    s = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if not (np.all(n >= 1) and np.all((s >= 0) & (s <= n)) and np.isfinite(z) and z > 0):
        raise ConfigError(_problem("wilson_interval", "successes/trials", f"got {successes!r} of {trials!r} (z = "
                                   f"{z!r}): give 0 ≤ successes ≤ trials, trials ≥ 1, z > 0"))
    p = s / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    low = np.where(s == 0, 0.0, np.clip(centre - half, 0.0, 1.0))  # exact ends at p̂ = 0 and 1
    high = np.where(s == n, 1.0, np.clip(centre + half, 0.0, 1.0))
    return low, high


def _problem(function: str, name: str, message: str) -> Problem:
    return Problem(_CODE, f"{function} argument {name}", message)


def _resolve_rng(rng) -> np.random.Generator:
    """None, an int seed or a Generator -> a Generator (never the global numpy RNG)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    raise ConfigError(_problem("caccioli", "rng", f"got {rng!r}: give None, a whole-number seed or a "
                               "numpy.random.Generator"))


@dataclass(frozen=True)
class CascadeResult:
    """End state of one cascade on a given portfolio matrix.

    Attributes
    ----------
    failed : ndarray of bool, shape (N,)
        Banks failed at the end (the initially failed included).
    price : ndarray, shape (M,)
        Final prices (1 at the start).
    liquidated : ndarray, shape (M,)
        x, the fraction of each asset sold.
    rounds : int
        Rounds until no new bank failed.
    """

    failed: np.ndarray
    price: np.ndarray
    liquidated: np.ndarray
    rounds: int


@dataclass(frozen=True)
class ContagionSweep:
    """Contagion statistics over a grid of leverage × diversification.

    Attributes
    ----------
    mean_degrees : ndarray, shape (D,)
        μ_b, mean assets per bank.
    leverages : ndarray, shape (V,)
        λ = assets / equity.
    probability : ndarray, shape (V, D)
        Share of trials in which more than ``threshold`` of the banks failed.
    extent : ndarray, shape (V, D)
        Mean share of banks failed in those trials (NaN where contagion never happened).
    threshold : float
    trials : int
    probability_low, probability_high : ndarray, shape (V, D)
        95% Wilson interval of ``probability`` (:func:`wilson_interval`).
    extent_low, extent_high : ndarray, shape (V, D)
        95% normal interval of ``extent``, :math:`\\bar x ± 1.96\\, s/\\sqrt{m}` over the m
        contagion trials (s the sample standard deviation, clipped to [0, 1]); NaN where
        m < 2.
    """

    mean_degrees: np.ndarray
    leverages: np.ndarray
    probability: np.ndarray
    extent: np.ndarray
    threshold: float
    trials: int
    probability_low: np.ndarray
    probability_high: np.ndarray
    extent_low: np.ndarray
    extent_high: np.ndarray


def _cascade_kernel(bank, asset, value, n_banks, n_assets, equity, alpha, failed, price_factor):
    """Run cascades on an edge list to the end (private, deterministic).

    ``bank``/``asset``/``value`` (E,): edges, with banks numbered 0..n_banks-1 and assets
    0..n_assets-1 across all trials (trial t's bank i is t·N + i). ``equity`` (n_banks,),
    ``failed`` (n_banks,) bool the initially failed, ``price_factor`` (n_assets,) an
    exogenous price multiplier (1 = no shock). Returns (failed, price, liquidated, rounds).
    """
    failed = failed.copy()
    total = np.bincount(asset, weights=value, minlength=n_assets)
    safe_total = np.where(total > 0, total, 1.0)
    rounds = 0
    while True:
        sold = np.bincount(asset, weights=value * failed[bank], minlength=n_assets)
        liquidated = sold / safe_total
        price = price_factor * np.exp(-alpha * liquidated)
        loss = np.bincount(bank, weights=value * (1.0 - price[asset]), minlength=n_banks)
        new = ~failed & (loss >= equity)
        if not new.any():
            return failed, price, liquidated, rounds
        failed |= new
        rounds += 1


def _check_common(function, leverage, alpha):
    problems = []
    if not (np.isscalar(leverage) and np.isfinite(leverage) and leverage > 1):
        problems.append(_problem(function, "leverage", f"got {leverage!r}: leverage λ = assets / equity must be a "
                                 "number above 1 (λ = 1 is a bank without debt)"))
    if not (np.isscalar(alpha) and np.isfinite(alpha) and alpha > 0):
        problems.append(_problem(function, "alpha", f"got {alpha!r}: the market-impact constant must be above 0 "
                                 f"(the paper's {ALPHA_TEN_PERCENT:.4f} makes a 10% sale move the price 10%)"))
    return problems


def liquidation_cascade(holdings, leverage: float, alpha: float = ALPHA_TEN_PERCENT, *, initial_failed=None,
            asset_shock=None) -> CascadeResult:
    """The default cascade of Caccioli et al. (2014, section 2) on a given portfolio matrix.

    Each bank's equity is :math:`E_i = A_i/λ`, :math:`A_i = \\sum_j Q_{ij}`. Round by round,
    failed banks liquidate everything, :math:`p_j = s_j e^{-α x_j}` (:math:`s_j` the
    exogenous shock factor, 1 if none) and a bank fails when
    :math:`\\sum_j Q_{ij}(1 - p_j) ≥ E_i`.

    Parameters
    ----------
    holdings : array_like, shape (N, M)
        :math:`Q_{ij}` ≥ 0, value of asset j held by bank i at the initial price 1.
    leverage : float
        λ = A / E > 1, the same for every bank.
    alpha : float
        Market impact α > 0.
    initial_failed : array_like of bool or int indices, optional
        Banks failed at the start.
    asset_shock : array_like, shape (M,), optional
        Exogenous price falls (0.3 = −30%) applied before the cascade.

    Returns
    -------
    CascadeResult

    Examples
    --------
    One bank, one asset whose price falls 6%: with leverage 20 the equity is 5% of assets,
    so the bank fails; with leverage 10 (10%) it survives.

    >>> [bool(liquidation_cascade([[1.0]], lam, asset_shock=[0.06]).failed[0]) for lam in (20.0, 10.0)]
    [True, False]

    Two equal banks share one asset; the first fails and sells its half, the price falls
    to :math:`e^{-α/2} = 0.59`: the second survives only if λ < 1/(1 − e^{−α/2}) = 2.44.

    >>> liquidation_cascade([[1.0], [1.0]], 2.5, initial_failed=[0]).failed.tolist()
    [True, True]
    >>> liquidation_cascade([[1.0], [1.0]], 2.4, initial_failed=[0]).failed.tolist()
    [True, False]
    """
    q = np.asarray(holdings, dtype=float)
    problems = _check_common("liquidation_cascade", leverage, alpha)
    if q.ndim != 2 or not np.isfinite(q).all() or (q < 0).any():
        problems.append(_problem("liquidation_cascade", "holdings", f"got shape {q.shape}: give a (banks, assets) "
                                 "matrix of finite values ≥ 0"))
        raise ConfigError(problems)
    n, m = q.shape
    failed = np.zeros(n, dtype=bool)
    if initial_failed is not None:
        chosen = np.asarray(initial_failed)
        if chosen.dtype == bool and chosen.shape == (n,):
            failed = chosen.copy()
        elif chosen.dtype.kind in "iu" and chosen.ndim == 1 and ((chosen >= 0) & (chosen < n)).all():
            failed[chosen] = True
        else:
            problems.append(_problem("liquidation_cascade", "initial_failed", f"got {initial_failed!r}: give {n} "
                                     f"booleans or bank numbers in 0..{n - 1}"))
    factor = np.ones(m)
    if asset_shock is not None:
        shock = np.asarray(asset_shock, dtype=float)
        if shock.shape != (m,) or not np.isfinite(shock).all() or (shock < 0).any() or (shock > 1).any():
            problems.append(_problem("liquidation_cascade", "asset_shock", f"got {asset_shock!r}: give {m} price "
                                     "falls in [0, 1] (0.3 = −30%)"))
        else:
            factor = 1.0 - shock
    if problems:
        raise ConfigError(problems)
    bank, asset = np.nonzero(q > 0)
    assets = q.sum(axis=1)
    equity = np.where(assets > 0, assets / leverage, np.inf)  # a bank with nothing at risk cannot fail
    out = _cascade_kernel(bank, asset, q[bank, asset], n, m, equity, float(alpha), failed, factor)
    return CascadeResult(*out)


def _draw_links(n_banks, n_assets, link_probability, trials, rng):
    """Exact Bernoulli(p) links on trials × N × M cells, drawn as geometric gaps.

    Returns flat cell numbers, sorted, each < trials·N·M.
    """
    cells = trials * n_banks * n_assets
    if link_probability >= 1.0:
        return np.arange(cells)
    chunks, position = [], -1
    expected = cells * link_probability
    while True:
        size = int(expected + 6 * np.sqrt(expected) + 16)
        gaps = rng.geometric(link_probability, size=size)
        positions = position + np.cumsum(gaps)
        chunks.append(positions[positions < cells])
        if positions[-1] >= cells:
            return np.concatenate(chunks)
        position = int(positions[-1])
        expected = (cells - position) * link_probability


def _first_failures(degree, n_banks, trials, rng):
    """One initially failed bank per trial, uniform among the banks that hold an asset.

    ``degree`` (trials·N,) counts each bank's assets, banks numbered t·N + i. Banks with
    :math:`k_i ≥ 1` are listed in order (so grouped by trial); trial t draws position
    :math:`u_t` uniform on :math:`0..n_t - 1` in its group of :math:`n_t` holders. A trial
    in which no bank holds an asset has nothing at risk and starts with no failure.
    Returns the global numbers of the chosen banks.
    """
    holders = np.flatnonzero(degree > 0)
    count = np.bincount(holders // n_banks, minlength=trials)
    first = np.cumsum(count) - count
    position = rng.integers(0, np.maximum(count, 1))
    has = count > 0
    return holders[(first + position)[has]]


def _simulate(n_banks, n_assets, mean_degree, leverages, alpha, trials, shock, shock_size, rng):
    """Failed shares, shape (len(leverages), trials): the same graphs and shocks for every leverage."""
    p = min(1.0, mean_degree / n_assets)
    cells = _draw_links(n_banks, n_assets, p, trials, rng)
    trial, rest = np.divmod(cells, n_banks * n_assets)
    local_bank, local_asset = np.divmod(rest, n_assets)
    bank = trial * n_banks + local_bank
    asset = trial * n_assets + local_asset
    degree = np.bincount(bank, minlength=trials * n_banks)
    value = 1.0 / degree[bank]  # A = 1 shared equally over the bank's assets
    assets_held = np.minimum(degree, 1).astype(float)  # banks without assets hold nothing at risk
    failed0 = np.zeros(trials * n_banks, dtype=bool)
    factor = np.ones(trials * n_assets)
    if shock == "bank":
        failed0[_first_failures(degree, n_banks, trials, rng)] = True
    else:
        factor[np.arange(trials) * n_assets + rng.integers(0, n_assets, size=trials)] = 1.0 - shock_size
    out = np.empty((len(leverages), trials))
    for row, lam in enumerate(leverages):
        equity = np.where(assets_held > 0, 1.0 / lam, np.inf)
        failed, *_ = _cascade_kernel(bank, asset, value, trials * n_banks, trials * n_assets, equity, alpha,
                                     failed0, factor)
        out[row] = failed.reshape(trials, n_banks).mean(axis=1)
    return out


def _check_system(function, n_banks, n_assets, mean_degree, shock, shock_size):
    problems = []
    for name, v in (("n_banks", n_banks), ("n_assets", n_assets)):
        if not (isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1):
            problems.append(_problem(function, name, f"got {v!r}: must be a whole number ≥ 1"))
    degrees = np.atleast_1d(np.asarray(mean_degree, dtype=float))
    if not (np.isfinite(degrees).all() and (degrees > 0).all()):
        problems.append(_problem(function, "mean_degree" if function == "simulate_contagion" else "mean_degrees",
                                 f"got {mean_degree!r}: the mean number of assets per bank must be above 0"))
    elif isinstance(n_assets, (int, np.integer)) and (degrees > n_assets).any():
        problems.append(_problem(function, "mean_degree" if function == "simulate_contagion" else "mean_degrees",
                                 f"got {mean_degree!r}: a bank cannot hold more than n_assets = {n_assets} assets on "
                                 "average; lower it or raise n_assets"))
    if shock not in ("bank", "asset"):
        problems.append(_problem(function, "shock", f"got {shock!r}: must be 'bank' (one random bank fails, the "
                                 "paper's experiment) or 'asset' (one random asset's price falls by shock_size)"))
    if not (np.isscalar(shock_size) and 0 < shock_size <= 1):
        problems.append(_problem(function, "shock_size", f"got {shock_size!r}: a price fall in (0, 1]"))
    return problems


def simulate_contagion(n_banks: int = 1000, n_assets: int = 1000, mean_degree: float = 5.0, leverage: float = 20.0,
                       alpha: float = ALPHA_TEN_PERCENT, rng=None, *, trials: int = 1, shock: str = "bank",
                       shock_size: float = 1.0):
    """Share of banks failed after a cascade on random overlapping portfolios (Caccioli et al. 2014).

    Draws the bipartite graph (link probability :math:`μ_b/M`), starts the cascade from one
    failed bank chosen uniformly among the banks that hold at least one asset
    (``shock="bank"``, the paper's experiment; a system in which no bank holds an
    asset starts with no failure) or from a fall of ``shock_size`` in one uniformly chosen
    asset's price (``shock="asset"``), and runs it to the end (see
    :func:`liquidation_cascade`).

    Parameters
    ----------
    n_banks, n_assets : int
        N and M.
    mean_degree : float
        μ_b, the mean number of assets per bank (diversification).
    leverage : float
        λ = A/E > 1, the same for every bank.
    alpha : float
        Market impact α of :math:`p = e^{-αx}`.
    rng : None, int or numpy.random.Generator
        Source of randomness.
    trials : int
        Independent systems, simulated together as a batch axis.
    shock : {"bank", "asset"}
    shock_size : float
        Price fall of the shocked asset when ``shock="asset"``.

    Returns
    -------
    float, or ndarray of shape (trials,) when ``trials > 1``
        The share of banks that failed (the initially failed bank included).

    Examples
    --------
    >>> share = simulate_contagion(200, 200, mean_degree=0.5, leverage=20.0, rng=1, trials=50)
    >>> share.shape, bool((share >= 1 / 200).all())  # every trial starts from a bank that holds assets
    ((50,), True)
    """
    problems = _check_system("simulate_contagion", n_banks, n_assets, mean_degree, shock, shock_size)
    problems += _check_common("simulate_contagion", leverage, alpha)
    if not (isinstance(trials, (int, np.integer)) and trials >= 1):
        problems.append(_problem("simulate_contagion", "trials", f"got {trials!r}: a whole number ≥ 1"))
    if np.ndim(mean_degree) != 0:
        problems.append(_problem("simulate_contagion", "mean_degree", "give one number; use contagion_sweep for a "
                                 "grid"))
    if problems:
        raise ConfigError(problems)
    shares = _simulate(n_banks, n_assets, float(mean_degree), [float(leverage)], float(alpha), int(trials), shock,
                       float(shock_size), _resolve_rng(rng))[0]
    return float(shares[0]) if trials == 1 else shares


def contagion_sweep(mean_degrees=(1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0), leverages=(5.0, 10.0, 20.0, 30.0),
                    trials: int = 200,
                    seed: int | None = 0, *, n_banks: int = 400, n_assets: int = 400,
                    alpha: float = ALPHA_TEN_PERCENT, threshold: float = 0.05, shock: str = "bank",
                    shock_size: float = 1.0) -> ContagionSweep:
    """Probability and extent of contagion over diversification × leverage (Caccioli et al. 2014).

    For each mean degree a batch of ``trials`` systems is drawn from its own seed
    (``numpy.random.SeedSequence(seed).spawn``) and the same systems and initial failures
    are run at every leverage, so the leverage comparison uses common random numbers and a
    rerun reproduces every cell. Contagion: more than ``threshold`` of the banks fail. Each
    cell carries a 95% interval: Wilson's for the probability, the normal one for the mean
    extent (see :class:`ContagionSweep`).

    Parameters
    ----------
    mean_degrees : sequence of float
        μ_b values (diversification).
    leverages : sequence of float
        λ values, each > 1.
    trials : int
        Systems per mean degree.
    seed : int or None
        Root seed.
    n_banks, n_assets, alpha, shock, shock_size
        As in :func:`simulate_contagion`.
    threshold : float
        Share of failed banks above which a cascade counts as contagion (0.05).

    Returns
    -------
    ContagionSweep

    Examples
    --------
    >>> out = contagion_sweep([1.0, 4.0, 40.0], [25.0], trials=100, seed=0, n_banks=200, n_assets=200)
    >>> out.probability.shape
    (1, 3)
    >>> bool(out.probability[0, 1] > max(out.probability[0, 0], out.probability[0, 2]))
    True
    """
    degrees = np.atleast_1d(np.asarray(mean_degrees, dtype=float))
    levs = np.atleast_1d(np.asarray(leverages, dtype=float))
    problems = _check_system("contagion_sweep", n_banks, n_assets, degrees, shock, shock_size)
    if not (levs.size and np.isfinite(levs).all() and (levs > 1).all()):
        problems.append(_problem("contagion_sweep", "leverages", f"got {leverages!r}: every leverage λ = assets / "
                                 "equity must be above 1"))
    problems += _check_common("contagion_sweep", 2.0, alpha)  # alpha only
    if not (isinstance(trials, (int, np.integer)) and trials >= 1):
        problems.append(_problem("contagion_sweep", "trials", f"got {trials!r}: a whole number ≥ 1"))
    if not (np.isscalar(threshold) and 0 <= threshold < 1):
        problems.append(_problem("contagion_sweep", "threshold", f"got {threshold!r}: a share of banks in [0, 1), "
                                 "e.g. 0.05"))
    if seed is not None and not (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)):
        problems.append(_problem("contagion_sweep", "seed", f"got {seed!r}: a whole number or None"))
    if problems:
        raise ConfigError(problems)
    seeds = np.random.SeedSequence(seed).spawn(degrees.size)
    hits = np.empty((levs.size, degrees.size))
    extent = np.full((levs.size, degrees.size), np.nan)
    spread = np.full((levs.size, degrees.size), np.nan)
    for col, (mu, child) in enumerate(zip(degrees, seeds, strict=True)):
        shares = _simulate(n_banks, n_assets, float(mu), levs.tolist(), float(alpha), int(trials), shock,
                           float(shock_size), np.random.default_rng(child))
        hit = shares > threshold
        hits[:, col] = hit.sum(axis=1)
        for row in range(levs.size):
            if hit[row].any():
                extent[row, col] = shares[row][hit[row]].mean()
            if hit[row].sum() >= 2:
                spread[row, col] = Z_95 * shares[row][hit[row]].std(ddof=1) / np.sqrt(hit[row].sum())
    low, high = wilson_interval(hits, int(trials))
    return ContagionSweep(degrees, levs, hits / trials, extent, float(threshold), int(trials), low, high,
                          np.clip(extent - spread, 0.0, 1.0), np.clip(extent + spread, 0.0, 1.0))
