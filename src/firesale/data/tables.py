"""System tables on disk: one CSV or Parquet file per component.

A directory holds ``institutions``, ``assets`` and ``holdings`` (and optionally
``correlations``), each as ``.csv`` or ``.parquet``; the columns are those of
:func:`firesale.schema.table_schema`. An empty cell means "not set" (the default
applies); ``nan`` written out is an error. A table may carry a ``currency`` column,
which must agree with the system's currency in every row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from firesale.errors import DataError, Problem
from firesale.schema import required_columns
from firesale.system import System

__all__ = ["read_table", "read_tables", "write_tables", "TABLE_NAMES"]

TABLE_NAMES = ("institutions", "assets", "holdings", "correlations")
_SUFFIXES = (".csv", ".parquet")


def _find(directory: Path, table: str) -> Path | None:
    for suffix in _SUFFIXES:
        path = directory / f"{table}{suffix}"
        if path.exists():
            return path
    return None


def read_table(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV or Parquet file as mappings; empty cells become absent keys.

    Raises
    ------
    DataError
        When the file cannot be parsed.
    """
    import pandas as pd

    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            # Read text, so that an empty cell (not set) and a written "nan" (an error) differ.
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], skipinitialspace=True)
    except Exception as err:  # pandas raises many types; all mean "cannot read this file"
        raise DataError(Problem("FS120", str(path.name), f"cannot read the table: {err}")) from None
    rows = []
    for record in frame.to_dict(orient="records"):
        rows.append({str(k).strip(): _plain(v) for k, v in record.items() if not _empty(v)})
    return rows


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        return text
    return value


def _check_columns(rows: list[dict[str, Any]], table: str, label: str, currency: str) -> list[Problem]:
    problems = []
    present = set().union(*rows) if rows else set()
    for column in required_columns(table):
        if rows and column not in present:
            problems.append(Problem("FS121", f"{label}, column {column}",
                                    f"required column is missing (columns found: {', '.join(sorted(present))})"))
    for r, row in enumerate(rows):
        unit = row.pop("currency", None)
        if unit is not None and str(unit) != currency:
            problems.append(Problem("FS122", f"{label} row {r + 1}, field currency",
                                    f"mismatched units: {unit!r} but the system is in {currency!r}; "
                                    "convert the amounts or fix the currency"))
    return problems


def read_tables(
    directory: str | Path, *, name: str | None = None, currency: str = "currency", description: str = ""
) -> System:
    """Load a System from a directory of tables.

    Parameters
    ----------
    directory : path
        Holds ``institutions``, ``assets``, ``holdings`` (``.csv`` or ``.parquet``) and
        optionally ``correlations``.
    currency : str
        Unit of every amount; a ``currency`` column in a table must agree.

    Raises
    ------
    DataError
        Every problem of every table at once, with file, row and field.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(Problem("FS123", str(directory), "is not a directory of tables"))
    tables: dict[str, list[dict[str, Any]]] = {}
    sources: dict[str, str] = {}
    problems: list[Problem] = []
    for table in TABLE_NAMES:
        path = _find(directory, table)
        if path is None:
            if table != "correlations":
                problems.append(Problem("FS123", f"{directory.name}/{table}.csv",
                                        f"table is missing: add {table}.csv or {table}.parquet"))
            tables[table] = []
            continue
        sources[table] = path.name
        try:
            tables[table] = read_table(path)
        except DataError as err:
            problems += err.problems
            tables[table] = []
            continue
        problems += _check_columns(tables[table], table, path.name, currency)
    if problems:
        raise DataError(problems)
    return System.from_records(
        tables["institutions"], tables["assets"], tables["holdings"], tables["correlations"],
        name=name or directory.name, currency=currency, description=description, sources=sources,
    )


def write_tables(system: System, directory: str | Path, fmt: str = "csv") -> list[Path]:
    """Write a System as tables (the inverse of :func:`read_tables`)."""
    import pandas as pd

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    frames: Mapping[str, Any] = {
        "institutions": pd.DataFrame([i.model_dump(exclude_none=True) for i in system.institutions]),
        "assets": pd.DataFrame([a.model_dump(by_alias=True, exclude_none=True) for a in system.assets]),
        "holdings": pd.DataFrame(
            [
                {"institution": i.name, "asset": a.name, "quantity": system.holdings[n, k],
                 "trading_fraction": system.trading_fraction[n, k]}
                for n, i in enumerate(system.institutions)
                for k, a in enumerate(system.assets)
                if system.holdings[n, k] > 0
            ]
        ),
    }
    paths = []
    for table, frame in frames.items():
        path = directory / f"{table}.{fmt}"
        frame.to_parquet(path) if fmt == "parquet" else frame.to_csv(path, index=False)
        paths.append(path)
    return paths

