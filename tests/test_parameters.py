"""Parameters (firesale.parameters): every kind of path reads back what was set, untouched
objects keep their identity, and bad paths, values and [[parameters]] rows are refused
with the path, or the file, row and field, named."""

import math

import pytest

from firesale.data.preset import load
from firesale.errors import ConfigError
from firesale.parameters import apply_parameters, parameter_value, parse_parameters, split_parameters
from firesale.scenario import Scenario
from firesale.system import CAPITAL_ARRIVAL, MAX_DISCOUNT, System


@pytest.fixture(scope="module")
def small():
    """Two banks (group G), a fund (group H); two Treasuries and a corporate bond.
    Equity at t0: bank_a 10 + 100 - 50 - 40 = 20, bank_b 10 + 100 - 90 = 20, fund 5 + 20 = 25."""
    system = System.from_records(
        [{"name": "bank_a", "type": "bank", "group": "G", "cash": 10.0, "liabilities": 50.0, "leverage_trigger": 0.05},
         {"name": "bank_b", "type": "bank", "group": "G", "cash": 10.0, "liabilities": 90.0, "leverage_trigger": 0.05},
         {"name": "fund", "type": "asset_manager", "group": "H", "cash": 5.0, "liabilities": 0.0,
          "redemption_sensitivity": 1.0}],
        [{"name": "ust_a", "class": "treasury", "sigma0": 0.005, "haircut": 0.02, "duration": 8.0},
         {"name": "ust_b", "class": "treasury", "sigma0": 0.005, "haircut": 0.02},
         {"name": "corp", "class": "corporate_ig", "sigma0": 0.01, "depth": 1000.0, "max_discount": 0.05}],
        [{"institution": "bank_a", "asset": "ust_a", "quantity": 50.0, "repo": 40.0},
         {"institution": "bank_a", "asset": "corp", "quantity": 50.0},
         {"institution": "bank_b", "asset": "ust_b", "quantity": 100.0},
         {"institution": "fund", "asset": "corp", "quantity": 20.0}],
    )
    return system, Scenario(shocks=[{"asset": "corp", "price": -0.05}])


ROUND_TRIP = {
    "scenario.market.balance_sheet_cost": 2.5,
    "scenario.shocks.0.price": -0.07,
    "asset.corp.max_discount": 0.06,
    "class.treasury.capital_arrival": 0.03,
    "institution.bank_a.cash": 12.0,
    "type.asset_manager.redemption_sensitivity": 1.5,
    "group.G.leverage_trigger": 0.04,
}


@pytest.mark.parametrize("name", list(ROUND_TRIP))
def test_every_kind_of_path_reads_back_what_was_set(small, name):
    system, scenario = small
    new_system, new_scenario = apply_parameters(system, scenario, {name: ROUND_TRIP[name]})
    assert parameter_value(new_system, new_scenario, name) == ROUND_TRIP[name]
    scenario_names, system_names = split_parameters([name])
    if scenario_names:  # a scenario path leaves the system as it is, and the other way round
        assert new_system is system and new_scenario is not scenario
    else:
        assert system_names == [name] and new_scenario is scenario and new_system is not system


def test_all_at_once_and_untouched_rows_keep_their_identity(small):
    system, scenario = small
    new_system, new_scenario = apply_parameters(system, scenario, ROUND_TRIP)
    assert {n: parameter_value(new_system, new_scenario, n) for n in ROUND_TRIP} == ROUND_TRIP
    assert new_system.assets[0] is not system.assets[0]  # a treasury: class.treasury changed it
    assert new_system.institutions[2] is not system.institutions[2]  # the fund: type.asset_manager
    untouched, _ = apply_parameters(system, scenario, {"institution.bank_b.cash": 11.0})
    assert untouched.institutions[0] is system.institutions[0] and untouched.assets == system.assets
    # class members all set; the other class untouched; equity follows the cash: 20 + 12 - 10
    assert [a.capital_arrival for a in new_system.assets] == [0.03, 0.03, None]
    assert new_system.equity0.tolist() == [22.0, 20.0, 25.0]
    assert apply_parameters(system, scenario, {}) == (system, scenario)


def test_unset_fields_read_as_their_effective_default(small):
    system, scenario = small
    assert parameter_value(system, scenario, "asset.ust_b.max_discount") == MAX_DISCOUNT["treasury"]
    assert parameter_value(system, scenario, "class.treasury.capital_arrival") == CAPITAL_ARRIVAL["treasury"]
    assert parameter_value(system, scenario, "asset.ust_a.haircut_beta") == pytest.approx(1.5 * 0.02)  # 1.5 x haircut
    assert parameter_value(system, scenario, "group.G.leverage_target") == 0.05  # the trigger
    assert parameter_value(system, scenario, "asset.ust_a.duration") == 8.0


@pytest.mark.parametrize(("name", "code", "words"), [
    ("bogus.ust_a.haircut", "FS163", "unknown kind of parameter 'bogus'"),
    ("asset.ust_a", "FS163", "write asset.<NAME>.<field>"),
    ("asset.ust_c.haircut", "FS164", "unknown asset 'ust_c'. Did you mean"),
    ("institution.bank_c.cash", "FS164", "unknown institution 'bank_c'"),
    ("class.treasuries.haircut", "FS164", "Did you mean 'treasury'"),
    ("class.equity.haircut", "FS164", "no asset of class 'equity'"),
    ("type.dealer.cash", "FS164", "no institution of type 'dealer'"),
    ("group.Z.cash", "FS164", "Present: G, H"),
    ("asset.ust_a.impact", "FS165", "'impact' is not a number field"),
    ("asset.ust_a.hair_cut", "FS165", "Did you mean 'haircut'"),
    ("scenario.max_rounds", "FS165", "not a number field"),
    ("scenario.market.balance_cost", "FS165", "not a scenario field"),
    ("scenario.shocks.3.price", "FS164", "0 to 0"),
])
def test_bad_paths_are_refused_naming_the_path(small, name, code, words):
    system, scenario = small
    for call in (lambda: parameter_value(system, scenario, name),
                 lambda: apply_parameters(system, scenario, {name: 0.1})):
        with pytest.raises(ConfigError) as err:
            call()
        (problem,) = err.value.problems
        assert (problem.code, problem.where) == (code, name) and words in problem.message


def test_values_without_one_current_value_are_refused(small):
    system, scenario = small
    with pytest.raises(ConfigError, match=r"FS167.*duration is not set on ust_b"):
        parameter_value(system, scenario, "class.treasury.duration")  # ust_a has 8, ust_b none
    with pytest.raises(ConfigError, match=r"FS167.*duration is not set on ust_b"):
        parameter_value(system, scenario, "asset.ust_b.duration")
    with pytest.raises(ConfigError, match=r"FS167.*members differ.*bank_a 50, bank_b 90"):
        parameter_value(system, scenario, "group.G.liabilities")


@pytest.mark.parametrize(("values", "where", "words"), [
    ({"asset.corp.max_discount": 1.5}, "parameter asset.corp.max_discount = 1.5", "must be at most 1"),
    ({"scenario.market.balance_sheet_cost": -1.0}, "parameter scenario.market.balance_sheet_cost = -1",
     "must be at least 0"),
    ({"group.G.leverage_trigger": 0.6}, "parameter group.G.leverage_trigger = 0.6", "plausible: at most 0.5"),
    ({"institution.bank_b.liabilities": 120.0}, "parameters institution.bank_b.liabilities = 120",
     "'bank_b' is insolvent at t0: equity -10"),  # 10 + 100 - 120
    ({"asset.ust_a.haircut": 0.5}, "parameters asset.ust_a.haircut = 0.5", "repo 40 of 'bank_a' on 'ust_a' is "
     "above (1 - haircut 0.5) x quantity 50"),
    ({"asset.corp.sigma0": math.nan}, "asset.corp.sigma0", "finite number"),
    ({"asset.corp.sigma0": True}, "asset.corp.sigma0", "takes a number"),
])
def test_bad_values_are_refused_naming_the_path_and_value(small, values, where, words):
    system, scenario = small
    with pytest.raises(ConfigError) as err:
        with _plausibility(True):
            apply_parameters(system, scenario, values)
    assert any(p.code == "FS168" and p.where == where and words in p.message for p in err.value.problems), \
        err.value.problems


def _plausibility(enabled):
    from firesale.system import plausibility_checked

    return plausibility_checked(enabled)


PRESET = """
name = "tiny"
currency = "USD bn"

[[institutions]]
name = "bank"
type = "bank"
cash = 10.0
liabilities = 90.0
leverage_trigger = 0.05

[[assets]]
name = "ust"
class = "treasury"
sigma0 = 0.005

[[holdings]]
institution = "bank"
asset = "ust"
quantity = 100.0

[scenario]
shocks = [{ asset = "ust", price = -0.02 }]
"""

GOOD_ROWS = """
[[parameters]]
name = "asset.ust.max_discount"
low = 0.02
high = 0.04            # the current (class) value, 0.08, lies outside: that is fine
source = "assumption"

[[parameters]]
name = "scenario.market.balance_sheet_cost"
low = 0.5
high = 8
scale = "log"
source = "Du, Hébert & Li (2023)"
description = "dealers' shadow cost of balance sheet"
"""

BAD_ROWS = [
    ('name = "asset.ust.haircut"\nlow = 0.0\nhigh = 0.1\nsource = "x"\ncolour = "red"', "colour", "FS160"),
    ('name = "asset.ust.haircut"\nlow = 0.0\nhigh = 0.1', "source", "FS161"),
    ('name = "asset.ust.sigma0"\nlow = 0.01\nhigh = 0.01\nsource = "x"', "high", "FS162"),
    ('name = "asset.gilt.sigma0"\nlow = 0.01\nhigh = 0.02\nsource = "x"', "name", "FS164"),
    ('name = "asset.ust.impact"\nlow = 0.01\nhigh = 0.02\nsource = "x"', "name", "FS165"),
    ('name = "asset.ust.depth"\nlow = 0.0\nhigh = 5.0\nscale = "log"\nsource = "x"', "low", "FS162"),
    ('name = "asset.ust.haircut"\nlow = "0.01"\nhigh = 0.1\nsource = "x"', "low", "FS161"),
    ('name = "class.treasury.max_discount"\nlow = 0.1\nhigh = 1.5\nsource = "x"', "high", "FS168"),
    ('name = "asset.ust.max_discount"\nlow = 0.01\nhigh = 0.02\nsource = "x"', "name", "FS166"),  # row 1 of GOOD
]


def test_a_preset_reads_its_parameters(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(PRESET + GOOD_ROWS)
    preset = load(path)
    assert [(p.name, p.low, p.high, p.scale) for p in preset.parameters] == [
        ("asset.ust.max_discount", 0.02, 0.04, "linear"), ("scenario.market.balance_sheet_cost", 0.5, 8.0, "log")]
    assert preset.parameters[1].source == "Du, Hébert & Li (2023)"


def test_bad_rows_name_the_file_row_and_field(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(PRESET + GOOD_ROWS + "".join(f"\n[[parameters]]\n{body}\n" for body, *_ in BAD_ROWS))
    with pytest.raises(ConfigError) as err:
        load(path)
    found = {(p.where, p.code) for p in err.value.problems}
    expected = {(f"tiny.toml, [[parameters]] row {r}, field {field}", code)
                for r, (_, field, code) in enumerate(BAD_ROWS, start=3)}
    assert expected <= found, sorted(found - expected)
    assert len(err.value.problems) == len(BAD_ROWS)


def test_parse_parameters_without_a_system_checks_the_rows_alone():
    rows = [{"name": "asset.anything.haircut", "low": 0.0, "high": 0.1, "source": "assumption"},
            {"name": "bogus", "low": 0.0, "high": 0.1, "source": "assumption"}]
    parsed, problems = parse_parameters(rows, "p.toml", None, None)
    assert [p.name for p in parsed] == ["asset.anything.haircut"]
    assert [(p.code, p.where) for p in problems] == [("FS163", "p.toml, [[parameters]] row 2, field name")]
    assert parse_parameters({"name": "x"}, "p.toml", None, None)[1][0].code == "FS160"
