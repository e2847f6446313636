"""Validation that knows units: every field with a unit declares a plausible range
besides its hard bounds, and a value outside it (a daily volatility in percent, a
redemption share of 80% in a day) read from a file is an error naming the field, the
value, the range and the likely unit mistake, unless the file, the loader or the caller
allows it. Values set in Python are explicit and checked only when asked."""

from __future__ import annotations

import math
import re
from pathlib import Path

import annotated_types
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from firesale.cli import app
from firesale.data import list_presets, load, load_preset, read_tables, validate
from firesale.data.preset import _preset_dir
from firesale.data.synthetic import generate_system
from firesale.errors import ConfigError, DataError, Problem
from firesale.scenario import CHANNEL_PLAUSIBLE, CentralBankPurchases, RepoFacility, Scenario, Shock, parse_scenario
from firesale.system import (
    ALLOW_IMPLAUSIBLE,
    Asset,
    Institution,
    System,
    implausible_allowed,
    loader_checks,
    plausibility_checked,
)

runner = CliRunner()

INSTITUTION = {"name": "d", "liabilities": 90.0}
ASSET = {"name": "a", "class": "corporate_ig", "sigma0": 0.01, "adv": 10.0}
HOLDING = {"institution": "d", "asset": "a", "quantity": 100.0}


def generated(tmp_path: Path, name: str = "sys") -> Path:
    out = tmp_path / name
    result = runner.invoke(app, ["generate", "--institutions", "5", "--assets", "3", "--seed", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


def row_problems(institution: dict | None = None, asset: dict | None = None) -> list[Problem]:
    with pytest.raises(DataError) as info, plausibility_checked():
        System.from_records([{**INSTITUTION, **(institution or {})}], [{**ASSET, **(asset or {})}], [HOLDING],
                            sources={"institutions": "institutions.csv", "assets": "assets.csv"})
    return info.value.problems


def scenario_problems(data: dict) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        parse_scenario(data, source="scenario.toml", allow_implausible=False)
    return info.value.problems


# --------------------------------------------------------------------------- the red team's case
def _dealer_market_in_percent() -> str:
    """dealer_market with every daily volatility written in percent (0.005 -> 0.5)."""
    text = (_preset_dir() / "dealer_market.toml").read_text()
    out, n = re.subn(r"(?m)^sigma0 = (\S+)$", lambda m: f"sigma0 = {float(m.group(1)) * 100:g}", text)
    assert n == 5
    return out


def test_sigma0_in_percent_fails_with_the_unit_mistake(tmp_path):
    path = tmp_path / "dealer_market.toml"
    path.write_text(_dealer_market_in_percent())
    with pytest.raises(DataError) as info:
        load(path)
    problems = info.value.problems
    assert len(problems) == 5 and validate(path) == problems
    first = problems[0]
    assert first.where == "dealer_market.toml [[assets]] row 1 (ust), field sigma0"
    assert first.message.startswith("sigma0 = 0.5 looks like a percentage")
    assert "daily volatility is a fraction per day (0.005 for 0.5%" in first.message
    assert "plausible: at most 0.2 (fraction/day)" in first.message
    assert "allow_implausible" in first.message and "--allow-implausible" in first.message
    # the CLI refuses it too, and says why
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1 and "looks like a percentage" in result.output


def test_sigma0_in_percent_message_of_the_issue():
    p = only(row_problems(asset={"sigma0": 4.5}))
    assert p.where == "assets.csv row 1 (a), field sigma0"
    assert p.message.startswith("sigma0 = 4.5 looks like a percentage: daily volatility is a fraction "
                                "(0.045 for 4.5%); plausible: at most 0.2 (fraction/day)")


def test_sigma0_in_percent_in_a_csv_table(tmp_path):
    folder = generated(tmp_path)
    lines = (folder / "assets.csv").read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    col = header.index("sigma0")
    cells[col] = f"{float(cells[col]) * 100:g}"
    lines[1] = ",".join(cells)
    (folder / "assets.csv").write_text("\n".join(lines) + "\n")
    p = only(validate(folder))
    assert p.code == "FS102" and p.where.startswith("assets.csv row 1 (") and p.where.endswith("field sigma0")
    assert "looks like a percentage" in p.message
    assert validate(folder, allow_implausible=True) == []
    assert read_tables(folder, allow_implausible=True).n_assets == 3
    with pytest.raises(DataError):
        read_tables(folder)


def test_allowed_by_the_loader_the_file_or_the_context(tmp_path):
    text = _dealer_market_in_percent()
    path = tmp_path / "dealer_market.toml"
    path.write_text(text)
    preset = load(path, allow_implausible=True)
    assert preset.system.assets[0].sigma0 == pytest.approx(0.5)
    flagged = tmp_path / "flagged.toml"
    flagged.write_text("allow_implausible = true\n" + text)
    assert validate(flagged) == []
    assert load(flagged).system.assets[3].sigma0 == pytest.approx(0.6)
    with implausible_allowed():
        assert validate(path) == []
    assert validate(path) != []  # the context manager resets on exit
    with plausibility_checked():
        assert Asset.model_validate({**ASSET, "sigma0": 4.5}, context={ALLOW_IMPLAUSIBLE: True}).sigma0 == 4.5
    with pytest.raises(ValidationError, match="looks like a percentage"):
        Asset.model_validate({**ASSET, "sigma0": 4.5}, context={ALLOW_IMPLAUSIBLE: False})


def test_values_set_in_python_are_checked_only_when_asked():
    # an explicit value built in Python (a reference model's normalised sigma = 1, a sweep)
    # is not second-guessed; the file loaders and plausibility_checked() check
    system = System.from_records([INSTITUTION], [{**ASSET, "sigma0": 1.0}], [HOLDING])
    assert system.assets[0].sigma0 == 1.0
    assert Scenario().updated(**{"market.mean_reversion": 0.99}).market.mean_reversion == 0.99
    assert parse_scenario({"shocks": [{"asset": "x", "volatility": 50}]}).shocks[0].volatility == 50
    with plausibility_checked(), pytest.raises(DataError, match="sigma0 = 1 looks like"):
        System.from_records([INSTITUTION], [{**ASSET, "sigma0": 1.0}], [HOLDING])
    with loader_checks(), implausible_allowed():
        System.from_records([INSTITUTION], [{**ASSET, "sigma0": 1.0}], [HOLDING])
    with implausible_allowed(), loader_checks():  # a loader inside implausible_allowed() allows
        System.from_records([INSTITUTION], [{**ASSET, "sigma0": 1.0}], [HOLDING])


def test_allow_implausible_false_in_the_file_checks(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text("allow_implausible = false\n" + _dealer_market_in_percent())
    assert len(validate(path)) == 5


# --------------------------------------------------------------------------- institutions and assets
@pytest.mark.parametrize("table, field, value, fragment", [
    ("assets", "sigma0", 0.3, "looks like a percentage or a yearly figure"),
    ("assets", "sigma0", 30, "if 30% is a year's, a day's is 0.0189"),
    ("assets", "haircut_beta", 5, "looks like a percentage"),
    ("assets", "duration", 120, "looks like months or days"),
    ("assets", "spread", 0.15, "looks like basis points or a percentage: the spread is a fraction of the price"),
    ("assets", "adverse_selection", 0.8, "informed share of order flow"),
    ("assets", "opacity", 0.7, "mark's discount"),
    ("assets", "max_discount", 0.8, "fire-sale discount"),
    ("assets", "capital_arrival", 0.9, "absorbed a round"),
    ("assets", "impact_kappa", 50, "square-root law"),
    ("institutions", "slr_trigger", 0.6, "leverage ratio"),
    ("institutions", "leverage_trigger", 0.8, "equity / total assets"),
    ("institutions", "run_threshold", 0.9, "equity / total assets"),
    ("institutions", "repo_rollover_threshold", 0.7, "equity / total assets"),
    ("institutions", "var_confidence", 0.6, "VaR confidence"),
    ("institutions", "redemption_sensitivity", 50, "flow-performance"),
    ("institutions", "first_mover", 30, "multiple"),
])
def test_implausible_row_value_names_field_value_range(table, field, value, fragment):
    changes = {field: value}
    if field == "spread":
        changes["sigma0"] = 0.1  # a spread below two daily deviations (Glosten-Milgrom)
    problems = row_problems(**({"institution": changes} if table == "institutions" else {"asset": changes}))
    ours = [p for p in problems if p.where.endswith(f"field {field}")]
    assert ours, problems
    p = ours[0]
    assert p.where.startswith(f"{table}.csv row 1")
    assert f"{field} = {value:g}" in p.message and fragment in p.message and "plausible:" in p.message
    assert "allow_implausible" in p.message


def test_several_implausible_values_of_a_row_are_reported_together():
    p = only(row_problems(asset={"sigma0": 4.5, "duration": 120}))
    assert "sigma0 = 4.5" in p.message and "duration = 120" in p.message
    assert p.message.count("If the value is meant") == 1


def test_plausible_edges_pass():
    with plausibility_checked():
        System.from_records([{**INSTITUTION, "slr_trigger": 0.5, "redemption_sensitivity": 10, "var_confidence": 0.9}],
                            [{**ASSET, "sigma0": 0.2, "duration": 50, "opacity": 0.5, "max_discount": 0.5}],
                            [HOLDING])


def test_haircut_above_one_says_percent_even_when_implausible_values_are_allowed():
    for allowed in (False, True):
        with plausibility_checked(not allowed):
            p = only(row_problems(asset={"haircut": 5}))
        assert p.where == "assets.csv row 1 (a), field haircut"
        assert "percent" in p.message and p.message.endswith("write 0.05")


def test_hard_bounds_hold_when_implausible_values_are_allowed():
    with pytest.raises(DataError) as info, implausible_allowed():
        System.from_records([INSTITUTION], [{**ASSET, "sigma0": -1}], [HOLDING])
    p = only(info.value.problems)
    assert "greater than 0" in p.message


def test_booleans_are_not_numbers_in_rows():
    p = only(row_problems(institution={"cash": True}))
    assert p.where == "institutions.csv row 1 (d), field cash"
    assert "got true (a boolean): is not a number" in p.message
    p = only(row_problems(asset={"liquidity_rank": False}))
    assert "got false (a boolean): is not a whole number" in p.message
    with pytest.raises(ValidationError):
        Institution(name="d", liabilities=True)


def test_text_cells_of_csv_tables_still_read_as_numbers():
    # a CSV cell is text: "0.01" is a number there (only TOML refuses quoted numbers)
    system = System.from_records([{"name": "d", "liabilities": "90"}], [{**ASSET, "sigma0": "0.01"}], [HOLDING])
    assert system.assets[0].sigma0 == 0.01 and system.institutions[0].liabilities == 90.0


# --------------------------------------------------------------------------- scenario
@pytest.mark.parametrize("data, field, fragment", [
    ({"shocks": [{"asset": "x", "volatility": 50}]}, "shocks.0.volatility", "a 50% rise is 1.5"),
    ({"shocks": [{"asset": "x", "volatility": 1e-300}]}, "shocks.0.volatility", "below what is plausible"),
    ({"shocks": [{"asset": "x", "price": 4}]}, "shocks.0.price", "a return is a fraction (0.04 for 4%)"),
    ({"shocks": [{"institution": "f", "redemption": 0.8}]}, "shocks.0.redemption", "share of NAV redeemed"),
    ({"shocks": [{"asset": "x", "repo_rate": 0.9}]}, "shocks.0.repo_rate", "annual repo rate"),
    ({"market": {"mean_reversion": 0.9}}, "market.mean_reversion", "fades a round"),
    ({"market": {"dealer_lean": 0.8}}, "market.dealer_lean", "buy back"),
    ({"volatility": {"cap": 50}}, "volatility.cap", "multiple of its fundamental"),
    ({"volatility": {"anchor": 0.9}}, "volatility.anchor", "GARCH"),
    ({"information": {"rfq_spread_multiplier": 50}}, "information.rfq_spread_multiplier", "RFQ spread"),
    ({"price_tolerance": 0.05}, "price_tolerance", "relative price move"),
    ({"policy": {"purchases": {"assets": ["x"], "price_floor": 0.05}}}, "policy.purchases.price_floor",
     "0.95 keeps prices within 5%"),
    ({"policy": {"repo_facility": {"assets": ["x"], "haircut": 0.02, "min_rate": 2.5}}},
     "policy.repo_facility.min_rate", "looks like a percentage"),
])
def test_implausible_scenario_value(data, field, fragment):
    p = only(scenario_problems(data))
    assert p.code == "FS205" and p.where == f"scenario.toml, field scenario.{field}"
    assert p.message.startswith(f"{field} = ") and fragment in p.message and "plausible:" in p.message
    assert "allow_implausible" in p.message
    assert parse_scenario(data, source="scenario.toml", allow_implausible=True) is not None


def test_every_implausible_scenario_value_is_reported_at_once():
    problems = scenario_problems({"shocks": [{"asset": "x", "volatility": 50}, {"asset": "y", "price": 4}],
                                  "market": {"mean_reversion": 0.9}})
    assert [p.where.split(", field scenario.", 1)[1] for p in problems] == [
        "shocks.0.volatility", "shocks.1.price", "market.mean_reversion"]


def test_neutral_infinities_are_plausible():
    scenario = parse_scenario({"volatility": {"cap": math.inf},
                               "policy": {"repo_facility": {"assets": ["x"], "haircut": 0.02}}},
                              allow_implausible=False)
    assert scenario.volatility.cap == math.inf


def test_updated_checks_inside_a_check_only():
    assert Scenario().updated(**{"market.mean_reversion": 0.9}).market.mean_reversion == 0.9
    with plausibility_checked(), pytest.raises(ConfigError) as info:
        Scenario().updated(**{"market.mean_reversion": 0.9})
    p = only(info.value.problems)
    assert p.code == "FS205" and p.where == "override, field scenario.market.mean_reversion"
    with plausibility_checked(), pytest.raises(ConfigError, match="shocks.0.volatility"):
        Scenario().updated(shocks=[{"asset": "x", "volatility": 40}])


def test_a_loaded_implausible_preset_can_be_updated_and_run_on(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(_dealer_market_in_percent())
    preset = load(path, allow_implausible=True)
    changed = preset.scenario.updated(name="x", **{"market.layoff_share": 0.0})
    assert changed.name == "x" and preset.system.assets[0].sigma0 == pytest.approx(0.5)


def test_policy_bundle_with_an_implausible_override(tmp_path):
    text = (_preset_dir() / "dealer_prime.toml").read_text()
    text += '\n[policies.calm]\ndescription = "pressure fades fast"\n"market.mean_reversion" = 0.9\n'
    path = tmp_path / "p.toml"
    path.write_text(text)
    p = only(validate(path))
    assert p.code == "FS205" and p.where == "p.toml, [policies.calm], field scenario.market.mean_reversion"
    assert validate(path, allow_implausible=True) == []
    path.write_text("allow_implausible = true\n" + text)
    assert load(path).policies["calm"]["overrides"] == {"market.mean_reversion": 0.9}


# --------------------------------------------------------------------------- what must still load
def test_builtin_presets_are_plausible():
    for name in list_presets():
        assert validate(name) == [], name
        load_preset(name)


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_synthetic_systems_are_plausible(seed):
    with plausibility_checked():
        generate_system(300, 60, 0.05, seed)


def test_generated_folder_is_plausible(tmp_path):
    assert validate(generated(tmp_path)) == []


def test_real_data_loaders_are_plausible():
    from firesale.data import callreport_quarters, load_callreport, load_eba2011, load_eba2016

    with plausibility_checked():  # the data sets shipped with the package  # their placeholder sigma0 (0.01) and measured ones are plausible
        load_eba2011()
        load_eba2016()
        load_callreport(callreport_quarters()[-1])


# --------------------------------------------------------------------------- declarations
def _hard(info) -> tuple[float, float]:
    low, high = -math.inf, math.inf
    for meta in info.metadata:
        if isinstance(meta, annotated_types.Ge):
            low = meta.ge
        elif isinstance(meta, annotated_types.Gt):
            low = meta.gt
        elif isinstance(meta, annotated_types.Le):
            high = meta.le
        elif isinstance(meta, annotated_types.Lt):
            high = meta.lt
    return low, high


@pytest.mark.parametrize("model", [Institution, Asset, Shock, Scenario, CentralBankPurchases, RepoFacility])
def test_fields_declare_units_and_plausible_ranges_inside_the_hard_ones(model):
    declared = 0
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        if model in (Institution, Asset):
            assert isinstance(extra, dict) and extra.get("unit"), name
        if not isinstance(extra, dict) or "plausible" not in extra:
            continue
        declared += 1
        low, high = extra["plausible"]
        hard_low, hard_high = _hard(info)
        assert extra.get("what"), name
        assert low is None or hard_low <= low, name
        assert high is None or high <= hard_high, name
        assert low is not None or high is not None, name
    if model is not Scenario:
        assert declared >= 1


def test_channel_ranges_name_real_fields():
    scenario = Scenario()
    for path in CHANNEL_PLAUSIBLE:
        section, name = path.split(".")
        assert name in type(getattr(scenario, section)).model_fields, path


def test_table_schema_lists_the_plausible_ranges():
    from firesale.schema import TABLES, table_schema

    sigma0 = next(c for c in table_schema("assets") if c["column"] == "sigma0")
    assert sigma0["plausible"] == (None, 0.2) and sigma0["unit"] == "fraction/day"
    assert all("plausible" in c for columns in TABLES.values() for c in columns)
