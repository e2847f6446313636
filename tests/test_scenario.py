"""Scenarios: unknown fields by dotted path, out-of-range values with what to write."""

from __future__ import annotations

import pytest

from firesale.errors import ConfigError, DataError, Problem
from firesale.scenario import Scenario, Shock, parse_scenario


def problems_of(data, source="preset.toml") -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        parse_scenario(data, source=source)
    return info.value.problems


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


def test_defaults_and_a_valid_scenario():
    assert parse_scenario({}) == Scenario()
    sc = parse_scenario({
        "name": "s", "max_rounds": 5,
        "shocks": [{"asset": "corporates", "price": -0.04}, {"institution": "d", "default": True, "round": 2}],
        "channels": {"var": False}, "policy": {"slr_exemption": True}, "market": {"execution_alpha": 1.0},
    })
    assert sc.shocks[1].round == 2 and not sc.channels.var and sc.policy.slr_exemption
    assert sc.market.execution_alpha == 1.0


@pytest.mark.parametrize("data, path, suggestion", [
    ({"market": {"execution_alpah": 0.3}}, "scenario.market.execution_alpah", "execution_alpha"),
    ({"maxrounds": 3}, "scenario.maxrounds", "max_rounds"),
    ({"policy": {"slr_exemptoin": True}}, "scenario.policy.slr_exemptoin", "slr_exemption"),
    ({"channels": {"levrage": False}}, "scenario.channels.levrage", "leverage"),
    ({"volatility": {"ewma_lamda": 0.9}}, "scenario.volatility.ewma_lamda", "ewma_lambda"),
    ({"shocks": [{"asset": "x", "price": -0.1}, {"asset": "x", "pric": -0.1}]}, "scenario.shocks.1.pric", "price"),
])
def test_unknown_field_names_the_dotted_path(data, path, suggestion):
    p = only(problems_of(data))
    assert p.where == f"preset.toml, field {path}"
    assert "is not a known field" in p.message
    assert f"Did you mean {suggestion!r}?" in p.message and "Check its spelling" in p.message


@pytest.mark.parametrize("shock, text", [
    ({"asset": "x"}, "sets none of 'price', 'volatility', 'repo_rate' or 'client_sale': set price"),
    ({"asset": "x", "institution": "d", "price": -0.1}, "exactly one of 'asset' or 'institution'"),
    ({"institution": "d"}, "sets none of default = true, redemption (a share of NAV) or capital"),
    ({"asset": "a", "price": -0.1, "redemption": 0.1}, "redemption shock names a fund"),
    ({"institution": "d", "default": True, "price": -0.1}, "takes no 'price', 'volatility', 'repo_rate' or 'client_sale'"),
])
def test_shock_checks(shock, text):
    p = only(problems_of({"shocks": [shock]}))
    assert p.where == "preset.toml, field scenario.shocks.0"
    assert text in p.message and "{" not in p.message


def test_shock_price_in_percent():
    p = only(problems_of({"shocks": [{"asset": "x", "price": -4}]}))
    assert p.where == "preset.toml, field scenario.shocks.0.price"
    assert "got -4" in p.message and p.message.endswith("write -0.04")


def test_fraction_in_percent():
    p = only(problems_of({"market": {"execution_alpha": 50}}))
    assert p.where == "preset.toml, field scenario.market.execution_alpha"
    assert "Ratios are fractions" in p.message and p.message.endswith("write 0.5")


@pytest.mark.parametrize("data, where, text", [
    ({"max_rounds": 0}, "scenario.max_rounds", "got 0: must be at least 1"),
    ({"tolerance": -1}, "scenario.tolerance", "must be greater than 0"),
    ({"channels": {"slr": "maybe"}}, "scenario.channels.slr", "write true or false"),
    ({"shocks": [{"asset": "x", "volatility": "nan"}]}, "scenario.shocks.0.volatility", "NaN"),
    ({"shocks": [{"asset": "x", "price": -0.1, "round": -1}]}, "scenario.shocks.0.round", "at least 0"),
])
def test_bad_values(data, where, text):
    p = only(problems_of(data))
    assert p.where == f"preset.toml, field {where}" and text in p.message


def test_scenario_that_is_not_a_table():
    p = only(problems_of(5))
    assert p.where == "preset.toml, section scenario" and "must be a table of named fields" in p.message


def test_every_problem_at_once():
    problems = problems_of({"max_rounds": 0, "market": {"execution_alpah": 1}, "shocks": [{"asset": "x"}]})
    assert {p.where for p in problems} == {
        "preset.toml, field scenario.max_rounds",
        "preset.toml, field scenario.market.execution_alpah",
        "preset.toml, field scenario.shocks.0",
    }


# --------------------------------------------------------------------------- updated
def test_updated_changes_nested_fields():
    sc = Scenario(shocks=(Shock(asset="x", price=-0.04),))
    new = sc.updated(**{"market.execution_alpha": 1.0, "max_rounds": 3, "channels.var": False})
    assert new.market.execution_alpha == 1.0 and new.max_rounds == 3 and not new.channels.var
    assert new.shocks == sc.shocks and sc.market.execution_alpha == 0.5


def test_updated_with_a_typo():
    with pytest.raises(ConfigError) as info:
        Scenario().updated(**{"market.execution_alpah": 1.0})
    p = only(info.value.problems)
    assert p.where == "override, field scenario.market.execution_alpah"
    assert "Did you mean 'execution_alpha'?" in p.message


def test_updated_through_a_value_that_is_not_a_section():
    with pytest.raises(ConfigError) as info:
        Scenario().updated(**{"max_rounds.limit": 3})
    p = only(info.value.problems)
    assert p.where == "override, field scenario.max_rounds.limit"
    assert "scenario.max_rounds is not a section" in p.message and p.message.endswith("check the dotted name")


def test_updated_is_validated():
    with pytest.raises(ConfigError, match=r"scenario\.market\.execution_alpha: got 2"):
        Scenario().updated(**{"market.execution_alpha": 2})


# --------------------------------------------------------------------------- shock targets
def test_shock_naming_an_unknown_asset_lists_known_names():
    from firesale.data import load
    from firesale.engine.state import ScenarioArrays

    system = load("dealer_prime").system
    scenario = parse_scenario({"shocks": [{"asset": "corporate", "price": -0.04}]})
    with pytest.raises(DataError) as info:
        ScenarioArrays.from_scenarios(system, [scenario])
    message = str(info.value)
    assert "unknown asset" in message and "'corporate'" in message
    assert "Did you mean 'corporates'?" in message
    assert "Known assets: treasuries, corporates, other" in message


def test_shock_after_the_last_round_is_an_error():
    from firesale.errors import ConfigError
    from firesale.scenario import parse_scenario

    with pytest.raises(ConfigError) as info:
        parse_scenario({"max_rounds": 2, "shocks": [{"asset": "a", "price": -0.1, "round": 2}]}, source="s.toml")
    text = str(info.value)
    assert "s.toml" in text and "round 2 never hits" in text and "max_rounds to at least 3" in text
