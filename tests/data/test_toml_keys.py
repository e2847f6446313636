"""Every key of every TOML file is checked: unknown keys are errors naming the file and
the key (with the valid keys), booleans and quoted numbers never coerce into numbers, and
a file nested absurdly deep is a clear error, not a RecursionError."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from firesale.cli import app
from firesale.data import load, validate
from firesale.data.preset import MAX_DEPTH, _preset_dir
from firesale.errors import ConfigError, DataError, FiresaleError, Problem
from firesale.scenario import Scenario, Shock, parse_scenario
from test_units import generated, only  # a generated table folder; the one problem of a list

runner = CliRunner()


def with_scenario_toml(folder: Path, extra: str = "", replace: tuple[str, str] | None = None) -> Path:
    path = folder / "scenario.toml"
    text = path.read_text()
    if replace is not None:
        assert replace[0] in text
        text = text.replace(*replace)
    path.write_text(extra + text)
    return folder


def problems_of(target) -> list[Problem]:
    with pytest.raises(FiresaleError) as info:
        load(target)
    assert validate(target) == info.value.problems
    return info.value.problems


# --------------------------------------------------------------------------- a table folder's scenario.toml
def test_generated_folder_is_valid(tmp_path):
    folder = generated(tmp_path)
    assert validate(folder) == []
    result = runner.invoke(app, ["validate", str(folder)])
    assert result.exit_code == 0 and "valid" in result.output


def test_tables_section_in_a_folders_scenario_toml_is_an_error(tmp_path):
    folder = with_scenario_toml(generated(tmp_path),
                                replace=("[scenario]\n", '[tables]\nholdings = "other.csv"\n\n[scenario]\n'))
    p = only(problems_of(folder))
    assert p.code == "FS004" and p.where == "scenario.toml, key tables"
    assert "takes no [tables]" in p.message and "the folder's files are its tables" in p.message
    assert "Valid keys: allow_implausible, currency, description, name, parameters, policies, scenario, targets" in p.message
    result = runner.invoke(app, ["validate", str(folder)])
    assert result.exit_code == 1 and "valid\n" not in result.output and "key tables" in result.output


def test_inline_rows_in_a_folders_scenario_toml_are_an_error(tmp_path):
    folder = with_scenario_toml(generated(tmp_path))
    path = folder / "scenario.toml"
    path.write_text(path.read_text() + '\n[[institutions]]\nname = "ghost"\nliabilities = 1.0\n')
    p = only(problems_of(folder))
    assert p.where == "scenario.toml, key institutions" and "takes no [[institutions]]" in p.message


def test_unknown_top_level_key_of_a_folders_scenario_toml(tmp_path):
    folder = with_scenario_toml(generated(tmp_path), 'descripton = "typo"\n')
    p = only(problems_of(folder))
    assert p.code == "FS004" and p.where == "scenario.toml, key descripton"
    assert "Did you mean 'description'?" in p.message and "Valid keys:" in p.message


def test_max_rounds_true_is_not_one_round(tmp_path):
    folder = with_scenario_toml(generated(tmp_path), replace=("[scenario]\n", "[scenario]\nmax_rounds = true\n"))
    p = only(problems_of(folder))
    assert p.code == "FS206" and p.where == "scenario.toml, field scenario.max_rounds"
    assert "got true (a boolean): is not a whole number" in p.message
    result = runner.invoke(app, ["run", str(folder), "--json"])
    assert result.exit_code != 0


@pytest.mark.parametrize("data, field, shown", [
    ({"max_rounds": True}, "max_rounds", "true (a boolean)"),
    ({"max_rounds": "5"}, "max_rounds", "'5' (text in quotes)"),
    ({"tolerance": "1e-6"}, "tolerance", "'1e-6' (text in quotes)"),
    ({"price_tolerance": False}, "price_tolerance", "false (a boolean)"),
    ({"shocks": [{"asset": "x", "price": True}]}, "shocks.0.price", "true (a boolean)"),
    ({"shocks": [{"asset": "x", "price": -0.1, "round": True}]}, "shocks.0.round", "true (a boolean)"),
    ({"market": {"mean_reversion": True}}, "market.mean_reversion", "true (a boolean)"),
    ({"volatility": {"ewma_lambda": "0.94"}}, "volatility.ewma_lambda", "'0.94' (text in quotes)"),
    ({"information": {"rfq_depth": True}}, "information.rfq_depth", "true (a boolean)"),
    ({"policy": {"all_to_all": True}}, "policy.all_to_all", "true (a boolean)"),
    ({"policy": {"purchases": {"assets": ["x"], "daily_cap": True}}}, "policy.purchases.daily_cap", "true (a boolean)"),
])
def test_booleans_and_text_do_not_coerce_into_scenario_numbers(data, field, shown):
    with pytest.raises(ConfigError) as info:
        parse_scenario(data, source="scenario.toml")
    p = only(info.value.problems)
    assert p.code == "FS206" and p.where == f"scenario.toml, field scenario.{field}"
    assert p.message.startswith(f"got {shown}: is not a")


def test_direct_construction_refuses_booleans_for_numbers():
    with pytest.raises(ValidationError):
        Scenario(max_rounds=True)
    with pytest.raises(ValidationError):
        Shock(asset="x", volatility=True)
    with pytest.raises(ValidationError):
        Scenario.model_validate({"market": {"execution_alpha": True}})
    assert Scenario(max_rounds=5).max_rounds == 5 and Shock(asset="x", price=-1 / 3).price == -1 / 3


def test_cli_set_refuses_a_boolean_number():
    result = runner.invoke(app, ["run", "dealer_prime", "--set", "max_rounds=true", "--json"])
    assert result.exit_code != 0
    assert "max_rounds" in str(result.exception) + result.output


def test_text_nan_still_reads_as_nan():
    with pytest.raises(ConfigError, match="NaN is not a value"):
        parse_scenario({"shocks": [{"asset": "x", "volatility": "nan"}]})


# --------------------------------------------------------------------------- preset files
def _preset(tmp_path: Path, old: str, new: str, name: str = "p.toml") -> Path:
    text = (_preset_dir() / "dealer_prime.toml").read_text()
    assert old in text, old
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1))
    return path


def test_quoted_numbers_and_booleans_in_inline_rows(tmp_path):
    path = _preset(tmp_path, "sigma0 = 0.005", 'sigma0 = "0.005"')
    p = only(problems_of(path))
    assert p.code == "FS102" and p.where.endswith("field sigma0")
    assert "got '0.005' (text in quotes): is not a number" in p.message
    path = _preset(tmp_path, "cash = 50.0", "cash = true")
    p = only(problems_of(path))
    assert p.code == "FS101" and p.where.endswith("field cash") and "true (a boolean)" in p.message


def test_quoted_quantity_in_an_inline_holding(tmp_path):
    text = (_preset_dir() / "dealer_prime.toml").read_text()
    start = text.index("[[holdings]]")
    head, tail = text[:start], text[start:]
    line = next(x for x in tail.splitlines() if x.startswith("quantity = "))
    path = tmp_path / "p.toml"
    path.write_text(head + tail.replace(line, f'quantity = "{line.split(" = ")[1]}"', 1))
    p = only(problems_of(path))
    assert p.code == "FS104" and p.where.endswith("field quantity") and "(text in quotes)" in p.message


def test_an_inline_table_that_is_not_rows(tmp_path):
    path = _preset(tmp_path, 'currency = "USD bn"', 'currency = "USD bn"\nmarket_shares = 5')
    p = only(problems_of(path))
    assert p.code == "FS107" and p.where == "p.toml [[market_shares]]" and "got 5, not a list of rows" in p.message


def test_top_level_values_have_their_types(tmp_path):
    path = _preset(tmp_path, 'currency = "USD bn"', "currency = 5")
    p = only(problems_of(path))
    assert p.code == "FS151" and p.where == "p.toml, key currency" and "write it in quotes" in p.message
    path = _preset(tmp_path, 'currency = "USD bn"', 'currency = "USD bn"\nallow_implausible = "yes"')
    p = only(problems_of(path))
    assert p.code == "FS151" and p.where == "p.toml, key allow_implausible"


def test_unknown_top_level_key_of_a_preset_file(tmp_path):
    path = _preset(tmp_path, 'currency = "USD bn"', 'currency = "USD bn"\nallow_implausable = true')
    p = only(problems_of(path))
    assert p.code == "FS004" and "Did you mean 'allow_implausible'?" in p.message


# --------------------------------------------------------------------------- nesting
def test_preset_nested_ten_thousand_levels_deep(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text('name = "deep"\nx = ' + "[" * 10_000 + "]" * 10_000 + "\n")
    with pytest.raises(DataError) as info:
        load(path)
    p = only(info.value.problems)
    assert p.code == "FS003" and p.where == "deep.toml" and "nested" in p.message
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1 and "nested" in result.output


def test_inline_tables_ten_thousand_levels_deep(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "{a = " * 10_000 + "1" + "}" * 10_000 + "\n")
    p = only(problems_of(path))
    assert p.code == "FS003" and "nested" in p.message


def test_dotted_headers_ten_thousand_levels_deep(tmp_path):
    # parses without recursion, but the loader must not recurse into it either
    path = tmp_path / "deep.toml"
    path.write_text("[policies." + ".".join(["a"] * 10_000) + "]\nb = 1\n")
    p = only(problems_of(path))
    assert p.code == "FS003" and f"more than {MAX_DEPTH}" in p.message


def test_deep_scenario_toml_of_a_folder_names_it(tmp_path):
    folder = generated(tmp_path)
    path = folder / "scenario.toml"
    path.write_text("x = " + "[" * 10_000 + "]" * 10_000 + "\n" + path.read_text())
    p = only(problems_of(folder))
    assert p.code == "FS003" and p.where == "scenario.toml" and "nested" in p.message


def test_builtin_presets_are_shallow():
    for path in _preset_dir().iterdir():
        if path.name.endswith(".toml"):
            assert validate(path.name.removesuffix(".toml")) == []
