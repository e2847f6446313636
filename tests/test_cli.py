"""Every command through typer's CliRunner."""

import json

import pytest
import xarray as xr
from typer.testing import CliRunner

from firesale.cli import app, main

runner = CliRunner()


def _json(args):
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_run_json_has_the_documented_keys():
    out = _json(["run", "dealer_prime"])
    for key in ("initial_loss", "total_loss", "amplification", "forced_sales", "rounds", "defaults", "institutions"):
        assert key in out
    inst = out["institutions"][0]
    for key in ("name", "group", "first_forced_round", "sales", "sales_by_asset", "final_equity", "min_capital_ratio"):
        assert key in inst
    assert out["forced_sales"] == pytest.approx(114.0, abs=1e-9)
    assert inst["sales_by_asset"] == {"treasuries": pytest.approx(114.0, abs=1e-9)}
    assert inst["first_forced_round"] == 0
    assert round(100 * inst["min_capital_ratio"], 2) == 3.85


def test_exempt_treasuries_flag_stops_the_sale():
    out = _json(["run", "dealer_prime", "--exempt-treasuries"])
    assert out["forced_sales"] == 0.0
    assert out["institutions"][0]["first_forced_round"] is None


def test_shock_option_replaces_the_preset_shock():
    out = _json(["run", "dealer_prime", "--shock", "corporates=-0.02"])
    # loss 3 → Tier 1 22, assets 497; X* = 22/0.05 = 440 → sell 57
    assert out["initial_loss"] == pytest.approx(3.0, abs=1e-9)
    assert out["forced_sales"] == pytest.approx(57.0, abs=1e-9)


def test_set_override_is_validated():
    result = runner.invoke(app, ["run", "dealer_prime", "--set", "market.execution_alpah=1", "--json"])
    assert result.exit_code != 0
    assert "execution_alpah" in str(result.exception) or "execution_alpah" in result.output


def test_run_writes_netcdf(tmp_path):
    path = tmp_path / "run.nc"
    result = runner.invoke(app, ["run", "var_desk", "--out", str(path)])
    assert result.exit_code == 0, result.output
    ds = xr.open_dataset(path, engine="scipy")
    assert set(ds.dims) >= {"scenario", "round", "institution", "asset", "channel"}
    assert float(ds.sold.sum()) == pytest.approx(25.0, abs=1e-5)
    assert ds.equity.attrs["units"] == "USD m"
    ds.close()


def test_readable_summary():
    result = runner.invoke(app, ["run", "dealer_prime"])
    assert result.exit_code == 0
    assert "amplification" in result.output and "114.00" in result.output


def test_explain_tells_the_story():
    result = runner.invoke(app, ["explain", "dealer_prime", "--institution", "dealer_prime"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "SLR 3.85% < 5.00% → shrink to 380.0 → sell 114.0: treasuries 114.0" in text


def test_explain_unknown_institution_lists_names():
    result = runner.invoke(app, ["explain", "dealer_prime", "--institution", "nobody"])
    assert result.exit_code != 0
    assert "dealer_prime" in str(result.exception)


def test_presets_lists_each_with_a_line():
    result = runner.invoke(app, ["presets"])
    assert result.exit_code == 0
    for name in ("dealer_prime", "var_desk"):
        assert name in result.output


def test_validate_good_and_schema():
    assert runner.invoke(app, ["validate", "dealer_prime"]).exit_code == 0
    result = runner.invoke(app, ["validate", "x", "--schema"])
    assert result.exit_code == 0 and "slr_target" in result.output


def test_validate_reports_every_problem(tmp_path):
    (tmp_path / "institutions.csv").write_text("name,liabilities,slr_target,slr_trigger\nd1,90,5,0.04\nd1,nan,0.05,0.05\n")
    (tmp_path / "assets.csv").write_text("name,class,sigma0\nbonds,corporate_ig,0.01\n")
    (tmp_path / "holdings.csv").write_text("institution,asset,quantity\nd1,bonds,-3\nd1,gold,4\n")
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    text = result.output
    for needle in ("institutions.csv row 1", "slr_target", "0.05", "row 2", "duplicate", "holdings.csv row 1",
                   "negative", "holdings.csv row 2", "gold"):
        assert needle in text, needle


def test_main_prints_errors_without_traceback(monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["firesale", "run", "dealer_prme"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "Did you mean 'dealer_prime'" in err and "Traceback" not in err


def test_default_preset_shows_the_cascade():
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for step in ("round 0: A", "round 1: B", "round 2: C", "round 3: D"):
        assert step in text, step
    out = _json(["run", "dealer_groups"])
    dealers = [g for _, gs in out["cascade"]["groups"] for g in gs if g in "ABCD"]
    assert dealers == ["A", "B", "C", "D"]
    assert out["sales_by_group"]["B"][0] == 0.0 and out["sales_by_group"]["B"][1] > 0


# --------------------------------------------------------------------------- compare
def test_compare_json_dealer_prime():
    out = _json(["compare", "dealer_prime", "--policy", "slr_exemption"])
    assert set(out) == {"baseline", "policies"} and list(out["policies"]) == ["slr_exemption"]
    base, policy = out["baseline"], out["policies"]["slr_exemption"]
    assert round(base["forced_sales"], 9) == 114.0
    assert policy["forced_sales"] == 0.0
    for summary in (base, policy):
        for key in ("initial_loss", "total_loss", "amplification", "forced_sales", "forced_sales_per_initial_loss",
                    "rounds", "breaches", "defaults", "price_change", "cascade", "sales_by_group", "institutions",
                    "peak_price_fall", "rounds_to_stabilise"):
            assert key in summary, key


def test_compare_dealer_groups_exemption_lowers_amplification():
    out = _json(["compare", "dealer_groups", "--policy", "slr_exemption"])
    assert out["policies"]["slr_exemption"]["amplification"] < out["baseline"]["amplification"]


def test_compare_table():
    result = runner.invoke(app, ["compare", "dealer_groups", "--policy", "slr_exemption"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    for needle in ("baseline", "slr_exemption", "total loss", "amplification", "forced sales", "defaults",
                   "rounds to stabilise", "peak price fall", "corp_hy"):
        assert needle in text, needle
    assert "Treasuries and reserves left out of the SLR exposure" in " ".join(text.split())


def test_compare_bundle_from_a_preset_file_and_combination(tmp_path):
    from firesale.data.preset import _preset_dir

    path = tmp_path / "prime.toml"
    path.write_text((_preset_dir() / "dealer_prime.toml").read_text()
                    + '\n[policies.x]\ndescription = "exemption by bundle"\n"policy.slr_exemption" = true\n')
    out = _json(["compare", str(path), "--policy", "x", "--policy", "x+haircut_floor", "-p", "haircut_floor"])
    assert list(out["policies"]) == ["x", "x+haircut_floor", "haircut_floor"]
    assert out["policies"]["x"]["forced_sales"] == 0.0
    assert out["policies"]["x+haircut_floor"]["forced_sales"] == 0.0
    assert round(out["policies"]["haircut_floor"]["forced_sales"], 9) == 114.0
    result = runner.invoke(app, ["compare", str(path), "--policy", "x+haircut_floor"])
    assert result.exit_code == 0, result.output
    assert "exemption by bundle" in result.stdout


def test_compare_combination_of_switches():
    out = _json(["compare", "dealer_prime", "--policy", "slr_exemption+haircut_floor"])
    assert out["policies"]["slr_exemption+haircut_floor"]["forced_sales"] == 0.0


def test_compare_unknown_policy(monkeypatch, capsys):
    result = runner.invoke(app, ["compare", "dealer_prime", "--policy", "slr_exemptin"])
    assert result.exit_code == 1
    monkeypatch.setattr("sys.argv", ["firesale", "compare", "dealer_prime", "--policy", "slr_exemptin"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "Traceback" not in err
    assert "unknown policy 'slr_exemptin'" in err and "Did you mean 'slr_exemption'?" in err
    assert "Known policies of dealer_prime: slr_exemption, haircut_floor" in err
    assert "[policies.NAME]" in err  # printed as text, not eaten as rich markup


def test_compare_needs_a_policy(monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["firesale", "compare", "dealer_prime"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    assert "give at least one --policy" in capsys.readouterr().err


def test_compare_bundle_typo_fails_at_load(tmp_path, monkeypatch, capsys):
    from firesale.data.preset import _preset_dir

    path = tmp_path / "prime.toml"
    path.write_text((_preset_dir() / "dealer_prime.toml").read_text()
                    + '\n[policies.relief]\n"policy.slr_exemptoin" = true\n')
    monkeypatch.setattr("sys.argv", ["firesale", "compare", str(path), "--policy", "relief"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "prime.toml, [policies.relief], field scenario.policy.slr_exemptoin" in err
    assert "Did you mean 'slr_exemption'?" in err and "Traceback" not in err


def test_presets_unaffected_by_compare():
    result = runner.invoke(app, ["presets"])
    assert result.exit_code == 0 and "dealer_groups (default)" in result.output


def test_run_json_has_spreads_quotes_and_regime_per_asset():
    out = _json(["run", "dealer_market"])
    assets = ["ust", "agency_mbs", "corp_ig", "corp_hy", "loans"]
    assert list(out["spreads"]) == list(out["quoting_share"]) == list(out["regime"]) == assets
    # the t0 spread is the Glosten-Milgrom 2 x mu0 x sigma0: IG 2 x 0.10 x 0.4%
    assert out["spreads"]["corp_ig"]["t0"] == pytest.approx(2 * 0.10 * 0.004, rel=1e-12)
    assert out["spreads"]["corp_hy"]["peak"] > out["spreads"]["corp_hy"]["t0"]
    assert out["quoting_share"]["corp_hy"]["min"] < 1.0
    # the engine's loop gain stays below 1: dealers with room absorb, no market tips
    gain = out["loop_gain"]
    assert 0.0 <= gain["peak"] < 1.0 and len(gain["by_round"]) == out["rounds"] + 1
    assert set(gain["market"]) <= set(assets)
    assert out["market_tipped"] is False and out["regime"]["loans"]["state"] == "functioning"
    # the LDI spiral of September 2022 tips the long gilt: loop gain above 1
    gilt = _json(["run", "gilt_ldi_2022"])
    assert gilt["loop_gain"]["peak"] > 1.0 and gilt["market_tipped"] is True
    assert {"feedback loop", "dealer behaviour"} <= set(gilt["regime"]["long_gilt"]["stressed_rows"])


def test_regimes_table_first_and_worst_round():
    out = _json(["regimes", "gilt_ldi_2022"])
    assert out["asset"] == "long_gilt" and out["first_round"] == 0 and out["worst_round"] > 0
    assert out["regime"] == {"first": "functioning", "worst": "stressed"}
    rows = {r["row"]: r for r in out["rows"]}
    assert list(rows) == ["price shocks", "dealer behaviour", "liquidity", "feedback loop", "information flow"]
    assert rows["feedback loop"]["worst"]["measures"]["gain"] > 1.0
    text = runner.invoke(app, ["regimes", "gilt_ldi_2022", "--asset", "long_gilt"])
    assert text.exit_code == 0 and "long_gilt" in text.stdout and "trending" in text.stdout
    bad = runner.invoke(app, ["regimes", "dealer_market", "--asset", "corp_hi"])
    assert bad.exit_code != 0 and "Did you mean 'corp_ig'" in str(bad.exception) and "corp_hy" in str(bad.exception)
