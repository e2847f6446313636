"""gilt_ldi_2022: the September 2022 gilt crisis, with every mechanism on. A 60 bp
repricing of long gilts pushes leveraged pooled LDI funds past their rebalancing points;
their forced sales, far above a day's volume, take the 30-year yield rise to the record's
order (~160 bp), about half of it fire-sale pressure as on record; the Bank of England's
purchases (up to 5 bn a day) take the fire-sale part away. Sources:
docs/presets/gilt_ldi_2022.md; the simulated figures it prints are checked in
tests/golden/test_documented_numbers.py."""

import pytest

from firesale import load_preset, simulate
from firesale.analytics import summarize
from firesale.analytics.compare import policy_scenario
from firesale.data import validate
from firesale.testing import assert_invariants

#: Rise of the 30-year gilt yield in the days after the 23 Sep 2022 "growth plan", bp.
#: Letter from Sir Jon Cunliffe (Bank of England) to the Treasury Committee, 5 Oct 2022,
#: as reported by Pensions & Investments, 6 Oct 2022.
RECORD_YIELD_RISE_BP = 160.0
#: Long-dated gilts LDI funds would have had to sell "in a short space of time", GBP bn
#: (same letter; The Guardian, N. Pratley, 6 Oct 2022).
RECORD_LDI_FORCED_SALES = 50.0
#: Average daily trading volume of that market, GBP bn (same letter and report).
RECORD_DAILY_VOLUME = 12.0
#: The Bank's purchases of long-dated gilts announced on 28 Sep 2022: up to 5 bn a day,
#: 65 bn in all (Bank of England announcement and market notice, 28 Sep 2022).
BOE_DAILY_CAP, BOE_TOTAL = 5.0, 65.0
#: Fall of the 30-year yield on 28 Sep 2022 after the announcement: more than 100 bp
#: (Cunliffe letter). The model's counterpart is baseline peak minus policy peak.
RECORD_FALL_ON_28_SEP_BP = 100.0
#: Fundamental repricing in the preset, bp: 30 on Sep 23 (the day's move in long yields
#: in the Cunliffe letter) and 30 on Sep 26 (an assumption).
FUNDAMENTAL_BP = 60.0
#: LDI forced sales caused "roughly half" of the fall in gilt prices (Pinter, Siriwardane
#: & Walker, BoE Staff Working Paper 1089, 2024): the fire-sale share of the model's peak
#: must lie within 0.35-0.65.
FIRE_SALE_SHARE = (0.35, 0.65)

LDI_GROUPS = ("pooled", "segregated")
CHANNELS_OFF = {f"channels.{c}": False for c in
                ("slr", "var", "leverage", "default", "margin", "rollover", "unsecured", "redemption")}
RUNS = ("baseline", "boe_purchases", "repo_facility", "haircut_floor", "fundamental")


@pytest.fixture(scope="module")
def preset():
    return load_preset("gilt_ldi_2022")


@pytest.fixture(scope="module")
def batch(preset):
    """The baseline, each lever alone and the fundamental repricing alone: one batch."""
    scenarios = [preset.scenario, *(policy_scenario(preset, name) for name in RUNS[1:4]),
                 preset.scenario.updated(**CHANNELS_OFF)]
    ds = simulate(preset.system, scenarios, detail=True)
    return ds, {name: summarize(ds, i) for i, name in enumerate(RUNS)}


def _peak(summary) -> float:
    return summary["peak_yield_rise_bp"]["long_gilt"]


def _ldi_sales(summary) -> float:
    return sum(row["sales"] for row in summary["institutions"] if row["group"] in LDI_GROUPS)


def test_the_preset_is_valid_and_calibrated_to_the_record(preset):
    assert validate("gilt_ldi_2022") == []
    gilt = {a.name: a for a in preset.system.assets}["long_gilt"]
    assert gilt.duration is not None and gilt.adv == RECORD_DAILY_VOLUME
    system = preset.system
    ldi = [n for n, inst in enumerate(system.institutions) if inst.group in LDI_GROUPS]
    assert {system.institutions[n].type for n in ldi} == {"pension_fund"}
    k = system.asset_names.index("long_gilt")
    assert all(system.repo[n, k] > 0 and system.derivative[n, k] > 0 for n in ldi)  # gilts on repo + swaps
    bundle = policy_scenario(preset, "boe_purchases").policy.purchases
    assert bundle.assets == ("long_gilt",) and (bundle.daily_cap, bundle.total) == (BOE_DAILY_CAP, BOE_TOTAL)
    assert preset.scenario.policy.purchases.assets == ()  # no purchases in the baseline


def test_baseline_accounting_invariants(preset):
    assert_invariants(simulate(preset.system, preset.scenario, detail=True))


def test_fundamental_repricing_alone_is_well_under_the_record(batch):
    _, s = batch
    assert _peak(s["fundamental"]) == pytest.approx(FUNDAMENTAL_BP, abs=0.01)
    assert FUNDAMENTAL_BP < 0.5 * RECORD_YIELD_RISE_BP
    assert s["fundamental"]["forced_sales"] == 0.0


def test_baseline_yield_rise_within_a_factor_of_two_of_the_record(batch):
    _, s = batch
    peak = _peak(s["baseline"])
    assert RECORD_YIELD_RISE_BP / 2 <= peak <= 2 * RECORD_YIELD_RISE_BP
    # about half of it is the fire sale, as on record
    share = (peak - _peak(s["fundamental"])) / peak
    assert FIRE_SALE_SHARE[0] <= share <= FIRE_SALE_SHARE[1], share


def test_no_price_ever_reaches_zero(batch):
    ds, _ = batch
    assert float(ds.price.min()) > 0.0


def test_ldi_forced_sales_far_above_a_days_volume(batch):
    _, s = batch
    sold = _ldi_sales(s["baseline"])
    assert sold > 3 * RECORD_DAILY_VOLUME
    assert RECORD_LDI_FORCED_SALES / 2 <= sold <= 2 * RECORD_LDI_FORCED_SALES
    # the pooled funds are the forced sellers; the segregated mandates absorb the move
    by_group = {g: sum(r["sales"] for r in s["baseline"]["institutions"] if r["group"] == g) for g in LDI_GROUPS}
    assert by_group["pooled"] > 0.9 * sold
    assert s["baseline"]["cascade"]["groups"][0] == [1, ["pooled"]]  # after the second day's repricing


def test_boe_purchases_reverse_most_of_the_rise(batch):
    ds, s = batch
    baseline, policy = _peak(s["baseline"]), _peak(s["boe_purchases"])
    assert policy < baseline
    assert policy == pytest.approx(FUNDAMENTAL_BP, abs=1.0)  # only the fundamental repricing is left
    assert baseline - policy > RECORD_FALL_ON_28_SEP_BP / 2
    bought = ds.central_bank_purchases.isel(scenario=1).sum("asset")
    assert 0 < float(bought.sum()) <= BOE_TOTAL and float(bought.max()) <= BOE_DAILY_CAP + 1e-9
    assert float(ds.central_bank_purchases.isel(scenario=0).sum()) == 0.0
    assert _ldi_sales(s["boe_purchases"]) < 0.2 * _ldi_sales(s["baseline"])


@pytest.mark.parametrize("lever", ["repo_facility", "haircut_floor"])
def test_liquidity_levers_alone_do_not_stop_the_spiral(batch, lever):
    # the spiral runs through the price and the funds' rebalancing, not through haircuts
    _, s = batch
    assert _peak(s[lever]) > 0.95 * _peak(s["baseline"])
    assert _ldi_sales(s[lever]) > 0.95 * _ldi_sales(s["baseline"])
