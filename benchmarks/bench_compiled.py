"""Children of ``benchmarks/run_all.py`` that measure the compiled round (issue 18).

Each function here runs in a fresh child process of ``run_all.py`` (``--child NAME``) and
returns a JSON-able dict; ``run_all.py`` adds the target and whether it is met.

* :func:`child_compiled_vs_loop` (item ``7_compiled_vs_loop``): the engine with the
  compiled kernels (``kernels="numba"``) vs the competent per-institution loop
  (``naive_loop.py``) and vs the numpy engine, in ms per scenario-round, on
  ``bench_engine.build_system`` with ``run_all.scenarios_for`` scenarios;
* :func:`child_bandwidth_compiled` (item ``4c_bandwidth_compiled``): item 4's
  ``child_bandwidth`` with the compiled kernels;
* :func:`child_inet_single_call` (item ``8_inet_single_call``): the median time of one
  ``firesale.simulate(system, scenario)`` call on ``inet_eba2018``, and its engine share;
* :func:`child_preset_batch` (items ``9_inet_batch_8192`` and ``10_presets_1024``): many
  Monte Carlo variants of a preset's shock in one ``simulate_arrays`` call, compiled vs
  numpy, best of 3.

Work is counted as in ``bench_engine.py``: a *scenario-round* is a round a scenario steps
through before its stop, the stop round included. The steps of each scenario are read off
the batch's ``eventful`` record with the engine's stop rule (a scenario stops after the
first round with nothing eventful and no shock ahead, or at ``max_rounds``;
:func:`scenario_steps`), and checked against the per-institution loop's own step counts
on its subset.

Threads: numba reads ``NUMBA_NUM_THREADS`` when it is imported, so each child sets it
(:func:`set_numba_threads`) before anything imports numba; ``None`` leaves numba's
default (one thread per core). Every child warms numba up with one small call before any
timing and records that call apart (``warm_up``: compile, or load from numba's on-disk
cache, whichever happened), together with the load average at its start and end. One
BLAS thread throughout, as in ``bench_engine.py``.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import dataclasses
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

#: What the tracer of item 4 cannot see once the kernels are compiled.
UNTRACED_NOTE = ("bytes read and written inside the compiled kernels are not seen by the tracer (bytes_touched.py "
                 "counts numpy calls only): bytes_touched_per_round and fraction_touched cover the numpy calls "
                 "around the kernels, a lower bound of the traffic; fraction (minimum bytes) is the one to compare "
                 "with item 4")
#: Environment variables that change how numba's threads wait and which layer runs them:
#: under OpenMP (``omp``) idle threads spin by default, which on a loaded machine with as
#: many threads as cores takes the cores from the thread doing the work.
THREADING_ENV = ("NUMBA_THREADING_LAYER", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")


# --------------------------------------------------------------------------- helpers
def set_numba_threads(threads: int | None) -> None:
    """Set ``NUMBA_NUM_THREADS`` for this process (``None``: numba's default, one per core).

    Must run before numba is imported: numba reads the variable once, at import.
    """
    if "numba" in sys.modules:
        raise RuntimeError("numba is already imported: set NUMBA_NUM_THREADS before importing firesale.engine.compiled")
    if threads is None:
        os.environ.pop("NUMBA_NUM_THREADS", None)
    else:
        os.environ["NUMBA_NUM_THREADS"] = str(int(threads))


def numba_context() -> dict[str, Any]:
    """numba's version, thread count, threading layer and the variables that steer it; the
    cores; and ``compilations_after_warm_up``: kernels compiled since the warm-up (0 when
    no timing included a compilation)."""
    import numba

    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        layer = None
    return {"numba": numba.__version__, "numba_num_threads": int(numba.config.NUMBA_NUM_THREADS),
            "numba_threads_used": int(numba.get_num_threads()), "threading_layer": layer,
            "threading_env": {var: os.environ.get(var) for var in THREADING_ENV},
            "cpu_count": os.cpu_count(),
            "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "compilations_after_warm_up": _cache_stats()["cache_misses"] - _WARM_MISSES[0]}


_WARM_MISSES = [0]  # compilations up to the end of the warm-up


def _cache_stats() -> dict[str, int]:
    """Cache hits and misses (compilations) so far of the compiled module's kernels."""
    import firesale.engine.compiled as compiled
    from numba.core.registry import CPUDispatcher

    hits = misses = 0
    for value in vars(compiled).values():
        if isinstance(value, CPUDispatcher):
            hits += sum(value.stats.cache_hits.values())
            misses += sum(value.stats.cache_misses.values())
    return {"cache_hits": hits, "cache_misses": misses}


def warm_up(inputs, scen, detail: bool = False) -> dict[str, Any]:
    """Import the compiled kernels and run one small batch (the first two scenarios) through
    them, all its rounds in one call and a round a call (``load_kernels``), then once more as
    the timed runs call them, timed apart from any measurement: numba compiles each kernel,
    or loads it from its on-disk cache, on first use. The numpy engine runs the same batch
    once too."""
    from firesale.engine.simulate import simulate_arrays

    t0 = time.perf_counter()
    from firesale.engine.kernels import kernels_named

    kernels_named("numba")
    t_import = time.perf_counter() - t0
    from firesale.engine.compiled import load_kernels

    small = scen.take(np.arange(min(2, scen.switches.shape[0])))
    t0 = time.perf_counter()
    # a large chunk steps a round a call, a small one runs its rounds in one call: both loaded
    load_kernels(inputs, small)
    simulate_arrays(inputs, small, detail=detail, kernels="numba")
    t_first = time.perf_counter() - t0
    simulate_arrays(inputs, small, detail=detail, kernels="numpy")
    stats = _cache_stats()
    _WARM_MISSES[0] = stats["cache_misses"]
    how = "compiled" if stats["cache_misses"] else ("loaded from numba's cache" if stats["cache_hits"] else "none")
    return {"import_seconds": t_import, "first_call_seconds": t_first, "how": how, **stats,
            "what": "import of firesale.engine.compiled (numba included) and the first simulate_arrays call with "
                    "kernels='numba' on 2 scenarios, its rounds in one call and a round a call; not part of any timing"}


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, list[float], Any]:
    """Best of ``repeat`` wall times (``time.perf_counter``), all the times, the last result."""
    times, out = [], None
    for _ in range(repeat):
        out = None  # let the previous result go before the next run
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), times, out


def cpu_use(fn: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    """``fn()`` and its wall and process CPU seconds: CPU / wall above the threads used
    means other processes did not take the cores; below, they did (or the work is serial)."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, {"wall_seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}


def rel_diff(a: np.ndarray, b: np.ndarray, floor: float) -> float:
    """:math:`\\max |a - b| / \\max(|b|, \\text{floor})`, 0 for empty arrays."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), floor))) if a.size else 0.0


def scenario_steps(eventful: np.ndarray, last_shock_round: np.ndarray, max_rounds: np.ndarray) -> np.ndarray:
    """Rounds each scenario stepped through, its stop round included, shape (S,).

    The engine's stop rule (``firesale.engine.round._still_active``): after round ``t`` a
    scenario goes on while the round was eventful or a shock is still to come
    (``t + 1 <= last_shock_round``), and ``t + 1 < max_rounds``. So it steps through
    rounds ``0 .. t*``, with ``t*`` the first round that is quiet with no shock ahead, or
    ``max_rounds - 1``.
    """
    t = np.arange(eventful.shape[1])[None, :]
    stops = (~eventful.astype(bool) & (t >= last_shock_round[:, None])) | (t + 1 >= max_rounds[:, None])
    stops[:, -1] = True  # the longest scenario's last step
    return np.argmax(stops, axis=1) + 1


def load_start() -> list[float]:
    return list(os.getloadavg())


def preset_variants(preset: str, n_variants: int, seed: int = 1, max_rounds: int | None = None):
    """The preset's system and ``n_variants`` Monte Carlo variants of its scenario: each
    price shock scaled by a factor drawn from U(0.5, 1.5) (``numpy.random.default_rng(seed)``,
    one draw per shock and variant), as item 2b of ``run_all.py``; ``max_rounds`` (a smoke
    run) caps the rounds, though never before the last shock's round; default as the
    preset ships."""
    from firesale import load_preset

    loaded = load_preset(preset)
    rng = np.random.default_rng(seed)
    base = [shock.model_dump(exclude_none=True) for shock in loaded.scenario.shocks]
    priced = [i for i, shock in enumerate(base) if "price" in shock]
    factors = rng.uniform(0.5, 1.5, size=(n_variants, len(priced)))
    last_shock = max((shock.get("round", 0) for shock in base), default=0)
    cap = None if max_rounds is None else min(max(max_rounds, last_shock + 1), loaded.scenario.max_rounds)
    scenarios = []
    for s in range(n_variants):
        shocks = [dict(shock) for shock in base]
        for i, factor in zip(priced, factors[s]):
            shocks[i]["price"] *= float(factor)
        extra = {} if cap is None else {"max_rounds": cap}
        scenarios.append(loaded.scenario.updated(name=f"v{s:05d}", shocks=shocks, **extra))
    return loaded, scenarios, len(priced)


# --------------------------------------------------------------------------- item 7
def child_compiled_vs_loop(n: int, k: int, n_scen: int, max_rounds: int = 20, repeat: int = 2,
                           naive_scenarios: int = 4, threads: int | None = 1, seed: int = 20240611) -> dict:
    """Item 7: ms per scenario-round of the compiled engine (all ``n_scen`` scenarios in one
    batch), of the numpy engine (same batch, same process) and of the competent
    per-institution loop (``naive_loop.simulate_naive`` on the first ``naive_scenarios``),
    best of ``repeat`` each; ratios, and the compiled engine's results against the numpy
    engine's and the loop's."""
    set_numba_threads(threads)
    start = load_start()
    from bench_engine import build_system
    from naive_loop import simulate_naive
    from run_all import scenarios_for

    from firesale.engine.simulate import simulate_arrays
    from firesale.engine.state import Inputs, ScenarioArrays

    t0 = time.perf_counter()
    system = build_system(n, k, seed)
    scen_list = scenarios_for(system, n_scen, max_rounds)
    inputs = Inputs.from_system(system)
    scen = ScenarioArrays.from_scenarios(system, scen_list)
    t_setup = time.perf_counter() - t0
    subset = list(range(min(naive_scenarios, n_scen)))
    warm = warm_up(inputs, scen)
    simulate_naive(inputs, dataclasses.replace(scen.take(np.arange(1)), max_rounds=np.array([1])))  # warm-up

    (t_naive, runs_naive, naive), cpu_naive = cpu_use(lambda: best_of(lambda: simulate_naive(inputs, scen, subset),
                                                                       repeat))
    (t_numpy, runs_numpy, ref), cpu_numpy = cpu_use(lambda: best_of(
        lambda: simulate_arrays(inputs, scen, detail=False, kernels="numpy"), repeat))
    (t_numba, runs_numba, fast), cpu_numba = cpu_use(lambda: best_of(
        lambda: simulate_arrays(inputs, scen, detail=False, kernels="numba"), repeat))

    steps = scenario_steps(ref.records["eventful"], scen.last_shock_round, scen.max_rounds)
    steps_fast = scenario_steps(fast.records["eventful"], scen.last_shock_round, scen.max_rounds)
    sr_all, sr_subset = int(steps.sum()), int(steps[subset].sum())
    per_sr = {"per_institution_loop": t_naive / sr_subset, "numpy_engine": t_numpy / sr_all,
              "compiled_engine": t_numba / sr_all}
    scale = float(system.total_assets0.sum())
    eq_floor = 1e-6 * scale / n
    return {
        "size": {"institutions": n, "assets": k, "scenarios": n_scen, "max_rounds": max_rounds,
                 "nnz": int(inputs.n_entries),
                 "scenarios_from": "run_all.scenarios_for (2-8% price shocks on 3-15 risky assets, balance-sheet "
                                   "mechanism, information channel and dealer intermediation off)",
                 "system_from": f"bench_engine.build_system(n, k, seed={seed})"},
        "ms_per_scenario_round": {key: 1e3 * v for key, v in per_sr.items()},
        "compiled_vs_loop": per_sr["per_institution_loop"] / per_sr["compiled_engine"],
        "numpy_vs_loop": per_sr["per_institution_loop"] / per_sr["numpy_engine"],
        "compiled_vs_numpy": t_numpy / t_numba,
        "seconds": {"per_institution_loop": t_naive, "numpy_engine": t_numpy, "compiled_engine": t_numba,
                    "setup": t_setup},
        "runs_seconds": {"per_institution_loop": runs_naive, "numpy_engine": runs_numpy, "compiled_engine": runs_numba},
        "cpu_seconds_all_runs": {"per_institution_loop": cpu_naive["cpu_seconds"],
                                 "numpy_engine": cpu_numpy["cpu_seconds"], "compiled_engine": cpu_numba["cpu_seconds"]},
        "repeat": repeat, "loop_subset": subset,
        "scenario_rounds": {"all": sr_all, "loop_subset": sr_subset, "steps_median": float(np.median(steps)),
                            "hit_max_rounds": int((steps >= scen.max_rounds).sum()),
                            "batch_step_calls": int(ref.n_rounds)},
        "steps_check": {"loop_steps_equal_stop_rule": bool(np.array_equal(naive.steps, steps[subset])),
                        "compiled_steps_equal_numpy": bool(np.array_equal(steps, steps_fast))},
        "cross_check": {
            "compiled_vs_numpy_max_rel_diff_equity": rel_diff(fast.final.equity, ref.final.equity, eq_floor),
            "compiled_vs_numpy_max_rel_diff_price": rel_diff(fast.final.price, ref.final.price, 1e-6),
            "compiled_vs_numpy_defaulted_equal": bool(np.array_equal(fast.final.defaulted, ref.final.defaulted)),
            "compiled_vs_loop_max_rel_diff_equity": rel_diff(fast.final.equity[subset], naive.equity, eq_floor),
            "compiled_vs_loop_max_rel_diff_price": rel_diff(fast.final.price[subset], naive.price, 1e-6),
            "floors": f"equity: 1e-6 x total assets / N = {eq_floor:.3g}; price: 1e-6",
        },
        "warm_up": warm, **numba_context(), "load_average_start": start, "load_average_end": load_start(),
    }


# --------------------------------------------------------------------------- item 4c
def child_bandwidth_compiled(n: int, k: int, density: float, n_scen: int, rounds: int = 6, seed: int = 7,
                             threads: int | None = 1) -> dict:
    """Item 4c: ``run_all.child_bandwidth`` with ``step(state, inputs, scen, t, kernels)``
    called with the compiled kernels, after a warm-up."""
    set_numba_threads(threads)
    start = load_start()
    from run_all import child_bandwidth, scenarios_for

    from firesale.data.synthetic import generate_system
    from firesale.engine.state import Inputs, ScenarioArrays

    system = generate_system(min(n, 200), min(k, 50), min(1.0, max(density, 0.1)), seed)
    inputs = Inputs.from_system(system)
    warm = warm_up(inputs, ScenarioArrays.from_scenarios(system, scenarios_for(system, 2, 20)))
    out = child_bandwidth(n, k, density, n_scen, rounds, seed, None, "numba")
    return {**out, "kernels": "numba", "bytes_touched_note": UNTRACED_NOTE,
            "fraction_minimum_bytes": out["fraction"], "fraction_traced_bytes": out["fraction_touched"],
            "warm_up": warm, **numba_context(), "load_average_start": start, "load_average_end": load_start()}


# --------------------------------------------------------------------------- item 8
def _median_ms(fn: Callable[[], Any], calls: int) -> tuple[float, float, float]:
    """Median, 10th and 90th percentile of ``calls`` timed calls, ms."""
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    q = np.quantile(times, [0.1, 0.9])
    return 1e3 * statistics.median(times), 1e3 * float(q[0]), 1e3 * float(q[1])


def child_inet_single_call(calls: int = 200, warmup: int = 20, threads: int | None = 1,
                           preset: str = "inet_eba2018") -> dict:
    """Item 8: after ``warmup`` calls, the median over ``calls`` calls of
    ``firesale.simulate(system, scenario)`` end to end, and of the engine alone
    (``simulate_arrays`` on arrays built once, with the ``detail`` that ``simulate``
    picks); the rest of a call = the difference of the medians. Numpy kernels, and the
    compiled ones wherever ``simulate`` takes ``kernels`` (the engine alone: both)."""
    set_numba_threads(threads)
    start = load_start()
    import inspect

    from firesale import load_preset, simulate
    from firesale.engine.simulate import simulate_arrays
    from firesale.engine.state import Inputs, ScenarioArrays
    from firesale.simulation import DETAIL_LIMIT

    loaded = load_preset(preset)
    system, scenario = loaded.system, loaded.scenario
    detail = system.n_institutions * system.n_assets <= DETAIL_LIMIT
    inputs = Inputs.from_system(system)
    arrays = ScenarioArrays.from_scenarios(system, [scenario])
    warm = warm_up(inputs, arrays, detail=detail)
    takes_kernels = "kernels" in inspect.signature(simulate).parameters
    calls_of = {"simulate_numpy": lambda: simulate(system, scenario),
                "engine_numpy": lambda: simulate_arrays(inputs, arrays, detail=detail, kernels="numpy"),
                "engine_numba": lambda: simulate_arrays(inputs, arrays, detail=detail, kernels="numba")}
    if takes_kernels:
        calls_of["simulate_numba"] = lambda: simulate(system, scenario, kernels="numba")
    medians = {}
    for name, fn in calls_of.items():
        for _ in range(warmup):
            fn()
        med, p10, p90 = _median_ms(fn, calls)
        medians[name] = {"median_ms": med, "p10_ms": p10, "p90_ms": p90}
    best = min(v["median_ms"] for key, v in medians.items() if key.startswith("simulate"))
    split = {kind: {"engine_ms": medians[f"engine_{kind}"]["median_ms"],
                    "rest_ms": medians[f"simulate_{kind}"]["median_ms"] - medians[f"engine_{kind}"]["median_ms"]}
             for kind in ("numpy", "numba") if f"simulate_{kind}" in medians}
    rounds = int(simulate_arrays(inputs, arrays, detail=detail).n_rounds)
    return {"preset": preset, "institutions": system.n_institutions, "assets": system.n_assets, "rounds": rounds,
            "detail": detail, "calls": calls, "warmup_calls": warmup, "simulate_takes_kernels": takes_kernels,
            "measured_ms": best, "medians": medians, "split": split,
            "split_how": "engine = median of simulate_arrays(inputs, arrays) on arrays built once; rest = median of "
                         "simulate(system, scenario) - engine (building arrays, checks, labelling the Dataset)",
            "warm_up": warm, **numba_context(), "load_average_start": start, "load_average_end": load_start()}


# --------------------------------------------------------------------------- items 9 and 10
def child_preset_batch(preset: str, n_variants: int, repeat: int = 2, threads: int | None = None,
                       seed: int = 1, max_rounds: int | None = None) -> dict:
    """Items 9 and 10: ``n_variants`` Monte Carlo variants of a preset's shock
    (:func:`preset_variants`, every mechanism as the preset ships; ``max_rounds`` caps
    the rounds of a smoke run) in one ``simulate_arrays(detail=False)`` call, compiled vs
    numpy in this process, best of ``repeat``; the two results compared."""
    set_numba_threads(threads)
    start = load_start()
    from firesale.engine.simulate import simulate_arrays
    from firesale.engine.state import Inputs, ScenarioArrays

    t0 = time.perf_counter()
    loaded, scenarios, n_priced = preset_variants(preset, n_variants, seed, max_rounds)
    inputs = Inputs.from_system(loaded.system)
    scen = ScenarioArrays.from_scenarios(loaded.system, scenarios)
    t_setup = time.perf_counter() - t0
    warm = warm_up(inputs, scen)
    (t_numpy, runs_numpy, ref), cpu_numpy = cpu_use(lambda: best_of(
        lambda: simulate_arrays(inputs, scen, detail=False, kernels="numpy"), repeat))
    (t_numba, runs_numba, fast), cpu_numba = cpu_use(lambda: best_of(
        lambda: simulate_arrays(inputs, scen, detail=False, kernels="numba"), repeat))
    # the same batch with the compiled kernels on one thread
    t_one, runs_one, one = best_of(lambda: simulate_arrays(inputs, scen, detail=False, kernels="numba", threads=1),
                                   repeat)
    steps = scenario_steps(ref.records["eventful"], scen.last_shock_round, scen.max_rounds)
    scale = float(loaded.system.total_assets0.sum())
    eq_floor = 1e-6 * scale / loaded.system.n_institutions
    switches = loaded.scenario.model_dump(include={"channels", "market"})
    return {
        "preset": preset, "institutions": loaded.system.n_institutions, "assets": loaded.system.n_assets,
        "nnz": int(inputs.n_entries), "scenarios": n_variants, "price_shocks_scaled": n_priced,
        "max_rounds": int(scen.max_rounds.max()),
        "variants_how": f"each price shock x U(0.5, 1.5), default_rng({seed}), one draw per shock and variant",
        "mechanisms_as_shipped": switches,
        "ratio": t_numpy / t_numba, "seconds_numpy": t_numpy, "seconds_compiled": t_numba,
        "ratio_one_thread": t_numpy / t_one, "seconds_compiled_one_thread": t_one,
        "compiled_threads_how": "simulate_arrays(kernels='numba') runs the batch's chunks on numba's thread count "
                                "(NUMBA_NUM_THREADS, one a core by default); the one-thread run passes threads=1",
        "one_thread_equals_threads": bool(all(np.array_equal(np.asarray(one.records[k]), np.asarray(fast.records[k]),
                                                             equal_nan=True) for k in fast.records)),
        "runs_seconds": {"numpy": runs_numpy, "compiled": runs_numba, "compiled_one_thread": runs_one},
        "repeat": repeat, "setup_seconds": t_setup,
        "cpu_seconds_all_runs": {"numpy": cpu_numpy["cpu_seconds"], "compiled": cpu_numba["cpu_seconds"]},
        "scenario_rounds": int(steps.sum()), "batch_step_calls": int(ref.n_rounds),
        "ms_per_scenario_round": {"numpy": 1e3 * t_numpy / steps.sum(), "compiled": 1e3 * t_numba / steps.sum()},
        "cross_check": {"max_rel_diff_equity": rel_diff(fast.final.equity, ref.final.equity, eq_floor),
                        "max_rel_diff_price": rel_diff(fast.final.price, ref.final.price, 1e-6),
                        "rounds_equal": bool(np.array_equal(fast.rounds, ref.rounds))},
        "warm_up": warm, **numba_context(), "load_average_start": start, "load_average_end": load_start(),
    }


#: ``run_all.py --child NAME`` entries.
CHILDREN = {"compiled_vs_loop": child_compiled_vs_loop, "bandwidth_compiled": child_bandwidth_compiled,
            "inet_single_call": child_inet_single_call, "preset_batch": child_preset_batch}
