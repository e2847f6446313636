"""Parameters a preset declares as uncertain: what calibration may fit and Monte Carlo may draw.

A preset's ``[[parameters]]`` rows name a parameter by a dotted path and give its range::

    [[parameters]]
    name = "asset.ust_10y.max_discount"
    low = 0.04
    high = 0.12
    scale = "linear"            # or "log": Monte Carlo draws log-uniformly
    source = "He, Nagel & Song (2022), J. Financial Economics 143(1)"   # or "assumption"
    description = "Treasury fire-sale discount bound"

**Paths.** ``scenario.<field>[.<field>...]``: any float field of the scenario
(``scenario.market.balance_sheet_cost``, ``scenario.information.adverse_selection_elasticity``,
``scenario.shocks.0.price`` for a shock, by position); ``asset.<NAME>.<field>``: one asset's
field; ``class.<CLASS>.<field>``: that field on every asset of an asset class;
``institution.<NAME>.<field>``; ``type.<TYPE>.<field>``: every institution of a type;
``group.<GROUP>.<field>``: every institution of a group. Only float fields are parameters
(a count such as ``max_rounds`` or a rank is not).

**Values.** :func:`parameter_value` reads the current value (an unset field reads as its
effective default where the model has one: ``max_discount`` as
:meth:`~firesale.system.Asset.discount_bound` ``(True)``, ``capital_arrival`` as
:meth:`~firesale.system.Asset.arrival_rate` ``(True)``, ``haircut_beta`` as 1.5 x haircut, an
unset ``*_target`` as its trigger). :func:`apply_parameters` sets values and validates the
result as a loaded preset is validated: the changed Institution and Asset rows are validated
again and the checks across tables that they can break are run again (equity at t0 above 0,
repo within ``(1 - haircut)`` of the collateral, initial margin within cash, repo lent within
repo borrowed); scenario paths go through :meth:`firesale.scenario.Scenario.updated`. A
system or scenario no path touches is returned as it is (same object), so that scenarios
drawn over one system run as one batch (:func:`split_parameters` says which paths change
only the scenario).

Error codes: FS160 a row that is not a table or has an unknown key, FS161 a missing or
mistyped field, FS162 bad bounds, FS163 an unknown path kind, FS164 an unknown name,
FS165 an unknown or non-numeric field, FS166 a parameter given twice, FS167 a value that
cannot be read (unset, or members that differ), FS168 a value that cannot be set.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from firesale.errors import ConfigError, FieldError, Problem, did_you_mean, explain
from firesale.scenario import Scenario, Shock
from firesale.system import ASSET_CLASSES, INSTITUTION_TYPES, Asset, Institution, System

__all__ = ["changes_system", "ParameterRange", "PATH_KINDS", "SYSTEM_KINDS", "parse_parameters", "parameter_value", "apply_parameters",
           "split_parameters", "parameter_unit"]

#: First part of a parameter path: what it sets.
PATH_KINDS = ("scenario", "asset", "class", "institution", "type", "group")
#: Path kinds that change the System (the others change the Scenario only).
SYSTEM_KINDS = ("asset", "class", "institution", "type", "group")
_EXAMPLES = ("scenario.market.balance_sheet_cost, asset.NAME.max_discount, class.treasury.capital_arrival, "
             "institution.NAME.cash, type.asset_manager.redemption_sensitivity or group.A.leverage_target")


class ParameterRange(BaseModel):
    """One ``[[parameters]]`` row: a parameter, its range and where the range comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="Dotted path of the parameter (see the module docstring), e.g. "
                      "asset.ust_10y.max_discount.", json_schema_extra={"unit": "-"})
    low: float = Field(strict=True, allow_inf_nan=False, description="Lowest value (in the field's own unit).",
                       json_schema_extra={"unit": "field's unit"})
    high: float = Field(strict=True, allow_inf_nan=False, description="Highest value, above low (the field's unit).",
                        json_schema_extra={"unit": "field's unit"})
    scale: Literal["linear", "log"] = Field(
        "linear", description="How Monte Carlo draws it: uniformly in [low, high] (linear) or log-uniformly (log, "
        "needs low > 0).", json_schema_extra={"unit": "-"})
    source: str = Field(min_length=1, description="Where the range comes from: the paper or data, or the word "
                        "'assumption'.", json_schema_extra={"unit": "-"})
    description: str = Field("", description="One line on what the parameter is.", json_schema_extra={"unit": "-"})

    @field_validator("name", "source")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is blank: fill in a text")
        return value.strip()

    @model_validator(mode="after")
    def _ordered(self) -> ParameterRange:
        if self.low >= self.high:
            raise FieldError("high", f"high = {self.high:g} is not above low = {self.low:g}: give low < high")
        if self.scale == "log" and self.low <= 0:
            raise FieldError("low", f"low = {self.low:g} with scale = 'log': a log-uniform draw needs low > 0; "
                             "raise low or use scale = 'linear'")
        return self


# --------------------------------------------------------------------------- paths
@dataclasses.dataclass(frozen=True)
class _Path:
    """A resolved path: its kind, the members it sets (positions in the system's
    institutions or assets; empty for scenario paths) and the field (dotted, for the scenario)."""

    name: str
    kind: str
    members: tuple[int, ...]
    field: str


def _float_field(model: type[BaseModel], field: str) -> bool:
    info = model.model_fields.get(field)
    if info is None:
        return False
    kinds = {a for a in (typing.get_args(info.annotation) or (info.annotation,)) if a is not type(None)}
    return kinds == {float}


def _float_fields(model: type[BaseModel]) -> list[str]:
    return [f for f in model.model_fields if _float_field(model, f)]


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _scenario_field(name: str, parts: list[str], scenario: Scenario | None) -> str:
    """The dotted scenario field of ``scenario.<parts>``; ConfigError when it names no float field."""
    model: type[BaseModel] = Scenario
    walked: list[str] = []
    i = 0
    while i < len(parts):
        part = parts[i]
        if model is Scenario and part == "shocks":
            index = parts[i + 1] if i + 1 < len(parts) else ""
            n = None if scenario is None else len(scenario.shocks)
            if not index.isdigit() or (n is not None and int(index) >= n):
                has = "" if n is None else f" (the scenario has {n})"
                last = "N - 1" if n is None else n - 1
                raise ConfigError(Problem("FS164", name, f"scenario.shocks takes a shock's position, 0 to {last}{has}: "
                                          "write e.g. scenario.shocks.0.price"))
            walked += [part, index]
            model, i = Shock, i + 2
            continue
        if part not in model.model_fields:
            known = list(model.model_fields)
            raise ConfigError(Problem("FS165", name, f"scenario.{'.'.join(walked + [part])} is not a scenario field."
                                      f"{did_you_mean(part, known)} Fields here: {', '.join(known)}"))
        walked.append(part)
        nested = _nested_model(model.model_fields[part].annotation)
        if i == len(parts) - 1:
            if not _float_field(model, part):
                numeric = _float_fields(model)
                raise ConfigError(Problem("FS165", name, f"scenario.{'.'.join(walked)} is not a number field, so it "
                                          "cannot be drawn or fitted: name a float field"
                                          + (f" ({', '.join(numeric)})" if numeric else "")))
            break
        if nested is None:
            raise ConfigError(Problem("FS165", name, f"scenario.{'.'.join(walked)} is not a section with fields, so "
                                      f"{name!r} names nothing: check the dotted name"))
        model = nested
        i += 1
    else:
        raise ConfigError(Problem("FS165", name, "names a section, not a field: add the field, e.g. "
                                  "scenario.market.balance_sheet_cost"))
    return ".".join(walked)


def _resolve(name: Any, system: System | None, scenario: Scenario | None) -> _Path:
    """A path checked against the system and scenario (either may be None: not checked)."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(Problem("FS163", f"parameter {name!r}", f"is not a dotted path: write e.g. {_EXAMPLES}"))
    parts = name.split(".")
    kind = parts[0]
    if kind not in PATH_KINDS:
        raise ConfigError(Problem("FS163", name, f"unknown kind of parameter {kind!r}.{did_you_mean(kind, PATH_KINDS)} "
                                  f"A path starts with one of {', '.join(PATH_KINDS)}: {_EXAMPLES}"))
    if kind == "scenario":
        if len(parts) < 2 or not all(parts[1:]):
            raise ConfigError(Problem("FS163", name, "write scenario.<field>[.<field>...], e.g. "
                                      "scenario.market.balance_sheet_cost"))
        return _Path(name, kind, (), _scenario_field(name, parts[1:], scenario))
    if len(parts) < 3 or not parts[-1] or not ".".join(parts[1:-1]):
        member = "NAME" if kind in ("asset", "institution") else kind.upper()
        raise ConfigError(Problem("FS163", name, f"write {kind}.<{member}>.<field>, e.g. {_EXAMPLES}"))
    target, field = ".".join(parts[1:-1]), parts[-1]
    model: type[BaseModel] = Asset if kind in ("asset", "class") else Institution
    if not _float_field(model, field):
        known = _float_fields(model)
        what = "asset" if model is Asset else "institution"
        reason = "is not a number field" if field in model.model_fields else f"is not an {what} field"
        raise ConfigError(Problem("FS165", name, f"{field!r} {reason}.{did_you_mean(field, known)} Number fields of "
                                  f"an {what}: {', '.join(known)}"))
    members: tuple[int, ...] = ()
    if kind == "class" and target not in ASSET_CLASSES:
        raise ConfigError(Problem("FS164", name, f"unknown asset class {target!r}."
                                  f"{did_you_mean(target, ASSET_CLASSES)} Classes: {', '.join(ASSET_CLASSES)}"))
    if kind == "type" and target not in INSTITUTION_TYPES:
        raise ConfigError(Problem("FS164", name, f"unknown institution type {target!r}."
                                  f"{did_you_mean(target, INSTITUTION_TYPES)} Types: {', '.join(INSTITUTION_TYPES)}"))
    if system is not None:
        if kind in ("asset", "institution"):
            names = system.asset_names if kind == "asset" else system.institution_names
            if target not in names:
                shown = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")
                raise ConfigError(Problem("FS164", name, f"unknown {kind} {target!r}.{did_you_mean(target, names)} "
                                          f"Known {kind}s: {shown}"))
            members = (names.index(target),)
        else:
            rows = system.assets if kind == "class" else system.institutions
            attr = {"class": "asset_class", "type": "type", "group": "group"}[kind]
            members = tuple(i for i, row in enumerate(rows) if getattr(row, attr) == target)
            if not members:
                present = sorted({str(getattr(row, attr)) for row in rows})
                what = {"class": "asset of class", "type": "institution of type", "group": "institution in group"}[kind]
                raise ConfigError(Problem("FS164", name, f"the system has no {what} {target!r}."
                                          f"{did_you_mean(target, present)} Present: {', '.join(present)}"))
    return _Path(name, kind, members, field)


def split_parameters(names: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(scenario_names, system_names)``: the paths that change only the scenario (many
    of them run as one batch of one ``simulate`` call) and those that change the system
    (a system per distinct set of their values).

    Examples
    --------
    >>> split_parameters(["scenario.market.balance_sheet_cost", "asset.ust.max_discount"])
    (['scenario.market.balance_sheet_cost'], ['asset.ust.max_discount'])
    """
    return [n for n in names if not changes_system(n)], [n for n in names if changes_system(n)]


def changes_system(name: str) -> bool:
    """Whether a path changes the system (``asset.``, ``class.``, ``institution.``,
    ``type.``, ``group.``) rather than only the scenario."""
    return name.split(".", 1)[0] in SYSTEM_KINDS


def parameter_unit(name: str) -> str:
    """The unit of the field a path names (``"-"`` when the field declares none)."""
    parts = name.split(".")
    if parts[0] in SYSTEM_KINDS:
        model: type[BaseModel] = Asset if parts[0] in ("asset", "class") else Institution
        info = model.model_fields.get(parts[-1])
    else:
        model, info = Scenario, None
        for part in parts[1:]:
            if part.isdigit():
                continue
            info = model.model_fields.get(part) if model is not None else None
            if info is None:
                return "-"
            model = _nested_model(info.annotation) or (Shock if part == "shocks" else None)
    extra = None if info is None else info.json_schema_extra
    return str(extra.get("unit", "-")) if isinstance(extra, dict) else "-"


# --------------------------------------------------------------------------- values
#: Effective values of unset fields: the default the model applies in their place.
_ASSET_DEFAULTS = {
    "max_discount": lambda a: a.discount_bound(True),
    "capital_arrival": lambda a: a.arrival_rate(True),
    "haircut_beta": lambda a: a.beta,
    "adverse_selection": lambda a: a.mu0,
    "spread": lambda a: 2.0 * a.mu0 * a.sigma0,
    "opacity": lambda a: a.opacity_share,
}
_INSTITUTION_DEFAULTS = {
    "slr_target": lambda i: i.slr_trigger,
    "leverage_target": lambda i: i.leverage_trigger,
}


def _member_value(row: Institution | Asset, field: str) -> float | None:
    value = getattr(row, field)
    if value is None:
        default = (_ASSET_DEFAULTS if isinstance(row, Asset) else _INSTITUTION_DEFAULTS).get(field)
        value = None if default is None else default(row)
    return None if value is None else float(value)


def parameter_value(system: System, scenario: Scenario, name: str) -> float:
    """The current value of a parameter: the field's value, or its effective default when
    unset (see the module docstring); for class, type and group paths the members' common value.

    Raises
    ------
    ConfigError
        An unknown path (FS163-FS165), a field that is unset without a default, or members
        whose values differ (FS167).

    Examples
    --------
    >>> from firesale import load_preset
    >>> p = load_preset("dealer_prime")
    >>> parameter_value(p.system, p.scenario, "scenario.policy.all_to_all")
    0.0
    """
    path = _resolve(name, system, scenario)
    if path.kind == "scenario":
        value: Any = scenario
        for part in path.field.split("."):
            value = value[int(part)] if part.isdigit() else getattr(value, part)
        if value is None:
            raise ConfigError(Problem("FS167", name, "is not set in the scenario, so it has no current value: set "
                                      "it in the preset's [scenario] section"))
        return float(value)
    rows = system.assets if path.kind in ("asset", "class") else system.institutions
    values = {rows[m].name: _member_value(rows[m], path.field) for m in path.members}
    unset = [n for n, v in values.items() if v is None]
    if unset:
        raise ConfigError(Problem("FS167", name, f"{path.field} is not set on {', '.join(unset)} and has no default, "
                                  "so it has no current value: set it in the table"))
    distinct = sorted(set(values.values()))
    if len(distinct) > 1:
        shown = ", ".join(f"{n} {v:g}" for n, v in list(values.items())[:8])
        each = "asset" if rows is system.assets else "institution"
        raise ConfigError(Problem("FS167", name, f"the members differ ({shown}), so there is no one current "
                                  f"value: give each member its own path ({each}.NAME.{path.field}) or make them "
                                  "equal"))
    return distinct[0]


def _bad_value(name: str, value: Any) -> ConfigError | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return ConfigError(Problem("FS168", name, f"got {value!r}: a parameter takes a number; give one"))
    if not math.isfinite(float(value)):
        return ConfigError(Problem("FS168", name, f"got {value!r}: a parameter takes a finite number; give one"))
    return None


def _relabelled(err: ConfigError, name: str, value: float) -> ConfigError:
    return ConfigError([Problem("FS168", f"parameter {name} = {value:g}", f"{p.message} [{p.code} {p.where}]")
                        for p in err.problems])


def apply_parameters(system: System, scenario: Scenario,
                     values: Mapping[str, float]) -> tuple[System, Scenario]:
    """A new system and scenario with the parameters set to ``values``.

    Scenario paths go through :meth:`~firesale.scenario.Scenario.updated` (shocks by
    position); system paths validate each changed Institution or Asset row again and
    rebuild the :class:`~firesale.system.System` around the same matrices (market shares
    as given, or recomputed when they were the default), then check what the new values
    can break across tables. Whatever no path touches is returned as it is.

    Raises
    ------
    ConfigError
        An unknown path (FS163-FS165) or a value the model refuses (FS168, naming the
        parameter and the value, with the model's own message and code).
    """
    if not values:
        return system, scenario
    paths = {name: _resolve(name, system, scenario) for name in values}
    for name, value in values.items():
        bad = _bad_value(name, value)
        if bad is not None:
            raise bad
    scenario_values = {n: float(v) for n, v in values.items() if paths[n].kind == "scenario"}
    if scenario_values:
        scenario = _apply_scenario(scenario, {paths[n].field: v for n, v in scenario_values.items()},
                                   {paths[n].field: n for n in scenario_values})
    system_values = {n: float(v) for n, v in values.items() if paths[n].kind != "scenario"}
    if system_values:
        system = _apply_system(system, {n: (paths[n], v) for n, v in system_values.items()})
    return system, scenario


def _apply_scenario(scenario: Scenario, fields: dict[str, float], names: dict[str, str]) -> Scenario:
    changes: dict[str, Any] = {}
    shocks = None
    for field, value in fields.items():
        if field.startswith("shocks."):
            shocks = [s.model_dump() for s in scenario.shocks] if shocks is None else shocks
            _, index, leaf = field.split(".")
            shocks[int(index)][leaf] = value
        else:
            changes[field] = value
    if shocks is not None:
        changes["shocks"] = shocks
    try:
        return scenario.updated(**changes)
    except ConfigError as err:
        shown = next(iter(fields.items()))
        if len(fields) == 1:
            raise _relabelled(err, names[shown[0]], shown[1]) from None
        raise ConfigError([Problem("FS168", "parameters " + ", ".join(f"{names[f]} = {v:g}" for f, v in fields.items()),
                                   f"{p.message} [{p.code} {p.where}]") for p in err.problems]) from None


def _apply_system(system: System, changes: dict[str, tuple[_Path, float]]) -> System:
    institutions, assets = list(system.institutions), list(system.assets)
    edits: dict[tuple[str, int], dict[str, tuple[str, float]]] = {}
    for name, (path, value) in changes.items():
        table = "assets" if path.kind in ("asset", "class") else "institutions"
        for m in path.members:
            edits.setdefault((table, m), {})[path.field] = (name, value)
    for (table, m), fields in edits.items():
        rows = assets if table == "assets" else institutions
        model = Asset if table == "assets" else Institution
        data = rows[m].model_dump() | {f: v for f, (_, v) in fields.items()}
        try:
            rows[m] = model.model_validate(data)
        except ValidationError as err:
            problems = []
            for e in err.errors():
                cause = (e.get("ctx") or {}).get("error")
                field = cause.field if isinstance(cause, FieldError) else ".".join(str(x) for x in e["loc"])
                owner = fields.get(field, next(iter(fields.values())))
                problems.append(Problem("FS168", f"parameter {owner[0]} = {owner[1]:g}",
                                        f"{table} row {rows[m].name!r}, field {field}: {explain(e)}"))
            raise ConfigError(problems) from None
    default_shares = _is_default_share(system)
    out = System(system.name, institutions, assets, system.holdings, system.trading_fraction, system.correlation,
                 currency=system.currency, description=system.description, repo=system.repo,
                 derivative=system.derivative, initial_margin=system.initial_margin,
                 market_share=None if default_shares else system.market_share, sparse=system.sparse)
    problems = _cross_table_problems(out, system, changes)
    if problems:
        raise ConfigError(problems)
    return out


def _is_default_share(system: System) -> bool:
    from firesale.matrices import max_abs_difference

    return max_abs_difference(system.market_share, system.default_market_share()) <= 1e-15


def _cross_table_problems(new: System, old: System, changes: dict[str, tuple[_Path, float]]) -> list[Problem]:
    """The checks across tables of :meth:`System.from_records` that new row values can
    break, vectorised over institutions and positions."""
    from firesale.matrices import row_sums, triplets, values_at

    where = "parameters " + ", ".join(f"{n} = {v:g}" for n, (_, v) in changes.items())
    problems = []
    equity = new.equity0
    for i in np.flatnonzero(equity <= 0):
        problems.append(Problem("FS168", where, f"institution {new.institution_names[i]!r} is insolvent at t0: equity "
                                f"{equity[i]:.6g}: an institution must start with positive equity; narrow the range"))
    rows, cols, repo = triplets(new.repo)
    if rows.size:
        haircut = np.array([a.haircut for a in new.assets])
        quantity = values_at(new.holdings, rows, cols)
        room = (1.0 - haircut[cols]) * quantity
        for j in np.flatnonzero(repo > room * (1 + 1e-12)):
            most = 1 - repo[j] / quantity[j]
            problems.append(Problem("FS168", where, f"repo {repo[j]:g} of {new.institution_names[rows[j]]!r} on "
                                    f"{new.asset_names[cols[j]]!r} is above (1 - haircut {haircut[cols[j]]:g}) x "
                                    f"quantity {quantity[j]:g}: keep the haircut at most {most:.6g}"))
    rows, cols, notional = triplets(new.derivative)
    if rows.size:
        rate = values_at(new.initial_margin, rows, cols)
        margin = np.bincount(rows, weights=rate * np.abs(notional), minlength=new.n_institutions)
        cash = new.cash0
        for i in np.flatnonzero(margin - cash > 1e-12 * cash):
            problems.append(Problem("FS168", where, f"cash {cash[i]:g} of {new.institution_names[i]!r} cannot cover "
                                    f"its derivatives' initial margin {margin[i]:g} at t0; narrow the range"))
    lent, borrowed = float(new.lending0.sum()), float(row_sums(new.repo).sum())
    if lent > borrowed * (1 + 1e-12) and lent != float(old.lending0.sum()):
        problems.append(Problem("FS168", where, f"the institutions lend {lent:g} in repo but borrow only "
                                f"{borrowed:g}: repo lent cannot exceed repo borrowed; narrow the range"))
    return problems


# --------------------------------------------------------------------------- the rows
_KEYS = tuple(ParameterRange.model_fields)


def parse_parameters(rows: Any, label: str, system: System | None,
                     scenario: Scenario | None) -> tuple[tuple[ParameterRange, ...], list[Problem]]:
    """The validated ``[[parameters]]`` rows of a preset, and the problems found.

    Each row is checked for unknown and missing keys, mistyped values, ``low < high``
    (and ``low > 0`` on a log scale), a path that names a float field of something the
    system or scenario has (FS163-FS165), a name given twice (FS166), and that ``low``
    and ``high`` can each be set (FS168: a value the field refuses, such as a discount
    above 1). A current value outside ``[low, high]`` is not a problem. Problems name the
    file, the row and the field: ``"preset.toml, [[parameters]] row 3, field name"``.
    """
    if rows is None or rows == []:
        return (), []
    if not isinstance(rows, list):
        return (), [Problem("FS160", f"{label}, [[parameters]]", f"got {rows!r}: write one [[parameters]] table "
                            "per parameter (name, low, high, source)")]
    out: list[ParameterRange] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for r, row in enumerate(rows, start=1):
        where = f"{label}, [[parameters]] row {r}"
        if not isinstance(row, dict):
            problems.append(Problem("FS160", where, f"got {row!r}: a parameter is a table of name, low, high, source"))
            continue
        try:
            parsed = ParameterRange.model_validate(row)
        except ValidationError as err:
            for e in err.errors():
                cause = (e.get("ctx") or {}).get("error")
                field = cause.field if isinstance(cause, FieldError) else ".".join(str(x) for x in e["loc"])
                code = ("FS160" if e["type"] == "extra_forbidden" else "FS162" if isinstance(cause, FieldError)
                        else "FS161")
                message = explain(e, _KEYS)
                if e["type"] == "missing" and field == "source":
                    message += " (the paper or data the range comes from, or the word 'assumption')"
                problems.append(Problem(code, f"{where}, field {field}" if field else where, message))
            continue
        if parsed.name in seen:
            problems.append(Problem("FS166", f"{where}, field name", f"{parsed.name!r} is given twice (first at row "
                                    f"{seen[parsed.name]}): keep one row per parameter"))
            continue
        seen[parsed.name] = r
        try:
            _resolve(parsed.name, system, scenario)
        except ConfigError as err:
            problems += [Problem(p.code, f"{where}, field name", p.message) for p in err.problems]
            continue
        if system is not None and scenario is not None:
            bad = False
            for bound in ("low", "high"):
                try:
                    apply_parameters(system, scenario, {parsed.name: getattr(parsed, bound)})
                except ConfigError as err:
                    bad = True
                    problems += [Problem(p.code, f"{where}, field {bound}", p.message) for p in err.problems]
            if bad:
                continue
        out.append(parsed)
    return tuple(out), problems
