"""Every compiled phase (``firesale.engine.compiled_<phase>``) against its numpy phase, the
oracle: at every call in a run, both on the same arguments, every field of their results to
1e-12 of its magnitude (:func:`firesale.testing.assert_phase_agrees`). Each phase's own test
file adds the branches random systems and presets leave out."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from firesale import load_preset
from firesale.engine.kernels import kernels_named
from firesale.testing import assert_phase_agrees
from firesale.testing.strategies import system_and_scenarios

NUMBA = kernels_named("numba")
PHASES = ("shocks", "calm_dealer_cost", "marking", "constraints", "funding_calls", "allocation", "intermediation",
          "clearing", "settlement", "information", "round_records")
PRESETS = ("dealer_groups", "dealer_market", "dealer_prime", "gilt_ldi_2022", "inet_eba2018", "march_2020",
           "var_desk")
RANDOM = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def test_every_phase_of_the_round_is_compiled():
    assert set(NUMBA.phases) == set(PHASES)


@pytest.mark.parametrize("phase", PHASES)
@settings(RANDOM, max_examples=25)
@given(case=system_and_scenarios(count=3, brakes=True))
def test_compiled_phase_equals_numpy_phase_every_mechanism(phase, case):
    assert assert_phase_agrees(*case, phase, kernels=NUMBA, tolerance=1e-12) > 0


@pytest.mark.parametrize("phase", PHASES)
@settings(RANDOM, max_examples=15)
@given(case=system_and_scenarios(count=2, max_institutions=9, max_assets=7))
def test_compiled_phase_equals_numpy_phase_without_brakes(phase, case):
    assert assert_phase_agrees(*case, phase, kernels=NUMBA, tolerance=1e-12) > 0


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("preset", PRESETS)
def test_compiled_phase_equals_numpy_phase_on_presets(phase, preset):
    """Each preset's baseline with its policies in one batch: between them no dealers
    (inet_eba2018), no funding (inet_eba2018, dealer_prime, var_desk), derivatives
    (gilt_ldi_2022, march_2020), the Fed's purchases at a floor, the Bank of England's
    announcement."""
    loaded = load_preset(preset)
    policies = [loaded.scenario.updated(**policy["overrides"]) for policy in loaded.policies.values()]
    assert assert_phase_agrees(loaded.system, [loaded.scenario, *policies], phase, kernels=NUMBA,
                               tolerance=1e-12) > 0
