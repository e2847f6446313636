"""Targets: the record a preset is checked against, as data.

A preset's ``[[targets]]`` rows state what the simulation must reproduce: an
*observable* of the run (a result variable or a quantity derived from them), reduced
over a window of rounds by a *statistic*, compared with the recorded *value*::

    [[targets]]
    name = "peak_10y"                       # unique in the preset
    observable = "yield_change"             # see the table below
    asset = "ust_10y"                       # selectors: asset, institution, group, type, channel
    rounds = [0, 7]                         # inclusive; default: every round
    statistic = "max"                       # max, min, first, last (default), sum, mean, change
    value = 92.0                            # the record
    tolerance = 40.0                        # absolute half-width (or relative_tolerance)
    unit = "bp"
    source = "Duffie (2020), Hutchins Center WP 62: 10-year yield 0.36% -> 1.28%, 9-18 March 2020"

``policy = "NAME"`` (a ``[policies.NAME]`` bundle of the preset or a switch of
``scenario.policy``; ``"A+B"`` for both) checks the run with that policy instead of the
baseline. :func:`evaluate_targets` runs the baseline and every policy the targets name as
one batch (the policies applied as :mod:`firesale.analytics.compare` applies them).

Observables
-----------
Every result variable of :data:`firesale.results.RESULT_VARIABLES` with ``scenario`` and
``round`` dims is an observable (``binding``, a channel index, and
``slr_target_exposure``, NaN where the SLR does not bind, excepted). A selector reduces
each of its other dims:

=============================  ==========  ==============================================
dims after (scenario, round)   selector    reduction
=============================  ==========  ==============================================
asset                          ``asset``   that asset; amounts (``forced_sales``,
                                           ``client_sales``, ``central_bank_purchases``,
                                           ...) sum over every asset when none is given;
                                           levels (``price``, ``spread``, ...) need one
institution                    ``institution``, ``group``, ``type``
                                           sum over the institutions selected (all when
                                           none; several selectors intersect); ratios
                                           (``slr``, ``leverage_ratio``,
                                           ``nav_per_share``) need exactly one
institution, asset             both        sum over both selections (``sales``,
                                           ``holdings``, ``trading_holdings``)
institution, channel           both        ``channel``: one channel, else all
=============================  ==========  ==============================================

Derived observables (``p`` price, ``f`` fundamental, ``s`` spread, ``D`` the asset's
duration in years, ``h`` holdings, all of one round):

==============================  ==========  =============================================
observable                      unit        definition
==============================  ==========  =============================================
``yield_change``                bp          :math:`-\\ln(p) / D \\times 10^4` (asset with a
                                            duration; first order in the yield)
``fundamental_yield_change``    bp          :math:`-\\ln(f) / D \\times 10^4`
``fire_sale_yield``             bp          :math:`-\\ln(p / f) / D \\times 10^4`: the part
                                            of the yield move that is fire-sale pressure
``discount``                    fraction    :math:`1 - p / f`
``spread_32nds``                32nds       :math:`s \\, p \\times 100 \\times 32`: the
                                            spread in 32nds of a point of par
``spread_ratio``                \\-          :math:`s / s_0` (``s_0``: coordinate ``spread0``)
``position``                    currency    :math:`\\sum_{i,k} h_{ik} p_k` over the
                                            selection (institutions; one asset or all)
``net_sales``                   currency    :math:`\\sum_{i,k} (h_{ik,t-1} - h_{ik,t})
                                            p^{pre}_{k,t}`: value sold less value bought,
                                            at the price the round trades against
                                            (``pre_trade_price``, at which ``sales`` are
                                            valued); :math:`h_{-1}` is the t0 holding
``redeemed_share``              fraction    :math:`\\sum_i R_{i,t} / \\sum_i E_{i,0}`:
                                            NAV redeemed over the selection's t0 equity
                                            (its NAV)
==============================  ==========  =============================================

The yield moves use the first-order price-yield relation of a bond with modified
duration ``D``, :math:`dp/p = -D\\, dy`, integrated: :math:`\\Delta y = -\\ln(p/p_0)/D`
(Fabozzi, *Bond Markets, Analysis and Strategies*, ch. 4); ``p0 = 1``. Fleming & Ruela
(2020, "Treasury Market Liquidity during the COVID-19 Crisis", Liberty Street Economics)
quote the 10-year's bid-ask spread in 32nds of a point, hence ``spread_32nds``.

Rounds and statistics
---------------------
``rounds = [first, last]`` (inclusive, ``last`` below the scenario's ``max_rounds``;
default ``[0, max_rounds - 1]``). A run that stopped before ``last`` is extended to it as
the engine freezes a stopped scenario: levels keep their last value, amounts are zero
(the loop gains are missing), so a target's value does not depend on the batch it is run
in. Over the window the statistic takes the ``max``, ``min``, ``sum`` or ``mean``, the
value at ``first`` or at ``last``, or the ``change``: the value at ``last`` less the value
in the round before ``first`` (its t0 value when ``first = 0``: 1 for prices, ``spread0``,
t0 equity, cash and holdings, 0 for amounts and yield moves).

Comparison and residuals
------------------------
With ``m`` the model's value, ``v`` the record and ``h`` the tolerance (``tolerance``, or
``relative_tolerance`` × \\|v\\|):

* ``compare = "within"`` (default; a tolerance is required): passes when
  :math:`|m - v| \\le h`; residual :math:`r = (m - v)/h`.
* ``"at_least"`` / ``"at_most"``: the record is a bound; the tolerance is optional slack.
  The residual is 0 when the bound holds; a violation :math:`e > 0` (``v - m`` or
  ``m - v``) gives :math:`|r| = e / h` with slack ``h``, and :math:`|r| = 1 + e / |v|`
  (``|v|`` taken as 1 when ``v = 0``) without: a bound without slack fails at once.

A target passes exactly when :math:`|r| \\le 1` (:func:`target_residuals`), the form
:func:`firesale.calibration.calibrate` minimises by least squares.

Errors (:class:`~firesale.errors.ConfigError`, each naming file, row and field): FS170 a
``[[targets]]`` section that is not a list of tables; FS171 a missing, unknown or invalid
field; FS172 an unknown observable; FS173 an unknown asset, institution, group, type or
channel; FS174 a selector the observable has no use for, one it needs, or an empty
selection; FS175 bad rounds; FS176 tolerances that do not fit ``compare``; FS177 an
unknown or conflicting policy; FS178 a name used twice; FS179 a target that cannot be
evaluated (a missing variable or an unknown target name).
"""

from __future__ import annotations

import dataclasses
import math
import types
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from firesale.errors import ConfigError, Problem, did_you_mean, explain
from firesale.system import mark_mistyped

if TYPE_CHECKING:
    import xarray as xr

    from firesale.data.preset import Preset
    from firesale.scenario import Scenario
    from firesale.system import System

__all__ = ["Target", "TargetResult", "TargetRun", "OBSERVABLES", "STATISTICS", "COMPARISONS", "parse_targets",
           "evaluate_targets", "run_targets", "target_results", "target_residuals", "describe_target"]

#: Statistics a target may take over its window of rounds.
STATISTICS = ("max", "min", "first", "last", "sum", "mean", "change")
#: How the model's value is compared with the record.
COMPARISONS = ("within", "at_least", "at_most")
#: Units of amounts and counts, which add up over institutions, assets and channels.
_EXTENSIVE = ("currency", "1", "units")
#: Result variables that are no observable: a channel index, and a target exposure that is NaN where it does not bind.
_EXCLUDED = ("binding", "slr_target_exposure")
#: Per-round measurements the engine leaves missing once a run stopped (padded with NaN).
_GAUGES = ("loop_gain", "market_loop_gain")
_DIMS = ("institution", "asset", "channel")
_SELECTORS = ("asset", "institution", "group", "type", "channel")


@dataclasses.dataclass(frozen=True)
class Observable:
    """What a target can measure.

    Attributes
    ----------
    name : str
    dims : tuple of str
        Dims after (scenario, round): ``institution``, ``asset``, ``channel``.
    unit : str
        ``"currency"`` is the system's currency.
    kind : {"level", "flow", "gauge"}
        How a stopped run is extended: a level keeps its last value, a flow is zero, a
        gauge is missing.
    needs : tuple of str
        Per-round result variables it is computed from.
    asset_required : bool
        Needs one asset (a level, or a derived quantity of one market).
    single_institution : bool
        Needs exactly one institution (a ratio, which does not add up).
    duration : bool
        Needs an asset with a duration (a yield move).
    description : str
    """

    name: str
    dims: tuple[str, ...]
    unit: str
    kind: str
    needs: tuple[str, ...]
    asset_required: bool = False
    single_institution: bool = False
    duration: bool = False
    description: str = ""

    @property
    def detail(self) -> bool:
        """Needs the per-round (institution, asset) records."""
        return any(_result_dims(v) == ("institution", "asset") for v in self.needs)


def _result_dims(name: str) -> tuple[str, ...]:
    from firesale.results import RESULT_VARIABLES

    return tuple(d for d in RESULT_VARIABLES[name][0] if d not in ("scenario", "round"))


def _observables() -> dict[str, Observable]:
    from firesale.engine.round import FLOW_RECORDS
    from firesale.results import RESULT_VARIABLES

    flows = set(FLOW_RECORDS) | {"sales"}
    out: dict[str, Observable] = {}
    for name, (dims, unit, long_name, description) in RESULT_VARIABLES.items():
        if "scenario" not in dims or "round" not in dims or name in _EXCLUDED:
            continue
        rest = tuple(d for d in dims if d not in ("scenario", "round"))
        extensive = unit in _EXTENSIVE
        kind = "gauge" if name in _GAUGES else "flow" if name in flows else "level"
        out[name] = Observable(
            name, rest, unit, kind, (name,),
            asset_required="asset" in rest and not (extensive and (kind == "flow" or "institution" in rest)),
            single_institution="institution" in rest and not extensive,
            description=f"{long_name}: {description}",
        )
    derived = (
        ("yield_change", ("asset",), "bp", "level", ("price",), True,
         "-ln(price) / duration x 1e4: the yield move of a bond since t0."),
        ("fundamental_yield_change", ("asset",), "bp", "level", ("fundamental",), True,
         "-ln(fundamental) / duration x 1e4: the yield move of the fundamental price alone."),
        ("fire_sale_yield", ("asset",), "bp", "level", ("price", "fundamental"), True,
         "-ln(price / fundamental) / duration x 1e4: the part of the yield move that is fire-sale pressure."),
        ("discount", ("asset",), "fraction", "level", ("price", "fundamental"), False,
         "1 - price / fundamental: the fire-sale discount."),
        ("spread_32nds", ("asset",), "32nds", "level", ("spread", "price"), False,
         "spread x price x 100 x 32: the bid-ask spread in 32nds of a point of par."),
        ("spread_ratio", ("asset",), "-", "level", ("spread",), False, "spread / its t0 value (spread0)."),
    )
    for name, dims, unit, kind, needs, duration, description in derived:
        out[name] = Observable(name, dims, unit, kind, needs, asset_required=True, duration=duration,
                               description=description)
    out["position"] = Observable("position", ("institution", "asset"), "currency", "level", ("holdings", "price"),
                                 description="holdings x price of the selection: the value held.")
    out["net_sales"] = Observable(
        "net_sales", ("institution", "asset"), "currency", "flow", ("holdings", "pre_trade_price"),
        description="value sold less value bought in the round, from the change of holdings valued at the "
        "round's pre-trade price.")
    out["redeemed_share"] = Observable(
        "redeemed_share", ("institution",), "fraction", "flow", ("redeemed",),
        description="NAV redeemed in the round over the selection's t0 equity (its NAV).")
    return out


#: Every observable by name (see the module docstring).
OBSERVABLES: dict[str, Observable] = _observables()
#: Levels whose t0 value is known, so that ``change`` may start at round 0.
_T0_LEVELS = ("price", "pre_trade_price", "fundamental", "sigma", "spread", "equity", "cash", "holdings",
              "capital_out", "outside_q", "yield_change", "fundamental_yield_change", "fire_sale_yield",
              "discount", "spread_32nds", "spread_ratio", "position")


def _has_t0(observable: Observable) -> bool:
    return observable.kind == "flow" or observable.name in _T0_LEVELS


class Target(BaseModel):
    """One ``[[targets]]`` row: an observable of a run, its statistic over a window of
    rounds, and the record it is compared with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="Short id, unique in the preset.")
    observable: str = Field(min_length=1, description="What is measured (see the module docstring's tables).")
    asset: str | None = Field(None, description="Asset selected (required by levels and derived market "
                              "quantities; amounts sum over every asset without it).")
    institution: str | None = Field(None, description="Institution selected.")
    group: str | None = Field(None, description="Institutions of this group selected.")
    type: str | None = Field(None, description="Institutions of this type selected.")
    channel: str | None = Field(None, description="Channel selected (sales_by_channel, breach).")
    rounds: tuple[StrictInt, StrictInt] | None = Field(
        None, description="[first, last] round, inclusive (default: every round of the scenario, 0 to max_rounds - 1).")
    statistic: Literal[STATISTICS] = Field(  # type: ignore[valid-type]
        "last", description="Reduction over the rounds: max, min, first, last, sum, mean, or change (last less "
        "the round before first).")
    value: float = Field(allow_inf_nan=False, description="The record, in the observable's unit.")
    tolerance: float | None = Field(None, gt=0.0, allow_inf_nan=False,
                                    description="Absolute half-width of the band (slack of a bound).")
    relative_tolerance: float | None = Field(None, gt=0.0, allow_inf_nan=False,
                                             description="Half-width as a share of |value| (0.1: 10%).")
    compare: Literal[COMPARISONS] = Field(  # type: ignore[valid-type]
        "within", description="within the band (value ± tolerance), at_least or at_most the value.")
    policy: str | None = Field(None, description="Policy run instead of the baseline: a [policies.NAME] bundle "
                               "or a scenario.policy switch; A+B for both.")
    unit: str = Field("", description="Unit shown (default: the observable's).")
    source: str = Field(min_length=1, description="Where the record comes from: paper, table, data.")
    description: str = Field("", description="One line on what the record is.")

    @property
    def half_width(self) -> float:
        """The tolerance as an absolute amount (0 when none is given)."""
        if self.tolerance is not None:
            return self.tolerance
        if self.relative_tolerance is not None:
            return self.relative_tolerance * abs(self.value)
        return 0.0

    @property
    def band(self) -> tuple[float, float]:
        """``(low, high)``: the model values that pass."""
        h = self.half_width
        if self.compare == "within":
            return self.value - h, self.value + h
        if self.compare == "at_least":
            return self.value - h, math.inf
        return -math.inf, self.value + h


_KEYS = tuple(Target.model_fields)


def _row_where(label: str, row: int, field: str | None = None) -> str:
    return f"{label}, [[targets]] row {row}" + (f", field {field}" if field else "")


def _institution_sets(system: System) -> dict[str, dict[str, list[int]]]:
    out: dict[str, dict[str, list[int]]] = {"institution": {}, "group": {}, "type": {}}
    for i, inst in enumerate(system.institutions):
        out["institution"].setdefault(inst.name, []).append(i)
        out["group"].setdefault(inst.group, []).append(i)
        out["type"].setdefault(inst.type, []).append(i)
    return out


def _selection(target: Target, system: System) -> np.ndarray:
    """Indices of the institutions a target selects (all when it names none)."""
    sets = _institution_sets(system)
    chosen = set(range(system.n_institutions))
    for key in ("institution", "group", "type"):
        name = getattr(target, key)
        if name is not None:
            chosen &= set(sets[key].get(name, []))
    return np.array(sorted(chosen), dtype=int)


def _check_target(target: Target, label: str, row: int, system: System, scenario: Scenario,
                  policies: Mapping[str, Any]) -> list[Problem]:
    """The problems of one validated row against the system, the scenario and the policies."""
    from firesale.channels import CHANNELS
    from firesale.system import INSTITUTION_TYPES

    observable = OBSERVABLES.get(target.observable)
    if observable is None:
        known = list(OBSERVABLES)
        return [Problem("FS172", _row_where(label, row, "observable"),
                        f"unknown observable {target.observable!r}.{did_you_mean(target.observable, known)} "
                        f"Observables: {', '.join(known)}; use one of these")]
    problems: list[Problem] = []
    sets = _institution_sets(system)
    known_names = {"asset": system.asset_names, "institution": system.institution_names,
                   "group": sorted(sets["group"]), "type": list(INSTITUTION_TYPES), "channel": list(CHANNELS)}
    dim_of = {"asset": "asset", "institution": "institution", "group": "institution", "type": "institution",
              "channel": "channel"}
    for key in _SELECTORS:
        name = getattr(target, key)
        if name is None:
            continue
        where = _row_where(label, row, key)
        if dim_of[key] not in observable.dims:
            problems.append(Problem("FS174", where, f"{target.observable} has no {dim_of[key]} to select "
                                    f"(it is per {', '.join(observable.dims) or 'round'}): remove {key}"))
        elif name not in known_names[key]:
            problems.append(Problem("FS173", where, f"unknown {key} {name!r}.{did_you_mean(name, known_names[key])} "
                                    f"Known: {', '.join(map(str, known_names[key])) or '(none)'}; use one of these"))
    if problems:
        return problems
    if observable.asset_required and target.asset is None:
        problems.append(Problem("FS174", _row_where(label, row, "asset"),
                                f"{target.observable} is a level of one market, which does not add up over "
                                f"assets: name the asset (one of {', '.join(system.asset_names)})"))
    if observable.duration and target.asset is not None:
        if system.assets[system.asset_index(target.asset)].duration is None:
            with_duration = [a.name for a in system.assets if a.duration is not None]
            problems.append(Problem("FS174", _row_where(label, row, "asset"),
                                    f"{target.observable} needs a duration, and asset {target.asset!r} has none: set "
                                    f"its duration (years) in [[assets]], or choose one that has it "
                                    f"({', '.join(with_duration) or 'no asset of this system has one'})"))
    if "institution" in observable.dims:
        chosen = _selection(target, system)
        selectors = ", ".join(f"{k} = {getattr(target, k)!r}" for k in ("institution", "group", "type")
                              if getattr(target, k) is not None)
        if chosen.size == 0:
            problems.append(Problem("FS174", _row_where(label, row),
                                    f"no institution has {selectors.replace(', ', ' and ')}: change the selectors"))
        elif observable.single_institution and chosen.size != 1:
            problems.append(Problem("FS174", _row_where(label, row, "institution"),
                                    f"{target.observable} ({observable.unit}) is a ratio, which does not add up over "
                                    f"institutions, and the selection holds {chosen.size}: name one institution"))
    problems += _check_rounds(target, observable, label, row, scenario)
    problems += _check_tolerances(target, label, row)
    if target.policy is not None:
        problems += _check_policy(target, label, row, scenario, policies)
    return problems


def _check_rounds(target: Target, observable: Observable, label: str, row: int, scenario: Scenario) -> list[Problem]:
    where = _row_where(label, row, "rounds")
    first = 0 if target.rounds is None else target.rounds[0]
    if target.rounds is not None:
        first, last = target.rounds
        if first < 0 or last < first:
            return [Problem("FS175", where, f"got [{first}, {last}]: write [first, last] with 0 <= first <= last "
                            "(rounds are numbered from 0)")]
        if last >= scenario.max_rounds:
            return [Problem("FS175", where, f"got [{first}, {last}], but the scenario runs rounds 0 to "
                            f"{scenario.max_rounds - 1} (max_rounds = {scenario.max_rounds}): lower last or raise "
                            "scenario.max_rounds")]
    if target.statistic == "change" and first == 0 and not _has_t0(observable):
        return [Problem("FS175", where, f"statistic 'change' from round 0 needs the t0 value of "
                        f"{target.observable}, which the results do not hold: start at round 1 or later "
                        "(rounds = [1, last]), the change since the end of round 0")]
    return []


def _check_tolerances(target: Target, label: str, row: int) -> list[Problem]:
    given = [k for k in ("tolerance", "relative_tolerance") if getattr(target, k) is not None]
    where = _row_where(label, row, "tolerance")
    if len(given) == 2:
        return [Problem("FS176", where, "both tolerance and relative_tolerance are given: keep one (an absolute "
                        "half-width, or a share of |value|)")]
    if target.compare == "within" and not given:
        return [Problem("FS176", where, "compare = 'within' needs a band: give tolerance (absolute, in the "
                        "observable's unit) or relative_tolerance (a share of |value|), or use compare = "
                        "'at_least' / 'at_most' for a bound")]
    if target.relative_tolerance is not None and target.value == 0:
        return [Problem("FS176", _row_where(label, row, "relative_tolerance"), "a relative tolerance of a record "
                        "of 0 is no band: give an absolute tolerance instead")]
    return []


def _check_policy(target: Target, label: str, row: int, scenario: Scenario,
                  policies: Mapping[str, Any]) -> list[Problem]:
    from firesale.analytics.compare import policy_overrides

    where = _row_where(label, row, "policy")
    # policy_overrides reads the bundles and the name of a preset: these stand for them
    preset = types.SimpleNamespace(policies=dict(policies), name=label)
    try:
        overrides = policy_overrides(preset, target.policy)  # type: ignore[arg-type]
        changed = scenario.updated(**overrides)
    except ConfigError as err:
        return [Problem("FS177", where, p.message) for p in err.problems]
    if target.rounds is not None and changed.max_rounds <= target.rounds[1] < scenario.max_rounds:
        return [Problem("FS175", _row_where(label, row, "rounds"), f"policy {target.policy!r} runs rounds 0 to "
                        f"{changed.max_rounds - 1}: lower last")]
    return []


def parse_targets(rows: Any, label: str, system: System | None, scenario: Scenario | None,
                  policies: dict[str, dict[str, Any]]) -> tuple[tuple[Target, ...], list[Problem]]:
    """The validated ``[[targets]]`` rows of a preset, and the problems found.

    Parameters
    ----------
    rows : list of mapping
        The rows as read from the file.
    label : str
        The file, for the problems' ``where``.
    system, scenario : System, Scenario or None
        What the targets are checked against (None when the preset's own are invalid:
        only the rows' fields are checked then).
    policies : dict
        The preset's ``[policies.NAME]`` bundles.

    Returns
    -------
    tuple of Target, list of Problem
        Rows without problems, and every problem (codes FS170-FS178) naming the file,
        the row (from 1) and the field.
    """
    if not isinstance(rows, list):
        return (), [Problem("FS170", f"{label}, section targets",
                            f"got {rows!r}: write each target as an array-of-tables row [[targets]] with name, "
                            "observable, value, tolerance and source")]
    targets: list[Target] = []
    problems: list[Problem] = []
    names: dict[str, int] = {}
    for row, data in enumerate(rows, start=1):
        if not isinstance(data, dict):
            problems.append(Problem("FS170", _row_where(label, row), f"got {data!r}: a target is a table of "
                                    "named fields ([[targets]] with name = ..., observable = ...)"))
            continue
        try:
            target = Target.model_validate(mark_mistyped(Target, data, text=True))
        except ValidationError as err:
            for e in err.errors():
                field = ".".join(str(x) for x in e["loc"][:1])
                message = (f"is not a field of a target.{did_you_mean(field, _KEYS)} Fields: {', '.join(_KEYS)}; "
                           "check its spelling" if e["type"] == "extra_forbidden" else explain(e, _KEYS))
                problems.append(Problem("FS171", _row_where(label, row, field or None), message))
            continue
        if target.name in names:
            problems.append(Problem("FS178", _row_where(label, row, "name"),
                                    f"target {target.name!r} is row {names[target.name]} already: give each target "
                                    "its own name"))
            continue
        names[target.name] = row
        found = [] if system is None or scenario is None else _check_target(target, label, row, system, scenario,
                                                                            policies)
        problems += found
        if not found:
            targets.append(target)
    return tuple(targets), problems


def describe_target(target: Target) -> str:
    """The observable with its selectors, rounds, statistic and policy, in one line:
    ``max yield_change[ust_10y] r0-7``."""
    parts = [f"{k}={getattr(target, k)}" for k in ("institution", "group", "type", "channel")
             if getattr(target, k) is not None]
    selectors = ", ".join(([target.asset] if target.asset else []) + parts)
    text = f"{target.statistic} {target.observable}" + (f"[{selectors}]" if selectors else "")
    if target.rounds is not None:
        first, last = target.rounds
        text += f" r{first}" if first == last else f" r{first}-{last}"
    if target.policy:
        text += f" under {target.policy}"
    return text


# --------------------------------------------------------------------------- evaluation
@dataclasses.dataclass(frozen=True)
class TargetResult:
    """A target evaluated: the model's value beside the record.

    Attributes
    ----------
    name, observable, label : str
        The target's name, observable and :func:`describe_target` text.
    model, value : float
        The model's value and the record (NaN: nothing to measure).
    low, high : float
        The band of passing values (``-inf`` / ``inf`` for a bound).
    passed : bool
        ``|residual| <= 1``.
    residual : float
        See the module docstring.
    unit, source, description, compare : str
    """

    name: str
    observable: str
    label: str
    model: float
    value: float
    low: float
    high: float
    passed: bool
    residual: float
    unit: str
    source: str
    description: str = ""
    compare: str = "within"

    def as_json(self) -> dict[str, Any]:
        """Plain JSON values (infinite bounds and a NaN model value as None)."""
        out = dataclasses.asdict(self)
        for key in ("model", "low", "high", "residual"):
            if not math.isfinite(out[key]):
                out[key] = None
        return out


@dataclasses.dataclass(frozen=True)
class TargetRun:
    """What :func:`run_targets` computed.

    Attributes
    ----------
    values : ndarray, shape (V, T)
        Each target's model value for each base scenario.
    dataset : xarray.Dataset
        The batch's results: for each base scenario, the base, then each policy the
        targets name.
    scenarios : list of Scenario
        The batch, in order.
    policies : list of str
        The policies run, in their order after each base.
    """

    values: np.ndarray
    dataset: xr.Dataset
    scenarios: list[Scenario]
    policies: list[str]


def _residual(target: Target, model: float) -> float:
    if not math.isfinite(model):
        return math.nan
    h = target.half_width
    if target.compare == "within":
        return (model - target.value) / h
    sign = -1.0 if target.compare == "at_least" else 1.0
    violation = sign * (model - target.value)
    if violation <= 0:
        return 0.0
    if h > 0:
        return sign * violation / h
    return sign * (1.0 + violation / (abs(target.value) or 1.0))


def target_residuals(results: Sequence[TargetResult]) -> np.ndarray:
    """The residual of each target, shape (T,): :math:`(m - v)/h` within a band, the
    violation of a bound over its slack (0 when met); :math:`|r| \\le 1` passes (see the
    module docstring). NaN where the model value is missing."""
    return np.array([r.residual for r in results], dtype=float)


def target_results(targets: Sequence[Target], values: Sequence[float], units: Mapping[str, str] | None = None,
                   ) -> list[TargetResult]:
    """Each target's :class:`TargetResult` from its model value (``units``: the
    observables' units by name, the currency filled in)."""
    out = []
    for target, model in zip(targets, values):
        model = float(model)
        residual = _residual(target, model)
        low, high = target.band
        unit = target.unit or (units or {}).get(target.observable, OBSERVABLES[target.observable].unit)
        out.append(TargetResult(target.name, target.observable, describe_target(target), model, target.value, low,
                                high, bool(abs(residual) <= 1.0), residual, unit, target.source,
                                target.description, target.compare))
    return out


def _lookup(preset: Preset, names: Sequence[str] | None) -> tuple[Target, ...]:
    if names is None:
        return preset.targets
    by_name = {t.name: t for t in preset.targets}
    out = []
    for name in names:
        if isinstance(name, Target):
            out.append(name)
        elif name in by_name:
            out.append(by_name[name])
        else:
            raise ConfigError(Problem("FS179", f"target {name!r}", f"{preset.name} has no such target."
                                      f"{did_you_mean(name, by_name)} Targets: {', '.join(by_name) or '(none)'}"))
    return tuple(out)


def evaluate_targets(preset: Preset, targets: Sequence[Target | str] | None = None, *, system: System | None = None,
                     scenario: Scenario | None = None) -> list[TargetResult]:
    """Run the preset and measure its targets against the record.

    The baseline and every policy the targets name run as one batch on one system.

    Parameters
    ----------
    preset : Preset
    targets : sequence of Target or str, optional
        Targets (or their names); default all of the preset's.
    system, scenario : optional
        Run on these instead of the preset's (a fitted system, a policy's scenario); a
        target's policy is applied on top of ``scenario``.

    Returns
    -------
    list of TargetResult
        One per target, in order.

    Examples
    --------
    >>> from firesale import load_preset
    >>> preset = load_preset("dealer_prime")
    >>> target = Target(name="sold", observable="sold", statistic="sum", value=114.0, tolerance=1.0,
    ...                 source="the narrative's Dealer Prime")
    >>> result = evaluate_targets(preset, [target])[0]
    >>> round(result.model, 9), result.passed
    (114.0, True)
    """
    chosen = _lookup(preset, targets)
    system = preset.system if system is None else system
    base = preset.scenario if scenario is None else scenario
    run = run_targets(preset, chosen, [base], system=system)
    currency = system.currency
    units = {name: obs.unit.replace("currency", currency) for name, obs in OBSERVABLES.items()}
    return target_results(chosen, run.values[0], units)


def run_targets(preset: Preset, targets: Sequence[Target], bases: Sequence[Scenario], *,
                system: System | None = None, full: bool = False) -> TargetRun:
    """Each target's model value for each base scenario, from ONE simulation batch.

    For each base scenario the batch holds the base, then each policy the targets name
    applied to it (:func:`firesale.analytics.compare.policy_scenario`), so that
    many parameter draws of one system (calibration's finite differences) run together.

    Parameters
    ----------
    preset : Preset
        Its policy bundles.
    targets : sequence of Target
    bases : sequence of Scenario
        V base scenarios.
    system : System, optional
        Default: the preset's.
    full : bool
        Keep every result variable (as :func:`firesale.simulate` does by default, e.g.
        to record the run); by default only those the targets need.

    Returns
    -------
    TargetRun
    """
    from firesale.analytics.compare import policy_scenario
    from firesale.simulation import simulate

    system = preset.system if system is None else system
    targets = list(targets)
    policies = list(dict.fromkeys(t.policy for t in targets if t.policy is not None))
    scenarios: list[Scenario] = []
    for base in bases:  # the base, then each policy applied to it as `firesale compare` applies it
        scenarios += [base, *(policy_scenario(preset, name, base) for name in policies)]
    observables = [OBSERVABLES[t.observable] for t in targets]
    needs = sorted({v for obs in observables for v in obs.needs})
    detail = any(obs.detail for obs in observables)
    per_round = [v for v in needs if _result_dims(v) != ("institution", "asset")]
    loop_gain = any(v in _GAUGES for v in needs)
    ds = simulate(system, scenarios, detail=True if detail else None if full else False,
                  variables=None if full else (per_round or ["price"]), loop_gain=loop_gain)
    width = 1 + len(policies)
    values = np.full((len(bases), len(targets)), np.nan)
    for t, (target, obs) in enumerate(zip(targets, observables)):
        offset = 0 if target.policy is None else 1 + policies.index(target.policy)
        columns = np.arange(len(bases)) * width + offset
        horizons = np.array([scenarios[c].max_rounds for c in columns])
        values[:, t] = _measure(ds, system, target, obs, columns, horizons)
    return TargetRun(values, ds, scenarios, policies)


def _missing(name: str) -> ConfigError:
    return ConfigError(Problem("FS179", f"result variable {name}", "is not in the results: run with detail=True "
                               "(per-round holdings and sales) for this target"))


def _values(ds: xr.Dataset, name: str, columns: np.ndarray) -> xr.Variable:
    """The variable's values of the scenario ``columns``, with its dimensions and without
    its coordinates: measuring a target picks and sums along dimensions only, and
    indexing every coordinate along (the t0 descriptions of institutions and assets)
    took most of the time of a measurement."""
    if name not in ds:
        raise _missing(name)
    return ds.variables[name].isel(scenario=columns)


def _measure(ds: xr.Dataset, system: System, target: Target, obs: Observable, columns: np.ndarray,
             horizons: np.ndarray) -> np.ndarray:
    """The target's statistic for each of the scenario ``columns`` of ``ds``, shape (V,)."""
    series, t0 = _series(ds, system, target, obs, columns)
    return _statistic(series, t0, obs.kind, target, horizons)


def _series(ds: xr.Dataset, system: System, target: Target, obs: Observable,
            columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The observable round by round, shape (V, R), and its t0 value, shape (V,) (NaN
    where unknown)."""
    from firesale.matrices import dense

    v = columns.size
    k = None if target.asset is None else system.asset_index(target.asset)
    chosen = _selection(target, system)
    assets = np.arange(system.n_assets) if k is None else np.array([k])
    name = obs.name
    nan = np.full(v, np.nan)
    if name in ("yield_change", "fundamental_yield_change", "fire_sale_yield", "discount", "spread_32nds",
                "spread_ratio"):
        asset = system.assets[k]
        sel = {"asset": k}
        price = _values(ds, "price", columns).isel(sel).values if "price" in obs.needs else None
        fundamental = _values(ds, "fundamental", columns).isel(sel).values if "fundamental" in obs.needs else None
        spread0 = 2.0 * asset.mu0 * asset.sigma0
        duration = np.nan if asset.duration is None else float(asset.duration)
        zero = np.zeros(v)
        if name == "yield_change":
            return -np.log(price) / duration * 1e4, zero
        if name == "fundamental_yield_change":
            return -np.log(fundamental) / duration * 1e4, zero
        if name == "fire_sale_yield":
            return -np.log(price / fundamental) / duration * 1e4, zero
        if name == "discount":
            return 1.0 - price / fundamental, zero
        spread = _values(ds, "spread", columns).isel(sel).values
        if name == "spread_32nds":
            return spread * price * 100.0 * 32.0, np.full(v, spread0 * 100.0 * 32.0)
        return spread / spread0, np.ones(v)
    if name in ("position", "net_sales"):
        holdings = _values(ds, "holdings", columns).isel(institution=chosen, asset=assets).values  # (V, R, n, k)
        h0 = dense(system.holdings)[np.ix_(chosen, assets)]
        if name == "position":
            price = _values(ds, "price", columns).isel(asset=assets).values  # (V, R, k)
            return (holdings * price[:, :, None, :]).sum(axis=(2, 3)), np.full(v, h0.sum())
        pre = _values(ds, "pre_trade_price", columns).isel(asset=assets).values
        before = np.concatenate([np.broadcast_to(h0, (v, 1) + h0.shape), holdings[:, :-1]], axis=1)
        return ((before - holdings) * pre[:, :, None, :]).sum(axis=(2, 3)), np.zeros(v)
    if name == "redeemed_share":
        redeemed = _values(ds, "redeemed", columns).isel(institution=chosen).values.sum(axis=2)
        nav0 = ds.variables["initial_equity"].isel(scenario=columns, institution=chosen).values.sum(axis=1)
        return redeemed / nav0[:, None], np.zeros(v)
    da = _values(ds, name, columns)
    t0 = nan if obs.kind != "flow" else np.zeros(v)
    if "institution" in obs.dims:
        da = da.isel(institution=chosen).sum("institution", skipna=False)
    if "asset" in obs.dims:
        da = da.isel(asset=assets).sum("asset", skipna=False)
    if "channel" in obs.dims:
        from firesale.channels import CHANNELS

        channels = list(range(len(CHANNELS))) if target.channel is None else [list(CHANNELS).index(target.channel)]
        da = da.isel(channel=channels).sum("channel", skipna=False)
    if obs.kind == "level" and name in _T0_LEVELS:
        t0 = np.full(v, _t0_level(ds, system, name, chosen, assets, columns))
    return da.values.reshape(v, -1), t0


def _t0_level(ds: xr.Dataset, system: System, name: str, chosen: np.ndarray, assets: np.ndarray,
              columns: np.ndarray) -> float | np.ndarray:
    from firesale.matrices import dense

    if name in ("price", "pre_trade_price", "fundamental"):
        return 1.0
    if name in ("capital_out", "outside_q"):
        return 0.0
    if name == "sigma":
        return float(sum(system.assets[k].sigma0 for k in assets))
    if name == "spread":
        return float(sum(2.0 * system.assets[k].mu0 * system.assets[k].sigma0 for k in assets))
    if name == "equity":
        return ds.variables["initial_equity"].isel(scenario=columns, institution=chosen).values.sum(axis=1)
    if name == "cash":
        return float(system.cash0[chosen].sum())
    return float(dense(system.holdings)[np.ix_(chosen, assets)].sum())  # holdings


def _statistic(series: np.ndarray, t0: np.ndarray, kind: str, target: Target, horizons: np.ndarray) -> np.ndarray:
    """Reduce ``series`` (V, R) over each row's window; a row is extended to its horizon
    as a stopped run: levels keep their last value, flows are 0, gauges NaN."""
    n_var, n_rounds = series.shape
    length = max(n_rounds, int(horizons.max()))
    if length > n_rounds:
        if kind == "level":
            pad = np.repeat(series[:, -1:], length - n_rounds, axis=1)
        else:
            pad = np.full((n_var, length - n_rounds), 0.0 if kind == "flow" else np.nan)
        series = np.concatenate([series, pad], axis=1)
    first = 0 if target.rounds is None else target.rounds[0]
    last = horizons - 1 if target.rounds is None else np.full(n_var, target.rounds[1])
    rows = np.arange(n_var)
    stat = target.statistic
    if stat == "first":
        return series[:, first]
    if stat == "last":
        return series[rows, last]
    if stat == "change":
        before = t0 if first == 0 else series[:, first - 1]
        return series[rows, last] - before
    window = (np.arange(length)[None, :] >= first) & (np.arange(length)[None, :] <= last[:, None])
    masked = np.where(window, series, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a window of gauges all missing: NaN
        if stat == "max":
            return np.nanmax(masked, axis=1)
        if stat == "min":
            return np.nanmin(masked, axis=1)
        if stat == "mean":
            return np.nanmean(masked, axis=1)
    return np.where(np.isnan(masked).all(axis=1), np.nan, np.nansum(masked, axis=1))
