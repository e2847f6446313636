"""Rounds run in one compiled call (:mod:`firesale.engine.compiled_run`) against the loop
that steps the compiled round a round at a time: the same round kernel on the same
arguments, so every record, the rounds, the sales by position and the final state must be
the same bits, whatever the blocks' size, the chunks, the detail kept (dense or as cells)
and the records asked for; and a state the engine rejects is reported at the same
scenario, round and column."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from firesale import Scenario, System, load_preset, simulate
from firesale.engine import records as records_module
from firesale.engine import simulate as simulate_module
from firesale.engine.compiled import CompiledKernels
from firesale.channels import CHANNELS
from firesale.data.preset import list_presets
from firesale.engine.kernels import kernels_named
from firesale.engine.round import record_bytes
from firesale.engine.simulate import simulate_arrays
from firesale.engine.state import Inputs, ScenarioArrays
from firesale.errors import ConfigError, ModelDivergenceError
from firesale.testing.strategies import system_and_scenarios

NUMBA = kernels_named("numba")
PRESETS = tuple(list_presets())  # every shipped preset
ROUND_AT_A_TIME = CompiledKernels()
ROUND_AT_A_TIME.run_rounds = None


def _same_bits(name: str, expected, tested) -> None:
    expected, tested = np.asarray(expected), np.asarray(tested)
    assert expected.shape == tested.shape and expected.dtype == tested.dtype, name
    assert expected.tobytes() == tested.tobytes(), f"{name}: other bits"


def _assert_same_runs(expected, tested) -> None:
    assert expected.records.keys() == tested.records.keys()
    for name in expected.records:
        _same_bits(name, expected.records[name], tested.records[name])
    for name in ("rounds", "initial_equity", "initial_loss", "sales_by_entry"):
        _same_bits(name, getattr(expected, name), getattr(tested, name))
    assert expected.n_rounds == tested.n_rounds
    for field in dataclasses.fields(expected.final):
        _same_bits(f"final {field.name}", getattr(expected.final, field.name), getattr(tested.final, field.name))


def _arrays(system, scenarios):
    return Inputs.from_system(system), ScenarioArrays.from_scenarios(system, scenarios)


def _preset_batch(preset: str):
    loaded = load_preset(preset)
    policies = [loaded.scenario.updated(**policy["overrides"]) for policy in loaded.policies.values()]
    # shorter runs beside the preset's own (at least to the last shock): scenarios stop in
    # different rounds
    first = int(ScenarioArrays.from_scenarios(loaded.system, [loaded.scenario]).last_shock_round[0]) + 1
    shorter = [loaded.scenario.updated(max_rounds=first + extra) for extra in (0, 1, 2)]
    return _arrays(loaded.system, [loaded.scenario, *policies, *shorter])


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("detail", [True, False])
def test_rounds_in_one_call_equal_a_round_at_a_time_on_presets(preset, detail):
    """Each preset's baseline, its policies and three shorter runs: whole, in chunks of 2
    (scenarios stop and are set aside between calls) and one scenario alone."""
    inputs, scen = _preset_batch(preset)
    expected = simulate_arrays(inputs, scen, detail=detail, kernels=ROUND_AT_A_TIME)
    assert expected.n_rounds > 1
    _assert_same_runs(expected, simulate_arrays(inputs, scen, detail=detail, kernels=NUMBA))
    _assert_same_runs(expected, simulate_arrays(inputs, scen, detail=detail, kernels=NUMBA, chunk_size=2))
    one = scen.take(np.array([0]))
    _assert_same_runs(simulate_arrays(inputs, one, detail=detail, kernels=ROUND_AT_A_TIME),
                      simulate_arrays(inputs, one, detail=detail, kernels=NUMBA))


@pytest.mark.parametrize("block_bytes", [1, 1 << 40])
def test_the_blocks_size_changes_nothing(monkeypatch, block_bytes):
    """A round a call (blocks of one round) and every round in one call, beyond the
    records' first capacity (they grow before the rounds are written in place, or while a
    block is written)."""
    monkeypatch.setattr(simulate_module, "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(simulate_module, "_INITIAL_ROUNDS", 4)
    inputs, scen = _preset_batch("dealer_groups")
    _assert_same_runs(simulate_arrays(inputs, scen, detail=True, kernels=ROUND_AT_A_TIME),
                      simulate_arrays(inputs, scen, detail=True, kernels=NUMBA))


def test_a_chunk_goes_on_in_one_call_once_few_scenarios_are_left(monkeypatch):
    """A chunk too large for the run loop steps a round at a time, and runs its rounds in
    one call once enough of its scenarios have stopped."""
    inputs, scen = _preset_batch("dealer_groups")
    few = record_bytes(3, inputs.n_institutions, inputs.n_assets, len(CHANNELS))
    assert scen.tolerance.size > 3
    monkeypatch.setattr(simulate_module, "RUN_BYTES", few)
    calls = []
    real = NUMBA.run_rounds
    monkeypatch.setattr(NUMBA, "run_rounds", lambda state, *args: calls.append(state.q.shape[0]) or real(state, *args))
    _assert_same_runs(simulate_arrays(inputs, scen, detail=True, kernels=ROUND_AT_A_TIME),
                      simulate_arrays(inputs, scen, detail=True, kernels=NUMBA))
    assert calls and max(calls) <= 3


def test_detail_and_flows_kept_as_cells(monkeypatch):
    """Records that a large batch keeps as cells (sparse flows, per-position sales and
    holdings as changes) hold the same as a round at a time."""
    monkeypatch.setattr(records_module, "DENSE_BELOW", 0)
    inputs, scen = _preset_batch("march_2020")
    expected = simulate_arrays(inputs, scen, detail=True, kernels=ROUND_AT_A_TIME)
    tested = simulate_arrays(inputs, scen, detail=True, kernels=NUMBA)
    assert isinstance(tested.records["sales_by_channel"], records_module.SparseRecord)
    assert isinstance(tested.records["holdings"], records_module.PositionLevels)
    _assert_same_runs(expected, tested)


def test_the_records_asked_for():
    inputs, scen = _preset_batch("gilt_ldi_2022")
    keep = {"price", "equity", "sold", "eventful"}
    expected = simulate_arrays(inputs, scen, detail=False, variables=keep, kernels=ROUND_AT_A_TIME)
    tested = simulate_arrays(inputs, scen, detail=False, variables=keep, kernels=NUMBA)
    assert set(tested.records) == keep
    _assert_same_runs(expected, tested)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(system_and_scenarios(count=3, brakes=True))
def test_rounds_in_one_call_equal_a_round_at_a_time_every_mechanism(case):
    inputs, scen = _arrays(*case)
    try:
        expected = simulate_arrays(inputs, scen, detail=True, kernels=ROUND_AT_A_TIME)
    except ModelDivergenceError as error:  # the same error, at the same place
        with pytest.raises(ModelDivergenceError) as info:
            simulate_arrays(inputs, scen, detail=True, kernels=NUMBA)
        assert str(info.value) == str(error) and info.value.location == error.location
        return
    _assert_same_runs(expected, simulate_arrays(inputs, scen, detail=True, kernels=NUMBA))
    _assert_same_runs(expected, simulate_arrays(inputs, scen, detail=True, kernels=NUMBA, chunk_size=1))


def _explosive_system() -> System:
    """A leverage-10 targeter in a thin market: it buys into its own price impact, until
    prices pass the physical bound, once a price rises."""
    return System.from_records(
        [{"name": "hf", "type": "hedge_fund", "liabilities": 90.0, "leverage_trigger": 0.1, "leverage_target": 0.1,
          "leverage_targeting": "two_sided"}],
        [{"name": "x", "class": "equity", "sigma0": 0.01, "depth": 500.0}],
        [{"institution": "hf", "asset": "x", "quantity": 100.0}],
    )


def test_a_rejected_state_is_reported_where_a_round_at_a_time_reports_it():
    """A leverage-10 targeter in a thin market buys into its own price impact until prices
    pass the physical bound: beside a calm scenario and one that stops early, the error
    names the same scenario and round either way."""
    system = _explosive_system()
    scenarios = [Scenario(max_rounds=60), Scenario(shocks=[{"asset": "x", "price": 0.05}], max_rounds=2),
                 Scenario(shocks=[{"asset": "x", "price": 0.05}], max_rounds=60)]
    errors = []
    for kernels in (ROUND_AT_A_TIME, NUMBA):
        with pytest.raises(ModelDivergenceError) as info:
            simulate(system, scenarios, kernels=kernels)
        errors.append(info.value)
    assert "[FS604]" in str(errors[1]) and errors[1].location["scenario"] == 2 and errors[1].location["round"] > 2
    assert str(errors[0]) == str(errors[1]) and errors[0].location == errors[1].location


# --------------------------------------------------------------------------- chunks on threads
def _chunks_run(monkeypatch) -> list[tuple[str, int]]:
    """The thread and the number of scenarios of each chunk a batch runs, filled as the
    chunks run (in the order the threads reach them)."""
    seen: list[tuple[str, int]] = []
    real = simulate_module._simulate_chunk
    monkeypatch.setattr(simulate_module, "_simulate_chunk", lambda inputs, part, *args: seen.append(
        (threading.current_thread().name, part.tolerance.size)) or real(inputs, part, *args))
    return seen


@pytest.mark.parametrize("preset", ["dealer_groups", "march_2020", "inet_eba2018"])
@pytest.mark.parametrize("detail", [True, False])
def test_chunks_on_threads_give_the_bits_of_one_thread(monkeypatch, preset, detail):
    """Chunks of one scenario and of three, on three threads: every record, the rounds,
    the sales and the final state as one thread leaves them."""
    inputs, scen = _preset_batch(preset)
    expected = simulate_arrays(inputs, scen, detail=detail, kernels=NUMBA, threads=1)
    run = _chunks_run(monkeypatch)
    for chunk_size in (1, 3):
        _assert_same_runs(expected, simulate_arrays(inputs, scen, detail=detail, kernels=NUMBA,
                                                    chunk_size=chunk_size, threads=3))
    assert run and all(name.startswith("firesale-chunk") for name, _ in run)


def test_threads_with_records_as_cells(monkeypatch):
    """Records kept as cells (each thread fills blocks of its own): the bits of one
    thread, on the numpy kernels too."""
    monkeypatch.setattr(records_module, "DENSE_BELOW", 0)
    loaded = load_preset("march_2020")
    inputs, scen = _arrays(loaded.system, [loaded.scenario, loaded.scenario.updated(max_rounds=20),
                                           loaded.scenario.updated(max_rounds=17)] * 2)
    run = _chunks_run(monkeypatch)
    for kernels in (NUMBA, kernels_named("numpy")):
        expected = simulate_arrays(inputs, scen, detail=True, kernels=kernels, threads=1)
        for _ in range(5):  # threads race where they share memory: several runs to meet it
            tested = simulate_arrays(inputs, scen, detail=True, kernels=kernels, chunk_size=1, threads=4)
            assert isinstance(tested.records["holdings"], records_module.PositionLevels)
            _assert_same_runs(expected, tested)
    assert any(name.startswith("firesale-chunk") for name, _ in run)  # the threaded runs did use threads


def test_a_run_past_the_records_first_capacity_runs_its_chunks_one_after_another(monkeypatch):
    """A shock in round 70: the records grow past their first 64 rounds, which threads
    writing in place could not follow, so the chunks run on the calling thread."""
    loaded = load_preset("march_2020")
    late = loaded.scenario.updated(max_rounds=75, shocks=[*(s.model_dump() for s in loaded.scenario.shocks),
                                                          {"asset": loaded.system.asset_names[0], "price": -0.01,
                                                           "round": 70}])
    inputs, scen = _arrays(loaded.system, [loaded.scenario, late, loaded.scenario.updated(max_rounds=20), late])
    expected = simulate_arrays(inputs, scen, detail=True, kernels=NUMBA, threads=1)
    assert expected.n_rounds > 70
    run = _chunks_run(monkeypatch)
    _assert_same_runs(expected, simulate_arrays(inputs, scen, detail=True, kernels=NUMBA, chunk_size=1, threads=4))
    assert {name for name, _ in run} == {threading.current_thread().name}


def test_threads_report_the_first_chunks_rejected_state():
    """Two scenarios on separate threads leave what is possible: the error is the first
    one's, as one thread reports it."""
    system = _explosive_system()
    scenarios = [Scenario(max_rounds=60), Scenario(shocks=[{"asset": "x", "price": 0.05}], max_rounds=60),
                 Scenario(shocks=[{"asset": "x", "price": 0.08}], max_rounds=60)]
    inputs, scen = _arrays(system, scenarios)
    errors = []
    for threads in (1, 3):
        with pytest.raises(ModelDivergenceError) as info:
            simulate_arrays(inputs, scen, kernels=NUMBA, chunk_size=1, threads=threads)
        errors.append(info.value)
    assert "[FS604]" in str(errors[0]) and str(errors[0]).startswith("[FS604] scenario 1,")
    assert str(errors[0]) == str(errors[1]) and errors[0].location == errors[1].location


def test_a_large_batch_takes_the_kernels_threads(monkeypatch):
    """By default a batch is cut into one chunk a thread of the kernel set, none smaller
    than THREAD_CHUNK scenarios; the numpy kernels run on the calling thread."""
    loaded = load_preset("dealer_groups")
    inputs, scen = _arrays(loaded.system, [loaded.scenario.updated(max_rounds=2)] * 150)
    monkeypatch.setattr(NUMBA, "threads", lambda: 4)
    run = _chunks_run(monkeypatch)
    one = simulate_arrays(inputs, scen, detail=False, kernels=NUMBA, threads=1)
    assert [size for _, size in run] == [150]
    run.clear()
    _assert_same_runs(one, simulate_arrays(inputs, scen, detail=False, kernels=NUMBA))
    assert sorted(size for _, size in run) == sorted([simulate_module.THREAD_CHUNK] * 2
                                                     + [150 - 2 * simulate_module.THREAD_CHUNK])
    assert kernels_named("numpy").threads() == 1


@pytest.mark.parametrize("threads", [0, -2, 1.5, True, "2"])
def test_threads_that_are_not_a_count_are_refused(threads):
    loaded = load_preset("dealer_prime")
    with pytest.raises(ConfigError, match=r"\[FS209\] threads .*whole number of threads, at least 1"):
        simulate(loaded.system, loaded.scenario, kernels="numba", threads=threads)


def test_threads_with_the_loop_gain():
    """Each round's loop gain probes the round again from Python: on threads too, the bits
    of one thread."""
    inputs, scen = _preset_batch("dealer_groups")
    expected = simulate_arrays(inputs, scen, detail=False, loop_gain=True, kernels=NUMBA, threads=1)
    assert np.isfinite(np.asarray(expected.records["loop_gain"])).any()
    _assert_same_runs(expected, simulate_arrays(inputs, scen, detail=False, loop_gain=True, kernels=NUMBA,
                                                chunk_size=2, threads=3))
