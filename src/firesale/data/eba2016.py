"""EBA 2016 stress test with sovereign bond market data (Breuer, Summer & Urosevic).

Reads four files of ``eba-2016/`` in the data folder (:func:`firesale.data.data_root`),
as compiled for Breuer, Summer & Urosevic, "Systemic Loss Evaluation" (OeNB Working
Paper 235, repository Martin-Summer-1090/syslosseval):

``eba_exposures_2016.csv``
    51 banks, Dec 2015 (``Period`` 201512), EUR millions. Rows of exposure class
    ``Central banks and central governments`` by counterparty ``Country`` give the
    sovereign bond holdings (``Bond_Amount``); the ``Total`` row gives the bank's total
    for the class. Per bank, the rows ``Total assets`` and ``Common tier1 equity capital``
    give the balance sheet (amount in ``Total_Amount``).
``eba_impairments_2016.csv``
    Impairment rates by bank, scenario, year, counterparty country and exposure class.
``sovereign_bond_indices.csv``
    Daily sovereign bond index levels by country label, 2010-2020.
``average_daily_volume_sovereign.csv``
    Average daily traded volume of sovereign bonds by country label and year, EUR millions.

The markets are those of BSU: ``DE, ES, FR, GB, IT, JP, US`` and the rest of the world
``RoW`` (label ``Rest_of_the_world`` in the market-data files). For each bank,
``RoW`` = ``Total`` - sum of the seven named countries (BSU's ``make_S1``): every
counterparty outside the seven, listed or not.

The system: one ``bank`` per LEI code (group = home country, cash 0, liabilities = total
assets - CET1, so equity = CET1), one asset per market ``sov_<market>`` (class
``treasury``, square-root impact with ``sigma0`` = sigma_k, ``adv`` = ADV_k,
``impact_kappa`` = 1.5) and ``other`` = total assets - sovereign bonds (class ``other``,
not tradable: BSU banks deleverage by selling securities only; its ``sigma0`` is a
placeholder).

Market data (base year 2015, the balance-sheet date):

.. math::

    \\sigma_k = \\operatorname{sd}\\left(\\ln I_{k,t} - \\ln I_{k,t-1}\\right),
    \\qquad t \\text{ consecutive observations of 2015}

with ``I_k`` the bond index of market k (sample standard deviation), and ``ADV_k`` the
2015 average daily volume. Each market's quantity, volatility and volume are joined by
country label; a label missing from any file is an error naming the file and country.

Impairment (adverse scenario, ``Period`` 201612, sovereign class): for a named market the
bond-weighted mean over banks of the bank's rate on that country,
:math:`r_k = \\sum_b B_{bk} r_{bk} / \\sum_b B_{bk}`; for ``RoW`` the rate that makes the
eight markets' losses add up to the banks' total sovereign losses,
:math:`r_{RoW} = (\\sum_b B_{b,Total} r_{b,Total} - \\sum_b \\sum_k B_{bk} r_{bk}) / \\sum_b B_{b,RoW}`.
The EBA rates are credit impairments of the banking-book exposure; using them on bond
amounts as a first-round price shock is this loader's summary, not an EBA figure (BSU's
code applies impairment rates to ``Loan_Amount`` as credit losses; see :class:`Eba2016`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Collection
from typing import Any

import numpy as np

from firesale.data.datasets import read_original
from firesale.data.shared_data import data_root, is_shipped, require
from firesale.errors import DataError, Problem
from firesale.system import System

__all__ = [
    "EBA2016_FOLDER",
    "EBA2016_MARKETS",
    "EBA2016_MARKET_LABELS",
    "Eba2016",
    "load_eba2016",
    "BSU_CONVENTIONS",
    "BSU_CORRECTIONS",
    "BSU_YEARS",
    "BsuInputs",
    "load_bsu_inputs",
]

EBA2016_FOLDER = "eba-2016"
#: Sovereign bond markets of Breuer, Summer & Urosevic, in their order.
EBA2016_MARKETS = ("DE", "ES", "FR", "GB", "IT", "JP", "US", "RoW")
#: Label of each market in the market-data files (``Country`` column).
EBA2016_MARKET_LABELS = {m: m for m in EBA2016_MARKETS[:-1]} | {"RoW": "Rest_of_the_world"}
#: Balance-sheet date of the exposures and the year of the market data (sigma, ADV).
BASE_PERIOD = 201512
MARKET_YEAR = 2015
#: Stress horizon whose adverse-scenario impairment rates are used.
IMPAIRMENT_PERIOD = 201612
IMPAIRMENT_SCENARIO = "Adverse scenario"
SOVEREIGN_CLASS = "Central banks and central governments"
TOTAL_ASSETS_CLASS = "Total assets"
EQUITY_CLASS = "Common tier1 equity capital"
#: Square-root law coefficient of BSU.
IMPACT_KAPPA = 1.5
#: sigma0 of the non-tradable ``other`` asset: a placeholder (sigma0 must be positive).
PLACEHOLDER_SIGMA0 = 0.01
_FILES = {
    "exposures": "eba_exposures_2016.csv",
    "impairments": "eba_impairments_2016.csv",
    "indices": "sovereign_bond_indices.csv",
    "volume": "average_daily_volume_sovereign.csv",
    "exposures_2020": "eba_exposures_2020.csv",
    "impairments_2020": "eba_impairments_2020.csv",
}
_COLUMNS = {
    "exposures": ("LEI_code", "Country_code", "Bank_name", "Period", "Country", "Exposure", "Bond_Amount",
                  "Total_Amount"),
    "impairments": ("LEI_code", "Period", "Scenario", "Country", "Exposure", "Impairment_rate"),
    "indices": ("Country", "Date", "Value"),
    "volume": ("Country", "Year", "Volume"),
    "exposures_2020": ("LEI_code", "Country_code", "Bank_name", "Period", "Country", "Exposure", "Loan_Amount",
                       "Bond_Amount", "Total_Amount"),
    "impairments_2020": ("LEI_code", "Period", "Scenario", "Country", "Exposure", "Impairment_rate"),
}


@dataclass(frozen=True)
class Eba2016:
    """The EBA 2016 banks with the data of each sovereign bond market.

    Attributes
    ----------
    system : System
        Banks x assets ``sov_DE`` ... ``sov_RoW`` and ``other``, EUR millions.
    markets : tuple of str
        ``("DE", "ES", "FR", "GB", "IT", "JP", "US", "RoW")``; asset ``sov_<market>``.
    quantity : dict of str to float
        Sovereign bonds held by all banks in each market (EUR millions).
    sigma : dict of str to float
        Daily volatility of each market's bond index in 2015 (fraction/day).
    adv : dict of str to float
        Average daily traded volume in 2015 (EUR millions/day).
    impairment : dict of str to float
        Adverse-scenario 2016 impairment rate of sovereign exposures, bond-weighted over
        banks (fraction); see the module notes.
    bank_names : dict of str to str
        LEI code (institution name) to the bank's name.
    credit_loss : ndarray, shape (N,)
        Adverse-scenario 2016 credit losses of each bank (EUR millions): per exposure class,
        the loan amount times its impairment rate (BSU's equity shock).
    labels : dict of str to str
        Market to its ``Country`` label in the market-data files.
    """

    system: System
    quantity: dict[str, float]
    sigma: dict[str, float]
    adv: dict[str, float]
    impairment: dict[str, float]
    bank_names: dict[str, str]
    credit_loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    markets: tuple[str, ...] = EBA2016_MARKETS
    labels: dict[str, str] = field(default_factory=lambda: dict(EBA2016_MARKET_LABELS))


def _label(name: str) -> str:
    return f"{EBA2016_FOLDER}/{_FILES[name]}"


def _read(root: str | Path | None, name: str) -> Any:
    import pandas as pd

    base = data_root(root)
    if is_shipped(base):  # the copy shipped with the package: the same frame as the CSV gives
        frame = read_original(_label(name), base)
    else:
        path = require(base, EBA2016_FOLDER, _FILES[name])
        try:
            frame = pd.read_csv(path)
        except Exception as err:  # pandas raises many types; all mean "cannot read this file"
            raise DataError(Problem("FS132", _label(name), f"cannot read the file ({err}): check that it is a "
                                    "comma-separated file with a header row")) from None
    missing = [c for c in _COLUMNS[name] if c not in frame.columns]
    if missing:
        raise DataError(Problem("FS132", _label(name), f"columns {', '.join(missing)} are missing (columns found: "
                                f"{', '.join(map(str, frame.columns))}): restore the file's header"))
    for column in _COLUMNS[name]:
        if frame[column].isna().any():
            line = int(np.flatnonzero(frame[column].isna().to_numpy())[0]) + 2
            raise DataError(Problem("FS132", f"{_label(name)} line {line}, column {column}",
                                    "is empty: fill in the value"))
    return frame


def _number_column(frame: Any, name: str, column: str) -> np.ndarray:
    import pandas as pd

    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        line = int(bad[0]) + 2
        raise DataError(Problem("FS132", f"{_label(name)} line {line}, column {column}",
                                f"got {frame[column].iloc[bad[0]]!r}: not a finite number; restore the value"))
    return values


def _balance_sheets(frame: Any) -> tuple[list[str], dict[str, str], dict[str, str], np.ndarray, np.ndarray, np.ndarray]:
    """Banks, names, home countries, bonds (B, 8), total assets (B,), CET1 (B,)."""
    label = _label("exposures")
    periods = set(_number_column(frame, "exposures", "Period").astype(int))
    if periods != {BASE_PERIOD}:
        raise DataError(Problem("FS133", f"{label}, column Period",
                                f"holds {sorted(periods)}, expected only {BASE_PERIOD} (Dec 2015): use the 2016 "
                                "exercise's file"))
    bonds_all = _number_column(frame, "exposures", "Bond_Amount")
    totals_all = _number_column(frame, "exposures", "Total_Amount")
    banks = list(dict.fromkeys(frame["LEI_code"].astype(str)))
    index = {b: i for i, b in enumerate(banks)}
    names = dict(zip(frame["LEI_code"].astype(str), frame["Bank_name"].astype(str)))
    homes = dict(zip(frame["LEI_code"].astype(str), frame["Country_code"].astype(str)))
    named = list(EBA2016_MARKETS[:-1])
    bonds = np.zeros((len(banks), len(named)))
    total_bonds = np.full(len(banks), np.nan)
    assets = np.full(len(banks), np.nan)
    equity = np.full(len(banks), np.nan)
    held_in: dict[str, int] = {}
    seen: dict[tuple[str, str, str], int] = {}
    for row, (bank, country, exposure) in enumerate(zip(frame["LEI_code"].astype(str), frame["Country"].astype(str),
                                                        frame["Exposure"].astype(str))):
        key = (bank, country, exposure)
        if key in seen:
            raise DataError(Problem("FS133", f"{label} line {row + 2}",
                                    f"bank {bank}, country {country}, exposure {exposure!r} repeats line {seen[key]}: "
                                    "keep one row"))
        seen[key] = row + 2
        i = index[bank]
        if exposure == TOTAL_ASSETS_CLASS and country == "Total":
            assets[i] = totals_all[row]
        elif exposure == EQUITY_CLASS and country == "Total":
            equity[i] = totals_all[row]
        elif exposure == SOVEREIGN_CLASS:
            if country == "Total":
                total_bonds[i] = bonds_all[row]
            elif country in named:
                bonds[i, named.index(country)] = bonds_all[row]
                held_in[country] = held_in.get(country, 0) + 1
    problems = []
    for country in named:
        if country not in held_in:
            problems.append(Problem("FS133", f"{label}, country {country}",
                                    f"no {SOVEREIGN_CLASS!r} row for market {country}: every market's quantity is "
                                    "joined by country label; restore the rows of that country"))
    for what, values in (("Total row of " + repr(SOVEREIGN_CLASS), total_bonds), (repr(TOTAL_ASSETS_CLASS), assets),
                         (repr(EQUITY_CLASS), equity)):
        for i in np.flatnonzero(np.isnan(values)):
            problems.append(Problem("FS133", f"{label}, bank {banks[i]} ({names[banks[i]]})",
                                    f"has no {what} (country Total): restore it"))
    if problems:
        raise DataError(problems)
    rest = total_bonds - bonds.sum(axis=1)
    tolerance = 1e-9 * np.maximum(total_bonds, 1.0)
    for i in np.flatnonzero(bonds.min(axis=1) < 0):
        problems.append(Problem("FS134", f"{label}, bank {banks[i]} ({names[banks[i]]})",
                                f"a sovereign Bond_Amount is negative ({bonds[i].min():g}): restore the value"))
    for i in np.flatnonzero(rest < -tolerance):
        problems.append(Problem("FS134", f"{label}, bank {banks[i]} ({names[banks[i]]})",
                                f"the seven named countries' bonds ({bonds[i].sum():.6g}) exceed the Total row "
                                f"({total_bonds[i]:.6g}), so RoW = Total - named would be negative: check the rows"))
    for i in np.flatnonzero(equity <= 0):
        problems.append(Problem("FS134", f"{label}, bank {banks[i]} ({names[banks[i]]})",
                                f"{EQUITY_CLASS} is {equity[i]:g}: a bank must start with positive equity; restore "
                                "the figure or leave the bank out"))
    for i in np.flatnonzero(total_bonds > assets):
        problems.append(Problem("FS134", f"{label}, bank {banks[i]} ({names[banks[i]]})",
                                f"sovereign bonds {total_bonds[i]:.6g} exceed total assets {assets[i]:.6g}: check "
                                "both figures"))
    for i in np.flatnonzero(equity >= assets):
        problems.append(Problem("FS134", f"{label}, bank {banks[i]} ({names[banks[i]]})",
                                f"CET1 {equity[i]:.6g} is not below total assets {assets[i]:.6g}: check both"))
    if problems:
        raise DataError(problems)
    holdings = np.column_stack([bonds, np.maximum(rest, 0.0)])
    return banks, names, homes, holdings, assets, equity


def _volatility(frame: Any) -> dict[str, float]:
    import pandas as pd

    label = _label("indices")
    values = _number_column(frame, "indices", "Value")
    dates = pd.to_datetime(frame["Date"], errors="coerce")
    if dates.isna().any():
        line = int(np.flatnonzero(dates.isna().to_numpy())[0]) + 2
        raise DataError(Problem("FS132", f"{label} line {line}, column Date",
                                f"got {frame['Date'].iloc[line - 2]!r}: write dates as YYYY-MM-DD"))
    countries = frame["Country"].astype(str).to_numpy()
    in_year = (dates.dt.year == MARKET_YEAR).to_numpy()
    sigma = {}
    problems = []
    for market in EBA2016_MARKETS:
        name = EBA2016_MARKET_LABELS[market]
        rows = np.flatnonzero((countries == name) & in_year)
        if not np.any(countries == name):
            problems.append(Problem("FS133", f"{label}, country {name}",
                                    f"no index for market {market} (label {name!r}): every market's volatility is "
                                    "joined by country label; add its daily index levels"))
            continue
        if rows.size < 3:
            problems.append(Problem("FS133", f"{label}, country {name}",
                                    f"{rows.size} index levels in {MARKET_YEAR} for market {market}: need daily "
                                    f"levels through {MARKET_YEAR} to estimate its volatility"))
            continue
        order = rows[np.argsort(dates.to_numpy()[rows], kind="stable")]
        level = values[order]
        if level.min() <= 0:
            bad = order[int(np.argmin(level))] + 2
            problems.append(Problem("FS134", f"{label} line {bad}, column Value",
                                    f"index level {level.min():g} is not positive: restore the value"))
            continue
        sigma[market] = float(np.std(np.diff(np.log(level)), ddof=1))
    if problems:
        raise DataError(problems)
    return sigma


def _volume(frame: Any) -> dict[str, float]:
    label = _label("volume")
    volume = _number_column(frame, "volume", "Volume")
    years = _number_column(frame, "volume", "Year").astype(int)
    countries = frame["Country"].astype(str).to_numpy()
    adv = {}
    problems = []
    for market in EBA2016_MARKETS:
        name = EBA2016_MARKET_LABELS[market]
        rows = np.flatnonzero((countries == name) & (years == MARKET_YEAR))
        if rows.size != 1:
            what = "no row" if rows.size == 0 else f"{rows.size} rows"
            problems.append(Problem("FS133", f"{label}, country {name}",
                                    f"{what} for market {market} (label {name!r}) in {MARKET_YEAR}: every market's "
                                    "volume is joined by country label; give one row per country and year"))
            continue
        if volume[rows[0]] <= 0:
            problems.append(Problem("FS134", f"{label} line {rows[0] + 2}, column Volume",
                                    f"volume {volume[rows[0]]:g} for {name} is not positive: the square-root law "
                                    "divides by it; restore the value"))
            continue
        adv[market] = float(volume[rows[0]])
    if "Unit" in frame.columns:
        units = set(frame["Unit"].astype(str).str.lower())
        if units - {"million", "millions"}:
            problems.append(Problem("FS133", f"{label}, column Unit",
                                    f"holds {sorted(units)}: volumes must be in millions (of EUR)"))
    if problems:
        raise DataError(problems)
    return adv


def _impairment(frame: Any, exposures: Any, banks: list[str], holdings: np.ndarray) -> dict[str, float]:
    label = _label("impairments")
    rate_all = _number_column(frame, "impairments", "Impairment_rate")
    period = _number_column(frame, "impairments", "Period").astype(int)
    chosen = ((period == IMPAIRMENT_PERIOD) & (frame["Scenario"].astype(str) == IMPAIRMENT_SCENARIO).to_numpy()
              & (frame["Exposure"].astype(str) == SOVEREIGN_CLASS).to_numpy())
    rates: dict[tuple[str, str], float] = {}
    for bank, country, rate in zip(frame["LEI_code"].astype(str)[chosen], frame["Country"].astype(str)[chosen],
                                   rate_all[chosen]):
        rates[(bank, country)] = float(rate)
    problems = []
    countries_rated = {c for _, c in rates}
    for market in EBA2016_MARKETS[:-1]:
        if market not in countries_rated:
            problems.append(Problem("FS133", f"{label}, country {market}",
                                    f"no {IMPAIRMENT_SCENARIO.lower()} {IMPAIRMENT_PERIOD} rate of {SOVEREIGN_CLASS!r} "
                                    f"for market {market}: restore its rows"))
    sovereign = exposures[exposures["Exposure"].astype(str) == SOVEREIGN_CLASS]
    bonds = _number_column(exposures, "exposures", "Bond_Amount")[sovereign.index.to_numpy()]
    weighted = dict.fromkeys(EBA2016_MARKETS[:-1], 0.0)
    total_loss = 0.0
    for bank, country, amount in zip(sovereign["LEI_code"].astype(str), sovereign["Country"].astype(str), bonds):
        if country not in weighted and country != "Total":
            continue
        if (bank, country) not in rates:
            if amount > 0:
                problems.append(Problem("FS133", f"{label}, bank {bank}, country {country}",
                                        f"no {IMPAIRMENT_SCENARIO.lower()} {IMPAIRMENT_PERIOD} rate for a sovereign "
                                        f"exposure of {amount:g} in {_label('exposures')}: restore the row"))
            continue
        if country == "Total":
            total_loss += amount * rates[(bank, country)]
        else:
            weighted[country] += amount * rates[(bank, country)]
    if problems:
        raise DataError(problems)
    quantity = holdings.sum(axis=0)
    impairment = {m: weighted[m] / quantity[k] for k, m in enumerate(EBA2016_MARKETS[:-1]) if quantity[k] > 0}
    rest_loss = total_loss - sum(weighted.values())
    impairment["RoW"] = rest_loss / quantity[-1] if quantity[-1] > 0 else 0.0
    if impairment["RoW"] < 0:
        raise DataError(Problem("FS134", f"{label}, RoW",
                                f"the banks' total sovereign losses ({total_loss:.6g}) are below the named markets' "
                                f"({sum(weighted.values()):.6g}), so the RoW rate would be negative: check the rates"))
    return {m: float(impairment.get(m, 0.0)) for m in EBA2016_MARKETS}


def _credit_loss(frame: Any, exposures: Any, banks: list[str]) -> np.ndarray:
    """Each bank's adverse-scenario credit losses: Σ over exposure classes of the class's
    loan amount (``Total`` row) times its adverse impairment rate for the period — the
    equity shock of BSU's data application (syslosseval: impairment rate × Loan_Amount)."""
    rate_all = _number_column(frame, "impairments", "Impairment_rate")
    period = _number_column(frame, "impairments", "Period").astype(int)
    chosen = ((period == IMPAIRMENT_PERIOD) & (frame["Scenario"].astype(str) == IMPAIRMENT_SCENARIO).to_numpy()
              & (frame["Country"].astype(str) == "Total").to_numpy())
    rates = {(b, c): float(r) for b, c, r in zip(frame["LEI_code"].astype(str)[chosen],
                                                  frame["Exposure"].astype(str)[chosen], rate_all[chosen])}
    totals = exposures[exposures["Country"].astype(str) == "Total"]
    loans = _number_column(exposures, "exposures", "Loan_Amount")[totals.index.to_numpy()]
    index = {b: i for i, b in enumerate(banks)}
    loss = np.zeros(len(banks))
    for bank, exposure, amount in zip(totals["LEI_code"].astype(str), totals["Exposure"].astype(str), loans):
        if bank in index and (bank, exposure) in rates and np.isfinite(amount):
            loss[index[bank]] += amount * rates[(bank, exposure)]
    return loss


def load_eba2016(root: str | Path | None = None) -> Eba2016:
    """The EBA 2016 banks and the eight sovereign bond markets of BSU.

    Parameters
    ----------
    root : str or Path, optional
        Data folder (see :func:`firesale.data.data_root`).

    Returns
    -------
    Eba2016
        The system (EUR millions) with each market's quantity, sigma, ADV and impairment.

    Raises
    ------
    DataError
        ``FS131`` naming a missing file; ``FS132`` a malformed cell (file, line, column);
        ``FS133`` a market's country label missing from a file (file and country), a bank
        without total assets, CET1 or a Total sovereign row; ``FS134`` inconsistent amounts.

    Examples
    --------
    >>> from firesale.data import load_eba2016
    >>> eba = load_eba2016()  # doctest: +SKIP
    >>> eba.system.n_institutions, eba.markets  # doctest: +SKIP
    (51, ('DE', 'ES', 'FR', 'GB', 'IT', 'JP', 'US', 'RoW'))
    """
    exposures = _read(root, "exposures")
    indices = _read(root, "indices")
    volume = _read(root, "volume")
    impairments = _read(root, "impairments")
    banks, names, homes, bonds, total_assets, equity = _balance_sheets(exposures)
    sigma = _volatility(indices)
    adv = _volume(volume)
    impairment = _impairment(impairments, exposures, banks, bonds)
    other = total_assets - bonds.sum(axis=1)
    institutions = [{"name": b, "type": "bank", "group": homes[b], "cash": 0.0,
                     "liabilities": float(total_assets[i] - equity[i])} for i, b in enumerate(banks)]
    assets: list[dict[str, Any]] = [
        {"name": f"sov_{m}", "class": "treasury", "sigma0": sigma[m], "adv": adv[m], "impact": "sqrt",
         "impact_kappa": IMPACT_KAPPA, "tradable": True}
        for m in EBA2016_MARKETS
    ]
    assets.append({"name": "other", "class": "other", "sigma0": PLACEHOLDER_SIGMA0, "tradable": False})
    holdings = []
    for i, bank in enumerate(banks):
        holdings += [{"institution": bank, "asset": f"sov_{m}", "quantity": float(bonds[i, k])}
                     for k, m in enumerate(EBA2016_MARKETS) if bonds[i, k] > 0]
        holdings.append({"institution": bank, "asset": "other", "quantity": float(other[i])})
    description = (
        f"EBA 2016 stress test, {len(banks)} banks at Dec 2015 (EUR millions): sovereign bonds (Bond_Amount of "
        f"{SOVEREIGN_CLASS!r}) in DE, ES, FR, GB, IT, JP, US and RoW = Total - named; other = total assets - "
        f"sovereign bonds (not tradable); equity = CET1. Markets: sigma = sd of {MARKET_YEAR} daily log returns of "
        f"the sovereign bond index, ADV = {MARKET_YEAR} average daily volume, square-root impact, kappa "
        f"{IMPACT_KAPPA} (Breuer, Summer & Urosevic, OeNB WP 235)."
    )
    sources = {"institutions": _label("exposures"), "holdings": _label("exposures"),
               "assets": f"{_label('indices')} + {_label('volume')}"}
    system = System.from_records(institutions, assets, holdings, name="eba2016", currency="EUR millions",
                                 description=description, sources=sources)
    quantity = {m: float(bonds[:, k].sum()) for k, m in enumerate(EBA2016_MARKETS)}
    return Eba2016(system=system, quantity=quantity, sigma=sigma, adv=adv, impairment=impairment,
                   bank_names={b: names[b] for b in banks}, credit_loss=_credit_loss(impairments, exposures, banks))


# --- Breuer, Summer & Urosevic's balance sheets: the corrected computation and the authors' convention ---

#: Stress-test exercise -> (``Period`` of its balance sheets, base year of the market data).
BSU_YEARS = {2016: (201512, 2015), 2020: (201912, 2019)}
#: Stress horizons in years: the adverse rates of ``Period`` (base year + horizon) December.
BSU_HORIZONS = (1, 2, 3)
#: ``corrected`` (the paper's equations) or ``syslosseval`` (the authors' R code as published).
BSU_CONVENTIONS = ("corrected", "syslosseval")
#: The corrections that turn the authors' published computation into the paper's equations,
#: in the order the replications page applies them one at a time.
BSU_CORRECTIONS = ("losses_once", "labels_by_name", "common_date_returns", "other_assets")
_BSU_FILES = {2016: ("exposures", "impairments"), 2020: ("exposures_2020", "impairments_2020")}


@dataclass(frozen=True)
class BsuInputs:
    """The state of the EBA banks at t = 0 and after the stress (t = 1), BSU's notation.

    Amounts in EUR millions, one row per bank (LEI order of the exposures file), one column per
    market of :data:`EBA2016_MARKETS`.

    Attributes
    ----------
    year, horizon, convention : int, int, str
        Exercise (2016 or 2020), stress horizon in years (1-3), ``corrected`` or ``syslosseval``.
    banks, bank_names : tuple of str
        LEI codes and bank names.
    markets : tuple of str
        The eight sovereign bond markets.
    equity0 : ndarray, shape (N,)
        :math:`e^0`, CET1 at the balance-sheet date.
    assets0 : ndarray, shape (N,)
        :math:`a^0 = S^0 1 + L^0`: total assets (``corrected``), or the sum of the EBA exposure
        classes' loans, bonds and the positive gap to total assets (``syslosseval``).
    securities : ndarray, shape (N, K)
        :math:`S^1 = S^0`, sovereign bonds at t0 prices (``Bond_Amount``; RoW = Total - named).
    other_assets0, other_assets1 : ndarray, shape (N,)
        :math:`L^0` and :math:`L^1 = L^0 - \\ell`, other assets before and after the credit losses.
    credit_loss : ndarray, shape (N,)
        :math:`\\ell`, the adverse-scenario losses subtracted from equity: Σ over exposure classes of
        loan amount × impairment rate, counted once (``corrected``), or over the Total row and its
        per-country rows together (``syslosseval``, about 1.85 times as much in 2016).
    equity1 : ndarray, shape (N,)
        :math:`e^1 = e^0 - \\ell` (``syslosseval``: floored at 0, as ``make_e1``).
    sigma, adv : ndarray, shape (K,)
        Daily volatility (fraction/day) and average daily volume (EUR m/day) each market's sales
        are priced with.
    sigma_label : tuple of str
        The market-data ``Country`` label whose sigma and ADV each market received: its own label
        (``corrected``), or the label at the same position after an alphabetical sort
        (``syslosseval``, which hands US the rest of the world's and RoW the US's).
    sigma_dates : int
        Daily returns used for sigma (dates common to all eight markets).
    """

    year: int
    horizon: int
    convention: str
    banks: tuple[str, ...]
    bank_names: tuple[str, ...]
    markets: tuple[str, ...]
    equity0: np.ndarray
    assets0: np.ndarray
    securities: np.ndarray
    other_assets0: np.ndarray
    other_assets1: np.ndarray
    credit_loss: np.ndarray
    equity1: np.ndarray
    sigma: np.ndarray
    adv: np.ndarray
    sigma_label: tuple[str, ...]
    sigma_dates: int


def _bsu_bank_table(frame: Any, name: str, period: int) -> tuple[Any, Any]:
    """Checks the exposures file; per bank, the CET1/total-assets rows and the exposure-class rows."""
    import pandas as pd

    label = _label(name)
    frame = frame.assign(Loan_Amount=_number_column(frame, name, "Loan_Amount"),
                         Bond_Amount=_number_column(frame, name, "Bond_Amount"),
                         Total_Amount=_number_column(frame, name, "Total_Amount"),
                         LEI_code=frame["LEI_code"].astype(str), Country=frame["Country"].astype(str),
                         Exposure=frame["Exposure"].astype(str))
    periods = sorted(set(_number_column(frame, name, "Period").astype(int)))
    if periods != [period]:
        raise DataError(Problem("FS136", f"{label}, column Period",
                                f"holds {periods}, expected only {period}: use the exercise's own exposures file"))
    # rows of other countries may repeat (the 2020 file repeats its unmapped "x28" rows): only the
    # Total rows and the named markets' rows enter the corrected computation
    repeated = frame.duplicated(["LEI_code", "Country", "Exposure"]) & frame["Country"].isin(
        [*EBA2016_MARKETS[:-1], "Total"])
    if repeated.any():
        line = int(np.flatnonzero(repeated.to_numpy())[0]) + 2
        raise DataError(Problem("FS136", f"{label} line {line}", "repeats a (bank, country, exposure) row: keep one"))
    banks = pd.Index(pd.unique(frame["LEI_code"]))
    totals = frame[frame["Country"] == "Total"]
    sheet = totals[totals["Exposure"].isin([TOTAL_ASSETS_CLASS, EQUITY_CLASS])].pivot(
        index="LEI_code", columns="Exposure", values="Total_Amount").reindex(index=banks,
                                                                             columns=[TOTAL_ASSETS_CLASS, EQUITY_CLASS])
    missing = sheet.isna().stack()
    if missing.any():
        bank, what = missing[missing].index[0]
        raise DataError(Problem("FS136", f"{label}, bank {bank}", f"has no {what!r} row (country Total): restore it"))
    bad = sheet[(sheet[EQUITY_CLASS] <= 0) | (sheet[EQUITY_CLASS] >= sheet[TOTAL_ASSETS_CLASS])]
    if len(bad):
        raise DataError(Problem("FS136", f"{label}, bank {bad.index[0]}",
                                f"CET1 {bad.iloc[0][EQUITY_CLASS]:.6g} is not between 0 and total assets "
                                f"{bad.iloc[0][TOTAL_ASSETS_CLASS]:.6g}: check both figures"))
    return frame.assign(bank=banks.get_indexer(frame["LEI_code"])), sheet


def _bsu_securities(frame: Any, name: str, n: int) -> np.ndarray:
    """S^0 (N, K): Bond_Amount of the sovereign class by country, RoW = Total - the seven named."""
    sovereign = frame[(frame["Exposure"] == SOVEREIGN_CLASS)
                      & frame["Country"].isin([*EBA2016_MARKETS[:-1], "Total"])]
    columns = [*EBA2016_MARKETS[:-1], "Total"]
    table = np.zeros((n, len(columns)))
    table[sovereign["bank"].to_numpy(), [columns.index(c) for c in sovereign["Country"]]] = sovereign["Bond_Amount"]
    has_total = np.zeros(n, dtype=bool)
    has_total[sovereign.loc[sovereign["Country"] == "Total", "bank"].to_numpy()] = True
    if not has_total.all():
        first = np.flatnonzero(frame["bank"].to_numpy() == np.flatnonzero(~has_total)[0])[0]
        bank = frame["LEI_code"].to_numpy()[first]
        raise DataError(Problem("FS136", f"{_label(name)}, bank {bank}",
                                f"has no {SOVEREIGN_CLASS!r} row of country Total: restore it"))
    rest = table[:, -1] - table[:, :-1].sum(axis=1)
    return np.column_stack([table[:, :-1], rest])


def _bsu_losses(frame: Any, impairments: Any, rates_name: str, period: int, convention: str) -> tuple[Any, Any]:
    """Loan amount × adverse impairment rate of ``period``, for every exposure-class row of ``frame``
    (NaN where no rate is given), and the class rows themselves. Repeated rate rows are kept
    once (``corrected``) or, as a ``left_join`` does, once per copy (``syslosseval``)."""
    rates = impairments[(_number_column(impairments, rates_name, "Period").astype(int) == period)
                        & (impairments["Scenario"].astype(str) == IMPAIRMENT_SCENARIO).to_numpy()]
    if not len(rates):
        raise DataError(Problem("FS136", f"{_label(rates_name)}, column Period",
                                f"no {IMPAIRMENT_SCENARIO.lower()} rates for period {period}: the file covers "
                                f"{sorted(set(_number_column(impairments, rates_name, 'Period').astype(int)))}"))
    rates = rates.assign(LEI_code=rates["LEI_code"].astype(str), Country=rates["Country"].astype(str),
                         Exposure=rates["Exposure"].astype(str),
                         Impairment_rate=_number_column(impairments, rates_name, "Impairment_rate")[rates.index])
    if convention == "corrected":
        rates = rates.drop_duplicates(["LEI_code", "Country", "Exposure"])
    classes = frame[~frame["Exposure"].isin([TOTAL_ASSETS_CLASS, EQUITY_CLASS])]
    joined = classes.merge(rates[["LEI_code", "Country", "Exposure", "Impairment_rate"]],
                           on=["LEI_code", "Country", "Exposure"], how="left")
    return joined, joined["Loan_Amount"].to_numpy() * joined["Impairment_rate"].to_numpy()


def _bsu_sigma(frame: Any, base_year: int, convention: str) -> tuple[dict[str, float], int]:
    """σ per market-data label from the daily log returns of ``base_year`` on the dates common to
    all eight markets: returns between consecutive common dates (``corrected``), or each market's
    return to its next observation, labelled by its start date, kept where all eight have one
    (``syslosseval``'s ``make_price_impact_data``)."""
    import pandas as pd

    label = _label("indices")
    names = [EBA2016_MARKET_LABELS[m] for m in EBA2016_MARKETS]
    dates = pd.to_datetime(frame["Date"], errors="coerce")
    if dates.isna().any():
        line = int(np.flatnonzero(dates.isna().to_numpy())[0]) + 2
        raise DataError(Problem("FS132", f"{label} line {line}, column Date", "write dates as YYYY-MM-DD"))
    levels = frame.assign(Date=dates, Value=_number_column(frame, "indices", "Value"),
                          Country=frame["Country"].astype(str))
    levels = levels[(levels["Date"].dt.year == base_year) & levels["Country"].isin(names)]
    absent = [n for n in names if n not in set(levels["Country"])]
    if absent:
        raise DataError(Problem("FS136", f"{label}, country {absent[0]}",
                                f"no index levels in {base_year}: every market's volatility is joined by its "
                                "country label; add its daily levels"))
    if (levels["Value"] <= 0).any():
        raise DataError(Problem("FS134", f"{label}, column Value", "an index level is not positive: restore it"))
    levels = levels.drop_duplicates(["Country", "Date"]).sort_values(["Country", "Date"])
    if convention == "corrected":
        wide = levels.pivot(index="Date", columns="Country", values="Value")[names].dropna()
        returns = np.log(wide).diff().dropna()
    else:
        forward = levels.assign(r=levels.groupby("Country")["Value"].transform(lambda v: np.log(v).diff().shift(-1)))
        returns = forward.dropna(subset=["r"]).pivot(index="Date", columns="Country", values="r")[names].dropna()
    if len(returns) < 2:
        raise DataError(Problem("FS136", label, f"{len(returns)} dates of {base_year} common to all eight markets: "
                                "need daily levels through the year"))
    return {n: float(returns[n].std(ddof=1)) for n in names}, int(len(returns))


def _bsu_adv(frame: Any, base_year: int) -> dict[str, float]:
    """ADV per ``Country`` label of the volume file in ``base_year`` (every label of that year)."""
    label = _label("volume")
    volume = _number_column(frame, "volume", "Volume")
    years = _number_column(frame, "volume", "Year").astype(int)
    rows = np.flatnonzero(years == base_year)
    countries = frame["Country"].astype(str).to_numpy()[rows]
    adv = dict(zip(countries, volume[rows]))
    missing = [EBA2016_MARKET_LABELS[m] for m in EBA2016_MARKETS if EBA2016_MARKET_LABELS[m] not in adv]
    if missing or len(adv) != len(rows):
        what = f"no row for {missing[0]!r}" if missing else "a label repeated"
        raise DataError(Problem("FS136", f"{label}, year {base_year}",
                                f"{what}: give one row per market and year"))
    if min(adv.values()) <= 0:
        raise DataError(Problem("FS134", f"{label}, year {base_year}", "a volume is not positive: restore it"))
    return {c: float(v) for c, v in adv.items()}


def load_bsu_inputs(root: str | Path | None = None, *, year: int = 2016, horizon: int = 1,
                    convention: str = "corrected", corrections: Collection[str] | None = None) -> BsuInputs:
    """The EBA banks' state at t = 0 and t = 1 for Breuer, Summer & Urosevic's fire-sale equilibrium.

    Breuer, Summer & Urosevic, "Systemic loss evaluation" (OeNB WP 235), sec. 4: at t = 1
    each bank's equity and other assets fall by its adverse-scenario credit losses,

    .. math::

        e^1_i = e^0_i - \\ell_i, \\qquad L^1_i = L^0_i - \\ell_i, \\qquad S^1 = S^0,
        \\qquad \\ell_i = \\sum_c \\text{Loan}_{ic}\\, r_{ic},

    with :math:`r_{ic}` the adverse impairment rate of exposure class c for the year
    base + ``horizon`` (as the authors' ``make_stress_data``), and the square-root impact of
    eq. (9) uses :math:`σ_k` over the dates common to all eight markets (the paper's convention).

    ``convention="corrected"`` (default) follows these equations: losses counted once (the
    ``Total`` row of each class), :math:`L^0` = total assets - bonds, labels joined by name.
    ``convention="syslosseval"`` reproduces the authors' R package as published: losses summed
    over the Total row and its per-country rows (``make_e1``), :math:`e^1` floored at 0,
    :math:`L^0` the EBA classes' loans plus the positive gap to total assets (``make_L0``), and
    σ and ADV joined to the markets by position after an alphabetical sort of the labels
    (``make_price_impact_data``), which swaps US and RoW.

    Parameters
    ----------
    root : str or Path, optional
        Data folder (see :func:`firesale.data.data_root`).
    year : {2016, 2020}
        The 2016 stress test (Dec 2015 balances, 2015 market data) or the 2020 transparency
        exercise with the authors' imputed impairments (Dec 2019, 2019 market data).
    horizon : {1, 2, 3}
        Years ahead of the balance-sheet date.
    convention : {"corrected", "syslosseval"}
    corrections : collection of str, optional
        Apply only these corrections to the syslosseval computation (``convention`` is then
        ignored), to quantify each difference on its own: ``losses_once`` (losses counted
        once, without the floor at zero equity), ``labels_by_name`` (σ and ADV joined by
        name, not by position), ``common_date_returns`` (returns between consecutive common
        dates), ``other_assets`` (other assets = total assets - bonds, RoW bonds at least 0).
        All four are the corrected computation, none the syslosseval one.

    Raises
    ------
    ConfigError
        ``FS821`` for a year, horizon or convention outside the choices.
    DataError
        ``FS136`` (and the loader's ``FS132``/``FS134``) naming file, bank or country.
    """
    from firesale.errors import ConfigError

    problems = []
    if year not in BSU_YEARS:
        problems.append(("year", year, "2016 (the 2016 stress test) or 2020 (the 2020 transparency exercise)"))
    if horizon not in BSU_HORIZONS:
        problems.append(("horizon", horizon, "1, 2 or 3 (years ahead of the balance-sheet date)"))
    if corrections is None and convention not in BSU_CONVENTIONS:
        problems.append(("convention", convention, "corrected or syslosseval"))
    for name in sorted(set(corrections or ()) - set(BSU_CORRECTIONS)):
        problems.append(("correction", name, ", ".join(BSU_CORRECTIONS)))
    if problems:
        raise ConfigError([Problem("FS821", f"bsu input {what}", f"got {value!r}: use {allowed}")
                           for what, value, allowed in problems])
    if corrections is None:
        corrections = BSU_CORRECTIONS if convention == "corrected" else ()
    else:
        corrections = tuple(c for c in BSU_CORRECTIONS if c in set(corrections))
        convention = ("corrected" if len(corrections) == len(BSU_CORRECTIONS) else
                      "syslosseval" + "".join(f" + {c}" for c in corrections))
    fixed = set(corrections)
    period, base_year = BSU_YEARS[year]
    exposures_name, impairments_name = _BSU_FILES[year]
    exposures, sheet = _bsu_bank_table(_read(root, exposures_name), exposures_name, period)
    n = len(sheet)
    securities = _bsu_securities(exposures, exposures_name, n)
    classes, loss = _bsu_losses(exposures, _read(root, impairments_name), impairments_name,
                                (base_year + horizon) * 100 + 12,
                                "corrected" if "losses_once" in fixed else "syslosseval")
    bank = classes["bank"].to_numpy()
    at_total = (classes["Country"] == "Total").to_numpy()
    unrated = at_total & np.isnan(loss) & (classes["Loan_Amount"].to_numpy() > 0)
    if "losses_once" in fixed and unrated.any():
        row = classes[unrated].iloc[0]
        raise DataError(Problem("FS136", f"{_label(impairments_name)}, bank {row['LEI_code']}, exposure "
                                f"{row['Exposure']!r}", f"no {IMPAIRMENT_SCENARIO.lower()} rate for a Total loan "
                                f"amount of {row['Loan_Amount']:g}: restore the row"))
    loss = np.nan_to_num(loss)
    loss_once = np.bincount(bank[at_total], weights=loss[at_total], minlength=n)
    equity0 = sheet[EQUITY_CLASS].to_numpy(dtype=float)
    total_assets = sheet[TOTAL_ASSETS_CLASS].to_numpy(dtype=float)
    if "other_assets" in fixed:
        if (securities < -1e-9 * np.maximum(total_assets, 1.0)[:, None]).any():
            i = int(np.flatnonzero((securities < 0).any(axis=1))[0])
            raise DataError(Problem("FS134", f"{_label(exposures_name)}, bank {sheet.index[i]}",
                                    "the seven named countries' bonds exceed the Total row, so RoW would be "
                                    "negative: check the rows"))
        securities = np.maximum(securities, 0.0)
        other0 = total_assets - securities.sum(axis=1)
    else:
        loans = np.bincount(bank[at_total], weights=classes["Loan_Amount"].to_numpy()[at_total], minlength=n)
        classes_total = np.bincount(bank[at_total], weights=classes["Total_Amount"].to_numpy()[at_total], minlength=n)
        other0 = loans + np.maximum(total_assets - classes_total, 0.0)
    if "losses_once" in fixed:
        credit_loss = loss_once
        equity1 = equity0 - credit_loss
    else:
        credit_loss = np.bincount(bank, weights=loss, minlength=n)
        equity1 = np.maximum(equity0 - credit_loss, 0.0)
    sigma_by_label, dates = _bsu_sigma(_read(root, "indices"), base_year,
                                       "corrected" if "common_date_returns" in fixed else "syslosseval")
    adv_by_label = _bsu_adv(_read(root, "volume"), base_year)
    own = [EBA2016_MARKET_LABELS[m] for m in EBA2016_MARKETS]
    paired = own if "labels_by_name" in fixed else sorted(adv_by_label)
    if len(paired) != len(own):
        raise DataError(Problem("FS136", f"{_label('volume')}, year {base_year}",
                                f"{len(paired)} labels; the positional join of syslosseval needs exactly the eight "
                                "markets'"))
    names = dict(zip(exposures["LEI_code"], exposures["Bank_name"].astype(str)))
    return BsuInputs(
        year=year, horizon=horizon, convention=convention, banks=tuple(sheet.index),
        bank_names=tuple(names[b] for b in sheet.index), markets=EBA2016_MARKETS, equity0=equity0,
        assets0=securities.sum(axis=1) + other0, securities=securities, other_assets0=other0,
        other_assets1=other0 - loss_once, credit_loss=credit_loss, equity1=equity1,
        sigma=np.array([sigma_by_label[p] for p in paired]), adv=np.array([adv_by_label[p] for p in paired]),
        sigma_label=tuple(paired), sigma_dates=dates)
