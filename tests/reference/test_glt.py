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


# The four banks and three assets, derived by hand (exact fractions in brackets):
#   holdings H = [[50,30,20],[40,60,50],[80,70,50],[30,40,50]] → total assets a = [100,150,200,120],
#   equity E = [20,30,40,25] (ΣE = 115) → leverage b = (a - E)/E = [4, 4, 4, 3.8];
#   shock F = [10%, 0, 0], impact ℓ = 0.001 per unit of value sold on every asset.
#   Direct losses a·m'F = H[:,0]·0.1 = [5, 4, 8, 3]; sales b × loss = [20, 16, 32, 11.4], pro rata:
#     asset 0: 20·0.5 + 16·40/150 + 32·0.4 + 11.4·0.25 = 29.91667 (359/12)
#     asset 1: 20·0.3 + 16·0.4 + 32·0.35 + 11.4/3     = 27.4      (137/5)
#     asset 2: 20·0.2 + 16/3 + 32·0.25 + 11.4·5/12    = 22.08333  (265/12)
#   price falls ℓ × sales = [0.0299167, 0.0274, 0.0220833]; fire-sale losses H × falls:
#     bank 1: 50·0.0299167 + 30·0.0274 + 20·0.0220833 = 2.7595
#     bank 2: 40·0.0299167 + 60·0.0274 + 50·0.0220833 = 3.9448333
#     bank 3: 80·0.0299167 + 70·0.0274 + 50·0.0220833 = 5.4155
#     bank 4: 30·0.0299167 + 40·0.0274 + 50·0.0220833 = 3.0976667
#   AV = 15.2175 / 115 = 0.1323261 (6087/46000); IV = loss / E = [0.137975, 0.1314944, 0.1353875, 0.1239067].
#   Systemicness S_n = (1'AML m_n) · sales_n / E with 1'AML = ℓ·[200, 200, 170]:
#     bank 1: 0.001·(0.5·200 + 0.3·200 + 0.2·170)·20 / 115 = 0.194·20/115 = 0.0337391
#     bank 2: 0.001·(200·40 + 200·60 + 170·50)/150·16 / 115 = 0.0264348
#     bank 3: 0.001·(0.4·200 + 0.35·200 + 0.25·170)·32 / 115 = 0.0535652
#     bank 4: 0.001·(0.25·200 + 200/3 + 170·5/12)·11.4 / 115 = 0.0185870   (sum = AV)
FOUR_BANKS = np.array([[50.0, 30, 20], [40, 60, 50], [80, 70, 50], [30, 40, 50]])
FOUR_EQUITY = np.array([20.0, 30, 40, 25])


def test_four_banks_three_assets_by_hand():
    a = FOUR_BANKS.sum(axis=1)
    m, b = FOUR_BANKS / a[:, None], (a - FOUR_EQUITY) / FOUR_EQUITY
    ell, fall = np.full(3, 0.001), np.array([0.1, 0.0, 0.0])
    assert aggregate_vulnerability(a, m, b, ell, fall) == pytest.approx(6087 / 46000, rel=1e-12)
    np.testing.assert_allclose(indirect_vulnerability(a, m, b, ell, fall),
                               [0.137975, 3.9448333333 / 30, 0.1353875, 3.0976666667 / 25], rtol=1e-9)
    np.testing.assert_allclose(systemicness(a, m, b, ell, fall),
                               [0.194 * 20 / 115, 0.001 * 28500 / 150 * 16 / 115, 0.1925 * 32 / 115,
                                0.001 * (50 + 200 / 3 + 850 / 12) * 11.4 / 115], rtol=1e-12)
    # the engine with GLT's switches gives the same numbers
    av, iv = _engine_av(a, m, b, ell, fall)
    assert av == pytest.approx(6087 / 46000, rel=1e-9)
    np.testing.assert_allclose(iv, indirect_vulnerability(a, m, b, ell, fall), rtol=1e-9)


def test_multi_round_extension_is_the_geometric_series():
    from firesale.models.glt import vulnerability_rounds

    a = FOUR_BANKS.sum(axis=1)
    m, b = FOUR_BANKS / a[:, None], (a - FOUR_EQUITY) / FOUR_EQUITY
    ell, fall = np.full(3, 0.001), np.array([0.1, 0.0, 0.0])
    path = vulnerability_rounds(a, m, b, ell, fall, rounds=200)
    assert path[0] == pytest.approx(aggregate_vulnerability(a, m, b, ell, fall), rel=1e-12)
    assert (np.diff(path[:20]) > 0).all() and (np.diff(path) >= 0).all()
    assert path[-1] == pytest.approx(float(vulnerability_rounds(a, m, b, ell, fall)[0]), rel=1e-9)
    with pytest.raises(ValueError, match="spectral radius"):
        vulnerability_rounds(a, m, b, np.full(3, 0.01), fall)


@pytest.mark.parametrize("change, name", [
    ({"b": np.array([4.0, -1.0, 4.0, 3.8])}, "leverage"),
    ({"ell": np.array([0.001, -0.001, 0.001])}, "impact"),
    ({"m": FOUR_BANKS[:3] / FOUR_BANKS[:3].sum(axis=1, keepdims=True)}, "weights"),
    ({"a": np.array([100.0, 0.0, 200.0, 120.0])}, "assets"),
])
def test_bad_glt_input_names_the_argument(change, name):
    from firesale.errors import ConfigError

    a = FOUR_BANKS.sum(axis=1)
    args = {"a": a, "m": FOUR_BANKS / a[:, None], "b": (a - FOUR_EQUITY) / FOUR_EQUITY, "ell": np.full(3, 0.001),
            "f": np.array([0.1, 0.0, 0.0])} | change
    with pytest.raises(ConfigError) as info:
        aggregate_vulnerability(args["a"], args["m"], args["b"], args["ell"], args["f"])
    assert f"GLT argument {name}" in str(info.value)
