"""The VaR desk (DESIGN §4): limit 15, VaR 10; volatility doubles → VaR 20 → sell 25% of
the corporate book, VaR back to 15."""

import pytest

from firesale import load_preset, simulate


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
