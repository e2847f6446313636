"""System.from_records: every bad input is reported with its table, row, field, value
and what to do."""

from __future__ import annotations

import math

import numpy as np
import pytest

from firesale.errors import DataError, Problem
from firesale.system import Institution, System


def inst(**kw):
    row = {"name": "dealer_a", "cash": 10.0, "liabilities": 80.0}
    row.update(kw)
    return row


def asset(**kw):
    row = {"name": "treasuries", "class": "treasury", "sigma0": 0.01}
    row.update(kw)
    return row


def base_tables():
    institutions = [inst(), inst(name="dealer_b", cash=5.0, liabilities=40.0)]
    assets = [asset(), asset(name="corporates", **{"class": "corporate_ig"}, sigma0=0.02, depth=500.0)]
    holdings = [
        {"institution": "dealer_a", "asset": "treasuries", "quantity": 60.0},
        {"institution": "dealer_a", "asset": "corporates", "quantity": 40.0},
        {"institution": "dealer_b", "asset": "corporates", "quantity": 50.0},
    ]
    return institutions, assets, holdings


def problems_of(*tables, **kw) -> list[Problem]:
    with pytest.raises(DataError) as info:
        System.from_records(*tables, **kw)
    return info.value.problems


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


# --------------------------------------------------------------------------- valid
def test_valid_system_builds():
    system = System.from_records(*base_tables(), name="s", currency="USD bn")
    assert system.n_institutions == 2 and system.n_assets == 2
    assert system.holdings[0, 0] == 60.0 and system.holdings[1, 0] == 0.0
    assert system.trading_fraction.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert system.correlation.tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert system.equity0.tolist() == [30.0, 15.0]
    assert system.currency == "USD bn"


def test_none_means_not_set():
    institutions, assets, holdings = base_tables()
    institutions[0]["slr_trigger"] = None
    holdings[0]["trading_fraction"] = None
    system = System.from_records(institutions, assets, holdings)
    assert system.institutions[0].slr_trigger is None
    assert system.trading_fraction[0, 0] == 1.0


def test_level_trigger_without_target_restores_the_trigger():
    i = Institution(name="x", liabilities=1.0, slr_trigger=0.05)
    assert i.level("slr", "trigger") == 0.05
    assert i.level("slr", "target") == 0.05
    assert math.isnan(i.level("slr", "minimum"))
    assert math.isnan(i.level("leverage", "target"))
    j = Institution(name="y", liabilities=1.0, leverage_minimum=0.02, leverage_trigger=0.04, leverage_target=0.06)
    assert (j.level("leverage", "minimum"), j.level("leverage", "trigger"), j.level("leverage", "target")) == (
        0.02, 0.04, 0.06,
    )


# --------------------------------------------------------------------------- holdings
def test_negative_holdings():
    institutions, assets, holdings = base_tables()
    holdings[1]["quantity"] = -5.0
    p = only(problems_of(institutions, assets, holdings, sources={"holdings": "holdings.csv"}))
    assert p.where == "holdings.csv row 2 (dealer_a, corporates), field quantity"
    assert "-5.0" in p.message and "negative holdings" in p.message
    assert "at least 0" in p.message


@pytest.mark.parametrize("value", [math.nan, "nan", "NaN"])
def test_nan_quantity(value):
    institutions, assets, holdings = base_tables()
    holdings[2]["quantity"] = value
    p = only(problems_of(institutions, assets, holdings))
    assert p.where == "holdings row 3 (dealer_b, corporates), field quantity"
    assert "NaN" in p.message and "fill in" in p.message


def test_infinite_quantity():
    institutions, assets, holdings = base_tables()
    holdings[0]["quantity"] = "inf"
    p = only(problems_of(institutions, assets, holdings))
    assert "field quantity" in p.where and "'inf'" in p.message and "infinite" in p.message


def test_nan_cash():
    institutions, assets, holdings = base_tables()
    institutions[1]["cash"] = math.nan
    p = only(problems_of(institutions, assets, holdings, sources={"institutions": "institutions.csv"}))
    assert p.where == "institutions.csv row 2 (dealer_b), field cash"
    assert "NaN" in p.message


def test_unknown_asset_in_holdings():
    institutions, assets, holdings = base_tables()
    holdings[2]["asset"] = "corporate"
    p = only(problems_of(institutions, assets, holdings, sources={"holdings": "h.csv"}))
    assert p.where == "h.csv row 3 (dealer_b, corporate), field asset"
    assert "unknown asset 'corporate'" in p.message
    assert "Did you mean 'corporates'?" in p.message
    assert p.message.endswith("Add it to the assets table or fix the name")


def test_unknown_institution_in_holdings():
    institutions, assets, holdings = base_tables()
    holdings[0]["institution"] = "dealer_z"
    p = only(problems_of(institutions, assets, holdings))
    assert p.where == "holdings row 1 (dealer_z, treasuries), field institution"
    assert "unknown institution 'dealer_z'" in p.message
    assert "institutions table" in p.message


def test_duplicate_holdings_rows():
    institutions, assets, holdings = base_tables()
    holdings.append({"institution": "dealer_a", "asset": "corporates", "quantity": 1.0})
    p = only(problems_of(institutions, assets, holdings))
    assert p.where.startswith("holdings row 4 (dealer_a, corporates)")
    assert "duplicate holding of 'corporates' by 'dealer_a'" in p.message
    assert "first at row 2" in p.message and "merge the rows" in p.message


def test_missing_holdings_field_and_unknown_column():
    institutions, assets, holdings = base_tables()
    del holdings[0]["quantity"]
    holdings[1]["qty"] = 3
    problems = problems_of(institutions, assets, holdings)
    wheres = {p.where for p in problems}
    assert "holdings row 1 (dealer_a, treasuries), field quantity" in wheres
    assert "holdings row 2 (dealer_a, corporates), field qty" in wheres


@pytest.mark.parametrize("value, hint", [(1.5, "write 0.015"), (-0.1, "[0, 1]"), ("x", "not a number")])
def test_bad_trading_fraction(value, hint):
    institutions, assets, holdings = base_tables()
    holdings[0]["trading_fraction"] = value
    p = only(problems_of(institutions, assets, holdings))
    assert "field trading_fraction" in p.where and repr(value) in p.message and hint in p.message


# --------------------------------------------------------------------------- constraints
@pytest.mark.parametrize("ratio", ["slr", "leverage"])
@pytest.mark.parametrize("level", ["trigger", "target"])
def test_level_below_minimum(ratio, level):
    institutions, assets, holdings = base_tables()
    levels = {f"{ratio}_minimum": 0.04, f"{ratio}_trigger": 0.05, f"{ratio}_target": 0.06}
    levels[f"{ratio}_{level}"] = 0.03
    if level == "trigger":
        levels[f"{ratio}_target"] = 0.045  # only the trigger is below the minimum
    institutions[1].update(levels)
    p = only(problems_of(institutions, assets, holdings, sources={"institutions": "institutions.csv"}))
    assert p.where == f"institutions.csv row 2 (dealer_b), field {ratio}_{level}"
    assert f"{ratio}_{level} = 0.03 is below {ratio}_minimum = 0.04" in p.message
    assert p.message.endswith(f"raise {ratio}_{level} or lower {ratio}_minimum")
    assert "{" not in p.message  # not the whole row


def test_target_below_trigger():
    institutions, assets, holdings = base_tables()
    institutions[0].update(slr_trigger=0.05, slr_target=0.04)
    p = only(problems_of(institutions, assets, holdings))
    assert p.where == "institutions row 1 (dealer_a), field slr_target"
    assert "slr_target = 0.04 is below slr_trigger = 0.05" in p.message


def test_target_without_trigger_is_an_error():
    institutions, assets, holdings = base_tables()
    institutions[0]["leverage_target"] = 0.05
    p = only(problems_of(institutions, assets, holdings))
    assert p.where == "institutions row 1 (dealer_a), field leverage_target"
    assert "leverage_trigger is empty" in p.message and "set leverage_trigger" in p.message


@pytest.mark.parametrize("field, value, fix", [
    ("slr_target", 5, "write 0.05"),
    ("slr_trigger", 3, "write 0.03"),
    ("leverage_minimum", 4.0, "write 0.04"),
    ("var_confidence", 99, "write 0.99"),
])
def test_ratio_in_percent(field, value, fix):
    institutions, assets, holdings = base_tables()
    institutions[0][field] = value
    if field == "slr_target":
        institutions[0]["slr_trigger"] = 0.04
    p = only(problems_of(institutions, assets, holdings))
    assert p.where == f"institutions row 1 (dealer_a), field {field}"
    assert f"got {value!r}" in p.message
    assert "Ratios are fractions" in p.message and p.message.endswith(fix)


def test_haircut_in_percent():
    institutions, assets, holdings = base_tables()
    assets[1]["haircut"] = 20
    p = only(problems_of(institutions, assets, holdings, sources={"assets": "assets.csv"}))
    assert p.where == "assets.csv row 2 (corporates), field haircut"
    assert p.message.endswith("write 0.2")


def test_negative_liabilities():
    institutions, assets, holdings = base_tables()
    institutions[0]["liabilities"] = -1
    p = only(problems_of(institutions, assets, holdings))
    assert p.where == "institutions row 1 (dealer_a), field liabilities"
    assert "got -1" in p.message and "at least 0" in p.message


def test_unknown_institution_type_suggests():
    institutions, assets, holdings = base_tables()
    institutions[0]["type"] = "dealr"
    p = only(problems_of(institutions, assets, holdings))
    assert p.where.endswith("field type")
    assert "got 'dealr'" in p.message and "Did you mean 'dealer'?" in p.message


def test_unknown_institution_field_suggests():
    institutions, assets, holdings = base_tables()
    institutions[0]["slr_tagret"] = 0.05
    p = only(problems_of(institutions, assets, holdings))
    assert p.where == "institutions row 1 (dealer_a), field slr_tagret"
    assert "not a known field" in p.message and "Did you mean 'slr_target'?" in p.message


def test_missing_required_field():
    institutions, assets, holdings = base_tables()
    del institutions[1]["liabilities"]
    p = only(problems_of(institutions, assets, holdings))
    assert p.where == "institutions row 2 (dealer_b), field liabilities" and "is missing" in p.message


def test_sqrt_impact_needs_volume():
    institutions, assets, holdings = base_tables()
    assets[1]["impact"] = "sqrt"
    p = only(problems_of(institutions, assets, holdings))
    assert p.where == "assets row 2 (corporates), field adv"
    assert "adv > 0" in p.message


# --------------------------------------------------------------------------- whole system
def test_empty_system():
    problems = problems_of([], [], [], sources={"institutions": "institutions.csv", "assets": "assets.csv"})
    by_where = {p.where: p.message for p in problems}
    assert "no institutions" in by_where["institutions.csv"]
    assert "no assets" in by_where["assets.csv"]
    assert all(m.endswith("add at least one row") for m in by_where.values())


def test_duplicate_names():
    institutions, assets, holdings = base_tables()
    institutions.append(inst(cash=1.0, liabilities=0.5))
    assets.append(asset(sigma0=0.03))
    problems = problems_of(institutions, assets, holdings)
    messages = {p.where: p.message for p in problems}
    assert "duplicate institution name 'dealer_a' (first at row 1)" in messages["institutions row 3 (dealer_a), field name"]
    assert "duplicate asset name 'treasuries' (first at row 1)" in messages["assets row 3 (treasuries), field name"]
    assert all("rename or remove" in m for m in messages.values())


def test_mismatched_units():
    institutions, assets, holdings = base_tables()
    holdings[1]["currency"] = "EUR bn"
    institutions[0]["currency"] = "USD bn"  # agrees: fine
    p = only(problems_of(institutions, assets, holdings, currency="USD bn", sources={"holdings": "holdings.csv"}))
    assert p.where == "holdings.csv row 2, field currency"
    assert "mismatched units" in p.message and "'EUR bn'" in p.message and "'USD bn'" in p.message
    assert p.message.endswith("convert the amounts or fix the currency")


def test_currency_that_agrees_is_accepted():
    institutions, assets, holdings = base_tables()
    for row in institutions + assets + holdings:
        row["currency"] = "USD bn"
    system = System.from_records(institutions, assets, holdings, currency="USD bn")
    assert system.currency == "USD bn"


def test_insolvent_at_t0():
    institutions, assets, holdings = base_tables()
    institutions[1]["liabilities"] = 100.0
    p = only(problems_of(institutions, assets, holdings, sources={"institutions": "institutions.csv"}))
    assert p.code == "FS105"
    assert p.where == "institutions.csv row 2 (dealer_b), field liabilities"
    assert "insolvent at t0" in p.message and "equity is -45" in p.message
    assert "liabilities 100" in p.message and p.message.endswith("lower its liabilities or raise its cash or holdings")


def test_insolvency_is_reported_with_other_problems():
    institutions, assets, holdings = base_tables()
    institutions[1]["liabilities"] = 100.0
    correlations = [{"asset_a": "treasuries", "asset_b": "corporates", "correlation": 2.0}]
    problems = problems_of(institutions, assets, holdings, correlations)
    assert {p.code for p in problems} == {"FS105", "FS106"}


def test_rows_that_are_not_mappings():
    institutions, assets, holdings = base_tables()
    p = problems_of(institutions, assets, {"institution": "dealer_a"})[0]
    assert "not a list of rows" in p.message


# --------------------------------------------------------------------------- correlations
def corr_problems(rows):
    return problems_of(*base_tables(), rows, sources={"correlations": "correlations.csv"})


@pytest.mark.parametrize("value", [1.5, -1.01])
def test_correlation_outside_range(value):
    p = only(corr_problems([{"asset_a": "treasuries", "asset_b": "corporates", "correlation": value}]))
    assert p.where == "correlations.csv row 1, field correlation"
    assert repr(value) in p.message and "[-1, 1]" in p.message


def test_correlation_nan():
    p = only(corr_problems([{"asset_a": "treasuries", "asset_b": "corporates", "correlation": "nan"}]))
    assert "field correlation" in p.where and "NaN" in p.message


def test_correlation_unknown_asset():
    p = only(corr_problems([{"asset_a": "treasuries", "asset_b": "corporate", "correlation": 0.5}]))
    assert p.where == "correlations.csv row 1, field asset_b"
    assert "unknown asset 'corporate'" in p.message and "Did you mean 'corporates'?" in p.message


def test_correlation_with_itself():
    p = only(corr_problems([{"asset_a": "treasuries", "asset_b": "treasuries", "correlation": 0.5}]))
    assert "with itself is 1" in p.message


def test_correlation_duplicate_pair():
    problems = corr_problems([
        {"asset_a": "treasuries", "asset_b": "corporates", "correlation": 0.5},
        {"asset_a": "corporates", "asset_b": "treasuries", "correlation": 0.3},
    ])
    p = only(problems)
    assert p.where.startswith("correlations.csv row 2") and "first at row 1" in p.message


def test_correlation_not_psd():
    institutions, assets, holdings = base_tables()
    assets.append(asset(name="equities", **{"class": "equity"}, sigma0=0.02))
    rows = [
        {"asset_a": "treasuries", "asset_b": "corporates", "correlation": 0.9},
        {"asset_a": "corporates", "asset_b": "equities", "correlation": 0.9},
        {"asset_a": "treasuries", "asset_b": "equities", "correlation": -0.9},
    ]
    p = only(problems_of(institutions, assets, holdings, rows, sources={"correlations": "correlations.csv"}))
    assert p.where == "correlations.csv"
    assert "not positive semi-definite" in p.message and "smallest eigenvalue" in p.message


def test_valid_correlations():
    rows = [{"asset_a": "treasuries", "asset_b": "corporates", "correlation": -0.3}]
    system = System.from_records(*base_tables(), rows)
    assert np.allclose(system.correlation, [[1.0, -0.3], [-0.3, 1.0]])


# --------------------------------------------------------------------------- all at once
def test_every_problem_at_once():
    institutions, assets, holdings = base_tables()
    institutions[0]["cash"] = -1.0
    assets[1]["sigma0"] = 0.0
    holdings[2]["quantity"] = -3.0
    holdings.append({"institution": "nobody", "asset": "treasuries", "quantity": 1.0})
    problems = problems_of(institutions, assets, holdings)
    wheres = [p.where for p in problems]
    assert "institutions row 1 (dealer_a), field cash" in wheres
    assert "assets row 2 (corporates), field sigma0" in wheres
    assert "holdings row 3 (dealer_b, corporates), field quantity" in wheres
    assert "holdings row 4 (nobody, treasuries), field institution" in wheres
    text = str(DataError(problems))
    assert text.startswith("4 problems:")


# --------------------------------------------------------------------------- names
def test_asset_index_lists_known_names():
    system = System.from_records(*base_tables())
    assert system.asset_index("corporates") == 1
    with pytest.raises(DataError) as info:
        system.asset_index("corporate")
    message = str(info.value)
    assert "unknown asset" in message and "Did you mean 'corporates'?" in message
    assert "Known assets: treasuries, corporates" in message and message.endswith("Use one of these names")
    with pytest.raises(DataError, match="Known institutions: dealer_a, dealer_b"):
        system.institution_index("dealer_c")


def test_shock_naming_an_unknown_asset_in_the_engine():
    from firesale.engine.state import ScenarioArrays
    from firesale.scenario import Scenario, Shock

    system = System.from_records(*base_tables())
    scenario = Scenario(shocks=(Shock(asset="corprates", price=-0.04),))
    with pytest.raises(DataError) as info:
        ScenarioArrays.from_scenarios(system, [scenario])
    message = str(info.value)
    assert "'corprates'" in message and "Did you mean 'corporates'?" in message
    assert "treasuries, corporates" in message


# --- funding inputs -------------------------------------------------------------------


def _funding_system(asset_extra=None, holding_extra=None, inst_extra=None):
    inst = {"name": "d", "liabilities": 10.0, **(inst_extra or {})}
    asset = {"name": "ust", "class": "treasury", "sigma0": 0.005, "haircut": 0.02, **(asset_extra or {})}
    holding = {"institution": "d", "asset": "ust", "quantity": 100.0, **(holding_extra or {})}
    return System.from_records([inst], [asset], [holding], sources={"assets": "assets.csv", "holdings": "holdings.csv",
                                                                   "institutions": "institutions.csv"})


@pytest.mark.parametrize("haircut", [1.0, 1.5, -0.01])
def test_haircut_outside_zero_one_is_an_error(haircut):
    with pytest.raises(DataError) as info:
        _funding_system(asset_extra={"haircut": haircut})
    text = str(info.value)
    assert "assets.csv row 1" in text and "haircut" in text and str(haircut) in text


def test_repo_above_its_collateral_value_is_an_error():
    with pytest.raises(DataError) as info:
        _funding_system(holding_extra={"repo": 120.0})
    text = str(info.value)
    assert "holdings.csv row 1" in text and "field repo" in text and "collateral's value" in text and "98" in text


def test_repo_above_what_the_haircut_allows_is_an_error():
    with pytest.raises(DataError) as info:
        _funding_system(holding_extra={"repo": 99.0})
    assert "what the haircut allows" in str(info.value) and "lower the loan" in str(info.value)


def test_negative_repo_and_short_term_debt_above_liabilities_are_errors():
    with pytest.raises(DataError) as info:
        _funding_system(holding_extra={"repo": -1.0})
    assert "field repo" in str(info.value)
    with pytest.raises(DataError) as info:
        _funding_system(inst_extra={"short_term_debt": 20.0})
    assert "short_term_debt" in str(info.value) and "liabilities" in str(info.value)


def test_repo_counts_in_equity_at_t0():
    system = _funding_system(holding_extra={"repo": 80.0})
    assert system.equity0[0] == pytest.approx(100.0 - 10.0 - 80.0)
    with pytest.raises(DataError, match="insolvent at t0"):
        _funding_system(holding_extra={"repo": 95.0})


def test_a_fund_with_negative_shares_is_an_error():
    with pytest.raises(DataError) as info:
        _funding_system(inst_extra={"type": "asset_manager", "shares": -5.0})
    text = str(info.value)
    assert "institutions.csv row 1" in text and "field shares" in text and "-5" in text


def test_deleveraging_at_the_minimum_needs_a_minimum():
    from firesale.errors import DataError

    inst = {"name": "d", "type": "dealer", "liabilities": 90.0, "slr_trigger": 0.05, "slr_deleveraging": "minimum"}
    with pytest.raises(DataError, match="slr_deleveraging.*slr_minimum is empty"):
        System.from_records([inst], [{"name": "x", "class": "treasury", "sigma0": 0.01}],
                            [{"institution": "d", "asset": "x", "quantity": 100.0}])
