"""Dashboard speed: how long ``firesale dashboard`` takes to start, and how long a
``dealer_groups`` run takes to show its results in a browser.

Start: from launching ``firesale dashboard --no-browser`` until its health endpoint
answers, then until the System page has drawn in the browser. Time to results: from
pressing Run on the Run page until the amplification and the first figure show (headless
Debian chromium through Playwright). Each is measured ``--repeat`` times (a fresh server
and browser each); the median is reported. Targets: start under 10 s, results under 3 s.

Writes ``benchmarks/results/dashboard.json`` and prints the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from firesale.testing.dashboard import open_page, run_in_browser, serve_dashboard

CHROMIUM = Path(os.environ.get("FIRESALE_CHROMIUM", "/usr/bin/chromium"))
RESULTS = Path(__file__).parent / "results" / "dashboard.json"
TARGETS = {"start_s": 10.0, "time_to_results_s": 3.0}


def measure_once(chromium: Path) -> dict[str, float]:
    """One fresh server and browser: seconds to health, to the first page, to results."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as store:
        os.environ["FIRESALE_STORE"] = store  # record into a throwaway store
        launched = time.perf_counter()
        with serve_dashboard() as (url, health_s), sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(chromium), headless=True)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                open_page(page, url, "System")
                first_page_s = time.perf_counter() - launched
                amplification, results_s = run_in_browser(page, url, "dealer_groups")
            finally:
                browser.close()
    return {"health_s": health_s, "start_s": first_page_s, "time_to_results_s": results_s,
            "amplification": float(amplification)}


def main() -> None:
    """Measure, print and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh server and browser this many times")
    args = parser.parse_args()
    if not CHROMIUM.is_file():
        raise SystemExit(f"no chromium at {CHROMIUM}: install it (apt-get install chromium) or set FIRESALE_CHROMIUM")
    runs = [measure_once(CHROMIUM) for _ in range(args.repeat)]
    median = {key: statistics.median(run[key] for run in runs) for key in ("health_s", "start_s", "time_to_results_s")}
    out = {
        "benchmark": "dashboard", "preset": "dealer_groups", "repeat": args.repeat, "median": median, "runs": runs,
        "targets": TARGETS, "met": {key: median[key] < limit for key, limit in TARGETS.items()},
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count()},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"dashboard start (launch to System page drawn): {median['start_s']:.2f} s "
          f"(health endpoint {median['health_s']:.2f} s; target < {TARGETS['start_s']:g} s)")
    print(f"dealer_groups time to results (Run pressed to results shown): {median['time_to_results_s']:.2f} s "
          f"(target < {TARGETS['time_to_results_s']:g} s)")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
