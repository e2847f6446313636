"""System tables on disk: one CSV or Parquet file per component.

A directory holds ``institutions``, ``assets`` and ``holdings`` (and optionally
``correlations``), each as ``.csv`` or ``.parquet``; the columns are those of
:func:`firesale.schema.table_schema`. An empty cell means "not set" (the default
applies); ``nan`` written out is an error. A table may carry a ``currency`` column,
which must agree with the system's currency in every row.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import numpy as np

from firesale.errors import ConfigError, DataError, Problem, did_you_mean
from firesale.matrices import max_abs_difference, triplets, values_at
from firesale.schema import known_columns, required_columns
from firesale.system import System, loader_checks

__all__ = ["read_table", "read_tables", "write_tables", "TABLE_NAMES"]

TABLE_NAMES = ("institutions", "assets", "holdings", "correlations", "market_shares")
#: Tables a system may leave out.
OPTIONAL_TABLES = ("correlations", "market_shares")
_SUFFIXES = (".csv", ".parquet")
#: Field names accepted for a column spelled otherwise in the schema (pydantic aliases).
_FIELD_NAMES = {"class": "asset_class"}


def _find(directory: Path, table: str) -> list[Path]:
    return [directory / f"{table}{suffix}" for suffix in _SUFFIXES if (directory / f"{table}{suffix}").exists()]


def read_table(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV or Parquet file as mappings; empty cells become absent keys.

    In a CSV file an empty cell is "not set" (the default applies) while a written
    ``nan`` is kept as the text ``"nan"``, which validation reports; ``inf`` and
    booleans (``true``/``false``, any case) are parsed by validation. In a Parquet file
    a null is "not set" and a NaN is kept (and reported).

    Raises
    ------
    DataError
        When the file is missing or cannot be parsed.
    """
    return _read(Path(path))[1]


def _read(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """Column names (in file order) and rows of a table file."""
    if not path.is_file():
        raise DataError(Problem("FS123", str(path), "table file not found: check the file name and path"))
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            columns = [c for c in table.column_names if not c.startswith("__index_level_")]
            records = table.select(columns).to_pylist()
        else:
            import pandas as pd

            if not path.read_bytes().strip():
                raise DataError(Problem("FS120", path.name, "the file is empty: write a header row with the "
                                        "column names, then one row per entry"))
            # Read text, so that an empty cell (not set) and a written "nan" (an error) differ.
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], skipinitialspace=True,
                                encoding="utf-8-sig")
            columns = [str(c) for c in frame.columns]
            # With dtype=str every written cell is text; only an empty cell comes back as a float NaN.
            records = [{k: None if isinstance(v, float) else v for k, v in r.items()}
                       for r in frame.to_dict(orient="records")]
    except DataError:
        raise
    except Exception as err:  # pandas and pyarrow raise many types; all mean "cannot read this file"
        kind = "Parquet" if path.suffix == ".parquet" else "CSV"
        raise DataError(Problem("FS120", path.name, f"cannot read the table ({err}): check that it is a valid "
                                f"{kind} file with a header row")) from None
    columns = [str(c).strip() for c in columns]
    rows = []
    for record in records:
        rows.append({str(k).strip(): _plain(v) for k, v in record.items() if not _empty(v)})
    return columns, rows


def _empty(value: Any) -> bool:
    """A missing cell: None (an empty CSV cell, a Parquet null) or blank text."""
    return value is None or (isinstance(value, str) and not value.strip())


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str):
        return value.strip()
    return value


def _check_columns(
    columns: list[str], rows: list[dict[str, Any]], table: str, label: str
) -> list[Problem]:
    """Table-level checks, each reported once per table rather than once per row: required
    columns missing, unknown columns (then dropped from the rows), repeated columns."""
    problems = []
    known = known_columns(table)
    accepted = set(known) | {_FIELD_NAMES[c] for c in known if c in _FIELD_NAMES} | {"currency"}
    unknown = [c for c in columns if c not in accepted]
    renamed: set[str] = set()
    for column in required_columns(table):
        if column not in columns and _FIELD_NAMES.get(column) not in columns:
            close = difflib.get_close_matches(column, [c for c in unknown if c not in renamed], n=1, cutoff=0.5)
            renamed.update(close)
            fix = f"rename column {close[0]!r} to {column!r}" if close else f"add the column {column!r}"
            problems.append(Problem(
                "FS121", f"{label}, column {column}",
                f"required column {column!r} is missing (columns found: {', '.join(columns) or 'none'}): {fix}",
            ))
    for column in unknown:
        for row in rows:
            row.pop(column, None)
        if column in renamed:  # already reported as the missing column it misspells
            continue
        problems.append(Problem(
            "FS124", f"{label}, column {column}",
            f"unknown column {column!r}.{did_you_mean(column, known)} Known columns: {', '.join(known)}; "
            "rename or remove it",
        ))
    seen = set()
    for column in columns:
        if column in seen:
            problems.append(Problem("FS124", f"{label}, column {column}",
                                    f"column {column!r} appears twice: remove one"))
        seen.add(column)
    return problems


def _read_checked(path: Path, table: str) -> tuple[list[dict[str, Any]], list[Problem], bool]:
    """Rows of a table with its table-level problems; the flag is False when the rows
    cannot be validated (unreadable file or a required column missing)."""
    try:
        columns, rows = _read(path)
    except DataError as err:
        return [], err.problems, False
    problems = _check_columns(columns, rows, table, path.name)
    return rows, problems, not any(p.code == "FS121" for p in problems)


def read_tables(
    directory: str | Path, *, name: str | None = None, currency: str = "currency", description: str = "",
    allow_implausible: bool = False,
) -> System:
    """Load a System from a directory of tables.

    Parameters
    ----------
    directory : path
        Holds ``institutions``, ``assets``, ``holdings`` (``.csv`` or ``.parquet``) and
        optionally ``correlations`` and ``market_shares``.
    currency : str
        Unit of every amount; a ``currency`` column in a table must agree.
    allow_implausible : bool
        Let values outside their fields' plausible ranges through (the hard bounds still
        apply); by default such a value (``sigma0`` of 4.5: a daily volatility in percent)
        is an error naming the field, the value, the plausible range and the likely
        unit mistake.

    Raises
    ------
    DataError
        Every problem of every table at once, with file, row and field.
    """
    directory = Path(directory)
    if not directory.is_dir():
        what = "is a file, not a directory" if directory.exists() else "no such directory"
        raise DataError(Problem("FS123", str(directory), f"{what}: give a directory holding institutions, "
                                "assets and holdings tables (.csv or .parquet)"))
    tables: dict[str, list[dict[str, Any]]] = {}
    sources: dict[str, str] = {}
    problems: list[Problem] = []
    readable = True
    for table in TABLE_NAMES:
        found = _find(directory, table)
        tables[table] = []
        if not found:
            if table not in OPTIONAL_TABLES:
                problems.append(Problem("FS123", f"{directory.name}/{table}.csv",
                                        f"table file is missing: add {table}.csv or {table}.parquet "
                                        f"to {directory}"))
                readable = False
            continue
        if len(found) > 1:
            problems.append(Problem("FS123", f"{directory.name}/{table}",
                                    f"both {found[0].name} and {found[1].name} exist: remove one"))
            readable = False
            continue
        path = found[0]
        sources[table] = path.name
        tables[table], p, ok = _read_checked(path, table)
        problems += p
        readable = readable and ok
    if not readable:
        raise DataError(problems)
    try:
        with loader_checks(allow_implausible):
            system = System.from_records(
                tables["institutions"], tables["assets"], tables["holdings"], tables["correlations"],
                tables["market_shares"], name=name or directory.name, currency=currency, description=description,
                sources=sources,
            )
    except DataError as err:
        problems += err.problems
    if problems:
        raise DataError(problems)
    return system


def write_tables(system: System, directory: str | Path, fmt: str = "csv") -> list[Path]:
    """Write a System as tables (the inverse of :func:`read_tables`): institutions,
    assets, holdings (positions above 0), correlations when any pair is correlated, and
    the dealers' market shares when they are not the default (by t0 total assets).

    An unset optional value is an empty cell (CSV) or a null (Parquet). The currency is
    not written: pass it to :func:`read_tables` again. A file of the same table in the
    other format (and a correlations file, when no pair is correlated) is removed, so
    that the directory reads back as written.
    """
    import pandas as pd

    if fmt not in ("csv", "parquet"):
        raise ConfigError(Problem("FS125", f"format {fmt!r}", "unknown table format: use 'csv' or 'parquet'"))
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)

    def frame(rows: list[dict[str, Any]], columns: list[str]) -> Any:
        present = {k for r in rows for k in r}
        return pd.DataFrame(rows, columns=[c for c in columns if c in present] if rows else columns)

    frames: dict[str, Any] = {
        "institutions": frame([i.model_dump(exclude_none=True) for i in system.institutions],
                              known_columns("institutions")),
        "assets": frame([a.model_dump(by_alias=True, exclude_none=True) for a in system.assets],
                        known_columns("assets")),
        "holdings": _holdings_frame(system),
    }
    names = np.array(system.asset_names, dtype=object)
    first, second = np.triu_indices(system.n_assets, 1)
    correlated = system.correlation[first, second] != 0
    if correlated.any():
        frames["correlations"] = pd.DataFrame({
            "asset_a": names[first[correlated]], "asset_b": names[second[correlated]],
            "correlation": system.correlation[first, second][correlated]})
    if max_abs_difference(system.market_share, system.default_market_share()) > 1e-15:
        frames["market_shares"] = _market_shares_frame(system)
    paths = []
    for table, data in frames.items():
        path = directory / f"{table}.{fmt}"
        for other in _SUFFIXES:  # a stale file of the other format would make the table ambiguous
            stale = directory / f"{table}{other}"
            if stale != path and stale.exists():
                stale.unlink()
        if fmt == "parquet":
            data.to_parquet(path, index=False)
        else:
            data.to_csv(path, index=False)
        paths.append(path)
    for table in ("correlations", "market_shares"):
        if table not in frames:
            for suffix in _SUFFIXES:
                (directory / f"{table}{suffix}").unlink(missing_ok=True)
    return paths


def _holdings_frame(system: System) -> Any:
    """The holdings table: a row per position (:attr:`~firesale.system.System.positions`), by institution."""
    import pandas as pd

    rows, cols = system.positions
    columns = {"quantity": system.holdings, "trading_fraction": system.trading_fraction, "repo": system.repo,
               "derivative": system.derivative, "initial_margin": system.initial_margin}
    return pd.DataFrame({
        "institution": np.array(system.institution_names, dtype=object)[rows],
        "asset": np.array(system.asset_names, dtype=object)[cols],
        **{name: values_at(matrix, rows, cols) for name, matrix in columns.items()},
    }, columns=[c for c in known_columns("holdings") if c in ("institution", "asset", *columns)])


def _market_shares_frame(system: System) -> Any:
    """The market-shares table: every dealer in every asset with a market, zeros included,
    by asset."""
    import pandas as pd

    dealers = np.flatnonzero([i.type == "dealer" for i in system.institutions])
    _, share_cols, _ = triplets(system.market_share)
    markets = np.unique(share_cols)
    rows, cols = np.tile(dealers, markets.size), np.repeat(markets, dealers.size)
    return pd.DataFrame({
        "institution": np.array(system.institution_names, dtype=object)[rows],
        "asset": np.array(system.asset_names, dtype=object)[cols],
        "share": values_at(system.market_share, rows, cols),
    }, columns=known_columns("market_shares"))
