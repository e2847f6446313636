"""The compiled clearing phase (:mod:`firesale.engine.compiled_clearing`) against the numpy
phase, the oracle (:func:`firesale.engine.clearing.clearing`): at every call of the phase,
both run on the reference's own arguments and every output array must agree to 1e-12 of
its magnitude (:func:`firesale.testing.assert_phase_agrees`)."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firesale import load_preset
from firesale.system import System
from firesale.testing import assert_phase_agrees
from firesale.testing.strategies import system_and_scenarios

SLOW = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _agrees(system, scenarios) -> None:
    assert assert_phase_agrees(system, scenarios, "clearing", tolerance=1e-12) > 0


def _with_assets(system: System, changes: dict[int, dict]) -> System:
    """``system`` with some assets' fields changed (asset index -> changes)."""
    assets = [asset.model_copy(update=changes.get(j, {})) for j, asset in enumerate(system.assets)]
    return System(system.name, system.institutions, assets, system.holdings, system.trading_fraction,
                  system.correlation, currency=system.currency, repo=system.repo, derivative=system.derivative,
                  initial_margin=system.initial_margin, market_share=system.market_share, sparse=system.sparse)


@st.composite
def _with_floors(draw):
    """Random systems with every mechanism on whose scenarios also draw what the random
    scenarios leave out: purchases that keep prices at a floor (or buy the net sales),
    all-to-all trading, from a round; and a market no sale moves (infinite depth) under
    any law."""
    system, scenarios = draw(system_and_scenarios(count=3, brakes=True))
    if draw(st.booleans()):
        j = draw(st.integers(0, system.n_assets - 1))
        law = draw(st.sampled_from(["linear", "exponential", "sqrt", "multiplicative"]))
        system = _with_assets(system, {j: {"depth": math.inf, "impact": law}})
    out = []
    for scenario in scenarios:
        changes = {}
        if draw(st.booleans()):
            changes["policy.purchases"] = {
                "assets": draw(st.lists(st.sampled_from(system.asset_names), min_size=1, unique=True)),
                "daily_cap": draw(st.sampled_from([math.inf, 0.0, 5.0, 50.0])),
                "total": draw(st.sampled_from([math.inf, 20.0])),
                "price_floor": draw(st.sampled_from([None, 0.9, 0.97, 1.0])),
            }
            changes["policy.timing.purchases"] = {"start": draw(st.integers(0, 2))}
        if draw(st.booleans()):
            changes["policy.all_to_all"] = draw(st.floats(0.0, 0.9))
            changes["policy.timing.all_to_all"] = {"start": draw(st.integers(0, 2))}
        out.append(scenario.updated(**changes) if changes else scenario)
    return system, out


@settings(max_examples=20, **SLOW)
@given(_with_floors())
def test_clearing_with_price_floors_and_all_to_all(case):
    _agrees(*case)


def test_clearing_floors_under_every_law():
    # a floor under each impact law, with and without outside demand's bound, and a market
    # no sale moves: no dealers here, so no concession
    loaded = load_preset("inet_eba2018")
    system = loaded.system
    laws = ["exponential", "sqrt", "multiplicative", "linear"]
    system = _with_assets(system, {j: {"impact": laws[j % 4], "max_discount": [math.inf, 0.05][j % 2]}
                                   for j in range(system.n_assets)})
    purchases = {"assets": list(system.asset_names), "daily_cap": 30.0, "price_floor": 0.98}
    scenarios = [loaded.scenario.updated(**{"policy.purchases": purchases}),
                 loaded.scenario.updated(**{"policy.purchases": {**purchases, "price_floor": None},
                                            "policy.all_to_all": 0.3})]
    _agrees(system, scenarios)
    _agrees(_with_assets(system, {0: {"depth": math.inf}}), scenarios)
