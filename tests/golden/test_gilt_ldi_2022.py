"""gilt_ldi_2022: the September 2022 gilt crisis, with every mechanism on, and the Bank of
England's backstop on the record's dates: what the preset's ``[[targets]]``
(tests/golden/test_targets.py) do not check. An 85 bp repricing of long gilts pushes
leveraged pooled LDI funds past their rebalancing points; their forced sales, far above a
day's volume, take the 30-year yield rise to the record's order (~160 bp), about half of
it fire-sale pressure as on record. Accounting holds in every round of every run; the
repricing alone is the shocks' closed form; the backstop, announced and buying from 28
September, changes nothing before it, brings the yield down to its closed-form level and
keeps every fund alive, where without it the pooled funds default (the Bank's
counterfactual). One round is one trading day from Friday 23 September 2022 (no UK bank
holiday falls in the twenty). Sources: docs/presets/gilt_ldi_2022.md; the simulated
figures it prints are checked in tests/golden/test_documented_numbers.py."""

import math

import numpy as np
import pytest

from firesale import load_preset, simulate
from firesale.analytics import summarize
from firesale.analytics.compare import policy_scenario
from firesale.channels import BALANCE_SHEET_CHANNELS, FUNDING_CHANNELS
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
#: Fundamental rise of the 30-year yield in the preset, bp: 35, 30 and 20 on 23, 26 and
#: 27 Sep (about half of each day's move on record: Pinter, Siriwardane & Walker, BoE
#: SWP 1089, 2024).
FUNDAMENTAL_BP = 35.0 + 30.0 + 20.0
#: LDI forced sales caused "roughly half" of the fall in gilt prices (Pinter, Siriwardane
#: & Walker, BoE Staff Working Paper 1089, 2024): the fire-sale share of the model's peak
#: must lie within 0.35-0.65.
FIRE_SALE_SHARE = (0.35, 0.65)
ASSET = "long_gilt"
#: round 0 is the first trading day of the run
FIRST_DAY = "2022-09-23"

LDI_GROUPS = ("pooled", "segregated")
CHANNELS_OFF = {f"channels.{c}": False for c in BALANCE_SHEET_CHANNELS + FUNDING_CHANNELS}
POLICIES = ("boe_purchases", "repo_facility", "haircut_floor")
RUNS = ("baseline", *POLICIES, "fundamental")


def _round(date: str) -> int:
    """The round of a trading day: weekdays since 23 September 2022 (no UK holiday in the window)."""
    return int(np.busday_count(FIRST_DAY, date))


@pytest.fixture(scope="module")
def preset():
    return load_preset("gilt_ldi_2022")


@pytest.fixture(scope="module")
def batch(preset):
    """The baseline, each lever alone and the fundamental repricing alone (balance-sheet
    and funding channels off): one detailed batch."""
    scenarios = [preset.scenario, *(policy_scenario(preset, name) for name in POLICIES),
                 preset.scenario.updated(**CHANNELS_OFF)]
    ds = simulate(preset.system, scenarios, detail=True)
    return ds, {name: summarize(ds, i) for i, name in enumerate(RUNS)}


def _peak(summary) -> float:
    return summary["peak_yield_rise_bp"][ASSET]


def _yield_bp(ds, run: str) -> np.ndarray:
    """Yield change from t0 per round, bp: -ln(price) / duration * 1e4."""
    one = ds.isel(scenario=RUNS.index(run))
    return -np.log(one.price.sel(asset=ASSET).values) / float(one.duration.sel(asset=ASSET)) * 1e4


def _shock_bp(preset) -> float:
    """The fundamental repricing in closed form: sum over the shocks of -ln(1 + r) / D x 1e4."""
    duration = {a.name: a for a in preset.system.assets}[ASSET].duration
    return sum(-math.log1p(shock.price) / duration * 1e4 for shock in preset.scenario.shocks
               if shock.asset == ASSET and shock.price is not None)


def _ldi_sales(summary) -> float:
    return sum(row["sales"] for row in summary["institutions"] if row["group"] in LDI_GROUPS)


def test_the_preset_is_valid_and_calibrated_to_the_record(preset):
    assert validate("gilt_ldi_2022") == []
    gilt = {a.name: a for a in preset.system.assets}[ASSET]
    assert gilt.duration is not None and gilt.adv == RECORD_DAILY_VOLUME
    system = preset.system
    ldi = [n for n, inst in enumerate(system.institutions) if inst.group in LDI_GROUPS]
    assert {system.institutions[n].type for n in ldi} == {"pension_fund"}
    k = system.asset_names.index(ASSET)
    assert all(system.repo[n, k] > 0 and system.derivative[n, k] > 0 for n in ldi)  # gilts on repo + swaps
    scenario = policy_scenario(preset, "boe_purchases")
    bundle = scenario.policy.purchases
    assert bundle.assets == (ASSET,) and (bundle.daily_cap, bundle.total) == (BOE_DAILY_CAP, BOE_TOTAL)
    assert scenario.policy.timing.purchases.start == _round("2022-09-28")  # announced and buying on 28 Sep
    assert preset.scenario.policy.purchases.assets == ()  # no purchases in the baseline


def test_accounting_invariants_every_round_of_every_run(batch):
    ds, _ = batch
    assert_invariants(ds)


def test_no_price_ever_reaches_zero(batch):
    ds, _ = batch
    assert float(ds.price.min()) > 0.0


def test_fundamental_repricing_alone_is_the_shocks_closed_form(preset, batch):
    ds, s = batch
    assert _shock_bp(preset) == pytest.approx(FUNDAMENTAL_BP, abs=0.01)  # the preset's 35 + 30 + 20 bp
    np.testing.assert_allclose(_yield_bp(ds, "fundamental")[-1], _shock_bp(preset), rtol=1e-12)
    assert _peak(s["fundamental"]) == pytest.approx(_shock_bp(preset), rel=1e-12)
    assert s["fundamental"]["forced_sales"] == 0.0
    assert float(ds.sold.isel(scenario=RUNS.index("fundamental")).sum()) == 0.0


def test_baseline_yield_rise_within_a_factor_of_two_of_the_record(preset, batch):
    _, s = batch
    peak = _peak(s["baseline"])
    assert RECORD_YIELD_RISE_BP / 2 <= peak <= 2 * RECORD_YIELD_RISE_BP
    # about half of it is the fire sale, as on record
    share = (peak - _shock_bp(preset)) / peak
    assert FIRE_SALE_SHARE[0] <= share <= FIRE_SALE_SHARE[1], share


def test_ldi_forced_sales_far_above_a_days_volume(batch):
    _, s = batch
    sold = _ldi_sales(s["baseline"])
    assert sold > 3 * RECORD_DAILY_VOLUME
    assert RECORD_LDI_FORCED_SALES / 2 <= sold <= 2 * RECORD_LDI_FORCED_SALES
    # the pooled funds are the forced sellers; the segregated mandates absorb the move
    by_group = {g: sum(r["sales"] for r in s["baseline"]["institutions"] if r["group"] == g) for g in LDI_GROUPS}
    assert by_group["pooled"] > 0.9 * sold
    assert s["baseline"]["cascade"]["groups"][0] == [1, ["pooled"]]  # after the second day's repricing


def test_the_backstop_changes_nothing_before_28_september(batch):
    ds, _ = batch
    run, start = "boe_purchases", _round("2022-09-28")
    base, policy = ds.isel(scenario=0, round=slice(0, start)), ds.isel(scenario=RUNS.index(run), round=slice(0, start))
    differ = [v for v in ds.data_vars if "round" in ds[v].dims
              and not np.array_equal(base[v].values, policy[v].values, equal_nan=True)]
    assert differ == []  # every per-round variable, bit for bit
    assert _yield_bp(ds, run)[start] != _yield_bp(ds, "baseline")[start]  # and it acts on its first day


def test_with_the_backstop_the_yield_falls_to_its_closed_form_from_28_september(preset, batch):
    # From the announcement the fundamental also carries the announcement repricing a, and
    # outside buyers need at most the announcement discount d: the yield is at most
    # (sum -ln(1 + r) - ln(1 + a) - ln(1 - d)) / D, and the peak after the announcement
    # is below the baseline's.
    ds, _ = batch
    start = _round("2022-09-28")
    overrides = preset.policies["boe_purchases"]["overrides"]
    duration = {a.name: a for a in preset.system.assets}[ASSET].duration
    repricing = overrides["policy.purchases.announcement_repricing"]
    discount = overrides["policy.purchases.announcement_discount"]
    bound = _shock_bp(preset) + (-math.log1p(repricing) - math.log1p(-discount)) / duration * 1e4
    after = _yield_bp(ds, "boe_purchases")[start:]
    assert np.all(after <= bound + 1e-6), (after, bound)
    assert after.max() < _yield_bp(ds, "baseline")[start:].max()


def test_boe_buys_within_its_caps_and_only_with_the_backstop(batch):
    ds, s = batch
    bought = ds.central_bank_purchases.isel(scenario=RUNS.index("boe_purchases")).sum("asset")
    assert 0 < float(bought.sum()) <= BOE_TOTAL and float(bought.max()) <= BOE_DAILY_CAP + 1e-9
    assert float(ds.central_bank_purchases.isel(scenario=0).sum()) == 0.0
    assert _peak(s["boe_purchases"]) < _peak(s["baseline"])


def test_pooled_funds_default_without_the_bank_and_none_with_the_backstop(batch):
    # The Bank's counterfactual: without its intervention pooled LDI funds would have
    # defaulted (Cunliffe, letter to the Treasury Committee, 5 Oct 2022); with it none did
    # (Bank of England, Financial Stability Report, December 2022).
    ds, _ = batch
    pooled = ds.group.values == "pooled"
    baseline = ds.defaulted.isel(scenario=0).values
    assert np.all(baseline[-1, pooled] > 0), baseline[-1]
    assert not np.any(baseline[:_round("2022-09-28")] > 0)  # none before the announcement: the Bank was in time
    assert not np.any(ds.defaulted.isel(scenario=RUNS.index("boe_purchases")).values > 0)


@pytest.mark.parametrize("lever", ["repo_facility", "haircut_floor"])
def test_liquidity_levers_alone_do_not_stop_the_spiral(batch, lever):
    # the spiral runs through the price and the funds' rebalancing, not through haircuts
    _, s = batch
    assert _peak(s[lever]) > 0.95 * _peak(s["baseline"])
    assert _ldi_sales(s[lever]) > 0.95 * _ldi_sales(s["baseline"])
