"""Sweeps: many scenarios of one system, run in batches over an executor, streamed into the run store.

A sweep expands one base scenario (a preset's) into many, either on a **grid** of
parameter values or by **Monte Carlo** draws of its shocks, cuts them into batches on the
scenario axis and maps :func:`run_batch` over a :class:`concurrent.futures.Executor`:
in-process (:class:`InlineExecutor`), a :class:`~concurrent.futures.ProcessPoolExecutor`,
or a Dask ``distributed`` client (:func:`dask_executor`, a ``LocalCluster`` when no
scheduler address is given). Every finished batch is recorded in the run store at once,
keyed by the sweep's content hash and the batch index, so rerunning the same sweep skips
the batches already stored, also after the sweep was killed (the serial executor runs one
batch at a time and records it before starting the next); a batch whose worker process
dies is run again, and a local cluster whose worker dies while it starts is started again
(FS962 after :func:`dask_executor`'s ``start_attempts``).

**Parameters a grid can sweep** (``--grid PARAM=LO:HI:N``)

- any dotted numeric field of the scenario, e.g. ``market.execution_alpha``,
  ``policy.all_to_all``, ``max_rounds`` (see ``firesale validate --schema``);
- ``shock.ASSET.price``, ``shock.ASSET.client_sale`` or ``shock.ASSET.volatility``: the
  ASSET's round-0 shock of that kind is given the value (added when the base has none);
- a parameter path of :mod:`firesale.parameters`: ``scenario.shocks.J.FIELD`` (the J-th shock),
  or a field of the system, ``asset.NAME.FIELD``, ``class.CLASS.FIELD``,
  ``institution.NAME.FIELD``, ``type.TYPE.FIELD`` or ``group.GROUP.FIELD`` (each value is its
  own system: :func:`firesale.parameters.apply_parameters`).

Several ``--grid`` axes make their product; the last axis varies fastest.

**Monte Carlo** (``--monte-carlo N --seed S``). Every shock of the base scenario that
has a ``price`` or a ``client_sale`` is scaled by its own lognormal factor
:math:`F = \\exp(\\sigma Z - \\sigma^2 / 2)`, :math:`Z \\sim N(0, 1)`, mean 1, with
:math:`\\sigma` = :data:`MC_SIGMA`: a price return :math:`r` becomes
:math:`(1 + r)^F - 1` (its log-return scaled by :math:`F`, so it stays above -100%), a
client sale :math:`c` becomes :math:`c F`. Scenario :math:`i` draws from
``numpy.random.SeedSequence(S, spawn_key=(i,))`` (the :math:`i`-th child of
``SeedSequence(S).spawn``), so its draws depend on the seed and its index alone, never on
the batch size or the number of workers: a sweep run serially equals the same sweep run
in parallel, scenario for scenario, bit for bit.

**Parameter uncertainty** (``--parameters``, or ``--parameter NAME``, repeatable). With a
Monte Carlo, each scenario also draws the preset's ``[[parameters]]`` (all of them, or those
named), independently: :math:`\\theta = a + (b - a) U` on a linear scale,
:math:`\\theta = a (b / a)^U` on a log scale, :math:`U \\sim U[0, 1)`, :math:`[a, b]` the row's
``[low, high]``. The uniforms come from the scenario's own generator after its normals, so
the shock factors do not change when parameters are added, and the draws still depend on
the seed and the index alone. A parameter on a shock's field (``scenario.shocks.J.price``)
replaces that shock's lognormal factor. Scenario parameters run as one batch; a system
parameter makes a system per distinct value set, and the batch runs each system's scenarios
in one :func:`firesale.simulate` call. The drawn values are variables of the summaries
(dim ``scenario``) and of each batch's store record (``values``).

**Bands.** For every asset the summaries hold ``price_band``, the 5%, 50% and 95% quantiles
over scenarios of the price path in each round (fraction of the t0 price; linear
interpolation, as ``numpy.quantile``), and for every bond with a ``duration``
:math:`D` ``yield_change_band``, the same quantiles of the yield change
:math:`\\Delta y_t = -\\ln(p_t) / D \\times 10^4` bp (first-order duration approximation,
the integral of :math:`dp / p = -D\\, dy`; Hull, *Options, Futures, and Other
Derivatives*, ch. 4, "Duration"), computed scenario by scenario (a drawn duration
counts). A scenario that stops early keeps its last price in later rounds.

**Loss distribution.** The system loss of a scenario is
:math:`L = \\sum_i (E_i^0 - E_i^T - C_i^T)` (initial equity less final equity less capital
paid out, as in :func:`firesale.analytics.amplification.summarize`). :func:`loss_distribution`
reports its mean, :math:`\\mathrm{VaR}_{99}` (the 99% quantile, linear interpolation),
:math:`\\mathrm{ES}_{99}` (the mean of the losses at or above it) and the probability that
at least one institution defaults.

**Store records.** Each batch is one record of kind ``sweep`` made by
:meth:`firesale.store.RunStore.record_replication`: its summary holds ``sweep_hash``,
``batch`` and ``scenarios`` (the batch's indices), and ``columns``, the per-scenario
numbers. A sweep is complete when every batch index has a record with its hash.

Dask (``distributed``) is imported here only, and only when a Dask executor is asked for.

Examples
--------
>>> spec = SweepSpec("dealer_prime", grid=(parse_grid("shock.corporates.price=-0.06:-0.02:3"),), batch_size=2)
>>> result = run_sweep(spec)
>>> result.summaries.sizes["scenario"], result.batches_run
(3, 2)
>>> [round(v, 3) for v in result.summaries["shock.corporates.price"].values.tolist()]
[-0.06, -0.04, -0.02]
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import math
import numbers
import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from firesale.analytics.outcomes import OUTCOME_VARIABLES
from firesale.engine.kernels import KERNEL_NAMES
from firesale.errors import ConfigError, Problem

if TYPE_CHECKING:
    import xarray as xr

    from firesale.parameters import ParameterRange
    from firesale.scenario import Scenario
    from firesale.store import RunStore
    from firesale.system import System

__all__ = [
    "BAND_QUANTILES",
    "MC_SIGMA",
    "MEMORY_FRACTION",
    "SHOCK_FIELDS",
    "TEST_HOLD_ENV",
    "TEST_KILL_ENV",
    "GridAxis",
    "InlineExecutor",
    "SweepResult",
    "SweepSpec",
    "check_batch_memory",
    "dask_executor",
    "estimate_scenario_bytes",
    "band_table",
    "falls_most",
    "has_dask",
    "loss_distribution",
    "parse_grid",
    "process_executor",
    "resolve_parameters",
    "run_batch",
    "run_sweep",
    "scenario_values",
]

#: Log-volatility of the Monte Carlo scale factors of the base scenario's shocks.
MC_SIGMA = 0.5
#: Quantiles over scenarios of the price and yield-change bands (5%, median, 95%).
BAND_QUANTILES = (0.05, 0.5, 0.95)
#: A batch may use at most this share of the memory available when the sweep starts.
MEMORY_FRACTION = 0.5
#: Shock fields a ``shock.ASSET.FIELD`` grid parameter can set.
SHOCK_FIELDS = ("price", "client_sale", "volatility")
#: **Test only.** Names a file holding a batch index k; the worker process that starts
#: batch k first renames the file away and exits with ``os._exit(1)``, as if it were
#: killed. Only worker processes obey it, never the process that drives the sweep.
TEST_KILL_ENV = "FIRESALE_SWEEP_TEST_KILL"
#: **Test only.** Names a file holding a batch index k; whichever process runs batch k
#: (the driving process of a serial sweep too) waits while the file exists (at most
#: :data:`_TEST_HOLD_S` seconds) before running it, so that a test can kill a sweep at a
#: known point: every batch but k finished (and stored), k not.
TEST_HOLD_ENV = "FIRESALE_SWEEP_TEST_HOLD"
_TEST_HOLD_S = 300.0
_MAX_ROUNDS_OF_ATTEMPTS = 3


# --------------------------------------------------------------------------- the specification
@dataclasses.dataclass(frozen=True)
class GridAxis:
    """One grid axis: ``n`` values from ``lo`` to ``hi`` (both included) of ``param``."""

    param: str
    lo: float
    hi: float
    n: int

    @property
    def values(self) -> np.ndarray:
        """The axis values, ``numpy.linspace(lo, hi, n)``."""
        return np.linspace(self.lo, self.hi, self.n)


def parse_grid(text: str) -> GridAxis:
    """A grid axis from ``PARAM=LO:HI:N``.

    Raises
    ------
    ConfigError
        Not of that form, ``HI < LO``, or ``N < 1`` (``N = 1`` needs ``LO == HI``).

    Examples
    --------
    >>> parse_grid("market.execution_alpha=0.5:1.5:3").values.tolist()
    [0.5, 1.0, 1.5]
    """
    param, sep, rest = text.partition("=")
    parts = rest.split(":")
    where = f"--grid {text}"
    try:
        if not sep or not param.strip() or len(parts) != 3:
            raise ValueError
        lo, hi, n_text = float(parts[0]), float(parts[1]), parts[2].strip()
        n = int(n_text)
    except ValueError:
        raise ConfigError(Problem("FS950", where, "write PARAM=LO:HI:N, e.g. shock.corp_hy.price=-0.10:-0.02:9")) from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ConfigError(Problem("FS950", where, "LO and HI must be finite numbers"))
    if hi < lo:
        raise ConfigError(Problem("FS951", where, f"HI = {hi:g} is below LO = {lo:g}: write the smaller bound "
                                  f"first ({param.strip()}={hi:g}:{lo:g}:{n})"))
    if n < 1:
        raise ConfigError(Problem("FS952", where, f"N = {n} scenarios on this axis: give N of 1 or more"))
    if n == 1 and hi != lo:
        raise ConfigError(Problem("FS951", where, "one point needs LO == HI; give N of 2 or more for a range"))
    return GridAxis(param.strip(), lo, hi, n)


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    """What a sweep runs: a target, a grid or a Monte Carlo draw, and the batch size.

    Parameters
    ----------
    target : str
        Preset name, preset ``.toml`` file or directory of tables (its scenario is the base).
    grid : tuple of GridAxis
        Axes of a grid sweep (their product, last fastest). Empty for Monte Carlo.
    monte_carlo : int, optional
        Number of Monte Carlo scenarios (exclusive with ``grid``).
    seed : int
        Root seed of the Monte Carlo draws.
    batch_size : int
        Scenarios per batch (one :func:`firesale.simulate` call).
    sigma : float
        Log-volatility of the Monte Carlo scale factors (:data:`MC_SIGMA`).
    parameters : tuple of str or ParameterRange
        Monte Carlo only: parameters each scenario also draws, by name (a row of the
        preset's ``[[parameters]]``) or as a :class:`~firesale.parameters.ParameterRange`.
    all_parameters : bool
        Monte Carlo only: draw every row of the preset's ``[[parameters]]`` (and ``parameters``).
    kernels : {"numpy", "numba"}
        What runs the engine's passes over positions (:func:`firesale.simulate`).
    """

    target: str
    grid: tuple[GridAxis, ...] = ()
    monte_carlo: int | None = None
    seed: int = 0
    batch_size: int = 100
    sigma: float = MC_SIGMA
    parameters: tuple[Any, ...] = ()
    all_parameters: bool = False
    kernels: str = "numpy"

    def __post_init__(self) -> None:
        if self.grid and self.monte_carlo is not None:
            raise ConfigError(Problem("FS953", "sweep", "give --grid or --monte-carlo, not both"))
        if not self.grid and self.monte_carlo is None:
            raise ConfigError(Problem("FS953", "sweep", "nothing to sweep: give --grid PARAM=LO:HI:N (repeatable) or "
                                      "--monte-carlo N --seed S"))
        if self.monte_carlo is not None and self.monte_carlo < 1:
            raise ConfigError(Problem("FS952", f"--monte-carlo {self.monte_carlo}",
                                      "zero scenarios to run: give N of 1 or more"))
        if self.monte_carlo is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral)
                                             or self.seed < 0):
            raise ConfigError(Problem("FS953", f"--seed {self.seed}", "give a seed of 0 or more (a whole number): "
                                      "numpy's SeedSequence takes no negative seeds"))
        if self.batch_size < 1:
            raise ConfigError(Problem("FS954", f"--batch {self.batch_size}", "give a batch of 1 scenario or more"))
        if not (self.sigma >= 0 and math.isfinite(self.sigma)):
            raise ConfigError(Problem("FS953", f"sigma {self.sigma}", "give a finite log-volatility of 0 or more"))
        if self.kernels not in KERNEL_NAMES:
            raise ConfigError(Problem("FS207", f"--kernels {self.kernels}",
                                      f"unknown kernels: choose {' or '.join(KERNEL_NAMES)}"))
        if (self.parameters or self.all_parameters) and self.monte_carlo is None:
            raise ConfigError(Problem("FS963", "--parameters/--parameter", "parameters are drawn in a Monte Carlo "
                                      "only: add --monte-carlo N --seed S, or sweep a parameter on a grid (--grid "
                                      "asset.NAME.FIELD=LO:HI:N)"))

    @property
    def n_scenarios(self) -> int:
        """Scenarios in the sweep."""
        if self.monte_carlo is not None:
            return int(self.monte_carlo)
        return int(np.prod([axis.n for axis in self.grid], dtype=object))

    @property
    def params(self) -> list[str]:
        """Names of the varied parameters (Monte Carlo: ``shock[j].price`` / ``shock[j].client_sale``)."""
        return [axis.param for axis in self.grid]

    def batches(self) -> list[range]:
        """Scenario indices of each batch."""
        n, b = self.n_scenarios, self.batch_size
        return [range(start, min(start + b, n)) for start in range(0, n, b)]

    @property
    def ranges(self) -> tuple[ParameterRange, ...]:
        """The drawn parameters' ranges (after :func:`resolve_parameters`; names are skipped)."""
        from firesale.parameters import ParameterRange

        return tuple(p for p in self.parameters if isinstance(p, ParameterRange))

    def as_params(self) -> dict[str, Any]:
        """The spec as JSON-ready parameters (what the content hash covers)."""
        out = {"kind": "sweep", "grid": [dataclasses.asdict(a) for a in self.grid], "monte_carlo": self.monte_carlo,
               "seed": self.seed if self.monte_carlo is not None else None, "batch_size": self.batch_size,
               "sigma": self.sigma if self.monte_carlo is not None else None}
        if self.parameters or self.all_parameters:  # absent otherwise: a sweep without them keeps its hash
            out["parameters"] = [p.model_dump() if hasattr(p, "model_dump") else str(p) for p in self.parameters]
            if self.all_parameters:
                out["all_parameters"] = True
        if self.kernels != "numpy":  # absent otherwise: a sweep on the reference kernels keeps its hash
            out["kernels"] = self.kernels
        return out


def resolve_parameters(spec: SweepSpec, declared: Sequence[ParameterRange], system: System | None = None,
                       base: Scenario | None = None) -> SweepSpec:
    """The spec with its parameters as ranges: every row of ``declared`` (the preset's
    ``[[parameters]]``) under ``all_parameters``, and each name looked up there, in that
    order, each once; ranges given directly are checked against the system and scenario.

    Raises
    ------
    ConfigError
        A name the preset does not declare (FS964, with the declared names), or a range
        whose path names nothing in the system or scenario (FS163-FS165) or whose bound
        the field refuses (FS168).
    """
    from firesale.parameters import ParameterRange, _resolve, apply_parameters

    if not spec.parameters and not spec.all_parameters:
        return spec
    by_name = {p.name: p for p in declared}
    chosen: dict[str, ParameterRange] = {}
    if spec.all_parameters:
        if not declared:
            raise ConfigError(Problem("FS964", f"--parameters on {spec.target}", "the preset declares no "
                                      "[[parameters]]: add rows (name, low, high, source) to it, or leave out "
                                      "--parameters"))
        chosen.update(by_name)
    for p in spec.parameters:
        if isinstance(p, ParameterRange):
            _resolve(p.name, system, base)
            if system is not None and base is not None:  # both bounds must be values the field takes
                for bound in (p.low, p.high):
                    apply_parameters(system, base, {p.name: bound})
            chosen[p.name] = p
        elif str(p) in by_name:
            chosen.setdefault(str(p), by_name[str(p)])
        else:
            from firesale.errors import did_you_mean

            known = ", ".join(by_name) or "none: add [[parameters]] rows (name, low, high, source) to the preset"
            raise ConfigError(Problem("FS964", f"--parameter {p}", f"the preset {spec.target} declares no parameter "
                                      f"{str(p)!r}.{did_you_mean(p, by_name)} Declared: {known}"))
    return dataclasses.replace(spec, parameters=tuple(chosen.values()), all_parameters=False)


# --------------------------------------------------------------------------- scenarios
def _mc_shocks(base: Scenario, spec: SweepSpec | None = None) -> list[tuple[int, str]]:
    """(shock position, field) of every shock the Monte Carlo scales: those with a price
    or client sale that no drawn parameter sets (``scenario.shocks.J.FIELD``)."""
    drawn = {p.name for p in spec.ranges} if spec is not None else set()
    return [(j, field) for j, shock in enumerate(base.shocks) for field in ("price", "client_sale")
            if getattr(shock, field) is not None and f"scenario.shocks.{j}.{field}" not in drawn]


def _mc_names(base: Scenario, spec: SweepSpec | None = None) -> list[str]:
    """The Monte Carlo's varied values: the scaled shocks, then the drawn parameters."""
    return [f"shock[{j}].{field}" for j, field in _mc_shocks(base, spec)] + \
        [p.name for p in (spec.ranges if spec is not None else ())]


def scenario_values(spec: SweepSpec, base: Scenario, indices: Sequence[int]) -> np.ndarray:
    """The varied values of the scenarios ``indices``, shape (len(indices), P).

    Grid: the axis values of each index (``numpy.unravel_index`` over the axes, last
    fastest). Monte Carlo: each scaled shock's price return or client sale, then each
    drawn parameter (``spec.ranges``: uniform or log-uniform in ``[low, high]``), drawn
    from the scenario's own ``SeedSequence(seed, spawn_key=(index,))``: the normals of the
    shock factors first, the parameters' uniforms after them.
    """
    indices = np.asarray(indices, dtype=np.int64)
    if spec.grid:
        positions = np.unravel_index(indices, tuple(a.n for a in spec.grid))
        return np.column_stack([axis.values[pos] for axis, pos in zip(spec.grid, positions)]).astype(float)
    targets = _mc_shocks(base, spec)
    ranges = spec.ranges
    low, high = np.array([p.low for p in ranges]), np.array([p.high for p in ranges])
    log = np.array([p.scale == "log" for p in ranges], dtype=bool)
    out = np.empty((len(indices), len(targets) + len(ranges)))
    for row, index in enumerate(indices):
        rng = np.random.default_rng(np.random.SeedSequence(spec.seed, spawn_key=(int(index),)))
        z = rng.standard_normal(len(targets))
        factor = np.exp(spec.sigma * z - spec.sigma**2 / 2)
        for col, (j, field) in enumerate(targets):
            value = getattr(base.shocks[j], field)
            out[row, col] = np.expm1(np.log1p(value) * factor[col]) if field == "price" else value * factor[col]
        if ranges:
            out[row, len(targets):] = _uniform_draws(rng.random(len(ranges)), low, high, log)
    return out


def _uniform_draws(u: np.ndarray, low: np.ndarray, high: np.ndarray, log: np.ndarray) -> np.ndarray:
    """``low + (high - low) u``, or ``low (high / low)^u`` where ``log``; kept in ``[low, high]``."""
    draws = low + (high - low) * u
    if log.any():  # low > 0 on a log scale (ParameterRange checks it)
        a, b = np.where(log, low, 1.0), np.where(log, high, 1.0)
        draws = np.where(log, a * np.exp(u * np.log(b / a)), draws)
    return np.clip(draws, low, high)


def _shock_at(base_data: dict[str, Any], param: str, value: float) -> None:
    """Set ``scenario.shocks.J.FIELD`` (the J-th shock's field) in a scenario's data."""
    from firesale.scenario import Shock

    parts = param.removeprefix("scenario.").split(".")
    shocks = base_data["shocks"]
    fields = [f for f, info in Shock.model_fields.items() if info.annotation == float | None]
    if len(parts) != 3 or not parts[1].isdigit() or int(parts[1]) >= len(shocks) or parts[2] not in fields:
        raise ConfigError(Problem("FS955", param, f"write scenario.shocks.J.FIELD with J a shock's position (0 to "
                                  f"{len(shocks) - 1}) and FIELD one of {', '.join(fields)}"))
    shocks[int(parts[1])][parts[2]] = value


def _with_shock(base_data: dict[str, Any], asset: str, field: str, value: float) -> None:
    shocks = base_data["shocks"]
    hits = [s for s in shocks if s.get("asset") == asset and s.get("round", 0) == 0 and s.get(field) is not None]
    for s in hits:
        s[field] = value
    if not hits:
        shocks.append({"asset": asset, field: value, "round": 0})


def build_scenarios(base: Scenario, params: Sequence[str], values: np.ndarray, indices: Sequence[int],
                    system: System | None = None) -> list[Scenario]:
    """The scenarios of one batch: ``base`` with each row of ``values`` set.

    ``params`` are grid parameters (dotted fields, ``scenario.shocks.J.FIELD`` or
    ``shock.ASSET.FIELD``), the Monte Carlo names ``shock[j].FIELD`` or scenario parameter
    paths (``scenario.FIELD...``); system paths go to :func:`_systems` instead. Each
    scenario is named ``sweep_<index>``.

    Raises
    ------
    ConfigError
        An unknown field or asset (with the valid names), or a value out of range.
    """
    from firesale.scenario import parse_scenario

    assets = None if system is None else list(system.asset_names)
    out = []
    for index, row in zip(indices, values):
        data = base.model_dump()
        data["shocks"] = [dict(s) for s in data["shocks"]]
        data["name"] = f"sweep_{int(index)}"
        dotted: dict[str, Any] = {}
        for param, value in zip(params, row.tolist()):
            if param.startswith("shock["):
                j, field = param[len("shock["):].split("].")
                data["shocks"][int(j)][field] = value
            elif param.removeprefix("scenario.").startswith("shocks."):
                _shock_at(data, param, value)
            elif param.startswith("shock."):
                _, asset, field = (param.split(".") + ["", ""])[:3]
                if field not in SHOCK_FIELDS or param.count(".") != 2:
                    raise ConfigError(Problem("FS955", f"--grid {param}", "write shock.ASSET.FIELD with FIELD one of "
                                              + ", ".join(SHOCK_FIELDS)))
                if assets is not None and asset not in assets:
                    from firesale.errors import did_you_mean

                    raise ConfigError(Problem("FS955", f"--grid {param}", f"unknown asset {asset!r}.{did_you_mean(asset, assets)} "
                                              f"Assets: {', '.join(assets)}"))
                _with_shock(data, asset, field, value)
            else:
                dotted[param.removeprefix("scenario.")] = value
        scenario = parse_scenario(data, source="sweep")
        out.append(scenario.updated(**dotted) if dotted else scenario)
    return out


# --------------------------------------------------------------------------- one batch
def _hook_file(env: str, batch: int) -> str | None:
    """The file a test hook's environment variable names, when it names this batch."""
    path = os.environ.get(env)
    if not path:
        return None
    try:
        with open(path) as handle:
            wanted = int(handle.read().strip())
    except (OSError, ValueError):
        return None
    return path if wanted == batch else None


def _test_kill_hook(batch: int) -> None:
    import multiprocessing

    if multiprocessing.parent_process() is None:  # never the driving process
        return
    path = _hook_file(TEST_KILL_ENV, batch)
    if path is None:
        return
    try:
        os.rename(path, f"{path}.fired.{os.getpid()}")  # one worker claims it, once
    except OSError:
        return
    os._exit(1)


def _test_hold_hook(batch: int) -> None:
    path = _hook_file(TEST_HOLD_ENV, batch)
    if path is None:
        return
    deadline = time.monotonic() + _TEST_HOLD_S
    while os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.02)


#: The per-round variables a sweep's summaries read (the headline outcomes' and the price
#: paths'): a batch keeps only these.
SUMMARY_VARIABLES = OUTCOME_VARIABLES


def _summaries(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """Per-scenario headline numbers of a batch, vectorised (same definitions as ``summarize``)."""
    from firesale.analytics.outcomes import outcome_values

    headline = outcome_values(ds, ("total_loss", "forced_sales", "defaults", "breaches"))
    out = {
        "total_loss": headline["total_loss"],
        "initial_loss": ds.initial_loss.values.astype(float),
        "forced_sales": headline["forced_sales"],
        "defaults": headline["defaults"].astype(np.int64),
        "breaches": headline["breaches"].astype(np.int64),
        "rounds": ds.rounds.values.astype(np.int64),
    }
    trough = (ds.price.min("round") - 1.0).values
    price = ds.price.values.astype(float)
    duration = ds.duration.values if "duration" in ds.coords else np.full(ds.sizes["asset"], np.nan)
    for k, asset in enumerate(ds.asset.values):
        out[f"price_trough.{asset}"] = trough[:, k].astype(float)
        out[f"price_path.{asset}"] = price[:, :, k]
        if np.isfinite(duration[k]):
            out[f"yield_path.{asset}"] = -np.log(price[:, :, k]) / duration[k] * 1e4
    return out


#: Per-scenario columns over rounds (shape (S, R)): the paths the bands are taken over.
_PATH_PREFIXES = ("price_path.", "yield_path.")


def _pad_rounds(column: np.ndarray, rounds: int) -> np.ndarray:
    """A path column (S, R) carried to ``rounds`` rounds, each row keeping its last value
    (a run that stopped keeps its prices)."""
    if column.ndim != 2 or column.shape[1] >= rounds:
        return column
    return np.concatenate([column, np.repeat(column[:, -1:], rounds - column.shape[1], axis=1)], axis=1)


def _stack(parts: Sequence[dict[str, np.ndarray]], rows: Sequence[np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Columns of several parts as one: concatenated, or scattered to ``rows`` (the
    positions of each part's scenarios). Paths are carried to the longest part's rounds;
    a yield path a part lacks (an asset without a duration there) is NaN."""
    keys = list(dict.fromkeys(k for part in parts for k in part))
    sizes = [len(next(iter(part.values()))) for part in parts]
    rounds = max((part[k].shape[1] for part in parts for k in part if k.startswith(_PATH_PREFIXES)), default=0)
    out = {}
    for key in keys:
        pieces = []
        for part, size in zip(parts, sizes):
            if key in part:
                pieces.append(_pad_rounds(np.asarray(part[key]), rounds) if key.startswith(_PATH_PREFIXES)
                              else np.asarray(part[key]))
            else:
                pieces.append(np.full((size, rounds) if key.startswith(_PATH_PREFIXES) else size, np.nan))
        whole = np.concatenate(pieces)
        if rows is not None:
            order = np.argsort(np.concatenate(rows), kind="stable")
            whole = whole[order]
        out[key] = whole
    return out


def _systems(system: System, base: Scenario, params: Sequence[str], values: np.ndarray,
             indices: Sequence[int]) -> list[tuple[System, list[Scenario], np.ndarray]]:
    """The batch as ``(system, scenarios, rows)`` groups: one group over ``system`` when no
    parameter changes the system, else one per distinct set of the system parameters'
    values (their system from :func:`firesale.parameters.apply_parameters`), ``rows``
    the positions of its scenarios in the batch."""
    from firesale.parameters import apply_parameters, changes_system

    indices = np.asarray(indices, dtype=np.int64)
    values = np.asarray(values, dtype=float).reshape(len(indices), len(params))
    on_system = [j for j, p in enumerate(params) if changes_system(p)]
    on_scenario = [j for j in range(len(params)) if j not in on_system]
    names = [params[j] for j in on_scenario]
    if not on_system:
        return [(system, build_scenarios(base, names, values, indices, system), np.arange(len(indices)))]
    keys, inverse = np.unique(values[:, on_system], axis=0, return_inverse=True)
    out = []
    for g, key in enumerate(keys):
        rows = np.flatnonzero(inverse.ravel() == g)
        drawn, _ = apply_parameters(system, base, {params[j]: float(v) for j, v in zip(on_system, key)})
        out.append((drawn, build_scenarios(base, names, values[np.ix_(rows, on_scenario)], indices[rows], drawn), rows))
    return out


def run_batch(system: System, base: Scenario, params: Sequence[str], values: np.ndarray | SweepSpec,
              indices: Sequence[int], batch: int, kernels: str = "numpy",
              threads: int | None = None) -> dict[str, np.ndarray]:
    """Build and simulate one batch; its per-scenario summaries (column name → array;
    ``price_path.ASSET`` and, for a bond, ``yield_path.ASSET`` of shape (scenarios, rounds)).
    System parameters among ``params`` make a system per distinct value set, each running
    its scenarios as one batch (:func:`_systems`).

    ``values`` are the batch's varied values, or the sweep's spec to draw them from
    (:func:`scenario_values`), so that workers draw them in parallel; drawn values come
    back under the key ``DRAWN``. A plain function of its arguments, so any executor can
    run it (process pools and Dask pickle it by reference). ``threads``: as
    :func:`~firesale.simulation.simulate` takes it; one in a worker process, which shares
    the cores with the other workers.
    """
    from firesale.simulation import simulate

    _test_kill_hook(batch)
    _test_hold_hook(batch)
    drawn = isinstance(values, SweepSpec)
    if drawn:
        values = scenario_values(values, base, indices)
    groups = _systems(system, base, params, values, indices)
    parts = [_summaries(simulate(group, scenarios, detail=False, variables=SUMMARY_VARIABLES, kernels=kernels,
                                 threads=threads)) for group, scenarios, _ in groups]
    columns = parts[0] if len(parts) == 1 else _stack(parts, [rows for *_, rows in groups])
    return {**columns, DRAWN: values} if drawn else columns


#: Key of the values a worker drew in :func:`run_batch`'s result.
DRAWN = "_drawn_values"


# --------------------------------------------------------------------------- memory
def estimate_scenario_bytes(system: System, base: Scenario) -> int:
    """Bytes one scenario needs while its batch runs: the result arrays a sweep keeps
    (:data:`SUMMARY_VARIABLES` and those without a round), at ``max_rounds`` rounds and
    8 bytes a value, three times (the engine's state, the Dataset, its copies)."""
    from firesale.results import RESULT_VARIABLES

    sizes = {"scenario": 1, "round": base.max_rounds + 1, "institution": system.n_institutions,
             "asset": system.n_assets, "channel": 8}
    total = 0
    for name, (dims, *_) in RESULT_VARIABLES.items():
        if {"institution", "asset"} <= set(dims) or ("round" in dims and name not in SUMMARY_VARIABLES):
            continue
        total += 8 * int(np.prod([sizes.get(d, 1) for d in dims]))
    return 3 * total


def _available_memory() -> int:
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        with contextlib.suppress(OSError, ValueError, StopIteration):
            with open("/proc/meminfo") as handle:
                line = next(line for line in handle if line.startswith("MemAvailable:"))
            return int(line.split()[1]) * 1024
    return 8 * 2**30


def check_batch_memory(system: System, base: Scenario, batch_size: int, available: int | None = None) -> int:
    """The estimated bytes of one batch; ConfigError (with the estimate) when it exceeds
    :data:`MEMORY_FRACTION` of the available memory."""
    per = estimate_scenario_bytes(system, base)
    need = per * batch_size
    available = _available_memory() if available is None else available
    if need > MEMORY_FRACTION * available:
        fits = max(1, int(MEMORY_FRACTION * available // per))
        raise ConfigError(Problem(
            "FS956", f"--batch {batch_size}",
            f"a batch would need about {need / 2**30:,.1f} GiB ({per / 2**10:,.0f} KiB a scenario), more than "
            f"{MEMORY_FRACTION:.0%} of the {available / 2**30:,.1f} GiB available: give --batch {min(fits, 10_000)} or less"))
    return need


# --------------------------------------------------------------------------- executors
class InlineExecutor(cf.Executor):
    """Runs each task at once in the calling process (the serial sweep)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(err)
        return future


@contextlib.contextmanager
def process_executor(workers: int) -> Iterator[cf.Executor]:
    """A :class:`~concurrent.futures.ProcessPoolExecutor` of ``workers`` processes."""
    with cf.ProcessPoolExecutor(max_workers=workers) as pool:
        yield pool


def has_dask() -> bool:
    """Whether Dask ``distributed`` can be imported (without importing it)."""
    import importlib.util

    return importlib.util.find_spec("distributed") is not None


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ConfigError(Problem("FS957", "sweep", 'parallel sweeps on Dask need distributed: pip install '
                                  '"firesale[sweep]"')) from None
    return distributed


#: Dask settings for the ``LocalCluster`` a sweep starts itself (see :func:`dask_executor`).
LOCAL_CLUSTER_CONFIG = {
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.tick.limit": "60s",
    "distributed.admin.system-monitor.interval": "10s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.worker.profile.enabled": False,
}


def _start_local_cluster(distributed: Any, workers: int, attempts: int) -> Any:
    """A started ``LocalCluster`` of ``workers`` processes; a start that fails (a worker
    process killed or dying while it starts: "Nanny failed to start") is tried again, up
    to ``attempts`` times in all, then a ConfigError (FS962) says what to do."""
    reasons = []
    for _ in range(max(1, attempts)):
        try:
            return distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                            dashboard_address=None, silence_logs=40)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as err:  # noqa: BLE001 - Dask fails a start with RuntimeError, OSError, TimeoutError ...
            text = str(err).strip().splitlines()[0] if str(err).strip() else ""
            reasons.append(f"{type(err).__name__}: {text}" if text else type(err).__name__)
    raise ConfigError(Problem(
        "FS962", f"--workers {workers}",
        f"the local Dask cluster did not start in {len(reasons)} tries ({reasons[-1]}): a worker process died "
        "while starting (killed, or out of memory). Run the sweep again (stored batches are skipped), with fewer "
        "--workers, or without --workers to run it serially"))


@contextlib.contextmanager
def dask_executor(workers: int | None = None, scheduler: str | None = None, *, connect_timeout: float = 5.0,
                  retries: int = 2, start_attempts: int = 3) -> Iterator[cf.Executor]:
    """A ``concurrent.futures`` executor on a Dask ``distributed`` client.

    Parameters
    ----------
    workers : int, optional
        Without ``scheduler``: worker processes of a new ``LocalCluster`` (one thread each).
    scheduler : str, optional
        Address of a running scheduler, e.g. ``tcp://10.0.0.5:8786``.
    connect_timeout : float
        Seconds to wait for the scheduler.
    retries : int
        Times Dask reruns a task whose worker died.
    start_attempts : int
        Without ``scheduler``: times to try starting the ``LocalCluster`` when a worker
        process dies while it starts.

    Raises
    ------
    ConfigError
        ``distributed`` missing (with the extra to install), a scheduler that does not
        answer (FS958), or a local cluster that failed to start ``start_attempts`` times (FS962).
    """
    distributed = _distributed()
    with contextlib.ExitStack() as stack:
        if scheduler:
            try:
                client = distributed.Client(scheduler, timeout=f"{connect_timeout}s", set_as_default=False)
            except (OSError, TimeoutError, ValueError) as err:
                raise ConfigError(Problem(
                    "FS958", f"--scheduler {scheduler}",
                    f"no Dask scheduler answered within {connect_timeout:g} s ({type(err).__name__}): start one with "
                    "`dask scheduler`, check the address and port, or use --workers N for a local cluster")) from None
        else:
            # Housekeeping of the workers we start (the event loop's 20 ms tick, the
            # 500 ms system monitor, the 10 ms task profiler) takes the GIL from the
            # simulation: on a 2-core machine about 10% of each batch. Sweeps are batches
            # of seconds, so coarser intervals lose nothing.
            import dask

            stack.enter_context(dask.config.set(LOCAL_CLUSTER_CONFIG))
            cluster = stack.enter_context(_start_local_cluster(distributed, workers or os.cpu_count() or 1,
                                                               start_attempts))
            client = distributed.Client(cluster, set_as_default=False)
        stack.enter_context(client)
        yield client.get_executor(retries=retries, pure=False)


# --------------------------------------------------------------------------- results
@dataclasses.dataclass
class SweepResult:
    """What :func:`run_sweep` returns.

    Attributes
    ----------
    summaries : xarray.Dataset
        Per-scenario numbers (dim ``scenario``; ``price_trough`` also over ``asset``),
        each varied or drawn parameter as a variable (dim ``scenario``), and the bands
        ``price_band`` and ``yield_change_band`` (dims ``quantile, round, asset``); attrs
        carry the sweep hash and spec.
    distribution : dict
        :func:`loss_distribution` of ``total_loss``.
    batches_run, batches_skipped : int
        Batches computed now, and found in the store.
    retried : int
        Batch attempts lost to a dead worker and run again.
    elapsed_s : float
    sweep_hash : str
    run_ids : list of str
        Store records made now.
    """

    summaries: Any
    distribution: dict[str, Any]
    batches_run: int
    batches_skipped: int
    retried: int
    elapsed_s: float
    sweep_hash: str
    run_ids: list[str]

    def as_json(self) -> dict[str, Any]:
        """JSON-ready: the distribution, counts, timing and throughput, the drawn
        parameters and the bands (``bands``: ``quantiles``, and per asset ``price``, per
        bond ``yield_change_bp``, each ``{"p5": [...], "p50": [...], "p95": [...]}`` over rounds)."""
        n = int(self.summaries.sizes["scenario"])
        computed = min(n, self.batches_run * int(self.summaries.attrs["batch_size"]))
        return {"sweep_hash": self.sweep_hash, "scenarios": n, "batches_run": self.batches_run,
                "batches_skipped": self.batches_skipped, "retried": self.retried, "elapsed_s": self.elapsed_s,
                "scenarios_per_s": computed / self.elapsed_s if self.elapsed_s > 0 and computed else None,
                "params": list(self.summaries.attrs["params"].split(",")) if self.summaries.attrs["params"] else [],
                "parameters": [p for p in self.summaries.attrs.get("parameters", "").split(",") if p],
                **self.distribution, "bands": self.bands()}

    def bands(self) -> dict[str, Any]:
        """The price bands of every asset and the yield-change bands (bp) of every bond, as
        lists over rounds by quantile (``p5``, ``p50``, ``p95``)."""
        s = self.summaries
        if "price_band" not in s:
            return {}
        tags = [f"p{round(100 * q):d}" for q in BAND_QUANTILES]

        def lists(band: Any) -> dict[str, list[float]]:
            return {tag: band.isel(quantile=i).values.tolist() for i, tag in enumerate(tags)}

        assets = [str(a) for a in s.asset.values]
        bonds = [a for a in assets if np.isfinite(s.yield_change_band.sel(asset=a).values).any()]
        return {"quantiles": list(BAND_QUANTILES), "rounds": int(s.sizes["round"]),
                "price": {a: lists(s.price_band.sel(asset=a)) for a in assets},
                "yield_change_bp": {a: lists(s.yield_change_band.sel(asset=a)) for a in bonds}}


def loss_distribution(total_loss: np.ndarray, defaults: np.ndarray, level: float = 0.99) -> dict[str, Any]:
    """Mean, VaR and ES at ``level`` of the system loss, and the probability of any default.

    Examples
    --------
    >>> d = loss_distribution(np.arange(1.0, 101.0), np.r_[np.zeros(99), 1])
    >>> round(d["var_99"], 2), d["es_99"], d["p_any_default"]
    (99.01, 100.0, 0.01)
    """
    loss = np.asarray(total_loss, dtype=float)
    var = float(np.quantile(loss, level))
    tag = f"{round(100 * level):d}"
    return {"n": int(loss.size), "mean_loss": float(loss.mean()), f"var_{tag}": var,
            f"es_{tag}": float(loss[loss >= var].mean()), "max_loss": float(loss.max()),
            "p_any_default": float((np.asarray(defaults) > 0).mean())}


def _dataset(spec: SweepSpec, names: list[str], values: np.ndarray, columns: dict[str, np.ndarray],
             sweep_hash: str, currency: str) -> xr.Dataset:
    import xarray as xr

    from firesale._version import __version__
    from firesale.parameters import parameter_unit

    n = spec.n_scenarios
    units = {"total_loss": currency, "initial_loss": currency, "forced_sales": currency, "defaults": "count",
             "breaches": "count", "rounds": "count"}
    data: dict[str, Any] = {}
    for key, column in columns.items():
        if key.startswith(("price_trough.", *_PATH_PREFIXES)):
            continue
        data[key] = ("scenario", column, {"units": units.get(key, "-"), "long_name": key.replace("_", " ")})
    assets = [k.split(".", 1)[1] for k in columns if k.startswith("price_trough.")]
    coords: dict[str, Any] = {"scenario": np.arange(n)}
    if assets:
        coords["asset"] = assets
        data["price_trough"] = (("scenario", "asset"), np.column_stack([columns[f"price_trough.{a}"] for a in assets]),
                                {"units": "fraction", "long_name": "price trough (change from t0)"})
        data.update(_bands(columns, assets))
        coords["quantile"] = list(BAND_QUANTILES)
        coords["round"] = np.arange(data["price_band"][1].shape[1])
    ranges = {p.name: p for p in spec.ranges}
    for j, name in enumerate(names):
        if name in ranges:
            p = ranges[name]
            attrs = {"units": parameter_unit(name), "long_name": name,
                     "description": f"drawn parameter: {'log-uniform' if p.scale == 'log' else 'uniform'} in "
                                    f"[{p.low:g}, {p.high:g}]; source: {p.source}"}
        else:
            attrs = {"units": "-", "long_name": name, "description": "swept parameter"}
        data[name] = ("scenario", values[:, j], attrs)
    return xr.Dataset(data, coords=coords,
                      attrs={"firesale_version": __version__, "sweep_hash": sweep_hash, "target": spec.target,
                             "batch_size": spec.batch_size, "params": ",".join(names), "seed": spec.seed,
                             "currency": currency, "parameters": ",".join(ranges)})


def _bands(columns: dict[str, np.ndarray], assets: Sequence[str]) -> dict[str, Any]:
    """``price_band`` and ``yield_change_band``: the :data:`BAND_QUANTILES` over scenarios
    of each asset's path, per round, dims (quantile, round, asset); NaN for an asset
    without a duration."""
    price = np.stack([columns[f"price_path.{a}"] for a in assets], axis=-1)  # (S, R, K)
    out: dict[str, Any] = {"price_band": (("quantile", "round", "asset"), np.quantile(price, BAND_QUANTILES, axis=0), {
        "units": "fraction of t0 price", "long_name": "price band",
        "description": "5%, 50% and 95% quantiles over scenarios of the price at the end of each round"})}
    bond = np.array([f"yield_path.{a}" in columns for a in assets], dtype=bool)
    band = np.full((len(BAND_QUANTILES), *price.shape[1:]), np.nan)
    for k in np.flatnonzero(bond):
        band[:, :, k] = np.quantile(columns[f"yield_path.{assets[k]}"], BAND_QUANTILES, axis=0)
    out["yield_change_band"] = (("quantile", "round", "asset"), band, {
        "units": "bp", "long_name": "yield change band",
        "description": "5%, 50% and 95% quantiles over scenarios of the yield change -ln(price) / duration x 1e4 "
                       "at the end of each round (NaN: no duration)"})
    return out


def falls_most(summaries: xr.Dataset) -> str:
    """The asset whose median price path (``price_band`` at 50%) falls lowest."""
    median = summaries.price_band.sel(quantile=0.5).min("round")
    return str(median.asset.values[int(np.argmin(median.values))])


def band_table(summaries: xr.Dataset, asset: str, max_rows: int = 12) -> list[dict[str, float]]:
    """Rows ``round, p5, p50, p95`` of an asset's price band (and ``y5, y50, y95``, its
    yield-change band in bp, for a bond): every round when there are at most
    ``max_rows``, else about ``max_rows`` evenly spaced ones, with the round where the
    median price is lowest and the last round.

    Raises
    ------
    ConfigError
        An asset the sweep does not have (FS965, with the assets).
    """
    assets = [str(a) for a in summaries.asset.values]
    if asset not in assets:
        from firesale.errors import did_you_mean

        raise ConfigError(Problem("FS965", f"--asset {asset}", f"unknown asset.{did_you_mean(asset, assets)} "
                                  f"Assets: {', '.join(assets)}"))
    price = summaries.price_band.sel(asset=asset).values  # (Q, R)
    yields = summaries.yield_change_band.sel(asset=asset).values
    rounds = price.shape[1]
    if rounds <= max_rows:
        picked = np.arange(rounds)
    else:
        picked = np.unique(np.r_[np.linspace(0, rounds - 1, max_rows - 1).round().astype(int), np.argmin(price[1])])
    bond = bool(np.isfinite(yields).any())
    rows = []
    for r in picked:
        row = {"round": int(r), "p5": float(price[0, r]), "p50": float(price[1, r]), "p95": float(price[2, r])}
        if bond:
            row |= {"y5": float(yields[0, r]), "y50": float(yields[1, r]), "y95": float(yields[2, r])}
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- the driver
def _stored_batches(store: RunStore, sweep_hash: str) -> dict[int, str]:
    """Batch index → run ID of the batches of this sweep already stored (first record wins)."""
    found: dict[int, str] = {}
    for entry in store.list(kind="sweep"):
        if entry.metrics.get("sweep_hash") == sweep_hash and isinstance(entry.metrics.get("batch"), int):
            found.setdefault(entry.metrics["batch"], entry.run_id)
    return found


def run_sweep(
    spec: SweepSpec,
    *,
    executor: cf.Executor | None = None,
    store: RunStore | None = None,
    progress: Callable[[int, int], None] | None = None,
    retries: int = 2,
    command: str = "",
    preset: Any = None,
) -> SweepResult:
    """Run a sweep: expand, batch, map over ``executor``, stream into ``store``.

    Parameters
    ----------
    spec : SweepSpec
    executor : concurrent.futures.Executor, optional
        Where batches run; default :class:`InlineExecutor` (serial, in this process).
    store : RunStore, optional
        Each finished batch is recorded at once; batches of the same sweep already there
        are read back, not run. None runs everything and records nothing.
    progress : callable(done, total), optional
        Called with scenarios done so far (stored ones first) and the total.
    retries : int
        Times a batch is resubmitted after its worker process died (a broken pool).
    command : str
        Command line recorded with each batch.
    preset : Preset, optional
        The loaded target (else loaded from ``spec.target``).

    Returns
    -------
    SweepResult

    Raises
    ------
    ConfigError
        A bad parameter or asset, a base without shocks to draw, a batch too big for memory.
    """
    from firesale.data.preset import load
    from firesale.store import input_hash

    start = time.perf_counter()
    preset = load(spec.target) if preset is None else preset
    system, base = preset.system, preset.scenario
    spec = resolve_parameters(spec, getattr(preset, "parameters", ()), system, base)
    batch_size = min(spec.batch_size, spec.n_scenarios)
    check_batch_memory(system, base, batch_size)
    names = spec.params if spec.grid else _mc_names(base, spec)
    if not spec.grid and not names:
        raise ConfigError(Problem("FS959", f"--monte-carlo on {spec.target}", "the base scenario has no price or "
                                  "client-sale shock to draw: use --grid shock.ASSET.price=LO:HI:N instead, or "
                                  "draw the preset's [[parameters]] with --parameters"))
    n = spec.n_scenarios
    ends = [0, n - 1]
    _systems(system, base, names, scenario_values(spec, base, ends), ends)  # fail fast on a bad value
    sweep_hash = input_hash(system, [base], params=spec.as_params())
    batches = spec.batches()
    results: dict[int, dict[str, np.ndarray]] = {}
    stored = _stored_batches(store, sweep_hash) if store is not None else {}
    for b, run_id in list(stored.items()):
        columns = store.get(run_id).summary["columns"] if b < len(batches) else {}
        if not any(k.startswith("price_path.") for k in columns):  # recorded before paths were kept: run again
            del stored[b]
            continue
        results[b] = {k: np.asarray(v, dtype=float if k.startswith(_PATH_PREFIXES) else None)
                      for k, v in columns.items()}
    done = sum(len(batches[b]) for b in results)
    if progress:
        progress(done, n)
    todo = [b for b in range(len(batches)) if b not in results]
    attempts = {b: 0 for b in todo}
    run_ids: list[str] = []
    retried = 0
    executor = InlineExecutor() if executor is None else executor
    pool_factory = None
    if isinstance(executor, cf.ProcessPoolExecutor):
        workers = executor._max_workers
        pool_factory = lambda: cf.ProcessPoolExecutor(max_workers=workers)
    own_pool: cf.Executor | None = None

    # In this process the values are drawn once, here; other executors' workers draw their
    # batch's, in parallel, and send them back with its summaries.
    inline = isinstance(executor, InlineExecutor)
    values = scenario_values(spec, base, np.arange(n)) if inline else np.full((n, len(names)), np.nan)
    if spec.kernels == "numba" and not inline and todo:
        # compiled (or loaded) here once: the workers then load them from numba's cache,
        # where on a machine's first use each would compile the same kernels at once
        from firesale.simulation import load_compiled_kernels

        load_compiled_kernels(system, base)

    def submit(pool: cf.Executor, b: int) -> cf.Future:
        idx = batches[b]
        return pool.submit(run_batch, system, base, names, values[idx.start:idx.stop] if inline else spec,
                           list(idx), b, spec.kernels, None if inline else 1)

    def finish(b: int, columns: dict[str, np.ndarray]) -> None:
        """Keep a finished batch and record it at once, before waiting for any other."""
        nonlocal done
        idx = batches[b]
        if DRAWN in columns:
            values[idx.start:idx.stop] = columns.pop(DRAWN)
        results[b] = columns
        if store is not None:
            summary = {"sweep_hash": sweep_hash, "batch": b, "scenarios": [idx.start, idx.stop],
                       "columns": {k: v.tolist() for k, v in columns.items()},
                       "values": {name: values[idx.start:idx.stop, j].tolist() for j, name in enumerate(names)}}
            run_id = store.record_replication(
                "sweep", {**spec.as_params(), "target": spec.target, "sweep_hash": sweep_hash, "batch": b},
                summary, target=f"sweep {spec.target}", command=command)
            if run_id is not None:  # None: a recording store that could not write (it says why)
                run_ids.append(run_id)
        done += len(idx)
        if progress:
            progress(done, n)

    # An executor that runs a task when it is submitted (the serial one) gets one batch at a
    # time, so that each is stored before the next starts; pools get every batch at once.
    window = 1 if inline else max(1, len(todo))
    queue = list(todo)
    try:
        pool = executor
        pending: dict[cf.Future, int] = {}
        while queue or pending:
            while queue and len(pending) < window:
                b = queue.pop(0)
                pending[submit(pool, b)] = b
            finished, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            broken: list[int] = []
            for future in finished:
                b = pending.pop(future)
                try:
                    columns = future.result()
                except cf.process.BrokenProcessPool:
                    broken.append(b)
                    continue
                except Exception as err:  # noqa: BLE001 - only Dask's, by name: distributed is not imported here
                    if type(err).__name__ != "KilledWorker":
                        raise
                    raise ConfigError(Problem(
                        "FS960", f"sweep batch {b}",
                        f"its Dask worker died {retries + 1} times or more: the batch may need more memory than a "
                        "worker has; try a smaller --batch or fewer --workers, then rerun the sweep (stored "
                        "batches are skipped)")) from None
                finish(b, columns)
            if broken:
                # a dead worker breaks the whole pool: every batch still in it failed too
                broken += list(pending.values())
                pending.clear()
                for b in broken:
                    attempts[b] += 1
                    if attempts[b] > retries:
                        raise ConfigError(Problem("FS960", f"sweep batch {b}", f"its worker died {attempts[b]} times: "
                                                  "the batch may need more memory than a worker has; try a smaller --batch"))
                retried += len(broken)
                if pool_factory is None:
                    raise ConfigError(Problem("FS960", "sweep", "the executor broke and cannot be rebuilt: rerun the "
                                              "sweep (stored batches are skipped)"))
                if own_pool is not None:
                    own_pool.shutdown(wait=False, cancel_futures=True)
                pool = own_pool = pool_factory()
                queue = sorted(broken) + queue
    finally:
        if own_pool is not None:
            own_pool.shutdown(wait=True, cancel_futures=True)
    if not inline:  # batches read back from the store: their values, drawn here
        for b in stored:
            if b < len(batches):
                idx = batches[b]
                values[idx.start:idx.stop] = scenario_values(spec, base, np.arange(idx.start, idx.stop))
    columns = _stack([results[b] for b in range(len(batches))])
    for k in ("defaults", "breaches", "rounds"):
        if k in columns:
            columns[k] = columns[k].astype(np.int64)
    summaries = _dataset(spec, names, values, columns, sweep_hash, system.currency)
    distribution = loss_distribution(columns["total_loss"], columns["defaults"])
    return SweepResult(summaries, distribution, len(todo), len(results) - len(todo), retried,
                       time.perf_counter() - start, sweep_hash, run_ids)
