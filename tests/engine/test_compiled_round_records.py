"""The compiled round records (:mod:`firesale.engine.compiled_round_records`) against the
numpy phase, the oracle (:func:`firesale.engine.round.round_records`): at every call of the
phase, both run on the reference's own arguments and every record must agree to 1e-12 of
its magnitude."""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from firesale import load_preset
from firesale.engine.kernels import NUMPY, Kernels, kernels_named
from firesale.engine.round import round_records, step
from firesale.engine.state import Inputs, ScenarioArrays, initial_state
from firesale.testing import assert_phase_agrees


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
