"""Every simulated number the documentation prints, checked against the engine in one place.

The preset pages (docs/presets/march_2020.md, docs/presets/gilt_ldi_2022.md,
docs/presets.md), the comments and descriptions of the calibrated presets (march_2020,
gilt_ldi_2022, dealer_groups, dealer_market) and the README (the "What `make run` prints"
and `firesale compare` blocks, the Attribution paragraph, the Presets table and the
dashboard's amplification) quote figures from runs of the engine. ``DOCUMENTED`` lists each of them as
(file, the text as the file prints it with the number as a format field, the function of
the engine's results that gives the number); the test formats the engine's value and
looks for the exact text in the file. The README's two blocks are compared line by line
with what ``firesale run dealer_groups`` and ``firesale compare dealer_groups --policy
slr_exemption`` print at 100 columns.

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
from firesale.analytics.amplification import capital_lost
from firesale.analytics.attribution import PLAYERS, attribute, attribution_summary
from firesale.analytics.compare import policy_scenario
from firesale.cli import app

ROOT = pathlib.Path(__file__).parents[2]
MARCH_DOC, GILT_DOC, PRESETS_DOC = "docs/presets/march_2020.md", "docs/presets/gilt_ldi_2022.md", "docs/presets.md"
MARCH_TOML, GILT_TOML = "src/firesale/presets/march_2020.toml", "src/firesale/presets/gilt_ldi_2022.toml"
GROUPS_TOML, MARKET_TOML = "src/firesale/presets/dealer_groups.toml", "src/firesale/presets/dealer_market.toml"
README = "README.md"

# Recorded figures the documents compare the model with (sources on the preset pages).
TEN_YEAR_RECORD_BP = 92.0  # 10-year yield, 9 -> 18-19 March 2020
TEN_YEAR_2_APRIL_BP = 22.5  # 0.36% -> 0.585% on 2 April 2020
FOREIGN_PRIVATE_RECORD = 190.0  # TIC's 299 less the official 109
BOND_FUND_RECORD = 101.0  # ICI
BOND_FUND_REDEMPTION_RECORD = 0.052  # ICI, share of bond fund assets
MMF_RECORD = 134.0  # SEC DERA
HEDGE_FUND_RECORD = 173.0  # Banegas, Monin & Petrasek
FED_TREASURY_RECORD = 775.0  # Fleming & Ruela
GILT_RECORD_BP = 160.0  # Cunliffe letter
LDI_SALES_RECORD = 50.0  # Cunliffe letter
GILT_DAILY_VOLUME = 12.0  # Cunliffe letter
GILT_FALL_28_SEP_BP = 100.0  # Cunliffe letter

TEN_YEAR, GILT = "ust_10y", "long_gilt"
DEALER_GROUPS = "ABCD"
CHANNELS_OFF = {f"channels.{c}": False for c in
                ("slr", "var", "leverage", "default", "margin", "rollover", "unsecured", "redemption")}
FUNDING_OFF = {f"channels.{c}": False for c in ("margin", "rollover", "unsecured", "redemption")}
#: fundamental repricing of long gilts per day, bp, around the file's 30 (the cliff edge)
CLIFF_BP = (27, 28, 29, 30, 31, 32)
#: HY shocks on a 0.05 pp grid: the dealer order's range and its edges, and A's defaults
ORDER_GRID = np.round(np.arange(-0.0145, -0.10905, -0.0005), 4)
#: HY shocks within +-10% of the file's -6%, every 0.05 pp
SHOCK_RANGE = np.round(np.linspace(-0.066, -0.054, 25), 6)


class Batch:
    """One preset's runs: a Dataset with named scenarios and their summaries on demand."""

    def __init__(self, preset, scenarios: dict[str, Any], detail: bool = True, loop_gain: bool = False):
        self.preset, self.names = preset, list(scenarios)
        self.ds = simulate(preset.system, list(scenarios.values()), detail=detail, loop_gain=loop_gain)

    @functools.cache
    def s(self, name: str) -> dict[str, Any]:
        return summarize(self.ds, self.names.index(name))

    def one(self, name: str):
        return self.ds.isel(scenario=self.names.index(name))


class Shapley:
    """One preset's exact Shapley attribution over the three mechanisms, as ``firesale
    attribute PRESET --json`` prints it (``s``)."""

    def __init__(self, preset):
        self.preset = preset
        self.s = attribution_summary(attribute(preset.system, preset.scenario))


def _shock_without(scenario, drop: Callable[[Any], bool]):
    return scenario.updated(shocks=[sh.model_dump(exclude_none=True) for sh in scenario.shocks if not drop(sh)])


def _gilt_shocks(bp_a_day: float) -> list[dict[str, Any]]:
    price = float(np.expm1(-18 * bp_a_day / 1e4))
    return [{"asset": GILT, "price": price, "round": 0}, {"asset": GILT, "price": price, "round": 1}]


@pytest.fixture(scope="module")
def engine() -> dict[str, Batch]:
    march = load_preset("march_2020")
    base = march.scenario
    runs = {
        "march": Batch(march, {
            "baseline": base,
            **{name: policy_scenario(march, name) for name in ("fed_purchases", "slr_exemption", "fed_response")},
            "no_volatility_shock": _shock_without(base, lambda sh: sh.volatility is not None),
            "no_foreign": _shock_without(base, lambda sh: (sh.institution or "").startswith("FO")),
            "no_bond_fund_waves": _shock_without(base, lambda sh: (sh.institution or "").startswith("MF")),
            "no_intermediation": base.updated(**{"market.intermediation": False}),
            "no_information": base.updated(**{"channels.information": False}),
            "no_outside_demand": base.updated(**{"market.outside_demand": False}),
            "no_balance_sheet_cost": base.updated(**{"market.balance_sheet_cost": 0.0}),
        }),
    }
    gilt = load_preset("gilt_ldi_2022")
    base, bought = gilt.scenario, policy_scenario(gilt, "boe_purchases")
    runs["gilt"] = Batch(gilt, {
        "baseline": base, "boe_purchases": bought,
        **{name: policy_scenario(gilt, name) for name in ("repo_facility", "haircut_floor")},
        "fundamental": base.updated(**CHANNELS_OFF),
        "no_intermediation": base.updated(**{"market.intermediation": False}),
        "no_information": base.updated(**{"channels.information": False}),
        "no_outside_demand": base.updated(**{"market.outside_demand": False}),
        **{f"cliff_{x}": base.updated(shocks=_gilt_shocks(x)) for x in CLIFF_BP},
        **{f"cliff_{x}_boe": bought.updated(shocks=_gilt_shocks(x)) for x in CLIFF_BP},
    })
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
    return runs


@functools.cache
def _text(path: str) -> str:
    return (ROOT / path).read_text()


# -------------------------------------------------------------- helpers on the results

def _yield_path(one, asset: str, duration: float) -> np.ndarray:
    return -np.log(one.price.sel(asset=asset).values) / duration * 1e4


def _m(e, name="baseline"):
    return e["march"].s(name)


def _peak(summary, asset=TEN_YEAR):
    return summary["peak_yield_rise_bp"][asset]


def _end(summary, asset=TEN_YEAR):
    return summary["yield_change_bp"][asset]


def _sold(summary, asset=None, group=None, name=None):
    return sum((row["sales"] if asset is None else row["sales_by_asset"].get(asset, 0.0))
               for row in summary["institutions"]
               if (group is None or row["group"] in group) and (name is None or row["name"] == name))


def _row(summary, name):
    return next(row for row in summary["institutions"] if row["name"] == name)


def _dealer_treasuries(e, name="baseline") -> np.ndarray:
    """The march dealers' Treasury inventory: t0, then the end of each round."""
    one = e["march"].one(name)
    dealers = one.institution_type == "dealer"
    held = one.holdings.sel(asset=TEN_YEAR).where(dealers, 0.0).sum("institution").values
    return np.concatenate([[float(one.holdings0.sel(asset=TEN_YEAR).where(dealers, 0.0).sum())], held])


def _last_increase(path: np.ndarray) -> int:
    """Last round in which a t0-first path (t0, round 0, ...) rises."""
    return int(np.nonzero(np.diff(path) > 1e-9)[0].max())


def _rounds_sold(one, names) -> tuple[int, int]:
    sold = one.sold.sel(institution=list(names)).sum("institution").values
    active = np.nonzero(sold > 1e-9)[0]
    return int(active.min()), int(active.max())


def _cb(e, name):
    return e["march"].one(name).central_bank_purchases.sum("asset").values


def _defaults(summary) -> str:
    return "no default" if summary["defaults"] == 0 else f"{summary['defaults']} defaults"


def _gap(model, record):
    """Relative gap to the record in percent, signed as the docs print it (− is U+2212)."""
    gap = 100 * (model / record - 1)
    return f"{'−' if gap < 0 else '+'}{abs(gap):.0f}%"


def _g(e, name="baseline"):
    return e["gilt"].s(name)


def _ldi(summary, name=None):
    return _sold(summary, group=("pooled", "segregated"), name=name)


def _gilt_peak(e, name):
    return _peak(_g(e, name), GILT)


def _fundamental_holds(e, x):
    return abs(_gilt_peak(e, f"cliff_{x}_boe") - 2 * x) <= 1.0


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


def _gilt_dealers(e, name="baseline"):
    one = e["gilt"].one(name)
    return one.holdings.sel(asset=GILT, institution=["D1", "D2"]).sum("institution").values


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

DOCUMENTED: list[tuple[str, str, Callable[[dict[str, Batch]], Any]]] = [
    # ---- docs/presets/march_2020.md: results
    (MARCH_DOC, "| peak rise of the 10-year yield, baseline | **{:.1f} bp**, round {} (23 Mar) |",
     lambda e: (_peak(_m(e)), int(np.argmax(_yield_path(e["march"].one("baseline"), TEN_YEAR, 9))))),
    (MARCH_DOC, "| +92 bp, 18–19 Mar | {}; inside the golden test's 40–100 bp",
     lambda e: _gap(_peak(_m(e)), TEN_YEAR_RECORD_BP)),
    (MARCH_DOC, "| daily path, rounds 0–8 (bp) | {} |",
     lambda e: ", ".join(f"{y:.0f}" for y in _yield_path(e["march"].one("baseline"), TEN_YEAR, 9)[:9])),
    (MARCH_DOC, "| peak with `fed_response` | **{:.1f} bp** ({:.0f}% of the baseline), round {} |",
     lambda e: (_peak(_m(e, "fed_response")), 100 * _peak(_m(e, "fed_response")) / _peak(_m(e)),
                int(np.argmax(_yield_path(e["march"].one("fed_response"), TEN_YEAR, 9))))),
    (MARCH_DOC, "| baseline +{:.1f} bp; `fed_response` +{:.1f} bp ({:.0f}%) |",
     lambda e: (_end(_m(e)), _end(_m(e, "fed_response")), 100 * _end(_m(e, "fed_response")) / _end(_m(e)))),
    (MARCH_DOC, "the policy run ends {:.0f} bp below the record",
     lambda e: TEN_YEAR_2_APRIL_BP - _end(_m(e, "fed_response"))),
    (MARCH_DOC, "| peak with `fed_purchases` alone | {:.1f} bp ({:.0f}%), end +{:.1f} bp |",
     lambda e: (_peak(_m(e, "fed_purchases")), 100 * _peak(_m(e, "fed_purchases")) / _peak(_m(e)),
                _end(_m(e, "fed_purchases")))),
    (MARCH_DOC, "| peak with `slr_exemption` alone | {:.1f} bp ({:.0f}%), end +{:.1f} bp |",
     lambda e: (_peak(_m(e, "slr_exemption")), 100 * _peak(_m(e, "slr_exemption")) / _peak(_m(e)),
                _end(_m(e, "slr_exemption")))),
    (MARCH_DOC, "| Treasuries sold, foreign official | **{:.1f}** (rounds {}–{}) |",
     lambda e: (_sold(_m(e), TEN_YEAR, name="FO_official"),
                *_rounds_sold(e["march"].one("baseline"), ["FO_official"]))),
    (MARCH_DOC, "| Treasuries sold, foreign private | {:.1f} | ≈ 190 (TIC 299 less the official 109) | {} |",
     lambda e: (_sold(_m(e), TEN_YEAR, name="FO_private"),
                _gap(_sold(_m(e), TEN_YEAR, name="FO_private"), FOREIGN_PRIVATE_RECORD))),
    (MARCH_DOC, "| Treasuries sold, bond funds | **{:.1f}** (MF1 {:.1f}, MF2 {:.1f}), from round {} | 101 (ICI) | {} |",
     lambda e: (_sold(_m(e), TEN_YEAR, group=("MF",)), _sold(_m(e), TEN_YEAR, name="MF1"),
                _sold(_m(e), TEN_YEAR, name="MF2"), _rounds_sold(e["march"].one("baseline"), ["MF1", "MF2"])[0],
                _gap(_sold(_m(e), TEN_YEAR, group=("MF",)), BOND_FUND_RECORD))),
    (MARCH_DOC, "| bond fund redemptions | {:.0f} ({:.1f}% of NAV) | 5.2% of bond fund assets (ICI) | {} |",
     lambda e: (float(e["march"].one("baseline").redeemed.sel(institution=["MF1", "MF2"]).sum()),
                100 * float(e["march"].one("baseline").redeemed.sel(institution=["MF1", "MF2"]).sum()) / 4000,
                _gap(float(e["march"].one("baseline").redeemed.sel(institution=["MF1", "MF2"]).sum()) / 4000,
                     BOND_FUND_REDEMPTION_RECORD))),
    (MARCH_DOC, "| prime MMF outflows | {:.0f} (sales of {:.0f} bills, {:.0f} CP) | 134 (SEC DERA) | {} |",
     lambda e: (float(e["march"].one("baseline").redeemed.sel(institution="MMF").sum()),
                _sold(_m(e), "t_bill", name="MMF"), _sold(_m(e), "cp", name="MMF"),
                _gap(float(e["march"].one("baseline").redeemed.sel(institution="MMF").sum()), MMF_RECORD))),
    (MARCH_DOC, "| Treasuries sold, hedge funds | **{:.1f}** (HF1 {:.1f}, HF2 {:.1f}, HF3 {:.0f}), rounds {}–{}, {} |",
     lambda e: (_sold(_m(e), TEN_YEAR, group=("HF",)), *(_sold(_m(e), TEN_YEAR, name=n) for n in ("HF1", "HF2", "HF3")),
                *_rounds_sold(e["march"].one("baseline"), ["HF1", "HF2", "HF3"]), _defaults(_m(e)))),
    (MARCH_DOC, "no large defaults | {} |", lambda e: _gap(_sold(_m(e), TEN_YEAR, group=("HF",)), HEDGE_FUND_RECORD)),
    (MARCH_DOC, "| dealers' Treasuries | bought: inventory {:.0f} → {:.0f} over rounds 0–{}, {} |",
     lambda e: (_dealer_treasuries(e)[0], _dealer_treasuries(e)[-1], _last_increase(_dealer_treasuries(e)),
                "none sold" if _sold(_m(e), group=("PD",)) == 0 else "some sold")),
    (MARCH_DOC, "| all Treasuries sold | {:.0f} |", lambda e: _sold(_m(e), TEN_YEAR)),
    (MARCH_DOC, "| Fed purchases used, `fed_response` | {:.0f} of 775 ({:.0f} in round 0, {:.0f}–{:.0f} a day to round {}) |",
     lambda e: (_cb(e, "fed_response").sum(), _cb(e, "fed_response")[0],
                _cb(e, "fed_response")[1:][_cb(e, "fed_response")[1:] > 0].min(),
                _cb(e, "fed_response")[1:].max(), int(np.nonzero(_cb(e, "fed_response"))[0].max()))),
    (MARCH_DOC, "15–31 Mar | {} of the Treasury total |",
     lambda e: _gap(_cb(e, "fed_response").sum(), FED_TREASURY_RECORD)),
    (MARCH_DOC, "| corporate bond yield, peak | +{:.1f} bp |", lambda e: _peak(_m(e), "corp_ig")),
    (MARCH_DOC, "| 10-year bid-ask spread | {:.2f}/32 → {:.2f}/32 of par at the peak ({:.1f}×); {:.0f}% of the market still quoting at the worst |",
     lambda e: (3200 * _m(e)["spreads"][TEN_YEAR]["t0"], 3200 * _m(e)["spreads"][TEN_YEAR]["peak"],
                _m(e)["spreads"][TEN_YEAR]["peak"] / _m(e)["spreads"][TEN_YEAR]["t0"],
                100 * _m(e)["quoting_share"][TEN_YEAR]["min"])),
    # march: text
    (MARCH_DOC, "baseline ends at +{:.0f} bp, the response at +{:.0f} bp.",
     lambda e: (_end(_m(e)), _end(_m(e, "fed_response")))),
    (MARCH_DOC, "margin-call sales ({:.1f}) and the", lambda e: _m(e)["sales_by_group"]["HF"][0]),
    (MARCH_DOC, "foreign waves ({:.1f}) exceed", lambda e: _m(e)["sales_by_group"]["FO"][0]),
    (MARCH_DOC, "Alone they remove {:.0f}% of the peak.",
     lambda e: 100 * (1 - _peak(_m(e, "fed_purchases")) / _peak(_m(e)))),
    (MARCH_DOC, "and stay above {:.1f}%, clear of the 5.5% trigger",
     lambda e: math.floor(1000 * float(e["march"].one("slr_exemption").slr.where(
         e["march"].ds.institution_type == "dealer").min())) / 10),
    (MARCH_DOC, "Their Treasury inventory grows to {:,.0f} by round {} instead of\n  stopping at {:.0f}, and the peak falls to {:.0f}% of the baseline's.",
     lambda e: (_dealer_treasuries(e, "slr_exemption")[-1], len(_dealer_treasuries(e, "slr_exemption")) - 2,
                _dealer_treasuries(e)[-1], 100 * _peak(_m(e, "slr_exemption")) / _peak(_m(e)))),
    (MARCH_DOC, "(the Fed buys {:.0f} instead of {:.0f} with the purchases", lambda e: (
        _cb(e, "fed_response").sum(), _cb(e, "fed_purchases").sum())),
    (MARCH_DOC, "the dealers end with {:.0f} of Treasuries instead of {:.0f})", lambda e: (
        _dealer_treasuries(e, "fed_response")[-1], _dealer_treasuries(e, "fed_purchases")[-1])),
    (MARCH_DOC, "No {} sells in any of these runs", lambda e: _given(
        all(_sold(_m(e, n), group=("PD",)) == 0 for n in ("baseline", "fed_purchases", "slr_exemption", "fed_response")),
        "dealer", "no dealer sells in the baseline or a policy run")),
    (MARCH_DOC, "and the peak is {:.1f} bp. Without the foreign sales it is {:.1f} bp. Without the bond funds'",
     lambda e: (_peak(_m(e, "no_volatility_shock")), _peak(_m(e, "no_foreign")))),
    (MARCH_DOC, "waves {:.1f} bp.", lambda e: _peak(_m(e, "no_bond_fund_waves"))),
    (MARCH_DOC, "Without the volatility shock the basis funds sell {}", lambda e: (
        "nothing" if _sold(_m(e, "no_volatility_shock"), group=("HF",)) == 0 else "something")),
    (MARCH_DOC, "above 5.5%: PD3 stops in round {}, and none takes on inventory after round {}.",
     lambda e: (int(np.argmax(e["march"].one("baseline").slr.sel(institution="PD3").values < 0.055)),
                _last_increase(_dealer_treasuries(e)))),
    (MARCH_DOC, "yield keeps rising to round {}.",
     lambda e: int(np.argmax(_yield_path(e["march"].one("baseline"), TEN_YEAR, 9)))),
    (MARCH_DOC, "The 10-year's spread widens {:.1f}-fold",
     lambda e: _m(e)["spreads"][TEN_YEAR]["peak"] / _m(e)["spreads"][TEN_YEAR]["t0"]),
    *[(MARCH_DOC, f"| {label} | +{{:.1f}} bp | +{{:.1f}} bp | {{:.0f}} | {{:.0f}} |",
       functools.partial(lambda e, n: (_peak(_m(e, n)), _end(_m(e, n)), _m(e, n)["total_loss"],
                                        _dealer_treasuries(e, n)[-1]), n=name))
      for label, name in (("the preset", "baseline"), ("`market.intermediation = false`", "no_intermediation"),
                          ("`channels.information = false`", "no_information"),
                          ("`market.outside_demand = false`", "no_outside_demand"),
                          ("`market.balance_sheet_cost = 0`", "no_balance_sheet_cost"))],
    (MARCH_DOC, "information channel adds the spread and {:.0f} bp to the peak.",
     lambda e: _peak(_m(e)) - _peak(_m(e, "no_information"))),
    # ---- docs/presets.md
    (PRESETS_DOC, "| +{:.1f} bp at the peak ({}) |", lambda e: (_peak(_m(e)), _gap(_peak(_m(e)), TEN_YEAR_RECORD_BP))),
    (PRESETS_DOC, "plus the SLR exemption: +{:.1f} bp, {:.0f}% of the baseline |",
     lambda e: (_peak(_m(e, "fed_response")), 100 * _peak(_m(e, "fed_response")) / _peak(_m(e)))),
    (PRESETS_DOC, "| +{:.1f} bp at the peak ({}); {:.1f} bn of LDI sales ({}); {} |",
     lambda e: (_peak(_g(e), GILT), _gap(_peak(_g(e), GILT), GILT_RECORD_BP), _ldi(_g(e)),
                _gap(_ldi(_g(e)), LDI_SALES_RECORD), _defaults(_g(e)))),
    (PRESETS_DOC, "£65 bn): +{:.1f} bp, the fundamental repricing alone |",
     lambda e: _given(abs(_gilt_peak(e, "boe_purchases") - _gilt_peak(e, "fundamental")) <= 1.0,
                      _gilt_peak(e, "boe_purchases"), "the purchases leave only the fundamental repricing")),
    (PRESETS_DOC, "baseline reaches {:.0f}% of it.", lambda e: 100 * _peak(_m(e)) / TEN_YEAR_RECORD_BP),
    # ---- src/firesale/presets/march_2020.toml
    (MARCH_TOML, "Treasuries a day for 13 days (~{:.0f} sold by 25 March", lambda e: _sold(_m(e), name="FO_official")),
    (MARCH_TOML, "0.6% a day for 11 days (~{:.0f}; all foreigners", lambda e: _sold(_m(e), name="FO_private")),
    (MARCH_TOML, "most liquid asset first: ~{:.0f} of Treasuries (ICI", lambda e: _sold(_m(e), TEN_YEAR, group=("MF",))),
    (MARCH_TOML, "13 days: ~{:.0f}% of NAV in all",
     lambda e: 100 * float(e["march"].one("baseline").redeemed.sel(institution=["MF1", "MF2"]).sum()) / 4000),
    (MARCH_TOML, "MMF prime money-market funds lose ~{:.0f} (SEC",
     lambda e: float(e["march"].one("baseline").redeemed.sel(institution="MMF").sum())),
    (MARCH_TOML, "(rounds 2-11): ~{:.0f}. Managers",
     lambda e: float(e["march"].one("baseline").redeemed.sel(institution="MMF").sum())),
    (MARCH_TOML, "~{:.0f} bp at its peak (round {}, 23 March) and ends the window +{:.0f} bp",
     lambda e: (_peak(_m(e)), int(np.argmax(_yield_path(e["march"].one("baseline"), TEN_YEAR, 9))), _end(_m(e)))),
    (MARCH_TOML, "Treasuries ~{:.0f} (FO ~{:.0f}, HF ~{:.0f} against the Fed's estimate of 173 for March, MF ~{:.0f});",
     lambda e: (_sold(_m(e), TEN_YEAR), _sold(_m(e), TEN_YEAR, group=("FO",)), _sold(_m(e), TEN_YEAR, group=("HF",)),
                _sold(_m(e), TEN_YEAR, group=("MF",)))),
    (MARCH_TOML, "the dealers sell {} and take their Treasury inventory from {:.0f} to ~{:.0f} by round {};",
     lambda e: ("nothing" if _sold(_m(e), group=("PD",)) == 0 else "some", _dealer_treasuries(e)[0],
                _dealer_treasuries(e)[-1], _last_increase(_dealer_treasuries(e)))),
    (MARCH_TOML, "# {}.\n#\n# Policies", lambda e: _defaults(_m(e))),
    (MARCH_TOML, "to 75 a day and 775 in all: +{:.0f} bp", lambda e: _peak(_m(e, "fed_purchases"))),
    (MARCH_TOML, "the dealers stay clear of 5.5% and keep absorbing: +{:.0f} bp", lambda e: _peak(_m(e, "slr_exemption"))),
    (MARCH_TOML, "both, the documented response: +{:.0f} bp, {} of the baseline's;",
     lambda e: (_peak(_m(e, "fed_response")), _share_word(_peak(_m(e, "fed_response")) / _peak(_m(e))))),
    (MARCH_TOML, "the 10-year ends the window +{:.0f} bp instead of +{:.0f} bp",
     lambda e: (_end(_m(e, "fed_response")), _end(_m(e)))),
    (MARCH_TOML, "the least headroom: the first below its trigger (round {}).",
     lambda e: int(np.argmax(e["march"].one("baseline").slr.sel(institution="PD3").values < 0.055))),
    (MARCH_TOML, "In\n# the baseline none comes near {:.0f}%.",
     lambda e: _given(float(e["march"].one("baseline").slr.where(e["march"].ds.institution_type == "dealer").min()) > 0.05,
                      3, "the dealers' SLRs stay above 5%")),
    # ---- docs/presets/gilt_ldi_2022.md: results
    (GILT_DOC, "| peak rise of the 30-year yield, baseline | **{:.1f} bp**, reached in round {} (Thu 29 Sep) | ~160 bp \"in days\" | {}.",
     lambda e: (_peak(_g(e), GILT), int(np.argmax(_yield_path(e["gilt"].one("baseline"), GILT, 18))),
                _gap(_peak(_g(e), GILT), GILT_RECORD_BP))),
    (GILT_DOC, "| fundamental repricing alone (no forced seller: the balance-sheet and funding channels off) | {:.1f} bp |", lambda e: _gilt_peak(e, "fundamental")),
    (GILT_DOC, "the fire sale supplies {:.1f} bp, {:.0f}% of the peak",
     lambda e: (_gilt_peak(e, "baseline") - _gilt_peak(e, "fundamental"),
                100 * (1 - _gilt_peak(e, "fundamental") / _gilt_peak(e, "baseline")))),
    (GILT_DOC, "| daily path, rounds 0–6 | {} bp |",
     lambda e: ", ".join(f"{y:.0f}" for y in _yield_path(e["gilt"].one("baseline"), GILT, 18)[:7])),
    (GILT_DOC, "| {} day above 35 bp ({:.0f} bp on Mon 26 Sep) |",
     lambda e: ({1: "one", 2: "two", 3: "three"}[int((np.diff(_yield_path(e["gilt"].one("baseline"), GILT, 18)) > 35).sum())],
                np.diff(_yield_path(e["gilt"].one("baseline"), GILT, 18))[0])),
    (GILT_DOC, "| LDI forced sales, baseline | **{:.1f} bn** (pooled funds P1 {:.1f}, P2 {:.1f}, P3 {:.1f}; segregated {:.0f}), rounds {}–{} |",
     lambda e: (_ldi(_g(e)), *(_ldi(_g(e), n) for n in ("P1", "P2", "P3")), _sold(_g(e), group=("segregated",)),
                *_rounds_sold(e["gilt"].one("baseline"), ["P1", "P2", "P3", "S1", "S2"]))),
    (GILT_DOC, "| {}. That is {:.1f} days of volume, with at most {:.1f} bn on a single day |",
     lambda e: (_gap(_ldi(_g(e)), LDI_SALES_RECORD), _ldi(_g(e)) / GILT_DAILY_VOLUME,
                e["gilt"].one("baseline").sold.sel(institution=["P1", "P2", "P3", "S1", "S2"]).sum("institution").max().item())),
    (GILT_DOC, "| defaults | {} (the pooled funds' equity at worst {:.2f}, {:.2f}, {:.2f} bn) |",
     lambda e: ("none" if _g(e)["defaults"] == 0 else "some",
                *(float(e["gilt"].one("baseline").equity.sel(institution=n).min()) for n in ("P1", "P2", "P3")))),
    (GILT_DOC, "| fire-sale discount at the trough | {:.1f}% below the fundamental price |",
     lambda e: 100 * float((1 - e["gilt"].one("baseline").price / e["gilt"].one("baseline").fundamental).sel(asset=GILT).max())),
    (GILT_DOC, "| peak rise with `boe_purchases` | **{:.1f} bp**, {:.0f}% of the baseline: the fundamental repricing alone; {} |",
     lambda e: (_gilt_peak(e, "boe_purchases"), 100 * _gilt_peak(e, "boe_purchases") / _gilt_peak(e, "baseline"),
                _defaults(_g(e, "boe_purchases")))),
    (GILT_DOC, "| rise removed by the purchases | {:.1f} − {:.1f} = {:.1f} bp | the 30-year yield fell > 100 bp on 28 Sep | {}.",
     lambda e: (_gilt_peak(e, "baseline"), _gilt_peak(e, "boe_purchases"),
                _gilt_peak(e, "baseline") - _gilt_peak(e, "boe_purchases"),
                _gap(_gilt_peak(e, "baseline") - _gilt_peak(e, "boe_purchases"), GILT_FALL_28_SEP_BP))),
    (GILT_DOC, "| central-bank purchases used | {:.1f} bn (round {}, mostly P1's sales) |",
     lambda e: _given(_ldi(_g(e, "boe_purchases"), "P1") > 0.5 * _ldi(_g(e, "boe_purchases")),
                      (float(e["gilt"].one("boe_purchases").central_bank_purchases.sum()),
                       int(np.argmax(e["gilt"].one("boe_purchases").central_bank_purchases.sum("asset").values))),
                      "P1 sells most of what the Bank buys")),
    *[(GILT_DOC, f"| `{lever}` alone | peak {{:.1f}} bp, LDI sales {{:.1f}} bn |",
       functools.partial(lambda e, n: (_gilt_peak(e, n), _ldi(_g(e, n))), n=lever))
      for lever in ("repo_facility", "haircut_floor")],
    (GILT_DOC, "| the GEMMs | take {:.1f} bn in round 1, cut {:.1f} bn under their VaR limit in round {}, end with {:.1f} bn ({:.0f} at t0) |",
     lambda e: _given(all(set(_row(_g(e), n)["sales_by_channel"]) == {"var"} for n in ("D1", "D2")), (
                _gilt_dealers(e)[1] - _gilt_dealers(e)[0],
                float(e["gilt"].one("baseline").sold.sel(institution=["D1", "D2"]).sum()),
                _rounds_sold(e["gilt"].one("baseline"), ["D1", "D2"])[0], _gilt_dealers(e)[-1],
                float(e["gilt"].ds.holdings0.sel(asset=GILT, institution=["D1", "D2"]).sum())),
                "the GEMMs sell only under VaR")),
    (GILT_DOC, "| long-gilt bid-ask spread | {:.1f} → {:.1f} bp of price ({:.1f}×); {:.0f}% of the market still quoting at the worst |",
     lambda e: (1e4 * _g(e)["spreads"][GILT]["t0"], 1e4 * _g(e)["spreads"][GILT]["peak"],
                _g(e)["spreads"][GILT]["peak"] / _g(e)["spreads"][GILT]["t0"], 100 * _g(e)["quoting_share"][GILT]["min"])),
    (GILT_DOC, "| end of the horizon (round 19) | baseline +{:.1f} bp, with purchases +{:.1f} bp |",
     lambda e: (_end(_g(e), GILT), _end(_g(e, "boe_purchases"), GILT))),
    # gilt: text
    (GILT_DOC, "horizon the gap is smaller ({:.0f} bp in the baseline, {:.0f} bp with the purchases): by that",
     lambda e: (_end(_g(e), GILT), _end(_g(e, "boe_purchases"), GILT))),
    (GILT_DOC, "measure the purchases remove {:.0f}% of the rise.",
     lambda e: 100 * (1 - _end(_g(e, "boe_purchases"), GILT) / _end(_g(e), GILT))),
    (GILT_DOC, "Rising haircuts (2% → {:.1f}% in the baseline)",
     lambda e: 100 * float(e["gilt"].one("baseline").haircut.sel(asset=GILT).max())),
    (GILT_DOC, "({:.1f} bn of sales against {:.1f})", lambda e: (_ldi(_g(e, "repo_facility")), _ldi(_g(e)))),
    (GILT_DOC, "At 27 bp a day of fundamental repricing\nthe funds' buffers absorb most of it ({:.1f} bn of LDI sales, peak {:.1f} bp)",
     lambda e: (_ldi(_g(e, "cliff_27")), _gilt_peak(e, "cliff_27"))),
    (GILT_DOC, "at 28 bp a day\nthe spiral runs ({:.1f} bn, peak {:.1f} bp)",
     lambda e: (_ldi(_g(e, "cliff_28")), _gilt_peak(e, "cliff_28"))),
    (GILT_DOC, "which holds\nfrom {} to {} bp a day; at {} bp a day the peak with purchases is {:.1f} bp",
     lambda e: (min(x for x in CLIFF_BP if _fundamental_holds(e, x) and x > 27),
                max(x for x in CLIFF_BP if _fundamental_holds(e, x)),
                min(x for x in CLIFF_BP if x > 28 and not _fundamental_holds(e, x)),
                _gilt_peak(e, f"cliff_{min(x for x in CLIFF_BP if x > 28 and not _fundamental_holds(e, x))}_boe"))),
    (GILT_DOC, "and at 32 bp a\nday the first days' sales outrun the cap and the peak with purchases is {:.0f}% of the\nbaseline's.",
     lambda e: 100 * _gilt_peak(e, "cliff_32_boe") / _gilt_peak(e, "cliff_32")),
    (GILT_DOC, "The targets therefore hold from about −{:.0f}% to {:.0f}% around the file's 30 bp a\nday",
     lambda e: (100 * (1 - min(x for x in CLIFF_BP if x > 27 and _fundamental_holds(e, x)) / 30),
                100 * (max(x for x in CLIFF_BP if _fundamental_holds(e, x)) / 30 - 1))),
    *[(GILT_DOC, f"| {label} | +{{:.1f}} bp | +{{:.1f}} bp | {{:.1f}} | {{:.1f}} |",
       functools.partial(lambda e, n: (_gilt_peak(e, n), _end(_g(e, n), GILT), _g(e, n)["total_loss"], _ldi(_g(e, n))),
                         n=name))
      for label, name in (("the preset", "baseline"), ("`market.intermediation = false`", "no_intermediation"),
                          ("`channels.information = false`", "no_information"),
                          ("`market.outside_demand = false`", "no_outside_demand"))],
    (GILT_DOC, "volatility rises, adds {:.1f} bn of LDI sales.", lambda e: _ldi(_g(e)) - _ldi(_g(e, "no_information"))),
    # ---- src/firesale/presets/gilt_ldi_2022.toml
    (GILT_TOML, "LDI funds past their rebalancing points; {:.0f} bn of forced sales ({:.1f}x a day's volume) take the 30-year yield up {:.0f} bp; BoE purchases of up to 5 bn a day hold it at the fundamental {:.0f}",
     lambda e: (_ldi(_g(e)), _ldi(_g(e)) / GILT_DAILY_VOLUME, _gilt_peak(e, "baseline"), _gilt_peak(e, "boe_purchases"))),
    (GILT_TOML, "baseline: peak 30-year yield rise {:.0f} bp (round {}) against ~160 bp on record",
     lambda e: (_gilt_peak(e, "baseline"), int(np.argmax(_yield_path(e["gilt"].one("baseline"), GILT, 18))))),
    (GILT_TOML, "pooled LDI funds sell {:.1f} bn of long gilts in rounds {}-{}",
     lambda e: (_ldi(_g(e)), *_rounds_sold(e["gilt"].one("baseline"), ["P1", "P2", "P3"]))),
    (GILT_TOML, "the most on one day {:.1f} bn; {}; the dealers sell",
     lambda e: (e["gilt"].one("baseline").sold.sel(institution=["P1", "P2", "P3"]).sum("institution").max().item(),
                _defaults(_g(e)))),
    (GILT_TOML, "#     {:.1f} bn (VaR); the segregated mandates {}. At its trough the long gilt is {:.1f}%",
     lambda e: (_sold(_g(e), group=("GEMM",)), "nothing" if _sold(_g(e), group=("segregated",)) == 0 else "some",
                100 * float((1 - e["gilt"].one("baseline").price / e["gilt"].one("baseline").fundamental)
                            .sel(asset=GILT).max()))),
    (GILT_TOML, "fundamental repricing alone (balance-sheet and funding channels off): {:.0f} bp;", lambda e: _gilt_peak(e, "fundamental")),
    (GILT_TOML, "the Bank buys the {:.1f} bn\n#     sold in round {} (mostly by P1)",
     lambda e: _given(_ldi(_g(e, "boe_purchases"), "P1") > 0.5 * _ldi(_g(e, "boe_purchases")),
                      (float(e["gilt"].one("boe_purchases").central_bank_purchases.sum()),
                       int(np.argmax(e["gilt"].one("boe_purchases").central_bank_purchases.sum("asset").values))),
                      "P1 sells most of what the Bank buys")),
    (GILT_TOML, "peak {:.0f} bp, {:.0f}% of the baseline's;",
     lambda e: (_gilt_peak(e, "boe_purchases"), 100 * _gilt_peak(e, "boe_purchases") / _gilt_peak(e, "baseline"))),
    (GILT_TOML, "repo_facility / haircut_floor: no help (peak {:.0f} bp, sales {:.1f} bn)",
     lambda e: (_gilt_peak(e, "repo_facility"), _ldi(_g(e, "haircut_floor")))),
    (GILT_TOML, "at 27 bp a day of fundamental repricing the\n# buffers absorb most of it (peak {:.0f} bp); at 28 bp a day it runs (peak {:.0f} bp).",
     lambda e: (_gilt_peak(e, "cliff_27"), _gilt_peak(e, "cliff_28"))),
    (GILT_TOML, "within 5 bn a day: from {} to {} bp a day here; at 32 bp a day the peak with purchases\n# is {:.0f}% of the baseline's.",
     lambda e: (min(x for x in CLIFF_BP if x > 27 and _fundamental_holds(e, x)),
                max(x for x in CLIFF_BP if _fundamental_holds(e, x)),
                100 * _gilt_peak(e, "cliff_32_boe") / _gilt_peak(e, "cliff_32"))),
    (GILT_TOML, "so the first day's forced sales are small\n# ({:.1f} bn, under the Bank's daily cap)",
     lambda e: float(e["gilt"].one("baseline").sold.sel(institution=["P1", "P2", "P3"]).sum("institution").isel(round=1))),
    (GILT_TOML, "they cut inventory ({:.1f} bn each in\n# round {} of the baseline)",
     lambda e: (float(e["gilt"].one("baseline").sold.sel(institution="D1").sum()),
                _rounds_sold(e["gilt"].one("baseline"), ["D1"])[0])),
    (GILT_TOML, "they take {:.1f} bn of\n# the LDI flow in round 1", lambda e: _gilt_dealers(e)[1] - _gilt_dealers(e)[0]),
    (GILT_TOML, "({:.1f} bn between them at the end)", lambda e: _gilt_dealers(e)[-1]),
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
    (MARKET_TOML, "the loss, {:.2f}, ends below the\n# shock's own {:.2f}",
     lambda e: _given(_dm(e)["total_loss"] < _dm(e)["initial_loss"], (_dm(e)["total_loss"], _dm(e)["initial_loss"]),
                      "the loss ends below the shock's own")),
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
                      (_sh(e)["alone"]["funding"], _sh(e)["interactions"]["balance_sheet+funding"],
                       _minus(_sh(e)["interactions"]["funding+information"]),
                       _sh(e)["interactions"]["balance_sheet+funding+information"]),
                      "funding and information overlap (a negative interaction)")),
    (README, "On `dealer_prime` the SLR causes all {:.0f} of the forced sales\n({:.0f}x the loss of {:.0f}).",
     lambda e: _given(math.isclose(_sh(e, "prime")["shapley_forced_sales"]["balance_sheet"], _sh(e, "prime")["forced_sales"])
                      and all(set(row["sales_by_channel"]) <= {"slr"} for row in e["prime"].s("baseline")["institutions"]),
                      (_sh(e, "prime")["forced_sales"], _sh(e, "prime")["forced_sales"] / _sh(e, "prime")["baseline_loss"],
                       _sh(e, "prime")["baseline_loss"]), "the SLR forces every sale in dealer_prime")),
    (README, "splits by every channel ({} corners).", lambda e: 2 ** len(PLAYERS["channels"])),
    # ---- README.md: Presets table
    (README, "10-year yield +{:.1f} bp at the peak (record +{:.0f}); Fed purchases plus the SLR exemption hold it to +{:.1f} bp",
     lambda e: (_peak(_m(e)), TEN_YEAR_RECORD_BP, _peak(_m(e, "fed_response")))),
    (README, "a {:.0f} bp repricing, LDI collateral calls on swaps and repo, 30-year yield +{:.1f} bp at the peak (record ~{:.0f}), {:.1f} bn of LDI sales (record ~{:.0f}); Bank of England purchases hold it to +{:.1f} bp, the fundamental repricing alone",
     lambda e: _given(abs(_gilt_peak(e, "boe_purchases") - _gilt_peak(e, "fundamental")) <= 1.0,
                      (_gilt_peak(e, "fundamental"), _gilt_peak(e, "baseline"), GILT_RECORD_BP, _ldi(_g(e)),
                       LDI_SALES_RECORD, _gilt_peak(e, "boe_purchases")),
                      "the purchases leave only the fundamental repricing")),
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
    (README, "and the loss, {:.2f}, ends below the shock's own {:.2f} as prices recover.",
     lambda e: _given(_dm(e)["total_loss"] < _dm(e)["initial_loss"]
                      and _dm(e)["price_change"]["corp_hy"] > _dm(e)["price_trough"]["corp_hy"],
                      (_dm(e)["total_loss"], _dm(e)["initial_loss"]), "the loss ends below the shock's own")),
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
