"""Tables on disk (CSV and Parquet): messages name the file, row, field and value."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from firesale.data import list_presets, load, read_tables, validate, write_tables
from firesale.data.tables import read_table
from firesale.errors import ConfigError, DataError, Problem

INSTITUTIONS = """\
name,type,cash,liabilities,slr_trigger,slr_target,repay_with_cash
dealer_a,dealer,10,80,0.03,0.04,true
dealer_b,bank,5,40,,,
"""
ASSETS = """\
name,class,sigma0,depth,slr_exempt
treasuries,treasury,0.01,inf,
corporates,corporate_ig,0.02,500,FALSE
"""
HOLDINGS = """\
institution,asset,quantity,trading_fraction
dealer_a,treasuries,60,0.5
dealer_a,corporates,40,
dealer_b,corporates,50,
"""


def write(directory: Path, **tables: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for table, text in tables.items():
        (directory / f"{table}.csv").write_text(text)
    return directory


def tables(tmp_path: Path, **changes: str) -> Path:
    """A directory of the three valid tables, with some replaced."""
    texts = {"institutions": INSTITUTIONS, "assets": ASSETS, "holdings": HOLDINGS}
    texts.update(changes)
    return write(tmp_path / "system", **{k: v for k, v in texts.items() if v is not None})


def problems_of(directory: Path, **kw) -> list[Problem]:
    with pytest.raises(DataError) as info:
        read_tables(directory, **kw)
    return info.value.problems


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


# --------------------------------------------------------------------------- reading cells
def test_valid_tables(tmp_path):
    system = read_tables(tables(tmp_path), currency="USD bn")
    assert system.name == "system" and system.currency == "USD bn"
    a, b = system.institutions
    assert a.repay_with_cash is True and b.repay_with_cash is False
    assert (a.slr_trigger, a.slr_target) == (0.03, 0.04)
    t, c = system.assets
    assert t.depth == math.inf and c.depth == 500.0
    assert system.holdings.tolist() == [[60.0, 40.0], [0.0, 50.0]]
    assert system.trading_fraction.tolist() == [[0.5, 1.0], [1.0, 1.0]]


def test_empty_cell_in_optional_column_takes_the_default(tmp_path):
    system = read_tables(tables(tmp_path))
    b = system.institutions[1]
    assert b.slr_trigger is None and b.slr_target is None and b.repay_with_cash is False
    assert math.isnan(b.level("slr", "target"))
    t, c = system.assets
    assert t.slr_exempt is None and t.is_slr_exempt  # default: Treasuries are exempt
    assert c.slr_exempt is False and not c.is_slr_exempt
    assert system.trading_fraction[0, 1] == 1.0


def test_blank_cell_with_spaces_is_empty(tmp_path):
    text = INSTITUTIONS.replace("dealer_b,bank,5,40,,,", "dealer_b,bank,5,40,  ,  ,  ")
    system = read_tables(tables(tmp_path, institutions=text))
    assert system.institutions[1].slr_trigger is None


@pytest.mark.parametrize("true, false", [("TRUE", "False"), ("True", "false"), ("yes", "no"), ("1", "0")])
def test_booleans(tmp_path, true, false):
    text = INSTITUTIONS.replace(",true\n", f",{true}\n").replace("dealer_b,bank,5,40,,,", f"dealer_b,bank,5,40,,,{false}")
    a, b = read_tables(tables(tmp_path, institutions=text)).institutions
    assert a.repay_with_cash is True and b.repay_with_cash is False


def test_a_bad_boolean(tmp_path):
    text = INSTITUTIONS.replace(",true\n", ",maybe\n")
    p = only(problems_of(tables(tmp_path, institutions=text)))
    assert p.where == "institutions.csv row 1 (dealer_a), field repay_with_cash"
    assert "'maybe'" in p.message and p.message.endswith("write true or false")


@pytest.mark.parametrize("inf", ["inf", "Inf", "INF", "infinity", "+inf"])
def test_infinite_depth(tmp_path, inf):
    system = read_tables(tables(tmp_path, assets=ASSETS.replace(",inf,", f",{inf},")))
    assert system.assets[0].depth == math.inf


def test_a_name_that_reads_like_a_boolean_stays_text(tmp_path):
    text = INSTITUTIONS.replace("dealer_b,bank", "true,bank")
    system = read_tables(tables(tmp_path, institutions=text, holdings=HOLDINGS.replace("dealer_b", "true")))
    assert system.institution_names == ["dealer_a", "true"]


# --------------------------------------------------------------------------- NaN
def test_literal_nan_is_an_error(tmp_path):
    directory = tables(
        tmp_path,
        institutions=INSTITUTIONS.replace("dealer_a,dealer,10,", "dealer_a,dealer,nan,"),
        assets=ASSETS.replace(",inf,", ",NaN,").replace("500,FALSE", "500,nan"),
        holdings=HOLDINGS.replace("dealer_b,corporates,50,", "dealer_b,corporates,50,nan"),
    )
    problems = problems_of(directory)
    by_where = {p.where: p.message for p in problems}
    assert set(by_where) == {
        "institutions.csv row 1 (dealer_a), field cash",
        "assets.csv row 1 (treasuries), field depth",
        "assets.csv row 2 (corporates), field slr_exempt",
        "holdings.csv row 3 (dealer_b, corporates), field trading_fraction",
    }
    for message in by_where.values():
        assert "NaN is not a value" in message and "empty cell" in message


def test_nan_quantity(tmp_path):
    p = only(problems_of(tables(tmp_path, holdings=HOLDINGS.replace("dealer_a,corporates,40,", "dealer_a,corporates,nan,"))))
    assert p.where == "holdings.csv row 2 (dealer_a, corporates), field quantity"
    assert "got 'nan'" in p.message and "NaN" in p.message


# --------------------------------------------------------------------------- columns
def test_missing_column_is_reported_once(tmp_path):
    text = "name,cash\ndealer_a,10\ndealer_b,5\n"
    p = only(problems_of(tables(tmp_path, institutions=text)))
    assert p.code == "FS121"
    assert p.where == "institutions.csv, column liabilities"
    assert "required column 'liabilities' is missing" in p.message
    assert "columns found: name, cash" in p.message
    assert p.message.endswith("add the column 'liabilities'")


def test_misspelt_required_column(tmp_path):
    text = HOLDINGS.replace("quantity", "quantty")
    p = only(problems_of(tables(tmp_path, holdings=text)))
    assert p.where == "holdings.csv, column quantity"
    assert p.message.endswith("rename column 'quantty' to 'quantity'")


def test_missing_columns_in_two_tables(tmp_path):
    directory = tables(tmp_path, assets=ASSETS.replace("sigma0,", "").replace("0.01,", "").replace("0.02,", ""),
                       holdings=HOLDINGS.replace("asset,", "").replace(",treasuries", "").replace(",corporates", ""))
    problems = problems_of(directory)
    assert sorted(p.where for p in problems) == ["assets.csv, column sigma0", "holdings.csv, column asset"]


def test_unknown_column_is_reported_once(tmp_path):
    text = INSTITUTIONS.replace("repay_with_cash", "repay_cash")
    p = only(problems_of(tables(tmp_path, institutions=text)))
    assert p.where == "institutions.csv, column repay_cash"
    assert "unknown column 'repay_cash'" in p.message and "Did you mean 'repay_with_cash'?" in p.message


def test_unknown_column_and_bad_rows_together(tmp_path):
    directory = tables(tmp_path, institutions=INSTITUTIONS.replace("repay_with_cash", "colour"),
                       holdings=HOLDINGS.replace("60,0.5", "-60,0.5"))
    wheres = sorted(p.where for p in problems_of(directory))
    assert wheres == ["holdings.csv row 1 (dealer_a, treasuries), field quantity", "institutions.csv, column colour"]


def test_the_class_column_may_use_its_field_name(tmp_path):
    system = read_tables(tables(tmp_path, assets=ASSETS.replace("name,class", "name,asset_class")))
    assert system.assets[1].asset_class == "corporate_ig"


def test_a_row_with_an_empty_required_cell(tmp_path):
    p = only(problems_of(tables(tmp_path, institutions=INSTITUTIONS.replace("dealer_b,bank,5,40", "dealer_b,bank,5,"))))
    assert p.where == "institutions.csv row 2 (dealer_b), field liabilities" and "is missing" in p.message


# --------------------------------------------------------------------------- values
def test_negative_holdings(tmp_path):
    p = only(problems_of(tables(tmp_path, holdings=HOLDINGS.replace("dealer_b,corporates,50", "dealer_b,corporates,-50"))))
    assert p.where == "holdings.csv row 3 (dealer_b, corporates), field quantity"
    assert "got '-50'" in p.message and "negative holdings" in p.message


def test_unknown_asset_and_institution(tmp_path):
    text = HOLDINGS + "dealer_c,treasuries,1,\ndealer_b,bonds,1,\n"
    problems = problems_of(tables(tmp_path, holdings=text))
    by_where = {p.where: p.message for p in problems}
    assert "unknown institution 'dealer_c'" in by_where["holdings.csv row 4 (dealer_c, treasuries), field institution"]
    assert "unknown asset 'bonds'" in by_where["holdings.csv row 5 (dealer_b, bonds), field asset"]


def test_duplicate_holdings_rows(tmp_path):
    p = only(problems_of(tables(tmp_path, holdings=HOLDINGS + "dealer_a,treasuries,1,\n")))
    assert p.where.startswith("holdings.csv row 4 (dealer_a, treasuries)")
    assert "duplicate holding" in p.message and "first at row 1" in p.message


@pytest.mark.parametrize("field, column_value, fix", [("slr_target", "5", "write 0.05"), ("slr_trigger", "3", "write 0.03")])
def test_ratio_in_percent(tmp_path, field, column_value, fix):
    text = INSTITUTIONS.replace("0.03,0.04", "3,0.04" if field == "slr_trigger" else "0.03,5")
    p = only(problems_of(tables(tmp_path, institutions=text)))
    assert p.where == f"institutions.csv row 1 (dealer_a), field {field}"
    assert f"got '{column_value}'" in p.message
    assert "Ratios are fractions" in p.message and p.message.endswith(fix)


def test_level_below_minimum(tmp_path):
    text = INSTITUTIONS.replace("slr_target,", "slr_target,leverage_minimum,leverage_trigger,").replace(
        "0.03,0.04,", "0.03,0.04,0.05,0.04,")
    p = only(problems_of(tables(tmp_path, institutions=text)))
    assert p.where == "institutions.csv row 1 (dealer_a), field leverage_trigger"
    assert "leverage_trigger = 0.04 is below leverage_minimum = 0.05" in p.message


def test_empty_tables(tmp_path):
    directory = tables(tmp_path, institutions="name,cash,liabilities\n", assets="name,class,sigma0\n",
                       holdings="institution,asset,quantity\n")
    by_where = {p.where: p.message for p in problems_of(directory)}
    assert "no institutions" in by_where["institutions.csv"]
    assert "no assets" in by_where["assets.csv"]


def test_duplicate_names(tmp_path):
    text = INSTITUTIONS + "dealer_a,dealer,1,0.5,,,\n"
    p = only(problems_of(tables(tmp_path, institutions=text)))
    assert p.where == "institutions.csv row 3 (dealer_a), field name"
    assert "duplicate institution name 'dealer_a' (first at row 1)" in p.message


def test_mismatched_units(tmp_path):
    text = "institution,asset,quantity,currency\ndealer_a,treasuries,60,USD bn\ndealer_a,corporates,40,EUR bn\n" \
           "dealer_b,corporates,50,\n"
    p = only(problems_of(tables(tmp_path, holdings=text), currency="USD bn"))
    assert p.where == "holdings.csv row 2, field currency"
    assert "mismatched units: 'EUR bn'" in p.message and "'USD bn'" in p.message


def test_currency_column_that_agrees(tmp_path):
    text = "institution,asset,quantity,currency\ndealer_a,treasuries,60,USD bn\ndealer_a,corporates,40,USD bn\n" \
           "dealer_b,corporates,50,USD bn\n"
    assert read_tables(tables(tmp_path, holdings=text), currency="USD bn").currency == "USD bn"


def test_insolvent_at_t0(tmp_path):
    p = only(problems_of(tables(tmp_path, institutions=INSTITUTIONS.replace("dealer_b,bank,5,40", "dealer_b,bank,5,90"))))
    assert p.where == "institutions.csv row 2 (dealer_b), field liabilities"
    assert "insolvent at t0" in p.message and "equity is -35" in p.message


def test_invalid_correlations(tmp_path):
    directory = tables(tmp_path)
    (directory / "correlations.csv").write_text(
        "asset_a,asset_b,correlation\ntreasuries,corporates,1.2\ncorporates,bonds,0.1\n")
    by_where = {p.where: p.message for p in problems_of(directory)}
    assert "got '1.2'" in by_where["correlations.csv row 1, field correlation"]
    assert "unknown asset 'bonds'" in by_where["correlations.csv row 2, field asset_b"]


def test_correlation_matrix_not_psd(tmp_path):
    assets = ASSETS + "equities,equity,0.03,100,\n"
    directory = tables(tmp_path, assets=assets)
    (directory / "correlations.csv").write_text(
        "asset_a,asset_b,correlation\ntreasuries,corporates,0.9\ncorporates,equities,0.9\ntreasuries,equities,-0.9\n")
    p = only(problems_of(directory))
    assert p.where == "correlations.csv" and "not positive semi-definite" in p.message


# --------------------------------------------------------------------------- files
def test_missing_table_file(tmp_path):
    p = only(problems_of(tables(tmp_path, holdings=None)))
    assert p.where == "system/holdings.csv"
    assert "table file is missing" in p.message and "add holdings.csv or holdings.parquet" in p.message


def test_not_a_directory(tmp_path):
    p = only(problems_of(tmp_path / "nowhere"))
    assert "no such directory" in p.message and str(tmp_path / "nowhere") == p.where


def test_read_table_of_a_missing_file(tmp_path):
    with pytest.raises(DataError, match="table file not found"):
        read_table(tmp_path / "holdings.csv")


def test_empty_file(tmp_path):
    p = only(problems_of(tables(tmp_path, institutions="")))
    assert p.where == "institutions.csv" and "the file is empty" in p.message


def test_unreadable_parquet(tmp_path):
    directory = tables(tmp_path, holdings=None)
    (directory / "holdings.parquet").write_bytes(b"not parquet at all")
    p = only(problems_of(directory))
    assert p.where == "holdings.parquet" and "cannot read the table" in p.message
    assert p.message.endswith("check that it is a valid Parquet file with a header row")


def test_both_formats_is_ambiguous(tmp_path):
    directory = tables(tmp_path)
    write_tables(read_tables(directory), tmp_path / "pq", fmt="parquet")
    (directory / "holdings.parquet").write_bytes((tmp_path / "pq" / "holdings.parquet").read_bytes())
    p = only(problems_of(directory))
    assert "both holdings.csv and holdings.parquet" in p.message and p.message.endswith("remove one")


# --------------------------------------------------------------------------- all at once
def test_validate_reports_every_problem_at_once(tmp_path):
    directory = tables(
        tmp_path,
        institutions=INSTITUTIONS.replace("dealer_a,dealer,10,80", "dealer_a,dealer,-10,80"),
        holdings=HOLDINGS.replace("dealer_a,corporates,40", "dealer_a,corporates,-40")
        .replace("dealer_b,corporates,50", "dealer_b,corprates,50"),
    )
    problems = validate(directory)
    wheres = [p.where for p in problems]
    assert len(problems) == 3, problems
    assert "institutions.csv row 1 (dealer_a), field cash" in wheres
    assert "holdings.csv row 2 (dealer_a, corporates), field quantity" in wheres
    assert "holdings.csv row 3 (dealer_b, corprates), field asset" in wheres
    assert "Did you mean 'corporates'?" in problems[wheres.index("holdings.csv row 3 (dealer_b, corprates), field asset")].message


# --------------------------------------------------------------------------- round trip
def rich_system(tmp_path):
    directory = tables(
        tmp_path,
        institutions="name,type,group,cash,liabilities,slr_minimum,slr_trigger,slr_target,leverage_trigger,"
        "var_limit,liquidation,repay_with_cash\n"
        "dealer_a,dealer,A,10,80,0.02,0.03,0.04,,5,pro_rata,true\n"
        "fund_b,hedge_fund,B,5,40,,,,0.1,,initial_weights,\n",
        assets="name,class,sigma0,adv,impact,depth,impact_floor,haircut,slr_exempt,tradable,liquidity_rank\n"
        "treasuries,treasury,0.01,600,linear,inf,,0.02,,,\n"
        "corporates,corporate_ig,0.02,30,exponential,500,0.3,0.04,false,true,1\n"
        "loans,other,0.015,10,sqrt,,,,,,\n",
        holdings=HOLDINGS + "fund_b,loans,12.5,0.25\n".replace("fund_b", "dealer_b"),
    )
    text = (directory / "holdings.csv").read_text().replace("dealer_b", "fund_b")
    (directory / "holdings.csv").write_text(text)
    (directory / "correlations.csv").write_text(
        "asset_a,asset_b,correlation\ntreasuries,corporates,-0.25\ncorporates,loans,0.6\n")
    return read_tables(directory, currency="USD bn")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_round_trip(tmp_path, fmt):
    system = rich_system(tmp_path)
    paths = write_tables(system, tmp_path / "out", fmt=fmt)
    assert {p.name for p in paths} == {f"{t}.{fmt}" for t in ("institutions", "assets", "holdings", "correlations")}
    again = read_tables(tmp_path / "out", currency="USD bn")
    assert again.institutions == system.institutions
    assert again.assets == system.assets
    assert np.array_equal(again.holdings, system.holdings)
    assert np.array_equal(again.trading_fraction, system.trading_fraction)
    assert np.array_equal(again.correlation, system.correlation)
    assert again.currency == system.currency


@pytest.mark.parametrize("preset", sorted(list_presets()))
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_round_trip_of_presets(tmp_path, preset, fmt):
    system = load(preset).system
    write_tables(system, tmp_path, fmt=fmt)
    again = read_tables(tmp_path, currency=system.currency)
    assert again.institutions == system.institutions and again.assets == system.assets
    assert np.array_equal(again.holdings, system.holdings)
    assert np.array_equal(again.trading_fraction, system.trading_fraction)


def test_rewriting_in_the_other_format_replaces_the_files(tmp_path):
    system = rich_system(tmp_path)
    write_tables(system, tmp_path / "out", fmt="csv")
    write_tables(system, tmp_path / "out", fmt="parquet")
    assert sorted(p.suffix for p in (tmp_path / "out").iterdir()) == [".parquet"] * 4
    assert read_tables(tmp_path / "out", currency="USD bn").institutions == system.institutions


def test_unknown_format(tmp_path):
    with pytest.raises(ConfigError, match="use 'csv' or 'parquet'"):
        write_tables(load("dealer_prime").system, tmp_path, fmt="xlsx")


def test_parquet_null_is_not_set_and_nan_is_an_error(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory = tables(tmp_path, holdings=None)
    holdings = pa.table({
        "institution": ["dealer_a", "dealer_a", "dealer_b"],
        "asset": ["treasuries", "corporates", "corporates"],
        "quantity": [60.0, 40.0, 50.0],
        "trading_fraction": [0.5, None, None],
    })
    pq.write_table(holdings, directory / "holdings.parquet")
    assert read_tables(directory).trading_fraction.tolist() == [[0.5, 1.0], [1.0, 1.0]]
    pq.write_table(holdings.set_column(3, "trading_fraction", pa.array([0.5, float("nan"), None])),
                   directory / "holdings.parquet")
    p = only(problems_of(directory))
    assert p.where == "holdings.parquet row 2 (dealer_a, corporates), field trading_fraction"
    assert "NaN" in p.message


def test_market_shares_round_trip_and_a_bad_sum_names_the_file(tmp_path):
    from firesale import load_preset

    system = load_preset("dealer_market").system
    names = {p.name for p in write_tables(system, tmp_path)}
    assert "market_shares.csv" in names
    back = read_tables(tmp_path, currency="USD bn")
    np.testing.assert_array_equal(back.market_share, system.market_share)
    path = tmp_path / "market_shares.csv"
    path.write_text(path.read_text().replace("0.35", "0.30", 1))
    with pytest.raises(DataError) as info:
        read_tables(tmp_path)
    assert "market_shares.csv row" in str(info.value) and "sum to 0.95, not 1" in str(info.value)
