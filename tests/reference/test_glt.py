"""Greenwood, Landier & Thesmar (2015): the engine with GLT's switches equals the closed form.

Switches: leverage target = own initial leverage, sales split by t0 weights
(``initial_weights``), linear impact (depth = 1/ℓ), execution at the post-impact price
(α = 1, losses on pre-sale holdings), one round. Then the fire-sale loss over system
equity is :math:`AV = 1'AMLM'BAMF / E` exactly (DESIGN §3).
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firesale import Scenario, System, simulate
from firesale.models.glt import aggregate_vulnerability, indirect_vulnerability, systemicness


def _engine_av(a, m, b, ell, fall):
    n, k = m.shape
    equity_ratio = 1 / (1 + b)
    institutions = [
        {"name": f"bank_{i}", "type": "bank", "liabilities": a[i] * b[i] / (1 + b[i]),
         "leverage_trigger": equity_ratio[i], "leverage_target": equity_ratio[i], "liquidation": "initial_weights"}
        for i in range(n)
    ]
    assets = [{"name": f"asset_{j}", "class": "corporate_ig", "sigma0": 0.01, "depth": 1 / ell[j]} for j in range(k)]
    holdings = [{"institution": f"bank_{i}", "asset": f"asset_{j}", "quantity": a[i] * m[i, j]}
                for i in range(n) for j in range(k) if m[i, j] > 0]
    system = System.from_records(institutions, assets, holdings)
    scenario = Scenario(
        shocks=[{"asset": f"asset_{j}", "price": -fall[j]} for j in range(k)],
        channels={"slr": False, "var": False, "default": False, "information": False},
        market={"execution_alpha": 1.0},
        max_rounds=1,
    )
    ds = simulate(system, scenario).isel(scenario=0)
    fire_sale_loss = float((ds.marked_equity - ds.equity).isel(round=0).sum())
    per_bank = (ds.marked_equity - ds.equity).isel(round=0).values
    return fire_sale_loss / float(ds.initial_equity.sum()), per_bank / ds.initial_equity.values


@st.composite
def glt_systems(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, k = draw(st.integers(1, 8)), draw(st.integers(1, 5))
    a = rng.uniform(10, 1000, n)
    m = rng.dirichlet(np.ones(k), n)
    b = rng.uniform(2, 20, n)
    # impacts small enough that no price reaches the engine's floor at zero, which the
    # linear closed form does not have: total sales ≤ 0.4·Σa ≤ 3,200, so ℓΦ ≤ 0.32
    ell = rng.uniform(1e-6, 1e-4, k)
    fall = rng.uniform(0.001, 0.02, k)
    return a, m, b, ell, fall


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(glt_systems())
def test_engine_equals_closed_form(sys_):
    a, m, b, ell, fall = sys_
    av_engine, iv_engine = _engine_av(a, m, b, ell, fall)
    assert av_engine == pytest.approx(aggregate_vulnerability(a, m, b, ell, fall), rel=1e-9)
    np.testing.assert_allclose(iv_engine, indirect_vulnerability(a, m, b, ell, fall), rtol=1e-9)


def test_systemicness_sums_to_aggregate_vulnerability():
    rng = np.random.default_rng(3)
    a, m, b = rng.uniform(10, 100, 5), rng.dirichlet(np.ones(3), 5), rng.uniform(5, 20, 5)
    ell, fall = rng.uniform(1e-4, 1e-3, 3), np.array([0.01, 0.0, 0.02])
    assert systemicness(a, m, b, ell, fall).sum() == pytest.approx(aggregate_vulnerability(a, m, b, ell, fall), rel=1e-12)


def test_hand_computed_two_banks():
    # bank 1: a 100, b 9, all in asset 0; bank 2: a 50, b 4, half/half. ℓ = [1e-3, 2e-3], F = [1%, 0].
    # Losses: bank 1 = 1, bank 2 = 0.25; sales: bank 1 9 of asset 0, bank 2 1.0 split 0.5/0.5;
    # price falls: asset 0 = 1e-3·9.5 = 0.0095, asset 1 = 2e-3·0.5 = 0.001;
    # fire-sale losses: bank 1 = 100·0.0095 = 0.95, bank 2 = 25·0.0095 + 25·0.001 = 0.2625;
    # E = 10 + 10 = 20 → AV = 1.2125 / 20.
    a, b = np.array([100.0, 50.0]), np.array([9.0, 4.0])
    m = np.array([[1.0, 0.0], [0.5, 0.5]])
    ell, fall = np.array([1e-3, 2e-3]), np.array([0.01, 0.0])
    assert aggregate_vulnerability(a, m, b, ell, fall) == pytest.approx(1.2125 / 20, rel=1e-12)
    av, _ = _engine_av(a, m, b, ell, fall)
    assert av == pytest.approx(1.2125 / 20, rel=1e-9)
