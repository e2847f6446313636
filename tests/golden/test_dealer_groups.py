"""The narrative's dealer groups, with every mechanism on: a shock to group A's book
cascades A → B → C → D, one group per round, through overlapping holdings and SLR-forced
sales; leveraged hedge funds on repo and bond funds facing redemptions trade in the same
markets, and their funding calls make the same shock strictly worse than balance-sheet
contagion alone. The simulated figures the preset's comments and the README print are
checked in tests/golden/test_documented_numbers.py."""

import numpy as np
import pytest

from firesale import load_preset, simulate
from firesale.analytics import cascade_order, summarize
from firesale.testing import assert_invariants

DEALER_GROUPS = "ABCD"
FUNDING_OFF = {"channels.margin": False, "channels.rollover": False, "channels.unsecured": False,
               "channels.redemption": False}
#: HY shocks within ±10% of the file's -6%, every 0.05 pp
SHOCK_RANGE = np.round(np.linspace(-0.066, -0.054, 25), 6)


@pytest.fixture(scope="module")
def preset():
    return load_preset("dealer_groups")


@pytest.fixture(scope="module")
def ds(preset):
    return simulate(preset.system, preset.scenario, detail=True)


@pytest.fixture(scope="module")
def runs(preset):
    """Default (every funding channel on), balance-sheet contagion alone, haircut floors: one batch."""
    scenarios = [preset.scenario, preset.scenario.updated(**FUNDING_OFF),
                 preset.scenario.updated(**{"policy.haircut_floor": True})]
    out = simulate(preset.system, scenarios)
    return dict(zip(("on", "off", "floor"), (summarize(out, i) for i in range(3)))), out


def _dealer_cascade(ds, scenario=0):
    groups = cascade_order(ds, scenario)["groups"]
    return [[r, [g for g in gs if g in DEALER_GROUPS]] for r, gs in groups if any(g in DEALER_GROUPS for g in gs)]


def _dealers_out_of_turn(ds, scenario=0):
    return {row["name"]: row["first_forced_round"] for row in summarize(ds, scenario)["institutions"]
            if row["group"] in DEALER_GROUPS and row["first_forced_round"] != DEALER_GROUPS.index(row["group"])}


def test_twelve_dealers_in_four_groups_and_the_non_banks(preset):
    system = preset.system
    by_type = {}
    for inst in system.institutions:
        by_type.setdefault(inst.type, set()).add(inst.group)
    dealers = [i for i in system.institutions if i.type == "dealer"]
    assert len(dealers) >= 12 and {i.group for i in dealers} == set(DEALER_GROUPS)
    assert by_type["hedge_fund"] == {"HF"} and by_type["asset_manager"] == {"AM"}
    assert {i.group for i in system.institutions} == {*DEALER_GROUPS, "HF", "AM"}
    held = {a.asset_class for a in system.assets}
    assert {"treasury", "corporate_ig", "agency_mbs"} <= held
    assets = {a.name: a for a in system.assets}
    names = system.institution_names
    for n, inst in enumerate(system.institutions):
        if inst.type == "hedge_fund":
            # leveraged on thin-haircut repo of Treasuries and MBS, with a repo-rollover threshold
            financed = {a for k, a in enumerate(system.asset_names) if system.repo[n, k] > 0}
            assert financed == {"ust", "agency_mbs"}, inst.name
            assert float(system.equity0[n]) < 0.06 * float(system.total_assets0[n]), inst.name
            assert inst.repo_rollover_threshold is not None and inst.cash > 0
        elif inst.type == "asset_manager":
            assert inst.redemption_sensitivity > 0 and inst.first_mover > 0 and inst.cash > 0
            assert not system.repo[n].any() and inst.liabilities == 0
        else:
            assert not system.repo[n].any(), f"{names[n]}: the dealers' repo is in their liabilities"
    # haircuts rise with volatility: Treasuries 2%, MBS 4%, IG 8%, HY 15%
    assert [assets[a].haircut for a in ("ust", "agency_mbs", "ig_industrial", "corp_hy")] == [0.02, 0.04, 0.08, 0.15]
    assert all(assets[a].beta > 0 for a in ("ust", "agency_mbs", "ig_industrial", "ig_financial", "corp_hy"))


def test_dealer_cascade_goes_group_by_group(ds):
    assert _dealer_cascade(ds) == [[0, ["A"]], [1, ["B"]], [2, ["C"]], [3, ["D"]]]
    assert _dealers_out_of_turn(ds) == {}
    # in the summary's cascade the dealer groups are first forced in the order A < B < C < D
    groups = summarize(ds)["cascade"]["groups"]
    first_round = {g: r for r, gs in groups for g in gs}
    assert first_round["A"] < first_round["B"] < first_round["C"] < first_round["D"], groups
    # the non-banks join at rounds of their own: the bond funds with A (redemptions after
    # the shock), the hedge funds with D (margin calls), never before C is forced
    first = {row["name"]: row["first_forced_round"] for row in summarize(ds)["institutions"]}
    assert {first[n] for n in ("AM1", "AM2")} == {0}
    hedge_funds = [first[n] for n in ("HF1", "HF2", "HF3") if first[n] is not None]
    assert hedge_funds and min(hedge_funds) >= 3, hedge_funds


def test_no_price_ever_reaches_zero(ds, runs):
    assert float(ds.price.min()) > 0.0
    assert float(runs[1].price.min()) > 0.0


def test_only_group_a_of_the_dealers_is_hit_by_the_shock_itself(ds, preset):
    # B, C and D hold none of the shocked asset: their first losses are fire-sale losses;
    # of the non-banks only the bond funds hold it
    shocked = {sh.asset for sh in preset.scenario.shocks}
    holdings = ds.holdings0.sel(asset=list(shocked)).sum("asset")
    for name, group in zip(ds.institution.values, ds.group.values):
        assert (float(holdings.sel(institution=name)) > 0) == (group in ("A", "AM")), name


def test_amplified_and_accounted(ds):
    s = summarize(ds)
    assert s["amplification"] > 1.0
    # every loss beyond the shock's own is a fire-sale loss: prices of unshocked assets fell
    unshocked = ds.price.isel(scenario=0).sel(asset=[a for a in ds.asset.values if a != "corp_hy"])
    assert float(unshocked.min()) < 1.0
    assert_invariants(ds)


def test_funding_makes_the_loss_strictly_larger(runs):
    s, out = runs
    on, off = s["on"]["total_loss"], s["off"]["total_loss"]
    assert on > 1.10 * off, (on, off)
    # the funding channels are what makes the non-banks sell: margin calls and repo not
    # rolled for the hedge funds, redemptions for the bond funds
    by_channel = {}
    for row in s["on"]["institutions"]:
        if row["group"] in ("HF", "AM"):
            by_channel.setdefault(row["group"], set()).update(row["sales_by_channel"])
    assert by_channel["HF"] >= {"margin"} and by_channel["HF"] <= {"margin", "rollover"}
    assert by_channel["AM"] == {"redemption"}
    # alone, balance-sheet contagion leaves them marking to market, and the dealers in order
    assert all(row["sales"] == 0.0 for row in s["off"]["institutions"] if row["group"] in ("HF", "AM"))
    for i in range(3):
        assert _dealer_cascade(out, i) == [[0, ["A"]], [1, ["B"]], [2, ["C"]], [3, ["D"]]], i
        assert _dealers_out_of_turn(out, i) == {}, i


def test_haircut_floors_make_the_loss_smaller(runs):
    s, _ = runs
    assert s["floor"]["total_loss"] < s["on"]["total_loss"]
    # without rising haircuts the hedge funds' cash buffers meet more of the calls
    hf = {run: sum(row["sales"] for row in s[run]["institutions"] if row["group"] == "HF") for run in s}
    assert hf["floor"] < 0.75 * hf["on"]


def test_exemption_damps_the_cascade(preset, ds):
    exempt = simulate(preset.system, preset.scenario.updated(**{"policy.slr_exemption": True}))
    assert float(exempt.sold.sum()) < float(ds.sold.sum())
    assert summarize(exempt)["amplification"] < summarize(ds)["amplification"]
    assert summarize(exempt)["total_loss"] < summarize(ds)["total_loss"]
    assert np.all(exempt.slr.isel(round=0).values >= ds.slr.isel(round=0).values - 1e-12)
    # the dealers of groups B, C and D, hit only by others' sales, sell less than without
    # the exemption, and the cascade stops before group D
    def sold_by(summary, groups):
        return sum(r["sales"] for r in summary["institutions"] if r["group"] in groups)

    assert sold_by(summarize(exempt), ("B", "C", "D")) < sold_by(summarize(ds), ("B", "C", "D"))
    assert sold_by(summarize(exempt), ("D",)) == 0.0


def test_dealer_cascade_holds_within_ten_percent_of_the_shock(preset):
    scenarios = [preset.scenario.updated(shocks=[{"asset": "corp_hy", "price": float(x)}]) for x in SHOCK_RANGE]
    out = simulate(preset.system, scenarios)
    for i, x in enumerate(SHOCK_RANGE):
        assert _dealer_cascade(out, i) == [[0, ["A"]], [1, ["B"]], [2, ["C"]], [3, ["D"]]], x
        assert _dealers_out_of_turn(out, i) == {}, x


def test_funding_amplifies_and_floors_damp_within_ten_percent_of_the_shock(preset):
    scenarios = []
    for x in SHOCK_RANGE[::3]:
        shocked = preset.scenario.updated(shocks=[{"asset": "corp_hy", "price": float(x)}])
        scenarios += [shocked, shocked.updated(**FUNDING_OFF), shocked.updated(**{"policy.haircut_floor": True})]
    out = simulate(preset.system, scenarios)
    for j, x in enumerate(SHOCK_RANGE[::3]):
        on, off, floor = (summarize(out, 3 * j + k)["total_loss"] for k in range(3))
        assert on > 1.10 * off, (x, on, off)
        assert floor < on, (x, floor, on)
