"""Cont & Schaanning (2017): the multi-round closed form reproduces the published two-bank
path, and the engine with CS's switches equals it round by round on random systems."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firesale import Scenario, System, simulate
from firesale.errors import ConfigError
from firesale.models.cont_schaanning import cont_schaanning, market_depth

PUBLISHED = dict(marketable=[[90.0], [70.0]], illiquid=[10.0, 20.0], equity=[4.0, 4.5], shock=[0.2, 0.0],
                 depth=market_depth(50.0, 0.02), floor=0.5, lambda_max=33.3, alpha=0.5)


def test_published_path_through_the_model():
    p = cont_schaanning(**PUBLISHED)
    assert p.rounds == 3
    np.testing.assert_allclose(p.sold_fraction[:, 0], [0.385889, 0.315088, 0.145351], atol=5e-7)
    assert (p.sold_fraction[:, 1] == 0).all()
    assert float(p.sold[0, 0, 0]) == pytest.approx(34.73, abs=5e-3)
    assert float(p.impact[0, 0]) == pytest.approx(0.0077059, abs=5e-8)
    assert float(p.price[0, 0]) == pytest.approx(0.992294, abs=5e-7)
    np.testing.assert_allclose(p.loss[0], [0.559716, 0.539411], atol=5e-7)
    np.testing.assert_allclose(p.equity[0], [1.440284, 3.960589], atol=5e-7)
    # holdings in value at the new price: 55.27 and 70 units at 0.992294
    np.testing.assert_allclose(p.holdings[0, :, 0] * p.price[0, 0], [54.8441, 69.4606], atol=5e-5)


def test_an_insolvent_bank_sells_everything():
    # a 50% write-down of bank 1's illiquid 10 takes 5 > its equity 4: it sells all 90 at once
    p = cont_schaanning([[90.0], [70.0]], [10.0, 20.0], [4.0, 4.5], [0.5, 0.0], depth=market_depth(50.0, 0.02))
    assert float(p.shock_loss[0]) == pytest.approx(5.0)
    assert float(p.sold_fraction[0, 0]) == 1.0 and float(p.holdings[0, 0, 0]) == 0.0
    assert float(p.sold[0, 0, 0]) == pytest.approx(90.0)


def _engine(pi, theta, c, eps, depth, floor, lambda_max, alpha):
    n, k = pi.shape
    banks = [{"name": f"bank_{i}", "type": "bank", "liabilities": float(pi[i].sum() + theta[i] - c[i]),
              "leverage_trigger": 1 / lambda_max, "leverage_target": 1 / (0.95 * lambda_max), "liquidation": "pro_rata"}
             for i in range(n)]
    assets = [{"name": f"m{j}", "class": "corporate_ig", "sigma0": 0.02, "impact": "exponential",
               "depth": float(depth[j]), "impact_floor": float(floor[j])} for j in range(k)]
    assets += [{"name": f"illiquid_{i}", "class": "other", "sigma0": 0.01} for i in range(n)]
    holdings = [{"institution": f"bank_{i}", "asset": f"m{j}", "quantity": float(pi[i, j])}
                for i in range(n) for j in range(k) if pi[i, j] > 0]
    holdings += [{"institution": f"bank_{i}", "asset": f"illiquid_{i}", "quantity": float(theta[i])} for i in range(n)]
    scenario = Scenario(shocks=[{"asset": f"illiquid_{i}", "price": -float(eps[i])} for i in range(n) if eps[i] > 0],
                        channels={"slr": False, "var": False, "information": False},
                        market={"execution_alpha": alpha}, max_rounds=200)
    return simulate(System.from_records(banks, assets, holdings), scenario, detail=True).isel(scenario=0)


@st.composite
def cs_systems(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, k = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    pi = rng.uniform(10, 100, (n, k)) * (rng.random((n, k)) < 0.8)
    pi[np.arange(n), rng.integers(0, k, n)] += 5.0
    theta = rng.uniform(5, 50, n)
    lambda_max = float(rng.uniform(15, 40))
    c = (pi.sum(axis=1) + theta) / rng.uniform(0.5 * lambda_max, 0.95 * lambda_max, n)
    eps = rng.uniform(0, 0.3, n) * (rng.random(n) < 0.7)
    depth = rng.uniform(500, 5000, k)
    floor = rng.uniform(0.2, 0.7, k)
    return pi, theta, c, eps, depth, floor, lambda_max, float(rng.uniform(0, 1))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cs_systems())
def test_engine_equals_the_multi_round_model(case):
    pi, theta, c, eps, depth, floor, lambda_max, alpha = case
    model = cont_schaanning(pi, theta, c, eps, depth=depth, floor=floor, lambda_max=lambda_max, alpha=alpha)
    ds = _engine(pi, theta, c, eps, depth, floor, lambda_max, alpha)
    r = model.rounds
    k = pi.shape[1]
    if r == 0:
        assert float(ds.sold.sum()) == 0.0
        return
    scale = float(np.abs(c).max())
    np.testing.assert_allclose(ds.price.values[:r, :k], model.price, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ds.equity.values[:r], model.equity, rtol=1e-9, atol=1e-9 * scale)
    sold = ds.sales.values[:r, :, :k]
    np.testing.assert_allclose(sold, model.sold, rtol=1e-9, atol=1e-9 * scale)
    assert float(ds.sold.values[r:].sum()) == pytest.approx(0.0, abs=1e-9 * scale)


@pytest.mark.parametrize("kwargs, field", [
    ({"equity": [0.0, 4.5]}, "equity"),
    ({"lambda_max": 0.5}, "lambda_max"),
    ({"depth": [-1.0]}, "depth"),
    ({"illiquid": [10.0]}, "marketable/illiquid/equity/shock"),
    ({"marketable": [[90.0, 1.0], [70.0, 1.0]]}, "depth"),
])
def test_bad_input_names_the_argument(kwargs, field):
    with pytest.raises(ConfigError) as info:
        cont_schaanning(**{**PUBLISHED, **kwargs})
    assert f"argument {field}" in str(info.value)
