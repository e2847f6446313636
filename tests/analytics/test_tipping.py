"""tipping_point(): the smallest shock that tips a market from a calm baseline, checked against a
brute-force grid scan and, on the presets, against the regime classifier run on the calm
baseline and on the preset's own scenario; the boundary figure; and ``firesale tipping``
through the CLI."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

import firesale.analytics.tipping as tipping_module
from firesale import Scenario, System, load_preset, simulate
from firesale.analytics.regimes import regimes, tipped
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


# --------------------------------------------------------------------------- the presets
def preset_regime(system: System, scenarios: list[Scenario], asset: str) -> np.ndarray:
    """The regime classifier's verdict on ``asset`` per scenario and round, (S, R): 1 stressed.
    The loop gain is measured, as ``firesale run`` measures it on these small systems."""
    return regimes(simulate(system, scenarios, detail=False, loop_gain=True)).regime.sel(asset=asset).values


def calm_plus(scenario: Scenario, asset: str, fall: float) -> Scenario:
    """The preset's scenario with its own shocks replaced by one fall of ``asset`` in round 0."""
    return scenario.updated(shocks=[{"asset": asset, "price": -fall}])


# (preset, asset, whether the preset's own shocks leave the asset's market stressed)
PRESET_MARKETS = [("dealer_groups", "corp_hy", True), ("gilt_ldi_2022", "long_gilt", True),
                  ("dealer_market", "corp_ig", False)]


@pytest.mark.parametrize("name, asset, own_tips", PRESET_MARKETS)
def test_on_the_presets_the_threshold_is_where_the_calm_market_tips(name, asset, own_tips):
    preset = load_preset(name)
    system, scenario = preset.system, preset.scenario
    out = tipping_point(system, scenario, asset, iterations=12)
    threshold = float(out.threshold[0])
    assert np.isfinite(threshold) and 0 < threshold < 0.5
    assert out.attrs["resolution"] < 0.01 * threshold
    # the classifier itself, on the scenario with its shocks replaced by one fall of the
    # asset: functioning at 0.98x the threshold and with no shock, stressed at the threshold
    calm = scenario.updated(shocks=[])
    assert (calm.channels, calm.policy, calm.market, calm.max_rounds) == \
        (scenario.channels, scenario.policy, scenario.market, scenario.max_rounds)
    regime = preset_regime(system, [calm_plus(scenario, asset, 0.98 * threshold),
                                    calm_plus(scenario, asset, threshold), calm], asset)
    assert regime.max(axis=1).tolist() == [0, 1, 0]
    assert out.calm_tips.values.tolist() == [0] and not out.calm_regime.values.any()
    # the preset's own scenario, run as it is: stressed in the same rounds as reported
    own = preset_regime(system, [scenario], asset)[0]
    assert bool(own.any()) is own_tips
    assert out.preset_tips.values.tolist() == [int(own_tips)]
    np.testing.assert_array_equal(out.preset_regime.values[0], own)


def test_on_top_of_the_presets_own_repricing_half_the_threshold_already_tips():
    """gilt_ldi_2022's own repricing (falls in rounds 0, 1 and 2) tips the long gilt market by
    itself; sized on top of it, a long gilt fall looks smaller than from calm, the artefact the
    calm baseline removes."""
    preset = load_preset("gilt_ldi_2022")
    system, scenario = preset.system, preset.scenario
    out = tipping_point(system, scenario, "long_gilt", iterations=12)
    threshold = float(out.threshold[0])
    on_top = [s.model_dump() for s in scenario.shocks if s.round > 0] + [{"asset": "long_gilt",
                                                                         "price": -0.5 * threshold}]
    regime = preset_regime(system, [scenario.updated(shocks=on_top), calm_plus(scenario, "long_gilt", 0.5 * threshold)],
                           "long_gilt")
    assert regime.max(axis=1).tolist() == [1, 0]


def dealer_capital_shocks(system: System, multiplier: float) -> list[dict]:
    """Every dealer's t0 equity scaled by ``multiplier`` through a round-0 capital shock in cash."""
    return [{"institution": inst.name, "capital": (multiplier - 1.0) * float(equity), "round": 0}
            for inst, equity in zip(system.institutions, system.equity0) if inst.type == "dealer"]


@pytest.mark.parametrize("low", [0.0, 0.02])
def test_a_calm_baseline_stressed_by_itself_is_said(monkeypatch, low):
    """dealer_groups with its dealers' capital cut to 0.8x: the high-yield market is stressed
    with no shock at all, so the threshold is the low end and calm_tips says why."""
    calls: list[int] = []

    def counting(system, scenarios, **kwargs):
        calls.append(len(scenarios))
        return simulate(system, scenarios, **kwargs)

    monkeypatch.setattr(tipping_module, "simulate", counting)
    preset = load_preset("dealer_groups")
    system, scenario = preset.system, preset.scenario
    out = tipping_point(system, scenario, "corp_hy", param="dealer_capital", values=(0.8, 1.5), low=low, high=0.2,
                        iterations=6)
    calm = preset_regime(system, [scenario.updated(shocks=dealer_capital_shocks(system, m)) for m in (0.8, 1.5)],
                         "corp_hy")
    assert calm.max(axis=1).tolist() == [1, 0]
    assert out.calm_tips.values.tolist() == [1, 0]
    np.testing.assert_array_equal(out.calm_regime.values, calm)
    assert float(out.threshold[0]) == low and float(out.threshold[1]) > low
    # the scan batch: 9 grid points per value, the calm baseline where low > 0, the preset's own shocks
    assert calls[0] == 2 * (9 + (low > 0) + 1)


def test_a_market_with_too_few_rows_measured_says_why_it_does_not_tip():
    """var_desk has its information channel off and one desk: of the five rows only the dealer
    row is measured, so its corporates market cannot be called stressed at any fall."""
    preset = load_preset("var_desk")
    system, scenario = preset.system, preset.scenario
    out = tipping_point(system, scenario, "corporates", iterations=4)
    assert np.isnan(out.threshold.values).all()
    ds = simulate(system, [calm_plus(scenario, "corporates", x) for x in (0.1, 0.3, 0.5)], loop_gain=True)
    measured = regimes(ds).measured.sel(asset="corporates").max(("scenario", "round"))
    rows = [str(r) for r, flag in zip(measured.row.values, measured.values) if flag]
    assert rows == ["dealer behaviour"]
    assert [str(r) for r, f in zip(out.row.values, out.scan_measured.values[0]) if f] == rows


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


def _rounds(regime_row: np.ndarray) -> str:
    """Stressed rounds of a contiguous run as the CLI writes them: "1-2"."""
    rounds = np.flatnonzero(regime_row).tolist()
    assert rounds == list(range(rounds[0], rounds[-1] + 1))
    return f"{rounds[0]}-{rounds[-1]}" if len(rounds) > 1 else str(rounds[0])


def test_cli_says_the_presets_own_shock_already_tips_the_market():
    preset = load_preset("dealer_groups")
    own = preset_regime(preset.system, [preset.scenario], "corp_hy")[0]
    result = runner.invoke(app, ["tipping", "dealer_groups", "--shock", "corp_hy", "--iterations", "8"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert (f"the preset's own shock (a 6.00% corp_hy fall) already tips corp_hy: stressed in rounds {_rounds(own)}."
            in text), text
    assert "measured from the calm baseline: hy_down_6pct without its shock" in text
    done = runner.invoke(app, ["tipping", "dealer_groups", "--shock", "corp_hy", "--iterations", "8", "--json"])
    out = json.loads(done.stdout)
    assert out["preset_shock_tips"] == [True] and out["calm_baseline_tips"] == [False]
    assert out["preset_shock_stressed_rounds"] == [np.flatnonzero(own).tolist()]
    assert 0 < out["thresholds"][0] < 0.06  # from calm, below the preset's own 6% fall that tips it


def test_cli_says_when_the_presets_own_shocks_do_not_tip_and_when_calm_is_stressed():
    result = runner.invoke(app, ["tipping", "dealer_market", "--shock", "corp_ig", "--iterations", "6"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "the preset's own 3 shocks do not tip corp_ig: functioning in every round." in text, text
    preset = load_preset("dealer_groups")
    calm = preset_regime(preset.system, [preset.scenario.updated(shocks=dealer_capital_shocks(preset.system, 0.8))],
                         "corp_hy")[0]
    result = runner.invoke(app, ["tipping", "dealer_groups", "--shock", "corp_hy", "--param", "dealer_capital",
                                 "--values", "0.8", "--high", "0.2", "--iterations", "4"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert (f"the calm baseline itself is stressed at dealer_capital = 0.8: corp_hy tips with no shock at all "
            f"(rounds {_rounds(calm)})") in text, text
    assert json.loads(runner.invoke(app, ["tipping", "dealer_groups", "--shock", "corp_hy", "--param", "dealer_capital",
                                          "--values", "0.8", "--high", "0.2", "--iterations", "4", "--json"]).stdout
                      )["thresholds"] == [0.0]


def test_cli_says_why_a_market_does_not_tip():
    result = runner.invoke(app, ["tipping", "var_desk", "--shock", "corporates", "--iterations", "4"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert ("corporates does not tip up to a 50.00% fall: only 1 of the 5 regime rows is measured (dealer "
            "behaviour)") in text, text
    assert "firesale regimes var_desk --asset corporates --shock corporates=-0.5" in text


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
