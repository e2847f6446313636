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
    Z_95,
    contagion_sweep,
    liquidation_cascade,
    simulate_contagion,
    wilson_interval,
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


def test_the_first_failure_is_a_bank_that_holds_an_asset():
    """Two banks, one asset, each holds it with probability 1/2 (μ_b = 0.5, M = 1), λ = 100.

    By hand: no holder (1/4) → nobody fails, share 0; one holder (1/2) → it fails alone,
    share 1/2; two holders (1/4) → the first sells half, the price falls 41% > 1/λ, both
    fail, share 1. Drawing the first failure among all banks would never give share 0.
    """
    trials = 4000
    shares = simulate_contagion(2, 1, mean_degree=0.5, leverage=100.0, rng=7, trials=trials)
    assert set(np.unique(shares).tolist()) <= {0.0, 0.5, 1.0}
    for value, expected in ((0.0, 0.25), (0.5, 0.5), (1.0, 0.25)):
        low, high = wilson_interval(int((shares == value).sum()), trials)
        assert low <= expected <= high, (value, low, high)


def test_first_failures_are_drawn_uniformly_among_holders():
    from firesale.models.caccioli import _first_failures

    # 3 trials of 4 banks: holders 1 and 3; none; 8, 9 and 10
    degree = np.array([0, 3, 0, 1, 0, 0, 0, 0, 2, 5, 1, 0])
    rng = np.random.default_rng(0)
    chosen = np.concatenate([_first_failures(degree, 4, 3, rng) for _ in range(3000)])
    assert (degree[chosen] > 0).all()
    assert not np.isin(chosen, [4, 5, 6, 7]).any()  # no first failure where no bank holds an asset
    counts = np.bincount(chosen, minlength=12)
    for bank, holders in ((1, 2), (3, 2), (8, 3), (9, 3), (10, 3)):
        low, high = wilson_interval(counts[bank], 3000)
        assert low <= 1 / holders <= high, (bank, counts[bank])


def test_contagion_at_two_assets_per_bank_matches_the_paper():
    """Caccioli et al. (2014): at μ_b = 2, λ = 20, N = M = 1000, contagion follows about 91% of
    initial failures (read off the paper's figure). Drawing the first failure among all banks
    would give about 0.91 (1 − e^(−2)) = 0.79."""
    trials = 400
    shares = simulate_contagion(1000, 1000, mean_degree=2.0, leverage=20.0, rng=0, trials=trials)
    low, high = wilson_interval(int((shares > 0.05).sum()), trials)
    assert low <= 0.91 <= high
    assert low > 0.91 * (1 - math.exp(-2.0))


@pytest.mark.parametrize(("successes", "trials", "low", "high"), [
    (81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718),
])
def test_wilson_interval_matches_newcombe(successes, trials, low, high):
    """Newcombe (1998), Statistics in Medicine 17, 857-872, Table II, method 3 (score, no correction)."""
    got = wilson_interval(successes, trials)
    assert float(got[0]) == pytest.approx(low, abs=5e-5) and float(got[1]) == pytest.approx(high, abs=5e-5)


def test_wilson_interval_closed_forms():
    """p̂ = 0: [0, z²/(n + z²)]; p̂ = 1: [n/(n + z²), 1]; p̂ = ½: symmetric about ½."""
    z2 = Z_95**2
    low, high = wilson_interval([0, 50, 25], 50)
    np.testing.assert_allclose([low[0], high[0]], [0.0, z2 / (50 + z2)], atol=1e-15)
    np.testing.assert_allclose([low[1], high[1]], [50 / (50 + z2), 1.0], atol=1e-15)
    assert low[2] + high[2] == pytest.approx(1.0, abs=1e-15)
    with pytest.raises(ConfigError, match="FS804"):
        wilson_interval(3, 2)


def test_sweep_intervals_bracket_each_cell():
    out = contagion_sweep((1.5, 3.0), (20.0,), trials=60, seed=1, n_banks=200, n_assets=200)
    assert (out.probability_low <= out.probability).all() and (out.probability <= out.probability_high).all()
    low, high = wilson_interval(np.round(out.probability * 60), 60)
    np.testing.assert_allclose(out.probability_low, low)
    np.testing.assert_allclose(out.probability_high, high)
    hit = np.isfinite(out.extent_low)
    assert hit.any()
    assert (out.extent_low[hit] <= out.extent[hit]).all() and (out.extent[hit] <= out.extent_high[hit]).all()
