"""The compiled allocation (:mod:`firesale.engine.compiled_allocation`) against the numpy
phase, the oracle (:func:`firesale.engine.allocation.allocation`): at every call of the
phase, both run on the reference's own arguments and every output array must agree to
1e-12 of its magnitude, the acting rows, labels and flags exactly."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings

from firesale import Scenario, System, load_preset, simulate
from firesale.testing import assert_phase_agrees
from firesale.testing.strategies import system_and_scenarios

SLOW = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _variants(scenario):
    """The scenario with balance-sheet channels switched off, with funding channels switched
    off, and with an SLR exemption from round 0 and orders cleared the next round (the last
    round's left unexecuted)."""
    return [
        scenario.updated(**{"channels.var": False, "channels.slr": False}),
        scenario.updated(**{"channels.leverage": False, "channels.margin": False, "channels.redemption": False}),
        scenario.updated(**{"policy.slr_exemption": True, "policy.timing.slr_exemption": {"start": 0},
                            "market.clearing": "next_round"}),
    ]


@settings(max_examples=10, **SLOW)
@given(system_and_scenarios(count=1, max_institutions=9, max_assets=7))
def test_allocation_switches_and_levers(case):
    # each scenario of a mixed batch takes its own branch: channels off, the SLR exemption
    # (cash does not count), the last round's orders left, next to the base
    system, (scenario,) = case
    assert assert_phase_agrees(system, [scenario, *_variants(scenario)], "allocation") > 0


def test_allocation_mixed_batch_on_a_preset():
    loaded = load_preset("march_2020")
    assert assert_phase_agrees(loaded.system, [loaded.scenario, *_variants(loaded.scenario)], "allocation") > 0


def test_allocation_two_sided_leverage_buys_and_sells():
    # an Adrian-Shin dealer buys after a rise (the leverage trade below minus the tolerance,
    # a row that acts without selling) and sells after a fall: random systems rarely have one
    system = System.from_records(
        [{"name": "dealer", "liabilities": 90.0, "leverage_trigger": 0.1, "leverage_target": 0.1,
          "leverage_targeting": "two_sided", "liquidation": "pro_rata"},
         {"name": "bank", "liabilities": 45.0, "cash": 5.0, "repay_with_cash": True, "other_liabilities": 40.0,
          "leverage_trigger": 0.12, "leverage_target": 0.15}],
        [{"name": "securities", "class": "corporate_ig", "sigma0": 0.01}],
        [{"institution": "dealer", "asset": "securities", "quantity": 100.0},
         {"institution": "bank", "asset": "securities", "quantity": 45.0}],
    )
    scenarios = [Scenario(shocks=[{"asset": "securities", "price": move}], max_rounds=3) for move in (0.01, -0.05)]
    assert assert_phase_agrees(system, scenarios, "allocation") > 0


def test_a_two_sided_targeter_with_no_tradable_book_buys_nothing():
    """A two-sided leverage targeter buys pro rata over its tradable book. A book within
    the tolerance (here the smallest float, as a denormal client sale can leave one) is no
    book: both kernels buy nothing, where the share of the purchase, value / book,
    overflowed to inf and the run stopped with FS601 (found by hypothesis on a random
    system)."""
    system = System.from_records(
        [{"name": "dealer", "liabilities": 90.0, "cash": 10.0, "leverage_trigger": 0.1, "leverage_target": 0.1,
          "leverage_targeting": "two_sided", "liquidation": "pro_rata"}],
        [{"name": "securities", "class": "corporate_ig", "sigma0": 0.01},
         {"name": "loans", "class": "other", "sigma0": 0.01}],  # loans are not tradable
        [{"institution": "dealer", "asset": "securities", "quantity": 5e-323},
         {"institution": "dealer", "asset": "loans", "quantity": 100.0}],
    )
    scenario = Scenario(shocks=[{"asset": "loans", "price": 0.01}], max_rounds=3)  # equity up: lever up
    for kernels in ("numpy", "numba"):
        ds = simulate(system, scenario, kernels=kernels)
        assert float(ds.sold.sum()) == 0.0 and float(ds.purchases.sum()) == 0.0, kernels
        np.testing.assert_array_equal(ds.holdings.values[0, :, 0], [[5e-323, 100.0]] * ds.sizes["round"])
    assert assert_phase_agrees(system, [scenario], "allocation") > 0
