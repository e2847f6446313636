"""The engine's tables as the compiled round sees them.

A compiled phase (``firesale.engine.compiled_<phase>``) takes the same tables as its numpy
phase — the system's :class:`~firesale.engine.state.Inputs`, the
:class:`~firesale.engine.state.ScenarioArrays`, the round's
:class:`~firesale.engine.state.Levers` and the :class:`~firesale.engine.state.State` —
and the phases of :mod:`firesale.engine.compiled_round` pass their results on inside one
compiled call, with no Python between them. A dataclass is not a type numba can read, so
each table here holds a dataclass's fields, in its order, as numba reads them:

* the large ones (:class:`InputTable`, :class:`ScenarioTable`, :class:`StateTable`) are
  numba structures held by reference. numba passes a named tuple by value, every array of
  it as arguments of its own: the 190 arrays of these three made each phase a function of
  some 1,300 machine arguments, slow to compile (58 s against 108 s for every kernel of a
  run, cold, measured on ``march_2020``) and 22 µs to call from Python (1.7 µs by reference);
* the small ones (:data:`LeverTable`, :class:`InformationTable`, the phases' results) are
  named tuples.

:func:`input_table` adds what the compiled phases derive from a system once (the dealers'
positions in runs, the VaR quantiles); each table is kept while the object it was built
from lives, and dropped with it. The ``canonical_*`` functions bring a phase's result, the
numpy phase's or the compiled one's, to the one form the compiled phases take.
"""

from __future__ import annotations

import weakref
from collections import namedtuple
from dataclasses import fields
from typing import NamedTuple

import numpy as np
from numba import njit, types
from numba.experimental import structref
from scipy.special import ndtri

from firesale.engine.funding_calls import FundingCalls
from firesale.engine.intermediation import Intermediated
from firesale.engine.marking import Marked
from firesale.engine.state import Inputs, Levers, ScenarioArrays, State

__all__ = ["InputTable", "ScenarioTable", "LeverTable", "StateTable", "InformationTable", "STATES", "input_table",
           "scenario_table", "lever_table", "state_table", "canonical", "canonical_marked", "canonical_calls",
           "canonical_dealt"]

_INPUT_FIELDS = tuple(f.name for f in fields(Inputs) if f.name != "dealer_positions") + (
    "position_dealer", "position_asset", "position_share", "dealer_order", "dealer_starts", "dealer_slot_of",
    "dealer_z", "var_z", "has_funding", "has_derivatives")
_SCENARIO_FIELDS = tuple(f.name for f in fields(ScenarioArrays))
_STATE_FIELDS = tuple(f.name for f in fields(State))


class _TableType(types.StructRef):
    """A table numba holds by reference: one pointer to pass, however many arrays it has."""

    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(kind)) for name, kind in fields)


@structref.register
class _InputTableType(_TableType):
    pass


@structref.register
class _ScenarioTableType(_TableType):
    pass


@structref.register
class _StateTableType(_TableType):
    pass


class InputTable(structref.StructRefProxy):
    """A system's t0 arrays (:class:`~firesale.engine.state.Inputs`, read-only), with the
    dealers' positions as three arrays (``position_dealer``, ``position_asset``,
    ``position_share``), each dealer's positions side by side (``dealer_order``, a dealer's
    run ``dealer_starts[j]:dealer_starts[j + 1]``, ``dealer_slot_of`` the inverse), the VaR
    quantiles of the dealers and of the desks with a limit (``dealer_z``, ``var_z``) and the
    flags ``has_funding`` and ``has_derivatives``. Its fields are read in compiled code."""


class ScenarioTable(structref.StructRefProxy):
    """The scenario settings (:class:`~firesale.engine.state.ScenarioArrays`). Its fields
    are read in compiled code."""


class StateTable(structref.StructRefProxy):
    """The state of a round (:class:`~firesale.engine.state.State`), as the phases read it.
    The compiled round returns the new state as a :data:`NewState`: ``State(*new)`` is it."""


structref.define_proxy(InputTable, _InputTableType, _INPUT_FIELDS)
structref.define_proxy(StateTable, _StateTableType, _STATE_FIELDS)
structref.define_proxy(ScenarioTable, _ScenarioTableType, _SCENARIO_FIELDS)


# the tables are built by compiled functions cached on disk: a proxy's own constructor is
# compiled afresh in every process
@njit(cache=True)
def _new_input_table(*values):  # pragma: no cover - compiled
    return InputTable(*values)


@njit(cache=True)
def _new_scenario_table(*values):  # pragma: no cover - compiled
    return ScenarioTable(*values)


@njit(cache=True)
def _new_state_table(*values):  # pragma: no cover - compiled
    return StateTable(*values)


#: The policy levers of a round (:class:`~firesale.engine.state.Levers`).
LeverTable = namedtuple("LeverTable", tuple(f.name for f in fields(Levers)))
#: The state a compiled round returns (:class:`~firesale.engine.state.State`'s fields, in
#: its order): ``State(*new)`` is it.
NewState = namedtuple("NewState", _STATE_FIELDS)


class InformationTable(NamedTuple):
    """The information channel's state for the next round
    (:class:`firesale.channels.information.Information`, as a named tuple)."""

    spread: np.ndarray
    quoting_share: np.ndarray
    uncertainty: np.ndarray
    depth_scale: np.ndarray
    layoff: np.ndarray


def _array(values: np.ndarray) -> np.ndarray:
    """``values`` C-contiguous, with integers as int64 and floats as float64 (flags and
    the int8 channel codes keep their type), so each kernel is compiled for one type."""
    values = np.asarray(values)
    kind = values.dtype.kind
    dtype = np.int64 if kind in "iu" and values.dtype != np.int8 else (np.float64 if kind == "f" else values.dtype)
    return np.ascontiguousarray(values, dtype=dtype)


def _read_only(values: np.ndarray) -> np.ndarray:
    values = _array(values)
    values.setflags(write=False)
    return values


class _Kept:
    """Tables by the identity of the object they were built from, each kept while that
    object lives and dropped with it (a system's for all its runs, a batch's for its
    rounds, a state's until the next round): no run's arrays outlive it in here."""

    def __init__(self) -> None:
        self.tables: dict[int, tuple[weakref.ref, object]] = {}

    def find(self, key: object):
        """The table kept for ``key``, None if there is none."""
        hit = self.tables.get(id(key))
        return hit[1] if hit is not None and hit[0]() is key else None

    def put(self, key: object, table: object) -> object:
        """Keep ``table`` for ``key`` while ``key`` lives; returns it."""
        ident = id(key)
        self.tables[ident] = (weakref.ref(key, lambda _, ident=ident: self.tables.pop(ident, None)), table)
        return table

    def get(self, key: object, build):
        """The table kept for ``key``, built by ``build(key)`` the first time."""
        table = self.find(key)
        return self.put(key, build(key)) if table is None else table


_INPUTS, _SCENARIOS = _Kept(), _Kept()
#: The table of each state a compiled round returned, while that state lives.
STATES = _Kept()


def input_table(inputs: Inputs) -> InputTable:
    """The :class:`InputTable` of a system (built once, kept while ``inputs`` lives)."""
    return _INPUTS.get(inputs, _build_input_table)


def _build_input_table(inputs: Inputs) -> InputTable:
    positions = inputs.dealer_positions
    order = np.argsort(positions.dealer, kind="stable")
    slot_of = np.empty_like(order)
    slot_of[order] = np.arange(order.size)
    starts = np.searchsorted(positions.dealer[order], np.arange(inputs.dealers.size + 1))
    derived = (positions.dealer, positions.asset, positions.share, order, starts, slot_of,
               ndtri(inputs.var_confidence[inputs.dealers]), ndtri(inputs.var_confidence[inputs.var_desks]))
    return _new_input_table(*(_read_only(getattr(inputs, f.name)) for f in fields(inputs)
                              if f.name != "dealer_positions"),
                            *(_read_only(values) for values in derived), inputs.has_funding, inputs.has_derivatives)


def scenario_table(scen: ScenarioArrays) -> ScenarioTable:
    """The :class:`ScenarioTable` of a batch (built once, kept while ``scen`` lives)."""
    return _SCENARIOS.get(scen, lambda s: _new_scenario_table(*(_array(getattr(s, name)) for name in _SCENARIO_FIELDS)))


def lever_table(levers: Levers) -> LeverTable:
    """The :data:`LeverTable` of a round's levers."""
    return LeverTable(*(_array(getattr(levers, name)) for name in LeverTable._fields))


def state_table(state: State) -> StateTable:
    """The :class:`StateTable` of a state: the one kept for it (:data:`STATES`, where the
    compiled round keeps the table of each state it returns), else built."""
    table = STATES.find(state)
    return _new_state_table(*(_array(getattr(state, name)) for name in _STATE_FIELDS)) if table is None else table


def canonical(result: tuple) -> tuple:
    """A phase's result (a named tuple) with each array field as the compiled phases take it
    (:func:`_array`); other fields (None, numbers) as they are."""
    return type(result)(*(_array(value) if isinstance(value, np.ndarray) else value for value in result))


def _full(values: np.ndarray | float, shape: tuple[int, ...]) -> np.ndarray:
    """``values`` as float64 of ``shape``, broadcast into a new array where it is not that
    shape (numba compiles a read-only array, as a broadcast view is, as another type)."""
    values = np.asarray(values, dtype=np.float64)
    return values if values.shape == shape else np.broadcast_to(values, shape).copy()


def canonical_marked(marked: Marked) -> Marked:
    """The marks (the numpy phase's or the compiled one's) in the one form the compiled
    phases take: (S, N) triggers, targets and VaR, (S, M) notionals."""
    n_scen, n_inst = marked.equity.shape
    return canonical(marked._replace(
        slr_trigger=_full(marked.slr_trigger, (n_scen, n_inst)), slr_target=_full(marked.slr_target, (n_scen, n_inst)),
        var=_full(marked.var, (n_scen, n_inst)), notional=_full(marked.notional, (n_scen, marked.notional.shape[-1]))))


def canonical_calls(calls: FundingCalls) -> FundingCalls:
    """The funding calls in the one form the compiled phases take: without funding,
    ``margin`` and ``rolled_off`` empty (0, 0) and ``swing`` per scenario and institution."""
    calls = canonical(calls)
    if calls.funding:
        return calls
    empty = np.zeros((0, 0))
    return calls._replace(margin=empty, rolled_off=empty,
                          swing=_array(np.broadcast_to(calls.swing, calls.equity.shape)))


def canonical_dealt(dealt: Intermediated) -> Intermediated:
    """The dealers' result in the one form the compiled phases take: zeros for no client
    shock, an empty (0, 0) inter-dealer block and zeros for the plain 0.0 concession without
    dealing, and float64 (S, P) blocks (the numpy phase's are integer zeros in a round where
    no dealer sells)."""
    shape = dealt.market_flow.shape
    return canonical(dealt._replace(
        client=np.zeros(shape) if dealt.client is None else dealt.client,
        interdealer=np.zeros((0, 0)) if dealt.interdealer is None else dealt.interdealer,
        concession=_full(dealt.concession, shape), dealer_sales=np.asarray(dealt.dealer_sales, dtype=np.float64),
        bought=np.asarray(dealt.bought, dtype=np.float64)))
