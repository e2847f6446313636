"""The dashboard's plain functions: widget values into scenarios, the system's summary,
problems as rows."""

import numpy as np
import pytest

from firesale import load_preset, simulate
from firesale.dashboard import logic
from firesale.errors import ConfigError, Problem
from firesale.scenario import Scenario


def test_untouched_widgets_give_the_preset_scenario():
    preset = load_preset("march_2020")
    scenario = logic.scenario_from_inputs(
        preset.scenario, preset.system, assets=logic.asset_shock_inputs(preset.scenario, preset.system),
        redemptions=logic.redemption_inputs(preset.scenario, preset.system),
        switches={k: v["value"] for k, v in logic.channel_switches(preset.scenario).items()},
        levers={k: v["value"] for k, v in logic.policy_levers(preset.scenario).items()})
    assert scenario is preset.scenario


def test_changed_round_0_shocks_keep_the_later_rounds():
    preset = load_preset("march_2020")
    assets = logic.asset_shock_inputs(preset.scenario, preset.system)
    assets["price"]["corp_ig"] = -0.02
    redemptions = dict.fromkeys(logic.redemption_inputs(preset.scenario, preset.system), 0.0)
    scenario = logic.scenario_from_inputs(preset.scenario, preset.system, assets=assets, redemptions=redemptions)
    round_0 = [s for s in scenario.shocks if s.round == 0]
    assert {(s.asset, s.price, s.volatility) for s in round_0} == {("corp_ig", -0.02, None), ("ust_10y", None, 2.5)}
    assert [s for s in scenario.shocks if s.round > 0] == [s for s in preset.scenario.shocks if s.round > 0]


def test_switches_levers_and_programmes():
    preset = load_preset("dealer_groups")
    scenario = logic.scenario_from_inputs(preset.scenario, preset.system,
                                          switches={"channels.margin": False, "market.intermediation": True},
                                          levers={"policy.slr_exemption": True, "policy.all_to_all": 0.2})
    assert not scenario.channels.margin and scenario.market.intermediation
    assert scenario.policy.slr_exemption and scenario.policy.all_to_all == 0.2
    with_purchases = preset.scenario.updated(**{"policy.purchases": {"assets": ["ust"]}})
    assert logic.policy_levers(with_purchases)["policy.purchases"]["kind"] == "programme"
    dropped = logic.scenario_from_inputs(with_purchases, preset.system, levers={"policy.purchases": False})
    assert dropped.policy.purchases is None


def test_out_of_range_input_is_a_config_error_naming_the_field():
    preset = load_preset("dealer_prime")
    assets = logic.asset_shock_inputs(preset.scenario, preset.system)
    assets["price"]["corporates"] = -1.5
    with pytest.raises(ConfigError, match=r"scenario\.shocks\.0\.price"):
        logic.scenario_from_inputs(preset.scenario, preset.system, assets=assets)


def test_capital_ratios_are_the_engines_round_0_measure():
    preset = load_preset("dealer_groups")
    ratios = logic.capital_ratios(preset.system)
    ds = simulate(preset.system, Scenario()).isel(scenario=0, round=0)
    engine = np.where(ds.has_slr == 1, ds.slr, ds.leverage_ratio)
    np.testing.assert_allclose(ratios["ratio"].to_numpy(), engine, rtol=1e-12)
    assert (ratios.loc[ratios["measure"] == "SLR", "minimum"] == 0.03).all()


def test_overlap_and_counts():
    system = load_preset("dealer_groups").system
    overlap = logic.holdings_overlap(system)
    assert overlap.shape == (system.n_institutions,) * 2
    np.testing.assert_allclose(np.diag(overlap), 1.0)
    counts = logic.institution_counts(system)
    assert counts.loc["dealer", "total"] == 12 and counts.loc["total", "total"] == system.n_institutions


def test_problem_rows_split_where():
    rows = logic.problem_rows([Problem("FS121", "assets.csv, column sigma0", "missing"),
                               Problem("FS001", "preset 'x'", "unknown")])
    assert rows[0] | {"message": ""} == {"code": "FS121", "table": "assets.csv", "row": "", "field": "sigma0",
                                        "message": ""}
    assert (rows[1]["table"], rows[1]["row"], rows[1]["field"]) == ("", "", "")


def test_overlap_of_a_large_sparse_system_shows_its_largest_institutions():
    from firesale.data.synthetic import generate_system
    from firesale.dashboard.logic import OVERLAP_MAX_INSTITUTIONS, capital_ratios, holdings_overlap

    system = generate_system(1500, 700, density=20 / 700, seed=3)
    assert system.sparse
    overlap = holdings_overlap(system)
    assert overlap.shape == (OVERLAP_MAX_INSTITUTIONS, OVERLAP_MAX_INSTITUTIONS)
    largest = system.institution_names[int(np.argmax(system.total_assets0))]
    assert largest in overlap.index and overlap.loc[largest, largest] == pytest.approx(1.0)
    assert len(capital_ratios(system)) == 1500


def test_the_ratio_chart_of_a_large_system_shows_those_closest_to_their_trigger():
    from firesale.data.synthetic import generate_system
    from firesale.dashboard.logic import OVERLAP_MAX_INSTITUTIONS, capital_ratios, tightest

    ratios = capital_ratios(generate_system(500, 60, density=0.1, seed=4))
    shown = tightest(ratios)
    assert len(shown) == OVERLAP_MAX_INSTITUTIONS
    assert shown["headroom"].max() <= ratios["headroom"].drop(shown.index).min()
    small = ratios.head(10)
    assert tightest(small).index.equals(small.index)
