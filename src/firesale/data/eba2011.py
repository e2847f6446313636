"""EBA 2011 EU-wide stress test: 90 banks' balance sheets, sovereign exposures and exposures
by class and country.

Reads the official long-format disclosure ``eba-2011/DATA_DISCLOSURE.CSV.csv`` of the data
folder (:func:`firesale.data.shared_data.data_root`; by default its copy shipped with the
package, :mod:`firesale.data.datasets`): one row per (worksheet, information
code, date, country, scenario, maturity, measure), one column per bank code (``AT001`` ...
``SI058``), amounts in EUR millions. The codes used (from the EBA datamap
``CSV_Datamap_Structure.xls``, sheet ``Info_Code_Descript``):

==========  ===============================================  ==============================
code        meaning                                          rows used
==========  ===============================================  ==============================
30029       total assets (after restructuring plans and      ``INFO_DATE_CODE`` 20101231
            capital raised by 30 April 2011)                 (Dec 2010, no scenario)
30011       common equity (EBA definition)                   ``INFO_DATE_CODE`` 20101231
34010       gross direct long sovereign exposure (accounting  ``MATURITY_CODE`` 999 (all
            value gross of specific provisions), by country  maturities), one row per
                                                             country, as disclosed
33010       EAD, non-defaulted, institutions                 worksheet ``4 - EADs``: one
33011       EAD, non-defaulted, corporate (excl. CRE)        row per country, the only
33012       EAD, non-defaulted, retail (excl. CRE)           measure (``MEASURE_CODE`` 120,
33018       EAD, non-defaulted, commercial real estate       "Amount"), no scenario, no
33020       EAD, defaulted exposures (excluding sovereign)   maturity
==========  ===============================================  ==============================

The sovereign and EAD rows are dated 20111231 in the file (the worksheet's date code, the
only date these codes have); they are the exposures disclosed with the 2011 exercise and
are taken as they are. Their ``C_COUNTRY_CODE`` holds 32 countries and five regional
aggregates (:data:`EBA2011_REGIONS`); the file's own totals (:data:`EBA2011_TOTALS`, in
practice ``TO`` and, for sovereigns, ``E1``) are not used as assets.

The other codes of the EAD worksheet are not assets of their own (:data:`EAD_UNUSED`):
33013, 33015-33017 are the "of which" split of retail (residential mortgages, revolving,
SME, other; it does not add up to 33012 for AT003, DE022, NL049 and PT055, and BE005 leaves
33017 blank), 33014 and 33019 are loan-to-value ratios in percent, and 33021 is the total
exposure, which includes the exposures to sovereigns (33021 - the five classes above is
close to the sovereign exposure for most banks). No EAD class is the sovereign class, so
sovereigns enter once, through 34010.

The system (Greenwood, Landier & Thesmar 2015, "Vulnerable banks", J. Financial Economics
115(3), section 5, apply their model to these data, with a price impact per asset class):

- one institution per bank (type ``bank``, name = bank code, group = its country prefix,
  cash 0, liabilities = total assets - common equity, so equity = common equity);
- one asset per sovereign with a positive exposure, ``sov_<code>`` (class ``treasury``,
  ``sigma0`` = 0.01, a placeholder that the GLT model does not use, and no price impact
  until a model sets its depth);
- with ``granularity="class_country"`` (the default), one asset per exposure class and
  country with a positive exposure, ``<class>_<code>`` (``inst``, ``corp``, ``retail``,
  ``cre``, ``dflt``; firesale class in :data:`EAD_CLASSES`, which only sets the engine's
  defaults: GLT does not use it);
- one asset ``other`` (class ``other``) holding what is left of total assets:
  total assets - sovereign exposures (- class exposures).

Every asset has ``tradable`` set explicitly, since GLT sells every asset pro rata.

EADs are exposure values, not balance-sheet values: they include off-balance-sheet items
(credit conversion) and counterparty exposures, so for some banks the sovereign and class
exposures add up to more than total assets. Such a bank's class exposures are scaled down
by one factor so that they fill total assets - sovereign exposures (its ``other`` is then
0); the description names these banks and their factors. Cells disclosed as ``.``
(not disclosed) are read as 0, and negative EADs (a few, all above -3) are set to 0; the
description names both.

Banks without a consistent balance sheet are left out and listed (never silently): in this
disclosure LU045 and SI058 report total assets of 0 (not disclosed) and DE029's sovereign
exposures (27,469) exceed its total assets (17,691). :func:`eba2011_excluded` returns them
with the reason, and the system's description names them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from firesale.data.datasets import csv_options, read_original
from firesale.data.shared_data import data_root, is_shipped, require
from firesale.errors import DataError, Problem
from firesale.system import System

__all__ = [
    "COMMON_EQUITY_CODE",
    "EAD_CLASSES",
    "EAD_UNUSED",
    "EBA2011_FILE",
    "EBA2011_REGIONS",
    "EBA2011_TOTALS",
    "SOVEREIGN_EXPOSURE_CODE",
    "TOTAL_ASSETS_CODE",
    "Eba2011Data",
    "eba2011_excluded",
    "load_eba2011",
    "read_eba2011",
]

#: The disclosure file, relative to the data folder.
EBA2011_FILE = ("eba-2011", "DATA_DISCLOSURE.CSV.csv")
#: Information codes of the datamap.
TOTAL_ASSETS_CODE = 30029
COMMON_EQUITY_CODE = 30011
SOVEREIGN_EXPOSURE_CODE = 34010
#: ``MATURITY_CODE`` of the all-maturities sovereign rows.
ALL_MATURITIES = 999
#: ``INFO_DATE_CODE`` of the balance-sheet items used (Dec 2010, before the stress horizon).
BALANCE_SHEET_DATE = 20101231
#: Regional aggregates among the sovereign ``C_COUNTRY_CODE`` values (datamap wording).
EBA2011_REGIONS = {
    "A1": "Asia",
    "E3": "Other non EEA non Emerging countries",
    "E5": "Eastern Europe non EEA",
    "M1": "Middle and South America",
    "R5": "Others",
}
#: ``C_COUNTRY_CODE`` values that are totals of other rows (datamap wording): never assets.
EBA2011_TOTALS = {
    "TO": "TOTAL",
    "E1": "TOTAL EEA 30",
    "E2": "Non EEA 30",
    "E4": "Total non EEA 30 non Emerging countries",
    "E6": "Total non EEA 30 Emerging Countries",
    "H1": "Of which: Home country parent company",
}
#: The EAD codes used (worksheet ``4 - EADs``): code -> (asset name prefix, datamap
#: description, firesale asset class). The five classes do not overlap and leave out
#: sovereigns. The firesale class only sets the engine's defaults (adverse selection,
#: opacity, pecking order); GLT sells every asset pro rata and does not use it. Claims on
#: institutions and corporates are credit of mostly investment grade (``corporate_ig``),
#: defaulted exposures the lowest-grade credit (``corporate_hy``), retail and commercial
#: real-estate loans have no class of their own (``other``).
EAD_CLASSES = {
    33010: ("inst", "Non-defaulted exposures--Institutions", "corporate_ig"),
    33011: ("corp", "Non-defaulted exposures--Corporate (excluding commercial real estate)", "corporate_ig"),
    33012: ("retail", "Non-defaulted exposures--Retail (excluding commercial real estate)", "other"),
    33018: ("cre", "Non-defaulted exposures--Commercial Real Estate", "other"),
    33020: ("dflt", "Defaulted exposures (excluding sovereign)", "corporate_hy"),
}
#: The other codes of worksheet ``4 - EADs`` and why they are not assets of their own.
EAD_UNUSED = {
    33013: "retail, of which residential mortgages (part of 33012)",
    33014: "retail residential mortgages, loan-to-value ratio in percent (not an amount)",
    33015: "retail, of which revolving (part of 33012)",
    33016: "retail, of which SME (part of 33012)",
    33017: "retail, of which other (part of 33012)",
    33019: "commercial real estate, loan-to-value ratio in percent (not an amount)",
    33021: "total exposures, sovereigns included (the sum of the classes and more)",
}
#: ``MEASURE_CODE`` of the EAD rows (datamap: "Amount").
EAD_MEASURE = 120
#: Cell text of an amount the bank did not disclose.
NOT_DISCLOSED = "."
#: Daily volatility given to every asset: a placeholder (sigma0 must be positive), not
#: used by the GLT model, which works with a linear price impact per unit sold.
PLACEHOLDER_SIGMA0 = 0.01
#: A country breakdown that misses its ``TO`` row by more than this (EUR millions) is reported.
_BREAKDOWN_TOLERANCE = 1.0
_KEY_COLUMNS = ("WORKSHEET", "INFORMATION_CODE", "INFO_DATE_CODE", "C_COUNTRY_CODE", "SCENARIO_CODE",
                "MATURITY_CODE", "MEASURE_CODE")
_LABEL = "eba-2011/DATA_DISCLOSURE.CSV.csv"


@dataclass(frozen=True)
class Eba2011Data:
    """The disclosure's figures used by :func:`load_eba2011`, for all banks in the file.

    Attributes
    ----------
    banks : tuple of str, length B
        Bank codes, in file order (``AT001`` ... ``SI058``).
    total_assets : ndarray, shape (B,)
        Total assets, code 30029, Dec 2010 (EUR millions).
    common_equity : ndarray, shape (B,)
        Common equity, code 30011, Dec 2010 (EUR millions).
    countries : tuple of str, length C
        Sovereign country (or region) codes with an all-maturities row, in file order.
    sovereign : ndarray, shape (B, C)
        Gross direct long sovereign exposure, code 34010, all maturities (EUR millions).
    ead_classes : tuple of str, length X
        Short names of the EAD classes read (:data:`EAD_CLASSES`), in code order; empty
        when the file has no EAD rows.
    ead_countries : tuple of str, length D
        Country (or region) codes of the EAD rows, totals (:data:`EBA2011_TOTALS`) left
        out, in file order.
    ead : ndarray, shape (B, X, D)
        EAD by class and country as disclosed (EUR millions); NaN where the cell reads
        ``.`` (not disclosed) or the file has no row for the class and country.
    ead_total : ndarray, shape (B, X)
        The file's own ``TO`` row of each class (NaN where not disclosed).
    """

    banks: tuple[str, ...]
    total_assets: np.ndarray
    common_equity: np.ndarray
    countries: tuple[str, ...]
    sovereign: np.ndarray
    ead_classes: tuple[str, ...] = ()
    ead_countries: tuple[str, ...] = ()
    ead: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))
    ead_total: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))


def _read_frame(root: str | Path | None) -> Any:
    """The disclosure as text cells: from the shipped copy, or the CSV of the folder given."""
    import pandas as pd

    base = data_root(root)
    if is_shipped(base):
        return read_original(_LABEL, base)
    path = require(base, *EBA2011_FILE)
    try:
        return pd.read_csv(path, **csv_options(_LABEL))
    except Exception as err:  # pandas raises many types; all mean "cannot read this file"
        raise DataError(Problem("FS132", _LABEL, f"cannot read the file ({err}): check that it is the EBA 2011 "
                                "long-format disclosure (comma-separated, header row)")) from None


def _code(frame: Any, column: str) -> Any:
    import pandas as pd

    return pd.to_numeric(frame[column].str.strip(), errors="coerce")


def _one_row(frame: Any, mask: Any, what: str) -> int:
    rows = list(frame.index[mask])
    if len(rows) != 1:
        found = "no row" if not rows else f"{len(rows)} rows (file lines {', '.join(str(r + 2) for r in rows)})"
        raise DataError(Problem("FS133", _LABEL, f"expected one row for {what}, found {found}: check that the file "
                                "is the unedited EBA 2011 disclosure"))
    return rows[0]


def _numbers(frame: Any, row: int, banks: list[str], what: str, *, blank_ok: bool = False) -> np.ndarray:
    """One row's amounts; with ``blank_ok``, a ``.`` cell (not disclosed) reads as NaN."""
    values = []
    problems = []
    for bank in banks:
        cell = str(frame.at[row, bank]).strip()
        try:
            values.append(float(cell))
        except ValueError:
            values.append(np.nan)
        if blank_ok and cell == NOT_DISCLOSED:
            continue
        if not np.isfinite(values[-1]):
            problems.append(Problem("FS132", f"{_LABEL} line {row + 2}, column {bank}",
                                    f"{what} is {cell!r}, not a number: restore the disclosed amount"))
    if problems:
        raise DataError(problems)
    return np.array(values, dtype=float)


def _by_country(frame: Any, mask: Any, what: str) -> dict[str, int]:
    """Row of each ``C_COUNTRY_CODE`` among the masked rows; a repeated country is an error."""
    seen: dict[str, int] = {}
    for r in frame.index[mask]:
        country = str(frame.at[r, "C_COUNTRY_CODE"]).strip()
        if country in seen:
            raise DataError(Problem("FS133", f"{_LABEL} line {r + 2}, column C_COUNTRY_CODE",
                                    f"{what} to {country!r} appear twice (first on line {seen[country] + 2}): "
                                    "keep one row per country"))
        seen[country] = r
    return seen


def _read_ead(frame: Any, code: Any, banks: list[str]) -> tuple[tuple[str, ...], tuple[str, ...], np.ndarray,
                                                                 np.ndarray]:
    measure = _code(frame, "MEASURE_CODE")
    rows = {k: _by_country(frame, (code == k) & (measure == EAD_MEASURE), f"EADs of code {k}") for k in EAD_CLASSES}
    present = [k for k in EAD_CLASSES if rows[k]]
    countries: list[str] = []
    for k in present:
        countries += [c for c in rows[k] if c not in EBA2011_TOTALS and c not in countries]
    ead = np.full((len(banks), len(present), len(countries)), np.nan)
    total = np.full((len(banks), len(present)), np.nan)
    for x, k in enumerate(present):
        name = EAD_CLASSES[k][0]
        for country, r in rows[k].items():
            values = _numbers(frame, r, banks, f"EAD {name} ({k}) to {country}", blank_ok=True)
            if country == "TO":
                total[:, x] = values
            elif country not in EBA2011_TOTALS:
                ead[:, x, countries.index(country)] = values
    return tuple(EAD_CLASSES[k][0] for k in present), tuple(countries), ead, total


def read_eba2011(root: str | Path | None = None) -> Eba2011Data:
    """Read total assets, common equity, sovereign exposures and EADs of every bank.

    Parameters
    ----------
    root : str or Path, optional
        Data folder (see :func:`firesale.data.data_root`).

    Returns
    -------
    Eba2011Data
        The disclosed figures, EUR millions, for all banks in the file.

    Raises
    ------
    DataError
        ``FS130``/``FS131`` when the data folder or file is missing; ``FS132`` when a cell
        used is not a number (an EAD cell may read ``.``, not disclosed); ``FS133`` when a
        code's row is missing or repeated.
    """
    frame = _read_frame(root)
    missing = [c for c in _KEY_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(Problem("FS132", _LABEL, f"key columns {', '.join(missing)} are missing (columns found: "
                                f"{', '.join(map(str, frame.columns[:10]))} ...): the file must be the long-format "
                                "disclosure, one column per bank code after MEASURE_CODE"))
    banks = [str(c) for c in frame.columns[len(_KEY_COLUMNS):]]
    if not banks:
        raise DataError(Problem("FS132", _LABEL, "no bank columns after MEASURE_CODE: the file holds no bank data"))
    code = _code(frame, "INFORMATION_CODE")
    date = _code(frame, "INFO_DATE_CODE")
    scenario_empty = frame["SCENARIO_CODE"].str.strip().isin(["", "NaN", "nan"])
    balance_sheet = (date == BALANCE_SHEET_DATE) & scenario_empty
    total_row = _one_row(frame, (code == TOTAL_ASSETS_CODE) & balance_sheet,
                         f"code {TOTAL_ASSETS_CODE} (total assets) dated {BALANCE_SHEET_DATE}")
    equity_row = _one_row(frame, (code == COMMON_EQUITY_CODE) & balance_sheet,
                          f"code {COMMON_EQUITY_CODE} (common equity) dated {BALANCE_SHEET_DATE}")
    total_assets = _numbers(frame, total_row, banks, "total assets")
    common_equity = _numbers(frame, equity_row, banks, "common equity")
    sovereign_mask = (code == SOVEREIGN_EXPOSURE_CODE) & (_code(frame, "MATURITY_CODE") == ALL_MATURITIES)
    rows = _by_country(frame, sovereign_mask, "sovereign exposures")
    if not rows:
        raise DataError(Problem("FS133", _LABEL, f"no rows for code {SOVEREIGN_EXPOSURE_CODE} with MATURITY_CODE "
                                f"{ALL_MATURITIES} (sovereign exposures, all maturities): check the file"))
    countries = list(rows)
    sovereign = np.column_stack([_numbers(frame, r, banks, f"sovereign exposure to {c}") for c, r in rows.items()])
    negative = np.argwhere(sovereign < 0)
    if negative.size:
        b, c = negative[0]
        raise DataError(Problem("FS134", f"{_LABEL} line {rows[countries[c]] + 2}, column {banks[b]}",
                                f"sovereign exposure to {countries[c]} is {sovereign[b, c]:g}: gross long exposures "
                                "are at least 0; restore the disclosed amount"))
    ead_classes, ead_countries, ead, ead_total = _read_ead(frame, code, banks)
    return Eba2011Data(tuple(banks), total_assets, common_equity, tuple(countries), sovereign,
                       ead_classes, ead_countries, ead, ead_total)


def _inconsistent(data: Eba2011Data) -> dict[str, str]:
    out: dict[str, str] = {}
    held = data.sovereign.sum(axis=1)
    for b, bank in enumerate(data.banks):
        assets, equity = data.total_assets[b], data.common_equity[b]
        if assets <= 0:
            out[bank] = f"total assets (code {TOTAL_ASSETS_CODE}) are {assets:g}: not disclosed"
        elif equity <= 0:
            out[bank] = f"common equity (code {COMMON_EQUITY_CODE}) is {equity:g}: a bank must start solvent"
        elif held[b] > assets:
            out[bank] = (f"sovereign exposures {held[b]:.6g} exceed total assets {assets:.6g}, so its other assets "
                         "would be negative")
        elif equity >= assets:
            out[bank] = f"common equity {equity:.6g} is not below total assets {assets:.6g}: liabilities would be <= 0"
    return out


def eba2011_excluded(root: str | Path | None = None) -> dict[str, str]:
    """Banks of the disclosure that :func:`load_eba2011` leaves out, with the reason.

    Parameters
    ----------
    root : str or Path, optional
        Data folder (see :func:`firesale.data.data_root`).

    Returns
    -------
    dict of str to str
        Bank code to the reason: total assets not disclosed (0), common equity not
        positive, sovereign exposures above total assets, or equity not below total assets.
    """
    return _inconsistent(read_eba2011(root))


def _class_country(data: Eba2011Data, keep: list[int], room: np.ndarray,
                   ) -> tuple[list[tuple[str, str]], np.ndarray, np.ndarray, list[str]]:
    """The (class, country) assets held by some kept bank, their amounts (N, A), which
    banks had their EADs scaled (N,) and notes for the description.

    ``room`` is each kept bank's total assets less its sovereign exposures: a bank whose
    EADs exceed it has them scaled by room / EADs.
    """
    if not data.ead_classes:
        raise DataError(Problem("FS133", _LABEL, f"no EAD rows (codes {', '.join(map(str, EAD_CLASSES))}, "
                                f"MEASURE_CODE {EAD_MEASURE}): check the file, or use granularity='sovereign'"))
    banks = [data.banks[b] for b in keep]
    raw = data.ead[keep]
    notes = []
    undisclosed = np.isnan(raw).sum(axis=(1, 2))
    if undisclosed.any():
        notes.append("EAD cells not disclosed ('.'), read as 0: " + ", ".join(
            f"{banks[i]} ({n})" for i, n in enumerate(undisclosed) if n))
    ead = np.nan_to_num(raw, nan=0.0)
    total = data.ead_total[keep]
    off = np.argwhere(np.abs(ead.sum(axis=2) - total) > _BREAKDOWN_TOLERANCE)
    if off.size:
        notes.append("country breakdown differs from the file's TO row (the difference stays in other): " + ", ".join(
            f"{banks[i]} {data.ead_classes[x]} {ead[i, x].sum():.6g} vs {total[i, x]:.6g}" for i, x in off))
    negative = np.argwhere(ead < 0)
    if negative.size:
        notes.append("negative EADs set to 0: " + ", ".join(
            f"{banks[i]} {data.ead_classes[x]}_{data.ead_countries[d]} ({ead[i, x, d]:.3g})" for i, x, d in negative))
        ead = np.maximum(ead, 0.0)
    amounts = ead.reshape(len(keep), -1)
    held = amounts.sum(axis=1)
    over = held > room
    if over.any():
        factor = np.where(over, room / np.where(over, held, 1.0), 1.0)
        amounts = amounts * factor[:, None]
        notes.append(f"EADs above total assets - sovereign exposures, scaled to fit ({int(over.sum())} banks, "
                     "factor): " + ", ".join(f"{banks[i]} {factor[i]:.3f}" for i in np.flatnonzero(over)))
    names = [(x, d) for x in data.ead_classes for d in data.ead_countries]
    held_any = amounts.sum(axis=0) > 0
    return [n for n, h in zip(names, held_any) if h], amounts[:, held_any], over, notes


def load_eba2011(
    root: str | Path | None = None, *, inconsistent: Literal["drop", "raise"] = "drop",
    granularity: Literal["sovereign", "class_country"] = "class_country",
) -> System:
    """The EBA 2011 banks as a System: sovereign exposures by country, exposures by class
    and country, and other assets.

    Parameters
    ----------
    root : str or Path, optional
        Data folder (see :func:`firesale.data.data_root`).
    inconsistent : {"drop", "raise"}
        What to do with a bank whose balance sheet cannot be built (see
        :func:`eba2011_excluded`): leave it out and name it in the description (default),
        or raise.
    granularity : {"class_country", "sovereign"}
        ``"class_country"`` (default): sovereigns by country, one asset per EAD class and
        country (``inst_DE``, ``corp_IT``, ``retail_ES``, ``cre_GB``, ``dflt_GR``; see
        :data:`EAD_CLASSES`) and ``other`` = total assets - sovereign - class exposures,
        the asset classes of GLT's application, whose price impact is per asset class.
        ``"sovereign"``: sovereigns by country and one ``other`` asset for the rest.

    Returns
    -------
    System
        Amounts in EUR millions; one ``bank`` per disclosed bank kept, assets ``sov_<code>``
        (one per country or region with a positive exposure), with ``class_country`` the
        ``<class>_<code>`` assets held by some bank, and ``other``.

    Raises
    ------
    DataError
        When the file is missing or malformed, or (``inconsistent="raise"``) listing every
        bank without a consistent balance sheet.

    Examples
    --------
    >>> from firesale.data import load_eba2011
    >>> system = load_eba2011()  # doctest: +SKIP
    >>> system.n_institutions, system.asset_names[:3]  # doctest: +SKIP
    (87, ['sov_A1', 'sov_AT', 'sov_BE'])
    >>> load_eba2011(granularity="sovereign").n_assets  # doctest: +SKIP
    38
    """
    if inconsistent not in ("drop", "raise"):
        raise DataError(Problem("FS134", "load_eba2011, argument inconsistent",
                                f"got {inconsistent!r}: use 'drop' or 'raise'"))
    if granularity not in ("sovereign", "class_country"):
        raise DataError(Problem("FS134", "load_eba2011, argument granularity",
                                f"got {granularity!r}: use 'class_country' or 'sovereign'"))
    data = read_eba2011(root)
    excluded = _inconsistent(data)
    if excluded and inconsistent == "raise":
        raise DataError([Problem("FS134", f"{_LABEL}, column {bank}", f"{why}; leave the bank out "
                                 "(inconsistent='drop') or correct the figure") for bank, why in excluded.items()])
    keep = [b for b, bank in enumerate(data.banks) if bank not in excluded]
    sovereign = data.sovereign[keep]
    held_any = sovereign.sum(axis=0) > 0
    countries = [c for c, held in zip(data.countries, held_any) if held]
    sovereign = sovereign[:, held_any]
    other = data.total_assets[keep] - sovereign.sum(axis=1)
    names = [f"sov_{c}" for c in countries]
    assets: list[dict[str, Any]] = [
        {"name": f"sov_{c}", "class": "treasury", "sigma0": PLACEHOLDER_SIGMA0, "tradable": True} for c in countries
    ]
    amounts, notes = sovereign, []
    if granularity == "class_country":
        pairs, exposures, scaled, notes = _class_country(data, keep, other)
        firesale_class = {name: cls for name, _, cls in EAD_CLASSES.values()}
        names += [f"{x}_{d}" for x, d in pairs]
        assets += [{"name": f"{x}_{d}", "class": firesale_class[x], "sigma0": PLACEHOLDER_SIGMA0, "tradable": True}
                   for x, d in pairs]
        amounts = np.hstack([sovereign, exposures])
        # A bank whose EADs were scaled fills its room: no round-off crumb (+-1e-11) in other.
        other = np.where(scaled, 0.0, other - exposures.sum(axis=1))
    assets.append({"name": "other", "class": "other", "sigma0": PLACEHOLDER_SIGMA0, "tradable": True})
    institutions = [
        {"name": data.banks[b], "type": "bank", "group": data.banks[b][:2], "cash": 0.0,
         "liabilities": float(data.total_assets[b] - data.common_equity[b])}
        for b in keep
    ]
    holdings = []
    for row, b in enumerate(keep):
        bank = data.banks[b]
        holdings += [{"institution": bank, "asset": name, "quantity": float(amounts[row, k])}
                     for k, name in enumerate(names) if amounts[row, k] > 0]
        if other[row] > 0:
            holdings.append({"institution": bank, "asset": "other", "quantity": float(other[row])})
    dropped = "; ".join(f"{bank}: {why}" for bank, why in excluded.items())
    if granularity == "class_country":
        layout = (f"EADs by class and country (worksheet 4 - EADs, codes {', '.join(map(str, EAD_CLASSES))}: "
                  f"{', '.join(name for name, _, _ in EAD_CLASSES.values())}), one asset per class and country; "
                  "other = total assets - sovereign exposures - EADs. " + "".join(f"{n}. " for n in notes))
    else:
        layout = "other = total assets - sovereign exposures. "
    description = (
        f"EBA 2011 EU-wide stress test disclosure: {len(keep)} of {len(data.banks)} banks. Total assets (code "
        f"{TOTAL_ASSETS_CODE}) and common equity (code {COMMON_EQUITY_CODE}) at Dec 2010; gross direct long "
        f"sovereign exposures (code {SOVEREIGN_EXPOSURE_CODE}, all maturities) as disclosed; " + layout
        + "sigma0 is a placeholder. "
        + (f"Left out ({len(excluded)}): {dropped}." if excluded else "No bank left out.")
    )
    sources = {t: _LABEL for t in ("institutions", "assets", "holdings")}
    return System.from_records(institutions, assets, holdings, name="eba2011", currency="EUR millions",
                               description=description, sources=sources)
