"""Adrian & Shin (2010), "Liquidity and leverage": a dealer targeting leverage 10 buys
when prices rise and sells when they fall. Assets 100, equity 10: +1% → equity 11 →
buys 9; −1% → equity 9 → sells 9 (DESIGN §3)."""

import pytest

from firesale import Scenario, System, simulate

#: Worked by hand: quotes, spreads, marks and depth as at t0 (information off), and sales
#: go straight to outside buyers (no dealer intermediation).
BY_HAND = {"channels": {"information": False}, "market": {"intermediation": False}}


def _dealer() -> System:
    return System.from_records(
        [{"name": "dealer", "liabilities": 90.0, "leverage_trigger": 0.1, "leverage_target": 0.1,
          "leverage_targeting": "two_sided", "liquidation": "pro_rata"}],
        [{"name": "securities", "class": "corporate_ig", "sigma0": 0.01}],  # depth inf: price-taker
        [{"institution": "dealer", "asset": "securities", "quantity": 100.0}],
    )


@pytest.mark.parametrize(("move", "bought", "sold"), [(0.01, 9.0, 0.0), (-0.01, 0.0, 9.0)])
def test_procyclical_leverage(move, bought, sold):
    ds = simulate(_dealer(), Scenario(**BY_HAND, shocks=[{"asset": "securities", "price": move}]))
    r0 = ds.isel(scenario=0, round=0, institution=0)
    assert float(r0.purchases) == pytest.approx(bought, abs=1e-9)
    assert float(r0.sold) == pytest.approx(sold, abs=1e-9)
    assert float(r0.equity / r0.total_assets) == pytest.approx(0.1, abs=1e-12)  # leverage back to 10
