"""The round compiled whole (:mod:`firesale.engine.compiled_round`) against the compiled
phases run one by one by :func:`firesale.engine.round.step`: the same kernels on the same
arguments in the same order, so every state array, record and trade must be the same bits.
(Both against the numpy reference: ``tests/engine/test_compiled.py``.)"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from firesale import load_preset
from firesale.engine.compiled import CompiledKernels
from firesale.engine.compiled_round import levers_table
from firesale.engine.compiled_tables import scenario_table
from firesale.engine.kernels import kernels_named
from firesale.engine.state import ScenarioArrays
from firesale.testing import assert_kernels_agree
from firesale.testing.strategies import system_and_scenarios

NUMBA = kernels_named("numba")
PRESETS = ("dealer_groups", "dealer_market", "dealer_prime", "gilt_ldi_2022", "inet_eba2018", "march_2020",
           "var_desk")


def _phase_by_phase() -> CompiledKernels:
    kernels = CompiledKernels()
    kernels.whole_round = None
    return kernels


def _same_bits(name: str, expected: np.ndarray, tested: np.ndarray) -> None:
    expected, tested = np.asarray(expected), np.asarray(tested)
    assert expected.shape == tested.shape and expected.dtype == tested.dtype, name
    assert expected.tobytes() == tested.tobytes(), f"{name}: other bits"


def _assert_rounds_identical(system, scenarios) -> int:
    """Both ways round by round from the same state, bit for bit; returns the rounds compared."""
    return assert_kernels_agree(system, scenarios, NUMBA, tolerance=None, reference=_phase_by_phase())


@pytest.mark.parametrize("preset", PRESETS)
def test_whole_round_equals_the_compiled_phases_on_presets(preset):
    """Each preset's baseline and its policies in one batch (levers in and out of force)."""
    loaded = load_preset(preset)
    policies = [loaded.scenario.updated(**policy["overrides"]) for policy in loaded.policies.values()]
    assert _assert_rounds_identical(loaded.system, [loaded.scenario, *policies]) > 1


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(system_and_scenarios(count=3, brakes=True))
def test_whole_round_equals_the_compiled_phases_every_mechanism(case):
    assert _assert_rounds_identical(*case) >= 1


@pytest.mark.parametrize("preset", PRESETS)
def test_levers_in_force_equal_the_reference(preset):
    """:func:`levers_table` against :meth:`ScenarioArrays.levers_at`, every round of each
    preset's policies (the windows' starts and ends, announcements, caps by round)."""
    loaded = load_preset(preset)
    scenarios = [loaded.scenario, *(loaded.scenario.updated(**policy["overrides"])
                                    for policy in loaded.policies.values())]
    scen = ScenarioArrays.from_scenarios(loaded.system, scenarios)
    table = scenario_table(scen)
    for t in range(int(scen.max_rounds.max()) + 2):
        expected, tested = scen.levers_at(t), levers_table(table, t)
        for field in dataclasses.fields(expected):
            _same_bits(f"round {t}, {field.name}", getattr(expected, field.name), getattr(tested, field.name))


def test_tables_are_dropped_with_what_they_were_built_from():
    """The compiled round keeps the tables of a system, a batch and each state it returns
    while those live, and no longer: a run's arrays do not outlive it in the caches."""
    import gc

    from firesale.engine import compiled_tables
    from firesale.engine.round import step
    from firesale.engine.state import Inputs, initial_state

    loaded = load_preset("dealer_groups")
    inputs = Inputs.from_system(loaded.system)
    scen = ScenarioArrays.from_scenarios(loaded.system, [loaded.scenario])
    state, _, _ = step(initial_state(inputs, scen), inputs, scen, 0, NUMBA)
    kept = (compiled_tables._INPUTS, compiled_tables._SCENARIOS, compiled_tables.STATES)
    for cache, key in zip(kept, (inputs, scen, state)):
        assert cache.find(key) is not None
    keys = [id(inputs), id(scen), id(state)]
    del inputs, scen, state
    gc.collect()
    for cache, key in zip(kept, keys):
        assert key not in cache.tables
