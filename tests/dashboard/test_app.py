"""The dashboard's pages under Streamlit's ``AppTest``: each page alone, and the app's
navigation. The amplification the Run page shows for the default preset is the one
``firesale run --json`` prints."""

import json

import pytest
from typer.testing import CliRunner

from firesale.cli import app
from firesale.dashboard import APP_PATH
from firesale.data.preset import load_preset
from firesale.data.tables import write_tables

testing = pytest.importorskip("streamlit.testing.v1", reason='the dashboard needs streamlit: '
                              'pip install "firesale[dashboard]"')

TIMEOUT = 60


def _page(name: str):
    return testing.AppTest.from_string(f"from firesale.dashboard.views import {name}\n{name}()",
                                       default_timeout=TIMEOUT)


def _metrics(at) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def _no_exceptions(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.fixture(scope="module")
def cli_summary() -> dict:
    result = CliRunner().invoke(app, ["run", "dealer_groups", "--json", "--no-record"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def ran():
    at = _page("run_page").run()
    _no_exceptions(at)
    at.button(key="fs_run").click().run()
    _no_exceptions(at)
    return at


def test_run_page_shows_the_cli_amplification(ran, cli_summary):
    assert _metrics(ran)["amplification (total / initial)"] == f"{cli_summary['amplification']:.3f}" == "1.767"
    _, _, outcome = ran.session_state["fs_outcome"]
    assert outcome.summary["amplification"] == pytest.approx(cli_summary["amplification"], rel=1e-12)
    assert outcome.run_id  # recorded in the test's store


def test_run_page_shows_every_result(ran):
    labels = _metrics(ran)
    assert {"initial loss (shock alone) (USD bn)", "total loss (USD bn)", "forced sales (USD bn)",
            "defaults"} <= set(labels)
    charts = ran.get("plotly_chart")
    assert len(charts) == 4  # price paths, waterfall, cascade, attribution
    assert any("Market regime" in h.value for h in ran.subheader)
    assert len(ran.get("download_button")) == 2


def test_run_page_policy_lever_changes_the_result(cli_summary):
    at = _page("run_page").run()  # a page of its own: the module's `ran` stays the preset's run
    at.checkbox(key=next(c.key for c in at.checkbox if c.key.endswith("policy.slr_exemption"))).check().run()
    at.button(key="fs_run").click().run()
    _no_exceptions(at)
    assert float(_metrics(at)["amplification (total / initial)"]) < cli_summary["amplification"]


def test_system_page_summarises_the_default_preset():
    at = _page("system_page").run()
    _no_exceptions(at)
    assert _metrics(at)["institutions"] == "17"
    assert at.header[0].value == "dealer_groups"
    assert len(at.get("plotly_chart")) == 2  # overlap heat-map, capital ratios


def test_system_page_switches_preset():
    at = _page("system_page").run()
    at.selectbox(key="fs_preset_choice").set_value("dealer_prime").run()
    _no_exceptions(at)
    assert at.header[0].value == "dealer_prime"


def negative_holding_tables(folder) -> list[tuple[str, bytes, str]]:
    """dealer_prime's tables as uploaded files, the second holding made -3."""
    paths = write_tables(load_preset("dealer_prime").system, folder)
    files = {path.name: path.read_text() for path in paths}
    lines = files["holdings.csv"].splitlines()
    cells = lines[2].split(",")
    cells[2] = "-3"  # quantity of data row 2
    lines[2] = ",".join(cells)
    files["holdings.csv"] = "\n".join(lines) + "\n"
    return [(name, text.encode(), "text/csv") for name, text in files.items()]


def test_uploaded_negative_holding_names_its_row(tmp_path):
    at = _page("system_page").run()
    files = negative_holding_tables(tmp_path)
    at.file_uploader(key="fs_upload").set_value(files).run()
    _no_exceptions(at)
    assert at.error, "no error shown"
    problems = at.table[0].value
    row = problems[problems["table"] == "holdings.csv"].iloc[0]
    assert (row["row"], row["field"]) == ("2", "quantity")
    assert "negative" in row["message"]
    assert at.header[0].value == "dealer_groups"  # the system in use is unchanged


def test_compare_page_puts_policies_beside_the_baseline():
    at = _page("compare_page").run()
    _no_exceptions(at)
    at.button(key="fs_compare").click().run()
    _no_exceptions(at)
    table = at.table[0].value
    assert list(table.columns) == ["baseline", "slr_exemption"]
    assert table.loc["amplification", "baseline"] == "1.767"


def test_runs_page_opens_a_stored_run(ran):
    at = _page("runs_page").run()
    _no_exceptions(at)
    assert at.dataframe, "no run listed"
    at.selectbox(key="fs_open_run").set_value(ran.session_state["fs_outcome"][2].run_id).run()
    _no_exceptions(at)
    assert "amplification (total / initial)" in _metrics(at)
    assert len(at.get("plotly_chart")) >= 3


def _on(page: str, preset: str):
    """``page`` alone, with ``preset`` chosen."""
    at = _page(page)
    at.session_state["fs_preset"] = load_preset(preset)
    at.session_state["fs_target"] = preset
    return at


def test_reverse_page_finds_dealer_primes_default_and_shows_every_table():
    from firesale.analytics.compare import policy_names
    from firesale.dashboard.logic import run_reverse

    at = _on("reverse_page", "dealer_prime").run()
    _no_exceptions(at)
    assert at.text_input[0].value == "defaults>=1"
    assert list(at.selectbox[0].options) == ["price: price returns",
                                             "price+volatility: price returns and volatility multipliers"]
    at.button(key="fs_reverse_run").click().run()
    _no_exceptions(at)
    preset = load_preset("dealer_prime")
    report = run_reverse(preset, preset.scenario, "defaults>=1").report  # the same search, outside the page
    assert _metrics(at)["Mahalanobis distance"] == f"{report['distance']:.4f}"
    assert _metrics(at)["defaults"] == "1"
    assert [h.value for h in at.subheader] == [
        "The shock", "The outcome at the boundary and at 0.98× the shock", "Who carries it",
        "Mechanisms at the boundary", "Under each policy, along the same direction"]
    shock, outcome, carriers, mechanisms, policies = (t.value for t in at.table)
    assert list(shock.index) == ["price treasuries", "price corporates", "price other"]
    assert outcome.loc["meets the target"].tolist() == ["yes", "no"]
    assert list(carriers.index) == ["dealer_prime"]
    assert list(mechanisms.index) == ["balance_sheet", "funding", "information"]
    assert list(policies.index) == list(policy_names(preset))
    (chart,) = at.get("plotly_chart")
    assert "least-distance shock" in _spec(chart)["layout"]["title"]["text"]
    at.text_input[0].set_value("defaults>=2").run()  # the inputs change: the result stays, with a note
    assert any("the inputs have changed since" in c.value for c in at.caption)


def test_reverse_page_shows_a_target_it_cannot_read_in_one_line_and_no_button():
    at = _on("reverse_page", "var_desk").run()
    at.text_input[0].set_value("defaults>=1 and price.corprates<=0.9").run()
    _no_traceback(at)
    (error,) = _errors(at)
    assert error.startswith("[FS762]") and "corporates" in error
    assert at.button(key="fs_reverse_run").disabled


def test_reverse_page_says_when_no_shock_is_needed():
    at = _on("reverse_page", "var_desk").run()
    at.text_input[0].set_value("defaults>=0").run()
    at.button(key="fs_reverse_run").click().run()
    _no_traceback(at)
    assert any("meets the target without any shock" in i.value for i in at.info)
    assert not at.metric and not at.table


def test_app_navigates_between_pages():
    at = testing.AppTest.from_file(str(APP_PATH), default_timeout=TIMEOUT).run()
    _no_exceptions(at)
    assert at.title[0].value == "System"


# --------------------------------------------------------------------------- regressions
# Each of these reproduces a case reported against the dashboard.

def _walk(node):
    from streamlit.testing.v1.element_tree import Block

    yield node
    if isinstance(node, Block):
        for child in node.children.values():
            yield from _walk(child)


def _page_text(at) -> str:
    """Everything the page holds, collapsed expanders included, as text."""
    return "\n".join(str(getattr(node, "proto", "")) for node in _walk(at._tree))


def _no_traceback(at) -> None:
    _no_exceptions(at)
    text = _page_text(at)
    for sign in ("Traceback", 'File "', "stack_trace", "line 1, in"):
        assert sign not in text, f"{sign!r} on the page"


def _errors(at) -> list[str]:
    return [e.value for e in at.error]


def _spec(chart) -> dict:
    return json.loads(chart.proto.spec)


def _dealer_prime_uploads(folder, **replace: bytes) -> list[tuple[str, bytes, str]]:
    paths = write_tables(load_preset("dealer_prime").system, folder)
    files = {path.name: path.read_bytes() for path in paths}
    for name in replace:
        files.pop(name.replace(".parquet", ".csv"), None)
    files.update(replace)
    return [(name, data, "application/octet-stream") for name, data in files.items()]


def _repeated_holdings(rows: int) -> bytes:
    """A holdings.parquet of ``rows`` copies of one holding: a few KB on disk."""
    import io

    import pandas as pd

    frame = pd.DataFrame({"institution": ["dealer_prime"] * rows, "asset": ["treasuries"] * rows,
                          "quantity": [200.0] * rows})
    out = io.BytesIO()
    frame.to_parquet(out, index=False)
    return out.getvalue()


def test_a_200000_row_upload_is_refused_at_once_with_a_clear_message(tmp_path):
    """Reported: a 3 KB Parquet of 200,000 rows took 108 s and crashed the tab."""
    import time

    data = _repeated_holdings(200_000)
    assert len(data) < 64_000
    at = _page("system_page").run()
    started = time.perf_counter()
    at.file_uploader(key="fs_upload").set_value(_dealer_prime_uploads(tmp_path, **{"holdings.parquet": data})).run()
    assert time.perf_counter() - started < 10
    _no_traceback(at)
    assert any("1 problem" in e for e in _errors(at))
    problems = at.table[0].value
    assert list(problems.index) == ["FS752"]
    (row,) = problems.to_dict("records")
    assert row["table"] == "holdings.parquet"
    assert "200,000 rows" in row["message"] and "100,000" in row["message"]
    assert at.header[0].value == "dealer_groups"  # the system in use is unchanged


def test_thousands_of_upload_problems_show_a_bounded_table_with_a_note(tmp_path):
    from firesale.dashboard.logic import MAX_TABLE_ROWS

    at = _page("system_page").run()
    files = _dealer_prime_uploads(tmp_path, **{"holdings.parquet": _repeated_holdings(5_000)})
    at.file_uploader(key="fs_upload").set_value(files).run()
    _no_traceback(at)
    assert any("4,999 problems" in e for e in _errors(at))
    assert len(at.table[0].value) == MAX_TABLE_ROWS
    assert any(f"first {MAX_TABLE_ROWS:,} of 4,999 problems" in c.value for c in at.caption)


def test_a_broken_upload_shows_one_line_and_no_traceback(tmp_path):
    at = _page("system_page").run()
    files = _dealer_prime_uploads(tmp_path, **{"holdings.parquet": b"PAR1 this is not parquet PAR1"})
    at.file_uploader(key="fs_upload").set_value(files).run()
    _no_traceback(at)
    problems = at.table[0].value
    assert list(problems.index) == ["FS120"] and problems.iloc[0]["table"] == "holdings.parquet"


def test_an_unexpected_upload_error_is_one_line_with_collapsed_details(tmp_path, monkeypatch):
    import firesale.data.uploads

    def broken(files, name="uploaded"):
        raise KeyError("institutions")

    monkeypatch.setattr(firesale.data.uploads, "load_uploaded", broken)
    at = _page("system_page").run()
    at.file_uploader(key="fs_upload").set_value(_dealer_prime_uploads(tmp_path)).run()
    _no_traceback(at)
    assert "unexpected error: KeyError: 'institutions'" in _errors(at)
    assert all("\n" not in e for e in _errors(at))
    assert [e.label for e in at.expander] == ["details"]
    assert at.header[0].value == "dealer_groups"


def test_an_error_a_page_does_not_catch_is_one_line(monkeypatch):
    from firesale.dashboard import logic

    def broken(system):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(logic, "capital_ratios", broken)
    at = _page("system_page").run()
    _no_traceback(at)
    assert _errors(at) == ["unexpected error: ZeroDivisionError: float division by zero"]


def test_the_capital_ratio_chart_leaves_out_the_unconstrained_funds_and_draws_the_triggers():
    """Reported: the funds' 100% bars flattened the dealers' ~5% ratios."""
    at = _page("system_page").run()
    _no_exceptions(at)
    spec = _spec(at.get("plotly_chart")[1])
    traces = {trace["name"]: trace for trace in spec["data"]}
    system = load_preset("dealer_groups").system
    dealers = [i.name for i in system.institutions if i.slr_trigger is not None]
    assert len(dealers) == 12
    assert traces["ratio at t0"]["x"] == dealers  # no hedge fund, no asset manager
    assert traces["trigger"]["y"] == [0.05] * 12
    top = spec["layout"]["yaxis"]["range"][1]
    assert max(traces["ratio at t0"]["y"]) <= top <= 3 * 0.05
    assert any("Left out of the chart" in c.value and "5 institutions" in c.value for c in at.caption)
    assert len(at.dataframe[0].value) == 17  # the table still lists every institution


def test_the_ratio_chart_cuts_a_bar_far_above_the_triggers_and_writes_its_value():
    at = _page("system_page").run()
    at.selectbox(key="fs_preset_choice").set_value("gilt_ldi_2022").run()
    _no_exceptions(at)
    bars = next(t for t in _spec(at.get("plotly_chart")[1])["data"] if t["type"] == "bar")
    assert "INS" not in bars["x"] and "DB" not in bars["x"]  # unlevered: no trigger, no minimum
    assert {"P1", "S1", "D1"} <= set(bars["x"])


def test_the_cascade_timeline_labels_every_institution(ran):
    """Reported: the cascade timeline labelled 9 of its 17 institutions."""
    cascade = next(_spec(c) for c in ran.get("plotly_chart")
                   if "who was forced to sell" in _spec(c)["layout"]["title"]["text"])
    yaxis = cascade["layout"]["yaxis"]
    involved = yaxis["categoryarray"]
    _, _, outcome = ran.session_state["fs_outcome"]
    assert sorted(involved) == sorted(row["institution"] for row in logic_cascade_rows(outcome.summary))
    assert len(involved) > 9  # more than plotly labelled by itself
    assert yaxis["tickmode"] == "array" and yaxis["tickvals"] == involved == yaxis["ticktext"]
    assert cascade["layout"]["height"] >= 20 * len(involved)  # a row each


def logic_cascade_rows(summary):
    from firesale.dashboard.logic import cascade_rows

    return cascade_rows(summary)


def test_the_waterfall_caption_reconciles_its_steps_with_the_headline_loss(ran):
    """Reported: the waterfall fell by twice the headline loss, unexplained."""
    _, _, outcome = ran.session_state["fs_outcome"]
    loss = outcome.summary["total_loss"]
    caption = next(c.value for c in ran.caption if c.value.startswith("The steps add up to"))
    assert f"total loss ({loss:,.2f})" in caption
    assert "paid out to redeeming investors" in caption and "not a loss" in caption
    assert "lowest at the end of round" in caption


def test_programmes_without_eligible_assets_are_no_levers():
    """Reported: purchase and repo programme levers showed for a preset that runs neither."""
    run = _page("run_page")
    run.session_state["fs_preset"] = load_preset("gilt_ldi_2022")
    run.session_state["fs_target"] = "gilt_ldi_2022"
    run.run()
    _no_exceptions(run)
    labels = [c.label for c in run.checkbox]
    assert not any("purchases" in label or "repo facility" in label for label in labels), labels
    assert any("boe_purchases" in c.value and "Compare" in c.value for c in run.caption)


def test_a_programme_with_eligible_assets_is_a_lever():
    run = _page("run_page")
    run.session_state["fs_preset"] = _with_purchases(load_preset("dealer_groups"))
    run.session_state["fs_target"] = "dealer_groups"
    run.run()
    _no_exceptions(run)
    assert any(c.label == "purchases (as the preset sets it)" for c in run.checkbox)


def _with_purchases(preset):
    import dataclasses

    return dataclasses.replace(preset, scenario=preset.scenario.updated(**{"policy.purchases": {"assets": ["ust"]}}))


def test_runs_page_formats_its_numbers_and_missing_values(ran):
    """Reported: the Runs page showed "None" and raw numbers."""
    from firesale.store import RunStore

    RunStore().record_replication("replication", {"model": "glt"}, {"aggregate_vulnerability": 0.25},
                                  target="vulnerability eba2011")
    at = _page("runs_page").run()
    _no_traceback(at)
    table = at.dataframe[0].value
    assert not table.isin([None, "None", "nan"]).any().any()
    replication = table[table["kind"] == "replication"].iloc[0]
    assert replication["total loss"] == replication["amplification"] == "–"
    _, _, outcome = ran.session_state["fs_outcome"]
    run = table[table["id"] == outcome.run_id].iloc[0]
    assert run["amplification"] == f"{outcome.summary['amplification']:.3f}×"
    assert run["total loss"] == f"{outcome.summary['total_loss']:,.2f}"


def test_runs_page_says_clearly_when_a_stored_results_file_is_missing():
    """Reported: a stored run whose results.nc is gone showed a traceback."""
    from firesale.dashboard.logic import run_scenario
    from firesale.store import RESULTS_NAME, RunStore

    preset = load_preset("dealer_prime")
    outcome = run_scenario(preset, preset.scenario, attribution=False)
    record = RunStore().get(outcome.run_id)
    (record.data_dir / RESULTS_NAME).unlink()
    at = _page("runs_page").run()
    at.selectbox(key="fs_open_run").set_value(outcome.run_id).run()
    _no_traceback(at)
    (error,) = _errors(at)
    assert error.startswith("[FS907]") and "the stored Dataset is missing" in error
    assert _metrics(at)["amplification (total / initial)"] == f"{outcome.summary['amplification']:.3f}"


def test_a_large_uploaded_system_shows_bounded_tables_quickly(tmp_path):
    """With the 200,000-row report: a large valid system stalled the System page (the
    capital ratios took 131 s at 20,000 institutions) and listed every institution."""
    import time

    from firesale.dashboard.logic import MAX_TABLE_ROWS
    from firesale.data.synthetic import generate_system

    system = generate_system(4000, 100, density=0.05, seed=5)
    paths = write_tables(system, tmp_path, fmt="parquet")
    at = _page("system_page").run()
    started = time.perf_counter()
    at.file_uploader(key="fs_upload").set_value([(p.name, p.read_bytes(), "application/octet-stream")
                                                 for p in paths]).run()
    assert time.perf_counter() - started < 30
    _no_traceback(at)
    assert _metrics(at)["institutions"] == "4000"
    assert len(at.dataframe[0].value) == MAX_TABLE_ROWS
    assert any(f"first {MAX_TABLE_ROWS:,} of 4,000 institutions" in c.value for c in at.caption)
    run = _page("run_page")
    run.session_state["fs_preset"] = at.session_state["fs_preset"]
    run.session_state["fs_target"] = at.session_state["fs_target"]
    run.run()
    _no_exceptions(run)
    assert len(run.slider) <= 60 + 5  # price sliders of the shown assets, and the policy shares
