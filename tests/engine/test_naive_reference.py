"""Cross-check of the batched engine against an independent per-institution loop.

``benchmarks/naive_loop.py`` re-implements the round (the balance-sheet mechanism with
outside buyers) with Python loops over scenarios, rounds and institutions, each
institution working on its own positions only. On small random systems that exercise every
mechanism (SLR with the exemption, leverage targeting incl. two-sided buys, VaR with a
non-identity correlation, defaults by shock and by minimum ratios, cash-first repayment,
all three liquidation policies and impact laws, an untradable asset, a market with
infinite depth) and several scenarios (price shocks in several rounds, volatility
shocks, mean reversion, execution alpha, switched-off channels), the two must agree to
1e-10 relative on final equity, prices, rounds and total sales.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.special import ndtri

from firesale import Scenario, System
from firesale.channels import BALANCE_SHEET_CHANNELS
from firesale.engine.simulate import simulate_arrays
from firesale.engine.state import Inputs, ScenarioArrays

ROOT = Path(__file__).resolve().parents[2]


def _load_naive():
    name = "firesale_bench_naive_loop"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "naive_loop.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


naive = _load_naive()

RTOL = 1e-10
CLASSES = ("treasury", "agency_mbs", "corporate_ig", "corporate_hy", "equity")
LAWS = ("linear", "exponential", "sqrt")
POLICIES = ("pecking_order", "pro_rata", "initial_weights")


def random_system(seed: int, n: int = 9, k: int = 7) -> System:
    """A small random system; the last asset is untradable ('other'), asset 0 a Treasury."""
    rng = np.random.default_rng(seed)
    # ---- assets
    classes = ["treasury"] + [CLASSES[1 + j % 4] for j in range(k - 2)] + ["other"]
    held = np.zeros((n, k))
    for i in range(n):
        picks = rng.choice(k, size=rng.integers(3, k + 1), replace=False)
        held[i, picks] = rng.lognormal(3.0, 1.0, size=picks.size)
    held[:, 0] += rng.uniform(5, 30, size=n)  # everyone holds some Treasuries
    # Two-sided targeters (i % 5 == 4) are small: a levered buyer large against market
    # depth feeds on its own purchases and prices explode (a property of the model).
    held[4::5] *= 0.1
    market_size = held.sum(axis=0)
    assets = []
    for j in range(k):
        law = LAWS[j % 3]
        row = {
            "name": f"a{j}",
            "class": classes[j],
            "sigma0": float(rng.uniform(0.004, 0.03)),
            "impact": law,
            "depth": float(market_size[j] * rng.uniform(2.0, 6.0)),
            "adv": float(market_size[j] * rng.uniform(0.5, 2.0)),
        }
        if law == "exponential":
            row["impact_floor"] = float(rng.uniform(0.2, 0.6))
        if law == "sqrt":
            row["impact_kappa"] = float(rng.uniform(0.5, 1.5))
        assets.append(row)
    assets[1]["depth"] = float("inf")  # a market no sale moves (linear law)
    assets[1]["impact"] = "linear"
    # ---- correlation: a one-factor model, not the identity
    loadings = rng.uniform(0.2, 0.8, size=k)
    corr = np.outer(loadings, loadings)
    np.fill_diagonal(corr, 1.0)
    correlations = [
        {"asset_a": f"a{a}", "asset_b": f"a{b}", "correlation": float(corr[a, b])}
        for a in range(k) for b in range(a + 1, k)
    ]
    # ---- institutions
    trading = rng.uniform(0.3, 1.0, size=(n, k))
    tradable = np.array([c != "other" for c in classes])
    sigma0 = np.array([a["sigma0"] for a in assets])
    institutions, holdings = [], []
    for i in range(n):
        cash = float(rng.uniform(0, 10))
        total = cash + held[i].sum()
        eq_ratio = float(rng.uniform(0.05, 0.10))
        inst = {
            "name": f"i{i}",
            "cash": cash,
            "liabilities": total * (1 - eq_ratio),
            "liquidation": POLICIES[i % 3],
            "repay_with_cash": bool(i % 4 == 1),
        }
        kind = i % 5
        if kind in (0, 3):  # SLR bank; at t0 its exposure is its total assets, so SLR = eq_ratio
            inst.update(slr_minimum=0.02, slr_trigger=round(eq_ratio * 0.97, 6), slr_target=round(eq_ratio, 6))
        if kind in (1, 3):  # leverage targeter
            inst.update(leverage_minimum=0.025, leverage_trigger=round(eq_ratio * 0.98, 6),
                        leverage_target=round(eq_ratio * 1.01, 6))
        if kind == 4:  # two-sided (Adrian-Shin) targeter sitting just below its target
            inst.update(leverage_trigger=round(eq_ratio * 0.99, 6), leverage_target=round(eq_ratio * 1.0001, 6),
                        leverage_targeting="two_sided")
        if kind in (2, 3):  # VaR desk, limit near the t0 VaR
            book = held[i] * tradable * trading[i] * sigma0
            var0 = float(ndtri(0.99) * np.sqrt(book @ corr @ book))
            inst.update(var_limit=var0 * float(rng.uniform(1.02, 1.3)), var_confidence=0.99)
        institutions.append(inst)
        for j in np.flatnonzero(held[i]):
            holdings.append({"institution": f"i{i}", "asset": f"a{j}", "quantity": float(held[i, j]),
                             "trading_fraction": float(trading[i, j])})
    return System.from_records(institutions, assets, holdings, correlations, name=f"random{seed}")


#: The naive loop implements the balance-sheet mechanism with outside buyers only.
BALANCE_SHEET_ONLY = {"channels.information": False, "market.intermediation": False}


def scenarios(system: System) -> list[Scenario]:
    return [sc.updated(**BALANCE_SHEET_ONLY) for sc in _scenarios(system)]


def _scenarios(system: System) -> list[Scenario]:
    a = system.asset_names
    first, last = system.institution_names[0], system.institution_names[-1]
    return [
        Scenario(name="price", shocks=[{"asset": a[2], "price": -0.05}, {"asset": a[3], "price": -0.03}]),
        Scenario(
            name="vol_and_reversion",
            shocks=[{"asset": a[2], "volatility": 2.5}, {"asset": a[4], "volatility": 1.8, "price": -0.02}],
            market={"mean_reversion": 0.2, "execution_alpha": 0.3},
        ),
        Scenario(
            name="default_exempt",
            shocks=[{"asset": a[3], "price": -0.02}, {"institution": first, "default": True, "round": 1}],
            policy={"slr_exemption": True},
            market={"execution_alpha": 1.0},
        ),
        Scenario(
            name="two_rounds",
            shocks=[{"asset": a[2], "price": -0.03}, {"asset": a[5], "price": -0.04, "round": 2},
                    {"asset": a[0], "price": 0.01, "round": 2}],
            market={"mean_reversion": 0.1, "execution_alpha": 0.0},
            volatility={"ewma_lambda": 0.8},
        ),
        Scenario(
            name="leverage_off",
            shocks=[{"asset": a[2], "price": -0.06}, {"institution": last, "default": True}],
            channels={"leverage": False},
            max_rounds=7,
        ),
        Scenario(name="rally", shocks=[{"asset": a[3], "price": 0.03}, {"asset": a[4], "price": 0.02}]),
    ]


def _agree(name, got, want, scale):
    """|got - want| <= 1e-10 · max(|want|, 1e-6 · scale): relative, with a floor for values near zero."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    bound = RTOL * np.maximum(np.abs(want), 1e-6 * scale)
    err = np.abs(got - want)
    assert np.all(err <= bound), (
        f"{name}: naive loop and engine differ; max |diff| {err.max():.3g} at {np.unravel_index(err.argmax(), err.shape)}"
        f" (naive {got.flat[err.argmax()]!r}, engine {want.flat[err.argmax()]!r})"
    )


SEEDS = (1, 2, 3, 4)


@pytest.fixture(scope="module")
def runs():
    out = []
    for seed in SEEDS:
        system = random_system(seed)
        inputs = Inputs.from_system(system)
        scen = ScenarioArrays.from_scenarios(system, scenarios(system))
        out.append((seed, system, simulate_arrays(inputs, scen, detail=True), naive.simulate_naive(inputs, scen)))
    return out


@pytest.mark.parametrize("index", range(len(SEEDS)), ids=[f"seed{s}" for s in SEEDS])
def test_naive_loop_matches_engine(runs, index):
    seed, system, engine, ref = runs[index]
    scale = float(system.total_assets0.sum())
    np.testing.assert_array_equal(ref.rounds, engine.rounds, err_msg="rounds")
    np.testing.assert_array_equal(ref.defaulted, engine.final.defaulted, err_msg="defaulted")
    _agree("final equity", ref.equity, engine.final.equity, scale)
    _agree("final prices", ref.price, engine.final.price, 1.0)
    _agree("total sales", ref.sales_total, engine.sales_total, scale)
    _agree("cash", ref.cash, engine.final.cash, scale)
    _agree("debt", ref.debt, engine.final.debt, scale)
    inputs = Inputs.from_system(system)
    _agree("holdings", ref.holdings, inputs.to_dense(engine.final.q), scale)
    _agree("trading holdings", ref.trading_holdings, inputs.to_dense(engine.final.q_trading), scale)
    _agree("sigma", ref.sigma, engine.final.sigma, 1.0)
    # the engine runs a frozen scenario on with the batch; the naive loop stops it
    steps = engine.records["price"].shape[1]
    assert ref.steps.max() == steps


def test_the_systems_exercise_every_mechanism(runs):
    """Guard against a cross-check that passes because nothing happens."""
    binding = np.concatenate([np.asarray(r[2].records["binding"]).ravel() for r in runs])
    for c, channel in enumerate(BALANCE_SHEET_CHANNELS):  # the loop models the balance-sheet mechanism
        assert (binding == c).any(), f"channel {channel} never binds"
    purchases = sum(float(np.asarray(r[2].records["purchases"]).sum()) for r in runs)
    assert purchases > 0, "no two-sided buys"
    endogenous = any(
        (r[2].final.defaulted & ~ScenarioArrays.from_scenarios(r[1], scenarios(r[1])).default_shock.any(axis=1)).any()
        for r in runs
    )
    assert endogenous, "no default other than by shock"
    assert max(int(r[2].rounds.max()) for r in runs) >= 4, "no multi-round cascade"
    policies = {int(p) for r in runs for p in Inputs.from_system(r[1]).liquidation}
    laws = {int(x) for r in runs for x in Inputs.from_system(r[1]).impact_law}
    assert policies == {0, 1, 2} and laws == {0, 1, 2}
    assert any(not np.allclose(Inputs.from_system(r[1]).correlation, np.eye(r[1].n_assets)) for r in runs)
