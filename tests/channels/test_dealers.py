"""Dealer intermediation: the sign of the feedback, the inter-dealer market, conservation.

The same client sale hits two systems of four dealers that differ only in capital. With
ample SLR headroom the dealers absorb the flow at a price concession and lean against the
wind, so the price comes back; at their SLR trigger they have no room, pass the flow on,
mark their own books down and sell: the price trends (DESIGN §2 step 4, the narrative's
"functioning vs stressed" table).
"""

import numpy as np
import pytest

from firesale import Scenario, System, load_preset, simulate
from firesale.analytics.regimes import regimes
from firesale.channels.dealers import Positions, Room, fill, intermediate
from firesale.testing import assert_invariants

DEPTH = 4000.0
CLIENT_SALE = 40.0


def _dealers(equity: float) -> System:
    """Four dealers: cash 50, Treasuries 250, loans 200 (assets 500), SLR trigger = target 5%."""
    institutions = [{"name": f"d{i}", "type": "dealer", "group": "ABCD"[i], "cash": 50.0,
                     "liabilities": 500.0 - equity, "slr_trigger": 0.05, "slr_target": 0.05} for i in range(4)]
    assets = [{"name": "ust", "class": "treasury", "sigma0": 0.005, "depth": DEPTH},
              {"name": "loans", "class": "other", "sigma0": 0.005}]
    holdings = [{"institution": f"d{i}", "asset": a, "quantity": q}
                for i in range(4) for a, q in (("ust", 250.0), ("loans", 200.0))]
    return System.from_records(institutions, assets, holdings)


SALE = Scenario(shocks=[{"asset": "ust", "client_sale": CLIENT_SALE}], max_rounds=12, market={"mean_reversion": 0.0})


@pytest.fixture(scope="module")
def ample():
    return simulate(_dealers(equity=60.0), SALE, detail=True)  # SLR 12%: room 700 each


@pytest.fixture(scope="module")
def bound():
    # SLR 5%: at the trigger, no room; the loop gain measured for the feedback row of the regime table
    return simulate(_dealers(equity=25.0), SALE, detail=True, loop_gain=True)


def test_ample_dealers_absorb_and_the_price_mean_reverts(ample):
    assert_invariants(ample)
    one = ample.isel(scenario=0).sel(asset="ust")
    price = one.price.values
    # they absorb all 40 at a concession of half its impact: 0.5 x 40 / 4000 = 0.5%
    assert float(one.dealer_purchases[0]) == pytest.approx(CLIENT_SALE, rel=1e-12)
    assert 1.0 - price[0] == pytest.approx(0.5 * CLIENT_SALE / DEPTH, rel=1e-9)
    fall = 1.0 - price.min()
    assert price[9] >= price.min() + 0.5 * fall  # at least half the fall recovered within 10 rounds
    assert price[9] == pytest.approx(1.0 - 0.005 * 0.8 ** 9, rel=1e-9)  # 20% of the pressure bought back a round
    assert float(one.dealer_net.sum()) > 0 and (one.dealer_net.values >= 0).all()  # net buyers throughout
    assert float(ample.sold.sum()) == 0.0  # nobody is forced
    reg = regimes(ample).isel(scenario=0).sel(asset="ust")
    assert (reg.persistence.values[1:] < 1.0).all()  # the discount shrinks every round
    assert int(reg.regime.max()) == 0


def test_slr_bound_dealers_pass_it_on_and_the_price_trends(bound):
    assert_invariants(bound)
    one = bound.isel(scenario=0).sel(asset="ust")
    price = one.price.values
    assert float(one.dealer_purchases.sum()) == 0.0  # no room: nothing absorbed
    assert 1.0 - price[0] == pytest.approx(CLIENT_SALE / DEPTH, rel=1e-9)  # the whole sale hits outside buyers
    assert price[-1] <= price[0]  # no recovery
    assert price[-1] < price.min() + 0.5 * (1.0 - price.min())
    assert float(one.dealer_net.sum()) < 0  # net sellers
    # the loss of 250 x 1% takes each dealer's SLR to 22.5 / 497.5: it shrinks to 22.5 / 5%
    # = 450, selling 47.5; all four sell 190 — 4.75 per unit of the sale that moved the price
    assert float(one.forced_sales[1]) == pytest.approx(190.0, rel=1e-9)
    # measured loop gain: a further sale x lowers the price by x / DEPTH, so each dealer loses
    # 250 x / DEPTH of equity and of assets and must shrink to E / 5%: it sells
    # (1 / 5% - 1) x 250 / DEPTH per unit of x; four dealers: 4 x 19 x 250 / 4000 = 4.75 = 190 / 40
    gain = regimes(bound).isel(scenario=0).sel(asset="ust").gain
    assert float(gain[1]) == pytest.approx(4 * (1 / 0.05 - 1) * 250.0 / DEPTH, rel=1e-9)
    assert float(gain[1]) == pytest.approx(190.0 / CLIENT_SALE, rel=1e-9)
    assert float(gain[1]) > 1.0
    assert int(regimes(bound).regime.sel(asset="ust").max()) == 1


def _credit_house_and_three() -> System:
    """A holds 300 of the 450 corporate bonds near its SLR trigger; B-D have room."""
    institutions = [{"name": "A", "group": "A", "cash": 50.0, "liabilities": 473.0, "slr_trigger": 0.05,
                     "slr_target": 0.05}]
    institutions += [{"name": g, "group": g, "cash": 50.0, "liabilities": 460.0, "slr_trigger": 0.05,
                      "slr_target": 0.05} for g in "BCD"]
    assets = [{"name": "corp", "class": "corporate_ig", "sigma0": 0.004, "depth": 3000.0},
              {"name": "ust", "class": "treasury", "sigma0": 0.005, "depth": 50000.0},
              {"name": "loans", "class": "other", "sigma0": 0.005}]
    holdings = [{"institution": "A", "asset": "corp", "quantity": 300.0},
                {"institution": "A", "asset": "loans", "quantity": 150.0}]
    for g in "BCD":
        holdings += [{"institution": g, "asset": "corp", "quantity": 50.0},
                     {"institution": g, "asset": "ust", "quantity": 200.0},
                     {"institution": g, "asset": "loans", "quantity": 200.0}]
    return System.from_records(institutions, assets, holdings)


def test_a_frozen_inter_dealer_market_concentrates_the_loss_on_the_dealer_hit_first():
    system = _credit_house_and_three()
    base = Scenario(shocks=[{"asset": "corp", "price": -0.02}], max_rounds=30)
    runs = [base.updated(**{"market.layoff_share": omega}) for omega in (0.0, 1.0)]
    ds = simulate(system, runs, detail=True)
    assert_invariants(ds)
    loss = ds.initial_equity - ds.equity.isel(round=-1)
    share_a = (loss.sel(institution="A") / loss.sum("institution")).values
    exposure_a = 300.0 / 450.0  # A's share of the corporate bonds: the loss share of a shared fall
    assert share_a[0] > 0.9 > exposure_a  # frozen: A dumps into the market, the others lean and recover
    assert share_a[1] < 0.4 < exposure_a  # open: A lays its sales off to B-D, who share the loss
    assert float(ds.interdealer.isel(scenario=0).sum()) == 0.0
    assert float(ds.interdealer.isel(scenario=1).sum()) > 0.0


def test_freezing_the_dealer_market_preset_costs_the_system_more():
    """With dealers rationing balance sheet, little is laid off between dealers in the
    preset, so the freeze (ω = 0) changes the loss little; it still does not lower it."""
    preset = load_preset("dealer_market")
    runs = [preset.scenario, preset.scenario.updated(**{"market.layoff_share": 0.0})]
    ds = simulate(preset.system, runs)
    assert float(ds.interdealer.isel(scenario=0).sum()) > 0.0 == float(ds.interdealer.isel(scenario=1).sum())
    loss = (ds.initial_equity - ds.equity.isel(round=-1)).sum("institution").values
    assert loss[1] > loss[0]  # measured 18.35 against 17.96


def test_the_inter_dealer_market_creates_no_inventory():
    rng = np.random.default_rng(7)
    s, d, k = 5, 4, 3
    share = rng.dirichlet(np.ones(d), size=k).T  # (D, K), each asset's shares sum to 1
    dealer, asset = np.divmod(np.arange(d * k), k)
    positions = Positions(dealer=dealer, asset=asset, share=share[dealer, asset], n_dealers=d, n_assets=k)
    client = rng.uniform(-5, 50, (s, k))
    dealer_sales = rng.uniform(0, 20, (s, d * k)) * (rng.random((s, d * k)) < 0.5)
    room = Room(slr=rng.uniform(0, 60, (s, d)), leverage=np.full((s, d), np.inf), var=rng.uniform(0, 40, (s, d * k)))
    counted = rng.random((s, k)) < 0.7
    start = Room(slr=room.slr.copy(), leverage=room.leverage.copy(), var=room.var.copy())
    out = intermediate(client, dealer_sales, positions, room, counted, rng.uniform(0, 1, s), np.full(s, 0.2),
                       rng.uniform(0, 30, (s, k)), rng.uniform(100, 500, (s, d)))
    # every unit offered ends with a dealer or with outside buyers
    np.testing.assert_allclose(positions.by_asset(out.bought) + out.outside,
                               client + positions.by_asset(dealer_sales), rtol=1e-12)
    assert (out.bought >= 0).all()
    # nobody takes more than its room
    assert (positions.by_dealer(out.bought * counted[:, asset]) <= start.slr * (1 + 1e-12) + 1e-12).all()
    assert (out.bought <= start.var * (1 + 1e-12) + 1e-12).all()


def test_a_room_that_binds_is_used_up_exactly():
    """A dealer whose SLR room binds takes all of it and has none left: exactly none, not
    the residue of room − Σ taken, which here is 1.1e-16 and, left in, made the dealer a
    taker of the next step's flow in one summation order and not in another."""
    positions = Positions(dealer=np.zeros(3, dtype=int), asset=np.arange(3), share=np.ones(3), n_dealers=1,
                          n_assets=3)
    slr_room = 0.7565469048855985
    room = Room(slr=np.array([[slr_room]]), leverage=np.array([[np.inf]]), var=np.full((1, 3), np.inf))
    wanted = np.array([[0.8151375368082697, 0.9136280215049445, 0.610569418009508]])
    taken = fill(wanted, room, np.ones((1, 3), dtype=bool), positions)
    assert slr_room - positions.by_dealer(taken)[0, 0] > 0.0  # the residue the old update left
    assert room.slr[0, 0] == 0.0
    assert float(taken.sum()) == pytest.approx(slr_room, rel=1e-15)
    np.testing.assert_allclose(taken / wanted, slr_room / wanted.sum(), rtol=1e-15)  # pro rata
