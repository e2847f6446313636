"""Derivatives settle variation margin in cash every round and call initial margin as
volatility rises: the collateral calls of LDI funds in September 2022 and of hedge funds
in the Treasury basis trade in March 2020."""

import pytest

from firesale import Scenario, System, simulate
from firesale.errors import DataError
from firesale.testing import assert_invariants

#: Worked by hand: quotes, spreads, marks and depth as at t0 (information off), and sales
#: go straight to outside buyers (no dealer intermediation).
BY_HAND = {"channels": {"information": False}, "market": {"intermediation": False}}


def _ldi(cash: float) -> System:
    """An LDI fund: 100 of gilts and a receive-fixed swap worth 200 of gilt exposure."""
    return System.from_records(
        [{"name": "ldi", "type": "pension_fund", "cash": cash, "liabilities": 0.0, "liquidation": "pro_rata"}],
        [{"name": "gilts", "class": "treasury", "sigma0": 0.01}],
        [{"institution": "ldi", "asset": "gilts", "quantity": 100.0, "derivative": 200.0}],
    )


def test_variation_margin_is_paid_from_cash_then_by_selling():
    # gilts −10%: the swap loses 20 → a collateral call of 20; cash 5 pays part, gilts at
    # 0.90 (no impact) pay the rest: 15 sold
    ds = simulate(_ldi(cash=5.0), Scenario(**BY_HAND, shocks=[{"asset": "gilts", "price": -0.1}]), detail=True)
    assert_invariants(ds)
    r0 = ds.isel(scenario=0, institution=0, round=0)
    assert float(r0.funding_need) == pytest.approx(20.0, abs=1e-9)
    assert float(r0.funding_paid) == pytest.approx(20.0, abs=1e-9)
    assert float(r0.sold) == pytest.approx(15.0, abs=1e-9)
    assert float(r0.cash) == pytest.approx(0.0, abs=1e-9)
    # equity: 105 − 10 (gilts) − 20 (swap) = 75
    assert float(r0.equity) == pytest.approx(75.0, abs=1e-9)
    assert float(ds.breach.sel(channel="margin").sum()) == 1


def test_gains_are_received_in_cash():
    ds = simulate(_ldi(cash=0.0), Scenario(**BY_HAND, shocks=[{"asset": "gilts", "price": 0.05}]))
    assert float(ds.cash[0, 0, 0]) == pytest.approx(10.0, abs=1e-9)  # 200 × 5%
    assert float(ds.sold.sum()) == 0.0


def test_initial_margin_rises_with_volatility():
    # a hedge fund short 100 of Treasury futures, 5% initial margin posted from cash 10;
    # volatility doubles → margin 10 → a call of 5, met from cash
    system = System.from_records(
        [{"name": "hf", "type": "hedge_fund", "cash": 10.0, "liabilities": 0.0}],
        [{"name": "ust", "class": "treasury", "sigma0": 0.005}],
        [{"institution": "hf", "asset": "ust", "quantity": 0.0, "derivative": -100.0, "initial_margin": 0.05}],
    )
    ds = simulate(system, Scenario(**BY_HAND, shocks=[{"asset": "ust", "volatility": 2.0}]), detail=True)
    assert_invariants(ds)
    assert float(ds.margin_posted[0, 0, 0]) == pytest.approx(10.0, abs=1e-12)
    assert float(ds.cash[0, 0, 0]) == pytest.approx(0.0, abs=1e-12)
    assert float(ds.equity[0, 0, 0]) == pytest.approx(10.0, abs=1e-12)  # margin is still its asset


def test_initial_margin_above_cash_is_an_error():
    with pytest.raises(DataError, match="cannot cover the initial margin of 10"):
        System.from_records(
            [{"name": "hf", "cash": 1.0, "liabilities": 0.0}],
            [{"name": "ust", "class": "treasury", "sigma0": 0.005}],
            [{"institution": "hf", "asset": "ust", "quantity": 10.0, "derivative": -100.0, "initial_margin": 0.1}],
        )


def test_variation_margin_includes_the_price_impact_of_the_round():
    """A fund sells 50 of gilts into depth 1,000: the price ends at 0.95 and the holder of
    a swap on 100 of gilts loses 5 — settled at the post-trade price, not only the next
    round's pre-trade price."""
    system = System.from_records(
        [{"name": "fund", "type": "asset_manager", "liabilities": 0.0},
         {"name": "ldi", "type": "pension_fund", "cash": 100.0, "liabilities": 0.0}],
        [{"name": "gilts", "class": "treasury", "sigma0": 0.01, "depth": 1000.0}],
        [{"institution": "fund", "asset": "gilts", "quantity": 100.0},
         {"institution": "ldi", "asset": "gilts", "quantity": 0.0, "derivative": 100.0}],
    )
    ds = simulate(system, Scenario(**BY_HAND, shocks=[{"institution": "fund", "redemption": 0.5}], max_rounds=3), detail=True)
    assert_invariants(ds)
    r0 = ds.isel(scenario=0, round=0)
    assert float(r0.price[0]) == pytest.approx(0.95, abs=1e-12)
    assert float(r0.equity.sel(institution="ldi")) == pytest.approx(95.0, abs=1e-9)
    # the loss is owed at once and paid from cash in the next round
    assert float(ds.isel(scenario=0, round=1).cash.sel(institution="ldi")) == pytest.approx(95.0, abs=1e-9)
