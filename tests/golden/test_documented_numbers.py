"""Every simulated number the documentation prints, checked against the engine in one place.

The comments and descriptions of the calibrated presets dealer_groups and dealer_market
and the README (the "What `make run` prints"
and `firesale compare` blocks, the Attribution paragraph, the reverse stress test and
sensitivity paragraphs, the Presets table and the
dashboard's amplification) quote figures from runs of the engine. ``DOCUMENTED`` lists each of them as
(file, the text as the file prints it with the number as a format field, the function of
the engine's results that gives the number); the test formats the engine's value and
looks for the exact text in the file. The README's two blocks are compared line by line
with what ``firesale run dealer_groups`` and ``firesale compare dealer_groups --policy
slr_exemption`` print at 100 columns.

The historical presets (march_2020, gilt_ldi_2022) print no simulated figure outside
their target tables, which docs/validation.md publishes and
tests/golden/test_validation_doc.py checks.

When the engine changes a figure, this test names the file and the text to regenerate.
Each preset runs once per module, its variants batched in one ``simulate`` call; the
Shapley attributions run their 8 corners in one batch each.
"""

from __future__ import annotations

import functools
import json
import math
import pathlib
from typing import Any, Callable

import numpy as np
import pytest
from typer.testing import CliRunner

from firesale import load_preset, simulate
from firesale.analytics import summarize
from firesale.analytics.amplification import capital_lost, with_impulse
from firesale.analytics.attribution import PLAYERS, attribute, attribution_summary
from firesale.cli import app

ROOT = pathlib.Path(__file__).parents[2]
GROUPS_TOML, MARKET_TOML = "src/firesale/presets/dealer_groups.toml", "src/firesale/presets/dealer_market.toml"
README = "README.md"

DEALER_GROUPS = "ABCD"
FUNDING_OFF = {f"channels.{c}": False for c in ("margin", "rollover", "unsecured", "redemption")}
#: HY shocks on a 0.05 pp grid: the dealer order's range and its edges, and A's defaults
ORDER_GRID = np.round(np.arange(-0.0145, -0.10905, -0.0005), 4)
#: HY shocks within +-10% of the file's -6%, every 0.05 pp
SHOCK_RANGE = np.round(np.linspace(-0.066, -0.054, 25), 6)


class Batch:
    """One preset's runs: a Dataset with named scenarios and their summaries on demand."""

    def __init__(self, preset, scenarios: dict[str, Any], detail: bool = True, loop_gain: bool = False):
        self.preset, self.names = preset, list(scenarios)
        # each scenario's channels-off impulse run rides in the batch, as `firesale run` does
        self.full = simulate(preset.system, with_impulse(list(scenarios.values())), detail=detail, loop_gain=loop_gain)
        self.ds = self.full.isel(scenario=slice(0, len(self.names)))

    @functools.cache
    def s(self, name: str) -> dict[str, Any]:
        return summarize(self.full, self.names.index(name))

    def one(self, name: str):
        return self.ds.isel(scenario=self.names.index(name))


class Shapley:
    """One preset's exact Shapley attribution over the three mechanisms, as ``firesale
    attribute PRESET --json`` prints it (``s``)."""

    def __init__(self, preset):
        self.preset = preset
        self.s = attribution_summary(attribute(preset.system, preset.scenario))


@pytest.fixture(scope="module")
def engine() -> dict[str, Batch]:
    runs = {}
    groups = load_preset("dealer_groups")
    base = groups.scenario
    runs["groups"] = Batch(groups, {
        "on": base, "off": base.updated(**FUNDING_OFF), "floor": base.updated(**{"policy.haircut_floor": True}),
        "exempt": base.updated(**{"policy.slr_exemption": True}),
    })
    hy = [base.updated(shocks=[{"asset": "corp_hy", "price": float(x)}]) for x in ORDER_GRID]
    runs["groups_grid"] = Batch(groups, dict(zip(map(str, ORDER_GRID), hy)), detail=False)
    ranged = {}
    for x in SHOCK_RANGE:
        shocked = base.updated(shocks=[{"asset": "corp_hy", "price": float(x)}])
        ranged.update({f"on {x}": shocked, f"off {x}": shocked.updated(**FUNDING_OFF),
                       f"floor {x}": shocked.updated(**{"policy.haircut_floor": True})})
    runs["groups_range"] = Batch(groups, ranged, detail=False)
    market = load_preset("dealer_market")
    runs["market"] = Batch(market, {"baseline": market.scenario,
                                    "frozen": market.scenario.updated(**{"market.layoff_share": 0.0})}, loop_gain=True)
    runs["groups_shapley"] = Shapley(groups)
    prime = load_preset("dealer_prime")
    runs["prime"] = Batch(prime, {"baseline": prime.scenario})
    runs["prime_shapley"] = Shapley(prime)
    runs["prime_reverse"] = _command("reverse", "dealer_prime", "--target", "defaults>=1", "--json")
    runs["march_sensitivity"] = _command("sensitivity", "march_2020", "--json")
    return runs


def _command(*args: str) -> dict[str, Any]:
    """A command's ``--json`` output."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@functools.cache
def _text(path: str) -> str:
    return (ROOT / path).read_text()


# -------------------------------------------------------------- helpers on the results

def _sold(summary, asset=None, group=None, name=None):
    return sum((row["sales"] if asset is None else row["sales_by_asset"].get(asset, 0.0))
               for row in summary["institutions"]
               if (group is None or row["group"] in group) and (name is None or row["name"] == name))


def _row(summary, name):
    return next(row for row in summary["institutions"] if row["name"] == name)


def _rounds_sold(one, names) -> tuple[int, int]:
    sold = one.sold.sel(institution=list(names)).sum("institution").values
    active = np.nonzero(sold > 1e-9)[0]
    return int(active.min()), int(active.max())


def _defaults(summary) -> str:
    return "no default" if summary["defaults"] == 0 else f"{summary['defaults']} defaults"


def _dg(e, name="on"):
    return e["groups"].s(name)


def _group_members(one, group):
    return [str(n) for n, g in zip(one.institution.values, one.group.values) if g == group]


def _first_forced(ds) -> np.ndarray:
    """First round each institution sells, per scenario (-1: never): (scenario, institution)."""
    sold = ds.sold.values > 0
    return np.where(sold.any(axis=1), sold.argmax(axis=1), -1)


def _in_order(e) -> np.ndarray:
    """Per grid shock: every dealer first forced in its group's round."""
    ds = e["groups_grid"].ds
    first = _first_forced(ds)
    groups = ds.group.values
    dealers = np.isin(groups, list(DEALER_GROUPS))
    turn = np.array([DEALER_GROUPS.index(g) if g in DEALER_GROUPS else -1 for g in groups])
    return np.all(first[:, dealers] == turn[dealers], axis=1)


def _order_range(e) -> str:
    ok = _in_order(e)
    inside = ORDER_GRID[ok]
    # contiguous: the order holds on the whole range between its ends
    lo, hi = np.nonzero(ok)[0].min(), np.nonzero(ok)[0].max()
    assert ok[lo:hi + 1].all()
    return f"from {100 * inside.max():.1f}% to {100 * inside.min():.2f}%"


def _grid_index(x):
    return int(np.nonzero(np.isclose(ORDER_GRID, x))[0][0])


def _late_at(e, x) -> str:
    ds = e["groups_grid"].ds
    i = _grid_index(x)
    first = _first_forced(ds)[i]
    late = [str(n) for n, g, r in zip(ds.institution.values, ds.group.values, first)
            if g in DEALER_GROUPS and r == DEALER_GROUPS.index(g) + 1]
    return " and ".join(late)


def _first_default(e, name) -> str:
    ds = e["groups_grid"].ds
    k = list(ds.institution.values).index(name)
    defaulted = ds.defaulted.values[:, -1, k] > 0
    i = int(np.nonzero(defaulted)[0].min())
    assert not defaulted[:i].any()
    return f"{100 * ORDER_GRID[i]:.2f}%"


def _range_losses(e) -> np.ndarray:
    return capital_lost(e["groups_range"].ds).sum("institution").values.reshape(-1, 3)


def _slr(e, name, names, round_):
    return e["groups"].one(name).slr.sel(institution=names).isel(round=round_).values


def _dm(e, name="baseline"):
    return e["market"].s(name)


def _given(condition: bool, value: Any, claim: str) -> Any:
    """The value, where the claim the text makes next to it still holds."""
    assert condition, f"no longer true: {claim}"
    return value


def _a_shed(e) -> np.ndarray:
    """Share of its t0 balance sheet each group-A dealer sells."""
    system = e["groups"].preset.system
    names = list(system.institution_names)
    return np.array([_row(_dg(e), n)["sales"] / float(system.total_assets0[names.index(n)]) for n in ("A1", "A2", "A3")])


def _share_word(x: float) -> str:
    """A fraction the comments print in words."""
    for word, value in (("a fifth", 0.2), ("a quarter", 0.25), ("a third", 1 / 3), ("half", 0.5)):
        if abs(x - value) < 0.05:
            return word
    return f"{100 * x:.0f}%"


def _every_mechanism_on(scenario) -> bool:
    """Every channel switch (balance sheet, funding, information) and dealer intermediation on."""
    return all(scenario.channels.model_dump().values()) and scenario.market.intermediation


def _minus(x: float, digits: int = 1) -> str:
    """A number as the README prints it, negative with U+2212."""
    return f"{'−' if x < 0 else ''}{abs(x):.{digits}f}"


def _sh(e, preset="groups"):
    return e[f"{preset}_shapley"].s


def _shapley_adds_up(s) -> bool:
    return math.isclose(sum(s["shapley"].values()), s["amplification_loss"], rel_tol=1e-9, abs_tol=1e-9)


def _shock(scenario, asset, kind):
    return next(getattr(sh, kind) for sh in scenario.shocks if sh.asset == asset and getattr(sh, kind) is not None)


def _n_dealers(ds, groups) -> int:
    return int(((ds.institution_type == "dealer") & ds.group.isin(list(groups))).sum())


# ------------------------------------------------------------------- the documented numbers

_ISSUE_KNOBS = ("depth", "slr_headroom", "outside_capital", "spread_elasticity")


def _rev_shock(e, asset: str) -> float:
    return next(s["price"] for s in e["prime_reverse"]["shocks"] if s["asset"] == asset)


def _reverse_holds(report) -> bool:
    return (report["meets_target"] and not report["at_098"]["meets_target"]
            and all(p["meets_at_shock"] and abs(p["severity_multiple"] - 1) < 1e-3 for p in report["policies"].values())
            and report["institutions"][0]["defaulted"]
            and math.isclose(report["institutions"][0]["equity_lost"], load_preset("dealer_prime").system.equity0.sum(),
                             rel_tol=1e-6))


def _elasticity(e, knob: str, outcome: str) -> float:
    return next(k for k in e["march_sensitivity"]["knobs"] if k["name"] == knob)["outcomes"][outcome]["elasticity"]


DOCUMENTED: list[tuple[str, str, Callable[[dict[str, Batch]], Any]]] = [
    # ---- src/firesale/presets/dealer_groups.toml
    (GROUPS_TOML, "SLR fire sales cascade A (round {}) -> B ({}) -> C ({}) -> D ({})",
     lambda e: tuple(next(r for r, gs in _dg(e)["cascade"]["groups"] if g in gs) for g in DEALER_GROUPS)),
    *[(GROUPS_TOML, f"forced in round {{}}, {what}",
       functools.partial(lambda e, g: next(r for r, gs in _dg(e)["cascade"]["groups"] if g in gs), g=group))
      for group, what in (("A", "dump HY and IG"), ("B", "dump MBS"), ("C", "dump MBS and IG fin"),
                          ("D", "sell Treasuries"))],
    (GROUPS_TOML, "# {}.\n#\n# Every mechanism", lambda e: json.dumps(_dg(e)["cascade"]["groups"])),
    (GROUPS_TOML, "come first in rounds {} (A), {} (B), {} (C) and {} (D), and every member of a dealer group\n# is first forced in its group's round.",
     lambda e: _given(_in_order(e)[_grid_index(-0.06)],
                      tuple(next(r for r, gs in _dg(e)["cascade"]["groups"] if g in gs) for g in DEALER_GROUPS),
                      "every dealer is first forced in its group's round")),
    (GROUPS_TOML, "As B and C dump MBS (rounds {}-{})",
     lambda e: _rounds_sold(e["groups"].one("on").sales.sel(asset="agency_mbs").rename("sold").to_dataset(),
                            [n for g in "BC" for n in _group_members(e["groups"].one("on"), g)])),
    (GROUPS_TOML, "bond funds in round {} (redemptions after the shock), the hedge funds in round {}",
     lambda e: tuple(next(r for r, gs in _dg(e)["cascade"]["groups"] if g in gs) for g in ("AM", "HF"))),
    (GROUPS_TOML, "MBS volatility rises by up to {:.0f}% and its haircut\n# from 4% to ~{:.1f}% (round {}):",
     lambda e: (100 * (float(e["groups"].one("on").sigma.sel(asset="agency_mbs").max()) / 0.004 - 1),
                100 * float(e["groups"].one("on").haircut.sel(asset="agency_mbs").max()),
                int(np.argmax(e["groups"].one("on").haircut.sel(asset="agency_mbs").values)))),
    (GROUPS_TOML, "HF2, the most MBS, sells from\n# round {} (~{:.0f} bn); HF1 and HF3 meet every call from cash",
     lambda e: _given(_row(_dg(e), "HF1")["sales"] == _row(_dg(e), "HF3")["sales"] == 0,
                      (_row(_dg(e), "HF2")["first_forced_round"], _row(_dg(e), "HF2")["sales"]), "HF1 and HF3 sell nothing")),
    (GROUPS_TOML, "stays above its repo lenders' 3% equity / assets threshold ({:.2f}% at worst)",
     lambda e: 100 * _row(_dg(e), "HF1")["min_capital_ratio"]),
    (GROUPS_TOML, "funds add ~{:.0f} bn of IG and HY to A's round-0 sales, and ~{:.0f} bn more in rounds 1-{}",
     lambda e: (_dg(e)["sales_by_group"]["AM"][0], sum(_dg(e)["sales_by_group"]["AM"][1:]),
                _rounds_sold(e["groups"].one("on"), ["AM1", "AM2"])[1])),
    (GROUPS_TOML, "#   forced sales ~{:,.0f} bn over rounds 0-{}, {}, total loss ~{:.1f} bn, {:.1f}x the",
     lambda e: (_dg(e)["forced_sales"], _rounds_sold(e["groups"].one("on"), e["groups"].ds.institution.values)[1],
                _defaults(_dg(e)), _dg(e)["total_loss"], _dg(e)["amplification"])),
    (GROUPS_TOML, "#   shock's own {:.1f} bn ({:.1f} on A's HY book, {:.1f} on the bond funds')",
     lambda e: (_dg(e)["initial_loss"],
                *(float(0.06 * e["groups"].ds.holdings0.sel(asset="corp_hy").where(e["groups"].ds.group == g, 0).sum())
                  for g in ("A", "AM")))),
    (GROUPS_TOML, "#   forced sales ~{:,.0f} bn, total loss ~{:.1f} bn ({:.1f}x): funding adds {};",
     lambda e: (_dg(e, "off")["forced_sales"], _dg(e, "off")["total_loss"], _dg(e, "off")["amplification"],
                _share_word(_dg(e)["total_loss"] / _dg(e, "off")["total_loss"] - 1))),
    (GROUPS_TOML, "the calls from price falls alone and {} sells:",
     lambda e: "none" if _sold(_dg(e, "floor"), group=("HF",)) == 0 else "some"),
    (GROUPS_TOML, "#   forced sales ~{:,.0f} bn, total loss ~{:.1f} bn ({:.1f}x).",
     lambda e: (_dg(e, "floor")["forced_sales"], _dg(e, "floor")["total_loss"], _dg(e, "floor")["amplification"])),
    (GROUPS_TOML, "member, for every HY shock {} (checked on a grid of 0.05 pp)", _order_range),
    (GROUPS_TOML, "at -1.45% {} come a round\n# late", lambda e: _late_at(e, -0.0145)),
    (GROUPS_TOML, "at -10.9% C is forced with B in round {}.",
     lambda e: int(_first_forced(e["groups_grid"].ds)[_grid_index(-0.109)][
         list(e["groups_grid"].ds.group.values).index("C")])),
    (GROUPS_TOML, "funding raises the total loss by {:.0f}-{:.0f}% and the haircut floor takes {:.0f}-{:.0f}% off it.",
     lambda e: (100 * (_range_losses(e)[:, 0] / _range_losses(e)[:, 1] - 1).min(),
                100 * (_range_losses(e)[:, 0] / _range_losses(e)[:, 1] - 1).max(),
                100 * (1 - _range_losses(e)[:, 2] / _range_losses(e)[:, 0]).min(),
                100 * (1 - _range_losses(e)[:, 2] / _range_losses(e)[:, 0]).max())),
    (GROUPS_TOML, "# The hedge funds sell nothing before round {}, so C and D",
     lambda e: _rounds_sold(e["groups"].one("on"), ["HF1", "HF2", "HF3"])[0]),
    (GROUPS_TOML, "A is still forced (A1, A3 in round {}, A2 in round {}), but sells only what",
     lambda e: _given(_row(_dg(e, "exempt"), "A1")["first_forced_round"] == _row(_dg(e, "exempt"), "A3")["first_forced_round"],
                      (_row(_dg(e, "exempt"), "A1")["first_forced_round"], _row(_dg(e, "exempt"), "A2")["first_forced_round"]),
                      "A1 and A3 are first forced together")),
    (GROUPS_TOML, "# the SLR counts (MBS, IG, HY: ~{:.0f} bn). B is forced in round {}, C2's leverage backstop",
     lambda e: _given(_sold(_dg(e, "exempt"), "ust", group=("A",)) == 0,
                      (_sold(_dg(e, "exempt"), group=("A",)), next(r for r, gs in _dg(e, "exempt")["cascade"]["groups"] if "B" in gs)),
                      "under the exemption A sells no Treasuries")),
    (GROUPS_TOML, "# binds in round {}, and C1, C3 and D stay above their triggers.",
     lambda e: _given(set(_row(_dg(e, "exempt"), "C2")["sales_by_channel"]) == {"leverage"}
                      and all(not _row(_dg(e, "exempt"), n)["breached"] for n in ("C1", "C3", "D1", "D2", "D3")),
                      _row(_dg(e, "exempt"), "C2")["first_forced_round"], "only C2's leverage backstop binds in C and D")),
    (GROUPS_TOML, "the hedge funds sell {}; the bond funds sell ~{:.0f} bn.",
     lambda e: ("nothing" if _sold(_dg(e, "exempt"), group=("HF",)) == 0 else "some",
                _sold(_dg(e, "exempt"), group=("AM",)))),
    (GROUPS_TOML, "# Forced sales ~{:.0f} bn instead of ~{:,.0f}, total loss {:.1f}x the shock instead of {:.1f}x:",
     lambda e: (_dg(e, "exempt")["forced_sales"], _dg(e)["forced_sales"], _dg(e, "exempt")["amplification"],
                _dg(e)["amplification"])),
    (GROUPS_TOML, "so their SLR falls to {:.1f}-{:.1f}% on the shock itself",
     lambda e: (100 * _slr(e, "on", ["A1", "A2", "A3"], 0).min(), 100 * _slr(e, "on", ["A1", "A2", "A3"], 0).max())),
    (GROUPS_TOML, "they shed {:.0f}-{:.0f}% of their", lambda e: (100 * _a_shed(e).min(), 100 * _a_shed(e).max())),
    (GROUPS_TOML, "but A1 from {} and A3 from {}.", lambda e: (_first_default(e, "A1"), _first_default(e, "A3"))),
    (GROUPS_TOML, "in round 0 their SLR is still {:.1f}%.", lambda e: 100 * _slr(e, "on", ["B1", "B2", "B3"], 0).min()),
    (GROUPS_TOML, "round-0 sales of A (~{:.0f} bn of IG industrials) and of the bond funds (~{:.0f} bn) knock that",
     lambda e: tuple(float(e["groups"].one("on").sales.isel(round=0).sel(
         asset="ig_industrial", institution=_group_members(e["groups"].one("on"), g)).sum()) for g in ("A", "AM"))),
    (GROUPS_TOML, "market down about {:.1f}% and B's SLR to about {:.1f}%: first forced in round {}.",
     lambda e: (-100 * (float(e["groups"].one("on").price.sel(asset="ig_industrial").isel(round=0)) - 1),
                100 * _slr(e, "on", ["B1", "B2", "B3"], 1).mean(),
                next(r for r, gs in _dg(e)["cascade"]["groups"] if "B" in gs))),
    (GROUPS_TOML, "breaches it in\n# round {} as well.",
     lambda e: int(np.argmax(e["groups"].one("on").breach.sel(institution="B1", channel="var").values))),
    (GROUPS_TOML, "A's round-0 sales (only ~{:.0f} bn of\n# MBS) leave them above 5% in round 1 (about {:.2f}%).",
     lambda e: (float(e["groups"].one("on").sales.isel(round=0).sel(
         asset="agency_mbs", institution=["A1", "A2", "A3"]).sum()), 100 * _slr(e, "on", ["C1", "C2", "C3"], 1).mean())),
    (GROUPS_TOML, "B's round-1 MBS sales (~{:.0f} bn)\n# take them to about {:.1f}%: first forced in round {}.",
     lambda e: (float(e["groups"].one("on").sales.isel(round=1).sel(asset="agency_mbs", institution=["B1", "B2", "B3"]).sum()),
                100 * _slr(e, "on", ["C1", "C2", "C3"], 2).mean(),
                next(r for r, gs in _dg(e)["cascade"]["groups"] if "C" in gs))),
    (GROUPS_TOML, "so they stay above 5% through round 2 (about {:.2f}%). C's round-2 sales of\n# IG financials (~{:.0f} bn, -{:.0f}%, and more MBS) take them to about {:.1f}%: first forced in\n# round {}.",
     lambda e: (100 * _slr(e, "on", ["D1", "D2", "D3"], 2).mean(),
                float(e["groups"].one("on").sales.isel(round=2).sel(asset="ig_financial", institution=["C1", "C2", "C3"]).sum()),
                -100 * (float(e["groups"].one("on").price.sel(asset="ig_financial").isel(round=2)) - 1),
                100 * _slr(e, "on", ["D1", "D2", "D3"], 3).mean(),
                next(r for r, gs in _dg(e)["cascade"]["groups"] if "D" in gs))),
    (GROUPS_TOML, "the limit binds from round {}.",
     lambda e: int(np.argmax(e["groups"].one("on").breach.sel(institution="D3", channel="var").values))),
    (GROUPS_TOML, "3% ({:.2f}% at worst in the baseline).", lambda e: 100 * _row(_dg(e), "HF1")["min_capital_ratio"]),
    (GROUPS_TOML, "The most MBS, so the only one called beyond\n#      its buffer (round {}).",
     lambda e: _given([n for n in ("HF1", "HF2", "HF3") if _row(_dg(e), n)["sales"] > 0] == ["HF2"],
                      _row(_dg(e), "HF2")["first_forced_round"], "HF2 is the only hedge fund that sells")),
    (GROUPS_TOML, "so ~{:.0f}% is redeemed; the cash covers {} and they sell the rest pro rata (~{:.0f} bn,",
     lambda e: (100 * float(e["groups"].one("on").redeemed.isel(round=0).sel(institution=["AM1", "AM2"]).sum()) / 170,
                _share_word(5.0 / float(e["groups"].one("on").redeemed.isel(round=0).sel(institution=["AM1", "AM2"]).sum())),
                _dg(e)["sales_by_group"]["AM"][0])),
    (GROUPS_TOML, "they sell ~{:.0f} bn more in rounds 1-{}.",
     lambda e: (sum(_dg(e)["sales_by_group"]["AM"][1:]), _rounds_sold(e["groups"].one("on"), ["AM1", "AM2"])[1])),
    (GROUPS_TOML, "At -6% MBS volatility peaks ~{:.2f}x sigma0 (round {}): its\n# haircut goes 4% -> ~{:.1f}%;",
     lambda e: (float(e["groups"].one("on").sigma.sel(asset="agency_mbs").max()) / 0.004,
                int(np.argmax(e["groups"].one("on").sigma.sel(asset="agency_mbs").values)),
                100 * float(e["groups"].one("on").haircut.sel(asset="agency_mbs").max()))),
    (GROUPS_TOML, "so the Treasury haircut stays at {:.0f}%; HY's reaches the scenario's\n# cap of {:.0f}x in round {}",
     lambda e: (100 * float(e["groups"].one("on").haircut.sel(asset="ust").max()),
                float(e["groups"].one("on").sigma.sel(asset="corp_hy").max()) / 0.005,
                int(np.argmax(e["groups"].one("on").sigma.sel(asset="corp_hy").values)))),
    (GROUPS_TOML, "(no sales after round {}) as outside capital\n# arrives: by round 40 the unshocked assets are back within {:.2f}% of t0 and HY ends\n# {:.1f}% down",
     lambda e: (_rounds_sold(e["groups"].one("on"), e["groups"].ds.institution.values)[1],
                math.ceil(1e4 * max(abs(v) for a, v in _dg(e)["price_change"].items() if a != "corp_hy")) / 100,
                -100 * _dg(e)["price_change"]["corp_hy"])),
    # ---- src/firesale/presets/dealer_market.toml
    (MARKET_TOML, "A's HY loss takes both A dealers below\n# their 5% SLR in round {}",
     lambda e: _given(_row(_dm(e), "A1")["first_forced_round"] == _row(_dm(e), "A2")["first_forced_round"],
                      _row(_dm(e), "A1")["first_forced_round"], "A1 and A2 are first forced together")),
    (MARKET_TOML, "their most liquid asset (~{:.0f} in\n# rounds {}-{}); the bond fund's redemptions add ~{:.1f} in round {}.",
     lambda e: (_sold(_dm(e), "ust", group=("A",)), *_rounds_sold(e["market"].one("baseline"), ["A1", "A2"]),
                _sold(_dm(e), group=("AM",)), _row(_dm(e), "AM")["first_forced_round"])),
    (MARKET_TOML, "HY quotes thin: {:.0f}% of\n# the HY market still quoting at the worst, its spread {:.0f} -> {:.0f} bp of price, its price at\n# worst -{:.1f}% against the -3% shock.",
     lambda e: (100 * _dm(e)["quoting_share"]["corp_hy"]["min"], 1e4 * _dm(e)["spreads"]["corp_hy"]["t0"],
                1e4 * _dm(e)["spreads"]["corp_hy"]["peak"], -100 * _dm(e)["price_trough"]["corp_hy"])),
    (MARKET_TOML, "the loss, {:.2f}, ends within 1% of\n# the impulse's {:.2f}",
     lambda e: _given(abs(_dm(e)["total_loss"] / _dm(e)["initial_loss"] - 1) < 0.01,
                      (_dm(e)["total_loss"], _dm(e)["initial_loss"]), "the loss ends within 1% of the impulse's")),
    (MARKET_TOML, "freezes the inter-dealer market (loss {:.2f})", lambda e: _dm(e, "frozen")["total_loss"]),
    # ---- README.md: Attribution
    (README, "runs the scenario with each mechanism on or off, the {}\ncorners in one batch",
     lambda e: 2 ** len(_sh(e)["players"])),
    (README, "On `dealer_groups`, where every mechanism\nis on: balance-sheet contagion {:.1f} bn ({:.1f}%), funding {:.1f} bn ({:.1f}%) and information\n{:.1f} bn ({:.1f}%) of the {:.1f} bn beyond the shock's {:.1f} bn;",
     lambda e: _given(_every_mechanism_on(e["groups"].preset.scenario) and _shapley_adds_up(_sh(e))
                      and _sh(e)["players"] == ["balance_sheet", "funding", "information"],
                      (*(x for n in ("balance_sheet", "funding", "information")
                         for x in (_sh(e)["shapley"][n], 100 * _sh(e)["share"][n])),
                       _sh(e)["amplification_loss"], _sh(e)["baseline_loss"]),
                      "every mechanism is on in dealer_groups and the Shapley values add up")),
    (README, "funding alone adds {:.2f} bn, its\ninteraction with the balance sheet {:.1f} bn, with information {} bn (they overlap), and\nthe three together {:.1f} bn.",
     lambda e: _given(_sh(e)["interactions"]["funding+information"] < 0,
                      (_sh(e)["alone"]["funding"] if abs(_sh(e)["alone"]["funding"]) >= 0.005 else 0.0,
                       _sh(e)["interactions"]["balance_sheet+funding"],
                       _minus(_sh(e)["interactions"]["funding+information"]),
                       _sh(e)["interactions"]["balance_sheet+funding+information"]),
                      "funding and information overlap (a negative interaction)")),
    (README, "On `dealer_prime` the SLR causes all {:.0f} of the forced sales\n({:.0f}x the loss of {:.0f}).",
     lambda e: _given(math.isclose(_sh(e, "prime")["shapley_forced_sales"]["balance_sheet"], _sh(e, "prime")["forced_sales"])
                      and all(set(row["sales_by_channel"]) <= {"slr"} for row in e["prime"].s("baseline")["institutions"]),
                      (_sh(e, "prime")["forced_sales"], _sh(e, "prime")["forced_sales"] / _sh(e, "prime")["baseline_loss"],
                       _sh(e, "prime")["baseline_loss"]), "the SLR forces every sale in dealer_prime")),
    (README, "splits by every channel ({} corners).", lambda e: 2 ** len(PLAYERS["channels"])),
    # ---- README.md: Reverse stress tests and sensitivity
    (README, "the dealer's default {:.2f} standard deviations away: corporates −{:.2f}%,\nother assets −{:.2f}% and "
     "Treasuries −{:.2f}% in one day; 0.98 times that shock leaves\nit standing, and none of the SLR exemption, haircut "
     "floors or swing pricing moves the\nboundary: the shock takes all of its {:.0f} of equity.",
     lambda e: _given(_reverse_holds(e["prime_reverse"]),
                      (e["prime_reverse"]["distance"], *(-100 * _rev_shock(e, a) for a in ("corporates", "other",
                                                                                         "treasuries")),
                       e["prime_reverse"]["institutions"][0]["equity_lost"]),
                      "the shock meets the target, 0.98 of it does not, no policy moves the boundary and the dealer "
                      "loses all of its equity")),
    (README, "On `march_2020` the 10-year's peak\nfall has elasticities of {:+.2f} to depth, {:+.2f} to the dealers' SLR "
     "headroom, {:+.2f}\nto outside capital and {:+.2f} to the spread elasticity; the levered loss {:+.2f}, {:+.2f},\n"
     "{:+.2f} and {:+.2f}; no 1% move is a cliff.",
     lambda e: _given(not [c for c in e["march_sensitivity"]["cliffs"] if c["knob"] in _ISSUE_KNOBS],
                      tuple(_elasticity(e, k, o) for o in ("price_fall.ust_10y", "loss") for k in _ISSUE_KNOBS),
                      "none of the four knobs is a cliff on march_2020")),
    # ---- README.md: Presets table
    (README, "high yield −{:.0f}% while outside clients sell {:.0f} of high yield and {:.0f} of IG to dealers.",
     lambda e: (-100 * _shock(e["market"].preset.scenario, "corp_hy", "price"),
                _shock(e["market"].preset.scenario, "corp_hy", "client_sale"),
                _shock(e["market"].preset.scenario, "corp_ig", "client_sale"))),
    (README, "A's HY loss takes both A dealers below their 5% SLR in round {} and they sell ~{:.0f} of Treasuries;",
     lambda e: _given(_row(_dm(e), "A1")["first_forced_round"] == _row(_dm(e), "A2")["first_forced_round"]
                      and _row(_dm(e), "A1")["breached"] and _row(_dm(e), "A2")["breached"],
                      (_row(_dm(e), "A1")["first_forced_round"], _sold(_dm(e), "ust", group=("A",))),
                      "A1 and A2 are first forced together")),
    (README, "HY quotes thin ({:.0f}% of the market still quoting at the worst, spread {:.0f} → {:.0f} bp of price).",
     lambda e: (100 * _dm(e)["quoting_share"]["corp_hy"]["min"], 1e4 * _dm(e)["spreads"]["corp_hy"]["t0"],
                1e4 * _dm(e)["spreads"]["corp_hy"]["peak"])),
    (README, "With every mechanism on nothing tips: every market stays functioning, the loop gain peaks at {:.2f} (round {}), below 1,",
     lambda e: _given(_every_mechanism_on(e["market"].preset.scenario) and not _dm(e)["market_tipped"]
                      and all(r["state"] == "functioning" for r in _dm(e)["regime"].values())
                      and _dm(e)["loop_gain"]["peak"] < 1,
                      (_dm(e)["loop_gain"]["peak"], _dm(e)["loop_gain"]["peak_round"]),
                      "every mechanism on, no market stressed and the loop gain below 1")),
    (README, "and the loss, {:.2f}, ends within 1% of the impulse's {:.2f} (the shock and the client sales with every channel off) as prices recover.",
     lambda e: _given(abs(_dm(e)["total_loss"] / _dm(e)["initial_loss"] - 1) < 0.01
                      and _dm(e)["price_change"]["corp_hy"] > _dm(e)["price_trough"]["corp_hy"],
                      (_dm(e)["total_loss"], _dm(e)["initial_loss"]), "the loss ends within 1% of the impulse's")),
    (README, "Freezing the inter-dealer market (`market.layoff_share = 0`) changes little: loss {:.2f} (+{:.1f}%) |",
     lambda e: _given(abs(_dm(e, "frozen")["total_loss"] / _dm(e)["total_loss"] - 1) < 0.05,
                      (_dm(e, "frozen")["total_loss"], 100 * (_dm(e, "frozen")["total_loss"] / _dm(e)["total_loss"] - 1)),
                      "freezing the inter-dealer market changes the loss by less than 5%")),
    (README, "| `dealer_groups` (default) | {} dealers in groups A–D with hedge funds on repo and bond funds; HY −{:.0f}% cascades",
     lambda e: (_n_dealers(e["groups"].ds, DEALER_GROUPS), -100 * _shock(e["groups"].preset.scenario, "corp_hy", "price"))),
    (README, "cascades A (round {}) → B ({}) → C ({}) → D ({}): total loss {:.1f} bn, {:.1f}× the shock's own {:.1f}, {};",
     lambda e: (*(next(r for r, gs in _dg(e)["cascade"]["groups"] if g in gs) for g in DEALER_GROUPS),
                _dg(e)["total_loss"], _dg(e)["amplification"], _dg(e)["initial_loss"], _defaults(_dg(e)))),
    (README, "funding raises the loss by {:.0f}% over balance-sheet contagion alone, haircut floors take {:.0f}% off it,",
     lambda e: (100 * (_dg(e)["total_loss"] / _dg(e, "off")["total_loss"] - 1),
                100 * (1 - _dg(e, "floor")["total_loss"] / _dg(e)["total_loss"]))),
    (README, "the SLR exemption stops the cascade before group D (loss {:.1f}× the shock). Every mechanism is on, dealer intermediation and the information channel included",
     lambda e: _given(_every_mechanism_on(e["groups"].preset.scenario)
                      and not any("D" in gs for _, gs in _dg(e, "exempt")["cascade"]["groups"]),
                      _dg(e, "exempt")["amplification"], "every mechanism on; no D dealer forced under the exemption")),
    # ---- README.md: Dashboard
    (README, "shows an amplification of {:.3f}, as `firesale run --json` does.",
     lambda e: _dg(e)["amplification"]),
]


@pytest.mark.parametrize("path, text, value", DOCUMENTED,
                         ids=[f"{i:03d} {path.rsplit('/', 1)[-1]}" for i, (path, _, _) in enumerate(DOCUMENTED)])
def test_documented_number(engine, path, text, value):
    got = value(engine)
    expected = text.format(*got) if isinstance(got, tuple) else text.format(got)
    assert expected in _text(path), f"{path} should print {expected!r}: regenerate it from the engine"


def test_readme_block_is_what_make_run_prints():
    """README's "What `make run` prints": `firesale run dealer_groups` at 100 columns, cut
    after the first institution's rows."""
    readme = _text("README.md")
    start = readme.index("```\n", readme.index("## What `make run` prints")) + 4
    block = readme[start:readme.index("\n```\n", start)].split("\n")
    assert block[-1] == "..."
    result = CliRunner().invoke(app, ["run", "dealer_groups", "--no-record"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    printed = result.stdout.split("\n")
    assert block[:-1] == printed[:len(block) - 1], "regenerate the README block: COLUMNS=100 firesale run dealer_groups"


def test_readme_compare_block_is_what_compare_prints():
    """README's `firesale compare dealer_groups --policy slr_exemption` block, whole, at 100 columns."""
    readme = _text("README.md")
    command = "$ firesale compare dealer_groups --policy slr_exemption\n"
    start = readme.index(command) + len(command)
    block = readme[start:readme.index("\n```\n", start)].split("\n")
    result = CliRunner().invoke(app, ["compare", "dealer_groups", "--policy", "slr_exemption", "--no-record"],
                                env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    assert block == result.stdout.rstrip("\n").split("\n"), (
        "regenerate the README block: COLUMNS=100 firesale compare dealer_groups --policy slr_exemption --no-record")
