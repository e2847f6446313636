"""An explosive feedback or an impossible state ends with a clear error naming scenario,
round, institution and asset, never a silent wrong answer or NaN (issue 15, items 1-2)."""

import numpy as np
import pytest

from firesale import Scenario, System, simulate
from firesale.data.preset import load
from firesale.data.synthetic import write_generated
from firesale.engine.simulate import PHYSICAL_BOUND
from firesale.errors import ModelDivergenceError
from firesale.testing import assert_invariants


def _adrian_shin_dealer() -> System:
    # a leverage-10 targeter in a thin market: each purchase lifts the price, raising
    # equity, which calls for more purchases — prices grow without bound
    return System.from_records(
        [{"name": "hf", "type": "hedge_fund", "liabilities": 90.0, "leverage_trigger": 0.1, "leverage_target": 0.1,
          "leverage_targeting": "two_sided"}],
        [{"name": "x", "class": "equity", "sigma0": 0.01, "depth": 500.0}],
        [{"institution": "hf", "asset": "x", "quantity": 100.0}],
    )


@pytest.mark.parametrize("max_rounds", [20, 60, 200])
def test_an_explosive_run_stops_with_an_error_whatever_its_horizon(max_rounds):
    """Before: max_rounds 20 exited 0 with a price change of 3.6e79 and equity 1e93; 60 raised
    only once the numbers overflowed. Now every horizon stops at the physical bound."""
    with pytest.raises(ModelDivergenceError) as info:
        simulate(_adrian_shin_dealer(), Scenario(shocks=[{"asset": "x", "price": 0.05}], max_rounds=max_rounds))
    message = str(info.value)
    assert "[FS604] scenario 'baseline' (#0), round" in message and "asset 'x'" in message
    assert "explosive" in message and f"{PHYSICAL_BOUND:g} times" in message
    assert info.value.location["round"] < 20


def test_sellers_never_pay_to_sell(tmp_path):
    """Before: on this generated system with mean_reversion 0.99 the effective spread passed
    200%, the bid went negative, an asset manager with equity ~250 ended at -67,751 and a
    dealer at +85,219, with the invariants passing. Now the spread is at most 100% (the bid
    at least half the price) and the shipped invariants check prices and bids."""
    # firesale generate --institutions 12 --assets 5 --seed 1 --out g, then
    # firesale run g --set market.mean_reversion=0.99
    write_generated(tmp_path / "g", 12, 5, 0.01, 1)  # the CLI's default density
    preset = load(tmp_path / "g")
    ds = simulate(preset.system, preset.scenario.updated(**{"market.mean_reversion": 0.99}), detail=True)
    assert_invariants(ds)
    assert float(ds.spread.max()) <= 1.0
    bid = ds.price * (1 - ds.spread / 2)
    assert float(bid.min()) >= 0.0
    # funds without debt cannot lose more than their equity
    unlevered = (ds.liabilities0 == 0) & (ds.institution_type != "dealer")
    assert bool((ds.equity.isel(round=-1).where(unlevered, 0.0) >= -1e-9).all())


def test_the_engine_guard_names_institution_and_asset(monkeypatch):
    """A state the engine must never produce (here: forced by a patched round giving a
    negative holding) is reported with the institution's and the asset's names."""
    import firesale.engine.simulate as engine

    real = engine.step

    def broken(state, inputs, scen, t, kernels):
        new, records, trades = real(state, inputs, scen, t, kernels)
        q = new.q.copy()
        q[:, -1] = -1.0
        return type(new)(**{**new.__dict__, "q": q}), records, trades

    monkeypatch.setattr(engine, "step", broken)
    with pytest.raises(ModelDivergenceError) as info:
        simulate(_adrian_shin_dealer(), Scenario(shocks=[{"asset": "x", "price": -0.01}], max_rounds=2))
    assert "[FS603]" in str(info.value) and "institution 'hf'" in str(info.value) and "asset 'x'" in str(info.value)
    assert "negative holding" in str(info.value)
    assert np.isfinite(PHYSICAL_BOUND)


@pytest.mark.parametrize("kernels", ["numpy", "numba"])
def test_each_check_of_the_engine_guard_finds_the_first_bad_cell(kernels):
    """Each check of ``state_violation``, violated at two cells of a state of three
    scenarios (and every check before it passing), is reported at the first of them:
    scenario first, then column. Both kernel sets, against the cells set here."""
    from firesale.engine.kernels import kernels_named
    from firesale.engine.state import Inputs, ScenarioArrays, initial_state

    system = System.from_records(
        [{"name": name, "type": "bank", "liabilities": 50.0} for name in ("a", "b", "c")],
        [{"name": name, "class": "equity", "sigma0": 0.01, "depth": 500.0} for name in ("x", "y")],
        [{"institution": i, "asset": k, "quantity": 40.0} for i in ("a", "b", "c") for k in ("x", "y")],
    )
    inputs = Inputs.from_system(system)
    scen = ScenarioArrays.from_scenarios(system, [Scenario()] * 3)
    calm = initial_state(inputs, scen)
    bad = {0: ("price", np.nan), 1: ("price", -0.5), 2: ("spread", 2.0), 3: ("q", -1.0), 4: ("cash", -1.0),
           5: ("price", 1e3), 6: ("equity", -1e9)}
    guard = kernels_named(kernels)
    assert guard.state_violation(calm, inputs, 1e-9, PHYSICAL_BOUND, 1e6) is None
    for check, (field, value) in bad.items():
        values = getattr(calm, field).copy()
        values[2, 0] = value
        values[1, 1] = value
        state = type(calm)(**{**calm.__dict__, field: values})
        assert guard.state_violation(state, inputs, 1e-9, PHYSICAL_BOUND, 1e6) == (check, 1, 0 if check == 0 else 1)
