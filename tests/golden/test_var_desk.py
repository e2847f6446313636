"""The VaR desk (DESIGN §4): limit 15, VaR 10; volatility doubles → VaR 20 → sell 25% of
the corporate book, VaR back to 15."""

import pytest

from firesale import load_preset, simulate

#: Worked by hand: quotes, spreads, marks and depth as at t0 (information off), and sales
#: go straight to outside buyers (no dealer intermediation).
BY_HAND = {"channels": {"information": False}, "market": {"intermediation": False}}


def test_var_doubles_and_a_quarter_of_the_book_is_sold():
    preset = load_preset("var_desk")
    calm = simulate(preset.system, preset.scenario.updated(shocks=[]))
    assert float(calm["var"][0, 0, 0]) == pytest.approx(10.0, abs=1e-6)
    ds = simulate(preset.system, preset.scenario)
    r0 = ds.isel(scenario=0, round=0, institution=0)
    assert float(r0["var"]) == pytest.approx(20.0, abs=1e-6)
    assert float(r0.sold) == pytest.approx(25.0, abs=1e-5)  # 25% of 100
    assert float(r0.sales_by_channel.sel(channel="var")) == pytest.approx(25.0, abs=1e-5)
    assert float(r0.var_after) == pytest.approx(15.0, abs=1e-6)
    assert float(ds.sold.sum()) == pytest.approx(25.0, abs=1e-5)  # volatility then decays: no more sales


def test_var_sales_come_out_of_the_trading_book_only():
    """Half of the position in the trading book: VaR 10 → 20 → the trading book (100 of
    200) is cut by 25% = 25 sold; the banking book's 100 is untouched; VaR back to 15."""
    from firesale import Scenario, System

    system = System.from_records(
        [{"name": "desk", "liabilities": 180.0, "var_limit": 15.0}],
        [{"name": "corporates", "class": "corporate_ig", "sigma0": 0.0429858325}],
        [{"institution": "desk", "asset": "corporates", "quantity": 200.0, "trading_fraction": 0.5}],
    )
    ds = simulate(system, Scenario(**BY_HAND, shocks=[{"asset": "corporates", "volatility": 2.0}]), detail=True)
    r0 = ds.isel(scenario=0, round=0, institution=0, asset=0)
    assert float(r0["var"]) == pytest.approx(20.0, abs=1e-6)
    assert float(r0.sold) == pytest.approx(25.0, abs=1e-6)
    assert float(r0.trading_holdings) == pytest.approx(75.0, abs=1e-6)
    assert float(r0.holdings - r0.trading_holdings) == pytest.approx(100.0, abs=1e-9)
    assert float(r0.var_after) == pytest.approx(15.0, abs=1e-6)
