"""Smoke test of the benchmark driver: ``benchmarks/run_all.py --quick`` in a subprocess.

Benchmarks are not timed tests: this checks only that every item ran and has a value.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ITEMS = ("1_engine_vs_naive", "2_batched_vs_one_by_one", "3_large_system", "4_bandwidth_fraction",
         "5_dask_vs_serial", "6_growth")


def test_run_all_quick_writes_every_item(tmp_path):
    pytest.importorskip("distributed")
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run_all.py"), "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(out.read_text())
    assert res["machine"]["cpu_count"] >= 1 and res["machine"]["numpy"]
    for name in ITEMS:
        item = res["items"][name]
        assert "error" not in item, item
        assert isinstance(item["measured"], (int, float)) and item["measured"] == item["measured"], name
    assert res["items"]["6_growth"]["fit_seconds_per_round_vs_nnz"]["r2"] is not None
