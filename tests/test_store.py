"""The run store: record, reopen, diff, rerun bit for bit; two writers at once; a writer
killed midway; bad stores; the ``firesale runs`` commands."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from firesale import load_preset, simulate
from firesale.analytics.amplification import summarize
from firesale.analytics.compare import compare, comparison_scenarios, policy_scenario
from firesale.cli import app, main
from firesale.data.netcdf import open_dataset, save_dataset
from firesale.store import RESULTS_NAME, RunStore, StoreError, first_difference, input_hash

runner = CliRunner()


def record_preset(store: RunStore, name: str, **changes) -> str:
    preset = load_preset(name)
    scenario = preset.scenario.updated(**changes) if changes else preset.scenario
    ds = simulate(preset.system, scenario)
    return store.record("run", name, preset.system, [scenario], ds, summarize(ds), {"simulate_s": 0.0})


def codes(err: pytest.ExceptionInfo) -> list[str]:
    return [p.code for p in err.value.problems]


# --------------------------------------------------------------------------- record, reopen, diff, rerun
def test_record_then_reopen(tmp_path):
    preset = load_preset("dealer_prime")
    ds = simulate(preset.system, preset.scenario)
    run_id = RunStore(tmp_path / "store").record("run", "dealer_prime", preset.system, [preset.scenario], ds,
                                                 summarize(ds), {"simulate_s": 0.01}, command="firesale run")
    reopened = RunStore(tmp_path / "store")
    (entry,) = reopened.list()
    assert entry.run_id == run_id and entry.seq == 1 and entry.kind == "run" and entry.target == "dealer_prime"
    assert entry.metrics["forced_sales"] == pytest.approx(114.0, abs=1e-9)
    record = reopened.get(run_id[:6])  # a unique prefix names the run
    assert record.run_id == run_id and record.command == "firesale run"
    assert record.input_hash == input_hash(preset.system, [preset.scenario])
    assert record.config["system"]["currency"] == "USD bn"
    assert record.config["scenarios"][0]["name"] == preset.scenario.name
    assert record.summary == json.loads(json.dumps(summarize(ds)))
    assert set(record.timings) == {"simulate_s", "store_s"}
    assert first_difference(ds, reopened.load_dataset(run_id)) is None
    system, scenarios = reopened.load_inputs(run_id)
    assert scenarios == [preset.scenario] and system.institutions == preset.system.institutions


@pytest.mark.parametrize("name", ["dealer_prime", "var_desk"])
def test_rerun_reproduces_the_stored_result_bit_for_bit(tmp_path, name):
    store = RunStore(tmp_path)
    result = store.rerun(record_preset(store, name))
    assert result.equal and result.difference is None
    assert result.recorded_version == result.stored.attrs["firesale_version"]


def test_a_comparison_batch_is_recorded_and_reproduced(tmp_path):
    store = RunStore(tmp_path)
    preset = load_preset("dealer_prime")
    # the batch compare() runs: baseline, the policy, then each one's impulse run (channels off)
    names, scenarios = comparison_scenarios(preset, ["slr_exemption", "slr_exemption"])
    assert names == ["slr_exemption"] and scenarios[:2] == [preset.scenario, policy_scenario(preset, "slr_exemption")]
    assert len(scenarios) == 4 and not any(any(dict(s.channels).values()) for s in scenarios[2:])
    ds = simulate(preset.system, scenarios)
    run_id = store.record("compare", "dealer_prime", preset.system, scenarios, ds,
                          compare(preset, names), params={"policies": names})
    record = store.get(run_id)
    assert record.metrics["baseline.forced_sales"] == pytest.approx(114.0) and record.metrics[
        "slr_exemption.forced_sales"] == 0.0
    assert len(record.config["scenarios"]) == 2 * (1 + len(names))
    assert store.rerun(run_id).equal


def test_diff_names_the_changed_field_and_metrics(tmp_path):
    store = RunStore(tmp_path)
    a = record_preset(store, "dealer_prime")
    b = record_preset(store, "dealer_prime", shocks=[{"asset": "corporates", "price": -0.02}])
    same = record_preset(store, "dealer_prime")
    result = store.diff(a, b)
    config = {entry["key"]: entry for entry in result["config"]}
    assert set(config) == {"input_hash", "scenarios[corporates_down_4pct].shocks[0].price"}
    assert config["scenarios[corporates_down_4pct].shocks[0].price"]["b"] == -0.02
    metrics = {entry["key"]: entry for entry in result["metrics"]}
    assert metrics["forced_sales"]["change"] == pytest.approx(-57.0, abs=1e-9)
    assert "rounds" not in metrics  # equal values are left out
    assert store.diff(a, same) == {"a": a, "b": same, "config": [], "metrics": []}


def test_rerun_reports_the_first_differing_variable(tmp_path):
    store = RunStore(tmp_path)
    run_id = record_preset(store, "dealer_prime")
    path = store.get(run_id).data_dir / RESULTS_NAME
    ds = open_dataset(path)
    ds["equity"][-1, 0] = ds["equity"].values[-1, 0] + 1e-12  # one ulp-sized change
    save_dataset(ds, path)
    result = store.rerun(run_id)
    assert not result.equal
    assert result.difference.startswith("equity differs at ")


def test_rerun_refuses_tampered_inputs(tmp_path):
    store = RunStore(tmp_path)
    run_id = record_preset(store, "dealer_prime")
    import pandas as pd

    holdings = store.get(run_id).data_dir / "system" / "holdings.parquet"
    frame = pd.read_parquet(holdings)
    frame.loc[0, "quantity"] += 1
    frame.to_parquet(holdings, index=False)
    with pytest.raises(StoreError) as err:
        store.rerun(run_id)
    assert codes(err) == ["FS907"] and "cannot be reproduced" in str(err.value)


def test_replications_are_recorded_without_a_dataset(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.record_replication("replication", {"model": "glt", "write_down": 0.1},
                                      {"aggregate_vulnerability": 0.25, "banks": 90}, target="vulnerability eba2011")
    record = store.get(run_id)
    assert record.kind == "replication" and record.data_dir is None
    assert record.metrics == {"aggregate_vulnerability": 0.25, "banks": 90}
    with pytest.raises(StoreError) as err:
        store.rerun(run_id)
    assert codes(err) == ["FS906"]


# --------------------------------------------------------------------------- bad input
def test_unknown_run_id_lists_close_ids(tmp_path):
    store = RunStore(tmp_path)
    with pytest.raises(StoreError) as err:
        store.get("abcd1234")
    assert codes(err) == ["FS904"] and "holds no runs yet" in str(err.value)
    run_id = record_preset(store, "dealer_prime")
    with pytest.raises(StoreError) as err:
        store.get(run_id[:8] + "zz")
    assert codes(err) == ["FS904"] and f"Closest IDs: {run_id}" in str(err.value)


def test_ambiguous_prefix(tmp_path, monkeypatch):
    ids = iter(["abcd11110000", "abcd22220000"])
    monkeypatch.setattr("firesale.store._new_run_id", lambda: next(ids))
    store = RunStore(tmp_path)
    record_preset(store, "dealer_prime")
    record_preset(store, "dealer_prime")
    with pytest.raises(StoreError) as err:
        store.get("abcd")
    assert codes(err) == ["FS905"] and "abcd11110000, abcd22220000" in str(err.value)
    assert store.get("abcd2").run_id == "abcd22220000"


def test_store_path_that_is_a_file(tmp_path):
    path = tmp_path / "runs.txt"
    path.write_text("not a folder")
    with pytest.raises(StoreError) as err:
        RunStore(path)
    assert codes(err) == ["FS901"] and str(path) in str(err.value) and "--store" in str(err.value)
    assert path.read_text() == "not a folder"


def test_a_store_held_too_long_is_a_clear_error(tmp_path):
    import fcntl

    store = RunStore(tmp_path, lock_timeout=0.2)
    record_preset(store, "dealer_prime")
    with open(tmp_path / "runs.lock") as held:  # another writer, holding the lock
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(StoreError) as err:
            record_preset(store, "dealer_prime")
        assert codes(err) == ["FS903"] and "over 0.2 s" in str(err.value)
    assert len(store.list()) == 1 and not list((tmp_path / "tmp").iterdir())
    record_preset(store, "dealer_prime")
    assert len(store.list()) == 2


def _bad_stores(tmp_path: Path) -> dict[str, Path]:
    """A garbage file, an empty file, a DuckDB database of something else, a truncated store."""
    import duckdb

    out = {}
    for name, content in (("garbage", os.urandom(4096)), ("empty", b"")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "runs.duckdb").write_bytes(content)
        out[name] = tmp_path / name
    (tmp_path / "other").mkdir()
    conn = duckdb.connect(str(tmp_path / "other" / "runs.duckdb"))
    conn.execute("CREATE TABLE prices (day DATE, close DOUBLE)")
    conn.close()
    out["other"] = tmp_path / "other"
    store = RunStore(tmp_path / "truncated")
    for _ in range(3):
        record_preset(store, "dealer_prime")
    data = store.database.read_bytes()
    store.database.write_bytes(data[: len(data) // 2])
    out["truncated"] = tmp_path / "truncated"
    return out


def test_a_corrupted_store_is_a_clear_error_and_left_untouched(tmp_path):
    preset = load_preset("dealer_prime")
    ds = simulate(preset.system, preset.scenario)
    for kind, folder in _bad_stores(tmp_path).items():
        database = folder / "runs.duckdb"
        before = database.read_bytes()
        for action in (lambda s: s.list(), lambda s: s.get("abcd"), lambda s: s.check(),
                       lambda s: s.record("run", "x", preset.system, [preset.scenario], ds, summarize(ds))):
            with pytest.raises(StoreError) as err:
                action(RunStore(folder))
            assert codes(err) == ["FS902"], kind
            message = str(err.value)
            assert str(database) in message and "left untouched" in message and "--store" in message, kind
        assert database.read_bytes() == before, kind
        assert not (folder / "runs.duckdb.wal").exists(), kind
        assert not list((folder / "tmp").iterdir()), kind  # the refused record left nothing behind
        if kind != "truncated":
            assert not (folder / "runs").exists(), kind


# --------------------------------------------------------------------------- processes
CHILD_PRELUDE = """
import sys
from firesale import load_preset, simulate
from firesale.analytics.amplification import summarize
from firesale.store import RunStore
preset = load_preset("dealer_prime")
ds = simulate(preset.system, preset.scenario)
summary = summarize(ds)
store = RunStore(sys.argv[1])
"""


def _child(body: str, store: Path, *args: str) -> subprocess.Popen:
    code = CHILD_PRELUDE + textwrap.dedent(body)
    return subprocess.Popen([sys.executable, "-c", code, str(store), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _assert_complete(store: RunStore) -> list:
    """Every listed run has its full record and files; nothing half-written is listed."""
    entries = store.list()
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    for entry in entries:
        assert entry.metrics["forced_sales"] == pytest.approx(114.0, abs=1e-9)
        folder = store.path / "runs" / entry.run_id
        assert (folder / RESULTS_NAME).is_file()
        assert {p.name for p in (folder / "system").iterdir()} >= {
            "institutions.parquet", "assets.parquet", "holdings.parquet"}
    for entry in random.Random(len(entries)).sample(entries, min(len(entries), 5)):
        record = store.get(entry.run_id)
        assert record.summary["forced_sales"] == pytest.approx(114.0, abs=1e-9)
        assert first_difference(store.load_dataset(entry.run_id), store.load_dataset(entries[0].run_id)) is None
    return entries


def test_two_processes_writing_50_runs_each(tmp_path):
    body = """
    for i in range(50):
        store.record("run", f"{sys.argv[2]}-{i}", preset.system, [preset.scenario], ds, summary)
    """
    children = [_child(body, tmp_path, name) for name in ("a", "b")]
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    store = RunStore(tmp_path)
    entries = _assert_complete(store)
    assert len(entries) == 100
    assert {e.target for e in entries} == {f"{n}-{i}" for n in "ab" for i in range(50)}
    assert len({e.run_id for e in entries}) == 100
    assert len(list((tmp_path / "runs").iterdir())) == 100
    assert store.rerun(random.Random(0).choice(entries).run_id).equal
    assert not list((tmp_path / "tmp").iterdir()) and not list((tmp_path / "pending").iterdir())


def _wait_for(condition, timeout: float = 30.0) -> bool:
    """Poll ``condition`` until true (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.001)
    return False


def test_a_writer_killed_midway_leaves_no_partial_record(tmp_path):
    """Deterministic: each writer is killed only after it reported a committed loop record
    (so at least 2 records each, whatever the machine's speed), and the kill is aimed at an
    observable phase of a later write: its files being written (tmp/<id>.lock), its commit
    (pending/<id>), or between two records. Where the kill lands only changes what is
    cleaned up, never what is asserted."""
    body = """
    store.record("run", "warm-up", preset.system, [preset.scenario], ds, summary)  # also clears older leftovers
    print("recorded 0", flush=True)
    i = 0
    while True:
        i += 1
        store.record("run", "loop", preset.system, [preset.scenario], ds, summary)
        print(f"recorded {i}", flush=True)
    """
    tmp, pending = tmp_path / "tmp", tmp_path / "pending"
    phases = {
        "file writing": lambda: tmp.is_dir() and any(p.suffix == ".lock" for p in tmp.iterdir()),
        "commit": lambda: pending.is_dir() and any(pending.iterdir()),
        "between records": lambda: True,  # right after a record was reported
    }
    killed_in = []
    for aim, in_phase in phases.items():
        child = _child(body, tmp_path)
        assert child.stdout.readline().strip() == "recorded 0", child.stderr.read()
        assert child.stdout.readline().strip() == "recorded 1", child.stderr.read()  # a loop record committed
        # aim at the phase (a commit is brief: it may take a few records to catch one)
        hit = _wait_for(lambda: _safe(in_phase), timeout=10.0)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
        child.stderr.close()
        store = RunStore(tmp_path)
        _assert_complete(store)  # readable, and only whole records are listed
        left = [p for p in pending.iterdir()], [p for p in tmp.iterdir() if p.suffix == ".lock"]
        killed_in.append(f"{aim} ({'seen' if hit else 'not seen'}; left "
                         f"{'a journal entry' if left[0] else 'a tmp folder' if left[1] else 'nothing'})")
    # the next write clears what the killed writers left: then every run folder has its row
    record_preset(store, "dealer_prime")
    entries = _assert_complete(store)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == sorted(e.run_id for e in entries)
    assert not list(tmp.iterdir()) and not list(pending.iterdir())
    assert len(entries) >= 7  # 3 warm-ups, at least one record in each loop, the last one
    print(f"{len(entries)} runs recorded; writers killed during: {'; '.join(killed_in)}")


def _safe(condition) -> bool:
    """A directory listing raced by the writer (an entry removed meanwhile) counts as not yet."""
    try:
        return bool(condition())
    except FileNotFoundError:
        return False


# --------------------------------------------------------------------------- command line
def _json(args: list[str]) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_cli_records_runs_and_lists_shows_diffs_reruns_them(tmp_path):
    store = str(tmp_path / "store")
    first = _json(["run", "dealer_prime", "--store", store])
    second = _json(["run", "dealer_prime", "--store", store, "--shock", "corporates=-0.02"])
    assert first["forced_sales"] == pytest.approx(114.0, abs=1e-9) and len(first["run_id"]) == 12
    listed = _json(["runs", "list", "--store", store])["runs"]
    assert [r["run_id"] for r in listed] == [first["run_id"], second["run_id"]]
    shown = _json(["runs", "show", first["run_id"], "--store", store])
    assert shown["command"] == "firesale run dealer_prime" and shown["kind"] == "run"
    assert shown["summary"]["forced_sales"] == first["forced_sales"]
    assert _json(["runs", "show", second["run_id"], "--store", store])["command"] == (
        "firesale run dealer_prime --shock=corporates=-0.02")
    diff = _json(["runs", "diff", first["run_id"], second["run_id"], "--store", store])
    assert any(e["key"] == "forced_sales" and e["change"] == pytest.approx(-57.0) for e in diff["metrics"])
    assert _json(["runs", "rerun", second["run_id"], "--store", store])["equal"] is True
    for args in (["runs", "list"], ["runs", "show", first["run_id"]], ["runs", "diff", first["run_id"],
                 second["run_id"]], ["runs", "rerun", first["run_id"]]):
        result = runner.invoke(app, [*args, "--store", store])
        assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["runs", "rerun", first["run_id"], "--store", store])
    assert "reproduced bit for bit" in result.output


def test_cli_compare_is_recorded_and_no_record_records_nothing(tmp_path, monkeypatch):
    store = tmp_path / "store"
    monkeypatch.setenv("FIRESALE_STORE", str(store))
    out = _json(["compare", "dealer_prime", "--policy", "slr_exemption"])
    assert set(out) == {"baseline", "policies"}  # the documented keys; the run ID goes to stderr
    (entry,) = RunStore().list()
    record = RunStore().get(entry.run_id)
    assert record.kind == "compare" and record.config["params"] == {"policies": ["slr_exemption"]}
    assert record.summary == out and record.command == "firesale compare dealer_prime --policy=slr_exemption"
    assert RunStore().rerun(entry.run_id).equal
    assert _json(["run", "dealer_prime", "--no-record"])["run_id"] is None
    _json(["compare", "dealer_prime", "--policy", "slr_exemption", "--no-record"])
    assert len(RunStore().list()) == 1
    nowhere = tmp_path / "nowhere"
    assert _json(["run", "dealer_prime", "--no-record", "--store", str(nowhere)])["run_id"] is None
    assert not nowhere.exists()


def _main(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    monkeypatch.setattr("sys.argv", ["firesale", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return exit_info.value.code, " ".join(err.split())


def test_cli_errors_exit_1_without_traceback(tmp_path, monkeypatch, capsys):
    store = tmp_path / "store"
    run_id = record_preset(RunStore(store), "dealer_prime")
    code, err = _main(monkeypatch, capsys, "runs", "show", "feedbeef", "--store", str(store))
    assert code == 1 and "[FS904]" in err and "runs list" in err
    a_file = tmp_path / "file"
    a_file.write_text("x")
    code, err = _main(monkeypatch, capsys, "run", "dealer_prime", "--store", str(a_file))
    assert code == 1 and "[FS901]" in err and "is a file, not a run store folder" in err
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "runs.duckdb").write_bytes(b"\x00garbage" * 100)
    code, err = _main(monkeypatch, capsys, "run", "dealer_prime", "--store", str(garbage))
    assert code == 1 and "[FS902]" in err and "runs.duckdb" in err
    assert (garbage / "runs.duckdb").read_bytes() == b"\x00garbage" * 100
    # a stored result that no longer matches: rerun says where, exit status 1
    path = RunStore(store).get(run_id).data_dir / RESULTS_NAME
    ds = open_dataset(path)
    ds["price"][-1, 0, 0] = 0.5
    save_dataset(ds, path)
    monkeypatch.setattr("sys.argv", ["firesale", "runs", "rerun", run_id, "--store", str(store)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    assert "not reproduced" in capsys.readouterr().out
