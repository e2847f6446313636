"""The regime table counts only the rows a run measured: hand-built markets where the
information channel is off, the asset has no t0 spread, or the loop gain was not measured."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from firesale import Scenario
from firesale.analytics.regimes import regime_table, regimes, tipped


def market(*, information: bool = True, spread0: float = 0.001, loop_gain: float | None = None) -> xr.Dataset:
    """One scenario, one dealer, one asset over three rounds, with the variables the engine
    writes. The price trends away from its fundamental (log discount 1%, 2%, 4%: persistence
    2, stressed from round 1; round 0 has no discount before it to persist); dealers sell 5
    net every round (stressed). With the information channel on, spreads are 3x t0, depth
    0.4 of t0 (impact 2.5x), quotes at 40% and marks 2% below prices: all stressed. Off, the
    engine quotes no spread, keeps depth and quotes whole and marks at prices: not measured.
    ``loop_gain`` (1.5: stressed) is the engine's own-market gain where the run measured it.
    """
    rounds, fundamental = 3, 0.95
    price = fundamental * np.exp(-np.array([0.01, 0.02, 0.04]))
    on = information
    spread = np.full(rounds, 3 * spread0 if on else 0.0)
    data = {
        "price": price, "fundamental": np.full(rounds, fundamental), "spread": spread,
        "depth_scale": np.full(rounds, 0.4 if on else 1.0), "dealer_net": np.full(rounds, -5.0),
        "quoting_share": np.full(rounds, 0.4 if on else 1.0), "mark": price * (0.98 if on else 1.0),
        **({} if loop_gain is None else {"market_loop_gain": np.full(rounds, loop_gain)}),
    }
    variables = {k: (("scenario", "round", "asset"), v.reshape(1, rounds, 1)) for k, v in data.items()}
    scenario = Scenario(name="trend", channels={"information": information})
    return xr.Dataset(variables, coords={
        "scenario": ["trend"], "round": np.arange(rounds), "asset": ["bond"], "institution": ["dealer"],
        "institution_type": ("institution", ["dealer"]), "spread0": ("asset", [spread0]),
        "supply0": ("asset", [100.0]),
    }, attrs={"scenarios": scenario.model_dump_json()})


def rows(table: dict, col: str = "worst") -> dict[str, str]:
    return {row["row"]: row[col]["state"] for row in table["rows"]}


def test_information_off_leaves_liquidity_and_information_unmeasured():
    ds = market(information=False)
    reg = regimes(ds)
    # price shocks (from round 1) and dealers: two stressed rows of the two measured: functioning
    assert reg.measured.sel(row="liquidity").values.max() == 0
    assert reg.measured.sel(row="information flow").values.max() == 0
    assert reg.stressed.sum("row").values.max() == 2
    assert not tipped(ds).any()
    table = regime_table(ds, 0, "bond")
    assert table["regime"] == {"first": "functioning", "worst": "functioning"}
    assert rows(table) == {"price shocks": "stressed", "dealer behaviour": "stressed", "liquidity": "not measured",
                           "feedback loop": "not measured", "information flow": "not measured"}
    assert table["not_measured"]["worst"] == ["liquidity", "feedback loop", "information flow"]
    assert table["not_measured"]["first"] == ["price shocks", "liquidity", "feedback loop", "information flow"]
    liquidity = next(r for r in table["rows"] if r["row"] == "liquidity")["worst"]
    assert liquidity["measures"] == {"spread_ratio": None, "impact_ratio": None}
    assert "information channel off" in liquidity["label"]
    feedback = next(r for r in table["rows"] if r["row"] == "feedback loop")["worst"]
    assert "did not measure the loop gain" in feedback["label"]


def test_a_measured_loop_gain_counts():
    # the third stressed row: price shocks, dealers and the feedback loop from round 1
    ds = market(information=False, loop_gain=1.5)
    table = regime_table(ds, 0, "bond")
    assert table["regime"] == {"first": "functioning", "worst": "stressed"}
    assert rows(table)["feedback loop"] == "stressed"
    assert regimes(ds).regime.values.ravel().tolist() == [0, 1, 1]


def test_information_on_counts_every_row_measured():
    table = regime_table(market(information=True), 0, "bond")
    # round 0: dealers, liquidity and information stressed (3 of the 3 measured there)
    assert table["regime"] == {"first": "stressed", "worst": "stressed"}
    assert rows(table) == {"price shocks": "stressed", "dealer behaviour": "stressed", "liquidity": "stressed",
                           "feedback loop": "not measured", "information flow": "stressed"}
    liquidity = next(r for r in table["rows"] if r["row"] == "liquidity")["worst"]["measures"]
    assert liquidity == {"spread_ratio": pytest.approx(3.0), "impact_ratio": pytest.approx(2.5)}


def test_no_t0_spread_leaves_the_spread_unmeasured_but_not_the_impact():
    table = regime_table(market(information=True, spread0=0.0), 0, "bond")
    liquidity = next(r for r in table["rows"] if r["row"] == "liquidity")["worst"]
    assert liquidity["measures"] == {"spread_ratio": None, "impact_ratio": pytest.approx(2.5)}
    assert liquidity["state"] == "stressed"  # impact 2.5x t0 alone
