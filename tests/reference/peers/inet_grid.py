"""Run the Bank of England / Oxford INET fire-sale stress test over grids of shocks and price
impacts, and write each run's defaults per step and prices after each step as JSON.

This is how ``inet_firesale_stresstest.json`` was made; it is not part of the test suite and
imports the peer's own modules. To rerun it: check out ox-inet-resilience/firesale_stresstest
(the commit in the JSON), install ox-inet-resilience/py-economicsl (likewise) and numpy, copy
this file into the checkout and run ``python inet_grid.py OUT.json`` there. matplotlib, which
the model imports for its plots only, is replaced by an empty module.

Grids (the peer's three published experiments, then shocks to the other asset and to both):
price impact 0-10% at a 20% government-bond shock; government-bond shocks 0-30% at a 1%
impact, with the threshold rule (buffer 4%) and with leverage targeting (buffer 100%);
corporate-bond shocks 0-30% at 5%; both shocked, 0-20% each, at 5%.
"""
import json
import random
import sys
import types
from collections import defaultdict

import numpy as np

# the model imports matplotlib for its plots only
pyplot = types.ModuleType("matplotlib.pyplot")
matplotlib = types.ModuleType("matplotlib")
matplotlib.pyplot = pyplot
sys.modules.update({"matplotlib": matplotlib, "matplotlib.pyplot": pyplot})

import markets  # noqa: E402  (the peer's modules)
import model  # noqa: E402
from contracts import AssetType  # noqa: E402

# prices after each step's clearing, recorded by wrapping the market's clearing
steps = []
_clear = markets.AssetMarket.clear_the_market


def _recording_clear(market):
    _clear(market)
    steps.append((float(market.prices[AssetType.GOV_BONDS]), float(market.prices[AssetType.CORPORATE_BONDS])))


markets.AssetMarket.clear_the_market = _recording_clear


def run(eu, experiment, government_shock, corporate_shock, price_impact, buffer):
    parameters = eu.parameters
    parameters.ASSET_TO_SHOCK, parameters.INITIAL_SHOCK = AssetType.GOV_BONDS, government_shock
    parameters.PRICE_IMPACTS = defaultdict(lambda: price_impact)
    parameters.BANK_LEVERAGE_BUFFER = buffer
    eu.initialize()
    if corporate_shock:
        eu.apply_initial_shock(AssetType.CORPORATE_BONDS, corporate_shock)
    steps.clear()
    defaults, sold = eu.run_simulation()
    return {"experiment": experiment, "government_shock": float(government_shock),
            "corporate_shock": float(corporate_shock), "price_impact": float(price_impact),
            "leverage_buffer": float(buffer), "defaults": [int(d) for d in defaults],
            "government_price": [p[0] for p in steps], "corporate_price": [p[1] for p in steps],
            "sold_share": float(sold[-1])}


def main(out):
    random.seed(1337)
    np.random.seed(1337)
    eu = model.Model()
    runs = [run(eu, "price_impact", 0.2, 0.0, pi, 0.04) for pi in np.linspace(0, 0.1, 21)]
    runs += [run(eu, "government_shock", shock, 0.0, 0.01, 0.04) for shock in np.linspace(0, 0.3, 21)]
    runs += [run(eu, "leverage_targeting", shock, 0.0, 0.01, 1.0) for shock in np.linspace(0, 0.3, 21)]
    runs += [run(eu, "corporate_shock", 0.0, shock, 0.05, 0.04) for shock in np.linspace(0, 0.3, 21)]
    runs += [run(eu, "both_shocks", government, corporate, 0.05, 0.04)
             for government in np.linspace(0, 0.2, 5) for corporate in np.linspace(0, 0.2, 5)]
    meta = {"source": "ox-inet-resilience/firesale_stresstest", "commit": "dd861c6dbba3bb9dc77565fac585a2b2e8a960ab",
            "economicsl": "ox-inet-resilience/py-economicsl e228aced1e61b6e7f68abc8483dad2f3752e149d",
            "licence": "Apache-2.0", "made_by": "tests/reference/peers/inet_grid.py", "numpy": np.__version__,
            "steps": "defaults[0] is the initial state; defaults[s] and the prices [s - 1] are after step s = 1..6"}
    with open(out, "w") as handle:
        json.dump({"meta": meta, "runs": runs}, handle, indent=1)
    print(len(runs), "runs;", sum(sum(r["defaults"]) > 0 for r in runs), "with defaults")


if __name__ == "__main__":
    main(sys.argv[1])
