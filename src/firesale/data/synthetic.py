"""Synthetic systems: many institutions with overlapping portfolios, drawn from one seed.

:func:`generate_tables` draws a system as the documented tables (institutions, assets,
holdings; :data:`firesale.schema.TABLES`) straight from numpy arrays, fast enough for
20,000 institutions × 2,000 assets; :func:`write_generated` writes them (CSV or Parquet)
with a ``scenario.toml`` naming the currency and a default shock, so the directory passes
``firesale validate`` and runs with ``firesale run``; :func:`generate_system` returns the
validated :class:`~firesale.system.System`. Everything is a deterministic function of the
seed (one :class:`numpy.random.Generator`).

How a system is drawn, and where each range comes from. "Assumption" marks a value
chosen to look plausible, not taken from a source.

**Institution types.** Each institution's type is drawn with probabilities dealer 5%,
bank 45%, asset manager 25%, hedge fund 10%, money-market fund 5%, pension fund 10%
(assumption). The first six institutions take the six types in that order, so every
type is present when N ≥ 6.

**Sizes.** Total assets are Pareto, :math:`A = x_{\\min} s_{\\text{type}} (1 + X)`,
:math:`X \\sim \\text{Lomax}(\\alpha)`, with tail index :math:`\\alpha = 1.2`
(assumption: near the Zipf exponent of about 1 that Axtell (2001, "Zipf distribution of
U.S. firm sizes", Science 293) finds for firm sizes; heavier tails than 1.1 make one
institution the whole system for small N). :math:`x_{\\min} = 100` currency units
(100 USD m with the default currency); type scales :math:`s`: dealer 10, bank 1,
asset manager 1, money-market fund 2, hedge fund 0.5, pension fund 2 (assumption).
With N = 20,000 the largest institution is a few hundred USD bn.

**Leverage (equity / total assets), drawn uniformly per institution.** Banks 5-12%,
dealers 4-8%, hedge funds 5-20% (assumptions in the ranges of the brief; bank and dealer
levels straddle the 3-6% leverage-ratio levels below), asset managers 90-100%,
money-market funds 100% (no debt) and pension funds 85-100% (funds are financed by
their investors; assumption).

**Constraints.** Dealers and banks carry a leverage-ratio (SLR) constraint with minimum
3%, trigger 4-5% and target trigger + 0.5-1 pp, the ranges of the BoE / Oxford INET
system-wide stress test (BoE SWP 861: minimum 3%, buffer 4-5%, target 5-6%). A trigger at
or above the institution's own t0 ratio is lowered to 90% of it, so no one starts in
breach. Dealers keep 30-70% and banks 10-30% of each position in the trading book;
funds 100% (assumption). Asset managers' investors redeem with a flow-performance
``redemption_sensitivity`` of 0.5-2, money-market funds' of 1-3 (assumption).

**Cash.** Share of total assets: dealers and banks 3-8% (the INET test holds 5%), hedge
funds 5-15%, asset managers and pension funds 1-5%, money-market funds 0-5%
(assumption).

**Repo.** The debt of a hedge fund is all repo, of a dealer 30-60% repo, of a bank
10-20%, of a pension fund 50% (LDI-style; assumption); the rest is ``liabilities``.
Repo is secured pro rata on the institution's positions and never exceeds
``(1 - haircut) × quantity``; what the collateral cannot carry is moved to
``liabilities``. Money-market funds lend 20-40% of their assets in tri-party repo
(assumption), scaled down so that all lending is at most half of all repo borrowed.

**Assets.** The first seven assets take the classes treasury, corporate_ig, equity,
corporate_hy, agency_mbs, reserves, other; the rest are drawn with probabilities
reserves 2%, treasury 15%, agency_mbs 10%, corporate_ig 30%, corporate_hy 15%,
equity 25%, other 3% (assumption). By class (daily sigma0, repo haircut, daily turnover):
reserves (0.01%, 0, 0), treasury (0.4%, 2%, 2%), agency_mbs (0.5%, 3%, 1%),
corporate_ig (0.4%, 4%, 0.3%), corporate_hy (0.7%, 8%, 0.5%), equity (1.2%, 15%, 0.5%),
other (1%, 30%, 0). Haircuts of government bonds, corporates and equities are the BoE
SWP 861 values (2%, 4%, 15%); the rest, the volatilities (each asset's drawn
log-normally, ±20% around its class value) and the turnover are assumptions. Impact is
linear with depth :math:`D = c\\,M`, :math:`M` the asset's total holdings at t0, so that
selling 5% of the market moves its price 5% (c = 1; BoE SWP 861), half that for
government paper (treasury, agency_mbs: c = 2) and twice for equities (c = 1/2);
reserves have infinite depth. ``adv`` is turnover × M.

**Portfolios.** Each institution holds
:math:`m_i = 1 + \\text{Binomial}(K - 1, (dK - 1)/(K - 1))` distinct assets, so the mean
is :math:`dK` for density :math:`d` and density 1 holds everything (when
:math:`dK \\ge 1`; below that each holds one asset and the density is 1/K). Assets are
chosen without replacement (Gumbel top-k) with probability proportional to a
popularity :math:`\\pi_k \\sim 1 + \\text{Lomax}(1.5)` (heavy-tailed, so portfolios
overlap in the popular assets; assumption) times the type's preference for the asset's
class (money-market funds in reserves and Treasuries, hedge funds in Treasuries and
equities, asset and pension managers in corporates and equities; :data:`CLASS_PREFERENCE`).
Portfolio weights are Dirichlet with concentration ``diversification`` (1: flat; smaller:
concentrated in a few holdings; larger: close to equal weights), floored at 1e-6 of the
portfolio so every drawn position is held.

Not drawn: correlations (pairs are uncorrelated), market shares (dealers split flow by
size, the default), VaR limits, unsecured runs and derivatives.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from firesale.errors import ConfigError, Problem
from firesale.system import ASSET_CLASSES, INSTITUTION_TYPES, System

__all__ = ["CLASS_PREFERENCE", "TYPE_SHARES", "generate_system", "generate_tables", "generated_names", "other_tables",
           "write_generated"]

#: Probability of each institution type (assumption).
TYPE_SHARES = {"dealer": 0.05, "bank": 0.45, "asset_manager": 0.25, "money_market_fund": 0.05,
               "hedge_fund": 0.10, "pension_fund": 0.10}
#: Pareto tail index of total assets (assumption, near Axtell's 2001 Zipf exponent).
SIZE_TAIL = 1.2
#: Smallest total assets, in currency units, before the type scale.
SIZE_MIN = 100.0
_SIZE_SCALE = {"dealer": 10.0, "bank": 1.0, "asset_manager": 1.0, "money_market_fund": 2.0,
               "hedge_fund": 0.5, "pension_fund": 2.0}
#: Equity / total assets, uniform in (low, high).
EQUITY_RATIO = {"dealer": (0.04, 0.08), "bank": (0.05, 0.12), "asset_manager": (0.90, 1.0),
                "money_market_fund": (1.0, 1.0), "hedge_fund": (0.05, 0.20), "pension_fund": (0.85, 1.0)}
#: Cash / total assets, uniform in (low, high).
CASH_SHARE = {"dealer": (0.03, 0.08), "bank": (0.03, 0.08), "asset_manager": (0.01, 0.05),
              "money_market_fund": (0.0, 0.05), "hedge_fund": (0.05, 0.15), "pension_fund": (0.01, 0.05)}
#: Repo / debt, uniform in (low, high).
REPO_SHARE = {"dealer": (0.30, 0.60), "bank": (0.10, 0.20), "asset_manager": (0.0, 0.0),
              "money_market_fund": (0.0, 0.0), "hedge_fund": (1.0, 1.0), "pension_fund": (0.5, 0.5)}
#: Share of each position in the trading book, uniform in (low, high).
TRADING_SHARE = {"dealer": (0.3, 0.7), "bank": (0.1, 0.3)}
#: Flow-performance redemption sensitivity of funds, uniform in (low, high).
REDEMPTION_SENSITIVITY = {"asset_manager": (0.5, 2.0), "money_market_fund": (1.0, 3.0)}
#: Money-market funds' tri-party repo lending / total assets.
REPO_LENDING_SHARE = (0.20, 0.40)
#: SLR levels of dealers and banks (BoE SWP 861, BoE / Oxford INET).
SLR_MINIMUM = 0.03
SLR_TRIGGER = (0.04, 0.05)
SLR_BUFFER = (0.005, 0.01)

#: Class of each asset drawn beyond the first seven.
CLASS_SHARES = {"reserves": 0.02, "treasury": 0.15, "agency_mbs": 0.10, "corporate_ig": 0.30,
                "corporate_hy": 0.15, "equity": 0.25, "other": 0.03}
_FIRST_CLASSES = ("treasury", "corporate_ig", "equity", "corporate_hy", "agency_mbs", "reserves", "other")
#: Per class: daily sigma0, repo haircut, daily turnover (share of holdings), depth / holdings.
CLASS_PARAMS = {
    "reserves": (0.0001, 0.00, 0.000, math.inf),
    "treasury": (0.004, 0.02, 0.020, 2.0),
    "agency_mbs": (0.005, 0.03, 0.010, 2.0),
    "corporate_ig": (0.004, 0.04, 0.003, 1.0),
    "corporate_hy": (0.007, 0.08, 0.005, 1.0),
    "equity": (0.012, 0.15, 0.005, 0.5),
    "other": (0.010, 0.30, 0.000, 1.0),
}
#: Relative preference of each type for an asset of each class (columns in ASSET_CLASSES order).
CLASS_PREFERENCE = {
    #                  reserves treasury mbs   ig    hy    equity other
    "dealer":            (0.5,   3.0,   2.0,  2.0,  1.0,  1.0,  0.5),
    "bank":              (1.0,   3.0,   2.0,  2.0,  0.5,  0.2,  1.0),
    "asset_manager":     (0.1,   1.0,   1.0,  3.0,  2.0,  3.0,  0.2),
    "money_market_fund": (3.0,   5.0,   0.5,  0.5,  0.01, 0.01, 0.01),
    "hedge_fund":        (0.1,   3.0,   1.0,  0.5,  1.0,  3.0,  0.5),
    "pension_fund":      (0.1,   2.0,   1.0,  3.0,  0.5,  2.0,  0.5),
}
_POPULARITY_TAIL = 1.5
_WEIGHT_FLOOR = 1e-6
_SHOCK = -0.05
_CHUNK = 2048  # institutions per block of the (block, K) selection keys


def _check(n_institutions: int, n_assets: int, density: float, diversification: float) -> None:
    problems = []
    for flag, value in (("--institutions", n_institutions), ("--assets", n_assets)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            problems.append(Problem("FS140", f"{flag} {value}", "must be a whole number of at least 1: "
                                    f"e.g. {flag} 100"))
    if not (isinstance(density, (int, float)) and 0 < density <= 1):
        problems.append(Problem("FS141", f"--density {density}", "must be in (0, 1], the share of the "
                                "institution x asset pairs held: e.g. --density 0.01 for 1%"))
    if not (isinstance(diversification, (int, float)) and math.isfinite(diversification) and diversification > 0):
        problems.append(Problem("FS142", f"--diversification {diversification}", "must be a number above 0, "
                                "the Dirichlet concentration of portfolio weights: e.g. 1 (flat), 0.2 "
                                "(concentrated), 10 (near equal weights)"))
    if problems:
        raise ConfigError(problems)


def _uniform(rng: np.random.Generator, ranges: dict[str, tuple[float, float]], types: np.ndarray,
             default: float = 0.0) -> np.ndarray:
    """One uniform draw per institution from its type's range (``default`` for types not listed)."""
    u = rng.random(types.size)
    low = np.array([ranges.get(t, (default, default))[0] for t in INSTITUTION_TYPES])[types]
    high = np.array([ranges.get(t, (default, default))[1] for t in INSTITUTION_TYPES])[types]
    return low + (high - low) * u


def _choose_holdings(rng: np.random.Generator, types: np.ndarray, log_weight: np.ndarray,
                     counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of every holding: for institution i, ``counts[i]`` distinct assets drawn
    without replacement with probability proportional to ``exp(log_weight[type_i])`` (Gumbel
    top-k, in blocks of institutions)."""
    n, k = types.size, log_weight.shape[1]
    rows, cols = [], []
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        keys = log_weight[types[start:stop]] + rng.gumbel(size=(stop - start, k))
        m = counts[start:stop]
        top = int(m.max())
        if top < k:
            idx = np.argpartition(-keys, top - 1, axis=1)[:, :top]
        else:
            idx = np.broadcast_to(np.arange(k), keys.shape)
        order = np.argsort(-np.take_along_axis(keys, idx, axis=1), axis=1, kind="stable")
        idx = np.take_along_axis(idx, order, axis=1)
        keep = np.arange(top)[None, :] < m[:, None]
        r, c = np.nonzero(keep)
        rows.append(r + start)
        cols.append(idx[r, c])
    return np.concatenate(rows), np.concatenate(cols)


def generate_tables(
    n_institutions: int,
    n_assets: int,
    density: float,
    seed: int,
    *,
    diversification: float = 1.0,
) -> dict[str, Any]:
    """Draw a synthetic system as tables (pandas DataFrames), without building a System.

    Parameters
    ----------
    n_institutions : int
        N, at least 1.
    n_assets : int
        K, at least 1.
    density : float
        Share d of the N × K institution-asset pairs held, in (0, 1]; each institution holds
        on average dK assets (at least one).
    seed : int
        Seed of the numpy Generator: the same seed gives the same tables.
    diversification : float, optional
        Dirichlet concentration of the portfolio weights, above 0 (default 1: flat).

    Returns
    -------
    dict of str to pandas.DataFrame
        ``institutions``, ``assets``, ``holdings``, with the columns of
        :data:`firesale.schema.TABLES`; and ``shock``, the asset the default scenario marks
        down (a str). Amounts are in the currency unit given when the tables are read.

    Raises
    ------
    ConfigError
        N or K below 1, density outside (0, 1], diversification not above 0.

    Examples
    --------
    >>> t = generate_tables(20, 10, 0.3, seed=1)
    >>> len(t["institutions"]), len(t["assets"])
    (20, 10)
    """
    import pandas as pd

    _check(n_institutions, n_assets, density, diversification)
    n, k = int(n_institutions), int(n_assets)
    rng = np.random.default_rng(seed)

    # ---------------------------------------------------------------- assets
    classes = np.empty(k, dtype=np.int64)
    first = min(k, len(_FIRST_CLASSES))
    classes[:first] = [ASSET_CLASSES.index(c) for c in _FIRST_CLASSES[:first]]
    class_p = np.array([CLASS_SHARES[c] for c in ASSET_CLASSES])
    classes[first:] = rng.choice(len(ASSET_CLASSES), size=k - first, p=class_p / class_p.sum())
    popularity = 1.0 + rng.pareto(_POPULARITY_TAIL, size=k)
    params = np.array([CLASS_PARAMS[c] for c in ASSET_CLASSES])
    sigma0 = params[classes, 0] * np.exp(rng.uniform(np.log(0.8), np.log(1.2), size=k))

    # ---------------------------------------------------------------- institutions
    type_p = np.array([TYPE_SHARES[t] for t in INSTITUTION_TYPES])
    types = rng.choice(len(INSTITUTION_TYPES), size=n, p=type_p / type_p.sum())
    types[: min(n, len(INSTITUTION_TYPES))] = np.arange(min(n, len(INSTITUTION_TYPES)))
    scale = np.array([_SIZE_SCALE[t] for t in INSTITUTION_TYPES])[types]
    total = SIZE_MIN * scale * (1.0 + rng.pareto(SIZE_TAIL, size=n))
    equity_ratio = _uniform(rng, EQUITY_RATIO, types)
    cash = total * _uniform(rng, CASH_SHARE, types)
    is_mmf = types == INSTITUTION_TYPES.index("money_market_fund")
    lending = np.where(is_mmf, total * rng.uniform(*REPO_LENDING_SHARE, size=n), 0.0)
    securities = total - cash - lending

    # ---------------------------------------------------------------- portfolios
    extra = max(density * k - 1.0, 0.0) / (k - 1) if k > 1 else 0.0
    counts = 1 + rng.binomial(k - 1, extra, size=n)
    preference = np.array([CLASS_PREFERENCE[t] for t in INSTITUTION_TYPES])  # (types, classes)
    log_weight = np.log(preference[:, classes]) + np.log(popularity)[None, :]  # (types, K)
    rows, cols = _choose_holdings(rng, types, log_weight, counts)
    gamma = rng.gamma(diversification, size=rows.size)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    sums = np.add.reduceat(gamma, starts)
    weight = np.maximum(gamma / np.repeat(np.where(sums > 0, sums, 1.0), counts), _WEIGHT_FLOOR)
    weight /= np.repeat(np.add.reduceat(weight, starts), counts)
    quantity = securities[rows] * weight

    # ---------------------------------------------------------------- funding
    debt = total * (1.0 - equity_ratio)
    haircut = params[classes, 1]
    capacity = np.bincount(rows, weights=(1.0 - haircut[cols]) * quantity, minlength=n)
    wanted = debt * _uniform(rng, REPO_SHARE, types)
    repo_total = np.minimum(wanted, capacity * (1.0 - 1e-9))
    fill = np.divide(repo_total, capacity, out=np.zeros(n), where=capacity > 0)
    repo = fill[rows] * (1.0 - haircut[cols]) * quantity
    repo_total = np.bincount(rows, weights=repo, minlength=n)
    liabilities = np.maximum(debt - repo_total, 0.0)
    if lending.sum() > 0.5 * repo.sum():  # lending cannot exceed what is borrowed
        factor = 0.5 * repo.sum() / lending.sum()
        cash = cash + lending * (1.0 - factor)
        lending = lending * factor

    # ---------------------------------------------------------------- constraints
    names_t = np.array(INSTITUTION_TYPES)[types]
    has_slr = np.isin(names_t, ["dealer", "bank"])
    trigger = np.minimum(_uniform(rng, {"dealer": SLR_TRIGGER, "bank": SLR_TRIGGER}, types), 0.9 * equity_ratio)
    target = trigger + _uniform(rng, {"dealer": SLR_BUFFER, "bank": SLR_BUFFER}, types)
    trading = _uniform(rng, TRADING_SHARE, types, default=1.0)
    sensitivity = _uniform(rng, REDEMPTION_SENSITIVITY, types)

    width = len(str(n))
    inst_names = np.array([f"{t}_{i + 1:0{width}d}" for i, t in enumerate(names_t)], dtype=object)
    kw = len(str(k))
    class_names = np.array(ASSET_CLASSES)[classes]
    asset_names = np.array([f"{c}_{j + 1:0{kw}d}" for j, c in enumerate(class_names)], dtype=object)

    held = np.bincount(cols, weights=quantity, minlength=k)
    floor = held[held > 0].min() if (held > 0).any() else 1.0
    depth = params[classes, 3] * np.maximum(held, floor)
    adv = params[classes, 2] * held
    slr = np.where(has_slr, 1.0, np.nan)
    institutions = pd.DataFrame({
        "name": inst_names,
        "type": names_t,
        "cash": cash,
        "liabilities": liabilities,
        "slr_minimum": slr * SLR_MINIMUM,
        "slr_trigger": slr * trigger,
        "slr_target": slr * target,
        "repo_lending": lending,
        "redemption_sensitivity": sensitivity,
    })
    assets = pd.DataFrame({
        "name": asset_names,
        "class": class_names,
        "sigma0": sigma0,
        "adv": adv,
        "impact": "linear",
        "depth": depth,
        "haircut": haircut,
    })
    holdings = pd.DataFrame({
        "institution": inst_names[rows],
        "asset": asset_names[cols],
        "quantity": quantity,
        "trading_fraction": trading[rows],
        "repo": repo,
    })
    tradable = np.flatnonzero(~np.isin(class_names, ["reserves", "other"]) & (held > 0))
    risky = tradable[np.isin(class_names[tradable], ["corporate_hy", "corporate_ig", "equity"])]
    pool = risky if risky.size else tradable if tradable.size else np.flatnonzero(held > 0)
    shock = str(asset_names[pool[np.argmax(held[pool])]])
    return {"institutions": institutions, "assets": assets, "holdings": holdings, "shock": shock}


def _describe(n: int, k: int, density: float, seed: int, diversification: float) -> tuple[str, str]:
    name = f"synthetic_n{n}_k{k}_d{density:g}_s{seed}"
    text = (f"Synthetic system: {n} institutions, {k} assets, density {density:g}, diversification "
            f"{diversification:g}, seed {seed} (firesale generate)")
    return name, text


def generate_system(
    n_institutions: int,
    n_assets: int,
    density: float,
    seed: int,
    *,
    diversification: float = 1.0,
    currency: str = "USD m",
) -> System:
    """Draw a synthetic system (see the module notes) and validate it as a System.

    Parameters are those of :func:`generate_tables`; ``currency`` is the unit of the
    amounts. Building the System validates every row, which takes seconds for
    hundreds of thousands of holdings: use :func:`write_generated` for big systems.
    """
    tables = generate_tables(n_institutions, n_assets, density, seed, diversification=diversification)
    name, text = _describe(int(n_institutions), int(n_assets), density, seed, diversification)

    def records(frame: Any) -> list[dict[str, Any]]:
        return [{c: v for c, v in r.items() if not (isinstance(v, float) and math.isnan(v))}
                for r in frame.to_dict(orient="records")]

    return System.from_records(records(tables["institutions"]), records(tables["assets"]),
                               records(tables["holdings"]), name=name, currency=currency, description=text)


def write_generated(
    directory: str | Path,
    n_institutions: int,
    n_assets: int,
    density: float,
    seed: int,
    *,
    diversification: float = 1.0,
    currency: str = "USD m",
    fmt: str = "csv",
    force: bool = False,
) -> list[Path]:
    """Draw a synthetic system and write it as a directory of tables.

    Writes ``institutions``, ``assets`` and ``holdings`` (``.csv`` or ``.parquet``) and a
    ``scenario.toml`` with the name, description, currency and a default scenario (the
    most-held corporate or equity asset falls 5%), so the directory loads with
    :func:`firesale.data.load` and ``firesale validate DIR`` / ``firesale run DIR``.

    A directory that already holds files is refused unless ``force``; even then only the
    files listed above are written (overwritten), and nothing else in it is deleted: see
    :func:`other_tables` for files left there that a load would read too.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    ConfigError
        Bad sizes, density or diversification (see :func:`generate_tables`), an unknown
        format, ``directory`` is an existing file, or (without ``force``) an existing
        directory that is not empty (FS850).
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ConfigError(Problem("FS143", f"--out {directory}", "is a file, not a directory: give a new or "
                                  "existing directory for the tables"))
    if fmt not in ("csv", "parquet"):
        raise ConfigError(Problem("FS125", f"format {fmt!r}", "unknown table format: use 'csv' or 'parquet'"))
    if directory.is_dir() and not force:
        present = sorted(entry.name for entry in directory.iterdir())
        if present:
            shown = ", ".join(present[:5]) + (f" and {len(present) - 5} more" if len(present) > 5 else "")
            raise ConfigError(Problem(
                "FS850", f"--out {directory}",
                f"the folder already holds {len(present)} file(s) ({shown}): give a new or empty folder, or "
                f"--force to write into it (it overwrites only {', '.join(generated_names(fmt))} and deletes "
                "nothing)"))
    tables = generate_tables(n_institutions, n_assets, density, seed, diversification=diversification)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(Problem("FS143", f"--out {directory}", f"cannot create the directory ({err}): "
                                  "choose another path")) from None
    paths = []
    for table in ("institutions", "assets", "holdings"):
        path = directory / f"{table}.{fmt}"
        if fmt == "parquet":
            tables[table].to_parquet(path, index=False)
        else:
            tables[table].to_csv(path, index=False)
        paths.append(path)
    name, text = _describe(int(n_institutions), int(n_assets), density, seed, diversification)
    scenario = directory / "scenario.toml"
    shock = tables["shock"]
    toml = json.dumps  # a JSON string is a TOML basic string
    scenario.write_text(
        f"name = {toml(name)}\ndescription = {toml(text)}\ncurrency = {toml(currency)}\n\n"
        f"[scenario]\nname = {toml(shock + '_down_5pct')}\ndescription = {toml(shock + ' falls 5%')}\n\n"
        f"[[scenario.shocks]]\nasset = {toml(shock)}\nprice = {_SHOCK}\n",
        encoding="utf-8",
    )
    paths.append(scenario)
    return paths


def generated_names(fmt: str = "csv") -> list[str]:
    """The names of the files :func:`write_generated` writes in ``fmt``."""
    return [f"{table}.{fmt}" for table in ("institutions", "assets", "holdings")] + ["scenario.toml"]


def other_tables(directory: str | Path, fmt: str = "csv") -> list[Path]:
    """Files in ``directory`` that :func:`write_generated` did not write but a load of the
    directory reads with its tables: the other format's ``institutions``, ``assets`` or
    ``holdings`` (which make the table ambiguous), and ``correlations`` or ``market_shares``
    of another system. ``write_generated`` never deletes them (``--force`` leaves them)."""
    directory = Path(directory)
    other = "parquet" if fmt == "csv" else "csv"
    names = [f"{table}.{other}" for table in ("institutions", "assets", "holdings")]
    names += [f"{table}.{suffix}" for table in ("correlations", "market_shares") for suffix in ("csv", "parquet")]
    return [directory / name for name in names if (directory / name).exists()]
