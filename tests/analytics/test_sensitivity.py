"""Sensitivity (firesale.analytics.sensitivity): elasticities against closed forms and
against runs made here, cliffs where a default switches on, and the command's output."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _revaluation import CALM, HOLDINGS, revaluation_system
from typer.testing import CliRunner

from firesale import load_preset, simulate
from firesale.analytics.outcomes import outcome_values
from firesale.analytics.sensitivity import sensitivity
from firesale.cli import app
from firesale.parameters import apply_parameters



def test_elasticities_of_a_revaluation_are_the_closed_form():
    """Without feedback, loss = -h'x and the fall of asset a is -x_a: the elasticity of the
    loss to the shock on a is h_a x_a / h'x, of a's fall 1, of b's fall 0."""
    x = np.array([-0.03, -0.05])
    scenario = CALM.updated(shocks=[{"asset": "a", "price": x[0]}, {"asset": "b", "price": x[1]}])
    result = sensitivity(revaluation_system(), scenario, outputs=["loss", "price_fall.a", "price_fall.b"], loop_gain=False)
    knobs = {k["name"]: k["outcomes"] for k in result["knobs"]}
    assert set(knobs) == {"shock.a.price", "shock.b.price"}
    share_a = HOLDINGS[0] * x[0] / (HOLDINGS @ x)
    assert knobs["shock.a.price"]["loss"]["elasticity"] == pytest.approx(share_a, rel=1e-9)
    assert knobs["shock.b.price"]["loss"]["elasticity"] == pytest.approx(1 - share_a, rel=1e-9)
    assert knobs["shock.a.price"]["price_fall.a"]["elasticity"] == pytest.approx(1.0, rel=1e-9)
    assert knobs["shock.a.price"]["price_fall.b"]["elasticity"] == pytest.approx(0.0, abs=1e-12)
    assert result["base"]["loss"] == pytest.approx(-HOLDINGS @ x, rel=1e-12)
    assert not result["cliffs"]


def _default_boundary(system, scenario, asset: str) -> float:
    """The smallest fall of ``asset`` (alone) at which an institution defaults, by bisection here."""
    lo, hi = 0.0, 0.99
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        ds = simulate(system, scenario.updated(shocks=[{"asset": asset, "price": -mid}]))
        if int(ds.defaulted.isel(round=-1).sum()):
            hi = mid
        else:
            lo = mid
    return hi


def test_a_default_switching_on_is_a_cliff():
    preset = load_preset("dealer_prime")
    calm = preset.scenario.updated(shocks=[])
    fall = _default_boundary(preset.system, calm, "corporates") * (1 + 1e-6)
    scenario = calm.updated(shocks=[{"asset": "corporates", "price": -fall}])
    result = sensitivity(preset.system, scenario, params=["shock.corporates.price"], outputs=["defaults"],
                         loop_gain=False)
    cell = result["knobs"][0]["outcomes"]["defaults"]
    assert result["base"]["defaults"] == 1 and cell["low"] == 0 and cell["high"] == 1
    assert cell["cliff"] and result["cliffs"] == [{"knob": "shock.corporates.price", "outcome": "defaults",
                                                   "base": 1.0, "low": 0.0, "high": 1.0,
                                                   "largest_relative_change": 1.0}]


@pytest.fixture(scope="module")
def march() -> dict:
    result = CliRunner().invoke(app, ["sensitivity", "march_2020", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_march_2020_lists_the_four_knobs_of_the_issue(march):
    knobs = {k["name"]: k for k in march["knobs"]}
    for name in ("depth", "slr_headroom", "outside_capital", "spread_elasticity"):
        assert name in knobs
        assert all(cell["elasticity"] is not None for o, cell in knobs[name]["outcomes"].items()
                   if march["base"][o] != 0)
    assert march["loop_gain"]["market"]["ust_10y"] > 0


def test_march_2020_depth_elasticity_recomputed_here(march):
    """The depth knob's elasticity of the 10-year's peak fall, from the two systems with every
    finite depth scaled by 0.99 and 1.01, run here."""
    preset = load_preset("march_2020")
    knob = next(k for k in march["knobs"] if k["name"] == "depth")
    paths = {f"asset.{a.name}.depth": a.depth for a in preset.system.assets
             if a.depth is not None and np.isfinite(a.depth)}
    assert set(knob["paths"]) == set(paths)
    falls = []
    for factor in (0.99, 1.01):
        system, scenario = apply_parameters(preset.system, preset.scenario, {p: v * factor for p, v in paths.items()})
        falls.append(outcome_values(simulate(system, scenario), ["price_fall.ust_10y"])["price_fall.ust_10y"][0])
    base = march["base"]["price_fall.ust_10y"]
    assert knob["outcomes"]["price_fall.ust_10y"]["elasticity"] == pytest.approx((falls[1] - falls[0]) / (0.02 * base),
                                                                                rel=1e-9)


def test_march_2020_slr_headroom_moves_the_triggers(march):
    """Each dealer's trigger and target move by the same amount, 1% of its headroom."""
    preset = load_preset("march_2020")
    knob = next(k for k in march["knobs"] if k["name"] == "slr_headroom")
    dealers = [i for i in preset.system.institutions if i.slr_trigger is not None]
    assert dealers and {p.split(".")[1] for p in knob["paths"]} <= {i.name for i in dealers}
    assert {p.split(".")[2] for p in knob["paths"]} == {"slr_trigger", "slr_target"}


def test_figures_are_written(tmp_path):
    """``--out`` writes the tornado and the shock figures as self-contained HTML (plotly.js
    inside) naming every knob and every factor; the terminal output names them too."""
    tornado, shock = tmp_path / "tornado.html", tmp_path / "shock.html"
    sens = CliRunner().invoke(app, ["sensitivity", "dealer_prime", "--out", str(tornado)])
    assert sens.exit_code == 0, sens.output
    rev = CliRunner().invoke(app, ["reverse", "dealer_prime", "--target", "defaults>=1", "--no-policies", "--out",
                                   str(shock)])
    assert rev.exit_code == 0, rev.output
    html = tornado.read_text()
    assert "plotly" in html and "shock.corporates.price" in html and "Plotly.newPlot" in html
    html = shock.read_text()
    for asset in ("treasuries", "corporates", "other"):
        assert f"price {asset}" in html and f"price {asset}" in rev.output
    assert "figure written to" in rev.output and "figure written to" in sens.output


def test_tornado_of_a_one_sided_knob(tmp_path):
    """march_2020's spread elasticity cannot move down (eta = 0 is its bound): a forward
    difference, and the tornado draws only its upper bar."""
    out = tmp_path / "tornado.html"
    result = CliRunner().invoke(app, ["sensitivity", "march_2020", "--params", "spread_elasticity", "--json", "--out",
                                      str(out)])
    assert result.exit_code == 0, result.output
    knob = json.loads(result.stdout)["knobs"][0]
    assert knob["difference"] == "forward" and all(c["low"] is None for c in knob["outcomes"].values())
    assert out.read_text().count("spread_elasticity") >= 2
