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
from typing import Any

import numpy as np

from firesale.data.shared_data import require
from firesale.errors import DataError, Problem
from firesale.system import System

__all__ = [
    "EBA2016_FOLDER",
    "EBA2016_MARKETS",
    "EBA2016_MARKET_LABELS",
    "Eba2016",
    "load_eba2016",
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
}
_COLUMNS = {
    "exposures": ("LEI_code", "Country_code", "Bank_name", "Period", "Country", "Exposure", "Bond_Amount",
                  "Total_Amount"),
    "impairments": ("LEI_code", "Period", "Scenario", "Country", "Exposure", "Impairment_rate"),
    "indices": ("Country", "Date", "Value"),
    "volume": ("Country", "Year", "Volume"),
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

    path = require(root, EBA2016_FOLDER, _FILES[name])
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
