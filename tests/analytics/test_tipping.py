"""tipping_point(): the smallest shock that tips a market from a calm baseline, checked against a
brute-force grid scan; the boundary figure; and ``firesale tipping`` through the CLI."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

import firesale.analytics.tipping as tipping_module
from firesale import Scenario, System, load_preset, simulate
from firesale.analytics.regimes import tipped
from firesale.analytics.tipping import (
    _with_dealer_capital,
    _with_shock,
    boundary_figure,
    tipping_point,
)
from firesale.analytics.figures import write_figure
from firesale.cli import app, main
from firesale.errors import ConfigError
from firesale.scenario import Shock

runner = CliRunner()
SCENARIO = Scenario(name="bond_fall", max_rounds=20)


def three_dealers() -> System:
    """Three dealers with SLR triggers (5%, equity 30, 35, 40 on 520 of assets) making the
    market in one bond with linear impact; their loans cannot be sold.

    A bond fall of about 2% tips the bond market; with twice the dealer capital, about 16%.
    (Falls of more than about 12% default every dealer in round 0, and the market then
    "untips": see test_scan_finds_a_window_that_plain_bisection_misses.)
    """
    dealers = [{"name": f"D{i}", "type": "dealer", "cash": 20.0, "liabilities": 520.0 - equity,
                "slr_minimum": 0.03, "slr_trigger": 0.05, "slr_target": 0.05}
               for i, equity in enumerate((30.0, 35.0, 40.0))]
    assets = [{"name": "bond", "class": "corporate_hy", "sigma0": 0.006, "impact": "linear", "depth": 1500.0},
              {"name": "loans", "class": "other", "sigma0": 0.005}]
    holdings = [{"institution": f"D{i}", "asset": asset, "quantity": quantity}
                for i in range(3) for asset, quantity in (("bond", 200.0), ("loans", 300.0))]
    return System.from_records(dealers, assets, holdings, name="three_dealers")


def grid_scan(system: System, scenarios: list[Scenario], sizes: np.ndarray) -> np.ndarray:
    """Whether the bond market tips, (len(scenarios), len(sizes)), all in ONE simulate batch
    (the loop gain measured, as tipping_point measures it on a system of few assets)."""
    batch = [_with_shock(sc, "bond", "price", float(x)) for sc in scenarios for x in sizes]
    return tipped(simulate(system, batch, detail=False, loop_gain=True), "bond").reshape(len(scenarios), sizes.size)


# --------------------------------------------------------------------------- the bisection
def test_bisection_agrees_with_a_grid_scan():
    system = three_dealers()
    releases = (0.0, 0.005, 0.01)
    sizes = np.linspace(0.0, 0.1, 200)
    step = sizes[1] - sizes[0]
    tips = grid_scan(system, [SCENARIO.updated(**{"policy.slr_buffer_release": r}) for r in releases], sizes)
    # the assumption bisection rests on holds on this range: not tipped, then tipped
    assert all(np.all(np.diff(row.astype(int)) >= 0) and row[0] == 0 and row[-1] == 1 for row in tips)
    smallest_on_grid = sizes[tips.argmax(axis=1)]
    out = tipping_point(system, SCENARIO, "bond", param="policy.slr_buffer_release", values=releases,
                        high=0.1, iterations=10)
    np.testing.assert_allclose(out.threshold.values, smallest_on_grid, atol=step)
    assert out.attrs["resolution"] == pytest.approx(0.1 / 8 / 2**10)
    assert np.all(np.diff(out.threshold.values) > 0)  # a released buffer lets dealers bear a larger fall
    assert out.monotone.values.tolist() == [1, 1, 1]


def test_measured_from_a_calm_baseline_whatever_the_scenarios_own_shocks():
    system = three_dealers()
    calm = tipping_point(system, SCENARIO, "bond", high=0.1, iterations=8)
    # the scenario's own shocks: a 5% bond fall with a volatility jump, and outside clients
    # selling 100 of the bond, which alone tips its market. Sized on top of them, every
    # fall would tip it (threshold 0, whatever the dealers' resilience); from the calm
    # baseline the threshold is the calm system's, and the scenario is said to tip already
    shocked = SCENARIO.updated(shocks=[{"asset": "bond", "price": -0.05, "volatility": 2.0},
                                       {"asset": "bond", "client_sale": 100.0}])
    assert tipped(simulate(system, _with_shock(shocked, "bond", "price", 0.0), loop_gain=True), "bond").all()
    out = tipping_point(system, shocked, "bond", high=0.1, iterations=8)
    assert out.threshold.values.tolist() == calm.threshold.values.tolist()
    assert 0.01 < float(out.threshold[0]) < 0.03
    assert (out.preset_tips.values.tolist(), calm.preset_tips.values.tolist()) == ([1], [0])
    assert (out.attrs["preset_size"], calm.attrs["preset_size"]) == (pytest.approx(0.05), 0.0)
    assert out.attrs["baseline"] == "calm"


def test_more_dealer_capital_tips_later():
    out = tipping_point(three_dealers(), SCENARIO, "bond", param="dealer_capital", values=(1.0, 2.0), iterations=8)
    low_capital, high_capital = out.threshold.values
    assert 0.01 < low_capital < 0.03
    assert high_capital >= low_capital
    assert 0.12 < high_capital < 0.2


def test_never_tipping_within_high_is_nan_and_tipping_at_low_is_low():
    system = three_dealers()
    never = tipping_point(system, SCENARIO, "bond", high=0.01, iterations=4)
    assert np.isnan(never.threshold.values).all()
    already = tipping_point(system, SCENARIO, "bond", low=0.05, high=0.1, iterations=4)
    assert already.threshold.values.tolist() == [0.05]


def test_a_shock_that_defaults_every_dealer_at_once_still_tips():
    # Falls above ~12% default every dealer in round 0. The quotes they withdraw and the
    # depth that goes with them show in round 0's information and liquidity rows (measured
    # after the round), so the market counts as tipped up to 50% and plain bisection
    # agrees with the scan.
    system = three_dealers()
    plain = tipping_point(system, SCENARIO, "bond", high=0.5, scan=1, iterations=12)
    scanned = tipping_point(system, SCENARIO, "bond", high=0.5, iterations=12)
    assert 0.01 < float(plain.threshold[0]) < 0.03
    assert float(plain.threshold[0]) == pytest.approx(float(scanned.threshold[0]), abs=0.5 / 2**12 * 2)
    assert scanned.monotone.values.tolist() == [1]
    everyone_down = simulate(system, SCENARIO.updated(shocks=[{"asset": "bond", "price": -0.4}]))
    assert tipped(everyone_down, "bond").all()


def test_the_batch_advances_every_value_together(monkeypatch):
    calls: list[int] = []

    def counting(system, scenarios, **kwargs):
        calls.append(len(scenarios))
        return simulate(system, scenarios, **kwargs)

    monkeypatch.setattr(tipping_module, "simulate", counting)
    system, iterations = three_dealers(), 6
    for values in ((0.0,), (0.0, 0.002, 0.004, 0.006, 0.008)):
        calls.clear()
        out = tipping_point(system, SCENARIO, "bond", param="policy.slr_buffer_release", values=values,
                            high=0.1, iterations=iterations)
        assert np.isfinite(out.threshold.values).all()
        assert iterations <= len(calls) <= iterations + 2
        # the scan: low, high and 7 points between from the calm baseline, and the scenario's own shocks, per value
        assert calls[0] == 10 * len(values)
        assert calls[1:] == [len(values)] * iterations  # one scenario per value in every step
    # dealer capital too: a round-0 capital shock per dealer, on the same system
    calls.clear()
    tipping_point(system, SCENARIO, "bond", param="dealer_capital", values=(1.0, 1.5), high=0.1, iterations=iterations)
    assert len(calls) == iterations + 1 and calls[0] == 10 * 2


def test_progress_reports_every_batch():
    seen = []
    tipping_point(three_dealers(), SCENARIO, "bond", high=0.1, iterations=3, progress=lambda s, t: seen.append((s, t)))
    assert seen[0] == (1, 4) and seen[-1] == (4, 4)
    assert [s for s, _ in seen] == sorted(s for s, _ in seen)


def test_client_sale_threshold_is_in_the_system_currency():
    system = three_dealers()
    out = tipping_point(system, SCENARIO, "bond", kind="client_sale", iterations=6)
    assert out.attrs["high"] == pytest.approx(10 * 600.0)  # ten times the bond's t0 holdings
    assert out.threshold.attrs["units"] == system.currency
    assert 0 < float(out.threshold[0]) < out.attrs["high"]


def test_the_result_is_labelled():
    out = tipping_point(three_dealers(), SCENARIO, "bond", param="market.layoff_share", values=(0.1, 0.3),
                        high=0.1, iterations=3)
    assert out.threshold.dims == ("param",) and out.param.values.tolist() == [0.1, 0.3]
    assert out.threshold.attrs["units"] == "fraction" and "long_name" in out.threshold.attrs
    assert "description" in out.threshold.attrs
    assert out.param.attrs["units"] == "fraction" and out.param.attrs["long_name"] == "market.layoff_share"
    for key, value in (("asset", "bond"), ("kind", "price"), ("param", "market.layoff_share"), ("low", 0.0),
                       ("high", 0.1), ("iterations", 3)):
        assert out.attrs[key] == value


# --------------------------------------------------------------------------- shocks and parameters
def test_the_sized_shock_replaces_only_its_own_kind_on_its_asset():
    base = Scenario(shocks=[Shock(asset="bond", price=-0.03, volatility=2.0), Shock(asset="bond", client_sale=5.0),
                            Shock(asset="loans", price=-0.01), Shock(asset="bond", price=-0.02, round=3)],
                    max_rounds=5)
    shocks = _with_shock(base, "bond", "price", 0.07).shocks
    assert Shock(asset="bond", volatility=2.0) in shocks  # its price part replaced, the rest kept
    assert Shock(asset="bond", client_sale=5.0) in shocks and Shock(asset="loans", price=-0.01) in shocks
    assert Shock(asset="bond", price=-0.02, round=3) in shocks  # a later round is not the sized shock
    assert [s.price for s in shocks if s.asset == "bond" and s.round == 0 and s.price is not None] == [-0.07]


def test_dealer_capital_scales_dealer_equity_through_cash():
    preset = load_preset("dealer_market")
    system = preset.system
    scaled = _with_dealer_capital(system, preset.scenario, 1.5)
    ds = simulate(system, [scaled.updated(shocks=[s.model_dump() for s in scaled.shocks
                                                  if s.institution is not None])], detail=True)
    dealer = ds.institution_type.values == "dealer"
    # round 0 with no market shock: dealers start with 1.5 x their equity, the cash added
    np.testing.assert_allclose(ds.equity.isel(scenario=0, round=0).values,
                               np.where(dealer, 1.5, 1.0) * system.equity0, rtol=1e-12)
    np.testing.assert_allclose(ds.cash.isel(scenario=0, round=0).values - system.cash0,
                               np.where(dealer, 0.5 * system.equity0, 0.0), rtol=1e-12, atol=1e-12)
    assert _with_dealer_capital(system, preset.scenario, 1.0) is preset.scenario


@pytest.mark.parametrize("value, needle", [(0.0, "above 0"), (-1.0, "above 0"), ("x", "not a number"),
                                           (0.3, "smallest multiplier this system allows is 0.5;")])
def test_bad_dealer_capital_is_named(value, needle):
    with pytest.raises(ConfigError) as err:
        tipping_point(three_dealers(), SCENARIO, "bond", param="dealer_capital", values=(value,), iterations=1)
    assert "dealer_capital" in str(err.value) and needle in str(err.value)


@pytest.mark.parametrize("kwargs, needle", [
    ({"param": "market.layof", "values": (0.1,)}, "scenario.market.layof"),
    ({"param": "market.layoff_share", "values": (2.0,)}, "layoff_share"),
    ({"param": "market.layoff_share"}, "needs values"),
    ({"kind": "prices"}, "Did you mean 'price'"),
    ({"high": 1.5}, "below 1"),
    ({"low": 0.2, "high": 0.1}, "above low"),
    ({"iterations": 0}, "at least 1"),
])
def test_bad_arguments_are_config_errors(kwargs, needle):
    with pytest.raises(ConfigError) as err:
        tipping_point(three_dealers(), SCENARIO, "bond", **kwargs)
    assert needle in str(err.value)


def test_unknown_asset_lists_the_assets():
    with pytest.raises(ConfigError) as err:
        tipping_point(three_dealers(), SCENARIO, "bonds")
    assert "Did you mean 'bond'" in str(err.value) and "bond, loans" in str(err.value)


# --------------------------------------------------------------------------- figure
def test_boundary_figure_is_labelled_from_attrs(tmp_path):
    out = tipping_point(three_dealers(), SCENARIO, "bond", param="dealer_capital", values=(1.0, 2.0), iterations=3)
    fig = boundary_figure(out)
    assert fig.layout.xaxis.title.text == "dealer capital [x t0 equity]"
    assert fig.layout.yaxis.title.text == f"{out.threshold.attrs['long_name']} [fraction]"
    assert "bond" in fig.layout.title.text
    np.testing.assert_allclose(fig.data[0].y, out.threshold.values)
    path = write_figure(fig, tmp_path / "boundary.html")
    assert "plotly" in path.read_text()


def test_figure_file_types():
    class FailingFigure:
        def write_image(self, path):
            raise RuntimeError("Kaleido requires Google Chrome to be installed.")

    with pytest.raises(ConfigError) as err:
        write_figure(FailingFigure(), "boundary.png")
    message = str(err.value)
    assert "kaleido" in message and "BROWSER_PATH=/usr/bin/chromium" in message and ".html" in message
    with pytest.raises(ConfigError) as err:
        write_figure(FailingFigure(), "boundary.txt")
    assert ".html" in str(err.value) and ".png" in str(err.value)


def test_missing_plotly_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    out = tipping_point(three_dealers(), SCENARIO, "bond", high=0.1, iterations=1)
    with pytest.raises(ConfigError) as err:
        boundary_figure(out)
    assert 'pip install "firesale[figures]"' in str(err.value)


# --------------------------------------------------------------------------- CLI
def test_cli_sweeps_dealer_capital(tmp_path):
    path = tmp_path / "b.html"
    result = runner.invoke(app, ["tipping", "dealer_market", "--shock", "corp_hy", "--param", "dealer_capital",
                                 "--values", "0.8,1.2", "--iterations", "8", "--out", str(path), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["values"] == [0.8, 1.2] and len(out["thresholds"]) == 2
    assert (out["asset"], out["kind"], out["param"]) == ("corp_hy", "price", "dealer_capital")
    low_capital, high_capital = out["thresholds"]
    assert low_capital <= high_capital
    assert path.exists() and "plotly" in path.read_text()


def test_cli_table_and_null_for_no_tip():
    result = runner.invoke(app, ["tipping", "dealer_market", "--shock", "corp_hy", "--iterations", "6"])
    assert result.exit_code == 0, result.output
    assert "corp_hy fall of" in result.stdout
    assert "measured from the calm baseline" in " ".join(result.stdout.split())
    out = json.loads(runner.invoke(app, ["tipping", "dealer_market", "--shock", "corp_hy", "--high", "0.01",
                                         "--iterations", "2", "--json"]).stdout)
    assert out["thresholds"] == [None] and out["param"] is None
    # the preset's own shocks (a 3% fall and client sales) leave the market functioning
    assert (out["baseline"], out["preset_shock_tips"]) == ("calm", [False])
    assert out["preset_shock_size"] == pytest.approx(0.03)


@pytest.mark.parametrize("args, needle", [
    (["--kind", "prices"], "Did you mean 'price'"),
    (["--shock", "corp_hyy"], "Did you mean 'corp_hy'"),
    (["--param", "dealer_capital"], "needs --values"),
    (["--out", "boundary.txt"], ".html"),
])
def test_cli_errors_are_one_line(monkeypatch, capsys, args, needle):
    base = ["firesale", "tipping", "dealer_market", "--shock", "corp_hy", "--iterations", "2"]
    monkeypatch.setattr("sys.argv", base + args)
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code != 0
    err = capsys.readouterr().err.strip()
    assert needle in err and "Traceback" not in err
    assert len(err.splitlines()) == 1, err
