"""Sweeps (firesale.sweep, firesale sweep): serial = process pool = Dask LocalCluster, scenario
for scenario; a killed worker still stores every batch exactly once; a rerun does no work;
bad inputs are refused with the next step."""

import concurrent.futures as cf
import json
import os
import time
from collections import Counter

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from firesale.cli import app
from firesale.errors import ConfigError
from firesale.store import RunStore
from firesale.sweep import (
    TEST_KILL_ENV,
    SweepSpec,
    check_batch_memory,
    dask_executor,
    estimate_scenario_bytes,
    parse_grid,
    run_sweep,
    scenario_values,
)

MC = SweepSpec("dealer_groups", monte_carlo=48, seed=7, batch_size=8)
GRID = SweepSpec("dealer_prime", grid=(parse_grid("shock.corporates.price=-0.08:-0.01:4"),
                                       parse_grid("market.execution_alpha=0.2:1:3")), batch_size=5)


@pytest.fixture(scope="module")
def kill_file(tmp_path_factory):
    """The test-only kill switch, named in the environment before any worker starts."""
    path = tmp_path_factory.mktemp("kill") / "kill-batch"
    old = os.environ.get(TEST_KILL_ENV)
    os.environ[TEST_KILL_ENV] = str(path)
    yield path
    if old is None:
        os.environ.pop(TEST_KILL_ENV, None)
    else:
        os.environ[TEST_KILL_ENV] = old


@pytest.fixture(scope="module")
def cluster(kill_file):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as local, distributed.Client(local, set_as_default=False) as client:
        yield client


@pytest.fixture(scope="module")
def serial():
    return {"mc": run_sweep(MC), "grid": run_sweep(GRID)}


def _stored_batches(store, sweep_hash):
    return Counter(e.metrics["batch"] for e in store.list(kind="sweep") if e.metrics.get("sweep_hash") == sweep_hash)


def test_grid_expands_the_product_last_axis_fastest(serial):
    s = serial["grid"].summaries
    assert s.sizes["scenario"] == 12
    np.testing.assert_allclose(s["shock.corporates.price"].values[:4], [-0.08, -0.08, -0.08, -0.0566666666666])
    np.testing.assert_allclose(s["market.execution_alpha"].values[:3], [0.2, 0.6, 1.0])
    assert (np.diff(s.total_loss.values[::3]) < 0).all()  # a smaller fall, a smaller loss


def test_monte_carlo_draws_depend_on_seed_and_index_only():
    from firesale import load_preset

    base = load_preset("dealer_groups").scenario
    whole = scenario_values(MC, base, np.arange(48))
    assert np.array_equal(whole[40:], scenario_values(SweepSpec("dealer_groups", monte_carlo=9999, seed=7), base,
                                                       np.arange(40, 48)))
    assert (whole > -1).all() and (whole < 0).all() and len(np.unique(whole)) == 48


def test_process_pool_equals_serial(serial, kill_file):
    with cf.ProcessPoolExecutor(max_workers=2) as pool:
        parallel = run_sweep(MC, executor=pool)
    xr.testing.assert_identical(parallel.summaries, serial["mc"].summaries)
    assert parallel.distribution == serial["mc"].distribution


def test_local_cluster_equals_serial(serial, cluster):
    for key, spec in (("mc", MC), ("grid", GRID)):
        parallel = run_sweep(spec, executor=cluster.get_executor(retries=2, pure=False))
        xr.testing.assert_identical(parallel.summaries, serial[key].summaries)


def test_killed_dask_worker_still_stores_every_batch_once(serial, cluster, kill_file, tmp_path):
    store = RunStore(tmp_path / "store")
    kill_file.write_text("3")
    result = run_sweep(MC, executor=cluster.get_executor(retries=2, pure=False), store=store)
    assert not kill_file.exists(), "the test hook did not fire"
    xr.testing.assert_identical(result.summaries, serial["mc"].summaries)
    assert _stored_batches(store, result.sweep_hash) == Counter(range(6))
    again = run_sweep(MC, store=store)
    assert (again.batches_run, again.batches_skipped, again.run_ids) == (0, 6, [])
    assert _stored_batches(store, result.sweep_hash) == Counter(range(6))
    xr.testing.assert_identical(again.summaries, serial["mc"].summaries)


def test_killed_pool_worker_is_retried(serial, kill_file, tmp_path):
    store = RunStore(tmp_path / "store")
    kill_file.write_text("1")
    with cf.ProcessPoolExecutor(max_workers=2) as pool:
        result = run_sweep(MC, executor=pool, store=store)
    assert not kill_file.exists() and result.retried >= 1
    xr.testing.assert_identical(result.summaries, serial["mc"].summaries)
    assert _stored_batches(store, result.sweep_hash) == Counter(range(6))


def test_another_seed_is_another_sweep(serial, tmp_path):
    store = RunStore(tmp_path / "store")
    half = run_sweep(SweepSpec("dealer_groups", monte_carlo=48, seed=7, batch_size=8), store=store)
    assert half.batches_run == 6
    other = run_sweep(SweepSpec("dealer_groups", monte_carlo=48, seed=8, batch_size=8), store=store)
    assert other.batches_run == 6 and other.sweep_hash != half.sweep_hash


@pytest.mark.parametrize("grid, message", [("market.execution_alpha=1.5:0.5:3", "FS951"),
                                           ("market.execution_alpha=0.5:1.5:0", "FS952"),
                                           ("market.execution_alpha=0.5:1.5", "FS950")])
def test_bad_grids_are_refused(grid, message):
    with pytest.raises(ConfigError, match=message):
        parse_grid(grid)


def test_zero_scenarios_and_bad_params_are_refused():
    with pytest.raises(ConfigError, match="FS952"):
        SweepSpec("dealer_prime", monte_carlo=0)
    with pytest.raises(ConfigError, match="FS953"):
        SweepSpec("dealer_prime")
    with pytest.raises(ConfigError, match="FS953.*--seed -1.*0 or more"):
        SweepSpec("dealer_prime", monte_carlo=3, seed=-1)
    with pytest.raises(ConfigError, match="FS955.*corporates"):
        run_sweep(SweepSpec("dealer_prime", grid=(parse_grid("shock.corporate.price=-0.1:-0.01:2"),)))
    with pytest.raises(ConfigError, match="FS201"):
        run_sweep(SweepSpec("dealer_prime", grid=(parse_grid("market.no_such_field=0:1:2"),)))


def test_unreachable_scheduler_is_a_clear_error_within_10_s():
    pytest.importorskip("distributed")
    start = time.monotonic()
    with pytest.raises(ConfigError, match="FS958.*tcp://127.0.0.1:9"), dask_executor(
            scheduler="tcp://127.0.0.1:9", connect_timeout=2):
        pass
    assert time.monotonic() - start < 10


def test_batch_too_big_for_memory_is_refused_with_the_estimate():
    from firesale import load_preset

    p = load_preset("dealer_groups")
    per = estimate_scenario_bytes(p.system, p.scenario)
    assert per > 0
    check_batch_memory(p.system, p.scenario, 100, available=10**12)
    with pytest.raises(ConfigError, match=r"FS956.*GiB.*KiB a scenario.*--batch"):
        check_batch_memory(p.system, p.scenario, 10**9, available=2**34)
    result = CliRunner().invoke(app, ["sweep", "dealer_groups", "--monte-carlo", "1000000000", "--batch",
                                      "1000000000", "--no-record"])
    assert result.exit_code == 1 and "FS956" in str(result.exception) + result.output


def test_cli_json_figure_and_rerun(tmp_path):
    pytest.importorskip("plotly")
    args = ["sweep", "dealer_prime", "--grid", "shock.corporates.price=-0.08:-0.01:6", "--batch", "4",
            "--store", str(tmp_path / "store"), "--json", "--out", str(tmp_path / "loss.html")]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout)
    assert out["scenarios"] == 6 and out["batches_run"] == 2 and len(out["run_ids"]) == 2
    assert out["var_99"] <= out["es_99"] <= out["max_loss"] and 0 <= out["p_any_default"] <= 1
    assert (tmp_path / "loss.html").stat().st_size > 0
    again = json.loads(CliRunner().invoke(app, args).stdout)
    assert again["batches_run"] == 0 and again["batches_skipped"] == 2 and again["var_99"] == out["var_99"]
    table = CliRunner().invoke(app, ["sweep", "dealer_prime", "--grid", "shock.corporates.price=-0.08:-0.01:3",
                                     "--no-record"])
    assert table.exit_code == 0 and "VaR 99%" in table.stdout
