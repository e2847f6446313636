"""Presets: a System and a Scenario in one TOML file, or a directory of tables.

A preset file has top-level ``name``, ``description``, ``currency``, then either the
tables inline (``[[institutions]]``, ``[[assets]]``, ``[[holdings]]``,
``[[correlations]]``) or a ``[tables]`` section naming CSV/Parquet files relative to the
preset, a ``[scenario]`` section (see :class:`firesale.scenario.Scenario`) and optional
named policy bundles, ``[policies.NAME]``: a ``description`` and dotted scenario overrides
(``"policy.slr_exemption" = true``), checked against the scenario at load time. A
directory holds the tables and an optional ``scenario.toml`` of the same form, without
tables (its files are the tables).

Every key is checked: an unknown one is an error naming the file, the key and the valid
keys; a boolean or a quoted number where a number belongs is an error, never coerced.
A value outside its field's plausible range (a likely unit mistake, such as a daily
volatility written in percent) is an error unless the file sets ``allow_implausible =
true`` at its top or the loader is called with ``allow_implausible=True``.
"""

from __future__ import annotations

import tomllib
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from firesale.data.tables import TABLE_NAMES, _read_checked, read_tables
from firesale.analytics.targets import Target, parse_targets
from firesale.errors import ConfigError, DataError, Problem, did_you_mean
from firesale.parameters import ParameterRange, parse_parameters
from firesale.scenario import Scenario, parse_scenario
from firesale.system import Asset, Institution, Mistyped, System, loader_checks, mark_mistyped

__all__ = ["Preset", "load", "load_preset", "list_presets", "policy_switches", "validate", "DEFAULT_PRESET"]

#: The preset `make run` and a bare `firesale run` use.
DEFAULT_PRESET = "dealer_groups"
_TOP_KEYS = {"name", "description", "currency", "scenario", "tables", "policies", "allow_implausible", "targets",
             "parameters", *TABLE_NAMES}
#: Top-level keys of a table folder's ``scenario.toml``: the folder's files are its tables.
_DIRECTORY_KEYS = {"name", "description", "currency", "scenario", "policies", "allow_implausible", "targets",
                   "parameters"}
#: Deepest nesting of tables and arrays a preset may have (its own need at most 6).
MAX_DEPTH = 32
#: Number columns of the tables without a model (inline TOML rows of these take no text).
_NUMBER_COLUMNS = {"holdings": ("quantity", "trading_fraction", "repo", "derivative", "initial_margin"),
                   "correlations": ("correlation",), "market_shares": ("share",)}
#: Policy names a bundle cannot take: the baseline column, and "+" joins names.
_RESERVED_POLICY_NAMES = {"baseline"}


@dataclass(frozen=True)
class Preset:
    """A system with the scenario it ships with."""

    name: str
    description: str
    system: System
    scenario: Scenario
    source: str
    #: Named policy bundles of the ``[policies.NAME]`` sections:
    #: ``{name: {"description": str, "overrides": {dotted scenario field: value}}}``.
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The record the preset is checked against (``[[targets]]``, :mod:`firesale.analytics.targets`).
    targets: tuple[Target, ...] = ()
    #: Parameters that calibration may fit and Monte Carlo may draw, with their ranges
    #: (``[[parameters]]``, :mod:`firesale.parameters`).
    parameters: tuple[ParameterRange, ...] = ()


def _preset_dir():
    return resources.files("firesale") / "presets"


def list_presets() -> dict[str, str]:
    """Built-in presets and their one-line descriptions, by name."""
    out = {}
    for entry in sorted(_preset_dir().iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text())
            out[entry.name.removesuffix(".toml")] = str(data.get("description", ""))
    return out


def load_preset(name: str, *, allow_implausible: bool = False) -> Preset:
    """A built-in preset by name (``allow_implausible``: as for :func:`load`).

    Raises
    ------
    ConfigError
        Unknown name, with the known names and the closest one.
    """
    entry = _preset_dir() / f"{name}.toml"
    if not entry.is_file():
        known = list(list_presets())
        raise ConfigError(Problem("FS001", f"preset {name!r}",
                                  f"unknown preset.{did_you_mean(name, known)} Known presets: {', '.join(known)}; "
                                  "use one of these, or give a .toml file or a directory of tables"))
    return _from_toml_text(entry.read_text(), f"{name}.toml", base=None, allow_implausible=allow_implausible)


def _looks_like_path(target: str | Path) -> bool:
    text = str(target)
    return "/" in text or "\\" in text or Path(text).suffix in (".toml", ".csv", ".parquet")


def load(target: str | Path, *, allow_implausible: bool = False) -> Preset:
    """A preset by name, a preset ``.toml`` file, or a directory of tables.

    Parameters
    ----------
    target : str or path
    allow_implausible : bool
        Let values outside their fields' plausible ranges through (the hard bounds still
        apply), as ``allow_implausible = true`` at the top of the file does. By default
        such a value (``sigma0 = 4.5``: a daily volatility in percent) is an error that
        names the field, the value, the plausible range and the likely unit mistake.

    Raises
    ------
    DataError
        A table is invalid (every problem, with file, row and field).
    ConfigError
        Unknown preset or path, or only the scenario is invalid.
    """
    path = Path(target)
    if path.is_dir():
        return _from_directory(path, allow_implausible)
    if path.suffix == ".toml":
        if not path.is_file():
            raise ConfigError(Problem("FS002", str(path), "preset file not found: check the path"))
        return _from_toml_text(_read_text(path), path.name, base=path.parent, allow_implausible=allow_implausible)
    if path.exists():
        raise ConfigError(Problem("FS002", str(path), "is neither a .toml preset nor a directory of tables: "
                                  "give a preset .toml file, a directory of tables or a preset name"))
    if _looks_like_path(target):
        raise ConfigError(Problem("FS002", str(path), "no such file or directory: check the path "
                                  f"(or use a preset name: {', '.join(list_presets())})"))
    return load_preset(str(target), allow_implausible=allow_implausible)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(Problem("FS002", path.name, f"cannot read the file ({err}): check that it is a "
                                  "readable UTF-8 text file")) from None


def _too_deep(label: str, depth: str) -> DataError:
    return DataError(Problem("FS003", label, f"is nested {depth} levels deep (tables and arrays inside each "
                             f"other): a preset needs a few, and at most {MAX_DEPTH} are read; check the file for "
                             "runaway brackets or dotted keys"))


def _depth(value: Any) -> int:
    """Deepest nesting of tables and arrays in a parsed TOML value (iteratively, so that
    any depth is measured without recursion), counting up to ``MAX_DEPTH + 1``."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level + 1)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def _parse_toml(text: str, label: str) -> dict[str, Any]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise DataError(Problem("FS003", label, f"is not valid TOML: {err}; fix the syntax there")) from None
    except RecursionError:
        raise _too_deep(label, "too many") from None
    if _depth(data) > MAX_DEPTH:
        raise _too_deep(label, f"more than {MAX_DEPTH}")
    return data


def _check_top_keys(data: dict[str, Any], label: str, directory: bool = False) -> list[Problem]:
    known = _DIRECTORY_KEYS if directory else _TOP_KEYS
    problems = []
    for key in sorted(set(data) - known):
        if directory and key in _TOP_KEYS:
            fix = ("remove it, or name the files in a preset .toml outside the folder" if key == "tables"
                   else f"move the rows into {key}.csv or remove them")
            message = (f"a table folder's scenario.toml takes no {'[tables]' if key == 'tables' else f'[[{key}]]'}: "
                       f"the folder's files are its tables ({', '.join(f'{t}.csv' for t in TABLE_NAMES[:3])}, ...), "
                       f"so it would be ignored. Valid keys: {', '.join(sorted(known))}; {fix}")
        else:
            message = (f"unknown top-level key or section {key!r}.{did_you_mean(key, known)} "
                       f"Valid keys: {', '.join(sorted(known))}; rename or remove it")
        problems.append(Problem("FS004", f"{label}, key {key}", message))
    for key in ("name", "description", "currency"):
        if key in data and not isinstance(data[key], str):
            problems.append(Problem("FS151", f"{label}, key {key}",
                                    f"got {data[key]!r}: {key} is a text; write it in quotes"))
    if "allow_implausible" in data and not isinstance(data["allow_implausible"], bool):
        problems.append(Problem("FS151", f"{label}, key allow_implausible",
                                f"got {data['allow_implausible']!r}: write allow_implausible = true or false"))
    return problems


def _checking(data: dict[str, Any], allow_implausible: bool) -> Any:
    """The context to validate a file's contents in: plausible ranges checked, unless the
    loader's argument or the file's own ``allow_implausible = true`` allows."""
    return loader_checks(allow_implausible or data.get("allow_implausible") is True)


def _mark_inline(rows: Any, table: str) -> Any:
    """Inline TOML rows with every boolean or quoted text in a number column marked, so
    that validation names it instead of reading ``"0.05"`` as 0.05 or ``true`` as 1
    (a CSV cell is text, and is read as a number there)."""
    if not isinstance(rows, list):
        return rows
    model = {"institutions": Institution, "assets": Asset}.get(table)
    out = []
    for row in rows:
        if isinstance(row, dict) and model is not None:
            row = mark_mistyped(model, row, text=True)
        elif isinstance(row, dict):
            numbers = _NUMBER_COLUMNS.get(table, ())
            row = {k: Mistyped(v) if k in numbers and isinstance(v, (bool, str)) else v for k, v in row.items()}
        out.append(row)
    return out


def _from_directory(path: Path, allow_implausible: bool = False) -> Preset:
    scenario_file = path / "scenario.toml"
    meta: dict[str, Any] = _parse_toml(_read_text(scenario_file), scenario_file.name) if scenario_file.exists() else {}
    with _checking(meta, allow_implausible):
        return _directory_preset(path, scenario_file, meta)


def _directory_preset(path: Path, scenario_file: Path, meta: dict[str, Any]) -> Preset:
    config = _check_top_keys(meta, scenario_file.name, directory=True)
    data: list[Problem] = []
    system = scenario = None
    try:
        system = read_tables(path, name=str(meta.get("name", path.name)),
                             currency=str(meta.get("currency", "currency")),
                             description=str(meta.get("description", "")))
    except DataError as err:
        data += err.problems
    try:
        scenario = parse_scenario(meta.get("scenario", {}), source=scenario_file.name)
    except ConfigError as err:
        config += err.problems
    if system is not None and scenario is not None:
        config += _shock_targets(system, scenario, scenario_file.name)
    policies, problems = _parse_policies(meta.get("policies", {}), scenario_file.name, system, scenario)
    config += problems
    parameters, problems = parse_parameters(meta.get("parameters", []), scenario_file.name, system, scenario)
    config += problems
    targets, problems = parse_targets(meta.get("targets", []), scenario_file.name, system, scenario, policies)
    config += problems
    _raise(data, config)
    assert system is not None and scenario is not None
    return Preset(system.name, system.description, system, scenario, str(path), policies, targets, parameters)


def _raise(data: list[Problem], config: list[Problem]) -> None:
    """DataError when any table is invalid (listing every problem), else ConfigError."""
    if data:
        raise DataError(data + config)
    if config:
        raise ConfigError(config)


def _shock_targets(system: System, scenario: Scenario, label: str) -> list[Problem]:
    """Shocks naming an asset or institution the system does not have."""
    problems = []
    for s, shock in enumerate(scenario.shocks):
        for column, name, known in (("asset", shock.asset, system.asset_names),
                                    ("institution", shock.institution, system.institution_names)):
            if name is not None and name not in known:
                problems.append(Problem(
                    "FS203", f"{label}, field scenario.shocks.{s}.{column}",
                    f"unknown {column} {name!r}.{did_you_mean(name, known)} Known {column}s: {', '.join(known)}; "
                    "use one of these names",
                ))
    for section in ("purchases", "repo_facility"):
        programme = getattr(scenario.policy, section)
        for name in () if programme is None else programme.assets:
            if name not in system.asset_names:
                problems.append(Problem(
                    "FS203", f"{label}, field scenario.policy.{section}.assets",
                    f"unknown asset {name!r}.{did_you_mean(name, system.asset_names)} Known assets: "
                    f"{', '.join(system.asset_names)}; use one of these names",
                ))
    return problems


def policy_switches() -> dict[str, str]:
    """The boolean fields of :class:`firesale.scenario.Policy`, read generically, as
    ``{name: description}``; fields of nested sections by dotted name (``section.field``).
    A policy of this name switches the field on (sets it to true)."""
    return _bool_fields(Scenario.model_fields["policy"].annotation, "")


def _model_of(annotation: Any) -> Any:
    """The pydantic model in an annotation (``Model`` or ``Model | None``), else None."""
    from pydantic import BaseModel

    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _bool_fields(model: Any, prefix: str) -> dict[str, str]:
    out: dict[str, str] = {}
    if model is None:
        return out
    for name, info in model.model_fields.items():
        annotation = info.annotation
        args = set(typing.get_args(annotation))
        if annotation is bool or (args and args <= {bool, type(None)} and bool in args):
            out[prefix + name] = " ".join((info.description or "").split())
        elif (nested := _model_of(annotation)) is not None:
            out.update(_bool_fields(nested, f"{prefix}{name}."))
    return out


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested TOML tables as dotted keys: ``{"policy": {"a": 1}}`` -> ``{"policy.a": 1}``."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict) and value:
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def _relabel(text: str, old: str, new: str) -> str:
    """``where`` of a problem found in a policy bundle, naming the file and the policy."""
    return new + text[len(old):] if text.startswith(old) else f"{new}: {text}"


def _parse_policies(section: Any, label: str, system: System | None,
                    scenario: Scenario | None) -> tuple[dict[str, dict[str, Any]], list[Problem]]:
    """The ``[policies.NAME]`` bundles, each override applied to the scenario to check it."""
    problems: list[Problem] = []
    if not isinstance(section, dict):
        return {}, [Problem("FS006", f"{label}, section policies",
                            f"got {section!r}: write each policy as a section [policies.NAME] of dotted "
                            'scenario overrides, e.g. "policy.slr_exemption" = true')]
    switches = policy_switches()
    policies: dict[str, dict[str, Any]] = {}
    for name, body in section.items():
        where = f"{label}, [policies.{name}]"
        if not isinstance(body, dict):
            problems.append(Problem("FS006", where, f"got {body!r}: a policy is a section of dotted scenario "
                                    'overrides, e.g. [policies.NAME] "policy.slr_exemption" = true'))
            continue
        bad_name = ("+" in name or not name.strip() or name in _RESERVED_POLICY_NAMES or name in switches)
        if bad_name:
            why = (f"{name!r} is the policy switch scenario.policy.{name} already" if name in switches
                   else f"{name!r} is not a usable policy name (not empty, not 'baseline', no '+', which "
                   "combines policies)")
            problems.append(Problem("FS006", where, f"{why}: rename the section"))
        body = dict(body)
        description = body.pop("description", "")
        if not isinstance(description, str):
            problems.append(Problem("FS006", f"{where}, field description",
                                    f"got {description!r}: the description is a string; write it in quotes"))
            description = str(description)
        overrides = {key.removeprefix("scenario."): value for key, value in _flatten(body).items()}
        if not overrides:
            problems.append(Problem("FS006", where, "sets no scenario field, so it would equal the baseline: add "
                                    'dotted overrides, e.g. "policy.slr_exemption" = true'))
            continue
        if scenario is not None:
            try:
                changed = scenario.updated(**overrides)
            except ConfigError as err:
                problems += [Problem(p.code, _relabel(p.where, "override", where), p.message)
                             for p in err.problems]
                continue
            if system is not None:
                problems += [Problem(p.code, _relabel(p.where, label, where), p.message)
                             for p in _shock_targets(system, changed, label)]
        if not bad_name:
            policies[name] = {"description": " ".join(description.split()), "overrides": overrides}
    return policies, problems


def _from_toml_text(text: str, label: str, base: Path | None, allow_implausible: bool = False) -> Preset:
    data = _parse_toml(text, label)
    with _checking(data, allow_implausible):
        return _toml_preset(data, label, base)


def _toml_preset(data: dict[str, Any], label: str, base: Path | None) -> Preset:
    config = _check_top_keys(data, label)
    problems: list[Problem] = []
    currency = str(data.get("currency", "currency"))
    files = data.get("tables", {})
    if not isinstance(files, dict):
        config.append(Problem("FS005", f"{label}, section tables",
                              f"got {files!r}: [tables] maps table names to files, e.g. holdings = \"holdings.csv\""))
        files = {}
    for key in sorted(set(files) - set(TABLE_NAMES)):
        config.append(Problem("FS005", f"{label}, field tables.{key}",
                              f"unknown table {key!r}.{did_you_mean(key, TABLE_NAMES)} Known tables: "
                              f"{', '.join(TABLE_NAMES)}; rename or remove it"))
    tables: dict[str, Any] = {}
    sources: dict[str, str] = {}
    readable = True
    for table in TABLE_NAMES:
        if table in files:
            if base is None:
                config.append(Problem("FS005", label, "a built-in preset cannot point at table files: "
                                      "put the tables inline"))
                tables[table] = []
                continue
            if table in data:
                config.append(Problem("FS005", f"{label}, field tables.{table}",
                                      f"{table} is given both inline ([[{table}]]) and as a file: keep one"))
            path = base / str(files[table])
            sources[table] = path.name
            if not path.is_file():
                problems.append(Problem("FS123", f"{label}, field tables.{table}",
                                        f"table file {str(files[table])!r} not found (looked for {path}): "
                                        "check the path, which is relative to the preset file"))
                tables[table], readable = [], False
                continue
            tables[table], p, ok = _read_checked(path, table)
            problems += p
            readable = readable and ok
        else:
            rows = data.get(table, [])
            sources[table] = f"{label} [[{table}]]"
            if not isinstance(rows, (list, dict, str)):  # a table or a text: System.from_records says why
                problems.append(Problem("FS107", sources[table],
                                        f"got {rows!r}, not a list of rows: write one [[{table}]] section per row "
                                        "(in TOML, an array of tables [[...]])"))
                rows = []
            tables[table] = _mark_inline(rows, table)
    system = scenario = None
    if readable:
        try:
            system = System.from_records(
                tables["institutions"], tables["assets"], tables["holdings"], tables["correlations"],
                tables["market_shares"], name=str(data.get("name", label.removesuffix(".toml"))), currency=currency,
                description=str(data.get("description", "")), sources=sources,
            )
        except DataError as err:
            problems += err.problems
    try:
        scenario = parse_scenario(data.get("scenario", {}), source=label)
    except ConfigError as err:
        config += err.problems
    if system is not None and scenario is not None:
        config += _shock_targets(system, scenario, label)
    policies, policy_problems = _parse_policies(data.get("policies", {}), label, system, scenario)
    config += policy_problems
    parameters, parameter_problems = parse_parameters(data.get("parameters", []), label, system, scenario)
    config += parameter_problems
    targets, target_problems = parse_targets(data.get("targets", []), label, system, scenario, policies)
    config += target_problems
    _raise(problems, config)
    assert system is not None and scenario is not None
    return Preset(system.name, system.description, system, scenario, label, policies, targets, parameters)


def validate(target: str | Path, *, allow_implausible: bool = False) -> list[Problem]:
    """Every problem of a preset, file or directory of tables (empty when it is valid);
    ``allow_implausible`` as for :func:`load`."""
    try:
        load(target, allow_implausible=allow_implausible)
    except (DataError, ConfigError) as err:
        return err.problems
    return []
