"""Cont & Schaanning (2017), "Fire sales, indirect contagion and systemic stress testing":
the two-bank, one-asset check of DESIGN §3, run on the engine.

Π = [90, 70] marketable, Θ = [10, 20] illiquid, C = [4, 4.5]; ε = 0.2 on bank 1's Θ;
S = 1, B = 0.5, ADV = 50, σ = 0.02, c = 0.4, τ = 20 → D = c·sqrt(τ)·ADV/σ, δ = (1 − B/S)·D
= 2236.07; λ_max = 33.3, target 0.95·λ_max; α = 0.5. Published path: Γ_1 = 0.385889
(34.73 sold), Ψ = 0.0077059, price 0.992294, losses [0.559716, 0.539411], equity
[1.440284, 3.960589], holdings [54.8441, 69.4606]; Γ_1 = 0.315088 in round 2 and 0.145351
in round 3, then it stops.
"""

import math

import numpy as np
import pytest

from firesale import Scenario, System, simulate

LAMBDA_MAX = 33.3
DEPTH = 0.4 * math.sqrt(20) * 50 / 0.02


def _system() -> System:
    banks = [
        {"name": "bank_1", "type": "bank", "liabilities": 90 + 10 - 4.0},
        {"name": "bank_2", "type": "bank", "liabilities": 70 + 20 - 4.5},
    ]
    for bank in banks:
        bank.update(leverage_trigger=1 / LAMBDA_MAX, leverage_target=1 / (0.95 * LAMBDA_MAX), liquidation="pro_rata")
    assets = [
        {"name": "marketable", "class": "corporate_ig", "sigma0": 0.02, "adv": 50.0, "impact": "exponential",
         "depth": DEPTH, "impact_floor": 0.5},
        {"name": "illiquid_1", "class": "other", "sigma0": 0.01},
        {"name": "illiquid_2", "class": "other", "sigma0": 0.01},
    ]
    holdings = [
        {"institution": "bank_1", "asset": "marketable", "quantity": 90.0},
        {"institution": "bank_2", "asset": "marketable", "quantity": 70.0},
        {"institution": "bank_1", "asset": "illiquid_1", "quantity": 10.0},
        {"institution": "bank_2", "asset": "illiquid_2", "quantity": 20.0},
    ]
    return System.from_records(banks, assets, holdings)


@pytest.fixture(scope="module")
def ds():
    scenario = Scenario(
        shocks=[{"asset": "illiquid_1", "price": -0.2}],
        channels={"slr": False, "var": False, "information": False},
        market={"execution_alpha": 0.5},
    )
    return simulate(_system(), scenario).isel(scenario=0)


def test_depth():
    assert (1 - 0.5) * DEPTH == pytest.approx(2236.07, abs=0.005)


def test_first_round(ds):
    r0 = ds.isel(round=0)
    units_sold = ds.holdings0.sel(asset="marketable") - r0.holdings.sel(asset="marketable")
    gamma = units_sold / ds.holdings0.sel(asset="marketable")
    assert float(gamma.sel(institution="bank_1")) == pytest.approx(0.385889, abs=5e-7)
    assert float(gamma.sel(institution="bank_2")) == 0.0
    assert float(units_sold.sum()) == pytest.approx(34.73, abs=5e-3)
    price = float(r0.price.sel(asset="marketable"))
    assert 1 - price == pytest.approx(0.0077059, abs=5e-8)
    assert price == pytest.approx(0.992294, abs=5e-7)
    losses = (r0.marked_equity - r0.equity).values  # fire-sale losses of the round
    np.testing.assert_allclose(losses, [0.559716, 0.539411], atol=5e-7)
    np.testing.assert_allclose(r0.equity.values, [1.440284, 3.960589], atol=5e-7)
    value = (r0.holdings.sel(asset="marketable") * price).values
    np.testing.assert_allclose(value, [54.8441, 69.4606], atol=5e-5)


def test_later_rounds_and_stop(ds):
    held = np.concatenate([[90.0], ds.holdings.sel(institution="bank_1", asset="marketable").values])
    gamma = (held[:-1] - held[1:]) / held[:-1]
    np.testing.assert_allclose(gamma[:3], [0.385889, 0.315088, 0.145351], atol=5e-7)
    assert np.all(gamma[3:] == 0)
    assert int(ds.rounds) == 3
    assert float(ds.sold.sel(institution="bank_2").sum()) == 0.0
