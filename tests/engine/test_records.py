"""Round records kept sparse (firesale.engine.records) hold exactly what the rounds
returned, and only the cells that are set."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import firesale
from firesale import Scenario
from firesale.data.synthetic import generate_system
from firesale.engine.kernels import NUMPY
import firesale.engine.records as records_module
from firesale.engine.records import DENSE_BELOW, DENSE_SHARE, SPARSE_RECORDS, PositionLevels, Records, SparseRecord
from firesale.engine.round import step
from firesale.engine.simulate import _EMPTY, simulate_arrays
from firesale.engine.state import Inputs, ScenarioArrays, initial_state
from firesale.testing.strategies import system_and_scenarios


def _rounds_by_hand(inputs: Inputs, scen: ScenarioArrays):
    """The records of a one-scenario batch, round by round from :func:`step` itself, and
    the per-position detail built dense from each round's state and trades."""
    state, rounds = initial_state(inputs, scen), []
    n, k = inputs.n_institutions, inputs.n_assets
    for t in range(int(scen.max_rounds[0])):
        with np.errstate(all="ignore"):
            state, records, trades = step(state, inputs, scen, t, NUMPY)
        slot = trades.assets >= 0
        rows = np.broadcast_to((trades.rows % n)[:, None], slot.shape)[slot]
        sales, binding = np.zeros((1, n, k)), np.full((1, n, k), -1, dtype=np.int8)
        sales[0, rows, trades.assets[slot]] = trades.sales[slot]
        binding[0, rows, trades.assets[slot]] = trades.binding[slot]
        records.update(holdings=inputs.to_dense(state.q), trading_holdings=inputs.to_dense(state.q_trading),
                       sales=sales, binding=binding)
        rounds.append(records)
        if not state.active.any():
            break
    return rounds


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(system_and_scenarios(count=1, brakes=True))
def test_every_record_is_what_its_round_returned(case):
    system, scenarios = case
    inputs, scen = Inputs.from_system(system), ScenarioArrays.from_scenarios(system, scenarios)
    by_hand = _rounds_by_hand(inputs, scen)
    run = simulate_arrays(inputs, scen, detail=True)
    assert run.n_rounds == len(by_hand)
    for name, record in run.records.items():
        dense = np.asarray(record)
        assert dense.shape[:2] == (1, len(by_hand)), name
        for t, records in enumerate(by_hand):
            expected = np.asarray(records[name][0])
            assert dense.dtype == (expected.dtype if expected.dtype in (np.bool_, np.int8) else np.float64), name
            # every bit, NaN and -0.0 included
            np.testing.assert_array_equal(np.atleast_1d(dense[0, t]).view(np.uint8),
                                          np.atleast_1d(expected.astype(dense.dtype)).view(np.uint8),
                                          err_msg=f"{name}, round {t}")


def test_sparse_records_hold_only_the_cells_set(monkeypatch):
    """On a 2,000-institution system, where a minority sells, a sparse record takes 16
    bytes (index and value) per cell that differs from its empty value, and no more than the
    dense array would (DENSE_SHARE of its cells). (Records this small are dense from the
    start, DENSE_BELOW; here every record is made to start sparse.)"""
    monkeypatch.setattr(records_module, "DENSE_BELOW", 0)
    system = generate_system(2000, 60, 0.05, 3)
    scenarios = [Scenario(name=f"s{s}", shocks=[{"asset": system.assets[s].name, "price": -0.05}], max_rounds=6)
                 for s in range(3)]
    run = simulate_arrays(Inputs.from_system(system), ScenarioArrays.from_scenarios(system, scenarios), detail=True)
    kinds = {}
    for name in SPARSE_RECORDS:
        record = run.records[name]
        dense = np.asarray(record)
        fill = np.full(1, _EMPTY.get(name, 0), dtype=dense.dtype)
        set_cells = int((dense.reshape(-1, 1).view(np.uint8) != fill.view(np.uint8)).any(axis=1).sum())
        kinds[name] = type(record).__name__
        if isinstance(record, SparseRecord):
            assert set_cells <= DENSE_SHARE * dense.size, name
            assert record.nbytes <= 2 * 16 * set_cells + 16 * 1024 * 2, name  # buffers double from 1,024
    # the premise: sales by channel and breaches stay mostly empty here
    assert kinds["sales_by_channel"] == kinds["breach"] == "SparseRecord"
    holdings = run.records["holdings"]
    assert isinstance(holdings, PositionLevels)
    # the t0 holdings once (per position of the pattern), then only what changed
    inputs = Inputs.from_system(system)
    t0 = np.broadcast_to(inputs.to_dense(inputs.held[None])[:, None], (len(scenarios), 1) + holdings.shape[2:])
    changed = int((np.diff(np.concatenate([t0, holdings.toarray()], axis=1), axis=1) != 0).sum())
    positions = inputs.n_entries
    assert holdings.nbytes <= 8 * positions + 2 * 16 * max(changed, 1024)
    assert holdings.nbytes < 0.1 * np.prod(holdings.shape) * 8


@pytest.mark.parametrize("chunk_size", [1, 2])
def test_chunks_write_the_same_records(chunk_size):
    """Chunks run one after another, each from round 0: the sparse records come out in
    round order whatever the chunking, the same bits as one chunk."""
    preset = firesale.load_preset("march_2020")
    scenarios = [preset.scenario.model_copy(update={"name": f"s{s}", "max_rounds": 4 + 3 * s}) for s in range(3)]
    inputs = Inputs.from_system(preset.system)
    scen = ScenarioArrays.from_scenarios(preset.system, scenarios)
    whole = simulate_arrays(inputs, scen, detail=True)
    chunked = simulate_arrays(inputs, scen, detail=True, chunk_size=chunk_size)
    for name, record in whole.records.items():
        np.testing.assert_array_equal(np.asarray(chunked.records[name]), np.asarray(record), err_msg=name)


def test_a_record_that_fills_up_turns_dense(monkeypatch):
    """A sparse record stays cells while they take no more than the dense array of the
    rounds so far would, then turns dense, keeping every value written."""
    monkeypatch.setattr(records_module, "DENSE_BELOW", 0)
    records = Records(n_scen=4, capacity=3, levels=frozenset(), empty={})
    rng = np.random.default_rng(1)
    quiet = np.zeros((4, 5))
    quiet[1, 2] = 7.0  # 1 cell of 20 set
    records.write("sold", slice(0, 4), 0, quiet)
    assert isinstance(records.arrays["sold"], SparseRecord)
    busy = rng.uniform(1.0, 2.0, (4, 5))  # 20 more cells: 21 of the 40 of two rounds, beyond half
    records.write("sold", slice(0, 4), 1, busy)
    assert isinstance(records.arrays["sold"], np.ndarray)
    records.write("sold", np.array([0, 2, 3]), 2, busy[:3])
    out = records.finish(np.array([2, 1, 2, 2]))["sold"]
    expected = np.zeros((4, 3, 5))
    expected[:, 0], expected[:, 1] = quiet, busy
    expected[[0, 2, 3], 2] = busy[:3]  # scenario 1 stopped after round 1: no flow after
    np.testing.assert_array_equal(out, expected)


def test_a_small_record_is_dense_from_the_start():
    """Cells save memory only where there is memory to save: a record of SPARSE_RECORDS
    whose dense array for the batch's capacity takes at most DENSE_BELOW bytes is a dense
    array from its first round; one byte beyond, it starts as cells."""
    quiet = np.zeros((4, 5))
    quiet[1, 2] = 7.0
    fits = Records(n_scen=4, capacity=DENSE_BELOW // (4 * 5 * 8), levels=frozenset(), empty={})
    fits.write("sold", slice(0, 4), 0, quiet)
    assert isinstance(fits.arrays["sold"], np.ndarray)
    beyond = Records(n_scen=4, capacity=DENSE_BELOW // (4 * 5 * 8) + 1, levels=frozenset(), empty={})
    beyond.write("sold", slice(0, 4), 0, quiet)
    assert isinstance(beyond.arrays["sold"], SparseRecord)
    for records in (fits, beyond):
        out = records.finish(np.zeros(4, dtype=np.int64))["sold"]
        np.testing.assert_array_equal(np.asarray(out), quiet[:, None])


def test_small_per_position_records_are_dense_and_grow():
    """The per-position detail of a small batch is dense from the start (DENSE_BELOW):
    sales and binding cells are set in a round's (S, N, K) block, holdings are scattered
    to the positions of the pattern. Beyond the rounds it was sized for, a record grows,
    the rounds added holding its empty value; holdings are levels, which a stopped
    scenario repeats."""
    records = Records(n_scen=2, capacity=2, levels=frozenset(), empty={"binding": -1})
    institution, asset = np.array([0, 1, 1]), np.array([1, 0, 2])  # 3 positions of a 2 x 3 system
    for t in range(4):
        records.add_cells("binding", t, (2, 3), np.int8, np.array([t, 6 + t]), np.array([t, 10 + t], dtype=np.int8))
        held = np.array([[t, 2.0 * t, 3.0 * t], [-t, -2.0 * t, -3.0 * t]])
        records.add_levels("holdings", t, np.array([0, 1]), held, held, institution, asset, 2, 3)
    assert isinstance(records.arrays["binding"], np.ndarray) and isinstance(records.arrays["holdings"], np.ndarray)
    out = records.finish(np.array([3, 1]))  # scenario 1 stops after round 1
    binding = np.full((2, 4, 2, 3), -1, dtype=np.int8)
    holdings = np.zeros((2, 4, 2, 3))
    for t in range(4):
        binding[0, t].reshape(-1)[t] = t
        holdings[0, t, institution, asset] = [t, 2 * t, 3 * t]
    for t in range(2):
        binding[1, t].reshape(-1)[t] = 10 + t
        holdings[1, t, institution, asset] = [-t, -2 * t, -3 * t]
    holdings[1, 2:] = holdings[1, 1]  # a level: the last round's, repeated
    np.testing.assert_array_equal(out["binding"], binding)
    np.testing.assert_array_equal(out["holdings"], holdings)
