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


def test_run_page_policy_lever_changes_the_result(ran, cli_summary):
    ran.checkbox(key=next(c.key for c in ran.checkbox if c.key.endswith("policy.slr_exemption"))).check().run()
    ran.button(key="fs_run").click().run()
    _no_exceptions(ran)
    assert float(_metrics(ran)["amplification (total / initial)"]) < cli_summary["amplification"]


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


def test_app_navigates_between_pages():
    at = testing.AppTest.from_file(str(APP_PATH), default_timeout=TIMEOUT).run()
    _no_exceptions(at)
    assert at.title[0].value == "System"
