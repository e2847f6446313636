"""Hypothesis strategies drawing small *valid* systems and scenarios.

``systems()`` draws institutions with SLR, leverage and VaR constraints, every
liquidation policy and impact law, overlapping holdings and a valid correlation matrix;
``scenarios(system)`` draws price and volatility shocks and market parameters. The
switches of the Bank of England / INET model are drawn too: the multiplicative impact
law, liabilities not repaid early (``other_liabilities``), orders cleared the next round
and proceeds held for a round.
"""

from __future__ import annotations

import numpy as np

try:
    from hypothesis import strategies as st
except ImportError as err:  # pragma: no cover
    raise ImportError('firesale.testing.strategies needs hypothesis: pip install "firesale[test]"') from err

from firesale.matrices import column
from firesale.scenario import Scenario
from firesale.system import ASSET_CLASSES, System

__all__ = ["random_system", "systems", "scenarios", "system_and_scenarios"]

_LAWS = ("linear", "exponential", "sqrt")
_POLICIES = ("pecking_order", "pro_rata", "initial_weights")


def random_system(seed: int, n: int, k: int, brakes: bool = False) -> System:
    """A valid random System of ``n`` institutions and ``k`` assets (the draw behind :func:`systems`).

    With ``brakes``, some institutions with an SLR are dealers (making markets, some
    deleveraging only below their SLR minimum), some are recapitalised after a lag, close
    their hedges or cap their redemptions, and some assets set the outside demand's
    ``max_discount``, ``capital_arrival`` and ``capital_delay``; these come from a second stream of random
    numbers, so the rest of the draw is the one without them.

    A third stream draws the Bank of England / INET switches, always: about a quarter of
    the assets take the multiplicative impact law (at their drawn depth) and about a third
    of the institutions an ``other_liabilities`` in [0, liabilities] (all of it one time in
    five), so the draw of everything else is the one without them."""
    rng = np.random.default_rng(seed)
    extra = np.random.default_rng([seed, 1])
    inet = np.random.default_rng([seed, 2])
    assets = []
    for j in range(k):
        law = _LAWS[rng.integers(3)]
        asset = {
            "name": f"asset_{j}",
            "class": ASSET_CLASSES[rng.integers(1, len(ASSET_CLASSES) - 1)] if j else "treasury",
            "sigma0": float(rng.uniform(0.002, 0.03)),
            "adv": float(rng.uniform(5, 50)),
            "impact": law,
            "depth": float(rng.uniform(100, 5000)),
            "impact_floor": float(rng.uniform(0, 0.5)),
            "impact_kappa": float(rng.uniform(0.5, 2.0)),
            "haircut": float(rng.choice([0.0, 0.02, 0.05, 0.15])),
            "haircut_cap": 0.6,
        }
        if brakes:
            if extra.random() < 0.5:
                asset["max_discount"] = float(extra.uniform(0.01, 0.3))
            if extra.random() < 0.5:
                asset["capital_arrival"] = float(extra.uniform(0.0, 0.2))
            if extra.random() < 0.3:
                asset["capital_delay"] = int(extra.integers(0, 4))
        if inet.random() < 0.25:
            asset["impact"] = "multiplicative"
        assets.append(asset)
    if k > 1 and rng.random() < 0.5:
        assets[-1]["class"] = "other"  # an illiquid book
    rho = float(rng.uniform(0.0, 0.6)) if k > 1 else 0.0
    corr = np.full((k, k), rho) + (1 - rho) * np.eye(k)
    sigma0 = np.array([a["sigma0"] for a in assets])
    tradable = np.array([a["class"] != "other" for a in assets])
    holdings = []
    institutions = []
    for i in range(n):
        q = rng.uniform(0, 100, size=k) * (rng.random(k) < 0.8)
        q[rng.integers(k)] += 10.0
        trading = rng.uniform(0.3, 1.0, size=k)
        cash = float(rng.uniform(0, 20))
        total = cash + q.sum()
        equity_ratio = float(rng.uniform(0.03, 0.12))
        # some positions financed on repo, up to what the haircut allows, within the debt
        haircut = np.array([a["haircut"] for a in assets])
        loans = q * (1 - haircut) * rng.uniform(0.5, 1.0, size=k) * (rng.random(k) < 0.4)
        loans *= min(1.0, 0.8 * total * (1 - equity_ratio) / max(loans.sum(), 1e-300))
        # some swaps and futures (LDI receive-fixed, basis shorts), initial margin out of cash
        hedges = rng.uniform(-1.0, 2.0, size=k) * q * (rng.random(k) < 0.25)
        margin_rates = np.where(hedges != 0, rng.uniform(0.0, 0.05, size=k), 0.0)
        margin_rates *= min(1.0, cash / max(float(np.sum(margin_rates * np.abs(hedges))), 1e-300))
        inst = {
            "name": f"inst_{i}",
            "group": "ABCD"[i % 4],
            "cash": cash,
            "liabilities": total * (1 - equity_ratio) - float(loans.sum()),
            "liquidation": _POLICIES[rng.integers(3)],
            "repay_with_cash": bool(rng.random() < 0.3),
        }
        if rng.random() < 0.7:
            trigger = float(rng.uniform(0.02, equity_ratio))
            inst.update(slr_trigger=trigger, slr_target=trigger + float(rng.uniform(0, 0.01)))
            if rng.random() < 0.3:
                inst["slr_minimum"] = trigger * 0.6
            if brakes and extra.random() < 0.6:
                inst["type"] = "dealer"
                if extra.random() < 0.5:
                    inst.update(slr_deleveraging="minimum", slr_minimum=trigger * float(extra.uniform(0.5, 0.9)))
        if rng.random() < 0.5:
            trigger = float(rng.uniform(0.02, equity_ratio))
            inst.update(leverage_trigger=trigger, leverage_target=trigger + float(rng.uniform(0, 0.01)))
            # Adrian-Shin buyers only where their own buying cannot feed itself: the loop
            # gain Σ_k q_k / (D_k · target) of a buyer in linear or exponential markets
            # below 1/10 at t0 depth (above 1 the model diverges and the engine stops it with
            # ModelDivergenceError; the information channel can thin depth several-fold and
            # dealers and capital shocks add to the buying)
            depth = np.array([a["depth"] if a["impact"] != "sqrt" else 0.0 for a in assets])
            held = (q > 0) & tradable
            gain = float(np.sum(np.divide(q, depth * equity_ratio, out=np.full(k, np.inf), where=depth > 0)[held]))
            if rng.random() < 0.3 and gain < 0.1:
                inst.update(leverage_targeting="two_sided", leverage_target=equity_ratio,
                            leverage_trigger=min(trigger, equity_ratio))
        book = q * trading * tradable * sigma0
        var0 = 2.3263478740408408 * float(np.sqrt(book @ corr @ book))
        if rng.random() < 0.4 and var0 > 0:
            inst["var_limit"] = var0 * float(rng.uniform(1.01, 1.5))  # at rest at t0
        if rng.random() < 0.3:  # a fund whose investors redeem after losses
            inst.update(type="asset_manager", redemption_sensitivity=float(rng.uniform(0.5, 5.0)),
                        first_mover=float(rng.uniform(0.0, 1.0)), swing_pricing=bool(rng.random() < 0.5))
            if rng.random() < 0.3:
                inst["redemption_gate"] = float(rng.uniform(0.02, 0.2))
        if rng.random() < 0.4:
            inst.update(repo_rollover_threshold=float(rng.uniform(0.02, equity_ratio)),
                        repo_rollover_share=float(rng.uniform(0.1, 0.5)))
        if rng.random() < 0.4:
            inst.update(short_term_debt=float(inst["liabilities"] * rng.uniform(0.0, 0.3)),
                        run_threshold=float(rng.uniform(0.02, equity_ratio)), run_share=float(rng.uniform(0.1, 0.5)))
        if brakes:
            # investors, hedges and redemption curves that act over time
            if "leverage_trigger" in inst and extra.random() < 0.5:
                inst["recapitalisation_lag"] = int(extra.integers(0, 4))
            if extra.random() < 0.3:
                inst["close_hedges"] = True
            if inst.get("redemption_sensitivity") and extra.random() < 0.5:
                inst["redemption_cap"] = float(extra.uniform(0.01, 0.2))
        if inet.random() < 0.35:  # liabilities that cash and proceeds do not repay early
            inst["other_liabilities"] = float(inst["liabilities"] * (1.0 if inet.random() < 0.2 else inet.random()))
        institutions.append(inst)
        for j in range(k):
            if q[j] > 0:
                holdings.append({"institution": f"inst_{i}", "asset": f"asset_{j}", "quantity": float(q[j]),
                                 "trading_fraction": float(trading[j]), "repo": float(loans[j]),
                                 "derivative": float(hedges[j]), "initial_margin": float(margin_rates[j])})
    lent = sum(h["repo"] for h in holdings)
    if lent > 0 and rng.random() < 0.5:  # a money-market fund funding part of the repo
        institutions.append({
            "name": "mmf", "type": "money_market_fund", "group": "MMF", "cash": float(rng.uniform(0, 5)),
            "liabilities": 0.0, "repo_lending": float(lent * rng.uniform(0.2, 1.0)),
            "redemption_sensitivity": float(rng.uniform(0.0, 5.0)),
        })
    correlations = []
    if k > 1:
        correlations = [{"asset_a": f"asset_{a}", "asset_b": f"asset_{b}", "correlation": rho}
                        for a in range(k) for b in range(a + 1, k)]
    return System.from_records(institutions, assets, holdings, correlations, name="random", currency="bn")


@st.composite
def systems(draw, max_institutions: int = 6, max_assets: int = 4, brakes: bool = False) -> System:
    """A valid System of 1..max_institutions institutions and 1..max_assets assets."""
    n = draw(st.integers(1, max_institutions))
    k = draw(st.integers(1, max_assets))
    return random_system(draw(st.integers(0, 2**32 - 1)), n, k, brakes=brakes)


@st.composite
def scenarios(draw, system: System, count: int = 1, brakes: bool = False) -> list[Scenario]:
    """``count`` scenarios with random shocks (price falls up to 15%, volatility up to 3x,
    client sales to dealers up to 30% of an asset's t0 holdings, capital added or paid out,
    only paid out by a two-sided leverage targeter)
    and market parameters
    (execution, mean reversion, the inter-dealer layoff share, clearing in the same or the
    next round, proceeds repaying debt or held for a round). With ``brakes``, every
    mechanism is on (intermediation, information) and the brakes of the feedback loop are
    drawn too: outside demand, resilience, dealers' balance-sheet cost, anchored and capped
    volatility, depth floor and spread cap, a relative price tolerance, and policies on
    dates (an SLR exemption from a round, purchases with a cap schedule and an
    announcement)."""
    out = []
    for s in range(count):
        shocks = []
        for name in system.asset_names:
            if draw(st.booleans()):
                shocks.append({"asset": name, "price": draw(st.floats(-0.15, 0.02)),
                               "round": draw(st.integers(0, 2))})
            if draw(st.integers(0, 4)) == 0:
                shocks.append({"asset": name, "volatility": draw(st.floats(1.0, 3.0))})
            if draw(st.integers(0, 5)) == 0:
                shocks.append({"asset": name, "repo_rate": draw(st.floats(0.0, 0.5)), "round": draw(st.integers(0, 2))})
            if draw(st.integers(0, 3)) == 0:
                supply = float(column(system.holdings, system.asset_index(name)).sum())
                shocks.append({"asset": name, "client_sale": draw(st.floats(0.0, 0.3)) * supply,
                               "round": draw(st.integers(0, 2))})
        for inst in system.institutions:
            if draw(st.integers(0, 7)) == 0:
                # capital added to an Adrian-Shin buyer scales its target book, and with it
                # the loop gain its draw keeps below 1/10 (a gain past 1 diverges, and the
                # engine stops the run with FS604): such a buyer only pays capital out
                most = 0.0 if inst.leverage_targeting == "two_sided" else 10.0
                shocks.append({"institution": inst.name, "capital": draw(st.floats(-10.0, most)),
                               "round": draw(st.integers(0, 2))})
            if inst.type in ("asset_manager", "money_market_fund") and draw(st.integers(0, 3)) == 0:
                shocks.append({"institution": inst.name, "redemption": draw(st.floats(0.0, 0.3)),
                               "round": draw(st.integers(0, 2))})
        data = {
            "name": f"scenario_{s}",
            "shocks": shocks,
            "max_rounds": draw(st.integers(1 + max((sh.get("round", 0) for sh in shocks), default=0), 15)),
            "market": {"execution_alpha": draw(st.floats(0.0, 1.0)), "mean_reversion": draw(st.floats(0.0, 0.3)),
                       "layoff_share": draw(st.floats(0.0, 1.0)), "pressure_in_units": draw(st.booleans()),
                       "settlement": draw(st.sampled_from(["round", "final"])),
                       "clearing": draw(st.sampled_from(["same_round", "next_round"])),
                       "proceeds": draw(st.sampled_from(["repay", "hold"]))},
        }
        if brakes:
            data["market"].update(intermediation=True, outside_demand=draw(st.booleans()),
                                  resilience=draw(st.floats(0.0, 1.0)), balance_sheet_cost=draw(st.floats(0.0, 20.0)))
            data["channels"] = {"information": True}
            data["volatility"] = {"anchor": draw(st.floats(0.0, 0.5)),
                                  "cap": draw(st.sampled_from([float("inf"), 1.5, 3.0, 10.0]))}
            data["information"] = {"depth_floor": draw(st.floats(0.0, 1.0)),
                                   "spread_cap": draw(st.sampled_from([float("inf"), 1.5, 4.0]))}
            data["price_tolerance"] = draw(st.sampled_from([0.0, 1e-6, 1e-3]))
            # policies on dates: a lever switched on from a round, purchases with a cap
            # schedule and an announcement
            horizon = data["max_rounds"]
            policy: dict = {"timing": {}}
            if draw(st.booleans()):
                policy["slr_exemption"] = True
                policy["timing"]["slr_exemption"] = {"start": draw(st.integers(0, horizon))}
            if draw(st.booleans()):
                start = draw(st.integers(0, horizon))
                policy["purchases"] = {
                    "assets": draw(st.lists(st.sampled_from(system.asset_names), min_size=1, max_size=2, unique=True)),
                    "daily_cap": draw(st.floats(0.0, 50.0)),
                    "daily_cap_by_round": draw(st.lists(st.floats(0.0, 50.0), max_size=3)),
                    "announced": draw(st.integers(0, start)),
                    "announcement_discount": draw(st.sampled_from([None, 0.0, 0.01, 0.05])),
                    "announcement_repricing": draw(st.floats(-0.02, 0.05)),
                }
                policy["timing"]["purchases"] = {"start": start, "end": draw(st.sampled_from([None, start + 1,
                                                                                             start + 5]))}
            data["policy"] = policy
        out.append(Scenario.model_validate(data))
    return out


@st.composite
def system_and_scenarios(draw, count: int = 3, max_institutions: int = 6, max_assets: int = 4, brakes: bool = False):
    """A system with ``count`` scenarios on it (``brakes``: every mechanism on, see
    :func:`scenarios`)."""
    system = draw(systems(max_institutions=max_institutions, max_assets=max_assets, brakes=brakes))
    return system, draw(scenarios(system, count=count, brakes=brakes))
