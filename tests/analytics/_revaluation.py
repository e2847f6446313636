"""A two-asset system whose runs are plain revaluations: the closed forms of the reverse
stress test and sensitivity tests (tests/analytics/test_reverse.py, test_sensitivity.py)."""

import numpy as np

from firesale import Scenario, System

SIGMA = np.array([0.01, 0.02])
RHO = 0.5
HOLDINGS = np.array([100.0, 50.0])
#: Every channel off: a run is a plain revaluation at the shocked fundamentals.
CALM = Scenario(name="calm", channels={c: False for c in (
    "slr", "var", "leverage", "default", "margin", "rollover", "unsecured", "redemption", "information")},
    market={"intermediation": False})


def revaluation_system() -> System:
    return System.from_records(
        [{"name": "holder", "liabilities": 100.0, "cash": 20.0}],
        [{"name": "a", "class": "corporate_ig", "sigma0": SIGMA[0]},
         {"name": "b", "class": "corporate_hy", "sigma0": SIGMA[1]}],
        [{"institution": "holder", "asset": "a", "quantity": HOLDINGS[0]},
         {"institution": "holder", "asset": "b", "quantity": HOLDINGS[1]}],
        correlations=[{"asset_a": "a", "asset_b": "b", "correlation": RHO}],
    )


def covariance() -> np.ndarray:
    corr = np.array([[1.0, RHO], [RHO, 1.0]])
    return np.outer(SIGMA, SIGMA) * corr
