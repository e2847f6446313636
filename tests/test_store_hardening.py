"""The run store and sweeps under hostile conditions: a sweep killed midway keeps its finished
batches (serial, process pool, Dask); written files are atomic and take the umask's
permissions; a read-only store still prints the result; a deleted database is reported; a
tampered record (summary, folder path, truncated results.nc) is caught by rerun; a Dask
worker dying while the cluster starts is retried or a clear error."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import errno
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest
import xarray as xr
from typer.testing import CliRunner

from firesale import load_preset, simulate
from firesale.analytics.amplification import summarize
from firesale.analytics.compare import compare, comparison_scenarios
from firesale.cli import app, main
from firesale.data.netcdf import atomic_path, open_dataset, save_dataset
from firesale.errors import ConfigError
from firesale.store import RESULTS_NAME, Recording, RecordingStore, RunStore, StoreError, recording_store
from firesale.sweep import TEST_HOLD_ENV, SweepSpec, dask_executor, parse_grid, run_sweep

runner = CliRunner()

GRID = ("shock.corporates.price=-0.08:-0.01:6",)
SPEC = SweepSpec("dealer_prime", grid=tuple(parse_grid(g) for g in GRID), batch_size=1)


def codes(err: pytest.ExceptionInfo) -> list[str]:
    return [p.code for p in err.value.problems]


def record_preset(store: RunStore, name: str = "dealer_prime") -> str:
    preset = load_preset(name)
    ds = simulate(preset.system, preset.scenario)
    return store.record("run", name, preset.system, [preset.scenario], ds, summarize(ds), {"simulate_s": 0.0})


def _main(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """``firesale ARGS`` through the real entry point: exit code, stdout, stderr (no traceback)."""
    monkeypatch.setattr("sys.argv", ["firesale", *args])
    code = 0
    try:
        main()
    except SystemExit as exit_info:
        code = exit_info.code or 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return code, out, err


def _wait_for(condition, timeout: float = 120.0, every: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False


# --------------------------------------------------------------------------- 1. a killed sweep keeps its batches
def _sweep_batches(store: Path) -> list[int]:
    if not (store / "runs.duckdb").exists():
        return []
    return sorted(e.metrics["batch"] for e in RunStore(store).list(kind="sweep"))


@contextlib.contextmanager
def _killed_sweep(tmp_path: Path, argv: list[str], hold: int, expect: list[int]):
    """Run ``argv`` (a sweep storing in ``tmp_path/store``) in its own process group with
    batch ``hold`` held back by the test hook; once exactly the batches ``expect`` are
    stored, SIGKILL the sweep's process (as ``kill -9 PID``) and yield the store. Whatever
    it left running (pool or Dask workers) is killed afterwards, by its process group."""
    store = tmp_path / "store"
    hold_file = tmp_path / "hold"
    hold_file.write_text(str(hold))
    env = {**os.environ, TEST_HOLD_ENV: str(hold_file)}
    child = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        reached = _wait_for(lambda: child.poll() is not None or _sweep_batches(store) == expect)
        if child.poll() is not None:
            pytest.fail(f"the sweep ended ({child.returncode}) before it was killed: {child.stderr.read().decode()}")
        assert reached, f"stored {_sweep_batches(store)}, waited for {expect}"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL
        yield store
    finally:
        hold_file.unlink(missing_ok=True)  # a held worker left behind returns
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)  # only the process group this test started
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=30)
        child.stdout.close()
        child.stderr.close()


@pytest.fixture(scope="module")
def unstored():
    return run_sweep(SPEC)


def _rerun_skips(store: Path, stored: list[int], unstored) -> None:
    """Rerunning the sweep skips exactly the stored batches, runs the rest, and gives the
    same result as a sweep never interrupted."""
    again = run_sweep(SPEC, store=RunStore(store))
    assert (again.batches_skipped, again.batches_run) == (len(stored), 6 - len(stored))
    xr.testing.assert_identical(again.summaries, unstored.summaries)
    assert _sweep_batches(store) == list(range(6))


CLI_SWEEP = [sys.executable, "-c", "from firesale.cli import main; main()", "sweep", "dealer_prime",
             "--grid", GRID[0], "--batch", "1"]


def test_a_serial_sweep_stores_each_batch_before_it_starts_the_next(tmp_path, monkeypatch):
    import firesale.sweep as sw

    store = RunStore(tmp_path / "store")
    stored_when_started = {}
    real = sw.run_batch

    def spy(system, base, params, values, indices, batch, *rest):
        stored_when_started[batch] = _sweep_batches(store.path)
        return real(system, base, params, values, indices, batch, *rest)

    monkeypatch.setattr(sw, "run_batch", spy)
    run_sweep(SPEC, store=store)
    assert stored_when_started == {b: list(range(b)) for b in range(6)}


def test_a_killed_serial_sweep_keeps_the_finished_batches(tmp_path, unstored):
    """The issue's case: ``firesale sweep ... & kill -9 $!`` kept 0 batches."""
    argv = [*CLI_SWEEP, "--store", str(tmp_path / "store")]
    with _killed_sweep(tmp_path, argv, hold=3, expect=[0, 1, 2]) as store:
        assert _sweep_batches(store) == [0, 1, 2]
    _rerun_skips(store, [0, 1, 2], unstored)


def test_a_killed_process_pool_sweep_keeps_the_finished_batches(tmp_path, unstored):
    code = textwrap.dedent("""
        import concurrent.futures as cf, sys
        from firesale.store import RunStore
        from firesale.sweep import SweepSpec, parse_grid, run_sweep
        if __name__ == "__main__":
            spec = SweepSpec("dealer_prime", grid=(parse_grid(sys.argv[2]),), batch_size=1)
            with cf.ProcessPoolExecutor(max_workers=2) as pool:
                run_sweep(spec, executor=pool, store=RunStore(sys.argv[1]))
    """)
    argv = [sys.executable, "-c", code, str(tmp_path / "store"), GRID[0]]
    with _killed_sweep(tmp_path, argv, hold=3, expect=[0, 1, 2, 4, 5]) as store:
        assert _sweep_batches(store) == [0, 1, 2, 4, 5]
    _rerun_skips(store, [0, 1, 2, 4, 5], unstored)


def test_a_killed_dask_sweep_keeps_the_finished_batches(tmp_path, unstored):
    pytest.importorskip("distributed")
    argv = [*CLI_SWEEP, "--workers", "2", "--store", str(tmp_path / "store")]
    with _killed_sweep(tmp_path, argv, hold=3, expect=[0, 1, 2, 4, 5]) as store:
        assert _sweep_batches(store) == [0, 1, 2, 4, 5]
    _rerun_skips(store, [0, 1, 2, 4, 5], unstored)


# --------------------------------------------------------------------------- 2. atomic files, umask permissions
@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_written_files_take_the_umask_permissions(tmp_path, umask_022, monkeypatch, capsys):
    preset = load_preset("dealer_prime")
    ds = simulate(preset.system, preset.scenario)
    assert _mode(save_dataset(ds, tmp_path / "new.nc")) == 0o644
    # --out of `firesale run`, and the results.nc a record stores
    out = tmp_path / "out" / "run.nc"
    code, _, _ = _main(monkeypatch, capsys, "run", "dealer_prime", "--out", str(out), "--store", str(tmp_path / "s"))
    assert code == 0 and _mode(out) == 0o644
    (entry,) = RunStore(tmp_path / "s").list()
    assert _mode(RunStore(tmp_path / "s").get(entry.run_id).data_dir / RESULTS_NAME) == 0o644
    assert sorted(p.name for p in out.parent.iterdir()) == ["run.nc"]  # no temporary file left
    os.umask(0o027)
    assert _mode(save_dataset(ds, tmp_path / "private.nc")) == 0o640


def test_sweep_figure_is_written_atomically_with_the_umask_permissions(tmp_path, umask_022):
    pytest.importorskip("plotly")
    out = tmp_path / "loss.html"
    result = runner.invoke(app, ["sweep", "dealer_prime", "--grid", GRID[0], "--no-record", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert _mode(out) == 0o644 and out.stat().st_size > 0
    assert [p.name for p in tmp_path.iterdir()] == ["loss.html"]


def test_a_replaced_file_keeps_its_permissions_and_a_failed_write_keeps_the_old_file(tmp_path, umask_022):
    preset = load_preset("dealer_prime")
    ds = simulate(preset.system, preset.scenario)
    path = save_dataset(ds, tmp_path / "results.nc")
    os.chmod(path, 0o600)
    before = path.read_bytes()
    save_dataset(ds.assign_attrs(note="again"), path)
    assert _mode(path) == 0o600 and open_dataset(path).attrs["note"] == "again"
    before = path.read_bytes()

    class Boom(Exception):
        pass

    with pytest.raises(Boom), atomic_path(path) as tmp:
        tmp.write_bytes(b"half a file")
        raise Boom
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["results.nc"]
    # a folder where the file should go is refused, not replaced
    (tmp_path / "a.nc").mkdir()
    with pytest.raises(ConfigError, match="FS915.*is a folder"):
        save_dataset(ds, tmp_path / "a.nc")
    assert (tmp_path / "a.nc").is_dir()


# --------------------------------------------------------------------------- 3. a read-only store
@pytest.fixture
def read_only_store(tmp_path, monkeypatch):
    """A store with one run whose folders are all made read-only (0o555). Where that does
    not stop writes (running as root), writes under it are made to fail as they would:
    PermissionError from os.open / os.mkdir / os.rename for any path in the store."""
    store = tmp_path / "store"
    first = record_preset(RunStore(store))
    folders = [store, *(p for p in store.rglob("*") if p.is_dir())]
    for folder in folders:
        os.chmod(folder, 0o555)
    if os.access(store, os.W_OK):  # root: simulate
        inside = str(store) + os.sep
        real_open, real_mkdir, real_rename = os.open, os.mkdir, os.rename

        def denied(path) -> bool:
            return os.fspath(path).startswith(inside) or os.fspath(path) == str(store)

        def fake_open(path, flags, *args, **kwargs):
            if denied(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
            return real_open(path, flags, *args, **kwargs)

        def fake_mkdir(path, *args, **kwargs):
            if denied(path):
                if os.path.isdir(path):
                    raise FileExistsError(errno.EEXIST, "File exists", os.fspath(path))
                raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
            return real_mkdir(path, *args, **kwargs)

        def fake_rename(src, dst, *args, **kwargs):
            if denied(src) or denied(dst):
                raise PermissionError(errno.EACCES, "Permission denied", os.fspath(dst))
            return real_rename(src, dst, *args, **kwargs)

        monkeypatch.setattr(os, "open", fake_open)
        monkeypatch.setattr(os, "mkdir", fake_mkdir)
        monkeypatch.setattr(os, "rename", fake_rename)
    database = (store / "runs.duckdb").read_bytes()
    yield store, first
    monkeypatch.undo()
    for folder in folders:
        os.chmod(folder, 0o755)
    assert (store / "runs.duckdb").read_bytes() == database  # nothing was written
    assert [e.run_id for e in RunStore(store).list()] == [first]


def test_run_on_a_read_only_store_prints_the_result_and_why_it_was_not_recorded(read_only_store, monkeypatch,
                                                                                 capsys):
    store, _ = read_only_store
    code, out, err = _main(monkeypatch, capsys, "run", "dealer_prime", "--store", str(store), "--json")
    summary = json.loads(out)
    assert code == 0 and summary["run_id"] is None and summary["forced_sales"] == pytest.approx(114.0)
    err = " ".join(err.split())
    assert "not recorded in the run store" in err and "[FS909]" in err and "Permission denied" in err
    code, out, err = _main(monkeypatch, capsys, "run", "dealer_prime", "--store", str(store))
    assert code == 0 and "114" in out and "recorded as" not in out and "not recorded" in err


def test_compare_and_sweep_on_a_read_only_store_print_their_results(read_only_store, monkeypatch, capsys):
    store, _ = read_only_store
    code, out, err = _main(monkeypatch, capsys, "compare", "dealer_prime", "--policy", "slr_exemption", "--store",
                           str(store), "--json")
    assert code == 0 and set(json.loads(out)) == {"baseline", "policies"} and "not recorded" in err
    code, out, err = _main(monkeypatch, capsys, "sweep", "dealer_prime", "--grid", GRID[0], "--batch", "2",
                           "--store", str(store), "--json")
    result = json.loads(out)
    assert code == 0 and result["scenarios"] == 6 and result["run_ids"] == []
    assert err.count("not recorded") == 1  # said once, not once a batch


def test_the_dashboard_run_on_a_read_only_store_keeps_its_result(read_only_store, monkeypatch, capsys):
    from firesale.dashboard.logic import run_scenario

    store, _ = read_only_store
    monkeypatch.setenv("FIRESALE_STORE", str(store))
    preset = load_preset("dealer_prime")
    outcome = run_scenario(preset, preset.scenario, attribution=False, record=True)
    assert outcome.run_id is None and outcome.summary["forced_sales"] == pytest.approx(114.0)
    # the page shows the reason beside the result (st.warning), not only the server's log
    assert "[FS909]" in outcome.not_recorded and "Permission denied" in outcome.not_recorded


def test_the_recording_api_returns_the_reason_instead_of_raising(read_only_store):
    store, _ = read_only_store
    preset = load_preset("dealer_prime")
    ds = simulate(preset.system, preset.scenario)
    args = ("run", "dealer_prime", preset.system, [preset.scenario], ds, summarize(ds))
    outcome = RunStore(store).try_record(*args)
    assert isinstance(outcome, Recording) and not outcome.recorded and "[FS909]" in outcome.reason
    assert not RunStore(store).try_record_replication("replication", {"a": 1}, {"b": 2}).recorded
    warned = []
    recorder = recording_store(store, False, warn=warned.append)
    assert isinstance(recorder, RecordingStore)
    assert recorder.record(*args) is None and recorder.not_recorded == warned[0]
    assert recorder.record(*args) is None and len(warned) == 1  # each reason once
    with pytest.raises(StoreError) as err:  # the plain API raises a StoreError, never a bare OSError
        RunStore(store).record(*args)
    assert codes(err) == ["FS909"]


def test_a_writable_store_records_through_the_recording_api(tmp_path):
    recorder = recording_store(tmp_path, False, warn=pytest.fail)
    run_id = record_preset(recorder)
    assert run_id and recorder.not_recorded is None and RunStore(tmp_path).get(run_id).kind == "run"
    assert RunStore(tmp_path).try_record_replication("replication", {"a": 1}, {"b": 2}).recorded


# --------------------------------------------------------------------------- 4. a deleted database
def test_a_deleted_database_with_run_folders_is_reported(tmp_path, monkeypatch, capsys):
    store = RunStore(tmp_path / "store")
    ids = sorted(record_preset(store) for _ in range(2))
    store.database.unlink()
    assert store.list() == [] and store.orphaned_folders() == ids
    warning = store.missing_database_warning()
    assert "[FS912]" in warning and all(i in warning for i in ids) and "mv " in warning and "backup" in warning
    code, out, err = _main(monkeypatch, capsys, "runs", "list", "--store", str(store.path))
    err = " ".join(err.split())
    assert code == 0 and "2 run folders without a database" in err and all(i in err for i in ids)
    code, out, err = _main(monkeypatch, capsys, "runs", "list", "--store", str(store.path), "--json")
    assert code == 0 and json.loads(out)["runs"] == [] and "[FS912]" in err
    code, out, err = _main(monkeypatch, capsys, "runs", "show", ids[0], "--store", str(store.path))
    assert code == 1 and "[FS912]" in err
    # recording refuses to start a fresh database over them (at once, before simulating)
    code, out, err = _main(monkeypatch, capsys, "run", "dealer_prime", "--store", str(store.path))
    assert code == 1 and "[FS912]" in err and not store.database.exists()
    with pytest.raises(StoreError) as info:
        record_preset(store)
    assert codes(info) == ["FS912"] and not store.database.exists()
    # the recovery the message gives: move the folders aside, then a new store starts
    (store.path / "runs").rename(store.path / "runs.orphaned")
    assert store.missing_database_warning() is None
    record_preset(store)
    assert len(store.list()) == 1


# --------------------------------------------------------------------------- 5. rerun checks what is displayed
def _edit(store: RunStore, run_id: str, sql: str, *params) -> None:
    conn = duckdb.connect(str(store.database))
    try:
        conn.execute(sql, [*params, run_id])
    finally:
        conn.close()


def test_rerun_catches_a_stored_summary_edited_by_hand(tmp_path, monkeypatch, capsys):
    store = RunStore(tmp_path)
    run_id = record_preset(store)
    assert store.rerun(run_id).summary_checked
    summary = store.get(run_id).summary
    _edit(store, run_id, "UPDATE runs SET summary = ? WHERE run_id = ?", json.dumps({**summary, "total_loss": 0}))
    result = store.rerun(run_id)
    assert not result.equal and result.difference.startswith("the stored summary differs at total_loss: 0 stored")
    code, out, _ = _main(monkeypatch, capsys, "runs", "rerun", run_id, "--store", str(tmp_path))
    assert code == 1 and "not reproduced" in out and "total_loss" in out
    # the headline metrics that `runs list` shows are checked too
    _edit(store, run_id, "UPDATE runs SET summary = ? WHERE run_id = ?", json.dumps(summary))
    assert store.rerun(run_id).equal
    metrics = store.get(run_id).metrics
    _edit(store, run_id, "UPDATE runs SET metrics = ? WHERE run_id = ?", json.dumps({**metrics, "total_loss": 0.0}))
    assert store.rerun(run_id).difference.startswith("the stored headline metrics differs at total_loss")


def test_rerun_catches_an_edited_comparison_summary(tmp_path):
    store = RunStore(tmp_path)
    preset = load_preset("dealer_prime")
    names, scenarios = comparison_scenarios(preset, ["slr_exemption"])  # with the impulse runs compare() reads
    ds = simulate(preset.system, scenarios)
    summary = compare(preset, names)
    run_id = store.record("compare", "dealer_prime", preset.system, scenarios, ds, summary,
                          params={"policies": names})
    assert store.rerun(run_id).equal and store.rerun(run_id).summary_checked
    summary["policies"]["slr_exemption"]["forced_sales"] = 1.0
    _edit(store, run_id, "UPDATE runs SET summary = ? WHERE run_id = ?", json.dumps(summary))
    assert "policies.slr_exemption.forced_sales: 1.0 stored, 0.0 recomputed" in store.rerun(run_id).difference


@pytest.mark.parametrize("how", ["relative", "absolute", "symlink"])
def test_a_record_folder_outside_the_store_is_refused(tmp_path, how, monkeypatch, capsys):
    store = RunStore(tmp_path / "store")
    run_id = record_preset(store)
    inside = store.path / "runs" / run_id
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    copy = outside / run_id
    import shutil

    shutil.copytree(inside, copy)
    if how == "symlink":
        shutil.rmtree(inside)
        inside.symlink_to(copy, target_is_directory=True)
    else:
        path = f"../elsewhere/{run_id}" if how == "relative" else str(copy)
        _edit(store, run_id, "UPDATE runs SET data_dir = ? WHERE run_id = ?", path)
    for action in (store.rerun, store.load_dataset, store.load_inputs):
        with pytest.raises(StoreError) as err:
            action(run_id)
        assert codes(err) == ["FS913"] and f"run {run_id}" in str(err.value)
    code, _, err = _main(monkeypatch, capsys, "runs", "rerun", run_id, "--store", str(store.path))
    assert code == 1 and "[FS913]" in err and run_id in err


def test_a_truncated_results_file_is_a_clear_error(tmp_path, monkeypatch, capsys):
    store = RunStore(tmp_path)
    run_id = record_preset(store)
    path = store.get(run_id).data_dir / RESULTS_NAME
    data = path.read_bytes()
    for cut in (0, 100, len(data) // 2, len(data) - 10):
        path.write_bytes(data[:cut])
        with pytest.raises(StoreError) as err:
            store.rerun(run_id)
        assert codes(err) == ["FS914"] and str(path) in str(err.value) and run_id in str(err.value), cut
        with pytest.raises(ConfigError, match="FS914"):
            open_dataset(path)
    code, _, err = _main(monkeypatch, capsys, "runs", "rerun", run_id, "--store", str(tmp_path))
    assert code == 1 and "[FS914]" in err and RESULTS_NAME in err


# --------------------------------------------------------------------------- 7. Dask workers dying at the start
DIE_AT_START = """
import os
def dask_setup(worker):
    claim = os.environ.get("FIRESALE_TEST_DIE_AT_START", "")
    if claim == "always":
        os._exit(1)
    try:
        os.rename(claim, claim + ".fired." + str(os.getpid()))  # one worker dies, once
    except OSError:
        return
    os._exit(1)
"""


@pytest.fixture
def dying_workers(tmp_path, monkeypatch):
    """Dask workers that run a preload killing the worker process as it starts: once (the
    first worker to claim a file) or ``always``."""
    dask = pytest.importorskip("dask")
    pytest.importorskip("distributed")
    preload = tmp_path / "die_at_start.py"
    preload.write_text(DIE_AT_START)

    def arm(mode: str) -> Path:
        claim = tmp_path / "claim"
        if mode == "once":
            claim.write_text("x")
        monkeypatch.setenv("FIRESALE_TEST_DIE_AT_START", str(claim) if mode == "once" else "always")
        return claim

    with dask.config.set({"distributed.worker.preload": [str(preload)]}):
        yield arm


def test_a_worker_killed_while_the_cluster_starts_is_retried(dying_workers, unstored, tmp_path):
    claim = dying_workers("once")
    with dask_executor(2) as pool:
        result = run_sweep(SPEC, executor=pool)
    assert not claim.exists() and list(tmp_path.glob("claim.fired.*")), "no worker died at the start"
    xr.testing.assert_identical(result.summaries, unstored.summaries)


def test_workers_that_keep_dying_at_the_start_are_a_clear_error(dying_workers, monkeypatch, capsys):
    dying_workers("always")
    with pytest.raises(ConfigError) as err, dask_executor(2, start_attempts=2):
        pass
    assert codes(err) == ["FS962"] and "Nanny failed to start" in str(err.value)
    code, _, err_text = _main(monkeypatch, capsys, "sweep", "dealer_prime", "--grid", GRID[0], "--workers", "2",
                              "--no-record")
    assert code == 1 and "[FS962]" in err_text and "--workers" in err_text


def test_a_dask_task_whose_workers_keep_dying_is_a_clear_error():
    class KilledWorker(Exception):  # what distributed raises after its retries
        pass

    class Dying(cf.Executor):
        def submit(self, fn, /, *args, **kwargs):
            future: cf.Future = cf.Future()
            future.set_exception(KilledWorker("worker died"))
            return future

    with pytest.raises(ConfigError) as err:
        run_sweep(SPEC, executor=Dying())
    assert codes(err) == ["FS960"] and "smaller --batch" in str(err.value)


def test_a_sweep_runs_each_batch_on_one_thread_beside_other_workers(monkeypatch):
    """Workers share the cores: a batch sent to an executor runs on one thread, one run in
    this process on the kernels' default."""
    import firesale.sweep as sw

    threads = []
    real = sw.run_batch

    def spy(*args):
        threads.append(args[7])
        return real(*args)

    monkeypatch.setattr(sw, "run_batch", spy)
    run_sweep(SPEC)
    with cf.ThreadPoolExecutor(2) as pool:  # an executor of workers, in this process so that the spy sees it
        run_sweep(SPEC, executor=pool)
    assert threads == [None] * 6 + [1] * 6
