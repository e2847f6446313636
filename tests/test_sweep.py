"""Sweeps (firesale.sweep, firesale sweep): serial = process pool = Dask LocalCluster, scenario
for scenario; a killed worker still stores every batch exactly once; a rerun does no work;
bad inputs are refused with the next step."""

import concurrent.futures as cf
import json
import math
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


# --------------------------------------------------------------------------- parameters and bands
LONE_BOND = """
name = "lone_bond"
description = "One unlevered holder of a bond: nobody sells, so the price is the fundamental shock"
currency = "GBP bn"

[[institutions]]
name = "holder"
type = "pension_fund"
cash = 10.0
liabilities = 0.0

[[assets]]
name = "gilt"
class = "treasury"
sigma0 = 0.005
depth = 1000.0
duration = 10.0

[[holdings]]
institution = "holder"
asset = "gilt"
quantity = 100.0

[scenario]
max_rounds = 6
shocks = [{ asset = "gilt", price = -0.05 }]

[[parameters]]
name = "scenario.shocks.0.price"
low = -0.2
high = -0.02
source = "assumption"

[[parameters]]
name = "asset.gilt.duration"
low = 5.0
high = 20.0
scale = "log"
source = "assumption"
"""

#: Adrian & Shin (2010)'s dealer (tests/golden/test_adrian_shin.py) with a linear-impact market
#: of depth D: a fall r leaves equity 10 + 100 r on assets 100 (1 + r); restoring leverage 10
#: sells s = 100 (1 + r) - 10 (10 + 100 r) = -900 r, so the round's price is 1 + r - s / D.
LEVERED_BANK = """
name = "levered_bank"
currency = "USD bn"

[[institutions]]
name = "bank"
type = "bank"
liabilities = 90.0
leverage_trigger = 0.1
leverage_target = 0.1
liquidation = "pro_rata"

[[assets]]
name = "sec"
class = "corporate_ig"
sigma0 = 0.01
depth = 1000.0

[[holdings]]
institution = "bank"
asset = "sec"
quantity = 100.0

[scenario]
max_rounds = 1
shocks = [{ asset = "sec", price = -0.01 }]
channels = { information = false }
market = { intermediation = false }

[[parameters]]
name = "asset.sec.depth"
low = 500.0
high = 4000.0
scale = "log"
source = "assumption"
"""

#: With 21 scenarios the 5%, 50% and 95% quantiles are order statistics 2, 11 and 20
#: ((21 - 1) x q = 1, 10, 19), so a monotone map of one drawn parameter carries them over.
ORDER = (1, 10, 19)


@pytest.fixture
def presets(tmp_path):
    (tmp_path / "bond.toml").write_text(LONE_BOND)
    (tmp_path / "bank.toml").write_text(LEVERED_BANK)
    return tmp_path


def test_price_bands_of_a_levered_bank_are_the_closed_form_at_the_depth_quantiles(presets):
    spec = SweepSpec(str(presets / "bank.toml"), monte_carlo=21, seed=11, batch_size=4, sigma=0.0,
                     all_parameters=True)
    s = run_sweep(spec).summaries
    depth = np.sort(s["asset.sec.depth"].values)
    assert 500 <= depth[0] and depth[-1] <= 4000 and len(np.unique(depth)) == 21  # a system per draw
    expected = [1 - 0.01 - 9.0 / depth[i] for i in ORDER]  # the price rises with the depth
    np.testing.assert_allclose(s.price_band.sel(asset="sec", round=0).values, expected, rtol=1e-12)
    assert np.isnan(s.yield_change_band.sel(asset="sec").values).all()  # no duration


def test_bands_of_a_price_nobody_moves_are_the_drawn_shock_quantiles(presets):
    spec = SweepSpec(str(presets / "bond.toml"), monte_carlo=21, seed=3, batch_size=5,
                     parameters=("scenario.shocks.0.price",))
    result = run_sweep(spec)
    s = result.summaries
    assert result.as_json()["params"] == ["scenario.shocks.0.price"]  # it replaces the shock's lognormal factor
    shock = np.sort(s["scenario.shocks.0.price"].values)
    assert -0.2 <= shock[0] and shock[-1] <= -0.02
    for r in s["round"].values:
        np.testing.assert_allclose(s.price_band.sel(asset="gilt", round=r).values, [1 + shock[i] for i in ORDER],
                                   rtol=1e-12)
        # dy = -ln(1 + r) / 10 x 1e4 falls as r rises: its 5% quantile is the 95% one of the shock
        np.testing.assert_allclose(s.yield_change_band.sel(asset="gilt", round=r).values,
                                   [-math.log1p(shock[i]) / 10 * 1e4 for i in reversed(ORDER)], rtol=1e-12)


def test_yield_bands_follow_a_drawn_duration(presets):
    spec = SweepSpec(str(presets / "bond.toml"), monte_carlo=21, seed=5, batch_size=8, sigma=0.0,
                     parameters=("asset.gilt.duration",))
    s = run_sweep(spec).summaries
    duration = np.sort(s["asset.gilt.duration"].values)
    assert 5 <= duration[0] and duration[-1] <= 20
    np.testing.assert_allclose(s.yield_change_band.sel(asset="gilt", round=0).values,
                               [-math.log(0.95) / duration[i] * 1e4 for i in reversed(ORDER)], rtol=1e-12)
    np.testing.assert_allclose(s.price_band.sel(asset="gilt").values, 0.95, rtol=1e-12)
    assert s["asset.gilt.duration"].attrs["units"] == "years" and "log-uniform" in s["asset.gilt.duration"].attrs[
        "description"]


def test_parameter_draws_keep_the_shock_factors_and_depend_on_seed_and_index():
    from firesale import load_preset
    from firesale.parameters import ParameterRange
    from firesale.sweep import resolve_parameters

    base = load_preset("dealer_groups").scenario
    ranges = (ParameterRange(name="scenario.market.balance_sheet_cost", low=0.5, high=8.0, scale="log", source="x"),
              ParameterRange(name="type.hedge_fund.cash", low=1.0, high=2.0, source="x"))
    spec = resolve_parameters(SweepSpec("dealer_groups", monte_carlo=4000, seed=7, parameters=ranges), ())
    drawn = scenario_values(spec, base, np.arange(4000))
    np.testing.assert_array_equal(drawn[:48, :1], scenario_values(MC, base, np.arange(48)))
    np.testing.assert_array_equal(drawn[40:48], scenario_values(spec, base, np.arange(40, 48)))
    logs, cash = np.log(drawn[:, 1]), drawn[:, 2]
    assert 0.5 <= drawn[:, 1].min() and drawn[:, 1].max() <= 8 and 1 <= cash.min() and cash.max() <= 2
    # log-uniform: ln x uniform on [ln 0.5, ln 8], mean in the middle, sd (ln 16) / sqrt(12); within 4 standard errors
    assert abs(logs.mean() - math.log(2.0)) < 4 * math.log(16) / math.sqrt(12 * 4000)
    assert abs(cash.mean() - 1.5) < 4 / math.sqrt(12 * 4000)


def test_a_batch_with_drawn_parameters_equals_its_scenarios_one_at_a_time(kill_file):
    from firesale.parameters import ParameterRange

    ranges = (ParameterRange(name="asset.corporates.depth", low=1500.0, high=6000.0, scale="log", source="x"),
              ParameterRange(name="scenario.policy.all_to_all", low=0.0, high=0.5, source="x"))
    whole = run_sweep(SweepSpec("dealer_prime", monte_carlo=6, seed=2, batch_size=6, parameters=ranges))
    alone = run_sweep(SweepSpec("dealer_prime", monte_carlo=6, seed=2, batch_size=1, parameters=ranges))
    xr.testing.assert_equal(whole.summaries, alone.summaries)
    with cf.ProcessPoolExecutor(max_workers=2) as pool:
        parallel = run_sweep(SweepSpec("dealer_prime", monte_carlo=6, seed=2, batch_size=2, parameters=ranges),
                             executor=pool)
    xr.testing.assert_equal(parallel.summaries, whole.summaries)
    assert len(np.unique(whole.summaries["asset.corporates.depth"].values)) == 6


def test_drawn_values_are_stored_and_a_rerun_reads_them_back(presets, tmp_path):
    store = RunStore(tmp_path / "store")
    spec = SweepSpec(str(presets / "bond.toml"), monte_carlo=10, seed=1, batch_size=4, all_parameters=True)
    first = run_sweep(spec, store=store)
    records = sorted((store.get(r).summary for r in first.run_ids), key=lambda summary: summary["batch"])
    for name in ("scenario.shocks.0.price", "asset.gilt.duration"):
        stored = [v for summary in records for v in summary["values"][name]]
        assert stored == first.summaries[name].values.tolist()
    again = run_sweep(spec, store=store)
    assert (again.batches_run, again.batches_skipped) == (0, 3)
    xr.testing.assert_identical(again.summaries, first.summaries)


def test_cli_parameters_and_bands(presets):
    bond = str(presets / "bond.toml")
    result = CliRunner().invoke(app, ["sweep", bond, "--monte-carlo", "21", "--seed", "3", "--parameters", "--json",
                                      "--no-record", "--batch", "7"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["parameters"] == ["scenario.shocks.0.price", "asset.gilt.duration"] and out["band_asset"] == "gilt"
    bands = out["bands"]
    assert bands["quantiles"] == [0.05, 0.5, 0.95] and set(bands["yield_change_bp"]) == {"gilt"}
    price = bands["price"]["gilt"]
    assert len(price["p50"]) == bands["rounds"] and all(a <= b <= c for a, b, c in zip(*price.values()))
    text = CliRunner().invoke(app, ["sweep", bond, "--monte-carlo", "21", "--parameter", "asset.gilt.duration",
                                    "--asset", "gilt", "--no-record"])
    assert text.exit_code == 0 and "5/50/95% band" in text.stdout and "dy p50" in text.stdout
    for args, code in ((["--parameter", "asset.gilt.depth"], "FS964"), (["--asset", "gold"], "FS965")):
        bad = CliRunner().invoke(app, ["sweep", bond, "--monte-carlo", "3", "--no-record", *args])
        assert bad.exit_code == 1 and code in str(bad.exception) + bad.output
    with pytest.raises(ConfigError, match="FS963"):
        SweepSpec(bond, grid=(parse_grid("asset.gilt.depth=100:200:2"),), all_parameters=True)
