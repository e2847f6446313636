"""March 2020, the dash for cash, with every mechanism on: foreign, fund and MMF outflows and
basis-trade unwinds take the 10-year Treasury yield up by the order of the documented
+92 bp while the SLR-bound dealers absorb what they can; the Fed's purchases plus the SLR
exemption (the preset's ``fed_response``) take most of it away. Sources of every number:
docs/presets/march_2020.md; the simulated figures it prints are checked in
tests/golden/test_documented_numbers.py."""

import numpy as np
import pytest

from firesale import load_preset, simulate
from firesale.analytics import summarize
from firesale.testing import assert_invariants

#: 10-year Treasury yield 0.36% on 9 March 2020 -> 1.28% on 18-19 March: +92 bp
#: (DESIGN §8; Duffie, "Still the World's Safe Haven?", Hutchins Center WP 62, 2020;
#: Duffie et al., NY Fed Staff Reports 1058/1070)
TEN_YEAR_RISE_BP = 92
#: the band the model's peak must reach: from 40 bp (the rise is of the record's order;
#: the model's daily rounds miss the intraday high of 18-19 March) to 100 bp (no more than
#: ~10% above the intraday record)
PEAK_BAND_BP = (40.0, 100.0)
#: "within a factor of two" of a recorded amount
FACTOR = 2
#: the on-the-run 10-year's bid-ask spread went from 0.5/32 to 1/32 of par, a doubling
#: (Fleming & Ruela, Liberty Street Economics, 17 April 2020); the model's spread peak
#: must lie between 1.5 and 4 times its t0 value
SPREAD_WIDENING = (1.5, 4.0)
#: the Fed bought up to ~$75 bn of Treasuries a day from 19 March 2020 (DESIGN §8; NY Fed
#: operations, ~$75 bn a day 19 March - 1 April)
FED_DAILY_CAP = 75.0
#: and $775 bn of Treasuries between 15 and 31 March 2020 (Fleming & Ruela, "Treasury
#: Market Liquidity during the COVID-19 Crisis", Liberty Street Economics, 17 April 2020)
FED_TREASURY_TOTAL = 775.0
#: foreign official holders sold more than $100 bn of Treasury notes in the three weeks to
#: 25 March 2020 (DESIGN §8; the Fed's weekly custody data, reported by Bloomberg, 1 April 2020)
FOREIGN_OFFICIAL_SALES = 100.0
#: bond mutual funds sold, net, $101 bn of Treasury notes and bonds in March 2020 (ICI survey;
#: Antoniewicz & Collins, "Setting the Record Straight on Bond Mutual Funds' Sales of
#: Treasuries", ICI Viewpoints, 2022)
BOND_FUND_TREASURY_SALES = 101.0
TEN_YEAR = "ust_10y"
POLICIES = ("fed_purchases", "slr_exemption", "fed_response")
#: rounds 0-7: 9 to 18 March 2020, the selling up to the record's peak
SELLING_ROUNDS = 8


@pytest.fixture(scope="module")
def preset():
    return load_preset("march_2020")


@pytest.fixture(scope="module")
def runs(preset):
    """The baseline and each policy, run as one batch: {name: summary}."""
    scenarios = [preset.scenario,
                 preset.scenario.updated(**preset.policies["fed_purchases"]["overrides"]),
                 preset.scenario.updated(**{"policy.slr_exemption": True}),
                 preset.scenario.updated(**preset.policies["fed_response"]["overrides"])]
    ds = simulate(preset.system, scenarios)
    return {name: summarize(ds, s) for s, name in enumerate(("baseline", *POLICIES))}


@pytest.fixture(scope="module")
def baseline(preset):
    return simulate(preset.system, preset.scenario, detail=True)


def _peak(summary):
    return summary["peak_yield_rise_bp"][TEN_YEAR]


def _end(summary):
    return summary["yield_change_bp"][TEN_YEAR]


def _treasuries_sold(summary, group=None, name=None):
    return sum(row["sales_by_asset"].get(TEN_YEAR, 0.0) for row in summary["institutions"]
               if (group is None or row["group"] == group) and (name is None or row["name"] == name))


def test_baseline_peak_ten_year_rise_is_of_the_records_order(runs):
    assert PEAK_BAND_BP[0] < TEN_YEAR_RISE_BP <= PEAK_BAND_BP[1]
    peak = _peak(runs["baseline"])
    assert PEAK_BAND_BP[0] <= peak <= PEAK_BAND_BP[1], peak


def test_dealers_absorb_treasuries_while_the_selling_lasts(baseline):
    # "investor flows overwhelmed intermediaries": primary dealers' net positions rose
    # (Duffie, Hutchins Center WP 62, 2020). Every mechanism on, the SLR-bound dealers take
    # Treasuries onto their books from 9 to 18 March and never shed them.
    one = baseline.isel(scenario=0)
    dealers = one.institution_type == "dealer"
    held = one.holdings.sel(asset=TEN_YEAR).where(dealers, 0.0).sum("institution").values[:SELLING_ROUNDS]
    held0 = float(one.holdings0.sel(asset=TEN_YEAR).where(dealers, 0.0).sum())
    path = np.concatenate([[held0], held])
    assert held[-1] > held0, (held0, held)
    assert np.all(np.diff(path) >= -1e-9), path


def test_the_ten_year_market_keeps_quoting_and_its_spread_widens_as_on_record(runs, baseline):
    # the market never stopped: some dealers quote the 10-year in every round
    quoting = baseline.quoting_share.isel(scenario=0).sel(asset=TEN_YEAR).values
    assert np.all(quoting > 0.0), quoting
    spread = runs["baseline"]["spreads"][TEN_YEAR]
    assert SPREAD_WIDENING[0] * spread["t0"] <= spread["peak"] <= SPREAD_WIDENING[1] * spread["t0"], spread


def test_fed_response_is_the_documented_policy(preset):
    overrides = preset.policies["fed_response"]["overrides"]
    assert overrides["policy.slr_exemption"] is True
    assert overrides["policy.purchases.daily_cap"] == FED_DAILY_CAP
    assert overrides["policy.purchases.total"] == FED_TREASURY_TOTAL
    assert set(overrides["policy.purchases.assets"]) == {TEN_YEAR, "agency_mbs"}
    # the baseline buys nothing and exempts nothing
    assert preset.scenario.policy.purchases is None and not preset.scenario.policy.slr_exemption


def test_fed_response_reverses_most_of_the_rise(runs):
    # the policy acts from round 0 (9 March): compared at the peak, and at the end of the
    # twenty trading days
    base, fed = runs["baseline"], runs["fed_response"]
    assert _peak(fed) < 0.5 * _peak(base), (_peak(fed), _peak(base))
    assert _end(fed) < 0.5 * _end(base), (_end(fed), _end(base))
    assert fed["defaults"] == 0


def test_each_lever_alone(runs):
    base, bought, exempt, both = (runs[n] for n in ("baseline", *POLICIES))
    # purchases alone take most of the rise away: buying the day's net sales leaves
    # little pressure on the price
    assert _peak(bought) < 0.5 * _peak(base)
    # the exemption alone leaves the dealers room to keep absorbing: less than the
    # purchases but a clear part of the peak
    assert _peak(bought) < _peak(exempt) < 0.9 * _peak(base)
    # no dealer is forced to sell, with or without the exemption
    assert _treasuries_sold(base, "PD") == 0 and _treasuries_sold(exempt, "PD") == 0
    # together no worse than the purchases alone
    assert _peak(both) <= _peak(bought) + 1e-9


def test_foreign_official_and_bond_fund_sales_are_near_the_record(runs):
    base = runs["baseline"]
    official = _treasuries_sold(base, name="FO_official")
    assert FOREIGN_OFFICIAL_SALES <= official <= FACTOR * FOREIGN_OFFICIAL_SALES, official
    funds = _treasuries_sold(base, "MF")
    assert BOND_FUND_TREASURY_SALES / FACTOR <= funds <= FACTOR * BOND_FUND_TREASURY_SALES, funds


def test_who_is_forced_and_why(runs):
    base = runs["baseline"]
    channels = {}
    for row in base["institutions"]:
        for channel in row["sales_by_channel"]:
            channels.setdefault(row["group"], set()).add(channel)
    # basis funds by margin calls, funds and foreign holders by outflows; the dealers,
    # above their 3% SLR minimum, are forced by nothing
    assert channels["HF"] == {"margin"} and "PD" not in channels
    assert channels["FO"] == channels["MF"] == channels["MMF"] == {"redemption"}
    assert _treasuries_sold(base, "HF") > 0
    # money funds hold no Treasury notes: their outflows hit bills and commercial paper
    assert _treasuries_sold(base, "MMF") == 0


def test_baseline_invariants(preset):
    assert_invariants(simulate(preset.system, preset.scenario, detail=True))
