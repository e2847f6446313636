#!/usr/bin/env python
"""Fixed cost of one ``firesale.simulate(system, scenario)`` call, and where it goes.

Usage::

    python benchmarks/bench_call.py                   # writes benchmarks/call_overhead.json
    python benchmarks/bench_call.py --calls 500 --out /tmp/c.json

For each preset (``inet_eba2018``: 48 banks, 3 assets, 4 rounds; ``dealer_groups``: 17
institutions, 6 assets, 40 rounds), after a warm-up of ``--warmup`` calls, the median over
``--calls`` calls (``time.perf_counter``) of

* ``simulate``: the whole call, ``simulate(system, scenario)``, as a user makes it;
* ``inputs``: the system's engine arrays as ``simulate`` gets them
  (``firesale.simulation.system_inputs``, built once per System object);
* ``inputs_build``: building them, ``Inputs.from_system(system)`` (the first call's cost);
* ``scenario_arrays``: ``ScenarioArrays.from_scenarios(system, [scenario])``;
* ``engine``: ``simulate_arrays(inputs, arrays, detail=...)``, the rounds themselves;
* ``dataset``: ``to_dataset(system, [scenario], trajectory)``, labelling the result.

Each phase is timed on its own with the same arguments as ``simulate`` gives it, the
phases in turn within each pass. ``around_engine_ms`` = ``inputs + scenario_arrays +
dataset``, what a call adds to its rounds; ``overhead_ms`` = ``simulate - engine`` measures
the same from the outside (it also holds the noise of two medians), and ``overhead_share``
= ``overhead_ms / simulate``, all within one run.
One BLAS thread unless ``OPENBLAS_NUM_THREADS`` is set, as in ``bench_engine.py``.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
PRESETS = ("inet_eba2018", "dealer_groups")


def _median_ms(phases: dict[str, Callable[[], object]], calls: int) -> dict[str, float]:
    """Median milliseconds of each phase, the phases timed in turn within each of ``calls``
    passes (so that a machine slowing down or speeding up affects them all alike)."""
    times: dict[str, list[float]] = {phase: [] for phase in phases}
    for _ in range(calls):
        for phase, fn in phases.items():
            start = time.perf_counter()
            fn()
            times[phase].append(time.perf_counter() - start)
    return {phase: 1e3 * statistics.median(values) for phase, values in times.items()}


def bench_preset(name: str, calls: int, warmup: int) -> dict[str, float | int | str]:
    """Median milliseconds per call of ``simulate`` and of each of its phases on one preset."""
    from firesale import load_preset, simulate
    from firesale.engine.simulate import simulate_arrays
    from firesale.engine.state import Inputs, ScenarioArrays
    from firesale.results import to_dataset
    from firesale.simulation import DETAIL_LIMIT, system_inputs

    preset = load_preset(name)
    system, scenario = preset.system, preset.scenario
    detail = system.n_institutions * system.n_assets <= DETAIL_LIMIT
    for _ in range(warmup):
        simulate(system, scenario)
    inputs = system_inputs(system)
    arrays = ScenarioArrays.from_scenarios(system, [scenario])
    trajectory = simulate_arrays(inputs, arrays, detail=detail)
    phases = {
        "simulate": lambda: simulate(system, scenario),
        "inputs": lambda: system_inputs(system),
        "inputs_build": lambda: Inputs.from_system(system),
        "scenario_arrays": lambda: ScenarioArrays.from_scenarios(system, [scenario]),
        "engine": lambda: simulate_arrays(inputs, arrays, detail=detail),
        "dataset": lambda: to_dataset(system, [scenario], trajectory),
    }
    for fn in phases.values():  # each phase warm on its own too
        for _ in range(warmup):
            fn()
    out: dict[str, float | int | str] = {"institutions": system.n_institutions, "assets": system.n_assets,
                                         "rounds": int(trajectory.n_rounds)}
    out.update({f"{phase}_ms": round(ms, 4) for phase, ms in _median_ms(phases, calls).items()})
    out["around_engine_ms"] = round(sum(float(out[f"{p}_ms"]) for p in ("inputs", "scenario_arrays", "dataset")), 4)
    overhead = float(out["simulate_ms"]) - float(out["engine_ms"])
    out["overhead_ms"] = round(overhead, 4)
    out["overhead_share"] = round(overhead / float(out["simulate_ms"]), 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="timed calls per phase (median; at least 200)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--out", type=Path, default=HERE / "call_overhead.json")
    args = parser.parse_args()
    import firesale

    report = {
        "firesale_version": firesale.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "calls": args.calls,
        "warmup": args.warmup,
        "presets": {name: bench_preset(name, max(args.calls, 200), args.warmup) for name in PRESETS},
    }
    text = json.dumps(report, indent=2)
    args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
