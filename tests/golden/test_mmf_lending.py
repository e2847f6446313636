"""Money-market funds lend in the tri-party repo market; facing outflows they recall that
lending before selling anything, and every repo borrower loses the same share of its repo.

An MMF lends 50 — all the repo of a dealer financing 100 of Treasuries with 50 of repo
(liabilities 40, equity 10). Investors redeem 10% of the MMF (5): it recalls 5, a tenth of
the pool, so the dealer's repo falls to 45. With no cash the dealer sells Treasuries;
each unit sold repays the 0.45 of repo it still secures and frees 0.55, so it sells
5 / 0.55 = 9.0909. Afterwards: Treasuries 90.909, repo 45 − 0.45·9.0909 = 40.909, equity
still 10. The MMF has paid 5 out; as the only lender left it is repaid the 4.0909 the sale
released, so it lends exactly the dealer's 40.909 of repo and holds 4.0909 of cash."""

import pytest

from firesale import Scenario, System, simulate
from firesale.errors import DataError
from firesale.testing import assert_invariants

#: Worked by hand: quotes, spreads, marks and depth as at t0 (information off), and sales
#: go straight to outside buyers (no dealer intermediation).
BY_HAND = {"channels": {"information": False}, "market": {"intermediation": False}}


def _system(lending: float = 50.0) -> System:
    return System.from_records(
        [{"name": "mmf", "type": "money_market_fund", "liabilities": 0.0, "repo_lending": lending},
         {"name": "dealer", "liabilities": 40.0}],
        [{"name": "treasuries", "class": "treasury", "sigma0": 0.005, "haircut": 0.02}],
        [{"institution": "dealer", "asset": "treasuries", "quantity": 100.0, "repo": 50.0}],
    )


def test_outflows_recall_repo_and_the_borrower_sells():
    ds = simulate(_system(), Scenario(**BY_HAND, shocks=[{"institution": "mmf", "redemption": 0.1}]), detail=True)
    assert_invariants(ds)
    end = ds.isel(scenario=0, round=-1)
    dealer, mmf = end.sel(institution="dealer"), end.sel(institution="mmf")
    assert float(ds.sold.sum()) == pytest.approx(5 / 0.55, abs=1e-9)
    assert float(dealer.repo) == pytest.approx(45 - 0.45 * 5 / 0.55, abs=1e-9)
    assert float(dealer.equity) == pytest.approx(10.0, abs=1e-9)
    assert float(mmf.repo_lending) == pytest.approx(float(dealer.repo), abs=1e-9)
    assert float(mmf.capital_out) == pytest.approx(5.0, abs=1e-12)
    assert float(mmf.cash) == pytest.approx(0.45 * 5 / 0.55, abs=1e-9)
    assert int(ds.breach.sel(institution="dealer", channel="rollover").sum()) == 1


def test_a_standing_facility_keeps_the_collateral_funded():
    facility = Scenario(**BY_HAND, shocks=[{"institution": "mmf", "redemption": 0.1}],
                        policy={"repo_facility": {"assets": ["treasuries"], "haircut": 0.02}})
    ds = simulate(_system(), facility, detail=True)
    assert_invariants(ds)
    assert float(ds.sold.sum()) == 0.0
    assert float(ds.repo.isel(scenario=0, round=-1).sel(institution="dealer")) == pytest.approx(50.0)


def test_lending_more_than_the_repo_borrowed_is_an_error():
    with pytest.raises(DataError, match="lend 60 in repo but borrow only 50"):
        _system(lending=60.0)
