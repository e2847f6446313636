"""US commercial banks from call reports: 59 quarterly balance-sheet snapshots.

Reads ``us-commercial-banks/`` in the data folder (:func:`firesale.data.data_root`; by
default the copy shipped with the package, one Parquet table of every quarter read into
the frames the CSV files give, :mod:`firesale.data.datasets`), the
Chicago Fed commercial bank data as cleaned by Di Gangi, Lillo & Pirino (2018, "Assessing
systemic risk due to fire sales spillover through maximum entropy network reconstruction",
J. Economic Dynamics and Control 94):

``matr_T.csv``
    One row per bank, no header: bank id (RSSD id), then 20 asset classes in thousands
    of USD, in the order of ``asset_names.csv``.
``equities_T.csv``
    One row per bank, no header: bank id, equity (thousands of USD).
``asset_names.csv``
    Header ``Names_assets1,Names_assets2,Names_assets3``: long name, short name, label.

``T`` = 1 ... 59 is an ordinal quarter (the source maps it to no calendar date).

Total assets are the sum of the 20 classes; liabilities = total assets - equity. Each
asset is named by its short name; its class (:data:`CALLREPORT_ASSET_CLASSES`) only sets
defaults of the firesale asset model. Cash and balances due from depository institutions
and fed funds sold / reverse repo are cash-like (class ``reserves``, to be left without
price impact); every asset is ``tradable``, so that a shock "to all non-cash assets"
(Greenwood, Landier & Thesmar 2015) reaches loans too. ``sigma0`` is a placeholder (0.01)
and no asset has price impact until a model sets its depth.

A panel of thousands of banks keeps going past a bad row: a bank is dropped, with the
reason, when its equity is not positive, its total assets are 0, its equity exceeds its
total assets (negative liabilities), a holding is negative, it has no equity row, or its
id repeats with different figures (an identical repeated row is kept once).
:func:`callreport_dropped` and the ``dropped`` field of :func:`callreport_arrays` list the
dropped ids; :func:`load_callreport` names them in the system's description. In this
panel: quarter 19 drops one bank (equity above total assets) and quarter 29 holds one row
twice.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from firesale.data.datasets import csv_options, read_original, shipped_quarters
from firesale.data.shared_data import data_root, is_shipped, require
from firesale.errors import DataError, Problem
from firesale.system import System

__all__ = [
    "CALLREPORT_ASSET_CLASSES",
    "CALLREPORT_FOLDER",
    "CallReportArrays",
    "callreport_arrays",
    "callreport_asset_names",
    "callreport_dropped",
    "callreport_quarters",
    "load_callreport",
]

CALLREPORT_FOLDER = "us-commercial-banks"
#: firesale asset class of each call-report asset (short name of ``asset_names.csv``).
CALLREPORT_ASSET_CLASSES = {
    "cashab": "reserves",            # cash and balances due from depository institutions
    "ust_sec": "treasury",           # U.S. Treasury securities
    "agency_sec": "agency_mbs",      # U.S. agency securities
    "stat_sec": "corporate_ig",      # state and local government securities
    "mbs": "agency_mbs",             # mortgage-backed securities (mostly agency)
    "abs": "corporate_ig",           # asset-backed securities
    "dom_debt_oth_sec": "corporate_ig",  # other domestic debt securities
    "for_debt_sec": "corporate_ig",  # foreign debt securities
    "res_sec": "other",              # residual securities
    "ffrepo_ass": "reserves",        # fed funds sold and reverse repo: cash-like
    "ln_re_dom": "other",            # loans secured by real estate, domestic offices
    "ln_re_for": "other",            # ... foreign offices
    "ln_ci_dom": "other",            # commercial and industrial loans, domestic
    "ln_ci_for": "other",            # ... foreign
    "ln_cons_dom": "other",          # consumer loans, domestic
    "ln_cons_for": "other",          # ... foreign
    "ln_dep_inst_banks": "other",    # loans to depository institutions, acceptances
    "oth_loans": "other",            # other loans
    "equ_sec_nondet": "equity",      # equity securities without readily determinable fair value
    "oth_ass": "other",              # other assets
}
#: sigma0 of every asset: a placeholder (must be positive), not used by the GLT model.
PLACEHOLDER_SIGMA0 = 0.01
_NAMES_FILE = "asset_names.csv"
_QUARTER = re.compile(r"^(matr|equities)_(\d+)\.csv$")


class CallReportArrays(NamedTuple):
    """One quarter of the panel as arrays (the fast path of the vulnerability index).

    Attributes
    ----------
    bank_ids : ndarray of int64, shape (N,)
        Bank ids of the banks kept, in file order.
    asset_names : tuple of str, length K
        Short asset names (``asset_names.csv``, column 2).
    holdings : ndarray of float, shape (N, K)
        Holdings in thousands of USD.
    equity : ndarray of float, shape (N,)
        Equity in thousands of USD (positive, at most total assets).
    dropped : dict of str to str
        Bank id to the reason it was dropped.
    """

    bank_ids: np.ndarray
    asset_names: tuple[str, ...]
    holdings: np.ndarray
    equity: np.ndarray
    dropped: dict[str, str]


def _label(name: str) -> str:
    return f"{CALLREPORT_FOLDER}/{name}"


def callreport_quarters(root: str | Path | None = None) -> list[int]:
    """Quarters ``T`` present in the panel (both ``matr_T.csv`` and ``equities_T.csv``).

    Parameters
    ----------
    root : str or Path, optional
        Data folder (see :func:`firesale.data.data_root`).

    Returns
    -------
    list of int
        Sorted ordinal quarters (1 ... 59 in the shared data).

    Raises
    ------
    DataError
        ``FS131`` when the folder is missing, holds no quarter, or a quarter has one file
        of the pair only.
    """
    base = data_root(root)
    if is_shipped(base):
        return shipped_quarters(base)
    folder = require(base, CALLREPORT_FOLDER)
    found: dict[str, set[int]] = {"matr": set(), "equities": set()}
    for path in folder.iterdir():
        match = _QUARTER.match(path.name)
        if match:
            found[match.group(1)].add(int(match.group(2)))
    problems = [Problem("FS131", _label(f"{other}_{t}.csv"),
                        f"missing, while {kind}_{t}.csv is present: restore the pair of quarter {t}")
                for kind, other in (("matr", "equities"), ("equities", "matr"))
                for t in sorted(found[kind] - found[other])]
    if problems:
        raise DataError(problems)
    if not found["matr"]:
        raise DataError(Problem("FS131", _label("matr_T.csv"),
                                f"no quarter files in {folder}: restore matr_T.csv and equities_T.csv"))
    return sorted(found["matr"])


def callreport_asset_names(root: str | Path | None = None) -> tuple[str, ...]:
    """Short names of the 20 asset classes, in the column order of ``matr_T.csv``.

    Raises
    ------
    DataError
        ``FS131`` when ``asset_names.csv`` is missing; ``FS132`` when it is malformed;
        ``FS133`` naming a short name without a class in :data:`CALLREPORT_ASSET_CLASSES`.
    """
    import pandas as pd

    path = require(root, CALLREPORT_FOLDER, _NAMES_FILE)
    try:
        frame = pd.read_csv(path, dtype=str)
    except Exception as err:  # pandas raises many types; all mean "cannot read this file"
        raise DataError(Problem("FS132", _label(_NAMES_FILE), f"cannot read the file ({err}): it must be a CSV "
                                "with columns Names_assets1, Names_assets2, Names_assets3")) from None
    if "Names_assets2" not in frame.columns:
        raise DataError(Problem("FS132", _label(_NAMES_FILE), f"column Names_assets2 (short names) is missing "
                                f"(columns found: {', '.join(map(str, frame.columns))}): restore the header"))
    names = tuple(str(n).strip() for n in frame["Names_assets2"])
    unknown = [(r, n) for r, n in enumerate(names) if n not in CALLREPORT_ASSET_CLASSES]
    if unknown:
        raise DataError([Problem("FS133", f"{_label(_NAMES_FILE)} line {r + 2}, column Names_assets2",
                                 f"asset {n!r} has no firesale class: add it to CALLREPORT_ASSET_CLASSES "
                                 f"(known: {', '.join(CALLREPORT_ASSET_CLASSES)})") for r, n in unknown])
    if len(set(names)) != len(names):
        raise DataError(Problem("FS133", _label(_NAMES_FILE), "an asset name repeats: names must be unique"))
    return names


def _read_matrix(root: Path, columns: int, name: str) -> np.ndarray:
    """A headerless numeric CSV as float64, checked for its number of columns and cells
    (from the shipped table, or the CSV of the folder given)."""
    import pandas as pd

    try:
        if is_shipped(root):
            frame = read_original(_label(name), root)
        else:
            frame = pd.read_csv(require(root, CALLREPORT_FOLDER, name), **csv_options(_label(name)))
    except DataError:
        raise
    except Exception as err:  # pandas raises many types; all mean "cannot read this file"
        raise DataError(Problem("FS132", _label(name), f"cannot read the file ({err}): it must be comma-separated "
                                "numbers without a header")) from None
    if frame.shape[1] != columns:
        raise DataError(Problem("FS132", _label(name), f"has {frame.shape[1]} columns, expected {columns} (bank id "
                                "then the values): check the file"))
    if all(pd.api.types.is_numeric_dtype(t) for t in frame.dtypes):
        values = frame.to_numpy(dtype=float)
    else:  # some cell is text: find it
        values = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    bad = np.argwhere(~np.isfinite(values))
    if bad.size:
        line, column = bad[0]
        raise DataError(Problem("FS132", f"{_label(name)} line {line + 1}, column {column + 1}",
                                f"got {frame.iat[line, column]!r}: not a number; restore the value"))
    return values


def _check_quarter(quarter: Any, root: str | Path | None) -> int:
    quarters = callreport_quarters(root)
    if isinstance(quarter, bool) or not isinstance(quarter, (int, np.integer)) or int(quarter) not in quarters:
        raise DataError(Problem("FS135", _label(f"matr_{quarter}.csv"),
                                f"quarter {quarter!r} is not in the panel: choose T in {quarters[0]}..{quarters[-1]} "
                                "(see callreport_quarters())"))
    return int(quarter)


def callreport_arrays(quarter: int, root: str | Path | None = None) -> CallReportArrays:
    """One quarter as arrays: bank ids, asset names, holdings and equity.

    Parameters
    ----------
    quarter : int
        Ordinal quarter T (see :func:`callreport_quarters`).
    root : str or Path, optional
        Data folder (see :func:`firesale.data.data_root`).

    Returns
    -------
    CallReportArrays
        ``(bank_ids, asset_names, holdings, equity, dropped)``; amounts in thousands of USD.

    Raises
    ------
    DataError
        ``FS135`` for a quarter not in the panel; ``FS131``/``FS132`` for a missing or
        malformed file (file, line, column).
    """
    root = data_root(root)
    quarter = _check_quarter(quarter, root)
    names = callreport_asset_names(root)
    matr = f"matr_{quarter}.csv"
    equities = f"equities_{quarter}.csv"
    rows = _read_matrix(root, 1 + len(names), matr)
    equity_rows = _read_matrix(root, 2, equities)
    ids = rows[:, 0].astype(np.int64)
    holdings = rows[:, 1:]
    dropped: dict[str, str] = {}
    keep = np.ones(len(ids), dtype=bool)
    unique_ids, first_line, counts = np.unique(ids, return_index=True, return_counts=True)
    for bank, line0 in zip(unique_ids[counts > 1].tolist(), first_line[counts > 1].tolist()):
        lines = np.flatnonzero(ids == bank)
        keep[lines[1:]] = False
        if all(np.array_equal(rows[line], rows[line0]) for line in lines[1:]):
            dropped[str(bank)] = (f"line(s) {', '.join(str(x + 1) for x in lines[1:])} of {matr} repeat line "
                                  f"{line0 + 1} identically; kept once")
        else:
            keep[line0] = False
            dropped[str(bank)] = (f"id appears on lines {', '.join(str(x + 1) for x in lines)} of {matr} with "
                                  "different figures")
    equity_ids = equity_rows[:, 0].astype(np.int64)
    order = np.argsort(equity_ids, kind="stable")
    sorted_ids, sorted_equity = equity_ids[order], equity_rows[order, 1]
    position = np.clip(np.searchsorted(sorted_ids, ids), 0, max(len(sorted_ids) - 1, 0))
    found = (sorted_ids[position] == ids) if len(sorted_ids) else np.zeros(len(ids), dtype=bool)
    equity = np.where(found, sorted_equity[position] if len(sorted_ids) else np.nan, np.nan)
    repeated = sorted_ids[1:][(sorted_ids[1:] == sorted_ids[:-1]) & (sorted_equity[1:] != sorted_equity[:-1])]
    conflicting = np.isin(ids, repeated)
    total = holdings.sum(axis=1)
    lowest = holdings.min(axis=1)
    checks = (
        (conflicting, lambda i: f"two different equity figures in {equities}"),
        (~found, lambda i: f"no equity row in {equities}"),
        (lowest < 0, lambda i: f"a negative holding ({lowest[i]:g}) in {matr}"),
        (total <= 0, lambda i: f"total assets are {total[i]:g}"),
        (equity <= 0, lambda i: f"equity is {equity[i]:g} (not positive)"),
        (equity > total, lambda i: f"equity {equity[i]:g} exceeds total assets {total[i]:g} (negative liabilities)"),
    )
    for failed, reason in checks:
        for line in np.flatnonzero(failed & keep):
            keep[line] = False
            dropped[str(int(ids[line]))] = reason(line)
    return CallReportArrays(ids[keep], names, np.ascontiguousarray(holdings[keep]), equity[keep], dropped)


def callreport_dropped(quarter: int, root: str | Path | None = None) -> dict[str, str]:
    """Banks of a quarter that the loaders drop, with the reason.

    Parameters
    ----------
    quarter : int
        Ordinal quarter T.
    root : str or Path, optional
        Data folder.

    Returns
    -------
    dict of str to str
        Bank id to reason (empty when every bank is kept).
    """
    return callreport_arrays(quarter, root).dropped


def load_callreport(quarter: int, root: str | Path | None = None) -> System:
    """One quarter of US commercial banks as a System.

    Parameters
    ----------
    quarter : int
        Ordinal quarter T (see :func:`callreport_quarters`).
    root : str or Path, optional
        Data folder (see :func:`firesale.data.data_root`).

    Returns
    -------
    System
        Currency ``"USD thousands"``; one ``bank`` per id kept (name = id), one asset per
        call-report class (:data:`CALLREPORT_ASSET_CLASSES`), liabilities = total assets -
        equity. Dropped banks are named in the description (see :func:`callreport_dropped`).

    Examples
    --------
    >>> from firesale.data import load_callreport
    >>> load_callreport(1)  # doctest: +SKIP
    <System 'callreport_1': 8856 institutions, 20 assets, ... holdings, USD thousands>
    """
    arrays = callreport_arrays(quarter, root)
    names = [str(b) for b in arrays.bank_ids]
    liabilities = arrays.holdings.sum(axis=1) - arrays.equity
    institutions = [{"name": n, "type": "bank", "group": "", "cash": 0.0, "liabilities": float(v)}
                    for n, v in zip(names, liabilities)]
    assets = [{"name": a, "class": CALLREPORT_ASSET_CLASSES[a], "sigma0": PLACEHOLDER_SIGMA0, "tradable": True}
              for a in arrays.asset_names]
    rows, cols = np.nonzero(arrays.holdings)
    values = arrays.holdings[rows, cols]
    holdings = [{"institution": names[i], "asset": arrays.asset_names[k], "quantity": float(q)}
                for i, k, q in zip(rows.tolist(), cols.tolist(), values.tolist())]
    dropped = arrays.dropped
    shown = "; ".join(f"{b}: {why}" for b, why in list(dropped.items())[:10])
    description = (
        f"US commercial banks, call reports, quarter T = {quarter} (ordinal), thousands of USD "
        f"(Di Gangi, Lillo & Pirino 2018). {len(names)} banks kept, {len(dropped)} dropped"
        + (f": {shown}" + (" ..." if len(dropped) > 10 else "") + "." if dropped else ".")
        + " sigma0 is a placeholder; cashab and ffrepo_ass are cash-like (reserves)."
    )
    label = _label(f"matr_{quarter}.csv")
    sources = {"institutions": f"{label} + {_label(f'equities_{quarter}.csv')}", "holdings": label,
               "assets": _label(_NAMES_FILE)}
    return System.from_records(institutions, assets, holdings, name=f"callreport_{quarter}",
                               currency="USD thousands", description=description, sources=sources)
