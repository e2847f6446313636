"""The compiled marking phase (:mod:`firesale.engine.compiled_marking`) against the numpy
phase, :func:`firesale.engine.marking.marking`, the oracle: at every round of a run, both
on the same arguments, every field of their results to 1e-12 of its magnitude
(:func:`firesale.testing.assert_phase_agrees`)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firesale import load_preset
from firesale.engine.compiled_marking import _run_sum
from firesale.engine.kernels import kernels_named
from firesale.testing import assert_phase_agrees
from firesale.testing.strategies import system_and_scenarios

NUMBA = kernels_named("numba")
TOLERANCE = 1e-12
RANDOM = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _agrees(system, scenarios) -> None:
    assert assert_phase_agrees(system, scenarios, "marking", kernels=NUMBA, tolerance=TOLERANCE) > 0


@st.composite
def _with_levers(draw):
    """Random systems whose scenarios also draw the levers marking reads that the random
    scenarios leave off: the haircut floor, a repo facility, an SLR buffer release, each
    from a round (a batch mixes scenarios with a lever on and off)."""
    system, scenarios = draw(system_and_scenarios(count=3, brakes=True))
    out = []
    for scenario in scenarios:
        changes = {}
        if draw(st.booleans()):
            changes["policy.haircut_floor"] = True
            changes["policy.timing.haircut_floor"] = {"start": draw(st.integers(0, 2))}
        if draw(st.booleans()):
            assets = draw(st.lists(st.sampled_from(system.asset_names), min_size=1, unique=True))
            changes["policy.repo_facility"] = {"assets": assets, "haircut": draw(st.floats(0.0, 0.2))}
            changes["policy.timing.repo_facility"] = {"start": draw(st.integers(0, 2))}
        if draw(st.booleans()):
            changes["policy.slr_buffer_release"] = draw(st.floats(0.0, 0.05))
        out.append(scenario.updated(**changes) if changes else scenario)
    return system, out


@settings(RANDOM, max_examples=15)
@given(_with_levers())
def test_compiled_marking_equals_numpy_with_policy_levers(case):
    _agrees(*case)


def test_compiled_marking_equals_numpy_with_levers_on_march_2020():
    # margin calls and opaque marks, with the haircut floor, a repo facility and a buffer
    # release in some scenarios of the batch only, and final settlement in one of them
    loaded = load_preset("march_2020")
    base = loaded.scenario
    assets = list(loaded.system.asset_names[:2])
    scenarios = [
        base,
        base.updated(**{"policy.haircut_floor": True, "policy.timing.haircut_floor": {"start": 1}}),
        base.updated(**{"policy.repo_facility": {"assets": assets, "haircut": 0.01},
                        "policy.slr_buffer_release": 0.02, "market.settlement": "final"}),
    ]
    _agrees(loaded.system, scenarios)


@pytest.mark.parametrize("count", [1, 2, 7, 8, 9, 16, 127, 128, 129, 130, 300, 1000, 4099])
def test_sums_over_positions_add_in_the_order_of_numpy_reduceat(count):
    # the numpy phase sums positions with np.add.reduceat: the compiled sums add in the
    # same order, bit for bit, also for runs longer than the random systems hold, and for a
    # run that starts inside the array (the kernel keeps an institution's terms as one run
    # of a flat array)
    rng = np.random.default_rng(count)
    values = rng.standard_normal(count) * 10.0 ** np.arange(-8, 8)[np.arange(count) % 16]
    expected = np.add.reduceat(values[None, :], [0], axis=1)[0, 0]
    assert _run_sum(values, 0, count) == expected
    padded = np.concatenate([rng.standard_normal(5), values, rng.standard_normal(3)])
    assert _run_sum(padded, 5, count) == expected
