"""An explosive feedback ends with a clear error naming scenario and round, not NaN."""

import pytest

from firesale import Scenario, System, simulate
from firesale.errors import ModelDivergenceError


def test_two_sided_leverage_buying_into_its_own_impact_is_reported():
    # a leverage-10 targeter in a thin market: each purchase lifts the price, raising
    # equity, which calls for more purchases — prices grow without bound
    system = System.from_records(
        [{"name": "hf", "type": "hedge_fund", "liabilities": 90.0, "leverage_trigger": 0.1, "leverage_target": 0.1,
          "leverage_targeting": "two_sided"}],
        [{"name": "x", "class": "equity", "sigma0": 0.01, "depth": 500.0}],
        [{"institution": "hf", "asset": "x", "quantity": 100.0}],
    )
    with pytest.raises(ModelDivergenceError) as info:
        simulate(system, Scenario(shocks=[{"asset": "x", "price": 0.01}], max_rounds=200,
                                  channels={"information": False}))
    assert "[FS601] scenario 0, round" in str(info.value)
    assert "explosive" in str(info.value)
