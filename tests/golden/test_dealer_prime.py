"""Dealer Prime, the narrative's worked example (DESIGN §4).

Cash 50, Treasuries 200, corporates 150, other 100; liabilities 475, Tier 1 25, SLR 5%.
Corporates −4% → loss 6, assets 494, Tier 1 19, SLR 3.85%, required size 380,
liquidation 114, Treasuries first. With Treasuries and reserves exempt: no sale.
"""

import pytest

from firesale import load_preset, simulate
from firesale.analytics import summarize


@pytest.fixture(scope="module")
def preset():
    return load_preset("dealer_prime")


@pytest.fixture(scope="module")
def ds(preset):
    return simulate(preset.system, preset.scenario)


def test_balance_sheet_after_the_shock(ds):
    r0 = ds.isel(scenario=0, round=0, institution=0)
    assert float(ds.initial_equity[0, 0]) == pytest.approx(25.0, abs=1e-12)
    assert float(r0.marked_equity) == pytest.approx(19.0, abs=1e-9)
    assert float(r0.marked_assets) == pytest.approx(494.0, abs=1e-9)
    assert round(100 * float(r0.slr), 2) == 3.85
    assert float(r0.slr_target_exposure) == pytest.approx(380.0, abs=1e-9)


def test_sells_114_of_treasuries_first(ds):
    sales = ds.sales_total.isel(scenario=0, institution=0)
    assert float(sales.sel(asset="treasuries")) == pytest.approx(114.0, abs=1e-9)
    assert float(sales.sel(asset="corporates")) == 0.0
    assert float(ds.sold.sum()) == pytest.approx(114.0, abs=1e-9)
    assert float(ds.sales_by_channel.sel(channel="slr").sum()) == pytest.approx(114.0, abs=1e-9)


def test_summary_numbers(ds):
    s = summarize(ds)
    assert s["initial_loss"] == pytest.approx(6.0, abs=1e-9)
    assert s["total_loss"] == pytest.approx(6.0, abs=1e-9)
    assert s["forced_sales_per_initial_loss"] == pytest.approx(19.0, abs=1e-9)
    assert s["institutions"][0]["first_forced_round"] == 0
    # after the sale the SLR is back at its 5% target: 19 / 380
    assert float(ds.equity[0, -1, 0] / ds.total_assets[0, -1, 0]) == pytest.approx(0.05, abs=1e-12)


def test_exemption_of_treasuries_and_reserves_forces_no_sale(preset):
    exempt = simulate(preset.system, preset.scenario.updated(**{"policy.slr_exemption": True}))
    assert float(exempt.sold.sum()) == 0.0
    # exposure 494 - 200 Treasuries - 50 reserves = 244: SLR 19/244 = 7.79%
    assert float(exempt.slr[0, 0, 0]) == pytest.approx(19.0 / 244.0, rel=1e-12)
