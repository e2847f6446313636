"""Presets: a System and a Scenario in one TOML file, or a directory of tables.

A preset file has top-level ``name``, ``description``, ``currency``, then either the
tables inline (``[[institutions]]``, ``[[assets]]``, ``[[holdings]]``,
``[[correlations]]``) or a ``[tables]`` section naming CSV/Parquet files relative to the
preset, and a ``[scenario]`` section (see :class:`firesale.scenario.Scenario`). A
directory holds the tables and an optional ``scenario.toml`` of the same form.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from firesale.data.tables import TABLE_NAMES, read_table, read_tables
from firesale.errors import ConfigError, DataError, Problem
from firesale.scenario import Scenario, parse_scenario
from firesale.system import System

__all__ = ["Preset", "load", "load_preset", "list_presets", "validate", "DEFAULT_PRESET"]

#: The preset `make run` and a bare `firesale run` use.
DEFAULT_PRESET = "dealer_groups"
_TOP_KEYS = {"name", "description", "currency", "scenario", "tables", *TABLE_NAMES}


@dataclass(frozen=True)
class Preset:
    """A system with the scenario it ships with."""

    name: str
    description: str
    system: System
    scenario: Scenario
    source: str


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


def load_preset(name: str) -> Preset:
    """A built-in preset by name.

    Raises
    ------
    ConfigError
        Unknown name, with the known names and the closest one.
    """
    entry = _preset_dir() / f"{name}.toml"
    if not entry.is_file():
        known = list(list_presets())
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(Problem("FS001", f"preset {name!r}",
                                  f"unknown preset.{hint} Known presets: {', '.join(known)} "
                                  "(or give a .toml file or a directory of tables)"))
    return _from_toml_text(entry.read_text(), f"{name}.toml", base=None)


def load(target: str | Path) -> Preset:
    """A preset by name, a preset ``.toml`` file, or a directory of tables."""
    path = Path(target)
    if path.is_dir():
        scenario_file = path / "scenario.toml"
        meta: dict[str, Any] = _parse_toml(scenario_file) if scenario_file.exists() else {}
        _check_top_keys(meta, scenario_file.name)
        system = read_tables(path, name=meta.get("name", path.name), currency=meta.get("currency", "currency"),
                             description=meta.get("description", ""))
        scenario = parse_scenario(meta.get("scenario", {}), source=scenario_file.name)
        return Preset(system.name, system.description, system, scenario, str(path))
    if path.suffix == ".toml":
        if not path.exists():
            raise ConfigError(Problem("FS002", str(path), "file not found"))
        return _from_toml_text(path.read_text(), path.name, base=path.parent)
    return load_preset(str(target))


def _parse_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise DataError(Problem("FS003", path.name, f"is not valid TOML: {err}")) from None


def _check_top_keys(data: dict[str, Any], label: str) -> None:
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ConfigError(Problem("FS004", label, f"unknown section(s) {', '.join(unknown)}; "
                                  f"known: {', '.join(sorted(_TOP_KEYS))}"))


def _from_toml_text(text: str, label: str, base: Path | None) -> Preset:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise DataError(Problem("FS003", label, f"is not valid TOML: {err}")) from None
    _check_top_keys(data, label)
    currency = str(data.get("currency", "currency"))
    tables: dict[str, list[dict[str, Any]]] = {}
    sources: dict[str, str] = {}
    for table in TABLE_NAMES:
        if table in data.get("tables", {}):
            if base is None:
                raise ConfigError(Problem("FS005", label, "a built-in preset cannot point at table files"))
            path = base / data["tables"][table]
            if not path.exists():
                raise DataError(Problem("FS123", f"{label} [tables] {table}", f"file {path.name} not found"))
            tables[table], sources[table] = read_table(path), path.name
        else:
            tables[table] = list(data.get(table, []))
            sources[table] = f"{label} [[{table}]]"
    problems: list[Problem] = []
    try:
        system = System.from_records(
            tables["institutions"], tables["assets"], tables["holdings"], tables["correlations"],
            name=str(data.get("name", label.removesuffix(".toml"))), currency=currency,
            description=str(data.get("description", "")), sources=sources,
        )
    except DataError as err:
        problems += err.problems
    try:
        scenario = parse_scenario(data.get("scenario", {}), source=label)
    except ConfigError as err:
        problems += err.problems
    if problems:
        raise DataError(problems)
    return Preset(system.name, system.description, system, scenario, label)


def validate(target: str | Path) -> list[Problem]:
    """Every problem of a preset, file or directory of tables (empty when it is valid)."""
    try:
        load(target)
    except (DataError, ConfigError) as err:
        return err.problems
    return []
