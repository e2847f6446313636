"""Policy levers with start and end rounds, a backstop's announcement, redemption waves as
shocks, the capped flow-performance curve and hedges that close with their positions."""

import math

import numpy as np
import pytest

from firesale import Scenario, System, simulate
from firesale.errors import ConfigError
from firesale.scenario import parse_scenario
from firesale.testing import assert_batch_equals_single, assert_invariants

DEPTH, WAVE, DISCOUNT = 1000.0, 0.05, 0.10


def _fund_and_market() -> System:
    """An unlevered fund of 1,000 of bonds, no cash: a redemption wave of w sells w x NAV."""
    return System.from_records(
        [{"name": "fund", "type": "asset_manager", "cash": 0.0, "liabilities": 0.0}],
        [{"name": "bonds", "class": "treasury", "sigma0": 0.01, "depth": DEPTH, "max_discount": DISCOUNT,
          "capital_arrival": 0.0, "duration": 10.0}],
        [{"institution": "fund", "asset": "bonds", "quantity": 1000.0}],
    )


def _waves(rounds: int, **policy) -> Scenario:
    return Scenario(shocks=[{"institution": "fund", "redemption": WAVE, "round": r} for r in range(rounds)],
                    channels={"information": False}, market={"execution_alpha": 1.0}, max_rounds=8,
                    policy=policy)


def _purchases(start: int, end: int | None = None, **extra) -> dict:
    return {"purchases": {"assets": ["bonds"], **extra}, "timing": {"purchases": {"start": start, "end": end}}}


def test_purchases_act_only_inside_their_window():
    system = _fund_and_market()
    base, late, early = _waves(6), _waves(6, **_purchases(3)), _waves(6, **_purchases(0, 3))
    ds = simulate(system, [base, late, early])
    bought = ds.central_bank_purchases.sel(asset="bonds")
    assert np.all(bought.isel(scenario=1, round=slice(0, 3)) == 0.0)
    assert np.all(bought.isel(scenario=1, round=slice(3, 6)) > 0.0)
    assert np.all(bought.isel(scenario=2, round=slice(0, 3)) > 0.0)
    assert np.all(bought.isel(scenario=2, round=slice(3, 8)) == 0.0)
    # before the late programme starts, its run is the baseline's, exactly
    price = ds.price.sel(asset="bonds")
    assert np.array_equal(price.isel(scenario=1, round=slice(0, 3)), price.isel(scenario=0, round=slice(0, 3)))
    assert_invariants(simulate(system, [late, early], detail=True))
    assert_batch_equals_single(system, [base, late, early])


def test_every_lever_window_is_checked():
    with pytest.raises(ConfigError, match="not after start"):
        parse_scenario({"policy": {"timing": {"slr_exemption": {"start": 5, "end": 5}}}})
    with pytest.raises(ConfigError, match="announced at or before it starts"):
        parse_scenario({"policy": {"purchases": {"assets": ["x"], "announced": 4},
                                   "timing": {"purchases": {"start": 2}}}})


def test_a_lever_starting_after_the_shocks_is_still_reached():
    """A run does not stop before a policy event, even when nothing moves."""
    scenario = Scenario(shocks=[{"asset": "bonds", "price": -0.01}], max_rounds=10,
                        policy={"slr_exemption": True, "timing": {"slr_exemption": {"start": 6}}})
    ds = simulate(_fund_and_market(), scenario)
    assert int(ds.sizes["round"]) >= 7


def test_an_announcement_caps_the_discount_outside_buyers_require():
    """Outside demand prices p = f (1 - d (1 - exp(-δ/d))) with δ = Q/D the pressure (here a
    single wave: Q = w x 1000, no capital arriving, no decay). Announced in round 2 with an
    announced discount a and no money spent (daily cap 0), the price jumps to
    f (1 - a (1 - exp(-δ/a))) with the same pressure: the announcement alone lifts it."""
    announced = 0.02
    system = _fund_and_market()
    scenario = _waves(1, **_purchases(2, daily_cap=0.0, announced=2, announcement_discount=announced))
    ds = simulate(system, scenario)
    price = ds.price.sel(asset="bonds").isel(scenario=0)
    delta = WAVE * 1000.0 / DEPTH
    assert float(price.isel(round=1)) == pytest.approx(1 - DISCOUNT * (1 - math.exp(-delta / DISCOUNT)), rel=1e-9)
    assert float(price.isel(round=2)) == pytest.approx(1 - announced * (1 - math.exp(-delta / announced)), rel=1e-9)
    assert float(ds.central_bank_purchases.sum()) == 0.0


def test_redemption_waves_come_with_the_redemption_channel_off():
    system = _fund_and_market()
    on, off = _waves(2), _waves(2).updated(**{"channels.redemption": False})
    ds = simulate(system, [on, off])
    # the wave asks w x NAV; the fund, with no cash, sells that much (at pre-impact prices)
    assert float(ds.funding_need.isel(scenario=1, round=0).sum()) == pytest.approx(WAVE * 1000.0, rel=1e-12)
    assert float(ds.sold.isel(scenario=1, round=0).sum()) == pytest.approx(WAVE * 1000.0, rel=1e-12)
    # no flow-performance term in this fund: the two runs are the same
    assert np.array_equal(ds.price.isel(scenario=0), ds.price.isel(scenario=1))


def _flow_fund(cap: float | None) -> System:
    """A fund with a flow-performance sensitivity b and 20% cash, in a deep market: its NAV
    falls only with the price shock, so the flows follow the closed form."""
    return System.from_records(
        [{"name": "fund", "type": "asset_manager", "cash": 1e6, "liabilities": 0.0, "redemption_sensitivity": 2.0,
          "redemption_cap": cap}],
        [{"name": "bonds", "class": "corporate_ig", "sigma0": 0.01, "depth": 1e12}],
        [{"institution": "fund", "asset": "bonds", "quantity": 1000.0}],
    )


def test_capped_flow_performance_redemptions_follow_the_concave_closed_form():
    """Each round a NAV fall R triggers b |R| (1 - F/c) of NAV, F what has left so far: after
    rounds of falls R_t, F_t = F_{t-1} + b |R_t| (1 - F_{t-1}/c), so
    1 - F_T/c = prod_t (1 - b |R_t| / c); the redeemed amounts follow at each round's NAV."""
    cap, b = 0.05, 2.0
    # the cash buffer pays every redemption, so nothing is sold: the NAV moves with the
    # bonds' fundamental only, and each round's return is known
    shocks = [{"asset": "bonds", "price": -0.01, "round": r} for r in range(5)]
    scenario = Scenario(shocks=shocks, channels={"information": False}, max_rounds=6)
    capped, linear = (simulate(_flow_fund(c), scenario) for c in (cap, None))
    for ds in (capped, linear):
        assert float(ds.sold.sum()) == 0.0
    nav_before = float(_flow_fund(None).equity0[0])
    nav = nav_before
    used = 0.0
    redeemed_capped, redeemed_linear = [], []
    nav_l = nav_before
    for r in range(5):
        bonds_before = 1000.0 * 0.99 ** r
        loss = bonds_before * 0.01
        # capped fund
        nav_marked = nav - loss
        ret = nav_marked / nav - 1.0
        rate = b * -ret * (1.0 - used / cap)
        redeemed_capped.append(rate * nav_marked)
        used += rate
        nav = nav_marked * (1.0 - rate)
        # linear fund
        nav_lm = nav_l - loss
        rate_l = b * -(nav_lm / nav_l - 1.0)
        redeemed_linear.append(rate_l * nav_lm)
        nav_l = nav_lm * (1.0 - rate_l)
    got_c = capped.redeemed.isel(scenario=0).sum("institution").values[:5]
    got_l = linear.redeemed.isel(scenario=0).sum("institution").values[:5]
    np.testing.assert_allclose(got_c, redeemed_capped, rtol=1e-9)
    np.testing.assert_allclose(got_l, redeemed_linear, rtol=1e-9)
    assert got_c.sum() < got_l.sum()


def _basis_fund(close: bool) -> System:
    """Long 100 of bonds on repo, short 100 of futures on them with 2% initial margin."""
    return System.from_records(
        [{"name": "hf", "type": "hedge_fund", "cash": 3.0, "liabilities": 0.0, "close_hedges": close}],
        [{"name": "bonds", "class": "treasury", "sigma0": 0.005, "depth": 5000.0, "haircut": 0.02}],
        [{"institution": "hf", "asset": "bonds", "quantity": 100.0, "repo": 98.0, "derivative": -100.0,
          "initial_margin": 0.02}],
    )


def test_a_basis_fund_closes_its_futures_as_it_sells_its_bonds():
    """A volatility jump raises the futures' initial margin beyond the fund's cash: it sells
    bonds. Closing the hedge in step keeps notional / holdings at -1 every round, so the
    fund's net exposure to the price stays zero; without closing it ends net short."""
    scenario = Scenario(shocks=[{"asset": "bonds", "volatility": 3.0}], channels={"information": False},
                        max_rounds=6)
    closing, keeping = (simulate(_basis_fund(c), scenario, detail=True) for c in (True, False))
    for ds in (closing, keeping):
        assert_invariants(ds)
        assert float(ds.sold.sum()) > 0.0
    held = closing.holdings.sel(institution="hf", asset="bonds").isel(scenario=0)
    notional = closing.derivative_notional.sel(institution="hf").isel(scenario=0)
    np.testing.assert_allclose(notional.values, -held.values, rtol=1e-12)
    kept = keeping.derivative_notional.sel(institution="hf").isel(scenario=0)
    assert np.all(kept.values == -100.0)
    # the hedge released its initial margin with the position (2% x sigma ratio on what is closed)
    assert float(closing.margin_posted.isel(scenario=0, round=-1).sum()) < float(
        keeping.margin_posted.isel(scenario=0, round=-1).sum())


def test_a_cap_schedule_and_the_announcements_repricing():
    """Caps by round from the start (10, 20, then daily_cap 5) bound what is bought while
    the waves sell more; the announcement's repricing moves the fundamental by its return
    in the announcement round only."""
    system = _fund_and_market()
    scenario = _waves(6, **_purchases(1, daily_cap=5.0, daily_cap_by_round=[10.0, 20.0], announced=1,
                                      announcement_repricing=0.01))
    ds = simulate(system, scenario)
    bought = ds.central_bank_purchases.sel(asset="bonds").isel(scenario=0).values
    np.testing.assert_allclose(bought[:5], [0.0, 10.0, 20.0, 5.0, 5.0], rtol=1e-12)
    fundamental = ds.fundamental.sel(asset="bonds").isel(scenario=0).values
    np.testing.assert_allclose(fundamental[:4], [1.0, 1.01, 1.01, 1.01], rtol=1e-12)


def _ldi(lag: int | None) -> System:
    """A fund at equity / assets 20%, trigger = target 15%, in a deep market (no impact)."""
    return System.from_records(
        [{"name": "ldi", "type": "pension_fund", "cash": 0.0, "liabilities": 80.0, "leverage_trigger": 0.15,
          "leverage_target": 0.15, "recapitalisation_lag": lag}],
        [{"name": "gilt", "class": "treasury", "sigma0": 0.01, "depth": 1e12}],
        [{"institution": "ldi", "asset": "gilt", "quantity": 100.0}],
    )


def test_investors_recapitalise_after_their_lag():
    """A 10% fall takes equity / assets to 10/90: below the 15% trigger. Without investors
    the fund sells down to 15%; investors with lag L add c = (0.15 A - E) / 0.85 once it
    has been below for more than L rounds in a row, so with lag 0 it sells nothing and
    receives (13.5 - 10) / 0.85 in round 0. With lag 2 and falls in rounds 0-2 it sells in
    rounds 0 and 1 and is topped up in round 2."""
    falls = [{"asset": "gilt", "price": -0.10, "round": r} for r in range(3)]
    scenario = Scenario(shocks=falls[:1], channels={"information": False}, max_rounds=4)
    never, at_once = (simulate(_ldi(lag), scenario, detail=True) for lag in (None, 0))
    assert float(never.sold.sum()) > 0.0 and float(never.capital_out.min()) == 0.0
    assert float(at_once.sold.sum()) == 0.0
    added = -float(at_once.capital_out.isel(scenario=0, round=0).sum())
    assert added == pytest.approx((0.15 * 90.0 - 10.0) / 0.85, rel=1e-12)
    assert float(at_once.leverage_ratio.isel(scenario=0, round=0).sum()) == pytest.approx(0.15, rel=1e-12)
    assert_invariants(at_once)
    late = simulate(_ldi(2), scenario.updated(shocks=falls), detail=True)
    sold = late.sold.isel(scenario=0).sum("institution").values
    added = -np.diff(np.concatenate([[0.0], late.capital_out.isel(scenario=0).sum("institution").values]))
    assert sold[0] > 0 and sold[1] > 0 and sold[2] == 0.0
    assert added[0] == 0.0 and added[1] == 0.0 and added[2] > 0.0
    assert_invariants(late)


def test_outside_capital_arrives_after_its_delay():
    """A one-off sale leaves pressure P; outside capital absorbs the share a of it each
    round from round delay + 1: the price gap to fundamental stays put until then."""
    def system(delay: int) -> System:
        return System.from_records(
            [{"name": "fund", "type": "asset_manager", "cash": 0.0, "liabilities": 0.0}],
            [{"name": "bonds", "class": "treasury", "sigma0": 0.01, "depth": DEPTH, "capital_arrival": 0.2,
              "capital_delay": delay}],
            [{"institution": "fund", "asset": "bonds", "quantity": 1000.0}],
        )
    scenario = _waves(1)
    prompt, delayed = (simulate(system(d), scenario) for d in (0, 3))
    gap = {k: 1.0 - ds.price.sel(asset="bonds").isel(scenario=0).values for k, ds in (("0", prompt), ("3", delayed))}
    np.testing.assert_allclose(gap["3"][:4], gap["3"][0], rtol=1e-12)  # rounds 0-3: no capital yet
    assert gap["3"][4] < gap["3"][3]
    assert gap["0"][1] < gap["0"][0]


def test_futures_on_their_own_asset_close_with_the_cash_position_they_hedge():
    """The short futures sit on a futures asset (hedge_of = the bonds) whose price is its
    own: the fire sale in the bonds does not reach it, so the fund's hedge stops paying
    (the basis widens); what it sells of the bonds it closes of the futures."""
    system = System.from_records(
        [{"name": "hf", "type": "hedge_fund", "cash": 3.0, "liabilities": 0.0, "close_hedges": True}],
        [{"name": "bonds", "class": "treasury", "sigma0": 0.005, "depth": 5000.0, "haircut": 0.02},
         {"name": "futures", "class": "treasury", "sigma0": 0.005, "hedge_of": "bonds"}],
        [{"institution": "hf", "asset": "bonds", "quantity": 100.0, "repo": 98.0},
         {"institution": "hf", "asset": "futures", "quantity": 0.0, "derivative": -100.0, "initial_margin": 0.02}],
    )
    scenario = Scenario(shocks=[{"asset": "futures", "volatility": 3.0}], channels={"information": False},
                        max_rounds=6)
    ds = simulate(system, scenario, detail=True)
    assert_invariants(ds)
    held = ds.holdings.sel(institution="hf", asset="bonds").isel(scenario=0)
    assert float(held.isel(round=-1)) < 100.0
    np.testing.assert_allclose(ds.derivative_notional.sel(institution="hf").isel(scenario=0).values, -held.values,
                               rtol=1e-12)
    assert float(ds.price.sel(asset="futures").isel(scenario=0).min()) == 1.0  # no fire sale reaches it


def test_a_hedge_of_an_unknown_asset_is_an_error():
    from firesale.errors import DataError
    with pytest.raises(DataError, match="hedge_of.*no asset is named 'bund'"):
        System.from_records([{"name": "hf", "type": "hedge_fund", "cash": 1.0, "liabilities": 0.0}],
                            [{"name": "fut", "class": "treasury", "sigma0": 0.005, "hedge_of": "bund"}],
                            [{"institution": "hf", "asset": "fut", "quantity": 1.0}])
