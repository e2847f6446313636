"""The four engine switches that nest the Bank of England / Oxford INET fire-sale stress
test (Farmer, Kleinnijenhuis, Nahai-Williamson & Wetzer, "Foundations of system-wide
stress testing"), each checked against numbers worked out by hand from its rule:

* the multiplicative impact law, :math:`p = f e^{-Q/D}` (Cifuentes, Ferrucci & Shin 2005);
* orders cleared as the next round opens (``market.clearing = "next_round"``);
* sale proceeds held as cash for a round (``market.proceeds = "hold"``);
* liabilities that cash and proceeds do not repay early (``other_liabilities``).

One bank and one bond each time; the information channel is off, so sellers face no
spread and a sale executes at :math:`p^{pre} + α (p^{post} - p^{pre})`, α = 0.5. Every run
also checks assets = debt + repo + equity for every institution and round.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from firesale import simulate
from firesale.channels.impact import (
    LAW_CODES,
    impact_for_price,
    impact_fraction,
    pressure_for_impact,
    price_from_pressure,
)
from firesale.errors import DataError
from firesale.scenario import Scenario, parse_scenario
from firesale.system import System

SHOCK = -0.05
HELD = 100.0
LAMBDA = 0.1  # leverage trigger = target: equity / assets


def _identity(ds) -> None:
    """assets = debt + repo + equity for every institution, scenario and round."""
    gap = ds.total_assets - ds.debt - ds.repo - ds.equity
    scale = float(np.maximum(abs(ds.total_assets), abs(ds.debt)).max()) + 1.0
    assert float(abs(gap).max()) <= 1e-12 * scale, float(abs(gap).max())


def _bond(impact: str = "linear", depth: float = math.inf) -> dict:
    return {"name": "bond", "class": "treasury", "sigma0": 0.01, "impact": impact, "depth": depth}


def _system(bank: dict, bond: dict) -> System:
    return System.from_records([{"name": "bank", **bank}], [bond],
                               [{"institution": "bank", "asset": "bond", "quantity": HELD}])


def _scenario(max_rounds: int = 20, shocks: tuple = (), **market) -> Scenario:
    return parse_scenario({"shocks": [{"asset": "bond", "price": SHOCK}, *shocks], "max_rounds": max_rounds,
                           "channels": {"information": False}, "market": market})


def _bank(ds, name: str, r: int) -> float:
    return float(ds[name].isel(scenario=0, round=r).sel(institution="bank"))


def _price(ds, r: int) -> float:
    return float(ds.price.isel(scenario=0, round=r).sel(asset="bond"))


def _held(ds, r: int) -> float:
    return float(ds.holdings.isel(scenario=0, round=r).sel(institution="bank", asset="bond"))


# --------------------------------------------------------------------------- multiplicative law
def test_multiplicative_law_is_f_exp_minus_q_over_d_and_its_inverses_round_trip():
    """Ψ = 1 - e^{-Q/D} of the fundamental; pressure_for_impact and impact_for_price invert
    it; purchases lift the price by e^{|Q|/D}; successive sales compose by multiplying."""
    q = np.array([[0.0, 1.0, 37.5, 400.0, 2500.0]])
    depth = np.array([250.0, 1000.0, 80.0, 5000.0, 700.0])
    law = np.full(5, LAW_CODES["multiplicative"])
    zeros, ones = np.zeros(5), np.ones(5)
    relative = np.ones(5, dtype=bool)
    fundamental = np.array([[0.9, 1.0, 0.75, 1.2, 0.5]])
    psi = impact_fraction(q, law, depth, zeros, ones, ones, ones)
    np.testing.assert_allclose(psi, 1.0 - np.exp(-q / depth), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(pressure_for_impact(psi, law, depth, zeros, ones, ones, ones), q, rtol=1e-12,
                               atol=1e-12)
    price = price_from_pressure(fundamental, ones, psi, relative=relative)
    np.testing.assert_allclose(price, fundamental * np.exp(-q / depth), rtol=1e-12)
    back = impact_for_price(fundamental, ones, price, np.full(5, np.inf), relative)
    np.testing.assert_allclose(back, psi, rtol=1e-12, atol=1e-15)
    # a purchase: e^{+|Q|/D}
    up = price_from_pressure(fundamental, ones, impact_fraction(-q, law, depth, zeros, ones, ones, ones),
                             relative=relative)
    np.testing.assert_allclose(up, fundamental * np.exp(q / depth), rtol=1e-12)
    # two sales: the price after both is the price after the first times e^{-Q2/D}
    both = price_from_pressure(fundamental, ones, impact_fraction(2 * q, law, depth, zeros, ones, ones, ones),
                               relative=relative)
    np.testing.assert_allclose(both, price * np.exp(-q / depth), rtol=1e-12)
    # an infinitely deep market does not move, and no pressure reaches an impact
    deep = np.full(5, np.inf)
    assert np.all(impact_fraction(q, law, deep, zeros, ones, ones, ones) == 0.0)
    assert np.all(pressure_for_impact(psi, law, deep, zeros, ones, ones, ones) == np.inf)


DEPTH = 500.0
DEBT = 90.0  # equity 10; after the 5% shock 5 / 95 < leverage_minimum: default


def _defaulter(**bank) -> System:
    return _system({"cash": 0.0, "liabilities": DEBT, "leverage_minimum": 0.08, **bank},
                   _bond("multiplicative", DEPTH))


@pytest.mark.parametrize("in_units", [False, True], ids=["value", "units"])
def test_a_defaulter_moves_a_multiplicative_market_to_f_exp_minus_q_over_d(in_units):
    """A bank in default sells all 100 units at f = 0.95: the pressure is 95 of value (or 100
    units x the t0 price 1), the price falls to f e^{-Q/D}, the sale executes at the
    midpoint, and the creditors take the proceeds. A second shock, -10% in round 1,
    multiplies the impacted price: 0.95 x 0.9 x e^{-Q/D}."""
    ds = simulate(_defaulter(), _scenario(shocks=({"asset": "bond", "price": -0.1, "round": 1},),
                                          pressure_in_units=in_units), detail=True)
    _identity(ds)
    f = 1.0 + SHOCK
    pressure = HELD * (1.0 if in_units else f)
    post = f * math.exp(-pressure / DEPTH)
    assert _price(ds, 0) == pytest.approx(post, rel=1e-12)
    assert float(ds.pre_trade_price.isel(scenario=0, round=0).sel(asset="bond")) == pytest.approx(f, rel=1e-12)
    assert _bank(ds, "defaulted", 0) == 1.0 and _held(ds, 0) == 0.0
    proceeds = HELD * (f + post) / 2.0
    assert _bank(ds, "proceeds", 0) == pytest.approx(proceeds, rel=1e-12)
    assert _bank(ds, "sold", 0) == pytest.approx(HELD * f, rel=1e-12)
    assert _bank(ds, "cash", 0) == pytest.approx(0.0, abs=1e-12)
    assert _bank(ds, "debt", 0) == pytest.approx(DEBT - proceeds, rel=1e-12)
    assert _bank(ds, "equity", 0) == pytest.approx(proceeds - DEBT, rel=1e-12)
    assert _price(ds, 1) == pytest.approx(f * 0.9 * math.exp(-pressure / DEPTH), rel=1e-12)


# --------------------------------------------------------------------------- next-round clearing
def test_next_round_clearing_leaves_the_last_rounds_orders_unexecuted():
    """max_rounds = 1: the defaulter's orders would execute as round 1 opens, which never
    comes: it keeps its 100 units, the price stays at the shocked 0.95 and nothing is repaid.
    Same-round clearing executes them. With max_rounds = 2 the round-0 orders execute."""
    system = _defaulter()
    f = 1.0 + SHOCK
    ds = simulate(system, [_scenario(1, clearing="next_round"), _scenario(1, clearing="same_round"),
                           _scenario(2, clearing="next_round")], detail=True)
    _identity(ds)
    left, same, two = (ds.isel(scenario=s) for s in range(3))
    bank = {"institution": "bank"}
    assert float(left.holdings.sel(asset="bond", **bank)[0]) == HELD
    assert float(left.price.sel(asset="bond")[0]) == f
    assert float(left.sold.sel(**bank)[0]) == 0.0 and float(left.proceeds.sel(**bank)[0]) == 0.0
    assert float(left.defaulted.sel(**bank)[0]) == 1.0  # in default, not liquidated
    assert float(left.debt.sel(**bank)[0]) == DEBT
    assert float(left.equity.sel(**bank)[0]) == pytest.approx(HELD * f - DEBT, rel=1e-12)
    post = f * math.exp(-HELD * f / DEPTH)
    for run in (same, two):
        assert float(run.holdings.sel(asset="bond", **bank)[0]) == 0.0
        assert float(run.price.sel(asset="bond")[0]) == pytest.approx(post, rel=1e-12)
        assert float(run.debt.sel(**bank)[0]) == pytest.approx(DEBT - HELD * (f + post) / 2.0, rel=1e-12)


@pytest.mark.parametrize("bank", [
    {"cash": 0.0, "liabilities": DEBT, "leverage_minimum": 0.08},  # defaults, sells all in round 0
    {"cash": 10.0, "liabilities": 100.0, "leverage_trigger": LAMBDA, "leverage_target": LAMBDA,
     "repay_with_cash": True},  # deleverages over many rounds
], ids=["default", "deleveraging"])
def test_next_round_clearing_equals_same_round_when_the_run_stops_first(bank):
    """Nothing happens between a round's close and the next one's opening: a run that stops
    before max_rounds gives every record, every round, the same under both clearings."""
    system = _system(bank, _bond("multiplicative", 5000.0))
    ds = simulate(system, [_scenario(60, clearing="same_round"), _scenario(60, clearing="next_round")], detail=True)
    _identity(ds)
    assert ds.sizes["round"] < 60 and float(ds.sold.isel(scenario=0).sum()) > 0.0
    for name in ds.data_vars:
        a, b = ds[name].isel(scenario=0).values, ds[name].isel(scenario=1).values
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name


def test_next_round_clearing_drops_only_the_last_rounds_orders():
    """A bank deleveraging over many rounds, stopped at max_rounds = 3: rounds 0 and 1 are
    the same under both clearings, record by record; in round 2 same-round clearing sells
    again, next-round clearing leaves the order: holdings, cash, debt and price stay at
    their round-1 values (no mean reversion)."""
    system = _deleveraging(5000.0)
    ds = simulate(system, [_scenario(3, clearing="same_round"), _scenario(3, clearing="next_round")], detail=True)
    _identity(ds)
    same, left = ds.isel(scenario=[0]), ds.isel(scenario=[1])
    for name in ds.data_vars:
        if "round" in ds[name].dims:
            a, b = (run[name].isel(round=slice(0, 2)).values for run in (same, left))
            assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name
    assert _bank(same, "sold", 2) > 0.0 and _held(same, 2) < _held(same, 1)
    assert _bank(left, "sold", 2) == 0.0 and _bank(left, "proceeds", 2) == 0.0
    assert _held(left, 2) == _held(left, 1) and _price(left, 2) == _price(left, 1)
    assert _bank(left, "cash", 2) == _bank(left, "cash", 1) and _bank(left, "debt", 2) == _bank(left, "debt", 1)


# --------------------------------------------------------------------------- proceeds held
def _deleveraging(depth: float = math.inf, **bank) -> System:
    """Cash 10, 100 units of the bond, liabilities 100: after the 5% shock assets 105,
    equity 5, below the 10% leverage trigger; restoring it sheds 105 - 5 / 0.1 = 55."""
    return _system({"cash": 10.0, "liabilities": 100.0, "leverage_trigger": LAMBDA, "leverage_target": LAMBDA,
                    "repay_with_cash": True, **bank}, _bond("linear", depth))


def test_held_proceeds_repay_debt_a_round_later_in_a_deep_market():
    """Wanted 55, cash 10: the bank repays 10 with cash and sells 45 at 0.95. Repaying, its
    debt falls to 100 - 10 - 45 = 45 at once; holding, the debt falls by the cash used only
    (to 90), its cash is 10 - 10 + 45 = 45, and in round 1 that cash repays 45 (no sale)."""
    cash, debt, f = 10.0, 100.0, 1.0 + SHOCK
    assets = cash + HELD * f
    wanted = assets - (assets - debt) / LAMBDA
    used = min(cash, wanted)
    sale = wanted - used
    assert (wanted, sale) == pytest.approx((55.0, 45.0))
    ds = simulate(_deleveraging(), [_scenario(proceeds="repay"), _scenario(proceeds="hold")], detail=True)
    _identity(ds)
    repay, hold = ds.isel(scenario=[0]), ds.isel(scenario=[1])
    for run in (repay, hold):
        assert _bank(run, "sold", 0) == pytest.approx(sale, rel=1e-12)
        assert _held(run, 0) == pytest.approx(HELD - sale / f, rel=1e-12)
        assert _bank(run, "equity", 0) == pytest.approx(assets - debt, rel=1e-12)
    assert _bank(repay, "cash", 0) == pytest.approx(0.0, abs=1e-12)
    assert _bank(repay, "debt", 0) == pytest.approx(debt - used - sale, rel=1e-12)
    assert _bank(repay, "sold", 1) == 0.0
    assert _bank(hold, "cash", 0) == pytest.approx(cash - used + sale, rel=1e-12)
    assert _bank(hold, "debt", 0) == pytest.approx(debt - used, rel=1e-12)
    # round 1: equity / assets = 5 / 95 is still below 10%; the held 45 repays debt
    assert _bank(hold, "sold", 1) == 0.0
    assert _bank(hold, "cash", 1) == pytest.approx(0.0, abs=1e-12)
    assert _bank(hold, "debt", 1) == pytest.approx(debt - used - sale, rel=1e-12)
    assert _bank(hold, "total_assets", 1) == pytest.approx((assets - debt) / LAMBDA, rel=1e-12)


def test_held_proceeds_in_a_linear_market_by_hand():
    """Depth D = 2000, linear law p = f - Q/D. Round 0 as in the deep market, but the 45 sold
    moves the price to f - 45/D and executes at the midpoint. Holding, the bank enters
    round 1 with those proceeds as cash and debt 90: it sheds A - E/λ again, repays with its
    cash first and sells the rest, max(wanted - cash, 0), whose proceeds it holds again."""
    depth, cash, debt, f = 2000.0, 10.0, 100.0, 1.0 + SHOCK
    ds = simulate(_deleveraging(depth), [_scenario(proceeds="hold"), _scenario(proceeds="repay")], detail=True)
    _identity(ds)
    hold, repay = ds.isel(scenario=[0]), ds.isel(scenario=[1])

    def trade(units_held, cash_held, equity, pre, pressure):
        """One round of the bank's deleveraging: (sale value, units sold, price after,
        proceeds, cash used, equity after, pressure after)."""
        assets = cash_held + units_held * pre
        wanted = assets - equity / LAMBDA
        used = min(cash_held, wanted)
        sale = max(wanted - cash_held, 0.0)
        units = sale / pre
        post = f - (pressure + sale) / depth
        executed = (pre + post) / 2.0
        after = equity + (units_held - units) * (post - pre) + units * (executed - pre)
        return sale, units, post, units * executed, used, after, pressure + sale

    sale0, units0, post0, proceeds0, used0, equity0, q0 = trade(HELD, cash, cash + HELD * f - debt, f, 0.0)
    for run in (hold, repay):
        assert _bank(run, "sold", 0) == pytest.approx(sale0, rel=1e-12)
        assert _price(run, 0) == pytest.approx(post0, rel=1e-12)
        assert _bank(run, "proceeds", 0) == pytest.approx(proceeds0, rel=1e-12)
        assert _bank(run, "equity", 0) == pytest.approx(equity0, rel=1e-12)
    assert _bank(repay, "cash", 0) == pytest.approx(0.0, abs=1e-12)
    assert _bank(repay, "debt", 0) == pytest.approx(debt - used0 - proceeds0, rel=1e-12)
    cash0, debt0 = cash - used0 + proceeds0, debt - used0
    assert _bank(hold, "cash", 0) == pytest.approx(cash0, rel=1e-12)
    assert _bank(hold, "debt", 0) == pytest.approx(debt0, rel=1e-12)
    sale1, units1, post1, proceeds1, used1, equity1, _ = trade(HELD - units0, cash0, equity0, post0, q0)
    assert used1 == pytest.approx(cash0) and sale1 > 0.0  # round 1 uses all the held cash, and sells more
    assert _bank(hold, "sold", 1) == pytest.approx(sale1, rel=1e-12)
    assert _price(hold, 1) == pytest.approx(post1, rel=1e-12)
    assert _bank(hold, "equity", 1) == pytest.approx(equity1, rel=1e-12)
    assert _bank(hold, "cash", 1) == pytest.approx(cash0 - used1 + proceeds1, rel=1e-12)
    assert _bank(hold, "debt", 1) == pytest.approx(debt0 - used1, rel=1e-12)
    assert _held(hold, 1) == pytest.approx(HELD - units0 - units1, rel=1e-12)


# --------------------------------------------------------------------------- other liabilities
@pytest.mark.parametrize(("other", "used", "repaid_from_sale"), [(98.0, 2.0, 0.0), (80.0, 10.0, 10.0)],
                         ids=["2_repayable", "20_repayable"])
def test_other_liabilities_cap_what_cash_and_proceeds_repay(other, used, repaid_from_sale):
    """Debt 100 of which ``other`` is not repaid early: cash repays at most 100 - other.
    Wanted 55, cash 10: the bank sells 55 - 10 = 45 whatever the cap and keeps the cash it
    could not use. Repayable 2: cash repays 2, 8 stays, the 45 of proceeds stay too (debt
    98). Repayable 20: cash repays 10, the proceeds 10 more (debt 80), 35 stays. Round 1:
    the bank is still below its trigger but has nothing left to repay and sells no more."""
    cash, debt, f = 10.0, 100.0, 1.0 + SHOCK
    sale = cash + HELD * f - (cash + HELD * f - debt) / LAMBDA - cash
    ds = simulate(_deleveraging(other_liabilities=other), _scenario(), detail=True)
    _identity(ds)
    assert _bank(ds, "sold", 0) == pytest.approx(sale, rel=1e-12) and sale == pytest.approx(45.0)
    assert _bank(ds, "debt", 0) == pytest.approx(debt - used - repaid_from_sale, rel=1e-12)
    assert _bank(ds, "debt", 0) == pytest.approx(other, rel=1e-12)
    assert _bank(ds, "cash", 0) == pytest.approx(cash - used + sale - repaid_from_sale, rel=1e-12)
    assert _bank(ds, "equity", 0) == pytest.approx(cash + HELD * f - debt, rel=1e-12)
    assert _bank(ds, "total_assets", 0) == pytest.approx(other + cash + HELD * f - debt, rel=1e-12)
    assert float(ds.sold.isel(round=slice(1, None)).sum()) == 0.0
    assert _bank(ds, "debt", -1) == pytest.approx(other, rel=1e-12)


@pytest.mark.parametrize("other", [0.0, 95.0])
def test_a_defaulters_creditors_take_everything_whatever_other_liabilities(other):
    """Cash 2, 100 units, debt 95; a 10% fall leaves assets 92 < 95: default. Its creditors
    take the cash and the proceeds (deep market: 90), part of the debt repayable early or not."""
    ds = simulate(_system({"cash": 2.0, "liabilities": 95.0, "leverage_minimum": 0.08, "other_liabilities": other},
                          _bond()),
                  parse_scenario({"shocks": [{"asset": "bond", "price": -0.1}], "channels": {"information": False}}),
                  detail=True)
    _identity(ds)
    assert _bank(ds, "defaulted", 0) == 1.0 and _held(ds, 0) == 0.0
    assert _bank(ds, "cash", 0) == pytest.approx(0.0, abs=1e-12)
    assert _bank(ds, "debt", 0) == pytest.approx(95.0 - 2.0 - HELD * 0.9, rel=1e-12)
    assert _bank(ds, "equity", 0) == pytest.approx(2.0 + HELD * 0.9 - 95.0, rel=1e-12)


def test_other_liabilities_above_liabilities_is_refused_naming_the_field():
    with pytest.raises(DataError) as err:
        _deleveraging(other_liabilities=100.5)
    message = str(err.value)
    assert "other_liabilities" in message and "above liabilities = 100" in message
    assert err.value.problems[0].where.endswith("field other_liabilities")
