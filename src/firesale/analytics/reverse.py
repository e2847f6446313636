r"""Reverse stress test: the most plausible shock that meets a target.

A supervisor's question is often the reverse of a run: which shock, of all those that cause
five defaults (or a 100 bn loss, or a tipped Treasury market), is the most plausible? Following
Breuer, Jandačka, Rheinberger & Summer (2009), "How to find plausible, severe and useful stress
scenarios" (Int. J. Central Banking 5(3)), plausibility is the Mahalanobis distance of the shock
under the risk factors' covariance :math:`\Sigma`,

.. math:: d(x) = \sqrt{x^\top \Sigma^{+} x},

and the reverse stress test solves

.. math:: \min_x d(x) \quad \text{s.t. the run with shock } x \text{ meets the target.}

The risk factors (:func:`shock_space`) are each asset's price return in round 0, with
:math:`\Sigma = D R D` from the assets' daily volatilities ``sigma0`` (:math:`D`) and the
system's correlation matrix :math:`R`; ``over="price+volatility"`` adds each asset's log
volatility multiplier and ``over="price+funding"`` each fund's redemption wave (share of NAV),
independent of the prices, with the scales :data:`VOLATILITY_SCALE` and
:data:`REDEMPTION_SCALE`. In whitened coordinates :math:`z` (:math:`x = A z`,
:math:`A A^\top = \Sigma`) the distance is :math:`\lVert z \rVert`: the problem is the
*design point* of structural reliability (Hasofer & Lind 1974; Rackwitz & Fiessler 1978), the
point of the failure set closest to the origin.

The engine is a black box here, and many targets are counts (defaults) or regimes, with no
gradient. So the search works on the boundary itself (:func:`reverse_stress`):

1. along a direction :math:`u` (:math:`\lVert u \rVert = 1`) the *boundary radius* :math:`r(u)`
   is the smallest severity :math:`r` at which the run with :math:`x = A u r` meets the target:
   a geometric grid of severities in one batch brackets the first crossing, then each batch
   cuts every direction's bracket into eight and keeps the part with the first crossing;
2. directions: the single-factor directions (each factor's shock with the others moving as
   they covary), all prices falling together and random directions drawn from the seed; the
   nearest boundary point starts the search;
3. each step (one batched radius evaluation) finds the boundary points of :math:`r` directions
   around the current one, fits the hyperplane through them and moves to its point nearest the
   origin (the Hasofer–Lind–Rackwitz–Fiessler step, with the boundary's points in place of a
   gradient), keeping a step only when the boundary comes nearer;
4. along the best direction, bisection to :data:`TOLERANCE`; a fine grid below the boundary
   checks that no smaller severity meets the target.

The search is local: where the target can be met in several ways (different institutions
failing) the boundary has several nearest points, and the result is the nearest one the
starts lead to, not a proven global optimum.

On a linear boundary (a loss linear in the prices, as without any feedback) step 3 is exact
and the result is the closed form :math:`x^* = c\, \Sigma a / (a^\top \Sigma a)`
(``tests/analytics/test_reverse.py``).

Plausibility: the distance :math:`d`, the probability :math:`P(\chi^2_m \ge d^2)` that a shock
drawn from :math:`N(0, \Sigma)` lies at least that far (:math:`m` the factors), and the
first-order probability :math:`\Phi(-d)` of the half-space beyond the boundary's tangent plane
(FORM). Both assume normal daily shocks and understate fat tails.

Error codes: FS765 an unknown ``over``, FS766 nothing to shock, FS767 a bad search setting.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from firesale.analytics.outcomes import Target, outcome_values, outcome_variables
from firesale.errors import ConfigError, Problem

__all__ = ["OVER", "VOLATILITY_SCALE", "REDEMPTION_SCALE", "TOLERANCE", "ShockSpace", "shock_space",
           "boundary_radii", "reverse_stress", "ReverseResult"]

#: What the shock may move: price returns; with volatility multipliers; with fund redemptions.
OVER = ("price", "price+volatility", "price+funding")
#: Daily standard deviation of the log volatility multiplier: the CBOE VVIX, the implied
#: volatility of the VIX, averaged 86% a year in its history to 2012 (CBOE, "Double the fun
#: with CBOE's VVIX Index", 2012), 0.86 / sqrt(252) a day.
VOLATILITY_SCALE = 0.86 / math.sqrt(252.0)
#: Daily standard deviation of a fund's redemption wave, a share of its NAV (assumption: a
#: one-sigma day redeems 1% of NAV; US bond funds lost 5.2% of assets in all of March 2020, ICI).
REDEMPTION_SCALE = 0.01
#: Relative precision of the final severity along the best direction.
TOLERANCE = 1e-7
#: Largest price fall a shock may carry (a price of 0 has no return to undo).
MAX_FALL = 0.99
#: Largest price rise, log volatility multiplier and redemption share a shock may carry.
MAX_RISE, VOLATILITY_BOUNDS, MAX_REDEMPTION = 1.0, (math.log(0.05), math.log(20.0)), 1.0
#: Farthest a shock is searched (Mahalanobis distance): beyond it a normal shock of 100
#: factors or fewer lies with probability below 1e-300; a target no nearer shock meets is
#: reported as not found.
MAX_DISTANCE = 50.0
#: Types whose investors redeem (the redemption factors of ``price+funding``).
FUND_TYPES = ("asset_manager", "money_market_fund", "hedge_fund")

_GRID = 16  # geometric grid of severities: r_max * 2**-j, j = 0..15
_SECTIONS = 7  # severities a direction in each batch that narrows a bracket
_SEARCH_TOLERANCE = 1e-4
_STEP_ANGLE = 0.1
_SMALLEST_ANGLE = 1e-3
#: A step that brings the boundary nearer by less than this share ends the refinement.
_CONVERGED = 1e-5


@dataclasses.dataclass(frozen=True)
class ShockSpace:
    """The risk factors a reverse stress test moves.

    Attributes
    ----------
    factors : tuple of (kind, name)
        ``("price", ASSET)``: the asset's return in round 0; ``("volatility", ASSET)``: the log
        of its volatility multiplier; ``("redemption", FUND)``: the share of the fund's NAV
        its investors redeem in round 0.
    scale : ndarray (F,)
        Each factor's daily standard deviation.
    loadings : ndarray (F, m)
        :math:`A` with :math:`A A^\\top = \\Sigma`, :math:`m` the rank of :math:`\\Sigma`.
    lower, upper : ndarray (F,)
        Bounds of each factor's value.
    sources : dict
        Where each kind's scale comes from.
    """

    factors: tuple[tuple[str, str], ...]
    scale: np.ndarray
    loadings: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    sources: dict[str, str]

    @property
    def rank(self) -> int:
        return int(self.loadings.shape[1])

    def values(self, z: np.ndarray) -> np.ndarray:
        """Factor values :math:`x = A z` of whitened points ``z`` (n, m) → (n, F)."""
        return np.atleast_2d(z) @ self.loadings.T

    def max_radius(self, u: np.ndarray) -> np.ndarray:
        """Largest severity along each direction ``u`` (n, m) that keeps every factor within
        its bounds, :data:`MAX_DISTANCE` at most."""
        slope = self.values(u)
        with np.errstate(divide="ignore", invalid="ignore"):
            up = np.where(slope > 0, self.upper / slope, np.inf)
            down = np.where(slope < 0, self.lower / slope, np.inf)
        return np.minimum(np.minimum(up, down).min(axis=1), MAX_DISTANCE)

    def shocks(self, x: np.ndarray) -> list[dict[str, Any]]:
        """The scenario's shocks of factor values ``x`` (F,) (zeros left out)."""
        out: list[dict[str, Any]] = []
        for (kind, name), value in zip(self.factors, np.asarray(x, dtype=float)):
            if kind == "price" and value != 0.0:
                out.append({"asset": name, "price": float(value)})
            elif kind == "volatility" and value != 0.0:
                out.append({"asset": name, "volatility": float(math.exp(value))})
            elif kind == "redemption" and value > 0.0:
                out.append({"institution": name, "redemption": float(value)})
        return out

    def distance(self, x: np.ndarray) -> float:
        """Mahalanobis distance :math:`\\sqrt{x^\\top \\Sigma^+ x}` of factor values ``x`` (F,)."""
        z, *_ = np.linalg.lstsq(self.loadings, np.asarray(x, dtype=float), rcond=None)
        return float(np.linalg.norm(z))


def shock_space(system: Any, over: str = "price", volatility_scale: float = VOLATILITY_SCALE,
                redemption_scale: float = REDEMPTION_SCALE) -> ShockSpace:
    """The factors of ``over`` (:data:`OVER`) on ``system``: every asset with a volatility
    (``sigma0 > 0``) for prices and volatilities, every fund (:data:`FUND_TYPES`) for
    redemptions. Prices covary as :math:`D R D`; the other factors are independent of the
    prices and of each other.

    Raises
    ------
    ConfigError
        FS765 an unknown ``over``; FS766 no factor to shock; FS767 a scale not above 0.
    """
    if over not in OVER:
        raise ConfigError(Problem("FS765", f"--over {over}", f"unknown: use one of {', '.join(OVER)}"))
    for label, value in (("--volatility-scale", volatility_scale), ("--redemption-scale", redemption_scale)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ConfigError(Problem("FS767", f"{label} {value}", "a daily standard deviation above 0"))
    sigma = np.array([a.sigma0 for a in system.assets], dtype=float)
    priced = np.flatnonzero(sigma > 0)
    if not priced.size:
        raise ConfigError(Problem("FS766", f"system {system.name}", "no asset has a volatility (sigma0 > 0): "
                                  "a reverse stress test needs risky assets to shock"))
    names = [system.assets[k].name for k in priced]
    corr = np.asarray(system.correlation, dtype=float)[np.ix_(priced, priced)]
    blocks = [np.outer(sigma[priced], sigma[priced]) * corr]
    factors = [("price", n) for n in names]
    scale = list(sigma[priced])
    lower, upper = [-MAX_FALL] * len(names), [MAX_RISE] * len(names)
    sources = {"price": "each asset's sigma0 and the system's correlation matrix"}
    if over == "price+volatility":
        factors += [("volatility", n) for n in names]
        scale += [volatility_scale] * len(names)
        lower += [VOLATILITY_BOUNDS[0]] * len(names)
        upper += [VOLATILITY_BOUNDS[1]] * len(names)
        sources["volatility"] = ("CBOE VVIX, 86% a year on average (CBOE 2012), a day" if volatility_scale
                                 == VOLATILITY_SCALE else "set by the user")
        blocks.append(np.eye(len(names)) * volatility_scale ** 2)
    elif over == "price+funding":
        funds = [i.name for i in system.institutions if i.type in FUND_TYPES]
        if not funds:
            raise ConfigError(Problem("FS766", f"--over {over}", f"system {system.name} has no fund "
                                      f"({', '.join(FUND_TYPES)}) whose investors could redeem: use --over price"))
        factors += [("redemption", n) for n in funds]
        scale += [redemption_scale] * len(funds)
        lower += [-np.inf] * len(funds)  # a negative value is no redemption: the bound is the upper one
        upper += [MAX_REDEMPTION] * len(funds)
        sources["redemption"] = ("assumption: a one-sigma day redeems 1% of NAV" if redemption_scale
                                 == REDEMPTION_SCALE else "set by the user")
        blocks.append(np.eye(len(funds)) * redemption_scale ** 2)
    size = sum(b.shape[0] for b in blocks)
    cov = np.zeros((size, size))
    at = 0
    for block in blocks:
        cov[at:at + block.shape[0], at:at + block.shape[0]] = block
        at += block.shape[0]
    values, vectors = np.linalg.eigh(cov)
    keep = values > 1e-12 * values.max()
    loadings = vectors[:, keep] * np.sqrt(values[keep])
    return ShockSpace(tuple(factors), np.array(scale), loadings, np.array(lower, dtype=float),
                      np.array(upper, dtype=float), sources)


# --------------------------------------------------------------------------- runs
Evaluate = Callable[[np.ndarray], dict[str, np.ndarray]]


def make_evaluator(system: Any, base: Any, space: ShockSpace, target: Target, *, kernels: str = "numpy",
                   counter: dict[str, int] | None = None) -> Evaluate:
    """A function of whitened points ``z`` (n, m) that runs them as one batch on ``base``
    (its own shocks kept) and returns the target's outcomes and whether each run meets it
    (key ``"met"``)."""
    from firesale.simulation import simulate

    variables = outcome_variables(target.outcomes)
    counter = counter if counter is not None else {}

    def evaluate(z: np.ndarray) -> dict[str, np.ndarray]:
        z = np.atleast_2d(z)
        x = space.values(z)
        scenarios = [base.updated(name=f"point {i}", shocks=list(base.shocks) + space.shocks(row))
                     for i, row in enumerate(x)]
        ds = simulate(system, scenarios, detail=False, variables=variables, kernels=kernels)
        counter["batches"] = counter.get("batches", 0) + 1
        counter["runs"] = counter.get("runs", 0) + len(scenarios)
        values = outcome_values(ds, target.outcomes)
        return {**values, "met": target.met(values)}

    return evaluate


def boundary_radii(evaluate: Evaluate, space: ShockSpace, directions: np.ndarray,
                   tolerance: float = _SEARCH_TOLERANCE) -> tuple[np.ndarray, np.ndarray]:
    """The boundary radius of each direction (n, m): the severity of the first crossing found
    on a geometric grid below the direction's largest severity, its bracket then narrowed to
    relative ``tolerance`` (:func:`_split_brackets`), every direction in the same batches.
    Returns (radius, below): the bracket's ends, ``radius`` meeting the target and ``below``
    not; inf and nan where no severity up to the largest meets it."""
    directions = np.atleast_2d(directions)
    n = directions.shape[0]
    r_max = space.max_radius(directions)
    grid = r_max[:, None] * 2.0 ** -np.arange(_GRID - 1, -1, -1)  # ascending
    met = evaluate((grid[:, :, None] * directions[:, None, :]).reshape(-1, directions.shape[1]))["met"]
    met = met.reshape(n, _GRID)
    found = met.any(axis=1)
    first = np.where(found, met.argmax(axis=1), 0)
    hi = np.where(found, grid[np.arange(n), first], np.inf)
    lo = np.where(first > 0, grid[np.arange(n), np.maximum(first - 1, 0)], 0.0)
    lo = np.where(found, lo, np.nan)
    active = found & (hi - lo > tolerance * hi)
    while active.any():
        rows = np.flatnonzero(active)
        hi[rows], lo[rows] = _split_brackets(evaluate, directions[rows], lo[rows], hi[rows])
        active[rows] = hi[rows] - lo[rows] > tolerance * hi[rows]
    return hi, lo


def _split_brackets(evaluate: Evaluate, directions: np.ndarray, lo: np.ndarray,
                    hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One batch that cuts each bracket [lo, hi] into :data:`_SECTIONS` + 1 parts and keeps
    the part holding its first crossing: ``_SECTIONS`` severities a direction, so a batch
    narrows the bracket 8-fold where bisection would halve it."""
    fractions = np.arange(1, _SECTIONS + 1) / (_SECTIONS + 1)
    points = lo[:, None] + (hi - lo)[:, None] * fractions[None, :]
    met = evaluate((points[:, :, None] * directions[:, None, :]).reshape(-1, directions.shape[1]))["met"]
    met = met.reshape(points.shape)
    first = np.where(met.any(axis=1), met.argmax(axis=1), _SECTIONS)
    rows = np.arange(points.shape[0])
    edges = np.column_stack([lo, points, hi])
    return edges[rows, first + 1], edges[rows, first]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _starts(space: ShockSpace, seed: int) -> np.ndarray:
    """The first directions tried: each factor alone (with what covaries with it), both
    signs; all prices falling together; random directions from ``seed``."""
    m = space.rank
    rows = space.loadings  # row f: the direction whose shock is Sigma e_f
    single = _unit(rows[np.linalg.norm(rows, axis=1) > 0])
    together = np.array([k == "price" for k, _ in space.factors], dtype=float) * -space.scale
    combined = np.linalg.pinv(space.loadings) @ together
    rng = np.random.default_rng(seed)
    drawn = _unit(rng.standard_normal((max(8, 2 * m), m)))
    parts = [single, -single, drawn]
    if np.linalg.norm(combined) > 0:
        parts.insert(2, _unit(combined)[None, :])
    return np.concatenate(parts)


def _tangents(u: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the directions perpendicular to ``u`` (m - 1, m)."""
    q, _ = np.linalg.qr(np.column_stack([u, np.eye(u.size)]))
    return q[:, 1:u.size].T


def _refine(evaluate: Evaluate, space: ShockSpace, u: np.ndarray, r: float, max_steps: int,
            history: list[float]) -> tuple[np.ndarray, float, int]:
    """Step 3 of the module docstring from ``u`` (boundary radius ``r``): returns the best
    direction, its boundary radius and the steps taken."""
    m = u.size
    if m == 1:
        return u, r, 0
    angle, steps = _STEP_ANGLE, 0
    while steps < max_steps and angle > _SMALLEST_ANGLE:
        steps += 1
        around = _unit(u[None, :] + angle * _tangents(u))
        radii, _ = boundary_radii(evaluate, space, around)
        ok = np.isfinite(radii)
        if ok.sum() < m - 1:
            angle /= 4
            continue
        points = np.vstack([r * u, radii[ok, None] * around[ok]])
        normal, *_ = np.linalg.lstsq(points, np.ones(points.shape[0]), rcond=None)
        if not np.all(np.isfinite(normal)) or normal @ u <= 0:
            angle /= 4
            continue
        candidate = _unit(normal)
        best = int(np.argmin(np.where(ok, radii, np.inf)))
        tried = [candidate, _unit(u + 0.5 * (candidate - u)), around[best]]
        found, _ = boundary_radii(evaluate, space, np.array(tried))
        k = int(np.argmin(found))
        if found[k] < r * (1 - 1e-9):
            moved = float(np.linalg.norm(tried[k] - u))
            gained = 1.0 - float(found[k]) / r
            u, r = tried[k], float(found[k])
            history.append(r)
            if moved < 1e-6 or gained < _CONVERGED:
                break
            angle = min(_STEP_ANGLE, max(moved, 1e-4))
        else:
            angle /= 4
    return u, r, steps


@dataclasses.dataclass
class ReverseResult:
    """What :func:`reverse_stress` finds.

    Attributes
    ----------
    met_without_shock : bool
        The base scenario meets the target with no shock of its own (distance 0).
    found : bool
        A shock within the factors' bounds meets the target.
    direction : ndarray (m,)
        The best direction in whitened coordinates.
    radius : float
        The boundary severity along it: the Mahalanobis distance of the shock.
    below : float
        The largest severity checked below the boundary that does not meet the target.
    values : ndarray (F,)
        The factors' values of the shock (``space.factors``).
    history : list of float
        The boundary distance after the start and each accepted step.
    batches, runs : int
        Batches and single runs the search took.
    """

    space: ShockSpace
    target: Target
    met_without_shock: bool
    found: bool
    direction: np.ndarray
    radius: float
    below: float
    values: np.ndarray
    history: list[float]
    steps: int
    batches: int
    runs: int
    seed: int

    @property
    def shocks(self) -> list[dict[str, Any]]:
        return self.space.shocks(self.values)

    @property
    def probability(self) -> float:
        """:math:`P(\\chi^2_m \\ge d^2)`: a normal shock lies at least this far."""
        from scipy.stats import chi2

        return float(chi2.sf(self.radius ** 2, self.space.rank)) if self.found else 0.0

    @property
    def probability_beyond(self) -> float:
        """:math:`\\Phi(-d)`: the first-order probability of the half-space beyond the boundary."""
        from scipy.stats import norm

        return float(norm.sf(self.radius)) if self.found else 0.0


def reverse_stress(system: Any, base: Any, target: Target, *, over: str = "price", seed: int = 0,
                   max_steps: int = 12, kernels: str = "numpy", volatility_scale: float = VOLATILITY_SCALE,
                   redemption_scale: float = REDEMPTION_SCALE,
                   progress: Callable[[str], None] | None = None) -> ReverseResult:
    """The shock of least Mahalanobis distance that meets ``target`` on ``system``, added to
    the shocks of ``base`` (pass the calm scenario, without shocks, to ask which shock alone
    breaks the system). Deterministic: the same ``seed``, the same answer.

    Raises
    ------
    ConfigError
        FS765–FS767 (:func:`shock_space`), or FS767 for ``max_steps`` below 0.
    """
    if not isinstance(max_steps, int) or max_steps < 0:
        raise ConfigError(Problem("FS767", f"max_steps {max_steps}", "a count of refinement steps, 0 or more"))
    space = shock_space(system, over, volatility_scale, redemption_scale)
    counter: dict[str, int] = {}
    evaluate = make_evaluator(system, base, space, target, kernels=kernels, counter=counter)
    say = progress or (lambda text: None)
    m = space.rank
    say("the base scenario")
    if bool(evaluate(np.zeros((1, m)))["met"][0]):
        return ReverseResult(space, target, True, True, np.zeros(m), 0.0, 0.0, np.zeros(len(space.factors)), [0.0],
                             0, counter["batches"], counter["runs"], seed)
    starts = _starts(space, seed)
    say(f"{len(starts)} starting directions")
    radii, _ = boundary_radii(evaluate, space, starts)
    if not np.isfinite(radii).any():
        return ReverseResult(space, target, False, False, starts[0], math.inf, math.nan,
                             np.full(len(space.factors), np.nan), [], 0, counter["batches"], counter["runs"], seed)
    best = int(np.argmin(radii))
    u, r = starts[best], float(radii[best])
    history = [r]
    say("refining the direction")
    u, r, steps = _refine(evaluate, space, u, r, max_steps, history)
    say("the boundary along the best direction")
    hi, lo = _first_crossing(evaluate, space, u)
    return ReverseResult(space, target, False, True, u, hi, lo, hi * space.values(u)[0], history, steps,
                         counter["batches"], counter["runs"], seed)


def _first_crossing(evaluate: Evaluate, space: ShockSpace, u: np.ndarray) -> tuple[float, float]:
    """The first severity along ``u`` that meets the target, to :data:`TOLERANCE`, and the
    largest below it that does not (inf and nan where none up to the largest meets it): the
    grid's bracket narrowed, then a grid of 64 severities below it in one batch; where one
    of them meets the target, the bracket of the first that does narrowed again."""
    hi, lo = (float(v[0]) for v in boundary_radii(evaluate, space, u[None, :], TOLERANCE))
    if not math.isfinite(hi):
        return hi, lo
    for _ in range(4):
        below = hi * np.arange(1, 65) / 65.0
        met = evaluate(below[:, None] * u[None, :])["met"]
        if not met.any():
            return hi, lo
        j = int(met.argmax())
        hi, lo = float(below[j]), float(below[j - 1]) if j else 0.0
        while hi - lo > TOLERANCE * hi:
            up, down = _split_brackets(evaluate, u[None, :], np.array([lo]), np.array([hi]))
            hi, lo = float(up[0]), float(down[0])
    return hi, lo


def factor_table(result: ReverseResult) -> list[dict[str, Any]]:
    """Per factor: its kind, name, value, its value in standard deviations (``sigmas``) and
    its share of the squared distance, :math:`x_f (\\Sigma^+ x)_f / d^2` (the shares add up
    to 1: what makes the shock implausible)."""
    x = np.asarray(result.values, dtype=float)
    if not result.found or not result.radius:
        shares = np.zeros(x.size)
    else:
        z = result.radius * result.direction
        shares = x * (np.linalg.pinv(result.space.loadings).T @ z) / result.radius ** 2
    return [{"kind": kind, "name": name, "value": float(v), "sigmas": float(v / s), "share_of_distance": float(w)}
            for (kind, name), v, s, w in zip(result.space.factors, x, result.space.scale, shares)]


def scenario_at(base: Any, result: ReverseResult, multiple: float = 1.0, name: str | None = None) -> Any:
    """``base`` with the result's shock (times ``multiple``) added to its own."""
    return base.updated(name=name or f"reverse stress x{multiple:g}",
                        shocks=list(base.shocks) + result.space.shocks(multiple * result.values))


def policy_boundaries(system: Any, base: Any, result: ReverseResult, policies: Sequence[tuple[str, Any]],
                      kernels: str = "numpy") -> dict[str, dict[str, Any]]:
    """For each ``(name, scenario)`` policy variant of ``base``: whether the shock still meets
    the target, and the severity along the same direction at which it does (its multiple
    of the boundary found without the policy)."""
    out = {}
    for name, scenario in policies:
        evaluate = make_evaluator(system, scenario, result.space, result.target, kernels=kernels)
        at_shock = evaluate(result.radius * result.direction[None, :])
        hi, _ = _first_crossing(evaluate, result.space, result.direction)
        out[name] = {"meets_at_shock": bool(at_shock["met"][0]),
                     "outcomes_at_shock": {k: float(v[0]) for k, v in at_shock.items() if k != "met"},
                     "boundary_distance": None if not math.isfinite(hi) else hi,
                     "severity_multiple": None if not math.isfinite(hi) else hi / result.radius}
    return out


def calm_scenario(scenario: Any) -> Any:
    """``scenario`` without its shocks: its settings (channels, market, policy, rounds) kept.
    A reverse stress test asks which shock *alone* meets the target, so it starts here."""
    return scenario.updated(name=f"{scenario.name} (calm)", shocks=[])


def describe(preset: Any, base: Any, result: ReverseResult, *, kernels: str = "numpy",
             policies: bool = True, attribution: bool = True) -> dict[str, Any]:
    """JSON-ready account of a reverse stress test: the shock per factor, its plausibility,
    the outcomes at the boundary and at 0.98 times the shock, which mechanisms carry the
    damage there (exact Shapley values, :func:`firesale.analytics.attribution.attribute`),
    the institutions that default or lose most, and for each policy of the preset whether
    the shock still meets the target and how much more severe it must be to do so."""
    from firesale.analytics.amplification import summarize
    from firesale.analytics.attribution import attribute, attribution_summary
    from firesale.analytics.compare import policy_names, policy_scenario
    from firesale.simulation import simulate

    out: dict[str, Any] = {
        "preset": preset.name, "base": base.name, "target": str(result.target),
        "over": "+".join(dict.fromkeys(kind for kind, _ in result.space.factors)).replace("redemption", "funding"),
        "currency": preset.system.currency, "found": result.found, "met_without_shock": result.met_without_shock,
        "factors": len(result.space.factors), "rank": result.space.rank, "scales": result.space.sources,
        "seed": result.seed,
        "search": {"steps": result.steps, "batches": result.batches, "runs": result.runs,
                   "distance_by_step": result.history, "tolerance": TOLERANCE},
    }
    if not result.found or result.met_without_shock:
        out["note"] = ("the base scenario meets the target without any shock" if result.met_without_shock else
                       "no shock within the factors' bounds (prices down to -99%) meets the target")
        return out
    names = result.target.outcomes
    at, below = scenario_at(base, result, 1.0), scenario_at(base, result, 0.98)
    ds = simulate(preset.system, [at, below], kernels=kernels)
    values = outcome_values(ds, names)
    met = result.target.met(values)
    summary = summarize(ds, 0)
    out.update({
        "distance": result.radius,
        "probability": result.probability,
        "probability_beyond": result.probability_beyond,
        "shock": factor_table(result),
        "shocks": result.shocks,
        "outcome": {k: float(v[0]) for k, v in values.items()},
        "meets_target": bool(met[0]),
        "at_098": {"outcome": {k: float(v[1]) for k, v in values.items()}, "meets_target": bool(met[1])},
        "boundary_bracket": [result.below, result.radius],
        "defaults": summary["defaults"], "defaults_by_round": summary["defaults_by_round"],
        "levered_capital_loss": summary["levered_capital_loss"], "total_loss": summary["total_loss"],
        "forced_sales": summary["forced_sales"], "price_trough": summary["price_trough"],
        "market_tipped": summary["market_tipped"],
        "institutions": _carriers(summary),
    })
    if attribution:
        out["mechanisms"] = attribution_summary(attribute(preset.system, at))
    if policies:
        described = policy_names(preset)
        variants = [(name, policy_scenario(preset, name, base)) for name in described]
        out["policies"] = {name: {"description": described[name], **found}
                           for name, found in policy_boundaries(preset.system, base, result, variants,
                                                                kernels).items()}
    return out


def _carriers(summary: dict[str, Any], top: int = 8) -> list[dict[str, Any]]:
    """The institutions that carry the damage: those in default first, then by the equity
    they lost, ``top`` at most."""
    rows = [{"name": r["name"], "type": r["type"], "group": r["group"], "levered": r["levered"],
             "defaulted": r["defaulted"], "equity_lost": r["initial_equity"] - r["final_equity"],
             "forced_sales": r["sales"], "breached": r["breached"]} for r in summary["institutions"]]
    rows.sort(key=lambda r: (not r["defaulted"], -r["equity_lost"]))
    return rows[:top]


def shock_figure(report: dict[str, Any]) -> Any:
    """Bar chart of the reverse stress shock: each factor's value in standard deviations,
    with its value and its share of the distance on hover."""
    from firesale.analytics.figures import plotly_graph_objects

    go = plotly_graph_objects()
    rows = report.get("shock", [])
    labels = [f"{r['kind']} {r['name']}" for r in rows]
    fig = go.Figure(go.Bar(
        x=[r["sigmas"] for r in rows], y=labels, orientation="h",
        customdata=[[r["value"], r["share_of_distance"]] for r in rows],
        hovertemplate="%{y}: %{x:.2f} sd, value %{customdata[0]:.4g}, %{customdata[1]:.1%} of d²<extra></extra>"))
    title = f"{report['preset']}: least-distance shock with {report['target']}"
    if report.get("distance") is not None:
        title += f" (distance {report['distance']:.2f}, P(chi2 >= d²) = {report['probability']:.2g})"
    fig.update_layout(title=title, xaxis_title="shock in standard deviations (daily)", yaxis_title="",
                      template="plotly_white", height=max(320, 40 * len(rows) + 160))
    return fig
