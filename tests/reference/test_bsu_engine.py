"""Breuer-Summer-Urosevic: the engine's round iteration, with BSU's switches, converges to
the closed form's least fire-sale equilibrium.

Switches: leverage trigger = target = 1/λ̄ (a bank above the bound delevers exactly back to
it, pro rata), square-root impact on the cumulative units sold (``market.pressure_in_units``:
Q = S'θ), every sale settling at the final price (``market.settlement = "final"``: equity
is e − S·Δ as in BSU), no other channel. Then round n of the engine is BSU's iteration
Δ_{n+1} = Φ(Δ_n) from Δ = 0, and where it stops is the lower equilibrium.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firesale import Scenario, System, simulate
from firesale.models.bsu import SquareRootImpact, lower_equilibrium
from firesale.testing import assert_invariants

SWITCHES = dict(channels={"slr": False, "var": False, "information": False, "margin": False, "rollover": False,
                          "unsecured": False, "redemption": False},
                market={"pressure_in_units": True, "settlement": "final", "intermediation": False,
                        "execution_alpha": 0.0},
                max_rounds=5000, tolerance=1e-15)


def _engine(equity, securities, other, bound, sigma, adv, kappa, shock=None):
    n, k = securities.shape
    banks = [{"name": f"bank_{i}", "type": "bank", "liabilities": float(securities[i].sum() + other[i] - equity[i]),
              "leverage_trigger": 1 / bound, "leverage_target": 1 / bound, "liquidation": "pro_rata"}
             for i in range(n)]
    assets = [{"name": f"bond_{j}", "class": "treasury", "sigma0": float(sigma[j]), "adv": float(adv[j]),
               "impact": "sqrt", "impact_kappa": kappa} for j in range(k)]
    assets.append({"name": "loans", "class": "other", "sigma0": 0.01})
    holdings = [{"institution": f"bank_{i}", "asset": f"bond_{j}", "quantity": float(securities[i, j])}
                for i in range(n) for j in range(k) if securities[i, j] > 0]
    holdings += [{"institution": f"bank_{i}", "asset": "loans", "quantity": float(other[i])} for i in range(n)]
    system = System.from_records(banks, assets, holdings)
    ds = simulate(system, Scenario(**SWITCHES), detail=True)
    assert_invariants(ds)
    return ds.isel(scenario=0)


def test_the_appendix_toy_converges_to_its_lower_equilibrium():
    e, s, loans = np.array([28.0, 80, 65]), np.array([[145.0], [435], [300]]), np.array([1170.0, 1245, 1190])
    ds = _engine(e, s, loans, 44.0, [1.0], [1 / 0.000022], 1.0)
    fall = 1.0 - float(ds.price.isel(round=-1).sel(asset="bond_0"))
    assert fall == pytest.approx(0.0564801, abs=5e-7)  # BSU Appendix A3: 0.056480, the stable lower point
    # the equity of every bank is e - S·Δ, as in BSU
    np.testing.assert_allclose(ds.equity.isel(round=-1).values, e - s[:, 0] * fall, rtol=1e-9)


@st.composite
def bsu_systems(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, k = draw(st.integers(1, 6)), draw(st.integers(1, 3))
    securities = rng.uniform(20, 300, (n, k)) * (rng.random((n, k)) < 0.8)
    securities[np.arange(n), rng.integers(0, k, n)] += 10.0
    other = rng.uniform(200, 1500, n)
    bound = float(rng.uniform(20, 40))
    leverage = rng.uniform(0.8 * bound, 1.15 * bound, n)
    equity = (securities.sum(axis=1) + other) / leverage
    sigma = rng.uniform(0.003, 0.02, k)
    adv = rng.uniform(50, 2000, k)
    return equity, securities, other, bound, sigma, adv


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bsu_systems())
def test_engine_equals_the_lower_equilibrium(case):
    equity, securities, other, bound, sigma, adv = case
    impact = SquareRootImpact(sigma, adv, kappa=1.5)
    closed = lower_equilibrium(equity, securities, other, bound, impact)
    ds = _engine(equity, securities, other, bound, sigma, adv, 1.5)
    fall = 1.0 - ds.price.isel(round=-1).values[: securities.shape[1]]
    np.testing.assert_allclose(fall, closed.price_fall, rtol=1e-9, atol=1e-12)
