"""Presets: built-in names, .toml files and directories; every problem named."""

from __future__ import annotations

from pathlib import Path

import pytest

from firesale.data import list_presets, load, load_preset, validate
from firesale.data.preset import _preset_dir
from firesale.errors import ConfigError, DataError, FiresaleError, Problem

PRESET = """\
name = "tiny"
description = "two dealers"
currency = "USD bn"

[[institutions]]
name = "dealer_a"
cash = 10.0
liabilities = 80.0
slr_trigger = 0.03

[[institutions]]
name = "dealer_b"
cash = 5.0
liabilities = 40.0

[[assets]]
name = "treasuries"
class = "treasury"
sigma0 = 0.01
depth = inf

[[assets]]
name = "corporates"
class = "corporate_ig"
sigma0 = 0.02
depth = 500.0

[[holdings]]
institution = "dealer_a"
asset = "treasuries"
quantity = 60.0

[[holdings]]
institution = "dealer_a"
asset = "corporates"
quantity = 40.0

[[holdings]]
institution = "dealer_b"
asset = "corporates"
quantity = 50.0

[scenario]
name = "corporates_down"
max_rounds = 10

[scenario.market]
execution_alpha = 0.5

[[scenario.shocks]]
asset = "corporates"
price = -0.04
"""


def preset_file(tmp_path: Path, text: str = PRESET, name: str = "tiny.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def raised(target, kind=FiresaleError) -> list[Problem]:
    with pytest.raises(kind) as info:
        load(target)
    assert validate(target) == info.value.problems
    return info.value.problems


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


# --------------------------------------------------------------------------- built-in
def test_builtin_presets_load_and_validate():
    names = list_presets()
    assert "dealer_prime" in names and "var_desk" in names
    for name in names:
        assert validate(name) == []
    preset = load_preset("dealer_prime")
    assert preset.system.currency == "USD bn" and preset.scenario.shocks[0].asset == "corporates"


def test_unknown_preset_lists_known_and_suggests_the_closest():
    with pytest.raises(ConfigError) as info:
        load("dealer_prme")
    p = only(info.value.problems)
    assert p.where == "preset 'dealer_prme'"
    assert "unknown preset" in p.message and "Did you mean 'dealer_prime'?" in p.message
    for name in list_presets():
        assert name in p.message
    assert "give a .toml file or a directory of tables" in p.message
    assert validate("dealer_prme") == info.value.problems


def test_unknown_preset_without_a_close_name():
    with pytest.raises(ConfigError) as info:
        load_preset("zzz")
    assert "Did you mean" not in str(info.value) and "Known presets: " in str(info.value)


def test_default_preset_names_are_toml_files():
    for name in list_presets():
        assert (_preset_dir() / f"{name}.toml").is_file()


# --------------------------------------------------------------------------- files
def test_preset_file(tmp_path):
    preset = load(preset_file(tmp_path))
    assert preset.name == "tiny" and preset.system.currency == "USD bn"
    assert preset.system.institutions[0].level("slr", "target") == 0.03
    assert preset.scenario.max_rounds == 10 and preset.source == "tiny.toml"


def test_invalid_toml_names_the_file_and_line(tmp_path):
    path = preset_file(tmp_path, PRESET.replace('name = "dealer_b"', 'name = "dealer_b'), name="broken.toml")
    p = only(raised(path, DataError))
    assert p.where == "broken.toml"
    assert "is not valid TOML" in p.message and "line 12" in p.message
    assert p.message.endswith("fix the syntax there")


def test_missing_toml_file(tmp_path):
    p = only(raised(tmp_path / "absent.toml", ConfigError))
    assert p.where == str(tmp_path / "absent.toml") and "not found" in p.message


def test_path_that_is_not_there(tmp_path):
    p = only(raised(str(tmp_path / "no_such_dir"), ConfigError))
    assert "no such file or directory" in p.message and "check the path" in p.message


def test_unknown_top_level_key(tmp_path):
    path = preset_file(tmp_path, PRESET.replace('currency = "USD bn"', 'currency = "USD bn"\ncurrencies = 1'))
    p = only(raised(path, ConfigError))
    assert p.where == "tiny.toml, key currencies"
    assert "Did you mean 'currency'?" in p.message


def test_inline_table_instead_of_array(tmp_path):
    text = PRESET.replace('[[institutions]]\nname = "dealer_b"\ncash = 5.0\nliabilities = 40.0\n', "")
    text = text.replace("[[institutions]]", "[institutions]")
    problems = raised(preset_file(tmp_path, text), DataError)
    p = problems[0]
    assert p.where == "tiny.toml [[institutions]]"
    assert "not a list of rows" in p.message and "[[...]]" in p.message


# --------------------------------------------------------------------------- table problems in a preset
def test_problems_in_inline_tables(tmp_path):
    text = PRESET.replace("slr_trigger = 0.03", "slr_trigger = 0.03\nslr_target = 5").replace(
        "quantity = 50.0", "quantity = -50.0")
    problems = raised(preset_file(tmp_path, text), DataError)
    by_where = {p.where: p.message for p in problems}
    assert by_where["tiny.toml [[institutions]] row 1 (dealer_a), field slr_target"].endswith("write 0.05")
    assert "negative holdings" in by_where["tiny.toml [[holdings]] row 3 (dealer_b, corporates), field quantity"]


def test_insolvent_institution_in_a_preset(tmp_path):
    p = only(raised(preset_file(tmp_path, PRESET.replace("liabilities = 40.0", "liabilities = 60.0")), DataError))
    assert p.where == "tiny.toml [[institutions]] row 2 (dealer_b), field liabilities"
    assert "insolvent at t0" in p.message


def test_empty_preset(tmp_path):
    problems = raised(preset_file(tmp_path, 'name = "empty"\n'), DataError)
    messages = " ".join(p.message for p in problems)
    assert "no institutions" in messages and "no assets" in messages


def test_tables_section_reads_files(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "holdings.csv").write_text(
        "institution,asset,quantity\ndealer_a,treasuries,60\ndealer_a,corporates,40\ndealer_b,corporates,50\n")
    head, _, tail = PRESET.partition("[[holdings]]")
    text = head + '[tables]\nholdings = "data/holdings.csv"\n\n[scenario]' + tail.split("[scenario]", 1)[1]
    preset = load(preset_file(tmp_path, text))
    assert preset.system.holdings.tolist() == [[60.0, 40.0], [0.0, 50.0]]


def test_tables_section_with_a_missing_file(tmp_path):
    text = PRESET.replace("[scenario]\n", '[tables]\ncorrelations = "corr.csv"\n\n[scenario]\n', 1)
    p = only(raised(preset_file(tmp_path, text), DataError))
    assert p.where == "tiny.toml, field tables.correlations"
    assert "'corr.csv' not found" in p.message and "relative to the preset file" in p.message


def test_tables_section_with_a_missing_column(tmp_path):
    (tmp_path / "corr.csv").write_text("asset_a,asset_b\ntreasuries,corporates\ntreasuries,corporates\n")
    text = PRESET.replace("[scenario]\n", '[tables]\ncorrelations = "corr.csv"\n\n[scenario]\n', 1)
    p = only(raised(preset_file(tmp_path, text), DataError))
    assert p.where == "corr.csv, column correlation" and "required column 'correlation' is missing" in p.message


def test_tables_section_with_an_unknown_table(tmp_path):
    text = PRESET.replace("[scenario]\n", '[tables]\nholding = "h.csv"\n\n[scenario]\n', 1)
    p = only(raised(preset_file(tmp_path, text), ConfigError))
    assert p.where == "tiny.toml, field tables.holding" and "Did you mean 'holdings'?" in p.message


# --------------------------------------------------------------------------- scenario in a preset
def test_scenario_typo_names_the_dotted_path(tmp_path):
    path = preset_file(tmp_path, PRESET.replace("execution_alpha = 0.5", "execution_alpah = 0.5"))
    p = only(raised(path, ConfigError))
    assert p.where == "tiny.toml, field scenario.market.execution_alpah"
    assert "not a known field" in p.message and "Did you mean 'execution_alpha'?" in p.message


def test_shock_naming_an_unknown_asset(tmp_path):
    path = preset_file(tmp_path, PRESET.replace('asset = "corporates"\nprice', 'asset = "corprates"\nprice'))
    p = only(raised(path, ConfigError))
    assert p.where == "tiny.toml, field scenario.shocks.0.asset"
    assert "unknown asset 'corprates'" in p.message and "Did you mean 'corporates'?" in p.message
    assert "Known assets: treasuries, corporates" in p.message and p.message.endswith("use one of these names")


def test_shock_naming_an_unknown_institution(tmp_path):
    text = PRESET + '\n[[scenario.shocks]]\ninstitution = "dealer_c"\ndefault = true\n'
    p = only(raised(preset_file(tmp_path, text), ConfigError))
    assert p.where == "tiny.toml, field scenario.shocks.1.institution"
    assert "Known institutions: dealer_a, dealer_b" in p.message


def test_table_and_scenario_problems_together(tmp_path):
    text = PRESET.replace("quantity = 50.0", "quantity = -50.0").replace("max_rounds = 10", "max_round = 10")
    problems = raised(preset_file(tmp_path, text), DataError)
    wheres = {p.where for p in problems}
    assert wheres == {"tiny.toml [[holdings]] row 3 (dealer_b, corporates), field quantity",
                      "tiny.toml, field scenario.max_round"}


# --------------------------------------------------------------------------- directories
def write_dir(directory: Path, scenario: str | None) -> Path:
    directory.mkdir()
    (directory / "institutions.csv").write_text("name,cash,liabilities\ndealer_a,10,80\n")
    (directory / "assets.csv").write_text("name,class,sigma0\ntreasuries,treasury,0.01\n")
    (directory / "holdings.csv").write_text("institution,asset,quantity\ndealer_a,treasuries,90\n")
    if scenario is not None:
        (directory / "scenario.toml").write_text(scenario)
    return directory


def test_directory_with_scenario(tmp_path):
    directory = write_dir(tmp_path / "sys", 'name = "mine"\ncurrency = "EUR m"\n[scenario]\nmax_rounds = 3\n')
    preset = load(directory)
    assert preset.name == "mine" and preset.system.currency == "EUR m" and preset.scenario.max_rounds == 3


def test_directory_without_scenario(tmp_path):
    preset = load(write_dir(tmp_path / "sys", None))
    assert preset.name == "sys" and preset.scenario.shocks == ()


def test_directory_reports_table_and_scenario_problems_together(tmp_path):
    directory = write_dir(tmp_path / "sys", '[scenario.market]\nexecution_alpah = 0.3\n')
    (directory / "holdings.csv").write_text("institution,asset,quantity\ndealer_a,treasuries,-90\n")
    problems = raised(directory, DataError)
    assert {p.where for p in problems} == {"holdings.csv row 1 (dealer_a, treasuries), field quantity",
                                          "scenario.toml, field scenario.market.execution_alpah"}


def test_directory_with_invalid_scenario_toml(tmp_path):
    directory = write_dir(tmp_path / "sys", "[scenario\n")
    p = only(raised(directory, DataError))
    assert p.where == "scenario.toml" and "is not valid TOML" in p.message


def test_directory_missing_a_table(tmp_path):
    directory = write_dir(tmp_path / "sys", None)
    (directory / "assets.csv").unlink()
    p = only(raised(directory, DataError))
    assert p.where == "sys/assets.csv" and "add assets.csv or assets.parquet" in p.message


def test_directory_with_a_currency_column_that_disagrees(tmp_path):
    directory = write_dir(tmp_path / "sys", 'currency = "USD bn"\n')
    (directory / "institutions.csv").write_text("name,cash,liabilities,currency\ndealer_a,10,80,EUR bn\n")
    p = only(raised(directory, DataError))
    assert p.where == "institutions.csv row 1, field currency" and "mismatched units" in p.message


# --------------------------------------------------------------------------- [policies.NAME] bundles
POLICIES = """
[policies.fed_response]
description = "Fed purchases plus the SLR exemption"
"policy.slr_exemption" = true

[policies.cheap_exit]
market.execution_alpha = 1.0
"""


def test_policy_bundles_are_read(tmp_path):
    preset = load(preset_file(tmp_path, PRESET + POLICIES))
    assert preset.policies == {
        "fed_response": {"description": "Fed purchases plus the SLR exemption",
                         "overrides": {"policy.slr_exemption": True}},
        "cheap_exit": {"description": "", "overrides": {"market.execution_alpha": 1.0}},
    }
    assert preset.scenario.policy.slr_exemption is False  # the baseline is untouched


def test_presets_without_policies_have_none():
    assert load_preset("dealer_prime").policies == {}


def test_policy_bundle_with_a_typo_names_file_and_policy(tmp_path):
    text = PRESET + POLICIES + '\n[policies.relief]\n"policy.slr_exemptoin" = true\n'
    p = only(raised(preset_file(tmp_path, text), ConfigError))
    assert p.where == "tiny.toml, [policies.relief], field scenario.policy.slr_exemptoin"
    assert "Did you mean 'slr_exemption'?" in p.message


def test_policy_bundle_with_a_bad_value_or_shock(tmp_path):
    text = PRESET + ('\n[policies.a]\nmax_rounds = 0\n'
                     '\n[policies.b]\ndescription = "b"\n[[policies.b.shocks]]\nasset = "corprates"\nprice = -0.01\n')
    problems = raised(preset_file(tmp_path, text), ConfigError)
    by_where = {p.where: p.message for p in problems}
    assert set(by_where) == {"tiny.toml, [policies.a], field scenario.max_rounds",
                             "tiny.toml, [policies.b], field scenario.shocks.0.asset"}
    assert "at least 1" in by_where["tiny.toml, [policies.a], field scenario.max_rounds"]
    assert "Did you mean 'corporates'?" in by_where["tiny.toml, [policies.b], field scenario.shocks.0.asset"]


@pytest.mark.parametrize("section, needle", [
    ('[policies.slr_exemption]\n"policy.slr_exemption" = true\n', "is the policy switch"),
    ('[policies.baseline]\n"policy.slr_exemption" = true\n', "not a usable policy name"),
    ('[policies."a+b"]\n"policy.slr_exemption" = true\n', "not a usable policy name"),
    ('[policies.nothing]\ndescription = "x"\n', "sets no scenario field"),
    ('[policies]\nx = 1\n', "a policy is a section"),
    ('policies = 3\n', "write each policy as a section"),
])
def test_policy_bundle_problems(tmp_path, section, needle):
    if section.startswith("policies ="):  # a top-level key: before the first table
        text = PRESET.replace('currency = "USD bn"\n', 'currency = "USD bn"\n' + section, 1)
    else:
        text = PRESET + "\n" + section
    p = only(raised(preset_file(tmp_path, text), ConfigError))
    assert p.where.startswith("tiny.toml, ") and needle in p.message


def test_policy_bundles_in_a_directory(tmp_path):
    directory = write_dir(tmp_path / "sys", '[scenario]\nmax_rounds = 3\n' + POLICIES)
    preset = load(directory)
    assert list(preset.policies) == ["fed_response", "cheap_exit"]
    bad = write_dir(tmp_path / "bad", '[policies.x]\n"market.execution_alpah" = 1\n')
    p = only(raised(bad, ConfigError))
    assert p.where == "scenario.toml, [policies.x], field scenario.market.execution_alpah"


def test_policy_switches_read_boolean_and_nested_fields_generically():
    from pydantic import BaseModel, Field

    from firesale.data.preset import _bool_fields, policy_switches

    class Purchases(BaseModel):
        enabled: bool = Field(False, description="Central bank buys.")
        amount: float = 0.0

    class FuturePolicy(BaseModel):
        exemption: bool = Field(False, description="An   exemption.")
        cap: bool | None = None
        level: float = 0.5
        purchases: Purchases = Field(default_factory=Purchases)

    assert _bool_fields(FuturePolicy, "") == {"exemption": "An exemption.", "cap": "", "purchases.enabled":
                                              "Central bank buys."}
    assert {"slr_exemption", "haircut_floor"} <= set(policy_switches())


def test_unknown_asset_in_a_policy_programme_fails_at_load(tmp_path):
    text = (_preset_dir() / "dealer_prime.toml").read_text()
    text += '\n[scenario.policy.purchases]\nassets = ["treasurys"]\n'
    path = tmp_path / "prime.toml"
    path.write_text(text)
    with pytest.raises(FiresaleError) as info:
        load(path)
    message = str(info.value)
    assert "prime.toml" in message and "scenario.policy.purchases.assets" in message
    assert "Did you mean 'treasuries'" in message
