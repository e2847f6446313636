"""Cont & Schaanning (2017): the multi-round closed form reproduces the published two-bank
path and a two-class case by hand, and the engine with CS's switches equals it round by
round on random systems. Illiquid assets come in asset classes, each written down by one
fraction for every holder (the paper's convention); the engine holds each class as one
asset that every bank shares, and the scenario shocks that asset's price."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firesale import Scenario, System, simulate
from firesale.errors import ConfigError
from firesale.models.cont_schaanning import cont_schaanning, market_depth

# each bank's illiquid assets are a class of their own; the first class is written down 20%
PUBLISHED = dict(marketable=[[90.0], [70.0]], illiquid=[[10.0, 0.0], [0.0, 20.0]], equity=[4.0, 4.5], shock=[0.2, 0.0],
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
    p = cont_schaanning([[90.0], [70.0]], [[10.0, 0.0], [0.0, 20.0]], [4.0, 4.5], [0.5, 0.0],
                        depth=market_depth(50.0, 0.02))
    assert float(p.shock_loss[0]) == pytest.approx(5.0)
    assert float(p.sold_fraction[0, 0]) == 1.0 and float(p.holdings[0, 0, 0]) == 0.0
    assert float(p.sold[0, 0, 0]) == pytest.approx(90.0)


def test_two_illiquid_classes_by_hand():
    """Two banks, one marketable asset, two illiquid classes A and B written down 20% and 10%.

    Shock: bank 1 holds 10 of A, loses 2; bank 2 holds 5 of A and 15 of B, loses 1 + 1.5 =
    2.5. Equity 4 − 2 = 2 and 4.5 − 2.5 = 2; assets 90 + 8 = 98 and 70 + 4 + 13.5 = 87.5;
    both are above λ_max = 33.3 (λ = 49 and 43.75) and sell Γ = (A − λ_b C)/Π with λ_b =
    0.95·33.3 = 31.635: 34.73/90 and 24.23/70. q = 58.96 sold, Ψ = ½(1 − e^(−q/δ)), δ =
    ½·0.4·√20·50/0.02; at the midpoint each bank loses ΨΠ(1 − Γ) + ½ΨΠΓ = ΨΠ(1 − Γ/2).
    """
    lambda_b = 0.95 * 33.3
    gamma = [(98.0 - lambda_b * 2.0) / 90.0, (87.5 - lambda_b * 2.0) / 70.0]
    sold = 90.0 * gamma[0] + 70.0 * gamma[1]
    delta = 0.5 * 0.4 * math.sqrt(20.0) * 50.0 / 0.02
    psi = 0.5 * (1.0 - math.exp(-sold / delta))
    loss = [psi * 90.0 * (1 - gamma[0] / 2), psi * 70.0 * (1 - gamma[1] / 2)]
    p = cont_schaanning([[90.0], [70.0]], [[10.0, 0.0], [5.0, 15.0]], [4.0, 4.5], [0.2, 0.1],
                        depth=market_depth(50.0, 0.02), floor=0.5, lambda_max=33.3, alpha=0.5)
    np.testing.assert_allclose(p.shock_loss, [2.0, 2.5], rtol=1e-12)
    np.testing.assert_allclose(p.sold_fraction[0], gamma, rtol=1e-12)
    assert gamma[0] == pytest.approx(0.385889, abs=5e-7) and gamma[1] == pytest.approx(0.346143, abs=5e-7)
    np.testing.assert_allclose(p.sold[0, :, 0], [34.73, 24.23], rtol=1e-12)
    assert float(p.impact[0, 0]) == pytest.approx(psi, rel=1e-12)
    np.testing.assert_allclose(p.loss[0], loss, rtol=1e-12)
    np.testing.assert_allclose(p.equity[0], [2.0 - loss[0], 2.0 - loss[1]], rtol=1e-12)


def test_a_class_write_down_hits_every_holder_alike():
    """One class held by both banks: a 10% write-down costs each 10% of its holding (not a per-bank shock)."""
    p = cont_schaanning([[90.0], [70.0]], [10.0, 20.0], [40.0, 45.0], 0.1, depth=[np.inf], lambda_max=33.3)
    np.testing.assert_allclose(p.shock_loss, [1.0, 2.0], rtol=1e-12)
    assert p.rounds == 0  # leverage 99/39 and 88/43 stays far below λ_max


def _engine(pi, theta, c, eps, depth, floor, lambda_max, alpha):
    n, k = pi.shape
    classes = theta.shape[1]
    banks = [{"name": f"bank_{i}", "type": "bank", "liabilities": float(pi[i].sum() + theta[i].sum() - c[i]),
              "leverage_trigger": 1 / lambda_max, "leverage_target": 1 / (0.95 * lambda_max), "liquidation": "pro_rata"}
             for i in range(n)]
    assets = [{"name": f"m{j}", "class": "corporate_ig", "sigma0": 0.02, "impact": "exponential",
               "depth": float(depth[j]), "impact_floor": float(floor[j])} for j in range(k)]
    assets += [{"name": f"illiquid_{m}", "class": "other", "sigma0": 0.01} for m in range(classes)]
    holdings = [{"institution": f"bank_{i}", "asset": f"m{j}", "quantity": float(pi[i, j])}
                for i in range(n) for j in range(k) if pi[i, j] > 0]
    holdings += [{"institution": f"bank_{i}", "asset": f"illiquid_{m}", "quantity": float(theta[i, m])}
                 for i in range(n) for m in range(classes) if theta[i, m] > 0]
    scenario = Scenario(shocks=[{"asset": f"illiquid_{m}", "price": -float(eps[m])} for m in range(classes)
                                if eps[m] > 0],
                        channels={"slr": False, "var": False, "information": False},
                        market={"execution_alpha": alpha}, max_rounds=200)
    return simulate(System.from_records(banks, assets, holdings), scenario, detail=True).isel(scenario=0)


@st.composite
def cs_systems(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, k = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    pi = rng.uniform(10, 100, (n, k)) * (rng.random((n, k)) < 0.8)
    pi[np.arange(n), rng.integers(0, k, n)] += 5.0
    classes = draw(st.integers(1, 3))
    theta = rng.uniform(5, 50, (n, classes)) * (rng.random((n, classes)) < 0.7)
    theta[np.arange(n), rng.integers(0, classes, n)] += 5.0
    lambda_max = float(rng.uniform(15, 40))
    c = (pi.sum(axis=1) + theta.sum(axis=1)) / rng.uniform(0.5 * lambda_max, 0.95 * lambda_max, n)
    eps = rng.uniform(0, 0.3, classes) * (rng.random(classes) < 0.8)
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
    ({"illiquid": [10.0]}, "marketable/illiquid/equity"),
    ({"shock": [0.2, 0.0, 0.1]}, "shock"),  # three write-downs for two illiquid classes
    ({"illiquid": [10.0, 20.0]}, "shock"),  # one class: a per-bank shock is refused
    ({"marketable": [[90.0, 1.0], [70.0, 1.0]]}, "depth"),
])
def test_bad_input_names_the_argument(kwargs, field):
    with pytest.raises(ConfigError) as info:
        cont_schaanning(**{**PUBLISHED, **kwargs})
    assert f"argument {field}" in str(info.value)
