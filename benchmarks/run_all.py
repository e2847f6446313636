#!/usr/bin/env python
"""All performance benchmarks, one command (``make bench``).

Usage::

    python benchmarks/run_all.py            # full sizes (~6 min on 2 cores); also rewrites the tables of docs/performance.md and README.md
    python benchmarks/run_all.py --quick    # small sizes, a smoke run (about a minute); docs untouched
    python benchmarks/run_all.py --docs-only  # rewrite those tables from benchmarks/results.json

Items (each measured in a fresh child process, so peak RSS is its own, read from
``VmHWM`` in ``/proc/self/status``):

1. engine vs a competent per-institution Python loop (``naive_loop.py``: each institution
   works on its own positions only, skips the constraint work when nothing binds, VaR over
   its own correlation block), 1,000 x 200, 20 rounds: ``bench_engine.py`` run as a child,
   ratio per scenario-round (target >= 100x). The dense naive loop (not a competent
   baseline, ``naive_loop_dense.py``) is timed beside it and recorded under that label
   only, so that what the old ratio owed to a badly written baseline stays visible;
2. 256 scenarios batched vs one by one (target >= 10x), twice: on the 1,000 x 200 system of
   item 1 (same child), and on the ``dealer_groups`` preset (256 Monte Carlo variants of its
   shock), the size a stress tester sweeps (``--quick``: 32 variants, a smoke run);
3. 20,000 institutions x 2,000 assets at 1% density, 20 rounds, 16 scenarios: peak RSS
   (target <= 2 GiB), seconds per round, and RSS after each setup stage (where memory goes),
   twice: keeping every round record, and keeping those a sweep keeps
   (``firesale.sweep.SUMMARY_VARIABLES``);
4. the round kernel's effective bandwidth: bytes it must touch per round / seconds per
   round, over ``np.copyto`` bandwidth in the same process (target >= 25%). Bytes per
   round = sum over the ``State`` arrays of 2 x nbytes (each read once and written once:
   (S, E) q, q_trading, repo, pending; (S, N) and (S, K) arrays) + the per-entry inputs read
   once (entry_institution, entry_asset, Inputs.repo). Copy bandwidth = 2 x nbytes / seconds
   of ``np.copyto`` on a 256 MiB array (read + write), best of 5. Beside that minimum, the
   bytes the round *actually* reads and writes through numpy calls, counted in a separate,
   untimed run of the same rounds by ``bytes_touched.py`` (every ufunc, numpy function,
   fancy index and array creation on traced arrays: operands read, results written), give
   ``bytes_touched_per_round``, its ratio to the minimum and ``fraction_touched``. The round
   function is ``firesale.engine.round.step`` unless ``--round-step MODULE:FUNCTION`` names
   another with the same signature (a compiled round, say);
5. a 10,000-scenario Monte Carlo sweep of ``dealer_market`` on a 2-worker Dask
   ``LocalCluster`` vs serial in one process, best of 3 each (target >= 1.6x); nothing
   recorded;
6. growth from 1,000 to 20,000 institutions with K = N / 10 and density = 20 / K (20
   holdings per institution, nnz = 20 N): seconds per round and peak RSS per size, and
   least-squares lines against nnz with R^2 (item 3 is this series' largest point).

Issue 18, the compiled round (``bench_compiled.py``; kernels ``"numba"`` against the
numpy reference, numba warmed up in each child before any timing, the warm-up recorded
apart):

4c. item 4 with ``step(state, inputs, scen, t, kernels)`` given the compiled kernels, one
    numba thread (target >= 25%). The compiled round is one compiled call, whose bytes
    the tracer does not see: measured against the minimum bytes, a lower bound of the
    bytes it touches (the traced fraction, of what numpy calls remain around it, is
    recorded too);
7. the compiled engine vs the competent per-institution loop in ms per scenario-round,
   1,000 x 200, 64 ``scenarios_for`` scenarios, 20 rounds max, one numba thread, with the
   numpy engine in the same child and the compiled results checked against it (target
   >= 30x);
8. one ``firesale.simulate(system, scenario)`` call on ``inet_eba2018``: median over 200
   calls after a warm-up, split into the engine alone and the rest (target <= 1 ms);
9. 8,192 Monte Carlo variants of ``inet_eba2018``'s shock in one batch, compiled vs numpy,
   best of 3 (target >= 20x); the compiled batch as a user's runs, its chunks on one thread
   a core, and on one thread;
10. 1,024 variants each of ``dealer_groups`` and ``march_2020`` (every mechanism as
    shipped), compiled vs numpy, best of 3 (target >= 10x each; measured: the smaller). Three
    runs each: a batch's first run on threads in a process takes up to twice its next
    (each thread's allocator arena starts cold), and two runs left the ratio to chance.

Items 4c, 7 and 8 run the compiled kernels on one thread. Items 9 and 10 run them as a
user's batch runs by default, a chunk of the batch per core on threads side by side
(``firesale.engine.simulate.simulate_arrays``), against the numpy reference, which runs on
the calling thread; the tables say how many threads.

Scenarios of items 3, 4 and 6: price shocks of 2-8% on 3-15 risky assets per scenario,
the balance-sheet mechanism (information channel and dealer intermediation off), as in
``bench_engine.py``. One BLAS thread throughout.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import dataclasses
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_compiled import CHILDREN as COMPILED_CHILDREN

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
README = ROOT / "README.md"
README_BEGIN, README_END = "<!-- bench:readme:begin -->", "<!-- bench:readme:end -->"

FULL = {
    "engine": "1000,200,256",
    "big": (20000, 2000, 0.01, 16),
    "bandwidth": (5000, 1000, 0.02, 64),
    "sweep": 10000,
    "growth": [1000, 2000, 5000, 10000, 20000],
    "compiled_vs_loop": (1000, 200, 64),
    "inet_calls": 200,
    "inet_batch": 8192,
    "presets_batch": 1024,
    "presets_max_rounds": None,  # as the presets ship
    "preset_one_by_one": 256,
}
QUICK = {
    "engine": "100,40,16",
    "big": (2000, 200, 0.1, 4),
    "bandwidth": (500, 100, 0.2, 16),
    "sweep": 400,
    "growth": [200, 400, 800],
    "compiled_vs_loop": (100, 40, 8),
    "inet_calls": 50,
    "inet_batch": 256,
    "presets_batch": 32,
    "presets_max_rounds": 10,
    "preset_one_by_one": 32,
}
TARGETS = {
    "1_engine_vs_naive": (">=", 100.0, "x"),
    "2_batched_vs_one_by_one": (">=", 10.0, "x"),
    "2b_batched_vs_one_by_one_preset": (">=", 10.0, "x"),
    "3_large_system": ("<=", 2.0, "GiB"),
    "3b_large_system_sweep_records": ("<=", 2.0, "GiB"),
    "4_bandwidth_fraction": (">=", 0.25, ""),
    "5_dask_vs_serial": (">=", 1.6, "x"),
    "4c_bandwidth_compiled": (">=", 0.25, ""),
    "7_compiled_vs_loop": (">=", 30.0, "x"),
    "8_inet_single_call": ("<=", 1.0, "ms"),
    "9_inet_batch_8192": (">=", 20.0, "x"),
    "10_presets_1024": (">=", 10.0, "x"),
}


# --------------------------------------------------------------------------- helpers
def proc_status() -> dict[str, float]:
    """VmRSS and VmHWM of this process, MiB."""
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS", "VmHWM")):
                key, val = line.split(":")
                out[key] = int(val.split()[0]) / 1024.0
    return out


def machine() -> dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as fh:
            mem = next((int(ln.split()[1]) / 1024**2 for ln in fh if ln.startswith("MemTotal")), None)
    except OSError:
        pass
    return {"cpu_model": cpu, "cpu_count": os.cpu_count(),
            "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "ram_gib": mem, "platform": platform.platform(), "python": platform.python_version(),
            "numpy": np.__version__, "load_average_start": list(os.getloadavg())}


def scenarios_for(system, n_scen: int, max_rounds: int, seed: int = 1):
    from firesale import Scenario

    rng = np.random.default_rng(seed)
    risky = [a.name for a in system.assets if a.asset_class in ("agency_mbs", "corporate_ig", "corporate_hy", "equity")]
    risky = risky or [a.name for a in system.assets]
    out = []
    for s in range(n_scen):
        hit = rng.choice(risky, size=min(len(risky), int(rng.integers(3, 16))), replace=False)
        shocks = [{"asset": str(a), "price": float(-rng.uniform(0.02, 0.08))} for a in hit]
        out.append(Scenario(name=f"s{s:03d}", shocks=shocks, max_rounds=max_rounds,
                            market={"intermediation": False}, channels={"information": False}))
    return out


def nbytes_of(obj) -> dict[str, int]:
    return {f.name: int(getattr(obj, f.name).nbytes) for f in dataclasses.fields(obj)
            if isinstance(getattr(obj, f.name), np.ndarray)}


# --------------------------------------------------------------------------- children
def child_scale(n: int, k: int, density: float, n_scen: int, rounds: int = 20, seed: int = 7,
                variables: list[str] | None = None, detail: bool = False) -> dict:
    """Items 3 and 6: build, set up and run one size; RSS after each stage. ``variables``:
    the round records kept (default all; a sweep keeps ``firesale.sweep.SUMMARY_VARIABLES``);
    ``detail``: the per-position records too (holdings, sales, binding channel)."""
    from firesale.data.synthetic import generate_system
    from firesale.engine.simulate import simulate_arrays
    from firesale.engine.state import Inputs, ScenarioArrays

    stages = {"start": proc_status()}
    t0 = time.perf_counter()
    system = generate_system(n, k, density, seed)
    t_system = time.perf_counter() - t0
    stages["system_built"] = proc_status()
    scen_list = scenarios_for(system, n_scen, rounds)
    t0 = time.perf_counter()
    inputs = Inputs.from_system(system)
    scen = ScenarioArrays.from_scenarios(system, scen_list)
    t_arrays = time.perf_counter() - t0
    stages["engine_arrays"] = proc_status()
    simulate_arrays(inputs, scen.take(np.arange(1)), detail=False)  # warm-up
    t0 = time.perf_counter()
    traj = simulate_arrays(inputs, scen, detail=detail, variables=variables)
    t_sim = time.perf_counter() - t0
    stages["simulated"] = proc_status()
    steps = traj.n_rounds
    nnz = int(inputs.n_entries)
    system_dense = {name: int(getattr(system, name).nbytes) for name in
                    ("holdings", "trading_fraction", "repo", "derivative", "initial_margin", "market_share")
                    if isinstance(getattr(system, name, None), np.ndarray)}
    inp = nbytes_of(inputs)
    return {
        "institutions": n, "assets": k, "density": density, "scenarios": n_scen, "max_rounds": rounds, "nnz": nnz,
        "records_kept": "all" if variables is None else list(variables), "per_position_records": detail,
        "system_sparse": bool(system.sparse),
        "records_mib": sum(v.nbytes for v in traj.records.values()) / 2**20,
        "records_mib_if_dense": sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize
                                    for v in traj.records.values()) / 2**20,
        "records_mib_by_name": {name: v.nbytes / 2**20 for name, v in
                                sorted(traj.records.items(), key=lambda kv: -kv[1].nbytes)[:12]},
        "seconds": {"system_build": t_system, "engine_arrays": t_arrays, "simulate": t_sim},
        "step_calls": steps, "seconds_per_round": t_sim / steps,
        "eventful_rounds_median": float(np.median(traj.rounds)),
        "rss_mib_by_stage": stages, "peak_rss_mib": proc_status()["VmHWM"],
        "system_dense_arrays_mib": {k_: v / 2**20 for k_, v in system_dense.items()},
        "inputs_arrays_mib_total": sum(inp.values()) / 2**20,
        "inputs_largest_arrays_mib": {k_: v / 2**20 for k_, v in sorted(inp.items(), key=lambda x: -x[1])[:8]},
        "state_arrays_mib_total": sum(nbytes_of(traj.final).values()) / 2**20,
    }


def resolve_step(step=None):
    """The round function of item 4: ``firesale.engine.round.step`` (``None``), a callable,
    or ``"module:function"`` (a string, so that it can be passed to a child process)."""
    if step is None:
        from firesale.engine.round import step as default_step

        return default_step
    if callable(step):
        return step
    import importlib

    module, _, name = str(step).partition(":")
    if not name:
        raise ValueError(f"--round-step {step!r}: write MODULE:FUNCTION, e.g. firesale.engine.round:step")
    return getattr(importlib.import_module(module), name)


def child_bandwidth(n: int, k: int, density: float, n_scen: int, rounds: int = 6, seed: int = 7,
                    step=None, kernels: str | None = None) -> dict:
    """Item 4: the round function ``step`` (default ``firesale.engine.round.step``; a
    callable or ``"module:function"``, called as ``step(state, inputs, scen, t)`` and
    returning the new state first) on a full batch vs ``np.copyto`` bandwidth, with the
    minimum bytes a round must touch and, counted in a separate untimed run of the same
    rounds, the bytes its numpy calls actually read and write. ``kernels`` (item 4c):
    the name of a kernel set (``firesale.engine.kernels.kernels_named``), then passed as
    ``step(state, inputs, scen, t, kernels)``; its compiled work is invisible to the
    byte count."""
    from bytes_touched import count_bytes

    from firesale.data.synthetic import generate_system
    from firesale.engine.state import Inputs, ScenarioArrays, initial_state

    step_name = step if isinstance(step, str) else None
    step = resolve_step(step)
    step_name = step_name or f"{step.__module__}:{step.__qualname__}"
    extra = ()
    if kernels is not None:
        from firesale.engine.kernels import kernels_named

        extra = (kernels_named(kernels),)
    system = generate_system(n, k, density, seed)
    inputs = Inputs.from_system(system)
    scen = ScenarioArrays.from_scenarios(system, scenarios_for(system, n_scen, 20))
    state0 = initial_state(inputs, scen)
    state_bytes = nbytes_of(state0)
    entry_inputs = sum(int(getattr(inputs, f).nbytes) for f in ("entry_institution", "entry_asset", "repo"))
    bytes_round = 2 * sum(state_bytes.values()) + entry_inputs
    best = np.inf
    for _ in range(3):
        state = state0
        t0 = time.perf_counter()
        with np.errstate(over="ignore", invalid="ignore"):
            for t in range(rounds):
                state, _rec, _trades = step(state, inputs, scen, t, *extra)
        best = min(best, (time.perf_counter() - t0) / rounds)
    src = np.ones(2**25)  # 256 MiB
    dst = np.empty_like(src)
    np.copyto(dst, src)
    copy = np.inf
    for _ in range(5):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        copy = min(copy, time.perf_counter() - t0)
    copy_bw = 2 * src.nbytes / copy
    del src, dst
    kernel_bw = bytes_round / best
    peak_timed = proc_status()["VmHWM"]  # before the counting run, which makes its own copies
    touched = _count_round_bytes(step, count_bytes, state0, inputs, scen, rounds, extra)
    touched_bw = touched["bytes_touched_per_round"] / best
    return {"institutions": n, "assets": k, "density": density, "scenarios": n_scen, "nnz": int(inputs.n_entries),
            "step": step_name, "rounds_timed": rounds, "seconds_per_round": best, "bytes_per_round": bytes_round,
            "state_bytes": state_bytes, "entry_input_bytes": entry_inputs,
            "kernel_gb_s": kernel_bw / 1e9, "copy_gb_s": copy_bw / 1e9, "fraction": kernel_bw / copy_bw,
            **touched,
            "bytes_touched_over_minimum": touched["bytes_touched_per_round"] / bytes_round,
            "kernel_gb_s_touched": touched_bw / 1e9, "fraction_touched": touched_bw / copy_bw,
            "peak_rss_mib": peak_timed, "peak_rss_mib_after_counting": proc_status()["VmHWM"]}


def _count_round_bytes(step, count_bytes, state0, inputs, scen, rounds: int, extra: tuple = ()) -> dict:
    """The bytes ``step``'s numpy calls read and write in each of the timed rounds, in a
    separate untimed run (``bytes_touched.count_bytes``), and the largest call sites."""
    from collections import Counter

    t0 = time.perf_counter()
    state, per_round, sites, operations = state0, [], Counter(), Counter()
    lost = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(rounds):
            counted = count_bytes(step, state, inputs, scen, t, *extra)
            state = counted["result"][0]
            per_round.append({key: counted[key] for key in ("bytes_read", "bytes_written", "bytes_touched", "calls")})
            sites.update(counted["by_call_site"])
            operations.update(counted["by_operation"])
            lost += counted["returned_arrays"] - counted["returned_traced"]
    touched = [r["bytes_touched"] for r in per_round]
    return {
        "bytes_touched_per_round": float(np.mean(touched)),
        "bytes_read_per_round": float(np.mean([r["bytes_read"] for r in per_round])),
        "bytes_written_per_round": float(np.mean([r["bytes_written"] for r in per_round])),
        "bytes_touched_by_round": touched,
        "numpy_calls_per_round": {kind: float(np.mean([r["calls"].get(kind, 0) for r in per_round]))
                                  for kind in sorted({kind for r in per_round for kind in r["calls"]})},
        "bytes_touched_top_call_sites": {site: v / rounds for site, v in sites.most_common(10)},
        "bytes_touched_top_operations": {op: v / rounds for op, v in operations.most_common(10)},
        "bytes_touched_untraced_results": lost,
        "bytes_touched_how": "sum over the numpy calls of one step call per timed round (separate, untimed run): "
                             "nbytes of every array operand read and every array written (bytes_touched.py); "
                             "mean over the timed rounds",
        "bytes_touched_counting_seconds": time.perf_counter() - t0,
    }


def child_sweep(n_mc: int, workers: int = 2, repeat: int = 3) -> dict:
    """Item 5: the same Monte Carlo sweep serial in-process and on a 2-worker LocalCluster,
    best of ``repeat`` each (the cluster started once; "including cluster start" is the
    first sweep on it, timed from the cluster's start)."""
    from firesale.sweep import InlineExecutor, SweepSpec, dask_executor, run_sweep

    batch = max(1, n_mc // 20)
    spec = SweepSpec("dealer_market", monte_carlo=n_mc, seed=0, batch_size=batch)
    run_sweep(SweepSpec("dealer_market", monte_carlo=batch, seed=1, batch_size=batch))  # warm-up
    t_serial = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        serial = run_sweep(spec, executor=InlineExecutor())
        t_serial = min(t_serial, time.perf_counter() - t0)
    t0 = time.perf_counter()
    with dask_executor(workers=workers) as pool:
        t_start = time.perf_counter() - t0
        run_sweep(SweepSpec("dealer_market", monte_carlo=2 * batch, seed=1, batch_size=batch), executor=pool)
        t_first = None
        t_dask = np.inf
        for _ in range(repeat):
            t1 = time.perf_counter()
            parallel = run_sweep(spec, executor=pool)
            t_dask = min(t_dask, time.perf_counter() - t1)
            t_first = t_first or time.perf_counter() - t0
    t_dask_total = t_first
    same = bool(np.array_equal(serial.summaries["total_loss"].values, parallel.summaries["total_loss"].values))
    return {"preset": "dealer_market", "scenarios": n_mc, "batch_size": batch, "workers": workers,
            "seconds_serial": t_serial, "seconds_dask": t_dask, "seconds_cluster_start": t_start,
            "seconds_dask_including_cluster_start_and_warmup": t_dask_total,
            "repeat": repeat, "ratio": t_serial / t_dask, "ratio_including_cluster_start": t_serial / t_dask_total,
            "results_equal": same}


def child_batch_preset(preset: str, n_scen: int, seed: int = 1) -> dict:
    """Item 2 at the narrative's scale: ``n_scen`` Monte Carlo variants of a preset's
    scenario (each price shock scaled by U(0.5, 1.5)), one batch vs one call each."""
    from firesale import load_preset
    from firesale.engine.simulate import simulate_arrays
    from firesale.engine.state import Inputs, ScenarioArrays

    loaded = load_preset(preset)
    rng = np.random.default_rng(seed)
    scenarios = []
    for s in range(n_scen):
        shocks = [shock.model_dump(exclude_none=True) for shock in loaded.scenario.shocks]
        for shock in shocks:
            if "price" in shock:
                shock["price"] *= float(rng.uniform(0.5, 1.5))
        scenarios.append(loaded.scenario.updated(name=f"s{s:03d}", shocks=shocks))
    inputs = Inputs.from_system(loaded.system)
    scen = ScenarioArrays.from_scenarios(loaded.system, scenarios)
    simulate_arrays(inputs, scen.take(np.arange(1)), detail=False)  # warm-up
    t0 = time.perf_counter()
    batch = simulate_arrays(inputs, scen, detail=False)
    t_batch = time.perf_counter() - t0
    t0 = time.perf_counter()
    singles = [simulate_arrays(inputs, scen.take(np.array([s])), detail=False) for s in range(n_scen)]
    t_single = time.perf_counter() - t0
    same = all(np.array_equal(one.records["equity"][0], batch.records["equity"][s, :one.n_rounds])
               for s, one in enumerate(singles))
    return {"preset": preset, "institutions": loaded.system.n_institutions, "assets": loaded.system.n_assets,
            "scenarios": n_scen, "seconds_batched": t_batch, "seconds_one_by_one": t_single,
            "ratio": t_single / t_batch, "equity_bit_for_bit": bool(same)}


CHILDREN = {"scale": child_scale, "bandwidth": child_bandwidth, "sweep": child_sweep,
            "batch_preset": child_batch_preset, **COMPILED_CHILDREN}


def run_child(name: str, *args) -> dict:
    cmd = [sys.executable, str(Path(__file__)), "--child", name, json.dumps(list(args))]
    print(f"  child {name}{tuple(args)} ...", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"rc {proc.returncode}"}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_seconds"] = time.perf_counter() - t0
    return out


def run_engine_bench(size: str, quick: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench_engine.json"
        cmd = [sys.executable, str(HERE / "bench_engine.py"), "--size", size, "--max-rounds", "20",
               "--repeat", "2", "--repeat-one-at-a-time", "1", "--out", str(out)]
        print(f"  child bench_engine.py --size {size} ...", flush=True)
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr[-4000:])
            return {"error": proc.stderr.strip().splitlines()[-1]}
        return json.loads(out.read_text())


def compiled_items(sizes: dict) -> dict:
    """Items 4c and 7-10 (issue 18), each child in a fresh process (``bench_compiled.py``)."""
    items = {}
    bw = run_child("bandwidth_compiled", *sizes["bandwidth"], 6, 7, 1)
    items["4c_bandwidth_compiled"] = dict(bw, measured=bw.get("fraction"))
    loop = run_child("compiled_vs_loop", *sizes["compiled_vs_loop"], 20, 2, 4, 1)
    items["7_compiled_vs_loop"] = dict(loop, measured=loop.get("compiled_vs_loop"))
    call = run_child("inet_single_call", sizes["inet_calls"], 20, 1)
    items["8_inet_single_call"] = dict(call, measured=call.get("measured_ms"))
    # batches as a user's run them: a chunk per core, on threads side by side (and on one thread)
    batch = run_child("preset_batch", "inet_eba2018", sizes["inet_batch"], 3, None)
    items["9_inet_batch_8192"] = dict(batch, measured=batch.get("ratio"))
    presets = {name: run_child("preset_batch", name, sizes["presets_batch"], 3, None, 1, sizes["presets_max_rounds"])
               for name in ("dealer_groups", "march_2020")}
    ratios = [p.get("ratio") for p in presets.values()]
    items["10_presets_1024"] = {"measured": None if None in ratios else min(ratios),
                                "measured_is": "the smaller of the presets' compiled-vs-numpy ratios",
                                "presets": presets}
    return items


def linfit(x, y) -> dict:
    x, y = np.asarray(x, float), np.asarray(y, float)
    slope, icpt = np.polyfit(x, y, 1)
    ss_res = float(((y - (slope * x + icpt)) ** 2).sum())
    ss_tot = float(((y - y.mean()) ** 2).sum())
    return {"slope": float(slope), "intercept": float(icpt), "r2": 1 - ss_res / ss_tot if ss_tot > 0 else 1.0}


# --------------------------------------------------------------------------- driver
def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, a smoke run; docs untouched")
    ap.add_argument("--out", type=Path, default=None, help="JSON output (default benchmarks/results.json; "
                    "quick: benchmarks/results/quick.json)")
    ap.add_argument("--no-doc", action="store_true", help="do not rewrite the table in docs/performance.md")
    ap.add_argument("--round-step", default=None, metavar="MODULE:FUNCTION",
                    help="item 4's round function (default firesale.engine.round:step)")
    ap.add_argument("--docs-only", action="store_true", help="rewrite the tables of docs/performance.md and the "
                    "README from benchmarks/results.json, measuring nothing")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("args", nargs="?", default="[]", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(CHILDREN[a.child](*json.loads(a.args))))
        return {}
    if a.docs_only:
        res = json.loads((HERE / "results.json").read_text())
        write_docs(res)
        return res
    sizes = QUICK if a.quick else FULL
    out_path = a.out or (HERE / "results" / "quick.json" if a.quick else HERE / "results.json")
    t_all = time.perf_counter()
    res = {"mode": "quick" if a.quick else "full", "machine": machine(), "items": {}}
    items = res["items"]

    print("items 1-2: engine vs naive loop, batched vs one by one", flush=True)
    eng = run_engine_bench(sizes["engine"], a.quick)
    if "error" in eng:
        items["1_engine_vs_naive"] = items["2_batched_vs_one_by_one"] = eng
    else:
        sysd = eng["system"]
        per_sr, ratios = eng["seconds_per_scenario_round"], eng["ratios"]
        items["1_engine_vs_naive"] = {
            "measured": ratios["engine_vs_naive"],
            "baseline": "competent per-institution loop (benchmarks/naive_loop.py)",
            "same_scenarios_one_at_a_time": ratios["engine_vs_naive_same_scenarios"],
            "per_institution_loop_ms_per_scenario_round": per_sr["naive"] * 1e3,
            "engine_batched_ms_per_scenario_round": per_sr["batched"] * 1e3,
            "size": f"{sysd['institutions']} x {sysd['assets']}, {sysd['scenarios']} scenarios, 20 rounds max",
            "naive_subset": eng["timings_seconds"]["c_naive_loop"]["scenarios"],
            "cross_check": eng["naive_vs_engine"]}
        if "naive_dense" in per_sr:
            items["1_engine_vs_naive"]["dense_naive_loop"] = {
                "label": "dense naive loop (not a competent baseline)",
                "ms_per_scenario_round": per_sr["naive_dense"] * 1e3,
                "engine_vs_it": ratios["engine_vs_dense_naive_loop"],
                "its_time_over_competent_loop": ratios["competent_vs_dense_naive_loop"],
                "cross_check": eng["dense_naive_vs_engine"]}
        items["2_batched_vs_one_by_one"] = {
            "measured": eng["ratios"]["batched_vs_one_at_a_time"],
            "seconds_batched": eng["timings_seconds"]["a_batched"]["best"],
            "seconds_one_by_one": eng["timings_seconds"]["b_one_at_a_time"]["best"],
            "size": f"{sysd['institutions']} x {sysd['assets']}, {sysd['scenarios']} scenarios",
            "peak_rss_mib": eng["peak_rss_mib"]}
    preset = run_child("batch_preset", "dealer_groups", sizes["preset_one_by_one"])
    items["2b_batched_vs_one_by_one_preset"] = dict(preset, measured=preset.get("ratio"))

    print("items 3 and 6: scale series", flush=True)
    n_big, k_big, d_big, s_big = sizes["big"]
    growth = []
    for n in sizes["growth"]:
        k = max(20, n // 10)
        d = min(1.0, 20.0 / k)
        growth.append(run_child("scale", n, k, d, s_big))
    # every round record, the per-position ones included
    big = run_child("scale", n_big, k_big, d_big, s_big, 20, 7, None, True)
    items["3_large_system"] = dict(big, measured=big.get("peak_rss_mib", float("nan")) / 1024.0)
    from firesale.sweep import SUMMARY_VARIABLES

    lean = run_child("scale", n_big, k_big, d_big, s_big, 20, 7, list(SUMMARY_VARIABLES))
    items["3b_large_system_sweep_records"] = dict(lean, measured=lean.get("peak_rss_mib", float("nan")) / 1024.0)
    ok = [g for g in growth if "error" not in g]
    nnz = [g["nnz"] for g in ok]
    dense = [g["institutions"] * g["assets"] for g in ok]
    items["6_growth"] = {
        "measured": len(ok),
        "points": [{key: g[key] for key in ("institutions", "assets", "density", "nnz", "seconds_per_round",
                                              "peak_rss_mib", "step_calls")} | {"system_build_s": g["seconds"]["system_build"]}
                   for g in ok],
        "fit_seconds_per_round_vs_nnz": linfit(nnz, [g["seconds_per_round"] for g in ok]) if len(ok) > 1 else None,
        "fit_peak_rss_vs_nnz": linfit(nnz, [g["peak_rss_mib"] for g in ok]) if len(ok) > 1 else None,
        "fit_peak_rss_vs_n_times_k": linfit(dense, [g["peak_rss_mib"] for g in ok]) if len(ok) > 1 else None,
        "errors": [g for g in growth if "error" in g],
    }

    print("item 4: round kernel bandwidth", flush=True)
    bw = run_child("bandwidth", *sizes["bandwidth"], 6, 7, a.round_step)
    items["4_bandwidth_fraction"] = dict(bw, measured=bw.get("fraction"))

    print("item 5: Monte Carlo sweep, Dask LocalCluster(2) vs serial", flush=True)
    sw = run_child("sweep", sizes["sweep"])
    items["5_dask_vs_serial"] = dict(sw, measured=sw.get("ratio"))

    print("items 4c, 7-10: the compiled round (numba) vs the numpy reference", flush=True)
    items.update(compiled_items(sizes))

    for key, (op, target, unit) in TARGETS.items():
        m = items[key].get("measured")
        items[key]["target"] = f"{op} {target:g}{unit}"
        items[key]["met"] = None if m is None else bool(m >= target if op == ">=" else m <= target)
    res["machine"]["load_average_end"] = list(os.getloadavg())
    res["total_seconds"] = time.perf_counter() - t_all
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(res, indent=2, default=float))
    table = markdown_table(res)
    print(table)
    print(f"results written to {out_path} ({res['total_seconds']:.0f} s)")
    if not a.quick and not a.no_doc:
        write_docs(res)
    return res


def write_docs(res: dict) -> None:
    """The tables of docs/performance.md and of the README, between their markers, from a
    full run's results (``--docs-only`` rewrites them from ``benchmarks/results.json``)."""
    for path, begin, end, table in ((DOC, BEGIN, END, markdown_table(res)),
                                    (README, README_BEGIN, README_END, readme_table(res))):
        text = path.read_text()
        if begin in text and end in text:
            head, rest = text.split(begin, 1)
            path.write_text(head + begin + "\n" + table + "\n" + end + rest.split(end, 1)[1])
            print(f"table written to {path}")


def readme_table(res: dict) -> str:
    """The README's summary of a full run: each item's headline figure against its target."""
    it, m = res["items"], res["machine"]
    lines = [f"Latest full run ({m['cpu_count']}-core {m['cpu_model']}, {res['total_seconds']:.0f} s):", "",
             "| item | measured | target |", "|---|---|---|"]

    def x(ratio: float) -> str:
        return f"{ratio:.1f}×"

    i1, i7 = it["1_engine_vs_naive"], it["7_compiled_vs_loop"]
    lines.append(f"| engine vs a competent per-institution loop, 1,000 × 200: numpy / compiled (1 thread) | "
                 f"{x(i1['measured'])} / {x(i7['compiled_vs_loop'])} | ≥ 100× / ≥ 30× |")
    i2, i2b = it["2_batched_vs_one_by_one"], it["2b_batched_vs_one_by_one_preset"]
    lines.append(f"| {i2b['scenarios']} scenarios batched vs one by one: `{i2b['preset']}` / 1,000 × 200 | "
                 f"{x(i2b['ratio'])} / "
                 f"{x(i2['measured'])} | ≥ 10× |")
    i3, i3b = it["3_large_system"], it["3b_large_system_sweep_records"]
    lines.append(f"| peak memory, 20,000 × 2,000 at 1%, 16 scenarios: a sweep's records / every record, per position "
                 f"too | "
                 f"{i3b['measured']:.2f} / {i3['measured']:.2f} GiB | ≤ 2 GiB |")
    i4, i4c = it["4_bandwidth_fraction"], it["4c_bandwidth_compiled"]
    lines.append(f"| round bandwidth / copy bandwidth, minimum bytes: numpy / compiled | {i4['fraction']:.1%} / "
                 f"{i4c['fraction']:.1%} | ≥ 25% |")
    i8 = it["8_inet_single_call"]
    lines.append(f"| one `simulate` call on `inet_eba2018`, median | {i8['measured_ms']:.2f} ms | ≤ 1 ms |")
    i9, i10 = it["9_inet_batch_8192"], it["10_presets_1024"]
    presets = " / ".join(f"{x(p['ratio'])}" for p in i10["presets"].values()) if "presets" in i10 else "-"
    lines.append(f"| compiled ({_threads(i9)}) vs numpy (1 thread): 8,192 `inet_eba2018` scenarios / 1,024 of "
                 f"`dealer_groups`, `march_2020` | {x(i9['ratio'])} / {presets} | ≥ 20× / ≥ 10× |")
    i5 = it["5_dask_vs_serial"]
    lines.append(f"| 10,000-scenario Monte Carlo, `LocalCluster(2)` vs serial | {i5['ratio']:.2f}× | ≥ 1.6× |")
    fit = it["6_growth"]["fit_peak_rss_vs_nnz"]
    lines.append(f"| memory growth vs positions held, 1,000 to 20,000 institutions | R² {fit['r2']:.3f} | linear |")
    return "\n".join(lines)


def markdown_table(res: dict) -> str:
    it, m = res["items"], res["machine"]
    lines = [(f"Machine: {m['cpu_model']}, {m['cpu_count']} cores, {m['ram_gib']:.0f} GiB RAM, Python "
              f"{m['python']}, numpy {m['numpy']}; mode {res['mode']}, {res['total_seconds']:.0f} s in all."), "",
             "| item | size | measured | target | met |", "|---|---|---|---|---|"]

    def row(label, size, value, item):
        met = item.get("met")
        lines.append(f"| {label} | {size} | {value} | {item.get('target', '-')} | "
                     f"{'-' if met is None else ('yes' if met else '**no**')} |")

    i1, i2, i3, i4, i5, i6 = (it[k] for k in ("1_engine_vs_naive", "2_batched_vs_one_by_one", "3_large_system",
                                                "4_bandwidth_fraction", "5_dask_vs_serial", "6_growth"))
    fmt = lambda v, f: "error" if v is None else format(v, f)
    dense = i1.get("dense_naive_loop")
    row("1 engine vs per-institution loop (per scenario-round)", i1.get("size", "-"),
        fmt(i1.get("measured"), ".1f") + "x" + (f" ({dense['engine_vs_it']:.1f}x vs the {dense['label']})"
                                                if dense else ""), i1)
    row("2 batched vs one by one", i2.get("size", "-"), fmt(i2.get("measured"), ".1f") + "x", i2)
    i2b = it["2b_batched_vs_one_by_one_preset"]
    if "error" not in i2b:
        row("2 batched vs one by one, narrative scale", f"{i2b['preset']} ({i2b['institutions']} x {i2b['assets']}), "
            f"{i2b['scenarios']} scenarios", f"{i2b['ratio']:.1f}x", i2b)
    for label, item in (("3 peak RSS, every round record, per position too", i3),
                        ("3 peak RSS, a sweep's records", it["3b_large_system_sweep_records"])):
        if "error" in item:
            row(label, "-", "error", item)
            continue
        row(label, f"{item['institutions']} x {item['assets']}, d={item['density']:g}, {item['scenarios']} scen.",
            f"{item['measured']:.2f} GiB ({item['records_mib']:.0f} MiB of records)", item)
    if "error" not in i3:
        lines.append(f"| 3 seconds per round | same | {i3['seconds_per_round']:.3f} s | - | - |")
    if "error" not in i4:
        row("4 kernel bandwidth / copy bandwidth", f"{i4['institutions']} x {i4['assets']}, d={i4['density']:g}, "
            f"{i4['scenarios']} scen.", f"{i4['fraction']:.1%} ({i4['kernel_gb_s']:.2f} / {i4['copy_gb_s']:.2f} GB/s)",
            i4)
        lines.append(f"| 4 same, bytes the round actually touches | {i4['bytes_touched_per_round'] / 1e6:.0f} MB a "
                     f"round, {i4['bytes_touched_over_minimum']:.1f}x the minimum {i4['bytes_per_round'] / 1e6:.0f} "
                     f"MB | {i4['fraction_touched']:.1%} ({i4['kernel_gb_s_touched']:.2f} GB/s) | - | - |")
    if "error" not in i5:
        row("5 Dask LocalCluster(2) vs serial", f"{i5['scenarios']} MC scen., {i5['preset']}",
            f"{i5['ratio']:.2f}x ({i5['seconds_serial']:.1f} s / {i5['seconds_dask']:.1f} s; "
            f"{i5['ratio_including_cluster_start']:.2f}x with cluster start)", i5)
    ft, fm, fd = i6["fit_seconds_per_round_vs_nnz"], i6["fit_peak_rss_vs_nnz"], i6["fit_peak_rss_vs_n_times_k"]
    if ft:
        lines.append(f"| 6 time/round vs nnz | {len(i6['points'])} sizes | R^2 {ft['r2']:.3f} | linear | - |")
        lines.append(f"| 6 peak RSS vs nnz | same | R^2 {fm['r2']:.3f} (vs N*K: {fd['r2']:.3f}) | linear | - |")
    compiled_rows(it, row)
    if "error" not in i3 and "error" not in it["3b_large_system_sweep_records"]:
        stages, lean = i3["rss_mib_by_stage"], it["3b_large_system_sweep_records"]
        lines += ["", f"Resident memory of item 3 by stage ({i3['institutions']:,} × {i3['assets']:,}, "
                      f"{i3['nnz']:,} positions, {i3['scenarios']} scenarios, {i3['max_rounds']} rounds):", "",
                  "| stage | resident memory |", "|---|---|",
                  f"| Python, numpy, xarray imported | {stages['start']['VmRSS']:,.0f} MiB |",
                  f"| System generated and validated (peak while building: {stages['system_built']['VmHWM']:,.0f} "
                  f"MiB) | {stages['system_built']['VmRSS']:,.0f} MiB |",
                  f"| engine arrays (`Inputs`, scenarios) | {stages['engine_arrays']['VmRSS']:,.0f} MiB |",
                  f"| after the run, every round record kept, per position too | {stages['simulated']['VmRSS']:,.0f} "
                  f"MiB (records: {i3['records_mib']:,.0f} MiB; {i3['records_mib_if_dense']:,.0f} MiB if every "
                  f"record were dense) |",
                  f"| after the run, a sweep's records kept | {lean['rss_mib_by_stage']['simulated']['VmRSS']:,.0f} "
                  f"MiB (records: {lean['records_mib']:,.0f} MiB) |"]
    lines += ["", "| institutions | assets | density | nnz | s / round | peak RSS MiB | System build s |",
              "|---|---|---|---|---|---|---|"]
    for p in i6["points"]:
        lines.append(f"| {p['institutions']} | {p['assets']} | {p['density']:g} | {p['nnz']} | "
                     f"{p['seconds_per_round']:.4f} | {p['peak_rss_mib']:.0f} | {p['system_build_s']:.1f} |")
    return "\n".join(lines)


def compiled_rows(it: dict, row) -> None:
    """The table rows of items 4c and 7-10 (the compiled round)."""
    def x(ratio: float) -> str:  # ratios below 1 (compiled slower) keep two decimals
        return f"{ratio:.1f}x" if ratio >= 1 else f"{ratio:.2f}x"

    i4c, i7, i8, i9, i10 = (it.get(k, {"error": "not run"}) for k in (
        "4c_bandwidth_compiled", "7_compiled_vs_loop", "8_inet_single_call", "9_inet_batch_8192", "10_presets_1024"))
    if "error" in i4c:
        row("4c kernel bandwidth, compiled kernels", "-", "error", i4c)
    else:
        row("4c kernel bandwidth, compiled round (1 thread; minimum bytes, a lower bound of the bytes touched)",
            f"{i4c['institutions']} x {i4c['assets']}, d={i4c['density']:g}, {i4c['scenarios']} scen.",
            f"{i4c['fraction']:.1%} ({i4c['seconds_per_round'] * 1e3:.0f} ms a round)", i4c)
    if "error" in i7:
        row("7 compiled engine vs per-institution loop", "-", "error", i7)
    else:
        z, ms = i7["size"], i7["ms_per_scenario_round"]
        row("7 compiled engine vs per-institution loop (per scenario-round, 1 thread)",
            f"{z['institutions']} x {z['assets']}, {z['scenarios']} scen., {z['max_rounds']} rounds max",
            f"{x(i7['compiled_vs_loop'])} ({ms['compiled_engine']:.2f} vs {ms['per_institution_loop']:.1f} ms; "
            f"numpy engine {x(i7['numpy_vs_loop'])})", i7)
    if "error" in i8:
        row("8 one simulate() call", "-", "error", i8)
    else:
        split = i8["split"].get("numpy", {})
        engine, rest = split.get("engine_ms", float("nan")), split.get("rest_ms", float("nan"))
        row("8 one simulate() call, median", f"{i8['preset']} ({i8['institutions']} x {i8['assets']}), "
            f"{i8['calls']} calls", f"{i8['measured_ms']:.2f} ms (numpy engine {engine:.2f} + rest {rest:.2f}; "
            f"compiled engine {i8['medians']['engine_numba']['median_ms']:.2f})", i8)
    if "error" in i9:
        row("9 batch, compiled vs numpy", "-", "error", i9)
    else:
        row("9 batch, compiled vs numpy (numpy on 1 thread), best of 3", f"{i9['preset']}, {i9['scenarios']} MC variants",
            f"{x(i9['ratio'])} on {_threads(i9)} ({i9['seconds_compiled']:.2f} s vs {i9['seconds_numpy']:.2f} s); "
            f"{_one_thread(i9)}", i9)
    parts = [f"{name} " + (f"{x(p['ratio'])} on {_threads(p)}, {_one_thread(p)}" if "ratio" in p else "error")
             for name, p in i10.get("presets", {}).items()]
    done = [p for p in i10.get("presets", {}).values() if "scenarios" in p]
    size = (f"{done[0]['scenarios']} MC variants each, {' and '.join(str(p['max_rounds']) for p in done)} rounds max"
            if done else "-")
    row("10 presets, compiled vs numpy (numpy on 1 thread), every mechanism, best of 3", size, "; ".join(parts) or "error", i10)


def _threads(item: dict) -> str:
    """The threads a compiled batch ran on: a chunk per thread (numba's thread count)."""
    threads = item.get("numba_num_threads", 1)
    return f"{threads} thread{'s' if threads != 1 else ''}"


def _one_thread(item: dict) -> str:
    """The same batch's ratio with the compiled kernels on one thread."""
    one = item.get("ratio_one_thread")
    return "-" if one is None else f"{one:.1f}x on 1 thread"


if __name__ == "__main__":
    main()
