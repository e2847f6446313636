"""Repo costs interest: a day's interest at the market repo rate accrues to debt and is
paid like any funding call; a standing repo facility caps the rate on eligible collateral
at its minimum bid rate."""

import pytest

from firesale import Scenario, System, simulate
from firesale.testing import assert_invariants

#: Worked by hand: quotes, spreads, marks and depth as at t0 (information off), and sales
#: go straight to outside buyers (no dealer intermediation).
BY_HAND = {"channels": {"information": False}, "market": {"intermediation": False}}


def _dealer() -> System:
    return System.from_records(
        [{"name": "dealer", "cash": 10.0, "liabilities": 10.0}],
        [{"name": "treasuries", "class": "treasury", "sigma0": 0.005, "haircut": 0.02}],
        [{"institution": "dealer", "asset": "treasuries", "quantity": 100.0, "repo": 90.0}],
    )


SPIKE = Scenario(**BY_HAND, shocks=[{"asset": "treasuries", "repo_rate": 0.0504}], max_rounds=2)  # 5.04% a year


def test_a_repo_rate_spike_costs_interest():
    ds = simulate(_dealer(), SPIKE, detail=True)
    assert_invariants(ds)
    day = 90 * 0.0504 / 252  # 0.018 a day
    r0 = ds.isel(scenario=0, institution=0, round=0)
    assert float(r0.repo_interest) == pytest.approx(day, abs=1e-12)
    assert float(r0.cash) == pytest.approx(10 - day, abs=1e-12)
    assert float(r0.equity) == pytest.approx(10 - day, abs=1e-12)


def test_the_facility_caps_the_rate():
    capped = SPIKE.updated(**{"policy.repo_facility": {"assets": ["treasuries"], "haircut": 0.02, "min_rate": 0.0252}})
    r0 = simulate(_dealer(), capped).isel(scenario=0, institution=0, round=0)
    assert float(r0.repo_interest) == pytest.approx(90 * 0.0252 / 252, abs=1e-12)
