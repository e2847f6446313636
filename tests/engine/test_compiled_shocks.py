"""The compiled shocks phase (:mod:`firesale.engine.compiled_shocks`) against the numpy
phase, :func:`firesale.engine.shocks.shocks`, the oracle: at every round of a run, both on
the same arguments, every field of their results to 1e-12 of its magnitude
(:func:`firesale.testing.assert_phase_agrees`)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firesale.engine.kernels import kernels_named
from firesale.testing import assert_phase_agrees
from firesale.testing.strategies import system_and_scenarios

NUMBA = kernels_named("numba")
TOLERANCE = 1e-12
RANDOM = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _agrees(system, scenarios) -> None:
    assert assert_phase_agrees(system, scenarios, "shocks", kernels=NUMBA, tolerance=TOLERANCE) > 0


@st.composite
def _with_default_shocks(draw):
    """Random systems whose scenarios also impose defaults, which the random scenarios leave
    out, and capital shocks in more rounds (some scenarios of a batch with none)."""
    system, scenarios = draw(system_and_scenarios(count=3, brakes=True))
    out = []
    for scenario in scenarios:
        shocks = list(scenario.model_dump()["shocks"])
        for name in system.institution_names:
            if draw(st.integers(0, 3)) == 0:
                shocks.append({"institution": name, "default": True, "round": draw(st.integers(0, 3))})
            if draw(st.integers(0, 3)) == 0:
                shocks.append({"institution": name, "capital": draw(st.floats(-30.0, 10.0)),
                               "round": draw(st.integers(0, 3))})
        out.append(scenario.updated(shocks=shocks, max_rounds=max(scenario.max_rounds, 5)))
    return system, out


@settings(RANDOM, max_examples=10)
@given(_with_default_shocks())
def test_compiled_shocks_equal_numpy_with_default_and_capital_shocks(case):
    _agrees(*case)


