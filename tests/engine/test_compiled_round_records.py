"""The compiled round records (:mod:`firesale.engine.compiled_round_records`) against the
numpy phase, the oracle (:func:`firesale.engine.round.round_records`): at every call of the
phase, both run on the reference's own arguments and every record must agree to 1e-12 of
its magnitude."""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from firesale import load_preset
from firesale.engine.kernels import NUMPY, Kernels, kernels_named
from firesale.engine.round import round_records, step
from firesale.engine.state import Inputs, ScenarioArrays, initial_state
from firesale.testing import assert_phase_agrees
from firesale.testing.strategies import system_and_scenarios

PRESETS = ("dealer_groups", "dealer_market", "dealer_prime", "gilt_ldi_2022", "inet_eba2018", "march_2020",
           "var_desk")
SLOW = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@settings(max_examples=25, **SLOW)
@given(system_and_scenarios(count=3, brakes=True))
def test_round_records_every_mechanism(case):
    assert assert_phase_agrees(*case, "round_records") > 0


@settings(max_examples=15, **SLOW)
@given(system_and_scenarios(count=2, max_institutions=9, max_assets=7))
def test_round_records_without_brakes(case):
    assert assert_phase_agrees(*case, "round_records") > 0


@pytest.mark.parametrize("preset", PRESETS)
def test_round_records_presets(preset):
    # between them: no dealers (inet_eba2018), no funding (inet_eba2018, dealer_prime,
    # var_desk), no VaR desks, derivatives (gilt_ldi_2022, march_2020)
    loaded = load_preset(preset)
    assert assert_phase_agrees(loaded.system, [loaded.scenario], "round_records") > 0


def test_round_records_mixed_batch():
    # dealers intermediating in some scenarios only: the layoff share is recorded where they do
    loaded = load_preset("march_2020")
    scenarios = [loaded.scenario, loaded.scenario.updated(**{"market.intermediation": False})]
    assert assert_phase_agrees(loaded.system, scenarios, "round_records") > 0


def test_round_records_keys_and_dtypes():
    # the same records in the same order, flags as flags; the sums of trades are float even in
    # a round without trades (numpy's bincount of nothing would give integers)
    compiled = kernels_named("numba")
    loaded = load_preset("dealer_groups")
    inputs = Inputs.from_system(loaded.system)
    scen = ScenarioArrays.from_scenarios(loaded.system, [loaded.scenario])
    seen = []

    def both(*args):
        expected, tested = round_records(*args[:-1], NUMPY), compiled.phases["round_records"](*args[:-1], compiled)
        seen.append((expected, tested))
        return expected

    checking = Kernels()
    checking.phases = MappingProxyType({"round_records": both})
    step(initial_state(inputs, scen), inputs, scen, 0, checking)
    (expected, tested), = seen
    assert list(tested) == list(expected)
    for name, values in expected.items():
        float_sum = name in ("sales_by_channel", "forced_sales")
        assert np.asarray(tested[name]).dtype == (np.float64 if float_sum else np.asarray(values).dtype), name
        assert np.shape(tested[name]) == np.shape(values), name
