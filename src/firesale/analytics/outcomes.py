"""Headline outcomes of a batch, one number per scenario, and conditions on them.

The reverse stress test (:mod:`firesale.analytics.reverse`) searches for the shock that meets
a *target*, a condition on a run's outcomes written as text::

    defaults>=5
    loss>=100 and price.ust_10y<=0.97
    regime.corp_ig==stressed

and the sensitivity analysis (:mod:`firesale.analytics.sensitivity`) differentiates the same
outcomes. Each outcome is one number per scenario of a results Dataset
(:func:`outcome_values`):

=====================  ===============================================================  ========
name                   what it is                                                       unit
=====================  ===============================================================  ========
``defaults``           institutions in default at the end of the run                    count
``loss``               levered capital loss: equity lost by the institutions with       currency
                       debt, repo or derivatives (redemptions paid out are not a loss)
``total_loss``         equity lost by every institution, the unlevered holders'         currency
                       mark-to-market included
``forced_sales``       value sold under a constraint or a funding call over the run    currency
``breaches``           institutions that breached a constraint in some round            count
``price.ASSET``        the asset's lowest price over the run (t0 = 1)                   fraction
``price_fall.ASSET``   1 minus that: the peak price fall                                fraction
``yield.ASSET``        a bond's peak yield rise, ``-ln(p_min) / duration``              bp
``regime.ASSET``       ``stressed`` when the asset's market tipped into the stressed    --
                       regime in some round (:func:`firesale.analytics.regimes.tipped`),
                       else ``functioning``
=====================  ===============================================================  ========

``loss`` is the levered loss on purpose: a fall in the price of what an unlevered fund holds
is its investors' mark-to-market, not a loss the system must absorb (``total_loss`` adds it).

Error codes: FS760 a target that cannot be read, FS761 an unknown outcome, FS762 an unknown
asset, FS763 a bond outcome of an asset without a duration, FS764 a value that does not fit
its outcome.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from firesale.errors import ConfigError, Problem, did_you_mean

__all__ = ["OUTCOMES", "ASSET_OUTCOMES", "OUTCOME_VARIABLES", "Condition", "Target", "parse_target", "outcome_values",
           "outcome_variables", "outcome_unit"]

#: Outcomes of the whole system: name → (description, unit).
OUTCOMES = {
    "defaults": ("institutions in default at the end of the run", "count"),
    "loss": ("levered capital loss: equity lost by institutions with debt, repo or derivatives", "currency"),
    "total_loss": ("equity lost by every institution, unlevered holders' mark-to-market included", "currency"),
    "forced_sales": ("value sold under a constraint or a funding call over the run", "currency"),
    "breaches": ("institutions that breached a constraint in some round", "count"),
}
#: Outcomes of one asset, written ``NAME.ASSET``: name → (description, unit).
ASSET_OUTCOMES = {
    "price": ("the asset's lowest price over the run (t0 = 1)", "fraction"),
    "price_fall": ("the asset's peak price fall, 1 - its lowest price", "fraction"),
    "yield": ("a bond's peak yield rise, -ln(lowest price) / duration", "bp"),
    "regime": ("stressed when the asset's market tipped into the stressed regime in some round", "-"),
}
_REGIMES = {"functioning": 0.0, "stressed": 1.0}
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne, ">": operator.gt, "<": operator.lt}
_CLAUSE = re.compile(r"^\s*([A-Za-z_]+)(?:\.([^\s<>=!]+))?\s*(>=|<=|==|!=|>|<)\s*([^\s<>=!]\S*)\s*$")
#: Per-round result variables the outcomes read, a regime's aside (it reads them all).
OUTCOME_VARIABLES = ("equity", "capital_out", "sold", "defaulted", "breach", "price")


@dataclasses.dataclass(frozen=True)
class Condition:
    """One clause of a target: ``outcome op value`` (``outcome`` as :data:`OUTCOMES` or
    ``NAME.ASSET``; a regime's value is 1.0 for stressed, 0.0 for functioning)."""

    outcome: str
    op: str
    value: float

    def __str__(self) -> str:
        if self.outcome.startswith("regime."):
            return f"{self.outcome}{self.op}{'stressed' if self.value else 'functioning'}"
        return f"{self.outcome}{self.op}{self.value:g}"

    def holds(self, values: np.ndarray) -> np.ndarray:
        """Whether each scenario's ``values`` of the outcome meet the clause (NaN never does)."""
        values = np.asarray(values, dtype=float)
        with np.errstate(invalid="ignore"):
            return _OPERATORS[self.op](values, self.value) & np.isfinite(values)


@dataclasses.dataclass(frozen=True)
class Target:
    """Clauses joined by ``and``: a run meets the target when it meets every clause."""

    conditions: tuple[Condition, ...]

    def __str__(self) -> str:
        return " and ".join(str(c) for c in self.conditions)

    @property
    def outcomes(self) -> list[str]:
        """The outcomes the target reads, each once, in order."""
        return list(dict.fromkeys(c.outcome for c in self.conditions))

    def met(self, values: dict[str, np.ndarray]) -> np.ndarray:
        """Whether each scenario meets every clause, from :func:`outcome_values`."""
        out = None
        for condition in self.conditions:
            holds = condition.holds(values[condition.outcome])
            out = holds if out is None else out & holds
        return out


def _asset_names(system: Any) -> list[str]:
    return [a.name for a in system.assets]


def check_outcome(name: str, system: Any, where: str) -> None:
    """Raise :class:`ConfigError` unless ``name`` is an outcome of ``system``."""
    kind, _, asset = name.partition(".")
    if not asset:
        if kind in OUTCOMES:
            return
        if kind in ASSET_OUTCOMES:
            raise ConfigError(Problem("FS761", where, f"{kind!r} is an outcome of one asset: write {kind}.ASSET, "
                                      f"e.g. {kind}.{_asset_names(system)[0]}"))
        known = list(OUTCOMES) + [f"{k}.ASSET" for k in ASSET_OUTCOMES]
        raise ConfigError(Problem("FS761", where, f"unknown outcome {kind!r}.{did_you_mean(kind, known)} "
                                  f"Outcomes: {', '.join(known)}"))
    if kind not in ASSET_OUTCOMES:
        known = [f"{k}.ASSET" for k in ASSET_OUTCOMES]
        raise ConfigError(Problem("FS761", where, f"unknown outcome {kind!r} of an asset."
                                  f"{did_you_mean(kind, list(ASSET_OUTCOMES))} Asset outcomes: {', '.join(known)}"))
    names = _asset_names(system)
    if asset not in names:
        raise ConfigError(Problem("FS762", where, f"unknown asset {asset!r}.{did_you_mean(asset, names)} "
                                  f"Assets: {', '.join(names)}"))
    if kind == "yield" and system.assets[names.index(asset)].duration is None:
        bonds = [a.name for a in system.assets if a.duration is not None]
        raise ConfigError(Problem("FS763", where, f"{asset} has no duration, so it has no yield: use "
                                  f"price.{asset}" + (f", or the yield of a bond: {', '.join(bonds)}" if bonds else "")))


def parse_target(text: str, system: Any) -> Target:
    """Read a target such as ``defaults>=5 and price.ust_10y<=0.97`` (see the module
    docstring) against ``system``'s assets.

    Raises
    ------
    ConfigError
        FS760 to FS764, naming the clause.

    Examples
    --------
    >>> from firesale import load_preset
    >>> str(parse_target("defaults >= 1 and regime.ust_10y == stressed", load_preset("march_2020").system))
    'defaults>=1 and regime.ust_10y==stressed'
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(Problem("FS760", "--target", "empty: write a condition on the run's outcomes, e.g. "
                                  "defaults>=1 or loss>=100 and price.ASSET<=0.97"))
    conditions = []
    for clause in re.split(r"\s+and\s+", text.strip()):
        where = f"--target clause {clause.strip()!r}"
        match = _CLAUSE.match(clause)
        if match is None:
            raise ConfigError(Problem("FS760", where, "not a condition: write OUTCOME OP VALUE with OP one of "
                                      ">=, <=, >, <, ==, != (e.g. defaults>=1, price.ASSET<=0.97, "
                                      "regime.ASSET==stressed), clauses joined by 'and'"))
        kind, asset, op, raw = match.groups()
        name = kind if asset is None else f"{kind}.{asset}"
        check_outcome(name, system, where)
        if kind == "regime":
            if raw not in _REGIMES or op not in ("==", "!="):
                raise ConfigError(Problem("FS764", where, "a regime is compared with == or != to 'stressed' or "
                                          "'functioning', e.g. regime.ASSET==stressed"))
            value = _REGIMES[raw]
        else:
            try:
                value = float(raw)
            except ValueError:
                raise ConfigError(Problem("FS764", where, f"{raw!r} is not a number")) from None
            if not math.isfinite(value):
                raise ConfigError(Problem("FS764", where, f"{raw!r} is not a finite number"))
        conditions.append(Condition(name, op, value))
    return Target(tuple(conditions))


def outcome_variables(names: Sequence[str]) -> tuple[str, ...] | None:
    """The per-round variables a run must keep for ``names`` (None: all of them)."""
    return None if any(n.startswith("regime.") for n in names) else OUTCOME_VARIABLES


def outcome_unit(name: str, currency: str) -> str:
    """The unit of an outcome (the system's currency for amounts)."""
    kind = name.partition(".")[0]
    unit = (OUTCOMES.get(kind) or ASSET_OUTCOMES[kind])[1]
    return currency if unit == "currency" else unit


def outcome_values(ds: Any, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Each outcome of ``names`` per scenario of a results Dataset, shape (S,) each (see
    the module docstring for the definitions)."""
    from firesale.analytics.amplification import capital_lost, levered_institutions
    from firesale.analytics.regimes import tipped

    out: dict[str, np.ndarray] = {}
    lost = None
    for name in dict.fromkeys(names):
        kind, _, asset = name.partition(".")
        if kind in ("loss", "total_loss"):
            lost = capital_lost(ds) if lost is None else lost
            part = lost.where(levered_institutions(ds), 0.0) if kind == "loss" else lost
            value = part.sum("institution").values
        elif kind == "defaults":
            value = ds.defaulted.isel(round=-1).sum("institution").values
        elif kind == "forced_sales":
            value = ds.sold.sum(("round", "institution")).values
        elif kind == "breaches":
            value = ds.breach.any(("round", "channel")).sum("institution").values
        elif kind in ("price", "price_fall", "yield"):
            low = ds.price.sel(asset=asset).min("round").values
            if kind == "price":
                value = low
            elif kind == "price_fall":
                value = 1.0 - low
            else:
                duration = float(ds.duration.sel(asset=asset))
                with np.errstate(divide="ignore"):
                    value = -np.log(low) / duration * 1e4
        elif kind == "regime":
            value = tipped(ds, asset)
        else:  # parse_target and check_outcome refuse anything else
            raise ValueError(name)
        out[name] = np.asarray(value, dtype=float).reshape(-1)
    return out
