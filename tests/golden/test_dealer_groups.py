"""The narrative's dealer groups: a shock to group A's book cascades A → B → C → D,
one group per round, through overlapping holdings and SLR-forced sales."""

import numpy as np
import pytest

from firesale import load_preset, simulate
from firesale.analytics import cascade_order, summarize
from firesale.testing import assert_invariants


@pytest.fixture(scope="module")
def preset():
    return load_preset("dealer_groups")


@pytest.fixture(scope="module")
def ds(preset):
    return simulate(preset.system, preset.scenario, detail=True)


def test_at_least_twelve_dealers_in_four_groups(preset):
    groups = [i.group for i in preset.system.institutions]
    assert len(groups) >= 12 and set(groups) == {"A", "B", "C", "D"}
    held = {a.asset_class for a in preset.system.assets}
    assert {"treasury", "corporate_ig", "agency_mbs"} <= held


def test_cascade_goes_group_by_group(ds):
    assert cascade_order(ds)["groups"] == [[0, ["A"]], [1, ["B"]], [2, ["C"]], [3, ["D"]]]
    first = {row["name"]: row["first_forced_round"] for row in summarize(ds)["institutions"]}
    for row in summarize(ds)["institutions"]:
        assert first[row["name"]] == "ABCD".index(row["group"]), row["name"]


def test_only_group_a_is_hit_by_the_shock_itself(ds, preset):
    # B, C and D hold none of the shocked asset: their first losses are fire-sale losses
    shocked = {sh.asset for sh in preset.scenario.shocks}
    holdings = ds.holdings0.sel(asset=list(shocked)).sum("asset")
    for name, group in zip(ds.institution.values, ds.group.values):
        assert (float(holdings.sel(institution=name)) > 0) == (group == "A"), name


def test_amplified_and_accounted(ds):
    s = summarize(ds)
    assert s["amplification"] > 2.0
    # every loss beyond the shock's own is a fire-sale loss: prices of unshocked assets fell
    unshocked = ds.price.isel(scenario=0).sel(asset=[a for a in ds.asset.values if a != "corp_hy"])
    assert float(unshocked.min()) < 1.0
    assert_invariants(ds)


def test_exemption_damps_the_cascade(preset, ds):
    exempt = simulate(preset.system, preset.scenario.updated(**{"policy.slr_exemption": True}))
    assert float(exempt.sold.sum()) < 0.25 * float(ds.sold.sum())
    assert summarize(exempt)["amplification"] < summarize(ds)["amplification"]
    assert np.all(exempt.slr.isel(round=0).values >= ds.slr.isel(round=0).values - 1e-12)
