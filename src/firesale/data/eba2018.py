"""EBA 2018 summary of 48 banks, built into the Bank of England / Oxford INET fire-sale system.

The file is the input of the public fire-sale stress-test model of Farmer, Kleinnijenhuis,
Nahai-Williamson & Wetzer ("Foundations of system-wide stress testing", repository
ox-inet-resilience/firesale_stresstest, Apache-2.0), taken from the EBA's 2018 EU-wide
stress-test results: per bank, CET1 capital, the leverage ratio (percent), debt securities
held and government bonds (EUR million). The model builds each balance sheet from it:

* total assets :math:`A = \\text{CET1} / \\text{leverage ratio}`; equity CET1;
* cash :math:`0.05 A`; government bonds as given; corporate bonds the rest of the debt
  securities; other (illiquid) assets :math:`A - \\text{debt securities} - \\text{cash}`;
* liabilities :math:`A - \\text{CET1}`, half a loan repaid early, half other liabilities;
* leverage (equity / total assets): default below 3%, deleverage below 4% back to 5%,
  selling bonds pro rata by value after repaying the loan with cash;
* impact :math:`p \\leftarrow p\\,e^{-β q / Q_0}` with ``Q0`` an asset's initial holdings and
  :math:`β = -\\ln(1 - π)/0.05` (selling 5% of the market lowers the price by π, 5%).

Rows are space-separated under a comma-separated header, and ``govbonds`` is written as a
sum of two numbers in 31 rows (``13+27682``); the sums are read as sums, never evaluated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from firesale.data.shared_data import require
from firesale.errors import DataError, Problem
from firesale.system import System

__all__ = ["Eba2018", "EBA2018_FILE", "read_eba2018", "load_eba2018", "inet_beta"]

EBA2018_FILE = ("eba-2018", "EBA_2018.csv")
_HEADER = ["bank_id", "CET1E", "leverage", "debt_sec", "govbonds"]
#: Names of the two tradable assets and the illiquid rest.
GOVERNMENT, CORPORATE, OTHER = "government_bonds", "corporate_bonds", "other_assets"


@dataclass(frozen=True)
class Eba2018:
    """The file's columns (EUR million; the leverage ratio as a fraction)."""

    banks: tuple[str, ...]
    cet1: np.ndarray
    leverage_ratio: np.ndarray
    debt_securities: np.ndarray
    government_bonds: np.ndarray


def _number(text: str, label: str, line: int, field: str) -> float:
    """A cell: a number, or a sum of numbers written ``a+b``."""
    try:
        value = math.fsum(float(part) for part in text.split("+"))
    except ValueError:
        raise DataError(Problem("FS134", f"{label}, line {line}, field {field}",
                                f"got {text!r}: expected a number (or a sum such as 13+27682)")) from None
    if not math.isfinite(value) or value < 0:
        raise DataError(Problem("FS134", f"{label}, line {line}, field {field}",
                                f"got {text!r}: expected a finite number at or above 0"))
    return value


def read_eba2018(root: str | Path | None = None) -> Eba2018:
    """Read ``eba-2018/EBA_2018.csv`` (the shipped copy, or the one under ``root``).

    Raises
    ------
    DataError
        ``FS130``/``FS131`` when the file is not found; ``FS134`` naming the line and field of
        a malformed row, a leverage ratio that is not a percentage in (0, 100], or
        government bonds above the debt securities.
    """
    path = require(root, *EBA2018_FILE)
    label = "/".join(EBA2018_FILE)
    lines = path.read_text(encoding="utf-8").strip().splitlines()
    if not lines or lines[0].strip().split(",") != _HEADER:
        raise DataError(Problem("FS134", f"{label}, line 1", f"expected the header {','.join(_HEADER)}"))
    banks, columns = [], []
    for number, text in enumerate(lines[1:], start=2):
        cells = text.split()
        if len(cells) != len(_HEADER):
            raise DataError(Problem("FS134", f"{label}, line {number}",
                                    f"expected {len(_HEADER)} space-separated fields ({' '.join(_HEADER)}), "
                                    f"got {len(cells)}"))
        banks.append(cells[0])
        columns.append([_number(cell, label, number, field) for cell, field in zip(cells[1:], _HEADER[1:])])
    if not banks:
        raise DataError(Problem("FS134", label, "no bank rows below the header"))
    values = np.array(columns)
    for row, (lev, debt, gov) in enumerate(values[:, 1:]):
        where = f"{label}, line {row + 2}"
        if not 0 < lev <= 100:
            raise DataError(Problem("FS134", f"{where}, field leverage",
                                    f"got {lev:g}: expected the leverage ratio in percent, in (0, 100]"))
        if gov > debt:
            raise DataError(Problem("FS134", f"{where}, field govbonds",
                                    f"government bonds {gov:g} exceed the debt securities {debt:g}"))
    return Eba2018(banks=tuple(banks), cet1=values[:, 0], leverage_ratio=values[:, 1] / 100.0,
                   debt_securities=values[:, 2], government_bonds=values[:, 3])


def inet_beta(price_impact: float) -> float:
    """β of the impact :math:`p e^{-β q/Q_0}` that lowers the price by ``price_impact`` when 5%
    of the market is sold: :math:`β = -\\ln(1 - π) / 0.05`.

    Examples
    --------
    >>> round(inet_beta(0.05), 6)
    1.025866
    """
    return -math.log1p(-price_impact) / 0.05


def load_eba2018(root: str | Path | None = None, *, price_impact: float = 0.05, cash_share: float = 0.05,
                 leverage_minimum: float = 0.03, leverage_trigger: float = 0.04,
                 leverage_target: float = 0.05) -> System:
    """The 48-bank system of the Bank of England / INET fire-sale stress test (see the module).

    Parameters
    ----------
    root : str or Path, optional
        Data folder (None: ``FIRESALE_DATA``, else the shipped data).
    price_impact : float
        π: the price fall when 5% of an asset's initial holdings is sold, in [0, 1).
    cash_share : float
        Cash as a share of total assets.
    leverage_minimum, leverage_trigger, leverage_target : float
        Equity / total assets below which a bank defaults, below which it deleverages, and
        that it restores.

    Returns
    -------
    System
        48 banks; assets ``government_bonds``, ``corporate_bonds`` (multiplicative impact,
        depth ``Q0 / β``) and ``other_assets`` (not tradable); amounts in EUR million.
    """
    if not 0.0 <= price_impact < 1.0:
        raise DataError(Problem("FS134", "price_impact", f"got {price_impact:g}: expected a fraction in [0, 1)"))
    data = read_eba2018(root)
    total = data.cet1 / data.leverage_ratio
    cash = cash_share * total
    other = total - data.debt_securities - cash
    corporate = data.debt_securities - data.government_bonds
    liabilities = total - data.cet1
    institutions = [
        {"name": bank, "type": "bank", "cash": float(cash[n]), "liabilities": float(liabilities[n]),
         "other_liabilities": float(liabilities[n] / 2.0), "repay_with_cash": True, "liquidation": "pro_rata",
         "leverage_minimum": leverage_minimum, "leverage_trigger": leverage_trigger,
         "leverage_target": leverage_target}
        for n, bank in enumerate(data.banks)
    ]
    beta = inet_beta(price_impact)
    holdings, supply = [], {}
    for asset, amounts in ((GOVERNMENT, data.government_bonds), (CORPORATE, corporate), (OTHER, other)):
        supply[asset] = math.fsum(amounts)
        holdings += [{"institution": bank, "asset": asset, "quantity": float(amounts[n])}
                     for n, bank in enumerate(data.banks) if amounts[n] > 0]
    # volatility plays no part in this model (no VaR, haircuts or information channel)
    assets = [
        {"name": name, "class": cls, "sigma0": 0.01, "impact": "multiplicative",
         "depth": supply[name] / beta if beta > 0 else math.inf}
        for name, cls in ((GOVERNMENT, "treasury"), (CORPORATE, "corporate_ig"))
    ] + [{"name": OTHER, "class": "other", "sigma0": 0.01}]
    return System.from_records(
        institutions, assets, holdings, name="eba2018", currency="EUR mn",
        description="EBA 2018 stress-test summary of 48 banks, as the Bank of England / INET fire-sale model "
        "builds it", sources={"institutions": "/".join(EBA2018_FILE)},
    )
