"""Policy levers, each against a number worked out by hand."""

import pytest

from firesale import Scenario, System, load_preset, simulate
from firesale.testing import assert_invariants

#: Worked by hand: quotes, spreads, marks and depth as at t0 (information off), and sales
#: go straight to outside buyers (no dealer intermediation).
BY_HAND = {"channels": {"information": False}, "market": {"intermediation": False}}


def _seller(depth: float = 500.0) -> System:
    """A bank that must sell 9 of bonds after a 1% fall (leverage 10 kept)."""
    return System.from_records(
        [{"name": "bank", "liabilities": 90.0, "leverage_trigger": 0.1, "leverage_target": 0.1}],
        [{"name": "bonds", "class": "corporate_ig", "sigma0": 0.01, "depth": depth}],
        [{"institution": "bank", "asset": "bonds", "quantity": 100.0}],
    )


FALL = Scenario(**BY_HAND, shocks=[{"asset": "bonds", "price": -0.01}], max_rounds=1)


def test_slr_buffer_release_lowers_the_trigger_and_target():
    # Dealer Prime with a 1-point release: SLR 3.85% < 4% → shrink to 19 / 0.04 = 475 → sell 19
    p = load_preset("dealer_prime")
    ds = simulate(p.system, p.scenario.updated(**{"policy.slr_buffer_release": 0.01}))
    assert float(ds.sold.sum()) == pytest.approx(19.0, abs=1e-9)
    ds = simulate(p.system, p.scenario.updated(**{"policy.slr_buffer_release": 0.02}))
    assert float(ds.sold.sum()) == 0.0  # 3.85% > 3%


def test_all_to_all_halves_the_price_impact_of_half_the_flow():
    base = simulate(_seller(), FALL).isel(scenario=0, round=0)
    a2a = simulate(_seller(), FALL.updated(**{"policy.all_to_all": 0.5})).isel(scenario=0, round=0)
    # 9 sold into depth 500 moves the price 1.8%; half of it matched directly: 0.9%
    assert 0.99 - float(base.price[0]) == pytest.approx(9 / 500, abs=1e-12)
    assert 0.99 - float(a2a.price[0]) == pytest.approx(4.5 / 500, abs=1e-12)


def test_central_bank_takes_the_flow_within_its_daily_cap():
    uncapped = FALL.updated(**{"policy.purchases": {"assets": ["bonds"]}})
    ds = simulate(_seller(), uncapped, detail=True)
    assert float(ds.price[0, 0, 0]) == pytest.approx(0.99, abs=1e-12)  # no impact left
    assert float(ds.central_bank_purchases.sum()) == pytest.approx(9.0, abs=1e-12)
    assert_invariants(ds)
    capped = FALL.updated(**{"policy.purchases": {"assets": ["bonds"], "daily_cap": 5.0}})
    ds = simulate(_seller(), capped)
    assert 0.99 - float(ds.price[0, 0, 0]) == pytest.approx(4.0 / 500, abs=1e-12)


def test_central_bank_price_floor():
    # a 5% fall and a floor at 97% of the t0 price: the bank's sales (45 into depth 500
    # would take the price to 0.86) are bought down to the floor, and no further
    shock = Scenario(**BY_HAND, shocks=[{"asset": "bonds", "price": -0.05}], max_rounds=1,
                     policy={"purchases": {"assets": ["bonds"], "price_floor": 0.97}})
    ds = simulate(_seller(), shock)
    assert float(ds.price[0, 0, 0]) == pytest.approx(0.95, abs=1e-12)  # the fundamental is below the floor
    shock = Scenario(**BY_HAND, shocks=[{"asset": "bonds", "price": -0.01}], max_rounds=1,
                     policy={"purchases": {"assets": ["bonds"], "price_floor": 0.985}})
    ds = simulate(_seller(), shock)
    assert float(ds.price[0, 0, 0]) == pytest.approx(0.985, abs=1e-12)
    assert float(ds.central_bank_purchases.sum()) == pytest.approx(9.0 - 0.005 * 500, abs=1e-9)


def test_repo_facility_caps_the_haircut_and_rolls_the_repo():
    system = System.from_records(
        [{"name": "dealer", "liabilities": 0.0, "repo_rollover_threshold": 0.5}],
        [{"name": "treasuries", "class": "treasury", "sigma0": 0.005, "haircut": 0.02}],
        [{"institution": "dealer", "asset": "treasuries", "quantity": 100.0, "repo": 98.0}],
    )
    doubling = Scenario(**BY_HAND, shocks=[{"asset": "treasuries", "volatility": 2.0}])
    assert float(simulate(system, doubling).funding_need.sum()) > 3.0  # margin call and repo not rolled
    facility = doubling.updated(**{"policy.repo_facility": {"assets": ["treasuries"], "haircut": 0.02}})
    ds = simulate(system, facility)
    assert float(ds.funding_need.sum()) == 0.0 and float(ds.sold.sum()) == 0.0
    assert float(ds.haircut[0, 0, 0]) == pytest.approx(0.02, abs=1e-12)


def test_unknown_asset_in_a_programme_is_named():
    from firesale.errors import DataError

    with pytest.raises(DataError, match="asset 'bond': unknown asset. Did you mean 'bonds'"):
        simulate(_seller(), FALL.updated(**{"policy.purchases": {"assets": ["bond"]}}))
