"""The brakes of the feedback loop on random systems with every mechanism on (hypothesis):
prices stay above the outside buyers' largest discount, depth, spreads and volatility
within their bounds, no NaN, every run stops; the accounting invariants still hold."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from firesale import Scenario, System, simulate
from firesale.engine.simulate import PROBE
from firesale.engine.state import ScenarioArrays
from firesale.testing import assert_batch_equals_single, assert_invariants
from firesale.testing.strategies import system_and_scenarios

pytestmark = pytest.mark.property
PROPERTY = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _fundamental_sigma(system: System, scenario: Scenario, rounds: int) -> np.ndarray:
    """sigma0 moved by the scenario's volatility shocks, per round (R, K): the path the
    anchored volatility is bounded by (computed here from the inputs, not the engine)."""
    path = np.tile([a.sigma0 for a in system.assets], (rounds, 1))
    for shock in scenario.shocks:
        if shock.asset is not None and shock.volatility is not None:
            path[shock.round:, system.asset_index(shock.asset)] *= shock.volatility
    return path


@PROPERTY
@given(system_and_scenarios(count=3, brakes=True))
def test_every_brake_holds_every_round(case):
    system, scenarios = case
    ds = simulate(system, scenarios, detail=True)
    assert_invariants(ds)
    bound = ScenarioArrays.from_scenarios(system, scenarios).max_discount  # (S, K), inf = none
    spread0 = np.array([2.0 * a.mu0 * a.sigma0 for a in system.assets])
    for s, scenario in enumerate(scenarios):
        one = ds.isel(scenario=s)
        rounds = int(one.sizes["round"])
        for name in ("price", "pre_trade_price", "equity", "sigma", "spread", "depth_scale", "quoting_share", "mark"):
            assert np.isfinite(one[name].values).all(), name
        # fire-sale pressure never takes a price below fundamental x (1 - d)
        floor = one.fundamental.values * (1.0 - np.where(np.isfinite(bound[s]), bound[s], 1.0))
        for name in ("price", "pre_trade_price"):
            assert (one[name].values >= floor - 1e-12).all(), name
        assert (one.price.values >= 0).all()
        # depth and spreads within their bounds
        assert (one.depth_scale.values >= scenario.information.depth_floor - 1e-12).all()
        widest = scenario.information.spread_cap * scenario.information.rfq_spread_multiplier * spread0
        assert (one.spread.values <= widest * (1 + 1e-9) + 1e-15).all()
        assert ((one.quoting_share.values >= 0) & (one.quoting_share.values <= 1 + 1e-12)).all()
        # volatility at most cap x its fundamental path
        cap = scenario.volatility.cap * _fundamental_sigma(system, scenario, rounds)
        assert (one.sigma.values <= cap * (1 + 1e-12)).all()
        # every run stops, within its max_rounds (the round axis is the batch's longest run)
        assert int(one.rounds) <= scenario.max_rounds


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(system_and_scenarios(count=4, brakes=True))
def test_batch_equals_one_at_a_time_with_every_brake(case):
    assert_batch_equals_single(*case)


def _bank_in_one_market(depth: float, leverage_target: float) -> System:
    """One bank below its leverage trigger in one linear market, plus an illiquid book."""
    return System.from_records(
        [{"name": "bank", "type": "bank", "cash": 0.0, "liabilities": 95.0,
          "leverage_trigger": leverage_target, "leverage_target": leverage_target}],
        [{"name": "bonds", "class": "corporate_ig", "sigma0": 0.01, "depth": depth},
         {"name": "loans", "class": "other", "sigma0": 0.01}],
        [{"institution": "bank", "asset": "bonds", "quantity": 60.0},
         {"institution": "bank", "asset": "loans", "quantity": 40.0}],
    )


def test_loop_gain_of_a_leverage_targeting_bank_is_the_closed_form():
    """A bank that restores equity/assets = λ sells A - L - (E - L)/λ after a loss L, so a
    sale x of the asset (price -x/D, loss q x/D on its q units) forces
    J = q (1/λ - 1) / D more: the engine's measured loop gain is that number."""
    depth, target = 2000.0, 0.06
    system = _bank_in_one_market(depth, target)
    ds = simulate(system, Scenario(shocks=[{"asset": "loans", "price": -0.01}], max_rounds=3), loop_gain=True)
    expected = 60.0 * (1.0 / target - 1.0) / depth
    measured = float(ds.loop_gain.isel(scenario=0, round=0))
    # a forward difference of size PROBE: exact to first order
    assert measured == pytest.approx(expected, rel=1e-4)
    assert float(ds.market_loop_gain.sel(asset="bonds").isel(scenario=0, round=0)) == pytest.approx(expected, rel=1e-4)
    assert PROBE < 1e-4


def test_loop_gain_above_one_past_the_tipping_point():
    """The same bank in a market 20 times thinner: J = 60 (1/0.06 - 1)/100 = 9.4 > 1."""
    system = _bank_in_one_market(100.0, 0.06)
    ds = simulate(system, Scenario(shocks=[{"asset": "loans", "price": -0.01}], max_rounds=2), loop_gain=True)
    assert float(ds.loop_gain.isel(scenario=0, round=0)) == pytest.approx(60 * (1 / 0.06 - 1) / 100, rel=1e-4)
