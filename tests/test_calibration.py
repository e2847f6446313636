"""Calibration (``firesale calibrate``) against targets with closed-form solutions.

* A bond whose fundamental falls by ``s`` with nobody selling moves its yield by
  ``Y = -ln(1 + s) / D x 1e4`` bp, so the shock that meets a yield target ``Y*`` is
  ``s* = exp(-Y* D / 1e4) - 1``; a fund that meets a redemption wave ``w`` from cash has
  redeemed ``w`` of its NAV, so the wave that meets a target ``w*`` is ``w*``. Both are
  scenario-level parameters: their finite differences run as one batch.
* A fund without cash that sells ``w H`` into a linear market of depth ``D`` moves the
  price to ``1 - w H / D`` (Greenwood, Landier & Thesmar 2015), so the depth that meets a
  yield target ``Y*`` is ``D* = w H / (1 - exp(-Y* dur / 1e4))``: a system-level
  parameter, run one system at a time.
"""

from __future__ import annotations

import json
import math
import tomllib

import pytest
from typer.testing import CliRunner

from closed_form_systems import CALM as BASE_CALM
from closed_form_systems import DURATION, HOLDINGS, SOLD
from closed_form_systems import SELLER as BASE_SELLER
from firesale import load
from firesale.analytics.targets import evaluate_targets
from firesale.calibration import calibrate, fitted_preset_text
from firesale.cli import app
from firesale.errors import ConfigError

YIELD_TARGET = 25.0  # bp
WAVE_TARGET = 0.15

CALM = BASE_CALM + f"""
[[targets]]
name = "bond_yield"
observable = "yield_change"
asset = "bond"
value = {YIELD_TARGET}
tolerance = 0.1
source = "closed form"

[[targets]]
name = "redeemed"
observable = "redeemed_share"
institution = "fund"
statistic = "sum"
value = {WAVE_TARGET}
tolerance = 0.001
source = "closed form"

[[parameters]]
name = "scenario.shocks.0.price"
low = -0.1
high = -0.001
source = "assumption"

[[parameters]]
name = "scenario.shocks.1.redemption"
low = 0.01
high = 0.3
scale = "log"
source = "assumption"
"""

SELLER = BASE_SELLER + """
[[targets]]
name = "bond_yield"
observable = "yield_change"
asset = "bond"
statistic = "max"
value = 40.0
tolerance = 1.0
source = "closed form"

[[parameters]]
name = "asset.bond.depth"
low = 100.0
high = 10000.0
scale = "log"
source = "assumption"

[[parameters]]
name = "class.treasury.max_discount"
low = 0.01
high = 0.5
source = "assumption"
"""


def _write(tmp_path, text, name="preset.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture
def counted(monkeypatch):
    """Scenarios per simulate call."""
    import firesale.simulation as simulation

    calls: list[int] = []
    real = simulation.simulate

    def counting(system, scenarios, **kwargs):
        calls.append(len(scenarios))
        return real(system, scenarios, **kwargs)

    monkeypatch.setattr(simulation, "simulate", counting)
    return calls


def test_scenario_parameters_fit_their_closed_forms_in_batches(tmp_path, counted):
    preset = load(_write(tmp_path, CALM))
    result = calibrate(preset, ["scenario.shocks.0.price", "scenario.shocks.1.redemption"])
    shock = math.exp(-YIELD_TARGET * DURATION / 1e4) - 1
    assert result.values["scenario.shocks.0.price"] == pytest.approx(shock, rel=1e-6)
    assert result.values["scenario.shocks.1.redemption"] == pytest.approx(WAVE_TARGET, rel=1e-6)
    assert [r.passed for r in result.before] == [False, False]
    assert all(r.passed for r in result.after)
    # the two finite-difference vectors of each Jacobian ran as one batch on one system
    assert max(counted) == 2
    assert len(counted) < result.evaluations


def test_a_system_parameter_fits_its_closed_form(tmp_path, counted):
    preset = load(_write(tmp_path, SELLER))
    result = calibrate(preset, ["asset.bond.depth"])
    depth = SOLD * HOLDINGS / (1 - math.exp(-40.0 * DURATION / 1e4))
    assert result.values["asset.bond.depth"] == pytest.approx(depth, rel=1e-6)
    assert result.after[0].model == pytest.approx(40.0, abs=1e-6)
    assert set(counted) == {1}  # one system at a time


def test_the_written_preset_keeps_the_text_and_meets_its_targets(tmp_path):
    path = _write(tmp_path, SELLER)
    result = calibrate(load(path), ["asset.bond.depth"])
    new = fitted_preset_text(SELLER, result.system, result.values, ["# fitted"])
    fitted = _write(tmp_path, new, "fitted.toml")
    old_lines, new_lines = SELLER.splitlines(), new.splitlines()
    assert new_lines[0] == "# fitted" and len(new_lines) == len(old_lines) + 1
    changed = [(a, b) for a, b in zip(old_lines, new_lines[1:]) if a != b]
    assert changed == [("depth = 1000.0      # fitted", f"depth = {result.values['asset.bond.depth']!r}      # fitted")]
    again = load(fitted)
    assert again.system.assets[0].depth == result.values["asset.bond.depth"]
    assert all(r.passed for r in evaluate_targets(again))


def test_values_left_to_their_defaults_are_added_where_they_belong(tmp_path):
    preset = load(_write(tmp_path, CALM))
    values = {"class.treasury.max_discount": 0.07, "scenario.market.balance_sheet_cost": 2.5,
              "scenario.shocks.1.redemption": 0.2, "institution.fund.redemption_sensitivity": 1.5}
    new = fitted_preset_text(CALM, preset.system, values)
    data = tomllib.loads(new)
    assert [a["max_discount"] for a in data["assets"]] == [0.07, 0.07]
    assert data["scenario"]["market"] == {"balance_sheet_cost": 2.5}
    assert data["scenario"]["shocks"][1]["redemption"] == 0.2
    assert data["institutions"][1]["redemption_sensitivity"] == 1.5
    assert "redemption_sensitivity" not in data["institutions"][0]
    assert "# the holder: no constraint, so it never sells" in new
    assert "price = -0.02  # the fundamental shock the fit moves" in new
    again = load(_write(tmp_path, new, "again.toml"))
    assert again.scenario.market.balance_sheet_cost == 2.5


def test_a_table_read_from_a_file_is_not_written(tmp_path):
    preset = load(_write(tmp_path, SELLER))
    text = 'name = "x"\n[tables]\nassets = "assets.csv"\n' + SELLER.split("[[holdings]]")[1]
    with pytest.raises(ConfigError, match="FS183"):
        fitted_preset_text(text, preset.system, {"asset.bond.depth": 500.0})


def test_errors(tmp_path):
    preset = load(_write(tmp_path, SELLER))
    with pytest.raises(ConfigError, match=r"FS181.*Did you mean 'asset.bond.depth'"):
        calibrate(preset, ["asset.bond.dept"])
    with pytest.raises(ConfigError, match="FS181"):
        calibrate(preset, [])
    with pytest.raises(ConfigError, match="FS182"):
        calibrate(preset, ["asset.bond.depth"], max_evaluations=0)
    bare = load(_write(tmp_path, SELLER.split("[[targets]]")[0], "bare.toml"))
    with pytest.raises(ConfigError, match="FS180"):
        calibrate(bare, ["asset.bond.depth"])


def test_calibrate_command_writes_records_and_exits_on_the_targets(tmp_path):
    path = _write(tmp_path, SELLER)
    out, store = tmp_path / "fitted.toml", tmp_path / "runs"
    runner = CliRunner()
    result = runner.invoke(app, ["calibrate", str(path), "--free", "asset.bond.depth", "--out", str(out),
                                 "--store", str(store), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["met_before"], summary["met_after"], summary["targets"]) == (0, 1, 1)
    assert out.read_text().startswith("# firesale calibrate: asset.bond.depth fitted")
    assert all(r.passed for r in evaluate_targets(load(out)))
    listed = json.loads(runner.invoke(app, ["runs", "list", "--store", str(store), "--json"]).stdout)
    assert [e["kind"] for e in listed["runs"]] == ["calibration"]
    shown = json.loads(runner.invoke(app, ["runs", "show", summary["run_id"], "--store", str(store),
                                           "--json"]).stdout)
    params = shown["config"]["params"]
    assert params["free"] == ["asset.bond.depth"] and params["bounds"] == {"asset.bond.depth": [100.0, 10000.0]}
    assert params["fitted"]["asset.bond.depth"] == pytest.approx(SOLD * HOLDINGS / (1 - math.exp(-0.032)))
    assert abs(params["residuals_after"][0]) < 1e-6 < abs(params["residuals_before"][0])
    rerun = runner.invoke(app, ["runs", "rerun", summary["run_id"], "--store", str(store)])
    assert rerun.exit_code == 0 and "bit for bit" in rerun.output
    # a bound the record lies beyond: the fit stops there, the target stays missed (status 1)
    tight = _write(tmp_path, SELLER.replace("high = 10000.0", "high = 200000.0").replace("low = 100.0",
                                                                                          "low = 5000.0"), "t.toml")
    missed = runner.invoke(app, ["calibrate", str(tight), "--free", "asset.bond.depth", "--no-record"])
    assert missed.exit_code == 1 and "at a bound" in missed.output and "0 of 1 targets met" in missed.output


def test_targets_command(tmp_path):
    runner = CliRunner()
    path = _write(tmp_path, SELLER)
    missed = runner.invoke(app, ["targets", str(path)])
    assert missed.exit_code == 1 and "0 of 1 targets met" in missed.output
    data = json.loads(runner.invoke(app, ["targets", str(path), "--json"]).stdout)
    assert (data["met"], data["total"], data["all_met"]) == (0, 1, False)
    met = _write(tmp_path, SELLER.replace("value = 40.0", "value = 25.253").replace("depth = 1000.0      # fitted",
                                                                                   "depth = 1000.0"), "met.toml")
    assert runner.invoke(app, ["targets", str(met)]).exit_code == 0
    # --policy: every target checked with the policy applied to the baseline
    policy = runner.invoke(app, ["targets", str(met), "--policy", "matched", "--json"])
    assert policy.exit_code == 1
    (row,) = json.loads(policy.stdout)["targets"]
    assert row["model"] == pytest.approx(-math.log(1 - 0.5 * SOLD * HOLDINGS / 1000.0) / DURATION * 1e4, rel=1e-12)
    bare = _write(tmp_path, SELLER.split("[[targets]]")[0], "bare.toml")
    empty = runner.invoke(app, ["targets", str(bare)])
    assert empty.exit_code == 0 and "has no [[targets]]" in empty.output
