"""The dashboard's plain functions: widget values into scenarios, the system's summary,
problems as rows."""

import numpy as np
import pytest

from firesale import load_preset, simulate
from firesale.dashboard import logic
from firesale.errors import ConfigError, Problem
from firesale.scenario import Scenario


def test_untouched_widgets_give_the_preset_scenario():
    preset = load_preset("march_2020")
    scenario = logic.scenario_from_inputs(
        preset.scenario, preset.system, assets=logic.asset_shock_inputs(preset.scenario, preset.system),
        redemptions=logic.redemption_inputs(preset.scenario, preset.system),
        switches={k: v["value"] for k, v in logic.channel_switches(preset.scenario).items()},
        levers={k: v["value"] for k, v in logic.policy_levers(preset.scenario).items()})
    assert scenario is preset.scenario


def test_changed_round_0_shocks_keep_the_later_rounds():
    preset = load_preset("march_2020")
    assets = logic.asset_shock_inputs(preset.scenario, preset.system)
    assets["price"]["corp_ig"] = -0.02
    redemptions = dict.fromkeys(logic.redemption_inputs(preset.scenario, preset.system), 0.0)
    scenario = logic.scenario_from_inputs(preset.scenario, preset.system, assets=assets, redemptions=redemptions)
    round_0 = [s for s in scenario.shocks if s.round == 0]
    # the preset's other round-0 asset shocks stay as they were, one shock per asset (its price
    # and volatility shocks together); the redemptions set to 0 are gone
    kept: dict[str, tuple[float | None, float | None]] = {}
    for s in preset.scenario.shocks:
        if s.round == 0 and s.asset is not None:
            price, volatility = kept.get(s.asset, (None, None))
            kept[s.asset] = (price if s.price is None else s.price,
                             volatility if s.volatility is None else s.volatility)
    assert len(kept) > 1  # the change leaves other assets' shocks to keep
    kept["corp_ig"] = (-0.02, kept.get("corp_ig", (None, None))[1])
    assert {(s.asset, s.price, s.volatility) for s in round_0} == {(a, p, v) for a, (p, v) in kept.items()}
    assert [s for s in scenario.shocks if s.round > 0] == [s for s in preset.scenario.shocks if s.round > 0]


def test_switches_levers_and_programmes():
    preset = load_preset("dealer_groups")
    scenario = logic.scenario_from_inputs(preset.scenario, preset.system,
                                          switches={"channels.margin": False, "market.intermediation": True},
                                          levers={"policy.slr_exemption": True, "policy.all_to_all": 0.2})
    assert not scenario.channels.margin and scenario.market.intermediation
    assert scenario.policy.slr_exemption and scenario.policy.all_to_all == 0.2
    with_purchases = preset.scenario.updated(**{"policy.purchases": {"assets": ["ust"]}})
    assert logic.policy_levers(with_purchases)["policy.purchases"]["kind"] == "programme"
    dropped = logic.scenario_from_inputs(with_purchases, preset.system, levers={"policy.purchases": False})
    assert dropped.policy.purchases is None


def test_out_of_range_input_is_a_config_error_naming_the_field():
    preset = load_preset("dealer_prime")
    assets = logic.asset_shock_inputs(preset.scenario, preset.system)
    assets["price"]["corporates"] = -1.5
    with pytest.raises(ConfigError, match=r"scenario\.shocks\.0\.price"):
        logic.scenario_from_inputs(preset.scenario, preset.system, assets=assets)


def test_capital_ratios_are_the_engines_round_0_measure():
    preset = load_preset("dealer_groups")
    ratios = logic.capital_ratios(preset.system)
    ds = simulate(preset.system, Scenario()).isel(scenario=0, round=0)
    engine = np.where(ds.has_slr == 1, ds.slr, ds.leverage_ratio)
    np.testing.assert_allclose(ratios["ratio"].to_numpy(), engine, rtol=1e-12)
    assert (ratios.loc[ratios["measure"] == "SLR", "minimum"] == 0.03).all()


def test_overlap_and_counts():
    system = load_preset("dealer_groups").system
    overlap = logic.holdings_overlap(system)
    assert overlap.shape == (system.n_institutions,) * 2
    np.testing.assert_allclose(np.diag(overlap), 1.0)
    counts = logic.institution_counts(system)
    assert counts.loc["dealer", "total"] == 12 and counts.loc["total", "total"] == system.n_institutions


def test_problem_rows_split_where():
    rows = logic.problem_rows([Problem("FS121", "assets.csv, column sigma0", "missing"),
                               Problem("FS001", "preset 'x'", "unknown")])
    assert rows[0] | {"message": ""} == {"code": "FS121", "table": "assets.csv", "row": "", "field": "sigma0",
                                        "message": ""}
    assert (rows[1]["table"], rows[1]["row"], rows[1]["field"]) == ("", "", "")


def test_overlap_of_a_large_sparse_system_shows_its_largest_institutions():
    from firesale.data.synthetic import generate_system
    from firesale.dashboard.logic import OVERLAP_MAX_INSTITUTIONS, capital_ratios, holdings_overlap

    system = generate_system(1500, 700, density=20 / 700, seed=3)
    assert system.sparse
    overlap = holdings_overlap(system)
    assert overlap.shape == (OVERLAP_MAX_INSTITUTIONS, OVERLAP_MAX_INSTITUTIONS)
    largest = system.institution_names[int(np.argmax(system.total_assets0))]
    assert largest in overlap.index and overlap.loc[largest, largest] == pytest.approx(1.0)
    assert len(capital_ratios(system)) == 1500


def test_the_ratio_chart_of_a_large_system_shows_those_closest_to_their_trigger():
    from firesale.data.synthetic import generate_system
    from firesale.dashboard.logic import OVERLAP_MAX_INSTITUTIONS, capital_ratios, tightest

    ratios = capital_ratios(generate_system(500, 60, density=0.1, seed=4))
    shown = tightest(ratios)
    assert len(shown) == OVERLAP_MAX_INSTITUTIONS
    assert shown["headroom"].max() <= ratios["headroom"].drop(shown.index).min()
    small = ratios.head(10)
    assert tightest(small).index.equals(small.index)


# --------------------------------------------------------------------------- regressions
def _parquet(rows: int) -> bytes:
    import io

    import pandas as pd

    out = io.BytesIO()
    pd.DataFrame({"institution": ["d1"] * rows, "asset": ["ust"] * rows, "quantity": [5.0] * rows}).to_parquet(
        out, index=False)
    return out.getvalue()


def test_a_huge_upload_is_counted_from_its_parquet_footer_and_refused():
    """Reported: 10^6 rows of a few KB took the tab to 1.6 GB."""
    import time

    data = _parquet(1_000_000)
    started = time.perf_counter()
    assert logic.upload_rows("holdings.parquet", data) == 1_000_000
    with pytest.raises(ConfigError) as caught:
        logic.check_upload_rows({"holdings.parquet": data, "assets.csv": b"name,class,sigma0\nust,treasury,0.01\n"})
    assert time.perf_counter() - started < 1.0  # the footer, not the rows
    (problem,) = caught.value.problems
    assert (problem.code, problem.where) == ("FS752", "holdings.parquet")
    assert f"{1_000_000:,} rows" in problem.message and f"{logic.UPLOAD_MAX_ROWS:,}" in problem.message
    assert logic.problem_rows([problem])[0]["table"] == "holdings.parquet"


def test_upload_rows_of_csv_and_other_files():
    assert logic.upload_rows("holdings.csv", b"a,b\n1,2\n3,4\n") == 2
    assert logic.upload_rows("holdings.csv", b"a,b\n1,2\n3,4") == 2  # no final line break
    assert logic.upload_rows("holdings.csv", b"") == 0
    assert logic.upload_rows("scenario.toml", b"x = 1\n" * 10) is None
    assert logic.upload_rows("holdings.parquet", b"not parquet") is None  # the loader reports it
    logic.check_upload_rows({"holdings.parquet": _parquet(logic.UPLOAD_MAX_ROWS)})  # at the limit: taken


def test_bounded_tables():
    import pandas as pd

    frame = pd.DataFrame({"x": range(logic.MAX_TABLE_ROWS + 1)})
    shown, note = logic.bounded(frame, what="problems")
    assert len(shown) == logic.MAX_TABLE_ROWS
    assert note == f"Showing the first {logic.MAX_TABLE_ROWS:,} of {logic.MAX_TABLE_ROWS + 1:,} problems."
    small, note = logic.bounded(frame.head(3))
    assert small.equals(frame.head(3)) and note is None


def test_error_summary_is_one_line_without_a_traceback():
    one = ConfigError(Problem("FS907", "runs/x/results.nc", "the stored Dataset is missing:\nrestore it"))
    assert logic.error_summary(one) == ("[FS907] runs/x/results.nc: the stored Dataset is missing: restore it", [])
    many = ConfigError([Problem("FS104", f"holdings.csv row {n}", "negative") for n in range(1, 4)])
    line, details = logic.error_summary(many)
    assert line == "3 problems; the first: [FS104] holdings.csv row 1: negative"
    assert details == [f"[FS104] holdings.csv row {n}: negative" for n in range(1, 4)]
    try:
        try:
            {}["results"]
        except KeyError as cause:
            raise RuntimeError("cannot open\nthe run") from cause
    except RuntimeError as err:
        line, details = logic.error_summary(err)
    assert line == "unexpected error: RuntimeError: cannot open the run"
    assert details[0] == "caused by KeyError: 'results'"
    assert details[-1].startswith("raised in test_logic.py line ")
    assert not any("Traceback" in d or 'File "' in d for d in details)


def test_capital_ratios_of_a_large_system_take_no_time():
    """Reported with the 200,000-row upload: the ratios recomputed the system's totals per
    institution (16 s at 5,000 institutions, 172 s at 20,000)."""
    import time

    from firesale.data.synthetic import generate_system

    system = generate_system(5000, 200, density=0.02, seed=1)
    started = time.perf_counter()
    ratios = logic.capital_ratios(system)
    assert time.perf_counter() - started < 2.0
    assert len(ratios) == 5000 and ratios["ratio"].notna().all()


def test_the_ratio_chart_keeps_the_constrained_and_caps_its_axis():
    ratios = logic.capital_ratios(load_preset("dealer_groups").system)
    capped = logic.constrained(ratios)
    assert set(capped["type"]) == {"dealer"} and len(capped) == 12
    top = logic.ratio_axis_max(capped)
    assert capped["ratio"].max() <= top <= logic.RATIO_AXIS_MULTIPLE * capped["trigger"].max()
    assert logic.ratio_axis_max(ratios) <= logic.RATIO_AXIS_MULTIPLE * 0.05  # a 100% fund cannot stretch it


def test_programmes_without_eligible_assets_are_not_levers():
    gilt = load_preset("gilt_ldi_2022").scenario
    assert gilt.policy.purchases is not None and not gilt.policy.purchases.assets
    levers = logic.policy_levers(gilt)
    assert "policy.purchases" not in levers and "policy.repo_facility" not in levers
    assert {"policy.slr_exemption", "policy.all_to_all"} <= set(levers)
    with_assets = gilt.updated(**{"policy.purchases.assets": ["long_gilt"]})
    assert logic.policy_levers(with_assets)["policy.purchases"]["kind"] == "programme"


def test_the_waterfall_caption_reconciles_the_steps_with_the_total_loss():
    from firesale.analytics.amplification import summarize
    from firesale.report.html import equity_waterfall

    preset = load_preset("dealer_groups")
    ds = simulate(preset.system, preset.scenario, detail=True)
    summary = summarize(ds)
    steps = equity_waterfall(ds).equity_change
    paid = -float(steps.sel(component="paid out to investors").sum())
    caption = logic.waterfall_caption(ds, summary)
    assert f"{float(steps.sum()):+,.2f} USD bn" in caption
    assert f"total loss ({summary['total_loss']:,.2f}) plus {paid:,.2f} paid out" in caption
    assert float(steps.sum()) == pytest.approx(-(summary["total_loss"] + paid))


def test_runs_table_formats_numbers_and_missing_values():
    import datetime as dt

    from firesale.store import RunEntry

    when = dt.datetime(2026, 1, 2, 3, 4, 5)
    entries = [
        RunEntry("a" * 12, 1, "run", "dealer_groups", when, "1", "h", "hy_down_6pct",
                 {"total_loss": 1234.5678, "amplification": 1.7666, "forced_sales": 0.5, "defaults": 2, "rounds": 40}),
        RunEntry("b" * 12, 2, "compare", "march_2020", when, "1", "h", "baseline,slr_exemption",
                 {"baseline.total_loss": 361.1, "baseline.amplification": None}),
        RunEntry("c" * 12, 3, "replication", "vulnerability eba2011", when, "1", "h", "",
                 {"aggregate_vulnerability": 0.25}),
    ]
    table = logic.runs_table(entries)
    assert list(table["id"]) == ["c" * 12, "b" * 12, "a" * 12]  # latest first
    run = table.set_index("id").loc["a" * 12]
    assert (run["total loss"], run["amplification"], run["forced sales"], run["defaults"], run["rounds"]) == (
        "1,234.57", "1.767×", "0.50", "2", "40")
    compare = table.set_index("id").loc["b" * 12]
    assert (compare["total loss"], compare["amplification"]) == ("361.10", "–")
    replication = table.set_index("id").loc["c" * 12]
    assert (replication["scenarios"], replication["total loss"], replication["defaults"]) == ("–", "–", "–")
    assert not table.isin([None, "None", "nan"]).any().any()


def test_the_run_page_widgets_of_a_large_system_are_bounded_and_keep_the_rest():
    from firesale.data.synthetic import generate_system

    system = generate_system(3000, 150, density=0.05, seed=2)
    scenario = Scenario(shocks=[{"asset": system.asset_names[-1], "price": -0.05}])
    funds = logic.redemption_inputs(scenario, system)
    assert system.n_assets > logic.MAX_WIDGET_ROWS and len(funds) > logic.MAX_WIDGET_ROWS
    assets = logic.widget_assets(scenario, system)
    assert len(assets) == logic.MAX_WIDGET_ROWS and system.asset_names[-1] in assets  # the shocked one first
    assert len(logic.widget_funds(scenario, system)) == logic.MAX_WIDGET_ROWS
    # the page starts every asset and fund at the scenario's value and changes only those shown
    values = logic.asset_shock_inputs(scenario, system)
    assert logic.scenario_from_inputs(scenario, system, assets=values, redemptions=dict(funds)) is scenario
    values["price"][assets[0]] = -0.01
    changed = logic.scenario_from_inputs(scenario, system, assets=values, redemptions=dict(funds))
    assert {(s.asset, s.price) for s in changed.shocks} == {(system.asset_names[-1], -0.05), (assets[0], -0.01)}
    small = load_preset("dealer_groups")
    assert logic.widget_assets(small.scenario, small.system) == small.system.asset_names


def test_shocks_typed_in_rename_the_scenario():
    """Before: a +5% shock typed in the dashboard ran and was stored as the preset's
    `corporates_down_4pct` (issue 15 item 5)."""
    from firesale import load_preset
    from firesale.dashboard.logic import asset_shock_inputs, scenario_from_inputs

    preset = load_preset("dealer_prime")
    inputs = asset_shock_inputs(preset.scenario, preset.system)
    inputs["price"]["corporates"] = 0.05
    scenario = scenario_from_inputs(preset.scenario, preset.system, assets=inputs)
    assert scenario.name == "shock_corporates+5pct" and scenario.name != preset.scenario.name
    assert scenario_from_inputs(preset.scenario, preset.system) is preset.scenario  # untouched: the preset's


# --------------------------------------------------------------------------- reverse stress test
@pytest.fixture(scope="module")
def prime_reverse():
    """dealer_prime's most plausible shock with a default, as the Reverse stress test page runs it."""
    preset = load_preset("dealer_prime")
    calls = []
    outcome = logic.run_reverse(preset, preset.scenario, "defaults>=1",
                                progress=lambda done, total, what: calls.append((done, total, what)))
    return preset, outcome, calls


def _shocked(preset, report, multiple=1.0):
    """The calm scenario with the report's shock (times ``multiple``), built here from its rows."""
    shocks = [{"asset": row["name"], "price": multiple * row["value"]} for row in report["shock"]]
    return preset.scenario.updated(name=f"x{multiple}", shocks=shocks)


def test_reverse_shock_rows_are_the_shock_and_its_distance_is_mahalanobis(prime_reverse):
    from scipy.stats import chi2

    preset, outcome, _ = prime_reverse
    report = outcome.report
    system = preset.system
    rows = logic.reverse_shock_rows(report)
    assert [r["factor"] for r in rows] == [f"price {a.name}" for a in system.assets]
    sigma = np.array([a.sigma0 for a in system.assets])
    values = np.array([row["value"] for row in report["shock"]])
    for row, value, sd in zip(rows, values, sigma):
        assert row["shock"] == f"{100 * value:+.3f}%"
        assert row["standard deviations"] == f"{value / sd:+.2f}"
    assert sum(float(r["share of the distance"].rstrip("%")) for r in rows) == pytest.approx(100, abs=0.2)
    # the distance under the covariance D R D, computed here
    covariance = np.outer(sigma, sigma) * np.asarray(system.correlation, dtype=float)
    distance = float(np.sqrt(values @ np.linalg.solve(covariance, values)))
    assert distance == pytest.approx(report["distance"], rel=1e-9)
    headline = dict(logic.reverse_headline(report))
    assert headline["Mahalanobis distance"] == f"{distance:.4f}"
    assert headline["P(χ² ≥ d²): a normal shock this far"] == f"{chi2.sf(distance ** 2, len(values)):.3g}"


def test_reverse_outcome_and_carriers_are_those_of_a_direct_run(prime_reverse):
    preset, outcome, _ = prime_reverse
    report = outcome.report
    ds = simulate(preset.system, [_shocked(preset, report), _shocked(preset, report, 0.98)])
    defaults = ds.defaulted.isel(round=-1).sum("institution").values
    assert defaults.tolist() == [1, 0]  # the boundary: a default at the shock, none just below it
    table = logic.reverse_outcome_table(report)
    assert table.loc["defaults"].tolist() == ["1", "0"]
    assert table.loc["meets the target"].tolist() == ["yes", "no"]
    lost = (ds.initial_equity - ds.equity.isel(round=-1)).isel(scenario=0)
    (row,) = logic.reverse_carrier_rows(report)
    assert row["institution"] == "dealer_prime" and row["defaulted"] == "yes"
    assert row["equity lost (USD bn)"] == f"{float(lost.sel(institution='dealer_prime')):,.2f}"
    assert dict(logic.reverse_headline(report))["defaults"] == "1"


def test_reverse_mechanisms_add_up_to_the_runs_with_every_channel_on_and_off(prime_reverse):
    from firesale.analytics.amplification import channels_off, summarize

    preset, outcome, _ = prime_reverse
    report = outcome.report
    shocked = _shocked(preset, report)
    on = summarize(simulate(preset.system, shocked))["levered_capital_loss"]
    off = summarize(simulate(preset.system, channels_off(shocked)))["levered_capital_loss"]
    rows = logic.reverse_mechanism_rows(report)
    assert [r["mechanism"] for r in rows] == report["mechanisms"]["players"]
    total = sum(float(r["Shapley levered capital loss (USD bn)"]) for r in rows)
    assert total == pytest.approx(on - off, abs=0.02)  # two decimals a row
    assert rows[0]["share"] == f"{report['mechanisms']['share']['balance_sheet']:.1%}"


def test_reverse_policy_rows_and_progress(prime_reverse):
    from firesale.analytics.compare import policy_names

    preset, outcome, calls = prime_reverse
    rows = logic.reverse_policy_rows(outcome.report)
    assert [r["policy"] for r in rows] == list(policy_names(preset))
    for row in rows:
        found = outcome.report["policies"][row["policy"]]
        assert row["severity"] == f"x{found['severity_multiple']:.3f}"
        assert row["meets the target at the shock"] == ("yes" if found["meets_at_shock"] else "no")
    total = len(logic.REVERSE_STEPS)
    assert [done for done, _, _ in calls] == list(range(total + 1))
    assert calls[-2] == (total - 1, total, logic.REVERSE_STEPS[-1]) and calls[-1] == (total, total, "done")
    assert outcome.inputs[:5] == ("defaults>=1", "price", 0, False, True)


def test_reverse_without_a_shock_to_find_has_a_note_and_no_tables():
    preset = load_preset("dealer_prime")
    met = logic.run_reverse(preset, preset.scenario, "defaults>=0", policies=False).report
    assert met["met_without_shock"] and "without any shock" in met["note"]
    never = logic.run_reverse(preset, preset.scenario, "defaults>=2", policies=False).report  # one institution
    assert not never["found"] and "no shock" in never["note"]
    for report in (met, never):
        assert logic.reverse_headline(report) == []
        assert logic.reverse_shock_rows(report) == logic.reverse_mechanism_rows(report) == []
    with pytest.raises(ConfigError, match="FS76"):
        logic.run_reverse(preset, preset.scenario, "defaults>=")


@pytest.mark.parametrize("name", ["dealer_prime", "var_desk", "dealer_groups", "march_2020", "gilt_ldi_2022",
                                  "inet_eba2018"])
def test_target_examples_parse_and_over_options_fit_the_system(name):
    from firesale.analytics.outcomes import parse_target
    from firesale.analytics.reverse import FUND_TYPES, OVER

    system = load_preset(name).system
    examples = logic.target_examples(system)
    assert examples[0] == "defaults>=1" and len(examples) >= 4
    for text in examples:
        parse_target(text, system)
    options = logic.reverse_over_options(system)
    assert set(options) <= set(OVER) and {"price", "price+volatility"} <= set(options)
    assert ("price+funding" in options) == any(i.type in FUND_TYPES for i in system.institutions)
