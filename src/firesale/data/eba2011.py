"""EBA 2011 EU-wide stress test: 90 banks' balance sheets and sovereign exposures.

Reads the official long-format disclosure ``eba-2011/DATA_DISCLOSURE.CSV.csv`` of the data
folder (:func:`firesale.data.shared_data.data_root`): one row per (worksheet, information
code, date, country, scenario, maturity, measure), one column per bank code (``AT001`` ...
``SI058``), amounts in EUR millions. The codes used (from the EBA datamap
``CSV_Datamap_Structure.xls``):

==========  ===============================================  ==============================
code        meaning                                          rows used
==========  ===============================================  ==============================
30029       total assets (after restructuring plans and      ``INFO_DATE_CODE`` 20101231
            capital raised by 30 April 2011)                 (Dec 2010, no scenario)
30011       common equity (EBA definition)                   ``INFO_DATE_CODE`` 20101231
34010       gross direct long sovereign exposure (accounting  ``MATURITY_CODE`` 999 (all
            value gross of specific provisions), by country  maturities), one row per
                                                             country, as disclosed
==========  ===============================================  ==============================

The sovereign rows are dated 20111231 in the file (the worksheet's date code); they are the
exposures disclosed with the 2011 exercise and are taken as they are. Their ``C_COUNTRY_CODE``
holds 32 countries and five regional aggregates (:data:`EBA2011_REGIONS`); the file's own
totals (``TO``, ``E1``) are not used.

The system (Greenwood, Landier & Thesmar 2015, "Vulnerable banks", J. Financial Economics
115(3), section 5, apply their model to these data):

- one institution per bank (type ``bank``, name = bank code, group = its country prefix,
  cash 0, liabilities = total assets - common equity, so equity = common equity);
- one asset per sovereign with a positive exposure, ``sov_<code>`` (class ``treasury``,
  ``sigma0`` = 0.01, a placeholder that the GLT model does not use, and no price impact
  until a model sets its depth);
- one asset ``other`` (class ``other``, ``tradable`` set explicitly, since GLT sells every
  asset pro rata) holding total assets - sum of sovereign exposures.

Banks without a consistent balance sheet are left out and listed (never silently): in this
disclosure LU045 and SI058 report total assets of 0 (not disclosed) and DE029's sovereign
exposures (27,469) exceed its total assets (17,691). :func:`eba2011_excluded` returns them
with the reason, and the system's description names them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from firesale.data.shared_data import require
from firesale.errors import DataError, Problem
from firesale.system import System

__all__ = [
    "COMMON_EQUITY_CODE",
    "EBA2011_FILE",
    "EBA2011_REGIONS",
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
#: Daily volatility given to every asset: a placeholder (sigma0 must be positive), not
#: used by the GLT model, which works with a linear price impact per unit sold.
PLACEHOLDER_SIGMA0 = 0.01
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
    """

    banks: tuple[str, ...]
    total_assets: np.ndarray
    common_equity: np.ndarray
    countries: tuple[str, ...]
    sovereign: np.ndarray


def _read_frame(path: Path) -> Any:
    import pandas as pd

    try:
        # Text cells (worksheet names, narrative answers) are Windows-1252 ("\x80" is the euro sign).
        return pd.read_csv(path, dtype=str, encoding="cp1252", keep_default_na=False)
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


def _numbers(frame: Any, row: int, banks: list[str], what: str) -> np.ndarray:
    values = []
    problems = []
    for bank in banks:
        cell = str(frame.at[row, bank]).strip()
        try:
            values.append(float(cell))
        except ValueError:
            values.append(np.nan)
        if not np.isfinite(values[-1]):
            problems.append(Problem("FS132", f"{_LABEL} line {row + 2}, column {bank}",
                                    f"{what} is {cell!r}, not a number: restore the disclosed amount"))
    if problems:
        raise DataError(problems)
    return np.array(values, dtype=float)


def read_eba2011(root: str | Path | None = None) -> Eba2011Data:
    """Read total assets, common equity and sovereign exposures of every bank.

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
        used is not a number; ``FS133`` when a code's row is missing or repeated.
    """
    path = require(root, *EBA2011_FILE)
    frame = _read_frame(path)
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
    rows = list(frame.index[sovereign_mask])
    if not rows:
        raise DataError(Problem("FS133", _LABEL, f"no rows for code {SOVEREIGN_EXPOSURE_CODE} with MATURITY_CODE "
                                f"{ALL_MATURITIES} (sovereign exposures, all maturities): check the file"))
    countries = [str(frame.at[r, "C_COUNTRY_CODE"]).strip() for r in rows]
    seen: dict[str, int] = {}
    for r, country in zip(rows, countries):
        if country in seen:
            raise DataError(Problem("FS133", f"{_LABEL} line {r + 2}, column C_COUNTRY_CODE",
                                    f"sovereign exposures to {country!r} appear twice (first on line {seen[country]}): "
                                    "keep one row per country"))
        seen[country] = r + 2
    sovereign = np.column_stack([_numbers(frame, r, banks, f"sovereign exposure to {c}")
                                 for r, c in zip(rows, countries)])
    negative = np.argwhere(sovereign < 0)
    if negative.size:
        b, c = negative[0]
        raise DataError(Problem("FS134", f"{_LABEL} line {rows[c] + 2}, column {banks[b]}",
                                f"sovereign exposure to {countries[c]} is {sovereign[b, c]:g}: gross long exposures "
                                "are at least 0; restore the disclosed amount"))
    return Eba2011Data(tuple(banks), total_assets, common_equity, tuple(countries), sovereign)


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


def load_eba2011(
    root: str | Path | None = None, *, inconsistent: Literal["drop", "raise"] = "drop"
) -> System:
    """The EBA 2011 banks as a System: sovereign exposures by country plus other assets.

    Parameters
    ----------
    root : str or Path, optional
        Data folder (see :func:`firesale.data.data_root`).
    inconsistent : {"drop", "raise"}
        What to do with a bank whose balance sheet cannot be built (see
        :func:`eba2011_excluded`): leave it out and name it in the description (default),
        or raise.

    Returns
    -------
    System
        Amounts in EUR millions; one ``bank`` per disclosed bank kept, assets ``sov_<code>``
        (one per country or region with a positive exposure) and ``other``.

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
    """
    if inconsistent not in ("drop", "raise"):
        raise DataError(Problem("FS134", "load_eba2011, argument inconsistent",
                                f"got {inconsistent!r}: use 'drop' or 'raise'"))
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
    institutions = [
        {"name": data.banks[b], "type": "bank", "group": data.banks[b][:2], "cash": 0.0,
         "liabilities": float(data.total_assets[b] - data.common_equity[b])}
        for b in keep
    ]
    assets: list[dict[str, Any]] = [
        {"name": f"sov_{c}", "class": "treasury", "sigma0": PLACEHOLDER_SIGMA0, "tradable": True} for c in countries
    ]
    assets.append({"name": "other", "class": "other", "sigma0": PLACEHOLDER_SIGMA0, "tradable": True})
    holdings = []
    for row, b in enumerate(keep):
        bank = data.banks[b]
        holdings += [{"institution": bank, "asset": f"sov_{c}", "quantity": float(sovereign[row, k])}
                     for k, c in enumerate(countries) if sovereign[row, k] > 0]
        if other[row] > 0:
            holdings.append({"institution": bank, "asset": "other", "quantity": float(other[row])})
    dropped = "; ".join(f"{bank}: {why}" for bank, why in excluded.items())
    description = (
        f"EBA 2011 EU-wide stress test disclosure: {len(keep)} of {len(data.banks)} banks. Total assets (code "
        f"{TOTAL_ASSETS_CODE}) and common equity (code {COMMON_EQUITY_CODE}) at Dec 2010; gross direct long "
        f"sovereign exposures (code {SOVEREIGN_EXPOSURE_CODE}, all maturities) as disclosed; other = total assets "
        "- sovereign exposures. sigma0 is a placeholder. "
        + (f"Left out ({len(excluded)}): {dropped}." if excluded else "No bank left out.")
    )
    sources = {t: _LABEL for t in ("institutions", "assets", "holdings")}
    return System.from_records(institutions, assets, holdings, name="eba2011", currency="EUR millions",
                               description=description, sources=sources)
