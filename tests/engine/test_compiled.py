"""The compiled kernels (numba) against the numpy reference, the oracle.

Round by round on random systems with every mechanism on: both kernel sets step from the
same state, and every record and every state array must agree to 1e-12 of its own
magnitude (sums run in another order, so not bit for bit); flags, channel codes and the
acting rows must be equal. On the presets, whole runs agree to the same tolerance, and a
batch equals its scenarios run alone bit for bit on the compiled path too.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from firesale import load_preset
from firesale.engine import compiled
from firesale.engine.kernels import kernels_named
from firesale.engine.simulate import PROBE, simulate_arrays
from firesale.engine.state import Inputs, ScenarioArrays
from firesale.errors import ConfigError
from firesale.testing import assert_arrays_agree, assert_kernels_agree
from firesale.testing.strategies import system_and_scenarios

NUMBA = kernels_named("numba")
TOLERANCE = 1e-12
PRESETS = ("dealer_groups", "dealer_market", "dealer_prime", "gilt_ldi_2022", "inet_eba2018", "march_2020",
           "var_desk")


def _scaled(scenario, factor: float):
    """The scenario with its price shocks scaled by ``factor``."""
    shocks = [{**shock, "price": None if shock["price"] is None else shock["price"] * factor}
              for shock in scenario.model_dump()["shocks"]]
    return scenario.updated(shocks=shocks)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(system_and_scenarios(count=3, brakes=True))
def test_compiled_round_equals_numpy_round_every_mechanism(case):
    assert_kernels_agree(*case, kernels=NUMBA, tolerance=TOLERANCE)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(system_and_scenarios(count=2, max_institutions=9, max_assets=7))
def test_compiled_round_equals_numpy_round_without_brakes(case):
    assert_kernels_agree(*case, kernels=NUMBA, tolerance=TOLERANCE)


@pytest.mark.parametrize("preset", PRESETS)
def test_compiled_runs_equal_numpy_runs_on_presets(preset):
    loaded = load_preset(preset)
    scenarios = [loaded.scenario, _scaled(loaded.scenario, 0.5)]
    inputs = Inputs.from_system(loaded.system)
    scen = ScenarioArrays.from_scenarios(loaded.system, scenarios)
    reference = simulate_arrays(inputs, scen, kernels="numpy", loop_gain=True)
    fast = simulate_arrays(inputs, scen, kernels="numba", loop_gain=True)
    assert reference.records.keys() == fast.records.keys()
    for name, values in reference.records.items():
        # the loop gain is a finite difference over a probe of PROBE of the supply:
        # rounding differences of the sale response are divided by it
        assert_arrays_agree(name, values, fast.records[name], TOLERANCE / PROBE if "loop_gain" in name else TOLERANCE)
    assert_arrays_agree("sales_by_entry", reference.sales_by_entry, fast.sales_by_entry)
    np.testing.assert_array_equal(fast.rounds, reference.rounds)


def test_compiled_sales_by_position_equal_the_reference_bit_for_bit():
    """``add_sales``: each row's slots (padding -1 left out) added to their scenario's
    positions, the same bits as the numpy reference's masked scatter."""
    rng = np.random.default_rng(5)
    n_scen, n_entries, per_scenario, width = 3, 40, 4, 6
    n_rows = n_scen * per_scenario
    s_of = np.repeat(np.arange(n_scen), per_scenario)
    # each row is another institution: its positions are its own
    entries = np.concatenate([rng.permutation(n_entries)[:per_scenario * width].reshape(per_scenario, width)
                              for _ in range(n_scen)])
    assets = np.where(rng.random((n_rows, width)) < 0.3, -1, rng.integers(0, 5, (n_rows, width)))
    sales = rng.normal(size=(n_rows, width))
    start = rng.normal(size=(n_scen, n_entries))
    reference, fast = start.copy(), start.copy()
    kernels_named("numpy").add_sales(reference, sales, s_of, entries, assets)
    NUMBA.add_sales(fast, sales, s_of, entries, assets)
    np.testing.assert_array_equal(fast.view(np.int64), reference.view(np.int64))
    assert not np.array_equal(reference, start)


def test_compiled_batch_equals_scenarios_alone_bit_for_bit():
    loaded = load_preset("march_2020")
    system = loaded.system
    scenarios = [_scaled(loaded.scenario, factor) for factor in (0.5, 1.0, 1.5)]
    inputs = Inputs.from_system(system)
    batch = simulate_arrays(inputs, ScenarioArrays.from_scenarios(system, scenarios), kernels="numba")
    for index, scenario in enumerate(scenarios):
        alone = simulate_arrays(inputs, ScenarioArrays.from_scenarios(system, [scenario]), kernels="numba")
        rounds = alone.n_rounds
        for name, values in alone.records.items():
            np.testing.assert_array_equal(batch.records[name][index, :rounds], values[0], err_msg=name)


def test_unknown_kernels_are_a_clear_error():
    with pytest.raises(ConfigError, match="FS207.*unknown kernels"):
        kernels_named("fortran")


def test_missing_numba_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(compiled, "numba", None)
    with pytest.raises(ConfigError, match="FS208.*numba is not installed"):
        kernels_named("numba")


def test_simulate_records_its_kernels_and_refuses_unknown_ones():
    from firesale import simulate

    preset = load_preset("dealer_groups")
    reference = simulate(preset.system, preset.scenario)
    fast = simulate(preset.system, preset.scenario, kernels="numba")
    assert (reference.attrs["kernels"], fast.attrs["kernels"]) == ("numpy", "numba")
    for name in ("equity", "price", "sold", "cash", "debt"):
        assert_arrays_agree(name, reference[name].values, fast[name].values)
    with pytest.raises(ConfigError, match="FS207"):
        simulate(preset.system, preset.scenario, kernels="numbaa")


def test_a_compiled_sweep_equals_the_reference_sweep_and_is_stored_as_compiled(tmp_path):
    from firesale.store import RunStore
    from firesale.sweep import SweepSpec, run_sweep

    base = dict(target="dealer_groups", monte_carlo=12, seed=3, batch_size=6)
    reference = run_sweep(SweepSpec(**base))
    store = RunStore(tmp_path / "runs")
    fast = run_sweep(SweepSpec(**base, kernels="numba"), store=store)
    for column, values in reference.summaries.items():
        if np.asarray(values).dtype.kind == "f":
            assert_arrays_agree(column, values, fast.summaries[column])
    assert SweepSpec(**base).as_params() != SweepSpec(**base, kernels="numba").as_params()
    assert "kernels" not in SweepSpec(**base).as_params()  # a reference sweep keeps its content hash
    with pytest.raises(ConfigError, match="FS207"):
        SweepSpec(**base, kernels="cuda")


def test_a_stored_compiled_run_reruns_on_the_compiled_kernels(tmp_path):
    from firesale import simulate
    from firesale.analytics.amplification import summarize
    from firesale.store import RunStore

    preset = load_preset("dealer_prime")
    store = RunStore(tmp_path / "runs")
    ds = simulate(preset.system, preset.scenario, kernels="numba")
    run_id = store.record("run", "dealer_prime", preset.system, [preset.scenario], ds, summarize(ds), {})
    rerun = store.rerun(run_id)
    assert rerun.recomputed.attrs["kernels"] == "numba"
    assert rerun.equal, rerun.difference


_OVERLOADS = """
import sys, importlib, pkgutil
import numpy as np
import firesale.engine
from numba.core.registry import CPUDispatcher
from firesale import load_preset
from firesale.engine.compiled import load_kernels
from firesale.engine.state import ScenarioArrays
from firesale.engine.simulate import simulate_arrays
from firesale.simulation import system_inputs

def overloads():
    count = 0
    for info in pkgutil.iter_modules(firesale.engine.__path__):
        if info.name.startswith("compiled"):
            module = importlib.import_module("firesale.engine." + info.name)
            count += sum(len(v.overloads) for v in vars(module).values() if isinstance(v, CPUDispatcher))
    return count

def arrays(name, n):
    preset = load_preset(name)
    return system_inputs(preset.system), ScenarioArrays.from_scenarios(preset.system, [preset.scenario] * n)

load_kernels(*arrays("dealer_prime", 1))
loaded = overloads()
inputs, scen = arrays("inet_eba2018", 400)  # chunks of more than 111 scenarios step a round a call
simulate_arrays(inputs, scen, detail=True, kernels="numba", threads=1)
simulate_arrays(inputs, scen.take(np.arange(1)), detail=True, kernels="numba", threads=1)
print(loaded, overloads())
"""


def test_load_kernels_leaves_nothing_for_a_run_to_compile():
    """A fresh process: after ``load_kernels`` on one preset, batches of another, run in one
    call and a round a call, add no compiled kernel (a sweep's workers load what it loaded)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _OVERLOADS], capture_output=True, text=True, check=True)
    loaded, after = (int(v) for v in out.stdout.split())
    assert loaded > 0 and after == loaded


def test_a_compiled_sweep_says_it_loads_the_kernels_on_a_terminal(monkeypatch):
    import io

    from rich.console import Console
    from typer.testing import CliRunner

    import firesale.cli_sweep as cli_sweep
    from firesale.cli import app

    shown = io.StringIO()
    monkeypatch.setattr(cli_sweep, "err_console", Console(file=shown, force_terminal=True, width=200))
    result = CliRunner().invoke(app, ["sweep", "dealer_groups", "--monte-carlo", "4", "--batch", "2", "--kernels",
                                      "numba", "--no-record"])
    assert result.exit_code == 0, result.output
    assert "loading the numba kernels" in shown.getvalue()
