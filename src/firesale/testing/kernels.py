"""Shipped check for a kernel set: it must compute what the numpy reference computes.

:func:`assert_kernels_agree` steps a system's scenarios round by round with the numpy
reference kernels (:mod:`firesale.engine.kernels`) and with the kernels under test, each
round from the reference's state, and compares every state array and every round record:
amounts to ``tolerance`` of each array's magnitude (compiled sums may run in another order,
so they agree to rounding), flags, channel codes and the acting rows exactly. A new kernel
set (another compiler, a GPU) passes this before it is offered to users.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Sequence
from types import MappingProxyType

import numpy as np

from firesale.engine.kernels import NUMPY, Kernels, kernels_named
from firesale.engine.round import step
from firesale.engine.state import Inputs, ScenarioArrays, initial_state
from firesale.scenario import Scenario
from firesale.system import System

__tracebackhide__ = True

__all__ = ["assert_kernels_agree", "assert_arrays_agree", "assert_phase_agrees"]


def assert_arrays_agree(name: str, reference: np.ndarray, other: np.ndarray, tolerance: float = 1e-12) -> None:
    """``other`` equals ``reference``: integers and flags exactly, NaN where it is NaN,
    infinities equal, finite values within ``tolerance`` × max(1, the largest |reference|)."""
    reference, other = np.asarray(reference), np.asarray(other)
    assert reference.shape == other.shape, f"{name}: shape {other.shape}, reference {reference.shape}"
    if reference.dtype.kind in "biu":
        np.testing.assert_array_equal(other, reference, err_msg=name)
        return
    assert np.array_equal(np.isnan(reference), np.isnan(other)), f"{name}: NaN in one of them only"
    finite = np.isfinite(reference)
    np.testing.assert_array_equal(other[~finite & ~np.isnan(reference)], reference[~finite & ~np.isnan(reference)],
                                  err_msg=name)
    scale = max(float(np.abs(reference[finite]).max(initial=0.0)), 1.0)
    gap = float(np.abs(reference[finite] - other[finite]).max(initial=0.0))
    assert gap <= tolerance * scale, f"{name}: differs by {gap:.3g} at a scale of {scale:.3g}"


def assert_kernels_agree(system: System, scenarios: Sequence[Scenario], kernels: str | Kernels = "numba",
                         tolerance: float | None = 1e-12, reference: str | Kernels = "numpy") -> int:
    """Step ``scenarios`` on ``system`` with the ``reference`` kernels (the numpy reference
    unless given) and with ``kernels``, from the reference's state each round, and compare
    everything a round returns: to ``tolerance`` (:func:`assert_arrays_agree`), or bit for
    bit where ``tolerance`` is None. Returns the rounds compared."""
    other = kernels_named(kernels) if isinstance(kernels, str) else kernels
    reference = kernels_named(reference) if isinstance(reference, str) else reference

    def agree(name: str, expected: np.ndarray, tested: np.ndarray) -> None:
        if tolerance is not None:
            assert_arrays_agree(name, expected, tested, tolerance)
            return
        expected, tested = np.asarray(expected), np.asarray(tested)
        assert expected.shape == tested.shape and expected.dtype == tested.dtype, f"{name}: other shape or type"
        assert expected.tobytes() == tested.tobytes(), f"{name}: other bits"

    inputs = Inputs.from_system(system)
    scen = ScenarioArrays.from_scenarios(system, list(scenarios))
    state = initial_state(inputs, scen)
    for t in range(int(scen.max_rounds.max())):
        with np.errstate(all="ignore"):
            expected, records, trades = step(state, inputs, scen, t, reference)
            tested, tested_records, tested_trades = step(state, inputs, scen, t, other)
        for field in dataclasses.fields(expected):
            agree(f"round {t}, state.{field.name}", getattr(expected, field.name), getattr(tested, field.name))
        assert list(records) == list(tested_records), f"round {t}: other records, or in another order"
        for name in records:
            agree(f"round {t}, {name}", records[name], tested_records[name])
        np.testing.assert_array_equal(tested_trades.rows, trades.rows, err_msg=f"round {t}: acting rows")
        np.testing.assert_array_equal(tested_trades.assets, trades.assets, err_msg=f"round {t}: traded assets")
        slot = trades.assets >= 0
        np.testing.assert_array_equal(tested_trades.binding[slot], trades.binding[slot],
                                      err_msg=f"round {t}: binding channels")
        agree(f"round {t}, trades.sales", trades.sales[slot], tested_trades.sales[slot])
        if not expected.active.any():
            break
        state = expected
    return t + 1


def assert_phase_agrees(system: System, scenarios: Sequence[Scenario], phase: str, kernels: str | Kernels = "numba",
                        tolerance: float = 1e-12) -> int:
    """Run ``scenarios`` on ``system`` with the numpy reference; wherever the round runs
    ``phase``, also run the kernel set's compiled ``phase`` on the same arguments and
    compare its output with the reference's, field by field (:func:`assert_arrays_agree`;
    ``None`` where the reference has ``None``; nested results field by field too). The
    round goes on with the reference's output, so each call is compared on the reference's
    own inputs. Returns the number of calls compared (0: the kernel set does not compile
    ``phase``)."""
    from firesale.engine import round as round_module

    other = kernels_named(kernels) if isinstance(kernels, str) else kernels
    compiled = other.phases.get(phase)
    if compiled is None:
        return 0
    reference = getattr(round_module, phase)
    takes_kernels = list(inspect.signature(reference).parameters)[-1] == "kernels"
    calls = 0

    def both(*args):
        nonlocal calls
        if takes_kernels:
            expected, tested = reference(*args[:-1], NUMPY), compiled(*args[:-1], other)
        else:
            expected, tested = reference(*args), compiled(*args)
        _assert_outputs_agree(f"{phase}, call {calls}", expected, tested, tolerance)
        calls += 1
        return expected

    checking = Kernels()
    checking.phases = MappingProxyType({phase: both})
    inputs = Inputs.from_system(system)
    scen = ScenarioArrays.from_scenarios(system, list(scenarios))
    state = initial_state(inputs, scen)
    for t in range(int(scen.max_rounds.max())):
        with np.errstate(all="ignore"):
            state, _, _ = step(state, inputs, scen, t, checking)
        if not state.active.any():
            break
    return calls


def _assert_outputs_agree(name: str, expected, tested, tolerance: float) -> None:
    if expected is None or tested is None:
        assert expected is None and tested is None, f"{name}: None in one of them only"
    elif isinstance(expected, tuple) and hasattr(expected, "_fields"):
        for field in expected._fields:
            _assert_outputs_agree(f"{name}.{field}", getattr(expected, field), getattr(tested, field), tolerance)
    elif isinstance(expected, dict):
        assert expected.keys() == tested.keys(), f"{name}: other keys"
        for key in expected:
            _assert_outputs_agree(f"{name}[{key!r}]", expected[key], tested[key], tolerance)
    elif dataclasses.is_dataclass(expected):
        for field in dataclasses.fields(expected):
            _assert_outputs_agree(f"{name}.{field.name}", getattr(expected, field.name),
                                  getattr(tested, field.name), tolerance)
    elif isinstance(expected, (bool, int, float, np.ndarray, np.generic)):
        assert_arrays_agree(name, np.asarray(expected), np.asarray(tested), tolerance)
    else:
        assert expected == tested, f"{name}: {tested!r}, reference {expected!r}"
