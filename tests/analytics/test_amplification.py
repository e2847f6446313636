"""Summary metrics against hand-computed values."""

import math

import pytest

from firesale import Scenario, System, simulate
from firesale.analytics import summarize


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
