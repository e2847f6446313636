"""Summary metrics against hand-computed values: the loss split into levered capital and unlevered
mark-to-market, and the initial loss as the impulse run (every channel off, the exogenous waves on)."""

import math

import pytest

from firesale import Scenario, System, load_preset, simulate
from firesale.analytics import summarize
from firesale.analytics.amplification import channels_off, levered_institutions, with_impulse
from firesale.data.preset import list_presets
from firesale.errors import ConfigError


def test_yield_moves_from_prices_and_duration():
    # a price fall of 1 - exp(-0.009) on a bond of duration 9 is a 10 bp yield rise
    system = System.from_records(
        [{"name": "holder", "liabilities": 0.0}],
        [{"name": "ust10", "class": "treasury", "sigma0": 0.005, "duration": 9.0},
         {"name": "equities", "class": "equity", "sigma0": 0.01}],
        [{"institution": "holder", "asset": "ust10", "quantity": 100.0},
         {"institution": "holder", "asset": "equities", "quantity": 10.0}],
    )
    fall = math.expm1(-0.009)
    s = summarize(simulate(system, Scenario(shocks=[{"asset": "ust10", "price": fall}])))
    assert s["peak_yield_rise_bp"] == {"ust10": pytest.approx(10.0, abs=1e-9)}
    assert s["yield_change_bp"] == {"ust10": pytest.approx(10.0, abs=1e-9)}
    assert s["total_loss"] == pytest.approx(-100 * fall, abs=1e-9)


def test_second_round_loss_losses_by_type_and_group_and_time_to_stabilise():
    from firesale import load_preset, simulate
    from firesale.analytics import summarize

    p = load_preset("dealer_groups")
    s = summarize(simulate(p.system, p.scenario))
    assert s["second_round_loss"] == pytest.approx(s["total_loss"] - s["initial_loss"], rel=1e-12)
    assert sum(s["losses_by_type"].values()) == pytest.approx(s["total_loss"], rel=1e-9)
    assert sum(s["losses_by_group"].values()) == pytest.approx(s["total_loss"], rel=1e-9)
    assert set(s["losses_by_group"]) == {"A", "B", "C", "D", "HF", "AM"}
    assert 1 <= s["rounds_to_stabilise"] <= 40


# --------------------------------------------------------------------------- loss split and the impulse
def bank_and_fund(sensitivity: float = 0.0) -> System:
    """A levered bank (200 of a bond on 180 of debt: equity 20) and an unlevered fund (100
    of the same bond, no debt), linear impact with depth 1000; the fund's investors redeem
    ``sensitivity`` x its NAV fall in a round (flow-performance, the redemption channel)."""
    return System.from_records(
        [{"name": "bank", "type": "bank", "liabilities": 180.0},
         {"name": "fund", "type": "asset_manager", "liabilities": 0.0, "redemption_sensitivity": sensitivity}],
        [{"name": "bond", "class": "corporate_ig", "sigma0": 0.005, "impact": "linear", "depth": 1000.0}],
        [{"institution": "bank", "asset": "bond", "quantity": 200.0},
         {"institution": "fund", "asset": "bond", "quantity": 100.0}], name="bank_and_fund")


FALL = Scenario(name="fall", shocks=[{"asset": "bond", "price": -0.1}], max_rounds=1,
                channels={"information": False})


def test_loss_split_of_a_levered_bank_and_an_unlevered_fund():
    # the bond falls 10%: the fund's NAV too, and its investors redeem 1 x 10% of its NAV
    # of 90 = 9, sold at the pre-impact price 0.9 (10 units): the linear law takes the
    # price to 0.9 - 9/1000 = 0.891, and the fund executes halfway, at 0.8955.
    # By hand: bank 200 x (1 - 0.891) = 21.8; fund 100 - 90 x 0.891 - 10 x 0.8955 = 10.855.
    # With every channel off (the impulse) nobody sells: bank 20, fund 10.
    ds = simulate(bank_and_fund(1.0), with_impulse(FALL))
    s = summarize(ds)
    assert s["initial_loss_from"] == "impulse run"
    assert s["levered_institutions"] == 1
    assert [row["levered"] for row in s["institutions"]] == [True, False]
    expected = {"levered_capital_loss": 21.8, "unlevered_mark_to_market": 10.855, "total_loss": 32.655,
                "initial_levered_capital_loss": 20.0, "initial_unlevered_mark_to_market": 10.0, "initial_loss": 30.0,
                "shock_only_loss": 30.0, "amplification_levered": 21.8 / 20, "amplification_unlevered": 10.855 / 10,
                "amplification": 32.655 / 30, "second_round_loss": 2.655}
    for key, value in expected.items():
        assert s[key] == pytest.approx(value, abs=1e-9), key


def test_initial_loss_carries_the_exogenous_waves():
    # no price shock; investors redeem 20% of the fund's NAV of 100 in round 0, with every
    # channel on or off: it sells 20 at the t0 price 1, the price falls to 1 - 20/1000 = 0.98
    # and it executes at 0.99. By hand: bank 200 x 0.02 = 4; fund 100 - 80 x 0.98 - 20 x 0.99
    # = 1.8. The shock on t0 books alone is 0: it leaves the wave out.
    wave = Scenario(name="wave", shocks=[{"institution": "fund", "redemption": 0.2}], max_rounds=5,
                    channels={"information": False})
    s = summarize(simulate(bank_and_fund(), with_impulse(wave)))
    assert s["shock_only_loss"] == 0.0
    assert s["initial_loss"] == pytest.approx(5.8, abs=1e-9)
    assert s["initial_levered_capital_loss"] == pytest.approx(4.0, abs=1e-9)
    assert s["initial_unlevered_mark_to_market"] == pytest.approx(1.8, abs=1e-9)
    assert s["amplification"] == pytest.approx(1.0, abs=1e-12)  # no channel adds anything here


def test_where_the_initial_loss_comes_from():
    system = bank_and_fund(1.0)
    batch = simulate(system, with_impulse(FALL))
    alone = simulate(system, FALL)
    # given explicitly: the impulse run's numbers, as from the batch
    given = summarize(alone, impulse=simulate(system, channels_off(FALL)))
    assert given["initial_levered_capital_loss"] == pytest.approx(summarize(batch)["initial_levered_capital_loss"])
    # no impulse run and no exogenous wave: nobody sells with the channels off, so the
    # impulse is the shock's mark-to-market on t0 books, 300 x 10%, not split
    s = summarize(alone)
    assert (s["initial_loss_from"], s["initial_loss"]) == ("shock on t0 books", pytest.approx(30.0, abs=1e-9))
    assert s["initial_levered_capital_loss"] is None and s["amplification_levered"] is None
    # with a wave and no impulse run the initial loss is unknown, not the shock alone
    wave = FALL.updated(shocks=[{"institution": "fund", "redemption": 0.2}])
    s = summarize(simulate(system, wave))
    assert s["initial_loss"] is None and s["amplification"] is None and s["initial_loss_from"] is None
    with pytest.raises(ConfigError, match="FS832"):
        summarize(alone, impulse=batch)  # two scenarios: which one?
    # a scenario with every channel off is its own impulse
    off = channels_off(FALL)
    assert [sc.name for sc in with_impulse(off)] == [off.name]
    assert summarize(simulate(system, off))["amplification"] == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("name", list_presets())
def test_levered_reading_of_the_results_matches_the_system(name):
    preset = load_preset(name)
    ds = simulate(preset.system, preset.scenario, detail=False)
    assert levered_institutions(ds).values.tolist() == preset.system.levered0.tolist()
    # results without the coordinate (an earlier version's) read it from their t0 records
    assert levered_institutions(ds.drop_vars("levered")).values.tolist() == preset.system.levered0.tolist()
