"""Loaders of the public data sets (EBA 2011, EBA 2016, US call reports).

Each figure is checked against the file itself, read independently here with the ``csv``
module or plain line counting. The files are the data sets shipped with the package,
written out in the original CSV layout (:func:`firesale.data.datasets.export_originals`;
tests/data/test_shipped_datasets.py checks that they equal the originals), so the loaders'
CSV path (``--data``/``FIRESALE_DATA``) is what runs here, and nothing skips.
"""

from __future__ import annotations

import csv
import itertools
import math
import shutil
import statistics
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from firesale.data import (
    EBA2016_MARKETS,
    callreport_arrays,
    callreport_dropped,
    callreport_quarters,
    data_root,
    eba2011_excluded,
    load_callreport,
    load_eba2011,
    load_eba2016,
    read_eba2011,
    require,
)
from firesale.errors import DataError

EBA2011 = ("eba-2011", "DATA_DISCLOSURE.CSV.csv")
BANKS = "us-commercial-banks"
EBA2016 = "eba-2016"
NAMED = ("DE", "ES", "FR", "GB", "IT", "JP", "US")
SOVEREIGN = "Central banks and central governments"


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """The shipped data sets in the original CSV layout."""
    from firesale.data.datasets import export_originals

    return export_originals(tmp_path_factory.mktemp("data"))


# ------------------------------------------------------------------ data_root, require
def test_bad_firesale_data_env_var_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("FIRESALE_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DataError) as err:
        data_root()
    assert err.value.problems[0].code == "FS130"
    assert "FIRESALE_DATA" in str(err.value) and "nowhere" in str(err.value)


def test_env_var_and_explicit_root_are_used(monkeypatch, tmp_path):
    monkeypatch.setenv("FIRESALE_DATA", str(tmp_path))
    assert data_root() == tmp_path.resolve()
    other = tmp_path / "other"
    other.mkdir()
    assert data_root(other) == other.resolve()


def test_without_a_setting_the_shipped_data_are_used_from_any_folder(monkeypatch, tmp_path):
    from firesale.data.datasets import DATASETS_FOLDER

    (tmp_path / "shared" / "data").mkdir(parents=True)  # a shared/data beside is no longer searched
    checkout = tmp_path / "checkout" / "src"
    checkout.mkdir(parents=True)
    monkeypatch.delenv("FIRESALE_DATA", raising=False)
    monkeypatch.chdir(checkout)
    assert data_root() == DATASETS_FOLDER


def test_a_missing_data_folder_names_the_option_and_the_variable(monkeypatch, tmp_path):
    monkeypatch.delenv("FIRESALE_DATA", raising=False)
    with pytest.raises(DataError) as err:
        data_root(tmp_path / "nowhere")
    assert err.value.problems[0].code == "FS130" and "--data" in str(err.value)


def test_explicit_missing_root_is_an_error(tmp_path):
    with pytest.raises(DataError, match="FS130"):
        data_root(tmp_path / "missing")


def test_require_names_the_missing_file(tmp_path):
    with pytest.raises(DataError) as err:
        require(tmp_path, "eba-2011", "DATA_DISCLOSURE.CSV.csv")
    assert err.value.problems[0].code == "FS131"
    assert "eba-2011/DATA_DISCLOSURE.CSV.csv" in str(err.value)


def test_loaders_on_an_empty_root_name_the_missing_file(tmp_path):
    with pytest.raises(DataError, match="DATA_DISCLOSURE.CSV.csv"):
        load_eba2011(tmp_path)
    with pytest.raises(DataError, match="eba_exposures_2016.csv"):
        load_eba2016(tmp_path)
    with pytest.raises(DataError, match="us-commercial-banks"):
        callreport_quarters(tmp_path)


# ------------------------------------------------------------------ EBA 2011
def _eba2011_cells(root: Path) -> tuple[list[str], dict[str, float], dict[str, float], dict[str, dict[str, float]]]:
    """Banks, Dec 2010 total assets and common equity, sovereign exposures by country: read
    with the csv module, independently of the loader."""
    with open(root.joinpath(*EBA2011), newline="", encoding="cp1252") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        banks = header[7:]
        assets: dict[str, float] = {}
        equity: dict[str, float] = {}
        sovereign: dict[str, dict[str, float]] = defaultdict(dict)
        for row in reader:
            code, date, country, scenario, maturity = row[1], row[2], row[3], row[4], row[5]
            if date.startswith("20101231") and scenario == "" and code in ("30029", "30011"):
                target = assets if code == "30029" else equity
                target.update({b: float(v) for b, v in zip(banks, row[7:])})
            if code == "34010" and maturity == "999":
                for b, v in zip(banks, row[7:]):
                    sovereign[b][country] = float(v)
    return banks, assets, equity, sovereign


def test_eba2011_reads_90_banks_and_the_readme_check_row(root):
    data = read_eba2011(root)
    banks, assets, equity, _ = _eba2011_cells(root)
    assert len(data.banks) == 90 and list(data.banks) == banks
    de017 = data.banks.index("DE017")
    # Exactly as disclosed (the README rounds the total to 1,905,630).
    assert data.total_assets[de017] == pytest.approx(assets["DE017"], rel=1e-9)
    assert data.total_assets[de017] == pytest.approx(1905629.60608197, rel=1e-9)
    assert round(data.total_assets[de017]) == 1_905_630
    assert data.common_equity[de017] == pytest.approx(30361, rel=1e-9)
    assert data.common_equity[de017] == pytest.approx(equity["DE017"], rel=1e-9)


def test_eba2011_system_balance_sheets_add_up(root):
    system = load_eba2011(root, granularity="sovereign")
    _, assets, equity, sovereign = _eba2011_cells(root)
    excluded = eba2011_excluded(root)
    assert set(excluded) == {"DE029", "LU045", "SI058"}
    assert "not disclosed" in excluded["LU045"] and "exceed total assets" in excluded["DE029"]
    assert system.n_institutions == 90 - len(excluded) == 87
    assert all(bank in system.description for bank in excluded)
    other = system.asset_index("other")
    for i, bank in enumerate(system.institution_names):
        sov = sum(sovereign[bank].values())
        held = system.holdings[i]
        assert held.sum() - held[other] == pytest.approx(sov, rel=1e-9, abs=1e-9)
        assert held.sum() == pytest.approx(assets[bank], rel=1e-9)  # sovereign + other = total assets
        assert system.equity0[i] == pytest.approx(equity[bank], rel=1e-9)
        assert system.institutions[i].group == bank[:2]
    de = system.asset_index("sov_DE")
    assert system.holdings[:, de].sum() == pytest.approx(
        sum(sovereign[b]["DE"] for b in system.institution_names), rel=1e-12)
    assert all(a.is_tradable for a in system.assets)
    assert system.n_assets == 38 and all(n.startswith("sov_") for n in system.asset_names[:-1])


EAD_CODES = {"33010": "inst", "33011": "corp", "33012": "retail", "33018": "cre", "33020": "dflt"}


def _eba2011_ead(root: Path) -> dict[tuple[str, str], dict[str, float]]:
    """EAD of worksheet 4 by (class short name, country) and bank, '.' (not disclosed) as 0,
    negative values as 0; the country ``TO`` is the file's total: read with the csv module."""
    ead: dict[tuple[str, str], dict[str, float]] = {}
    with open(root.joinpath(*EBA2011), newline="", encoding="cp1252") as handle:
        reader = csv.reader(handle)
        banks = next(reader)[7:]
        for row in reader:
            if row[1] in EAD_CODES:
                assert row[0] == "4 - EADs" and row[6] == "120" and row[4] == row[5] == ""
                values = [0.0 if v.strip() == "." else max(float(v), 0.0) for v in row[7:]]
                ead[(EAD_CODES[row[1]], row[3])] = dict(zip(banks, values))
    return ead


def test_eba2011_class_country_balance_sheets_add_up(root):
    system = load_eba2011(root)  # the default granularity
    _, assets, equity, sovereign = _eba2011_cells(root)
    ead = _eba2011_ead(root)
    pairs = [p for p in ead if p[1] != "TO"]
    kept = system.institution_names
    assert len(kept) == 87
    held = {f"sov_{c}" for b in kept for c, v in sovereign[b].items() if v > 0}
    held |= {f"{x}_{c}" for (x, c) in pairs if any(ead[(x, c)][b] > 0 for b in kept)}
    assert sorted(system.asset_names[:-1]) == sorted(held) and system.asset_names[-1] == "other"
    assert system.n_assets == 37 + 5 * 37 + 1 == 223
    assert all(a.is_tradable for a in system.assets)
    classes = {a.name.split("_")[0]: a.asset_class for a in system.assets}
    assert classes == {"sov": "treasury", "inst": "corporate_ig", "corp": "corporate_ig", "retail": "other",
                       "cre": "other", "dflt": "corporate_hy", "other": "other"}
    sov = [k for k, n in enumerate(system.asset_names) if n.startswith("sov_")]
    other = system.asset_index("other")
    scaled = set()
    for i, bank in enumerate(kept):
        row = system.holdings[i]
        assert row.sum() == pytest.approx(assets[bank], rel=1e-9)  # every asset adds up to total assets
        assert system.equity0[i] == pytest.approx(equity[bank], rel=1e-9)
        assert row[sov].sum() == pytest.approx(sum(sovereign[bank].values()), rel=1e-9, abs=1e-9)  # 34010 once
        room = assets[bank] - sum(sovereign[bank].values())
        exposures = sum(ead[p][bank] for p in pairs)
        if exposures > room:  # EADs above total assets: scaled to fill it, nothing left in other
            scaled.add(bank)
            assert row[other] == 0
        else:
            assert row[other] == pytest.approx(room - exposures, rel=1e-9, abs=1e-6)
    assert scaled == {"AT001", "AT002", "CY007", "DE022", "DK008", "ES060", "GB088", "IE039", "IT040", "IT044",
                      "NO051", "PL052", "PT056", "SI057"}
    assert all(f"{bank} 0." in system.description for bank in scaled)
    assert "NL049 inst" in system.description  # its country breakdown misses the TO row
    assert "BE005 (20)" in system.description  # cells disclosed as '.'


def test_eba2011_class_country_spot_checks_against_the_file(root):
    system = load_eba2011(root)
    _, assets, _, sovereign = _eba2011_cells(root)
    ead = _eba2011_ead(root)
    i, k = system.institution_index("IT041"), system.asset_index("corp_IT")
    assert system.holdings[i, k] == pytest.approx(ead[("corp", "IT")]["IT041"], rel=1e-12)
    assert system.holdings[i, k] > 1e5  # UniCredit's Italian corporate EAD, EUR m
    # GB088's EADs exceed its total assets - sovereigns: each one scaled by the same factor.
    i, k = system.institution_index("GB088"), system.asset_index("cre_GB")
    pairs = [p for p in ead if p[1] != "TO"]
    factor = (assets["GB088"] - sum(sovereign["GB088"].values())) / sum(ead[p]["GB088"] for p in pairs)
    assert 0.5 < factor < 0.6
    assert system.holdings[i, k] == pytest.approx(ead[("cre", "GB")]["GB088"] * factor, rel=1e-9)
    data = read_eba2011(root)  # the file's TO rows, as disclosed
    assert data.ead_classes == ("inst", "corp", "retail", "cre", "dflt") and "TO" not in data.ead_countries
    b = data.banks.index("DE017")
    assert data.ead_total[b, 2] == pytest.approx(ead[("retail", "TO")]["DE017"], rel=1e-12)
    assert np.isnan(data.ead[data.banks.index("BE005"), 0, data.ead_countries.index("JP")])  # '.' in the file


def test_eba2011_sovereign_granularity_is_unchanged_by_the_class_assets(root):
    coarse, fine = load_eba2011(root, granularity="sovereign"), load_eba2011(root)
    assert coarse.institution_names == fine.institution_names
    for name in coarse.asset_names[:-1]:
        np.testing.assert_array_equal(coarse.holdings[:, coarse.asset_index(name)],
                                      fine.holdings[:, fine.asset_index(name)])
    np.testing.assert_allclose(coarse.holdings.sum(axis=1), fine.holdings.sum(axis=1), rtol=1e-9)


def test_eba2011_unknown_granularity_is_an_error(tmp_path):
    with pytest.raises(DataError, match="FS134.*granularity.*'class_country' or 'sovereign'"):
        load_eba2011(tmp_path, granularity="country")  # type: ignore[arg-type]


def test_eba2011_raise_lists_the_inconsistent_banks(root):
    with pytest.raises(DataError) as err:
        load_eba2011(root, inconsistent="raise")
    assert {"DE029", "LU045", "SI058"} <= {p.where.split()[-1] for p in err.value.problems}


# ------------------------------------------------------------------ call reports
def _line_count(path: Path) -> int:
    with open(path) as handle:
        return sum(1 for line in handle if line.strip())


def test_callreports_have_59_quarters(root):
    assert callreport_quarters(root) == list(range(1, 60))


@pytest.mark.parametrize("quarter", [1, 30, 59])
def test_callreport_bank_count_matches_the_file(root, quarter):
    arrays = callreport_arrays(quarter, root)
    lines = _line_count(root / BANKS / f"matr_{quarter}.csv")
    assert arrays.dropped == {}
    assert len(arrays.bank_ids) == lines
    assert arrays.holdings.shape == (lines, 20) and arrays.equity.shape == (lines,)
    assert len(arrays.asset_names) == 20 and arrays.asset_names[0] == "cashab"


@pytest.mark.parametrize("quarter", [1, 59])
def test_callreport_equity_is_joined_by_bank_id(root, quarter):
    with open(root / BANKS / f"equities_{quarter}.csv", newline="") as handle:
        equity = {int(r[0]): float(r[1]) for r in csv.reader(handle)}
    arrays = callreport_arrays(quarter, root)
    assert [equity[b] for b in arrays.bank_ids.tolist()] == arrays.equity.tolist()


def test_callreport_join_does_not_rely_on_row_order(root, tmp_path):
    folder = tmp_path / BANKS
    folder.mkdir()
    for name in ("asset_names.csv", "matr_1.csv"):
        shutil.copyfile(root / BANKS / name, folder / name)
    lines = (root / BANKS / "equities_1.csv").read_text().splitlines()
    (folder / "equities_1.csv").write_text("\n".join(reversed(lines)) + "\n")
    shuffled = callreport_arrays(1, tmp_path)
    original = callreport_arrays(1, root)
    np.testing.assert_array_equal(shuffled.bank_ids, original.bank_ids)
    np.testing.assert_array_equal(shuffled.equity, original.equity)


def test_callreport_system_balance_sheets(root):
    system = load_callreport(1, root)
    arrays = callreport_arrays(1, root)
    assert system.n_institutions == _line_count(root / BANKS / "matr_1.csv")
    assert system.institution_names[:3] == [str(b) for b in arrays.bank_ids[:3]]
    np.testing.assert_allclose(system.holdings, arrays.holdings, rtol=0)
    np.testing.assert_allclose(system.equity0, arrays.equity, rtol=1e-12)
    assert system.currency == "USD thousands"
    classes = {a.name: a.asset_class for a in system.assets}
    assert classes["cashab"] == classes["ffrepo_ass"] == "reserves" and classes["ust_sec"] == "treasury"
    assert all(a.is_tradable for a in system.assets)


def test_callreport_drops_are_reported_not_silent(root):
    assert list(callreport_dropped(19, root)) == ["2757586"]
    assert "exceeds total assets" in callreport_dropped(19, root)["2757586"]
    repeated = callreport_dropped(29, root)
    assert list(repeated) == ["3391606"] and "kept once" in repeated["3391606"]
    arrays = callreport_arrays(29, root)
    assert len(arrays.bank_ids) == _line_count(root / BANKS / "matr_29.csv") - 1
    assert "2757586" in load_callreport(19, root).description


def test_callreport_unknown_quarter_is_an_error(root):
    with pytest.raises(DataError, match="FS135"):
        callreport_arrays(60, root)


# ------------------------------------------------------------------ EBA 2016
def _eba2016_bonds(root: Path) -> tuple[dict[str, float], dict[str, dict[str, float]], dict[str, float]]:
    """Sum of sovereign Bond_Amount per named country, each bank's Total row and its
    adverse 2016 total-row rate: read with the csv module."""
    sums: dict[str, float] = defaultdict(float)
    totals: dict[str, dict[str, float]] = defaultdict(dict)
    with open(root / EBA2016 / "eba_exposures_2016.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Exposure"] == SOVEREIGN:
                if row["Country"] in NAMED:
                    sums[row["Country"]] += float(row["Bond_Amount"])
                totals[row["LEI_code"]][row["Country"]] = float(row["Bond_Amount"])
    rates: dict[str, float] = {}
    with open(root / EBA2016 / "eba_impairments_2016.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if (row["Exposure"] == SOVEREIGN and row["Country"] == "Total" and row["Scenario"] == "Adverse scenario"
                    and float(row["Period"]) == 201612):
                rates[row["LEI_code"]] = float(row["Impairment_rate"])
    return sums, totals, rates


def test_eba2016_market_totals_match_the_file(root):
    eba = load_eba2016(root)
    sums, totals, _ = _eba2016_bonds(root)
    assert eba.markets == EBA2016_MARKETS == ("DE", "ES", "FR", "GB", "IT", "JP", "US", "RoW")
    assert eba.system.n_institutions == len(totals) == 51
    for market in NAMED:
        assert eba.quantity[market] == pytest.approx(sums[market], rel=1e-12)
        k = eba.system.asset_index(f"sov_{market}")
        assert eba.system.holdings[:, k].sum() == pytest.approx(sums[market], rel=1e-12)
    rest = sum(t["Total"] for t in totals.values()) - sum(sums.values())
    assert eba.quantity["RoW"] == pytest.approx(rest, rel=1e-9)
    for i, bank in enumerate(eba.system.institution_names):  # RoW = Total - sum of the named countries
        named = sum(v for c, v in totals[bank].items() if c in NAMED)
        assert eba.system.holdings[i, eba.system.asset_index("sov_RoW")] == pytest.approx(
            totals[bank]["Total"] - named, rel=1e-9, abs=1e-9)


def test_eba2016_every_market_has_sigma_adv_and_quantity(root):
    eba = load_eba2016(root)
    with open(root / EBA2016 / "average_daily_volume_sovereign.csv", newline="") as handle:
        volume = {r["Country"]: float(r["Volume"]) for r in csv.DictReader(handle) if r["Year"] == "2015"}
    levels: dict[str, list[tuple[str, float]]] = defaultdict(list)
    with open(root / EBA2016 / "sovereign_bond_indices.csv", newline="") as handle:
        for r in csv.DictReader(handle):
            if r["Date"].startswith("2015"):
                levels[r["Country"]].append((r["Date"], float(r["Value"])))
    for market in eba.markets:
        label = eba.labels[market]
        series = [v for _, v in sorted(levels[label])]
        sigma = statistics.stdev(math.log(b / a) for a, b in itertools.pairwise(series))
        assert eba.sigma[market] == pytest.approx(sigma, rel=1e-9)
        assert eba.adv[market] == pytest.approx(volume[label], rel=1e-12)
        assert eba.quantity[market] > 0 and eba.adv[market] > 0 and eba.sigma[market] > 0
        asset = eba.system.assets[eba.system.asset_index(f"sov_{market}")]
        assert (asset.impact, asset.sigma0, asset.adv, asset.impact_kappa) == ("sqrt", eba.sigma[market],
                                                                                 eba.adv[market], 1.5)
        assert 0 <= eba.impairment[market] < 1
    assert eba.labels["RoW"] == "Rest_of_the_world"
    assert not eba.system.assets[eba.system.asset_index("other")].is_tradable


def test_eba2016_impairments_add_up_to_the_total_sovereign_losses(root):
    eba = load_eba2016(root)
    _, totals, rates = _eba2016_bonds(root)
    losses = sum(totals[b]["Total"] * rates[b] for b in totals)
    assert sum(eba.impairment[m] * eba.quantity[m] for m in eba.markets) == pytest.approx(losses, rel=1e-9)


def test_eba2016_balance_sheets(root):
    eba = load_eba2016(root)
    with open(root / EBA2016 / "eba_exposures_2016.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assets = {r["LEI_code"]: float(r["Total_Amount"]) for r in rows if r["Exposure"] == "Total assets"}
    cet1 = {r["LEI_code"]: float(r["Total_Amount"]) for r in rows if r["Exposure"] == "Common tier1 equity capital"}
    for i, bank in enumerate(eba.system.institution_names):
        assert eba.system.total_assets0[i] == pytest.approx(assets[bank], rel=1e-9)
        assert eba.system.equity0[i] == pytest.approx(cet1[bank], rel=1e-9)


def _copy_eba2016(root: Path, tmp_path: Path) -> Path:
    folder = tmp_path / EBA2016
    folder.mkdir()
    for path in (root / EBA2016).iterdir():
        if path.name.endswith("2016.csv") or "sovereign" in path.name:
            shutil.copyfile(path, folder / path.name)
    return folder


@pytest.mark.parametrize(("file", "label"), [
    ("sovereign_bond_indices.csv", "JP"),
    ("average_daily_volume_sovereign.csv", "Rest_of_the_world"),
    ("average_daily_volume_sovereign.csv", "IT"),
    ("eba_exposures_2016.csv", "ES"),
])
def test_eba2016_missing_country_label_names_file_and_country(root, tmp_path, file, label):
    folder = _copy_eba2016(root, tmp_path)
    with open(folder / file, newline="") as handle:
        rows = list(csv.DictReader(handle))
    kept = [r for r in rows if r["Country"] != label]
    assert len(kept) < len(rows)
    with open(folder / file, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)
    with pytest.raises(DataError) as err:
        load_eba2016(tmp_path)
    message = str(err.value)
    assert file in message and label in message and "FS133" in message
