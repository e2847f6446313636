"""The compiled constraints phase (:mod:`firesale.engine.compiled_constraints`) against the
numpy phase, :func:`firesale.engine.constraints.constraints`, the oracle: at every round of
a run, both on the same arguments, every field of their results to 1e-12 of its magnitude
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
    assert assert_phase_agrees(system, scenarios, "constraints", kernels=NUMBA, tolerance=TOLERANCE) > 0


@st.composite
def _with_switches_and_defaults(draw):
    """Random systems whose scenarios switch the default, SLR and leverage channels off at
    random (a batch mixes them on and off) and impose defaults, which the random scenarios
    leave on and out."""
    system, scenarios = draw(system_and_scenarios(count=3, brakes=True))
    out = []
    for scenario in scenarios:
        changes = {f"channels.{channel}": False for channel in ("default", "slr", "leverage") if draw(st.booleans())}
        shocks = list(scenario.model_dump()["shocks"])
        for name in system.institution_names:
            if draw(st.integers(0, 3)) == 0:
                last = min(2, scenario.max_rounds - 1)  # a shock after the last round is an error
                shocks.append({"institution": name, "default": True, "round": draw(st.integers(0, last))})
        out.append(scenario.updated(shocks=shocks, **changes))
    return system, out


@settings(RANDOM, max_examples=15)
@given(_with_switches_and_defaults())
def test_compiled_constraints_equal_numpy_with_channels_off_and_defaults(case):
    _agrees(*case)


