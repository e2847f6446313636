"""March 2020, the dash for cash, with every mechanism on, and the Fed's response on the
record's dates: what the preset's ``[[targets]]`` (tests/golden/test_targets.py) do not
check. Accounting holds in every round of every run; the fundamental repricing alone is
the shocks' closed form; the policies are the record's programme, change nothing before
their first day, and order as a referee expects; the basis funds close their futures in
step with their cash sales; the dealers absorb and the market keeps quoting. One round is
one trading day from Monday 9 March 2020 (no US market holiday falls in the twenty).
Sources of every number: docs/presets/march_2020.md; the simulated figures it prints are
checked in tests/golden/test_documented_numbers.py."""

import math

import numpy as np
import pytest

from firesale import load_preset, simulate
from firesale.analytics import summarize
from firesale.analytics.compare import policy_scenario
from firesale.channels import BALANCE_SHEET_CHANNELS, FUNDING_CHANNELS
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
#: the 10-year yield closed 9 March at 0.54%, 18 bp above its 0.36% morning low (FRB
#: H.15); the preset takes the day's move as fundamental
FIRST_DAY_RISE_BP = 18.0
#: investment-grade corporate bonds fell 5.8% over 9-19 March 2020 (the preset's shocks)
CORPORATE_FALL = -0.058
#: The Fed's purchases (Federal Reserve; NY Fed operations): from Friday 13 March about
#: 40 bn a day of Treasuries across the curve, 75 bn a day from Thursday 19 March, 775 bn
#: of Treasuries and 291 bn of agency MBS by 31 March 2020
FED_DAILY_FROM_13_MARCH, FED_DAILY_FROM_19_MARCH = 40.0, 75.0
FED_TREASURIES, FED_MBS = 775.0, 291.0
#: the preset holds Treasuries as 10-year equivalents: the Fed's amounts are scaled by the
#: average duration of what it bought across the curve over the 10-year's, 5.5 / 9 (the
#: preset's assumption, docs/presets/march_2020.md)
DURATION_BOUGHT = 5.5
#: foreign official holders sold more than $100 bn of Treasury notes in the three weeks to
#: 25 March 2020 (DESIGN §8; the Fed's weekly custody data, reported by Bloomberg, 1 April 2020)
FOREIGN_OFFICIAL_SALES = 100.0
#: bond mutual funds sold, net, $101 bn of Treasury notes and bonds in March 2020 (ICI survey;
#: Antoniewicz & Collins, "Setting the Record Straight on Bond Mutual Funds' Sales of
#: Treasuries", ICI Viewpoints, 2022)
BOND_FUND_TREASURY_SALES = 101.0
TEN_YEAR = "ust_10y"
#: round 0 is the first trading day of the run
FIRST_DAY = "2020-03-09"
POLICIES = ("fed_purchases", "slr_relief", "fed_response")
RUNS = ("baseline", *POLICIES, "fundamental")
#: rounds 0-7: 9 to 18 March 2020, the selling up to the record's peak
SELLING_ROUNDS = 8
CHANNELS_OFF = {f"channels.{c}": False for c in BALANCE_SHEET_CHANNELS + FUNDING_CHANNELS}


def _round(date: str) -> int:
    """The round of a trading day: weekdays since 9 March 2020 (no US holiday in the window)."""
    return int(np.busday_count(FIRST_DAY, date))


@pytest.fixture(scope="module")
def preset():
    return load_preset("march_2020")


@pytest.fixture(scope="module")
def batch(preset):
    """The baseline, each policy and the fundamental repricing alone, as one detailed batch.

    The fundamental run keeps the price and volatility shocks, drops the redemption waves
    (exogenous flows that move prices through the market whatever the channels) and
    switches the balance-sheet and funding channels off."""
    repricing = [shock for shock in preset.scenario.shocks if shock.redemption is None]
    scenarios = [preset.scenario, *(policy_scenario(preset, name) for name in POLICIES),
                 preset.scenario.updated(shocks=repricing, **CHANNELS_OFF)]
    ds = simulate(preset.system, scenarios, detail=True)
    return ds, {name: summarize(ds, s) for s, name in enumerate(RUNS)}


def _peak(summary):
    return summary["peak_yield_rise_bp"][TEN_YEAR]


def _end(summary):
    return summary["yield_change_bp"][TEN_YEAR]


def _yield_bp(ds, run: str, asset: str = TEN_YEAR) -> np.ndarray:
    """Yield change from t0 per round, bp: -ln(price) / duration * 1e4."""
    one = ds.isel(scenario=RUNS.index(run))
    return -np.log(one.price.sel(asset=asset).values) / float(one.duration.sel(asset=asset)) * 1e4


def _treasuries_sold(summary, group=None, name=None):
    return sum(row["sales_by_asset"].get(TEN_YEAR, 0.0) for row in summary["institutions"]
               if (group is None or row["group"] == group) and (name is None or row["name"] == name))


def _differ_before(ds, run: str, start: int) -> list[str]:
    """Per-round variables of ``run`` that differ in any bit from the baseline before ``start``."""
    base, policy = ds.isel(scenario=0, round=slice(0, start)), ds.isel(scenario=RUNS.index(run), round=slice(0, start))
    return [v for v in ds.data_vars if "round" in ds[v].dims
            and not np.array_equal(base[v].values, policy[v].values, equal_nan=True)]


def test_accounting_invariants_every_round_of_every_run(batch):
    ds, _ = batch
    assert_invariants(ds)


def test_no_price_ever_reaches_zero(batch):
    ds, _ = batch
    assert float(ds.price.min()) > 0.0


def test_fundamental_repricing_alone_is_the_shocks_closed_form(preset, batch):
    # nobody sells, so each price is the product of its fundamental returns:
    # p_t = prod_{r <= t} (1 + s_r), a yield change of -sum ln(1 + s_r) / D
    ds, s = batch
    one = ds.isel(scenario=RUNS.index("fundamental"))
    assert float(one.sold.sum()) == 0.0 and s["fundamental"]["forced_sales"] == 0.0
    rounds = one.sizes["round"]
    for asset in one.asset.values:
        log_return = np.zeros(rounds)
        for shock in preset.scenario.shocks:
            if shock.asset == asset and shock.price is not None:
                log_return[shock.round] += math.log1p(shock.price)
        np.testing.assert_allclose(one.price.sel(asset=asset).values, np.exp(np.cumsum(log_return)),
                                   rtol=1e-12, err_msg=str(asset))
    # the record's first day, and the corporate bonds' fall over 9-19 March
    np.testing.assert_allclose(_yield_bp(ds, "fundamental"), FIRST_DAY_RISE_BP, atol=0.01)
    assert float(one.price.sel(asset="corp_ig").isel(round=-1)) - 1 == pytest.approx(CORPORATE_FALL, abs=1e-3)


def test_baseline_peak_ten_year_rise_is_of_the_records_order(batch):
    _, s = batch
    assert PEAK_BAND_BP[0] < TEN_YEAR_RISE_BP <= PEAK_BAND_BP[1]
    peak = _peak(s["baseline"])
    assert PEAK_BAND_BP[0] <= peak <= PEAK_BAND_BP[1], peak


def test_dealers_absorb_treasuries_while_the_selling_lasts(batch):
    # "investor flows overwhelmed intermediaries": primary dealers' net positions rose
    # (Duffie, Hutchins Center WP 62, 2020). Every mechanism on, the SLR-bound dealers take
    # Treasuries onto their books from 9 to 18 March and never shed them.
    ds, _ = batch
    one = ds.isel(scenario=0)
    dealers = one.institution_type == "dealer"
    held = one.holdings.sel(asset=TEN_YEAR).where(dealers, 0.0).sum("institution").values[:SELLING_ROUNDS]
    held0 = float(one.holdings0.sel(asset=TEN_YEAR).where(dealers, 0.0).sum())
    path = np.concatenate([[held0], held])
    assert held[-1] > held0, (held0, held)
    assert np.all(np.diff(path) >= -1e-9), path


def test_the_ten_year_market_keeps_quoting_and_its_spread_widens_as_on_record(batch):
    # the market never stopped: some dealers quote the 10-year in every round
    ds, s = batch
    quoting = ds.quoting_share.isel(scenario=0).sel(asset=TEN_YEAR).values
    assert np.all(quoting > 0.0), quoting
    spread = s["baseline"]["spreads"][TEN_YEAR]
    assert SPREAD_WIDENING[0] * spread["t0"] <= spread["peak"] <= SPREAD_WIDENING[1] * spread["t0"], spread


def test_the_policies_are_the_records_programme_on_its_dates(preset):
    scale = DURATION_BOUGHT / float({a.name: a for a in preset.system.assets}[TEN_YEAR].duration)
    bought = preset.policies["fed_purchases"]["overrides"]
    assert set(bought["policy.purchases.assets"]) == {TEN_YEAR, "ust_30y", "agency_mbs"}
    assert bought["policy.timing.purchases.start"] == _round("2020-03-13")
    # 40 a day from 13 March to 18 March, then 75 a day, in 10-year equivalents
    first_days = _round("2020-03-19") - _round("2020-03-13")
    assert bought["policy.purchases.daily_cap_by_round"] == pytest.approx(
        [FED_DAILY_FROM_13_MARCH * scale] * first_days, abs=0.05)
    assert bought["policy.purchases.daily_cap"] == pytest.approx(FED_DAILY_FROM_19_MARCH * scale, abs=0.05)
    assert bought["policy.purchases.total"] == pytest.approx(FED_TREASURIES * scale + FED_MBS, abs=0.2)
    relief = preset.policies["slr_relief"]["overrides"]
    assert relief == {"policy.slr_exemption": True, "policy.timing.slr_exemption.start": _round("2020-04-01")}
    # the documented response is both, on the same dates
    assert preset.policies["fed_response"]["overrides"] == bought | relief
    # the baseline buys nothing and exempts nothing
    assert preset.scenario.policy.purchases is None and not preset.scenario.policy.slr_exemption


def test_the_fed_buys_within_its_daily_caps_and_total(preset, batch):
    ds, _ = batch
    overrides = preset.policies["fed_purchases"]["overrides"]
    start, first = overrides["policy.timing.purchases.start"], overrides["policy.purchases.daily_cap_by_round"]
    caps = np.full(ds.sizes["round"], overrides["policy.purchases.daily_cap"])
    caps[:start] = 0.0
    caps[start:start + len(first)] = first
    for run in ("fed_purchases", "fed_response"):
        daily = ds.central_bank_purchases.isel(scenario=RUNS.index(run)).sum("asset").values
        assert np.all(daily <= caps + 1e-9), (run, daily)
        assert 0.0 < daily.sum() <= overrides["policy.purchases.total"] + 1e-9
    assert float(ds.central_bank_purchases.isel(scenario=0).sum()) == 0.0


@pytest.mark.parametrize(("run", "first_day"), [("fed_purchases", "2020-03-13"), ("slr_relief", "2020-04-01"),
                                                ("fed_response", "2020-03-13")])
def test_a_dated_policy_changes_nothing_before_its_first_day(batch, run, first_day):
    ds, _ = batch
    start = _round(first_day)
    assert _differ_before(ds, run, start) == []  # every per-round variable, bit for bit
    # and it does act from its first day
    assert not np.array_equal(ds.isel(scenario=0).price.values, ds.isel(scenario=RUNS.index(run)).price.values)


def test_the_slr_relief_from_1_april_leaves_every_price_before_it_unchanged(batch):
    ds, _ = batch
    start = _round("2020-04-01")
    base = ds.price.isel(scenario=0, round=slice(0, start)).values
    relief = ds.price.isel(scenario=RUNS.index("slr_relief"), round=slice(0, start)).values
    np.testing.assert_array_equal(relief, base)


def test_the_feds_purchases_bring_the_ten_year_down_by_2_april(batch):
    ds, s = batch
    on_2_april = _round("2020-04-02")
    for run in ("fed_purchases", "fed_response"):
        assert _yield_bp(ds, run)[on_2_april] < _yield_bp(ds, "baseline")[on_2_april], run
    # the response takes most of the rise away by the end, and nobody defaults
    base, fed = s["baseline"], s["fed_response"]
    assert _end(fed) < 0.5 * _end(base), (_end(fed), _end(base))
    assert fed["defaults"] == 0


def test_each_lever_alone(batch):
    _, s = batch
    base, bought, exempt, both = (s[n] for n in ("baseline", *POLICIES))
    # no dealer is forced to sell, with or without the exemption
    assert _treasuries_sold(base, "PD") == 0 and _treasuries_sold(exempt, "PD") == 0
    # together no worse than the purchases alone
    assert _peak(both) <= _peak(bought) + 1e-9
    assert _peak(bought) < _peak(base)


def test_basis_funds_close_futures_in_step_with_their_cash_sales(batch):
    # close_hedges: a fund that sells a share of its cash Treasuries closes the same share
    # of its short futures, so its notional stays minus its cash holding (t0: -100 and 100)
    ds, _ = batch
    funds = ds.group.values == "HF"
    notional = ds.derivative_notional.values[:, :, funds]
    cash_leg = ds.holdings.sel(asset=TEN_YEAR).values[:, :, funds]
    np.testing.assert_allclose(notional, -cash_leg, rtol=0, atol=1e-9)
    assert float(cash_leg[0, -1].sum()) < float(ds.holdings0.sel(asset=TEN_YEAR).values[funds].sum())


def test_foreign_official_and_bond_fund_sales_are_near_the_record(batch):
    _, s = batch
    base = s["baseline"]
    official = _treasuries_sold(base, name="FO_official")
    assert FOREIGN_OFFICIAL_SALES <= official <= FACTOR * FOREIGN_OFFICIAL_SALES, official
    funds = _treasuries_sold(base, "MF")
    assert BOND_FUND_TREASURY_SALES / FACTOR <= funds <= FACTOR * BOND_FUND_TREASURY_SALES, funds


def test_who_is_forced_and_why(batch):
    _, s = batch
    base = s["baseline"]
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
