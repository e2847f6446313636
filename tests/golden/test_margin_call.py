"""The narrative's funding example (DESIGN §4): the haircut on Treasury repo goes from 2%
to 5% when volatility doubles; the margin call on a repo-financed Treasury book is 3% of
it. With no cash the dealer sells Treasuries: each unit sold repays the 95% the repo
still lends against it and frees 5%, so meeting a call of 3 takes sales of 3 / 0.05 = 60.
Afterwards the balance sheet reads: Treasuries 100 − 60 = 40, repo 98 − 3 − 0.95·60 = 38,
equity 40 − 38 = 2 (unchanged: a call moves cash, not value)."""

import pytest

from firesale import Scenario, System, simulate
from firesale.testing import assert_invariants

#: Worked by hand: quotes, spreads, marks and depth as at t0 (information off), and sales
#: go straight to outside buyers (no dealer intermediation).
BY_HAND = {"channels": {"information": False}, "market": {"intermediation": False}}


def _dealer(cash: float) -> System:
    return System.from_records(
        [{"name": "dealer", "cash": cash, "liabilities": cash}],
        # haircut 2%, beta 0.03 (the default 1.5 x haircut): 5% when volatility doubles;
        # a deep market, so the example is about funding, not price impact
        [{"name": "treasuries", "class": "treasury", "sigma0": 0.005, "haircut": 0.02}],
        [{"institution": "dealer", "asset": "treasuries", "quantity": 100.0, "repo": 98.0}],
    )


DOUBLING = Scenario(**BY_HAND, shocks=[{"asset": "treasuries", "volatility": 2.0}])


def test_haircut_2_to_5_percent_calls_3_percent_of_the_book():
    ds = simulate(_dealer(cash=0.0), DOUBLING, detail=True)
    r0 = ds.isel(scenario=0, round=0)
    assert float(r0.haircut.sel(asset="treasuries")) == pytest.approx(0.05, abs=1e-12)
    assert float(r0.funding_need[0]) == pytest.approx(3.0, abs=1e-9)
    assert float(r0.funding_paid[0]) == pytest.approx(3.0, abs=1e-9)


def test_without_cash_the_dealer_sells_what_the_identity_requires():
    ds = simulate(_dealer(cash=0.0), DOUBLING, detail=True)
    assert_invariants(ds)
    end = ds.isel(scenario=0, institution=0, round=-1)
    assert float(ds.sold.sum()) == pytest.approx(60.0, abs=1e-9)
    assert float(end.holdings.sel(asset="treasuries")) == pytest.approx(40.0, abs=1e-9)
    assert float(end.repo) == pytest.approx(38.0, abs=1e-9)
    assert float(end.equity) == pytest.approx(2.0, abs=1e-9)
    assert float(end.repo) == pytest.approx(0.95 * float(end.holdings.sel(asset="treasuries")), abs=1e-9)
    assert int(ds.breach.sel(channel="margin").sum()) == 1
    assert float(ds.sales_by_channel.sel(channel="margin").sum()) == pytest.approx(60.0, abs=1e-9)


def test_with_cash_the_call_is_paid_without_selling():
    ds = simulate(_dealer(cash=5.0), DOUBLING, detail=True)
    end = ds.isel(scenario=0, institution=0, round=-1)
    assert float(ds.sold.sum()) == 0.0
    assert float(end.cash) == pytest.approx(2.0, abs=1e-12)
    assert float(end.repo) == pytest.approx(95.0, abs=1e-12)


def test_haircut_floor_policy_calls_nothing():
    ds = simulate(_dealer(cash=0.0), DOUBLING.updated(**{"policy.haircut_floor": True}))
    assert float(ds.funding_need.sum()) == 0.0 and float(ds.sold.sum()) == 0.0


def test_capital_shock_adds_cash_and_equity_and_is_not_a_gain():
    from firesale.analytics import summarize

    recapitalised = DOUBLING.updated(shocks=[*[s.model_dump() for s in DOUBLING.shocks],
                                             {"institution": "dealer", "capital": 3.0}])
    ds = simulate(_dealer(cash=0.0), [DOUBLING, recapitalised], detail=True)
    assert_invariants(ds)
    # 3 of new cash meets the 3% margin call: no sale; equity 2 + 3, and no loss or gain
    assert float(ds.sold.isel(scenario=0).sum()) == pytest.approx(60.0, abs=1e-9)
    assert float(ds.sold.isel(scenario=1).sum()) == 0.0
    assert float(ds.equity.isel(scenario=1, round=-1, institution=0)) == pytest.approx(5.0, abs=1e-12)
    assert summarize(ds, 1)["total_loss"] == pytest.approx(0.0, abs=1e-12)


def test_capital_paid_out_beyond_cash_is_owed_and_is_not_a_loss():
    from firesale.analytics import summarize

    ds = simulate(_dealer(cash=0.0), Scenario(**BY_HAND, shocks=[{"institution": "dealer", "capital": -1.0}]),
                  detail=True)
    assert_invariants(ds)
    end = ds.isel(scenario=0, round=-1, institution=0)
    assert float(end.equity) == pytest.approx(1.0, abs=1e-12)
    assert float(end.debt) == pytest.approx(1.0, abs=1e-12) and float(end.cash) == 0.0
    assert summarize(ds)["total_loss"] == pytest.approx(0.0, abs=1e-12)
