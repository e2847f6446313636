#!/usr/bin/env python
"""Continuity of the ``march_2020`` preset: does the 10-year Treasury's peak yield rise move
smoothly as a policy lever and a market parameter are turned?

Usage::

    python benchmarks/continuity.py                      # writes benchmarks/continuity.json
    python benchmarks/continuity.py --out /tmp/c.json

Both sweeps run the preset's own scenario (every mechanism on). The measure is the peak
yield rise of ``ust_10y`` in bp: ``-ln(min over rounds of its price) / duration * 1e4``, the
duration read from the result's ``duration`` coordinate.

1. SLR buffer release, ``policy.slr_buffer_release`` = 0, 1, ..., 100 bp (101 scenarios, one
   batched ``firesale.simulate`` call). Criteria: the peak never rises as more buffer is
   released, within 1 bp (every ``diff(peak) <= 1.0`` bp), and never jumps more than 5 bp
   between neighbouring steps (``max |diff(peak)| <= 5.0`` bp).
2. Treasury market depth, ``ust_10y`` depth x 0.50, 0.55, ..., 1.50 (21 systems, one
   ``simulate`` call each). Criterion: no jump between neighbouring factors exceeds 10% of
   the baseline (factor 1.00) peak. Also reported: the elasticity of the peak to depth at
   the baseline, by central difference over +-5%:
   ``(peak(1.05) - peak(0.95)) / 0.10 / peak(1.00)``.

A benchmark, not a test: it reports PASS/FAIL per criterion and always exits 0.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import time
from pathlib import Path

import numpy as np
import xarray as xr

import firesale
from firesale.system import System

HERE = Path(__file__).resolve().parent
PRESET, ASSET = "march_2020", "ust_10y"
RELEASES = [round(i * 1e-4, 6) for i in range(101)]
FACTORS = [round(0.5 + 0.05 * i, 2) for i in range(21)]
MAX_RISE_BP, MAX_JUMP_BP, MAX_DEPTH_JUMP = 1.0, 5.0, 0.10


def peak_bp(ds: xr.Dataset) -> np.ndarray:
    """Peak yield rise of ``ASSET`` per scenario, bp: -ln(min price) / duration * 1e4."""
    low = ds.price.sel(asset=ASSET).min(dim="round").values
    return -np.log(low) / float(ds.duration.sel(asset=ASSET)) * 1e4


def with_depth(s: System, factor: float) -> System:
    """``s`` with the depth of ``ASSET`` scaled by ``factor``."""
    assets = [a.model_copy(update={"depth": a.depth * factor}) if a.name == ASSET else a for a in s.assets]
    return System(s.name, s.institutions, assets, s.holdings, s.trading_fraction, s.correlation,
                  currency=s.currency, description=s.description, repo=s.repo, derivative=s.derivative,
                  initial_margin=s.initial_margin, market_share=s.market_share)


def release_sweep(preset: firesale.Preset) -> dict:
    """Criterion 1: the SLR buffer release sweep, one batch."""
    scenarios = [preset.scenario.updated(**{"policy.slr_buffer_release": r}) for r in RELEASES]
    t0 = time.perf_counter()
    peak = peak_bp(firesale.simulate(preset.system, scenarios, detail=False))
    seconds = time.perf_counter() - t0
    diff = np.diff(peak)
    rise, jump = float(diff.max()), float(np.abs(diff).max())
    return {"release": RELEASES, "peak_bp": peak.tolist(), "seconds": seconds,
            "max_rise_bp": rise, "max_jump_bp": jump,
            "criteria": {"monotone": f"max diff(peak) <= {MAX_RISE_BP} bp",
                         "no_jump": f"max |diff(peak)| <= {MAX_JUMP_BP} bp"},
            "pass": {"monotone": rise <= MAX_RISE_BP, "no_jump": jump <= MAX_JUMP_BP}}


def depth_sweep(preset: firesale.Preset) -> dict:
    """Criterion 2: the Treasury depth sweep, one system and one simulate call per factor."""
    t0 = time.perf_counter()
    peak = np.concatenate([peak_bp(firesale.simulate(with_depth(preset.system, f), [preset.scenario], detail=False))
                           for f in FACTORS])
    seconds = time.perf_counter() - t0
    base = float(peak[FACTORS.index(1.0)])
    jump = float(np.abs(np.diff(peak)).max()) / base
    up, down = peak[FACTORS.index(1.05)], peak[FACTORS.index(0.95)]
    return {"factor": FACTORS, "peak_bp": peak.tolist(), "seconds": seconds, "baseline_peak_bp": base,
            "max_jump_share_of_baseline": jump, "elasticity_at_baseline": float((up - down) / 0.10 / base),
            "criteria": {"no_jump": f"max |diff(peak)| <= {MAX_DEPTH_JUMP:.0%} of the baseline peak"},
            "pass": {"no_jump": jump <= MAX_DEPTH_JUMP}}


def report(r: dict) -> None:
    """Print both sweeps compactly and a PASS/FAIL line per criterion."""
    rel, dep = r["release_sweep"], r["depth_sweep"]
    print(f"{PRESET}: {ASSET} peak yield rise (bp)")
    print("SLR buffer release (bp) -> peak")
    for lo in range(0, len(RELEASES), 10):
        print(f"  {lo:3d}+ " + " ".join(f"{p:6.2f}" for p in rel["peak_bp"][lo:lo + 10]))
    print(f"depth factor -> peak (baseline {dep['baseline_peak_bp']:.2f} bp)")
    for lo in range(0, len(FACTORS), 7):
        print("  " + "  ".join(f"{f:.2f}:{p:6.2f}" for f, p in zip(FACTORS[lo:lo + 7], dep["peak_bp"][lo:lo + 7])))
    flag = {True: "PASS", False: "FAIL"}
    print(f"{flag[rel['pass']['monotone']]} release monotone: max diff(peak) {rel['max_rise_bp']:+.4f} bp "
          f"(<= {MAX_RISE_BP} bp)")
    print(f"{flag[rel['pass']['no_jump']]} release no jump: max |diff(peak)| {rel['max_jump_bp']:.4f} bp "
          f"(<= {MAX_JUMP_BP} bp)")
    print(f"{flag[dep['pass']['no_jump']]} depth no jump: max |diff(peak)| {dep['max_jump_share_of_baseline']:.2%} "
          f"of baseline (<= {MAX_DEPTH_JUMP:.0%})")
    print(f"elasticity of peak to depth at baseline (+-5%): {dep['elasticity_at_baseline']:+.4f}")
    print(f"wall time {r['wall_seconds']:.2f} s (release batch {rel['seconds']:.2f} s, "
          f"depth runs {dep['seconds']:.2f} s)")


def main(argv: list[str] | None = None) -> dict:
    """Run both sweeps, print the report, write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "continuity.json", help="where to write the JSON")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    preset = firesale.load_preset(PRESET)
    result = {"preset": PRESET, "scenario": preset.scenario.name, "asset": ASSET,
              "measure": "-ln(min over rounds of price) / duration * 1e4, bp",
              "release_sweep": release_sweep(preset), "depth_sweep": depth_sweep(preset)}
    result["wall_seconds"] = time.perf_counter() - t0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    report(result)
    print(f"results written to {args.out}")
    return result


if __name__ == "__main__":
    main()
