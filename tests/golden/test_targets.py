"""Targets as data: every shipped preset meets the record in its [[targets]], and the
machinery that measures them agrees with closed forms.

The parametrised test collects one case per shipped preset and target (none while no
preset has targets); a missed target fails with the model's value, the band and the
source. The closed forms: an asset whose fundamental falls by ``s`` with nobody selling
moves its yield by ``-ln(1 + s) / D x 1e4`` bp exactly; a fund that meets a redemption
wave ``w`` from cash has redeemed ``w`` of its NAV; a fund without cash that sells
``w`` of its holdings ``H`` into a linear market of depth ``D`` moves the price to
``1 - w H / D`` (Greenwood, Landier & Thesmar 2015, price impact ``1/D`` per unit sold),
and ``(1 - a) w H / D`` less when the share ``a`` is matched all-to-all.
"""

from __future__ import annotations

import functools
import math
import textwrap

import numpy as np
import pytest

from closed_form_systems import ALL_TO_ALL, CALM, DEPTH, DURATION, HOLDINGS, MAX_ROUNDS, SELLER, SHOCK, SOLD, WAVE
from firesale import list_presets, load, load_preset
from firesale.analytics.targets import (
    OBSERVABLES,
    Target,
    evaluate_targets,
    target_residuals,
    target_results,
)
from firesale.errors import ConfigError


def _shipped() -> list[tuple[str, str]]:
    return [(name, target.name) for name in list_presets() for target in load_preset(name).targets]


SHIPPED = _shipped()


@functools.cache
def _evaluated(preset_name: str) -> dict:
    """Every target of a shipped preset, evaluated in one batch: {name: TargetResult}."""
    return {r.name: r for r in evaluate_targets(load_preset(preset_name))}


if SHIPPED:  # no case at all (rather than a skipped one) while no shipped preset has targets

    @pytest.mark.parametrize(("preset_name", "target_name"), SHIPPED, ids=[f"{p}:{t}" for p, t in SHIPPED])
    def test_shipped_preset_meets_its_target(preset_name, target_name):
        r = _evaluated(preset_name)[target_name]
        assert r.passed, (f"{preset_name}: target {r.name} ({r.label}) missed: model {r.model:.6g} {r.unit}, "
                          f"record {r.value:g}, band [{r.low:g}, {r.high:g}] ({r.source})")


def test_shipped_targets_load_and_name_their_source():
    for name in list_presets():
        for target in load_preset(name).targets:
            assert target.source.strip(), (name, target.name)
            assert target.observable in OBSERVABLES


# --------------------------------------------------------------------------- closed forms
def _target_rows(rows: list[dict]) -> str:
    out = []
    for row in rows:
        out.append("[[targets]]")
        row = {"value": 0.0, "tolerance": 1.0, "source": "closed form"} | row
        for key, value in row.items():
            if value is None:
                continue
            text = f'"{value}"' if isinstance(value, str) else str(value).lower() if isinstance(value, bool) \
                else f"[{value[0]}, {value[1]}]" if isinstance(value, tuple) else repr(value)
            out.append(f"{key} = {text}")
        out.append("")
    return "\n".join(out)


def _preset(tmp_path, base: str, rows: list[dict], name: str = "p.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(base) + "\n" + _target_rows(rows))
    return load(path)


def _models(tmp_path, base: str, rows: list[dict]) -> dict[str, float]:
    preset = _preset(tmp_path, base, [{"name": f"t{i}"} | row for i, row in enumerate(rows)])
    return {r.name: r.model for r in evaluate_targets(preset)}


def test_yield_change_of_a_fundamental_shock_without_sellers(tmp_path):
    bp = -math.log(1 + SHOCK) / DURATION * 1e4
    models = _models(tmp_path, CALM, [
        {"observable": "yield_change", "asset": "bond"},
        {"observable": "fundamental_yield_change", "asset": "bond", "statistic": "max"},
        {"observable": "fire_sale_yield", "asset": "bond", "statistic": "max"},
        {"observable": "discount", "asset": "bond", "statistic": "max"},
        {"observable": "price", "asset": "bond", "statistic": "change"},
        {"observable": "yield_change", "asset": "notes"},
    ])
    assert models["t0"] == pytest.approx(bp, rel=1e-12)
    assert models["t1"] == pytest.approx(bp, rel=1e-12)
    assert models["t2"] == pytest.approx(0.0, abs=1e-9)
    assert models["t3"] == pytest.approx(0.0, abs=1e-12)
    assert models["t4"] == pytest.approx(SHOCK, rel=1e-12)  # change from the t0 price of 1
    assert models["t5"] == pytest.approx(0.0, abs=1e-9)


def test_redeemed_share_of_a_wave_met_from_cash(tmp_path):
    models = _models(tmp_path, CALM, [
        {"observable": "redeemed_share", "type": "asset_manager", "statistic": "sum"},
        {"observable": "redeemed_share", "institution": "fund", "rounds": (0, 0), "statistic": "first"},
        # the window is every round of the scenario: a run that stopped early has redeemed nothing since
        {"observable": "redeemed_share", "group": "F", "statistic": "mean"},
        {"observable": "redeemed", "statistic": "sum"},
        {"observable": "redeemed_share", "institution": "fund", "rounds": (1, MAX_ROUNDS - 1), "statistic": "sum"},
    ])
    assert models["t0"] == pytest.approx(WAVE, rel=1e-12)
    assert models["t1"] == pytest.approx(WAVE, rel=1e-12)
    assert models["t2"] == pytest.approx(WAVE / MAX_ROUNDS, rel=1e-12)
    assert models["t3"] == pytest.approx(WAVE * 100.0, rel=1e-12)  # the fund's NAV: cash 50 + notes 50
    assert models["t4"] == 0.0


def test_a_fund_selling_into_a_linear_market(tmp_path):
    sold = SOLD * HOLDINGS
    price = 1 - sold / DEPTH
    models = _models(tmp_path, SELLER, [
        {"observable": "yield_change", "asset": "bond", "statistic": "max"},
        {"observable": "net_sales", "statistic": "sum"},
        {"observable": "sales", "institution": "fund", "asset": "bond", "statistic": "sum"},
        {"observable": "forced_sales", "statistic": "sum"},
        {"observable": "position", "type": "asset_manager", "statistic": "last"},
        {"observable": "position", "statistic": "change"},
        {"observable": "price", "asset": "bond", "statistic": "min"},
        {"observable": "holdings", "statistic": "change"},
        {"observable": "yield_change", "asset": "bond", "policy": "matched", "statistic": "max"},
        {"observable": "sold", "group": "F", "rounds": (1, MAX_ROUNDS - 1), "statistic": "max"},
    ])
    assert models["t0"] == pytest.approx(-math.log(price) / DURATION * 1e4, rel=1e-12)
    for key in ("t1", "t2", "t3"):  # value sold, three ways: holdings changes, sales, the market's flow
        assert models[key] == pytest.approx(sold, rel=1e-12), key
    assert models["t4"] == pytest.approx((HOLDINGS - sold) * price, rel=1e-12)
    assert models["t5"] == pytest.approx((HOLDINGS - sold) * price - HOLDINGS, rel=1e-12)
    assert models["t6"] == pytest.approx(price, rel=1e-12)
    assert models["t7"] == pytest.approx(-sold, rel=1e-12)
    matched = 1 - (1 - ALL_TO_ALL) * sold / DEPTH
    assert models["t8"] == pytest.approx(-math.log(matched) / DURATION * 1e4, rel=1e-12)
    assert models["t9"] == 0.0


def test_baseline_and_policies_run_as_one_batch(tmp_path, monkeypatch):
    import firesale.simulation as simulation

    calls = []
    real = simulation.simulate

    def counting(system, scenarios, **kwargs):
        calls.append(len(scenarios))
        return real(system, scenarios, **kwargs)

    monkeypatch.setattr(simulation, "simulate", counting)
    preset = _preset(tmp_path, SELLER, [
        {"name": "base", "observable": "yield_change", "asset": "bond", "statistic": "max"},
        {"name": "policy", "observable": "yield_change", "asset": "bond", "statistic": "max", "policy": "matched"},
        {"name": "both", "observable": "yield_change", "asset": "bond", "statistic": "max",
         "policy": "matched+swing_pricing"},
    ])
    results = evaluate_targets(preset)
    assert calls == [3]
    assert results[1].model == pytest.approx(results[2].model, rel=1e-12)  # no fund swing-prices a wave here


def test_a_target_does_not_depend_on_its_batch(tmp_path):
    """A run that stops early is extended to its horizon as the engine freezes it: the
    same target alone and beside a longer policy run gives the same value."""
    base = SELLER + '\n[policies.slow]\ndescription = "pressure fades"\n"market.mean_reversion" = 0.5\n'
    alone = _models(tmp_path, base, [{"observable": "yield_change", "asset": "bond", "statistic": "mean"}])
    both = _models(tmp_path, base, [{"observable": "yield_change", "asset": "bond", "statistic": "mean"},
                                    {"observable": "price", "asset": "bond", "policy": "slow"}])
    assert both["t0"] == alone["t0"]


# --------------------------------------------------------------------------- comparison and residuals
def _one(value: float, model: float, **fields) -> tuple[float, bool, float, float]:
    target = Target(name="x", observable="price", asset="a", value=value, source="hand", **fields)
    result = target_results([target], [model])[0]
    np.testing.assert_equal(target_residuals([result]), [result.residual])
    return result.residual, result.passed, result.low, result.high


def test_residuals_and_bands_by_hand():
    assert _one(92.0, 72.0, tolerance=40.0) == (-0.5, True, 52.0, 132.0)
    assert _one(92.0, 140.0, tolerance=40.0) == (1.2, False, 52.0, 132.0)
    assert _one(-50.0, -40.0, relative_tolerance=0.1) == (2.0, False, -55.0, -45.0)
    assert _one(40.0, 45.0, compare="at_least") == (0.0, True, 40.0, math.inf)
    assert _one(40.0, 38.0, compare="at_least", tolerance=4.0) == (-0.5, True, 36.0, math.inf)
    assert _one(40.0, 30.0, compare="at_least", tolerance=4.0) == (-2.5, False, 36.0, math.inf)
    assert _one(40.0, 30.0, compare="at_least") == (-1.25, False, 40.0, math.inf)  # no slack: 1 + 10/40
    assert _one(100.0, 120.0, compare="at_most") == (1.2, False, -math.inf, 100.0)
    assert _one(0.0, 0.5, compare="at_most") == (1.5, False, -math.inf, 0.0)  # |v| taken as 1 at v = 0
    residual, passed, *_ = _one(1.0, math.nan, tolerance=1.0)
    assert math.isnan(residual) and not passed


def test_rounds_window_and_statistics_by_hand():
    from firesale.analytics.targets import _statistic

    series = np.array([[1.0, 3.0, 2.0], [4.0, 0.0, 1.0]])
    t0 = np.array([10.0, 20.0])

    def stat(statistic, rounds=None, kind="level", horizons=(5, 3)):
        target = Target(name="x", observable="price", asset="a", value=0.0, tolerance=1.0, source="hand",
                        statistic=statistic, rounds=rounds)
        return _statistic(series, t0, kind, target, np.array(horizons)).tolist()

    assert stat("max") == [3.0, 4.0]
    assert stat("min", (1, 2)) == [2.0, 0.0]
    assert stat("first", (1, 2)) == [3.0, 0.0]
    assert stat("last") == [2.0, 1.0]  # the first run extended to round 4 by its last level
    assert stat("sum") == [1 + 3 + 2 + 2 + 2, 5.0]
    assert stat("sum", kind="flow") == [6.0, 5.0]
    assert stat("mean", kind="flow") == [6.0 / 5, 5.0 / 3]
    assert stat("change") == [2.0 - 10.0, 1.0 - 20.0]
    assert stat("change", (1, 2)) == [2.0 - 1.0, 1.0 - 4.0]


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(("row", "code", "field"), [
    ({"observable": "yeild_change", "asset": "bond"}, "FS172", "observable"),
    ({"observable": "price", "asset": "bund"}, "FS173", "asset"),
    ({"observable": "price"}, "FS174", "asset"),
    ({"observable": "price", "asset": "bond", "institution": "fund"}, "FS174", "institution"),
    ({"observable": "nav_per_share"}, "FS174", "institution"),
    ({"observable": "sold", "group": "Z"}, "FS173", "group"),
    ({"observable": "sold", "type": "bank"}, "FS174", None),
    ({"observable": "price", "asset": "bond", "rounds": (3, 2)}, "FS175", "rounds"),
    ({"observable": "price", "asset": "bond", "rounds": (0, MAX_ROUNDS)}, "FS175", "rounds"),
    ({"observable": "slr", "institution": "fund", "statistic": "change"}, "FS175", "rounds"),
    ({"observable": "price", "asset": "bond", "compare": "within", "tolerance": None}, "FS176", "tolerance"),
    ({"observable": "price", "asset": "bond", "relative_tolerance": 0.1}, "FS176", "tolerance"),
    ({"observable": "price", "asset": "bond", "policy": "mached"}, "FS177", "policy"),
    ({"observable": "price", "asset": "bond", "colour": "red"}, "FS171", "colour"),
    ({"observable": "price", "asset": "bond", "value": True}, "FS171", "value"),
    ({"observable": "price", "asset": "bond", "statistic": "median"}, "FS171", "statistic"),
])
def test_bad_rows_name_file_row_and_field(tmp_path, row, code, field):
    row = {"name": "first", "value": 1.0, "tolerance": 1.0, "source": "closed form"} | row
    path = tmp_path / "bad.toml"
    path.write_text(CALM + "\n" + _target_rows([{"name": "ok", "observable": "sold"}, row]))
    with pytest.raises(ConfigError) as err:
        load(path)
    problems = [p for p in err.value.problems if p.code == code]
    assert problems, err.value
    where = "bad.toml, [[targets]] row 2" + (f", field {field}" if field else "")
    assert problems[0].where == where, problems[0]


def test_a_name_twice_and_suggestions(tmp_path):
    path = tmp_path / "twice.toml"
    path.write_text(SELLER + "\n" + _target_rows([{"name": "a", "observable": "sold"},
                                                   {"name": "a", "observable": "yeild_change", "asset": "bond"}]))
    with pytest.raises(ConfigError) as err:
        load(path)
    (problem,) = err.value.problems
    assert problem.code == "FS178" and problem.where == "twice.toml, [[targets]] row 2, field name"
    path.write_text(SELLER + "\n" + _target_rows([{"name": "a", "observable": "yeild_change", "asset": "bond"}]))
    with pytest.raises(ConfigError, match="Did you mean 'yield_change'"):
        load(path)


def test_a_preset_without_targets_has_none(tmp_path):
    assert _preset(tmp_path, SELLER, []).targets == ()
    assert evaluate_targets(_preset(tmp_path, SELLER, [])) == []
