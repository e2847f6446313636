#!/usr/bin/env python
"""Benchmark of the batched engine against one-at-a-time runs and a competent per-institution loop.

Usage::

    python benchmarks/bench_engine.py            # 1,000 institutions x 200 assets, 64 scenarios
    python benchmarks/bench_engine.py --quick    # a smoke run on a small system

What is measured, in one run of this script (``time.perf_counter``, fixed seeds, a warm-up
first, best of N runs; one BLAS thread unless ``OPENBLAS_NUM_THREADS`` is set):

(a) batched: all scenarios in one ``simulate_arrays(inputs, scen, detail=False)`` call;
(b) one at a time: the same scenarios through the same engine, one ``simulate_arrays``
    call per scenario (scenario arrays sliced beforehand, outside the clock);
(c) the per-institution loop (``benchmarks/naive_loop.py``), written competently: Python
    loops over scenarios, rounds and institutions, each institution working on its own
    positions only (the CSR pattern), skipping the constraint work when nothing binds,
    VaR over the desk's own correlation block, numpy over assets in the market. It runs a
    fixed subset of scenarios (the first ``--naive-scenarios``, one of each shock type)
    with their full rounds; the engine is also timed one at a time on exactly that subset;
(d) for comparison only, the dense naive loop (not a competent baseline)
    (``benchmarks/naive_loop_dense.py``: dense K-asset vectors per institution, every
    allocator called for every institution, VaR over the full K x K correlation, Python
    loops over assets) on the same subset (``--no-dense-loop`` skips it).
(optional) ``--chunks 4,16``: all scenarios in consecutive batches of those sizes.

Work is counted in *scenario-rounds*: the rounds each scenario steps through before its
stop (stop round included; ``max_rounds`` at most), taken from its one-at-a-time engine
run. Ratios:

* ``engine_vs_naive`` = (competent loop seconds per scenario-round on the subset) /
  (batched engine seconds per scenario-round on the whole batch) — the headline;
* ``engine_vs_naive_same_scenarios`` = competent loop seconds / engine one-at-a-time
  seconds on exactly the same subset scenarios (no normalisation needed);
* ``batched_vs_one_at_a_time`` = time (b) / time (a) on the whole batch;
* ``engine_vs_dense_naive_loop`` = as ``engine_vs_naive`` with the dense naive loop (not a
  competent baseline), and ``competent_vs_dense_naive_loop`` = dense / competent seconds on
  the subset: how much of the first ratio is the baseline being written badly.

Both loops' final states are also compared with the engine's on the subset (a
cross-check at scale), and every scenario's result in the batch with its result alone.
All numbers go to ``benchmarks/results/bench_engine.json``, with user/system CPU time and
page faults per phase and the process's peak RSS (``ru_maxrss``) after each phase.
"""

from __future__ import annotations

import os

# One BLAS thread unless the caller sets otherwise: on a small shared machine OpenBLAS's
# threads spin against other processes and the engine's VaR matmul gets 10-50x slower
# (measured: (1, 100, 200) @ (200, 200) 33 ms with 2 threads under load, 0.6 ms with 1).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import platform
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from naive_loop import simulate_naive  # noqa: E402
from naive_loop_dense import simulate_naive as simulate_naive_dense  # noqa: E402

from firesale import Scenario, System  # noqa: E402
from firesale.engine.simulate import simulate_arrays  # noqa: E402
from firesale.engine.state import Inputs, ScenarioArrays  # noqa: E402

SIZES = {
    "full": {"institutions": 1000, "assets": 200, "scenarios": 64},
    "quick": {"institutions": 100, "assets": 40, "scenarios": 8},
}
DEPTH_SCALE = 0.75  # multiplies every depth; lower is a thinner market and a longer cascade
TARGETS = {"engine_vs_naive": 50.0, "batched_vs_one_at_a_time": 5.0}
#: How the old loop is named wherever its figure is printed or recorded.
DENSE_LABEL = "dense naive loop (not a competent baseline)"

# asset class: share of assets, daily sigma0, depth as a multiple of the amount held by all
CLASS_MIX = {
    "treasury": (0.10, 0.004, 60.0),
    "agency_mbs": (0.15, 0.006, 12.0),
    "corporate_ig": (0.25, 0.008, 6.0),
    "corporate_hy": (0.20, 0.015, 3.0),
    "equity": (0.25, 0.020, 4.0),
    "other": (0.05, 0.010, 1.0),  # untradable
}
# institution type: share, liquidation policy
TYPE_MIX = {
    "dealer": (0.15, "pecking_order"),
    "var_desk": (0.10, "pecking_order"),
    "bank": (0.25, "pro_rata"),
    "hedge_fund": (0.10, "initial_weights"),
    "asset_manager": (0.25, "initial_weights"),
    "pension_fund": (0.15, "pro_rata"),
}


# --------------------------------------------------------------------------- system
def build_system(n: int, k: int, seed: int) -> System:
    """A random system: heavy-tailed sizes, 10-20% of assets held, SLR/leverage/VaR constraints."""
    rng = np.random.default_rng(seed)
    names = list(CLASS_MIX)
    counts = np.maximum(1, np.round(np.array([CLASS_MIX[c][0] for c in names]) * k).astype(int))
    counts[names.index("equity")] += k - counts.sum()
    classes = np.repeat(names, counts)
    sigma0 = np.array([CLASS_MIX[c][1] for c in classes]) * rng.lognormal(0, 0.25, k)
    tradable = classes != "other"

    # who holds what: popular assets (Treasuries most), 10-20% of assets per institution
    popularity = rng.lognormal(0.0, 1.0, k) * np.where(classes == "treasury", 3.0, 1.0)
    popularity /= popularity.sum()
    size = 2.0 * (1.0 + rng.pareto(1.3, n))  # total assets, Pareto tail
    kinds = rng.choice(list(TYPE_MIX), size=n, p=[v[0] for v in TYPE_MIX.values()])
    cash_share = rng.uniform(0.01, 0.08, n)
    held = np.zeros((n, k))
    for i in range(n):
        m = int(rng.integers(round(0.10 * k), round(0.20 * k) + 1))
        picks = rng.choice(k, size=m, replace=False, p=popularity)
        w = rng.lognormal(0.0, 1.0, m)
        held[i, picks] = size[i] * (1 - cash_share[i]) * w / w.sum()
    cash = size * cash_share
    trading = np.where(kinds[:, None] == "var_desk", rng.uniform(0.3, 1.0, (n, k)), rng.uniform(0.0, 0.3, (n, k)))

    market = held.sum(axis=0)
    depth = DEPTH_SCALE * np.array([CLASS_MIX[c][2] for c in classes]) * market * rng.lognormal(0, 0.3, k)
    assets = [
        {
            "name": f"asset{j:03d}",
            "class": str(classes[j]),
            "sigma0": float(sigma0[j]),
            "adv": float(0.05 * market[j]),
            "impact": "linear",
            "depth": float(depth[j]),
        }
        for j in range(k)
    ]
    # VaR correlation: 0.2 across all, 0.6 within a class (PSD by construction)
    same = classes[:, None] == classes[None, :]
    corr = 0.2 + 0.4 * same
    np.fill_diagonal(corr, 1.0)
    iu = np.triu_indices(k, 1)
    correlations = [
        {"asset_a": f"asset{a:03d}", "asset_b": f"asset{b:03d}", "correlation": float(corr[a, b])}
        for a, b in zip(*iu)
    ]

    from scipy.special import ndtri

    institutions, holdings = [], []
    for i in range(n):
        kind = str(kinds[i])
        inst = {
            "name": f"inst{i:04d}",
            "type": "dealer" if kind == "var_desk" else kind,
            "cash": float(cash[i]),
            "liquidation": TYPE_MIX[kind][1],
        }
        if kind in ("dealer", "bank", "var_desk"):
            eq = float(rng.uniform(0.055, 0.09))
        elif kind == "hedge_fund":
            eq = float(rng.uniform(0.10, 0.25))
        else:
            eq = float(rng.uniform(0.6, 0.95))
        inst["liabilities"] = float(size[i] * (1 - eq))
        if kind == "dealer":  # constant-leverage targeting (GLT 2015), SLR 5%
            inst.update(leverage_minimum=0.02, leverage_trigger=round(eq * 0.999, 8), leverage_target=round(eq, 8),
                        slr_minimum=0.03, slr_trigger=0.05, slr_target=0.055,
                        repay_with_cash=bool(rng.random() < 0.5))
        elif kind == "bank":  # SLR with a buffer, leverage floor
            inst.update(slr_minimum=0.03, slr_trigger=0.05, slr_target=0.06, leverage_minimum=0.025,
                        leverage_trigger=round(eq * 0.97, 8), leverage_target=round(eq, 8))
        elif kind == "hedge_fund":  # leverage targeting, small ones two-sided (Adrian-Shin)
            inst.update(leverage_minimum=0.03, leverage_trigger=round(eq * 0.995, 8), leverage_target=round(eq, 8),
                        leverage_targeting="two_sided" if size[i] < 4.0 else "sell_only")
        elif kind == "var_desk":
            book = held[i] * tradable * trading[i] * sigma0
            var0 = float(ndtri(0.99) * np.sqrt(book @ corr @ book))
            inst.update(var_limit=var0 * float(rng.uniform(1.0, 1.15)), var_confidence=0.99,
                        leverage_minimum=0.02, slr_minimum=0.03, slr_trigger=0.05, slr_target=0.055)
        institutions.append(inst)
        for j in np.flatnonzero(held[i]):
            holdings.append({"institution": inst["name"], "asset": assets[j]["name"],
                             "quantity": float(held[i, j]), "trading_fraction": float(trading[i, j])})
    return System.from_records(institutions, assets, holdings, correlations, name=f"bench_{n}x{k}")


def build_scenarios(system: System, n_scen: int, max_rounds: int, seed: int) -> list[Scenario]:
    """Different shocks: a few % off 3-15 risky assets, some with volatility jumps or a second wave."""
    rng = np.random.default_rng(seed + 1)
    risky = [a.name for a in system.assets if a.asset_class in ("agency_mbs", "corporate_ig", "corporate_hy", "equity")]
    out = []
    for s in range(n_scen):
        hit = rng.choice(risky, size=min(len(risky), int(rng.integers(3, 16))), replace=False)
        shocks = []
        for name in hit:
            shock = {"asset": str(name), "price": float(-rng.uniform(0.02, 0.08))}
            if s % 4 == 1:
                shock["volatility"] = float(rng.uniform(1.5, 3.0))
            shocks.append(shock)
        if s % 8 == 3:
            shocks.append({"asset": str(rng.choice(risky)), "price": -0.03, "round": 3})
        # the balance-sheet mechanism with outside buyers: what the naive loop implements
        out.append(Scenario(
            name=f"s{s:02d}", shocks=shocks, max_rounds=max_rounds,
            market={"mean_reversion": 0.02 if s % 4 == 2 else 0.0, "intermediation": False},
            channels={"information": False},
        ))
    return out


# --------------------------------------------------------------------------- helpers
def slice_scenarios(scen: ScenarioArrays, idx) -> ScenarioArrays:
    idx = np.atleast_1d(idx)
    return replace(scen, **{f: getattr(scen, f)[idx] for f in scen.__dataclass_fields__})


def maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


CPU = {}  # phase -> mean user/system CPU seconds and minor page faults per run


def timed(fn, repeat: int, phase: str):
    """Best of ``repeat`` wall times; the CPU use per run goes to ``CPU[phase]``."""
    times, out = [], None
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(repeat):
        out = None  # let the previous result go before the next run
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    CPU[phase] = {"user_s": (r1.ru_utime - r0.ru_utime) / repeat, "sys_s": (r1.ru_stime - r0.ru_stime) / repeat,
                  "minor_page_faults": (r1.ru_minflt - r0.ru_minflt) // repeat}
    return min(times), times, out


def rel_diff(a, b, floor):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), floor))) if a.size else 0.0


# --------------------------------------------------------------------------- main
def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--max-rounds", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=None, help="best of N for (a) (default 2, quick 3)")
    ap.add_argument("--repeat-one-at-a-time", type=int, default=None, help="best of N for (b) (default 2, quick 3)")
    ap.add_argument("--chunks", default="", help="also time all scenarios in batches of these sizes, e.g. 4,16 "
                    "(one run each; off by default)")
    ap.add_argument("--naive-scenarios", type=int, default=4,
                    help="the naive loop runs scenarios 0 .. N-1 (one of each shock type)")
    ap.add_argument("--repeat-naive", type=int, default=2, help="best of N for the naive loop")
    ap.add_argument("--no-dense-loop", action="store_true", help=f"do not time the {DENSE_LABEL}")
    ap.add_argument("--size", default="", help="INSTITUTIONS,ASSETS,SCENARIOS instead of the preset sizes, "
                    "e.g. 50,10,1024 for many scenarios on a small system")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "bench_engine.json")
    args = ap.parse_args(argv)
    size = SIZES["quick" if args.quick else "full"]
    if args.size:
        n_given, k_given, s_given = (int(x) for x in args.size.split(","))
        size = {**size, "institutions": n_given, "assets": k_given, "scenarios": s_given}
    repeat = args.repeat or (3 if args.quick else 2)
    repeat_b = args.repeat_one_at_a_time or (3 if args.quick else 2)
    repeat_subset = 3
    chunks = [int(c) for c in args.chunks.split(",") if c.strip()]
    repeat_naive = args.repeat_naive
    load_start = os.getloadavg()
    n, k, n_scen = size["institutions"], size["assets"], size["scenarios"]
    n_naive = min(args.naive_scenarios, n_scen)

    memory = {"start_mib": maxrss_mib()}
    t0 = time.perf_counter()
    system = build_system(n, k, args.seed)
    scenarios = build_scenarios(system, n_scen, args.max_rounds, args.seed)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    inputs = Inputs.from_system(system)
    scen = ScenarioArrays.from_scenarios(system, scenarios)
    singles = [slice_scenarios(scen, s) for s in range(n_scen)]
    t_arrays = time.perf_counter() - t0
    subset = list(range(n_naive))
    memory["after_setup_mib"] = maxrss_mib()
    print(f"system {system!r}: built in {t_build:.2f} s, arrays in {t_arrays:.2f} s", flush=True)

    # warm-up: imports, caches, BLAS threads, page faults (engine and naive loop)
    simulate_arrays(inputs, singles[0], detail=False)
    simulate_naive(inputs, replace(singles[0], max_rounds=np.array([1])))
    if not args.no_dense_loop:
        simulate_naive_dense(inputs, replace(singles[0], max_rounds=np.array([1])))

    # (c) the competent per-institution loop on the subset; the engine on the same scenarios
    t_naive, t_naive_all, naive = timed(lambda: simulate_naive(inputs, scen, subset), repeat_naive, "c_naive_loop")
    memory["after_naive_mib"] = maxrss_mib()
    print(f"(c) per-institution loop, scenarios {subset}: {t_naive:.2f} s (runs {[round(x, 2) for x in t_naive_all]})",
          flush=True)
    # (d) the dense naive loop, for comparison only
    dense = None
    if not args.no_dense_loop:
        t_dense, t_dense_all, dense = timed(lambda: simulate_naive_dense(inputs, scen, subset), repeat_naive,
                                            "d_dense_naive_loop")
        print(f"(d) {DENSE_LABEL}, scenarios {subset}: {t_dense:.2f} s (runs {[round(x, 2) for x in t_dense_all]})",
              flush=True)
    t_sub_single, t_sub_single_all, _ = timed(
        lambda: [simulate_arrays(inputs, singles[s], detail=False) for s in subset], repeat_subset, "engine_subset")

    # (b) one scenario at a time
    t_single, t_single_all, single_runs = timed(
        lambda: [simulate_arrays(inputs, sc, detail=False) for sc in singles], repeat_b, "b_one_at_a_time")
    memory["after_one_at_a_time_mib"] = maxrss_mib()
    print(f"(b) one at a time, {n_scen} scenarios: {t_single:.2f} s (runs {[round(x, 2) for x in t_single_all]})", flush=True)

    # (a) the whole batch in one call
    t_batch, t_batch_all, batch = timed(lambda: simulate_arrays(inputs, scen, detail=False), repeat, "a_batched")
    memory["after_batched_mib"] = maxrss_mib()
    print(f"(a) batched, {n_scen} scenarios: {t_batch:.2f} s (runs {[round(x, 2) for x in t_batch_all]})", flush=True)

    # optional: the same scenarios in batches of other sizes
    chunked = {}
    for size_c in chunks:
        parts = [slice_scenarios(scen, np.arange(c, min(c + size_c, n_scen))) for c in range(0, n_scen, size_c)]
        t0 = time.perf_counter()
        for part in parts:
            simulate_arrays(inputs, part, detail=False)
        chunked[str(size_c)] = time.perf_counter() - t0
        print(f"    batches of {size_c}: {chunked[str(size_c)]:.2f} s", flush=True)
    memory["after_chunks_mib"] = maxrss_mib()

    # work done: rounds stepped per scenario (from each scenario's own run)
    steps = np.array([r.records["price"].shape[1] for r in single_runs])
    eventful = batch.rounds
    scen_rounds_all = int(steps.sum())
    scen_rounds_subset = int(steps[subset].sum())
    batch_step_calls = int(batch.records["price"].shape[1])

    per_sr = {
        "batched": t_batch / scen_rounds_all,
        "one_at_a_time": t_single / scen_rounds_all,
        "engine_subset_one_at_a_time": t_sub_single / scen_rounds_subset,
        "naive": t_naive / scen_rounds_subset,
    }
    ratios = {
        "engine_vs_naive": per_sr["naive"] / per_sr["batched"],
        "engine_vs_naive_same_scenarios": t_naive / t_sub_single,
        "batched_vs_one_at_a_time": t_single / t_batch,
    }
    if dense is not None:
        per_sr["naive_dense"] = t_dense / scen_rounds_subset
        ratios["engine_vs_dense_naive_loop"] = per_sr["naive_dense"] / per_sr["batched"]
        ratios["competent_vs_dense_naive_loop"] = t_dense / t_naive

    # checks: each loop against the engine, the batch against single runs
    scale = float(system.total_assets0.sum())

    def cross_check(loop) -> dict:
        return {
            "scenarios": subset,
            "rounds_equal": bool(np.array_equal(loop.rounds, batch.rounds[subset])),
            "steps_equal": bool(np.array_equal(loop.steps, steps[subset])),
            "defaulted_equal": bool(np.array_equal(loop.defaulted, batch.final.defaulted[subset])),
            "max_rel_diff_equity": rel_diff(loop.equity, batch.final.equity[subset], 1e-6 * scale / n),
            "max_rel_diff_price": rel_diff(loop.price, batch.final.price[subset], 1e-6),
            "max_rel_diff_sales_total": rel_diff(loop.sales_total, batch.sales_total[subset], 1e-6 * scale / n),
        }

    cross = cross_check(naive)
    cross_dense = None if dense is None else dict(cross_check(dense), loop=DENSE_LABEL)
    batch_vs_single = {
        "rounds_equal": bool(all(single_runs[s].rounds[0] == batch.rounds[s] for s in range(n_scen))),
        "max_abs_diff_equity": float(max(np.abs(single_runs[s].final.equity[0] - batch.final.equity[s]).max()
                                         for s in range(n_scen))),
        "max_abs_diff_price": float(max(np.abs(single_runs[s].final.price[0] - batch.final.price[s]).max()
                                        for s in range(n_scen))),
    }

    defaulted = batch.final.defaulted.sum(axis=1)
    sold = batch.sales_total.sum(axis=(1, 2))
    loss = batch.initial_equity.sum(axis=1) - batch.final.equity.sum(axis=1)
    cascade = {
        "max_rounds": args.max_rounds,
        "eventful_rounds": {"min": int(eventful.min()), "median": float(np.median(eventful)), "max": int(eventful.max()),
                            "hit_max_rounds": int((steps >= args.max_rounds).sum())},
        "steps_per_scenario": {"min": int(steps.min()), "median": float(np.median(steps)), "max": int(steps.max())},
        "batch_step_calls": batch_step_calls,
        "scenario_rounds_all": scen_rounds_all,
        "scenario_rounds_naive_subset": scen_rounds_subset,
        "sold_value": {"min": float(sold.min()), "median": float(np.median(sold)), "max": float(sold.max())},
        "sold_in_last_round_median": float(np.median(batch.records["sold"][:, -1].sum(axis=1))),
        "institutions_defaulted": {"min": int(defaulted.min()), "median": float(np.median(defaulted)),
                                   "max": int(defaulted.max())},
        "equity_loss_over_shock_loss_median": float(np.median(loss / np.where(batch.initial_loss > 0, batch.initial_loss, np.nan))),
    }
    sizes = system.total_assets0
    held_share = (system.holdings > 0).mean(axis=1)
    result = {
        "mode": "quick" if args.quick else "full",
        "seed": args.seed,
        "machine": {
            "cpu_count": os.cpu_count(),
            "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "platform": platform.platform(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "blas_threads": {v: os.environ.get(v) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")},
            "load_average_start": list(load_start),
            "load_average_end": list(os.getloadavg()),
        },
        "system": {
            "institutions": n, "assets": k, "scenarios": n_scen,
            "holdings_per_institution_share": {"min": float(held_share.min()), "mean": float(held_share.mean()),
                                               "max": float(held_share.max())},
            "total_assets": {"min": float(sizes.min()), "median": float(np.median(sizes)),
                             "p99": float(np.quantile(sizes, 0.99)), "max": float(sizes.max()),
                             "top1pct_share": float(np.sort(sizes)[-max(1, n // 100):].sum() / sizes.sum())},
            "var_desks": int(np.isfinite(inputs.var_limit).sum()),
            "slr_constrained": int(np.isfinite(inputs.slr_trigger).sum()),
            "leverage_targeters": int(np.isfinite(inputs.leverage_trigger).sum()),
            "two_sided": int(inputs.two_sided.sum()),
            "liquidation_policies": {p: int((inputs.liquidation == c).sum())
                                     for c, p in enumerate(("pecking_order", "pro_rata", "initial_weights"))},
        },
        "cascade": cascade,
        "setup_seconds": {"build_system_and_scenarios": t_build, "engine_arrays": t_arrays},
        "timings_seconds": {
            "a_batched": {"best": t_batch, "runs": t_batch_all,
                          "what": f"one simulate_arrays(detail=False) call on all {n_scen} scenarios"},
            "b_one_at_a_time": {"best": t_single, "runs": t_single_all,
                                "what": f"{n_scen} simulate_arrays(detail=False) calls of one scenario each"},
            "c_naive_loop": {"seconds": t_naive, "runs": t_naive_all, "scenarios": subset,
                             "what": f"competent per-institution loop (benchmarks/naive_loop.py) on scenarios "
                                     f"{subset}, full rounds, best of {repeat_naive}"},
            "d_dense_naive_loop": None if dense is None else {
                "seconds": t_dense, "runs": t_dense_all, "scenarios": subset,
                "what": f"{DENSE_LABEL} (benchmarks/naive_loop_dense.py) on scenarios {subset}, full rounds, "
                        f"best of {repeat_naive}"},
            "engine_one_at_a_time_on_naive_subset": {"best": t_sub_single, "runs": t_sub_single_all, "scenarios": subset},
            "batches_of_size": {"seconds": chunked, "what": "all scenarios in consecutive batches of this size, one run"},
        },
        "cpu_per_run": CPU,
        "seconds_per_scenario_round": per_sr,
        "ratios": ratios,
        "ratio_definitions": {
            "engine_vs_naive": "competent per-institution loop seconds / scenario-rounds (naive subset) divided "
                               "by batched seconds / scenario-rounds (all scenarios); scenario-rounds = rounds "
                               "each scenario steps through before its stop, stop round included",
            "engine_vs_naive_same_scenarios": "competent loop seconds / engine one-at-a-time seconds, same subset "
                                              "scenarios",
            "batched_vs_one_at_a_time": "time (b) / time (a), all scenarios",
            "engine_vs_dense_naive_loop": f"as engine_vs_naive, with the {DENSE_LABEL}",
            "competent_vs_dense_naive_loop": f"{DENSE_LABEL} seconds / competent loop seconds, same subset",
        },
        "seconds_per_scenario_round_labels": {
            "naive": "competent per-institution loop (benchmarks/naive_loop.py)",
            "naive_dense": DENSE_LABEL,
        },
        "targets": {name: {"target": v, "measured": ratios[name], "met": bool(ratios[name] >= v)}
                    for name, v in TARGETS.items()},
        "naive_vs_engine": cross,
        "dense_naive_vs_engine": cross_dense,
        "batch_vs_single": batch_vs_single,
        "peak_rss_mib": memory,
        "peak_rss_note": "ru_maxrss of this process after each phase (monotone); the batched run's peak "
                         "shows in after_batched_mib",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    report(result)
    print(f"results written to {args.out}")
    return result


def report(r: dict) -> None:
    t, c, sr = r["timings_seconds"], r["cascade"], r["seconds_per_scenario_round"]
    rows = [
        ("(a) batched engine", f"{r['system']['scenarios']} scen.", f"{t['a_batched']['best']:.3f}",
         f"{sr['batched'] * 1e3:.3f}"),
        ("(b) engine, one at a time", f"{r['system']['scenarios']} scen.", f"{t['b_one_at_a_time']['best']:.3f}",
         f"{sr['one_at_a_time'] * 1e3:.3f}"),
        ("engine one at a time, naive subset", f"{t['c_naive_loop']['scenarios']}",
         f"{t['engine_one_at_a_time_on_naive_subset']['best']:.3f}", f"{sr['engine_subset_one_at_a_time'] * 1e3:.3f}"),
        ("(c) per-institution loop (competent)", f"{t['c_naive_loop']['scenarios']}",
         f"{t['c_naive_loop']['seconds']:.3f}", f"{sr['naive'] * 1e3:.3f}"),
    ]
    if t.get("d_dense_naive_loop"):
        rows.append((f"(d) {DENSE_LABEL}", f"{t['d_dense_naive_loop']['scenarios']}",
                     f"{t['d_dense_naive_loop']['seconds']:.3f}", f"{sr['naive_dense'] * 1e3:.3f}"))
    ratio_rows = [(name, f"{v['measured']:.1f}x", f">= {v['target']:.0f}x", "yes" if v["met"] else "NO")
                  for name, v in r["targets"].items()]
    ratio_rows.insert(1, ("engine_vs_naive_same_scenarios", f"{r['ratios']['engine_vs_naive_same_scenarios']:.1f}x", "-", "-"))
    for name, label in (("engine_vs_dense_naive_loop", "engine"), ("competent_vs_dense_naive_loop", "competent loop")):
        if name in r["ratios"]:
            ratio_rows.append((f"{label} vs {DENSE_LABEL}", f"{r['ratios'][name]:.1f}x", "-", "-"))
    head = (f"{r['system']['institutions']} institutions x {r['system']['assets']} assets x "
            f"{r['system']['scenarios']} scenarios, {r['machine']['cpu_count']} cores; eventful rounds "
            f"min/median/max {c['eventful_rounds']['min']}/{c['eventful_rounds']['median']:g}/"
            f"{c['eventful_rounds']['max']} (max_rounds {c['max_rounds']}, {c['eventful_rounds']['hit_max_rounds']} "
            f"scenarios hit it); scenario-rounds {c['scenario_rounds_all']} (naive subset {c['scenario_rounds_naive_subset']})")
    try:
        from rich.console import Console
        from rich.table import Table

        console = Console()
        console.print(head)
        tab = Table(title="timings (best of N)")
        for col in ("measure", "scenarios", "seconds", "ms / scenario-round"):
            tab.add_column(col, justify="right" if col != "measure" else "left")
        for row in rows:
            tab.add_row(*row)
        console.print(tab)
        tab = Table(title="ratios")
        for col in ("ratio", "measured", "target", "met"):
            tab.add_column(col)
        for row in ratio_rows:
            tab.add_row(*row)
        console.print(tab)
    except ImportError:  # pragma: no cover
        print(head)
        for row in rows + ratio_rows:
            print(" | ".join(row))
    for label, x in (("per-institution loop", r["naive_vs_engine"]), (DENSE_LABEL, r.get("dense_naive_vs_engine"))):
        if x:
            print(f"{label} vs engine on {x['scenarios']}: rounds equal {x['rounds_equal']}, defaulted equal "
                  f"{x['defaulted_equal']}, max rel diff equity {x['max_rel_diff_equity']:.2e}, price "
                  f"{x['max_rel_diff_price']:.2e}, sales {x['max_rel_diff_sales_total']:.2e}")
    b = r["batch_vs_single"]
    print(f"batch vs single runs: rounds equal {b['rounds_equal']}, max |diff| equity {b['max_abs_diff_equity']:.2e}, "
          f"price {b['max_abs_diff_price']:.2e}")
    print("peak RSS (MiB): " + ", ".join(f"{k} {v:.0f}" for k, v in r["peak_rss_mib"].items()))


if __name__ == "__main__":
    main()
