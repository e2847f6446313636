"""compare(): the baseline and each policy in one simulate batch, with named policies."""

from __future__ import annotations

from pathlib import Path

import pytest

import firesale.analytics.compare as compare_module
from firesale import load_preset, simulate
from firesale.analytics import summarize
from firesale.analytics.amplification import with_impulse
from firesale.analytics.compare import compare, policy_names, policy_overrides, policy_scenario
from firesale.data import load
from firesale.data.preset import _preset_dir, policy_switches
from firesale.errors import ConfigError
from firesale.scenario import Policy

BUNDLES = """
[policies.fed_response]
description = "Fed purchases plus the SLR exemption"
"policy.slr_exemption" = true

[policies.full_pass_through]
description = "Sellers execute at the post-impact price"
market.execution_alpha = 1.0
"""


def preset_with_bundles(tmp_path: Path, extra: str = BUNDLES) -> Path:
    """The dealer_prime preset as a file, with policy bundles appended."""
    path = tmp_path / "prime.toml"
    path.write_text((_preset_dir() / "dealer_prime.toml").read_text() + extra)
    return path


def test_policy_switches_are_the_boolean_fields_of_policy():
    switches = policy_switches()
    booleans = [name for name, info in Policy.model_fields.items() if info.annotation is bool]
    assert set(booleans) <= set(switches)
    assert {"slr_exemption", "haircut_floor"} <= set(switches)
    assert switches["slr_exemption"] == Policy.model_fields["slr_exemption"].description


def test_dealer_prime_exemption_stops_the_sale():
    out = compare(load_preset("dealer_prime"), ["slr_exemption"])
    assert set(out) == {"baseline", "policies"} and list(out["policies"]) == ["slr_exemption"]
    base, policy = out["baseline"], out["policies"]["slr_exemption"]
    assert base["forced_sales"] == pytest.approx(114.0, abs=1e-9)
    assert policy["forced_sales"] == 0.0
    for summary in (base, policy):
        # prices settle in the shock round (round 0) and stay: none after it moves
        assert summary["rounds_to_stabilise"] == 0 and summary["rounds"] == 1 and summary["stabilised"]
        assert summary["peak_price_fall"] == {"treasuries": 0.0, "corporates": pytest.approx(0.04, abs=1e-12),
                                              "other": 0.0}


def test_dealer_groups_exemption_lowers_amplification():
    out = compare(load_preset("dealer_groups"), ["slr_exemption"])
    base, policy = out["baseline"], out["policies"]["slr_exemption"]
    assert base["amplification"] > 1.5
    assert policy["amplification"] < base["amplification"]
    assert policy["forced_sales"] < base["forced_sales"]
    assert all(v >= 0 for v in policy["peak_price_fall"].values())
    assert policy["peak_price_fall"]["corp_hy"] < base["peak_price_fall"]["corp_hy"]


def test_one_batch_equals_each_scenario_alone(monkeypatch):
    calls = []
    real = compare_module.simulate

    def counting(system, scenarios, **kw):
        calls.append(len(scenarios))
        return real(system, scenarios, **kw)

    monkeypatch.setattr(compare_module, "simulate", counting)
    preset = load_preset("dealer_prime")
    names = ["slr_exemption", "haircut_floor", "slr_exemption+haircut_floor"]
    out = compare(preset, names)
    assert calls == [8]  # the baseline and three policies, and the impulse run of each (every channel off)
    runs = [out["baseline"], *(out["policies"][n] for n in names)]
    scenarios = [preset.scenario, *(policy_scenario(preset, n) for n in names)]
    for summary, scenario in zip(runs, scenarios):
        ds = real(preset.system, with_impulse(scenario))  # the scenario alone, with its impulse run
        alone = summarize(ds)
        assert {k: summary[k] for k in alone} == alone
        assert summary["peak_price_fall"] == {str(a): max(0.0, 1.0 - float(p))
                                              for a, p in zip(ds.asset.values, ds.price.isel(scenario=0).min("round").values)}


def test_one_batch_dealer_groups_matches_alone():
    preset = load_preset("dealer_groups")
    out = compare(preset, ["slr_exemption"])
    alone = summarize(simulate(preset.system, policy_scenario(preset, "slr_exemption")))
    for key in ("total_loss", "amplification", "forced_sales", "defaults", "rounds"):
        assert out["policies"]["slr_exemption"][key] == pytest.approx(alone[key], rel=1e-12, abs=1e-12)


def test_combination_applies_both():
    preset = load_preset("dealer_prime")
    assert policy_overrides(preset, "slr_exemption+haircut_floor") == {
        "policy.slr_exemption": True, "policy.haircut_floor": True}
    scenario = policy_scenario(preset, "slr_exemption + haircut_floor")
    assert scenario.policy.slr_exemption and scenario.policy.haircut_floor
    assert scenario.name == "corporates_down_4pct+slr_exemption + haircut_floor"
    assert preset.scenario.policy.slr_exemption is False


def test_a_name_given_twice_runs_once():
    out = compare(load_preset("dealer_prime"), ["slr_exemption", "slr_exemption"])
    assert list(out["policies"]) == ["slr_exemption"]


def test_bundles_from_the_preset_file(tmp_path):
    preset = load(preset_with_bundles(tmp_path))
    assert preset.policies == {
        "fed_response": {"description": "Fed purchases plus the SLR exemption",
                         "overrides": {"policy.slr_exemption": True}},
        "full_pass_through": {"description": "Sellers execute at the post-impact price",
                              "overrides": {"market.execution_alpha": 1.0}},
    }
    names = policy_names(preset)
    assert list(names)[-2:] == ["fed_response", "full_pass_through"]
    assert names["fed_response"] == "Fed purchases plus the SLR exemption"
    assert "slr_exemption" in names and "haircut_floor" in names
    out = compare(preset, ["fed_response", "fed_response+full_pass_through"])
    assert out["baseline"]["forced_sales"] == pytest.approx(114.0, abs=1e-9)
    assert out["policies"]["fed_response"]["forced_sales"] == 0.0
    assert policy_scenario(preset, "fed_response+full_pass_through").market.execution_alpha == 1.0


def test_unknown_policy_lists_known_and_suggests():
    preset = load_preset("dealer_prime")
    with pytest.raises(ConfigError) as info:
        compare(preset, ["slr_exemptin"])
    message = str(info.value)
    assert "unknown policy 'slr_exemptin'" in message and "Did you mean 'slr_exemption'?" in message
    for name in policy_names(preset):
        assert name in message
    with pytest.raises(ConfigError, match="part 'haircut_flor'.*Did you mean 'haircut_floor'"):
        policy_overrides(preset, "slr_exemption+haircut_flor")
    with pytest.raises(ConfigError, match="empty part"):
        policy_overrides(preset, "slr_exemption+")


def test_conflicting_combination(tmp_path):
    extra = BUNDLES + '\n[policies.no_exemption]\n"policy.slr_exemption" = false\n'
    preset = load(preset_with_bundles(tmp_path, extra))
    with pytest.raises(ConfigError) as info:
        policy_overrides(preset, "fed_response+no_exemption")
    assert "cannot be combined" in str(info.value) and "scenario.policy.slr_exemption" in str(info.value)
