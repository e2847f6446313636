"""The compiled intermediation phase against the numpy phase, the oracle.

:func:`firesale.testing.assert_phase_agrees` runs each system with the numpy reference and,
at every round, also runs :func:`firesale.engine.compiled_intermediation.intermediation` on
the very same arguments: every output must agree to 1e-12 of its magnitude, ``None`` where
the reference has ``None``. Random systems with every mechanism on and without the brakes,
the presets, and the branches random draws may miss: no dealers, dealers that do not
intermediate, a batch mixing scenarios with and without intermediation or balance-sheet
cost. (The dealers' calm cost at t0 is a phase of its own in
``tests/engine/test_compiled_phases.py``.)
"""

from __future__ import annotations

import pytest

from firesale import load_preset
from firesale.engine.kernels import kernels_named
from firesale.engine.state import Inputs
from firesale.scenario import Scenario
from firesale.system import System
from firesale.testing import assert_phase_agrees

NUMBA = kernels_named("numba")
TOLERANCE = 1e-12


def _agrees(system, scenarios) -> int:
    return assert_phase_agrees(system, scenarios, "intermediation", kernels=NUMBA, tolerance=TOLERANCE)


def test_compiled_intermediation_without_dealers():
    # funds only: no dealer positions, client sales go straight to outside buyers
    system = System.from_records(
        [{"name": f"fund_{i}", "type": "asset_manager", "liabilities": 90.0, "leverage_trigger": 0.1,
          "leverage_target": 0.1} for i in range(2)],
        [{"name": "bonds", "class": "corporate_ig", "sigma0": 0.01, "depth": 500.0},
         {"name": "loans", "class": "corporate_hy", "sigma0": 0.02, "depth": 300.0}],
        [{"institution": f"fund_{i}", "asset": asset, "quantity": 50.0}
         for i in range(2) for asset in ("bonds", "loans")],
    )
    assert Inputs.from_system(system).dealers.size == 0
    scenario = Scenario(shocks=[{"asset": "bonds", "price": -0.02}, {"asset": "loans", "client_sale": 20.0}],
                        max_rounds=4)
    assert _agrees(system, [scenario]) > 0


@pytest.mark.parametrize("intermediation, cost", [((False, False), (4.0, 4.0)), ((True, False), (0.0, 4.0)),
                                                  ((True, True), (2.0, 0.0))])
def test_compiled_intermediation_in_mixed_batches(intermediation, cost):
    # dealers that do not intermediate, and batches mixing them or the balance-sheet cost
    loaded = load_preset("dealer_market")
    scenarios = [loaded.scenario.updated(**{"market.intermediation": on, "market.balance_sheet_cost": kappa})
                 for on, kappa in zip(intermediation, cost)]
    assert _agrees(loaded.system, scenarios) > 0
