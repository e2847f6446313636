"""Caccioli, Shrestha, Moore & Farmer (2014), "Stability analysis of financial contagion due
to overlapping portfolios", J. Banking & Finance 46: the window of instability.

Above a critical leverage, contagion (more than 5% of banks failing after one random bank
fails) is likely for intermediate diversification and rare for very low or very high
diversification; below it, contagion does not happen.
"""

import math

import numpy as np
import pytest

from firesale.errors import ConfigError
from firesale.models.caccioli import (
    ALPHA_TEN_PERCENT,
    contagion_sweep,
    liquidation_cascade,
    simulate_contagion,
)


@pytest.fixture(scope="module")
def sweep():
    return contagion_sweep(mean_degrees=(1.0, 4.0, 64.0), leverages=(5.0, 20.0), trials=200, seed=0)


def test_window_of_instability_at_high_leverage(sweep):
    low, middle, high = sweep.probability[1]
    assert middle > 0.8
    assert middle - max(low, high) > 0.5
    assert high == 0.0
    assert sweep.extent[1, 1] > 0.9  # robust yet fragile: when it happens, nearly all fail


def test_low_leverage_is_stable(sweep):
    assert sweep.probability[0].max() <= 0.02


def test_same_seed_same_sweep_other_seed_other_draws():
    a = contagion_sweep((2.0, 4.0), (20.0,), trials=50, seed=3, n_banks=200, n_assets=200)
    b = contagion_sweep((2.0, 4.0), (20.0,), trials=50, seed=3, n_banks=200, n_assets=200)
    np.testing.assert_array_equal(a.probability, b.probability)
    np.testing.assert_array_equal(a.extent, b.extent)
    x = simulate_contagion(300, 300, 3.0, 20.0, rng=11, trials=40)
    y = simulate_contagion(300, 300, 3.0, 20.0, rng=11, trials=40)
    z = simulate_contagion(300, 300, 3.0, 20.0, rng=12, trials=40)
    np.testing.assert_array_equal(x, y)
    assert not np.array_equal(x, z)


def test_alpha_makes_a_ten_percent_sale_move_the_price_ten_percent():
    assert math.isclose(math.exp(-ALPHA_TEN_PERCENT * 0.1), 0.9)
    assert round(ALPHA_TEN_PERCENT, 4) == 1.0536


@pytest.mark.parametrize("leverage", [5.0, 10.0, 20.0, 33.3])
def test_one_bank_one_asset_fails_when_the_price_fall_exceeds_its_equity_ratio(leverage):
    """By hand: assets 1 in one asset, equity 1/λ; a price fall s costs s, so it fails iff s ≥ 1/λ."""
    ratio = 1 / leverage
    assert liquidation_cascade([[1.0]], leverage, asset_shock=[ratio * 1.001]).failed.tolist() == [True]
    assert liquidation_cascade([[1.0]], leverage, asset_shock=[ratio * 0.999]).failed.tolist() == [False]


def test_two_banks_one_asset_threshold_by_hand():
    """Bank 0 fails and sells half the asset: price e^(−α/2); bank 1 fails iff 1 − e^(−α/2) ≥ 1/λ."""
    critical = 1 / (1 - math.exp(-ALPHA_TEN_PERCENT / 2))
    assert liquidation_cascade([[1.0], [1.0]], critical * 1.001, initial_failed=[0]).failed.tolist() == [True, True]
    r = liquidation_cascade([[1.0], [1.0]], critical * 0.999, initial_failed=[0])
    assert r.failed.tolist() == [True, False]
    np.testing.assert_allclose(r.price, [math.exp(-ALPHA_TEN_PERCENT / 2)])
    np.testing.assert_allclose(r.liquidated, [0.5])


def _slow_cascade(q, leverage, alpha, failed):
    """Reference: a plain per-bank loop of the paper's rules."""
    failed = failed.copy()
    equity = q.sum(axis=1) / leverage
    while True:
        price = np.exp(-alpha * (q * failed[:, None]).sum(axis=0) / np.maximum(q.sum(axis=0), 1e-300))
        new = []
        for i in range(q.shape[0]):
            if not failed[i] and q[i].sum() > 0 and (q[i] * (1 - price)).sum() >= equity[i]:
                new.append(i)
        if not new:
            return failed
        failed[new] = True


def test_edge_kernel_matches_a_per_bank_loop():
    rng = np.random.default_rng(5)
    for _ in range(30):
        links = rng.random((40, 30)) < 0.08
        degree = np.maximum(links.sum(axis=1, keepdims=True), 1)
        q = links / degree
        start = np.zeros(40, dtype=bool)
        start[rng.integers(40)] = True
        leverage = float(rng.uniform(5, 30))
        fast = liquidation_cascade(q, leverage, initial_failed=start).failed
        np.testing.assert_array_equal(fast, _slow_cascade(q, leverage, ALPHA_TEN_PERCENT, start))


def test_a_tiny_asset_shock_breaks_nobody():
    shares = simulate_contagion(200, 200, 4.0, 20.0, rng=0, trials=20, shock="asset", shock_size=0.001)
    assert (shares == 0).all()


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"leverage": 1.0}, "leverage"), ({"alpha": 0.0}, "alpha"), ({"mean_degree": 500.0}, "mean_degree"),
     ({"mean_degree": -1.0}, "mean_degree"), ({"shock": "dealer"}, "shock"), ({"n_banks": 0}, "n_banks"),
     ({"rng": "seed"}, "rng")],
)
def test_bad_input_names_the_argument(kwargs, argument):
    with pytest.raises(ConfigError, match=argument) as info:
        simulate_contagion(**({"n_banks": 100, "n_assets": 100, "mean_degree": 3.0, "leverage": 20.0} | kwargs))
    assert "FS804" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"leverages": (0.5, 20.0)}, "leverages"), ({"threshold": 1.5}, "threshold"), ({"trials": 0}, "trials")],
)
def test_bad_sweep_input_names_the_argument(kwargs, argument):
    with pytest.raises(ConfigError, match=argument):
        contagion_sweep(**({"mean_degrees": (2.0,), "n_banks": 50, "n_assets": 50} | kwargs))
