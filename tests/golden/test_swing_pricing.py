"""Fund redemptions and swing pricing: first-mover advantage and who bears the cost of selling.

One unlevered fund, no cash buffer, 100 of corporate bonds (linear depth 500, sellers paid
the midpoint, α = 0.5), flow-performance sensitivity 3 and first-mover term 1. Corporates
fall 2%: NAV −2%. Without swing pricing investors redeem 3·2%·(1 + 1) = 12% of NAV; with
it the first-mover advantage is gone and they redeem 3·2% = 6%. Round 0 by hand:

* no swing: redeem 0.12·98 = 11.76 → sell 12 units at 0.98; pressure 11.76 → price
  0.98 − 11.76/500 = 0.95648, executed at 0.96824 → proceeds 11.61888, all paid out;
  equity 98 − 12·(0.98 − 0.96824) − 88·0.02352 − 11.61888 = 84.17024; shares redeemed at
  NAV 0.98: 11.61888/0.98 → NAV per share 84.17024 / (100 − 11.856).
* swing: redeem 5.88 → sell 6 units; price 0.96824, executed 0.97412 → proceeds 5.84472;
  the redeemers bear the execution cost 6·(0.98 − 0.97412) = 0.03528, so 5.80944 is paid
  out; equity 98 − 0.03528 − 94·0.01176 − 5.80944 = 91.04984; NAV per share
  91.04984 / (100 − 5.84472/0.98).
"""

import numpy as np
import pytest

from firesale import Scenario, System, simulate
from firesale.testing import assert_invariants

#: Worked by hand: quotes, spreads, marks and depth as at t0 (information off), and sales
#: go straight to outside buyers (no dealer intermediation).
BY_HAND = {"channels": {"information": False}, "market": {"intermediation": False}}


def _fund(swing: bool) -> System:
    return System.from_records(
        [{"name": "fund", "type": "asset_manager", "liabilities": 0.0, "redemption_sensitivity": 3.0,
          "first_mover": 1.0, "swing_pricing": swing, "liquidation": "pro_rata"}],
        [{"name": "corporates", "class": "corporate_ig", "sigma0": 0.01, "depth": 500.0}],
        [{"institution": "fund", "asset": "corporates", "quantity": 100.0}],
    )


SHOCK = Scenario(channels=BY_HAND["channels"], shocks=[{"asset": "corporates", "price": -0.02}],
                 market={**BY_HAND["market"], "execution_alpha": 0.5})


@pytest.fixture(scope="module")
def runs():
    return {swing: simulate(_fund(swing), SHOCK, detail=True).isel(scenario=0, institution=0) for swing in (False, True)}


def test_round_zero_by_hand(runs):
    no_swing, swing = runs[False].isel(round=0), runs[True].isel(round=0)
    assert float(no_swing.funding_need) == pytest.approx(0.12 * 98, abs=1e-9)
    assert float(swing.funding_need) == pytest.approx(0.06 * 98, abs=1e-9)
    assert float(no_swing.sold) == pytest.approx(11.76, abs=1e-9)
    assert float(swing.sold) == pytest.approx(5.88, abs=1e-9)
    assert float(no_swing.equity) == pytest.approx(84.17024, abs=1e-9)
    assert float(swing.equity) == pytest.approx(91.04984, abs=1e-9)
    assert float(no_swing.nav_per_share) == pytest.approx(84.17024 / (100 - 11.61888 / 0.98), abs=1e-9)
    assert float(swing.nav_per_share) == pytest.approx(91.04984 / (100 - 5.84472 / 0.98), abs=1e-9)
    assert float(swing.cash) == pytest.approx(0.03528, abs=1e-9)  # the swing charge stays in the fund


def test_without_swing_the_fund_sells_more_and_stayers_lose_more(runs):
    no_swing, swing = runs[False], runs[True]
    assert float(no_swing.sold.sum()) > float(swing.sold.sum())
    assert float(no_swing.nav_per_share[-1]) < float(swing.nav_per_share[-1])


def test_redemptions_keep_the_books_balanced():
    for swing in (False, True):
        ds = simulate(_fund(swing), SHOCK, detail=True)
        assert_invariants(ds)
        # what the investors took out left the system: it is not counted as a loss
        lost = float(ds.initial_equity.sum() - ds.equity.isel(round=-1).sum() - ds.capital_out.isel(round=-1).sum())
        assert lost > float(ds.initial_loss.sum())


def test_a_gate_caps_redemptions_and_a_wave_adds_to_them():
    gated = System.from_records(
        [{"name": "fund", "type": "asset_manager", "liabilities": 0.0, "redemption_sensitivity": 3.0,
          "first_mover": 1.0, "redemption_gate": 0.05}],
        [{"name": "corporates", "class": "corporate_ig", "sigma0": 0.01, "depth": 500.0}],
        [{"institution": "fund", "asset": "corporates", "quantity": 100.0}],
    )
    ds = simulate(gated, SHOCK).isel(scenario=0, institution=0, round=0)
    assert float(ds.funding_need) == pytest.approx(0.05 * 98, abs=1e-9)
    wave = Scenario(**BY_HAND, shocks=[{"institution": "fund", "redemption": 0.1}])
    ds = simulate(_fund(False), wave).isel(scenario=0, institution=0, round=0)
    assert float(ds.funding_need) == pytest.approx(10.0, abs=1e-9)
    assert float(ds.breach.sel(channel="redemption")) == 1


def test_a_wave_that_redeems_the_whole_fund_winds_it_up():
    """Corporates fall 1.3% and a redemption wave takes 100% of the NAV, 11.9 + 1.3 × 0.987,
    met from cash and a sale executed at the pre-trade price (α = 0): no shares are left —
    exactly zero, not a rounding residue (here one that made the NAV per share read 1.0) —
    so the NAV per share is undefined (NaN), and what is paid out is the NAV."""
    fund = System.from_records(
        [{"name": "fund", "type": "asset_manager", "liabilities": 0.0, "cash": 11.9, "liquidation": "pro_rata"}],
        [{"name": "corporates", "class": "corporate_ig", "sigma0": 0.01, "depth": 500.0}],
        [{"institution": "fund", "asset": "corporates", "quantity": 1.3}],
    )
    wave = Scenario(channels=BY_HAND["channels"], market={**BY_HAND["market"], "execution_alpha": 0.0},
                    shocks=[{"institution": "fund", "redemption": 1.0}, {"asset": "corporates", "price": -0.013}])
    run = simulate(fund, wave).isel(scenario=0, institution=0)
    nav = 11.9 + 1.3 * 0.987
    assert float(run.redeemed.sum()) == pytest.approx(nav, abs=1e-12)
    assert float(run.capital_out[-1]) == pytest.approx(nav, abs=1e-12)
    assert np.isnan(run.nav_per_share.values).all()  # no shares left
