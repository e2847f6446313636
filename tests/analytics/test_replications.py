"""Replications on the public data: GLT on EBA 2011, the US vulnerability index, and
Cont-Schaanning on EBA 2011, on the data sets shipped with the package."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from firesale.cli import app
from firesale.data.shared_data import data_root

runner = CliRunner()


@pytest.fixture(scope="module")
def root():
    """The shipped data sets (FIRESALE_DATA aside): always present, so nothing skips."""
    from firesale.data.datasets import DATASETS_FOLDER

    return data_root(DATASETS_FOLDER)


@pytest.fixture(scope="module")
def index(root):
    from firesale.analytics.replications import callreport_index

    return callreport_index(root=root)


def test_us_index_peaks_near_a_fifth_of_capital(index):
    summary, series = index
    assert len(summary["quarters"]) == 59 and series.sizes["period"] == 59
    # Duarte & Eisenbach (2021): a 1% fire-sale shock to US commercial banks costs about a
    # fifth of system capital at the 2008 peak (DESIGN §8)
    assert 0.15 <= summary["peak"]["aggregate_vulnerability"] <= 0.25
    av = np.array(summary["aggregate_vulnerability"])
    assert (av > 0).all() and av.max() > 1.5 * av.min()  # the index moves over the cycle


def test_glt_on_eba2011_is_linear_in_the_write_down_and_adds_up(root):
    from firesale.analytics.replications import glt_eba2011

    small, table = glt_eba2011(write_down=0.01, root=root)
    large, _ = glt_eba2011(write_down=0.5, root=root)
    assert large["aggregate_vulnerability"] == pytest.approx(50 * small["aggregate_vulnerability"], rel=1e-9)
    assert float(table.systemicness.sum()) == pytest.approx(small["aggregate_vulnerability"], rel=1e-9)
    assert small["banks"] == table.sizes["bank"] >= 87
    ranks = table.rank_systemicness.values
    assert sorted(ranks.tolist()) == list(range(1, ranks.size + 1))
    top = [row["systemicness"] for row in small["top_systemicness"]]
    assert top == sorted(top, reverse=True) and top[0] == pytest.approx(float(table.systemicness.max()))


def test_cont_schaanning_on_eba2011_splits_shock_and_fire_sales(root):
    from firesale.analytics.replications import cs_eba2011, glt_eba2011

    cs = cs_eba2011(write_down=0.5, root=root)
    glt, _ = glt_eba2011(write_down=0.5, root=root)
    assert cs["initial_loss"] == pytest.approx(glt["direct_loss"], rel=1e-12)  # the same shock
    assert cs["rounds"] >= 1 and cs["fire_sale_loss"] == pytest.approx(sum(cs["fire_sale_loss_by_round"]))
    assert 0 < cs["fire_sale_share"] < 1


def test_cli_vulnerability_json_and_figure(root, tmp_path):
    out = tmp_path / "eba.html"
    result = runner.invoke(app, ["vulnerability", "eba2011", "--write-down", "0.01", "--data", str(root),
                                 "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {"aggregate_vulnerability", "top_systemicness", "top_indirect_vulnerability"} <= set(summary)
    assert out.exists() and "plotly" in out.read_text()
    bad = runner.invoke(app, ["vulnerability", "eba2012", "--data", str(root)])
    assert bad.exit_code != 0 and "eba2011 or callreports" in str(bad.exception)


def test_cli_equilibrium_eba2016_prints_the_documented_keys(root, tmp_path):
    out = tmp_path / "bsu.html"
    result = runner.invoke(app, ["equilibrium", "eba2016", "--data", str(root), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    markets = ["DE", "ES", "FR", "GB", "IT", "JP", "US", "RoW"]
    for key in ("lower", "upper", "max"):
        assert list(summary[key]) == markets
        assert all(0.0 <= summary[key][m] <= 1.0 for m in markets)
    assert set(summary["iterations"]) == {"lower", "upper"}
    # lower ≤ upper ≤ the impact of every bond sold, market by market
    assert all(summary["lower"][m] <= summary["upper"][m] + 1e-12 <= summary["max"][m] + 2e-12 for m in markets)
    # quantity, volatility and volume joined by country label: the max impact is σ κ sqrt(Q / ADV)
    for m in markets:
        expected = min(1.0, summary["sigma"][m] * 1.5 * np.sqrt(summary["quantity"][m] / summary["adv"][m]))
        assert summary["max"][m] == pytest.approx(expected, rel=1e-12)
    assert out.exists()


def test_cli_contagion_shows_the_window_of_instability():
    result = runner.invoke(app, ["contagion", "--trials", "60", "--banks", "200", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    high = summary["probability"]["25"]
    # contagion is likely at intermediate diversification and rare at both ends
    assert max(high) > 0.8 and high[0] < 0.3 and high[-1] < 0.05
    assert summary["window"]["25"] is not None


def test_cli_deleveraging_json(root, tmp_path):
    out = tmp_path / "cs.html"
    result = runner.invoke(app, ["deleveraging", "eba2011", "--data", str(root), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rounds"] == len(summary["fire_sale_loss_by_round"]) >= 1
    assert out.exists()


def test_replications_are_recorded_in_the_run_store(tmp_path):
    from firesale.store import RunStore

    result = runner.invoke(app, ["contagion", "--trials", "20", "--banks", "100", "--store", str(tmp_path / "runs"),
                                 "--json"])
    assert result.exit_code == 0, result.output
    run_id = json.loads(result.stdout)["run_id"]
    record = RunStore(tmp_path / "runs").get(run_id)
    assert record is not None


def test_cli_contagion_takes_comma_lists_and_prints_intervals():
    from firesale.models.caccioli import wilson_interval

    result = runner.invoke(app, ["contagion", "--mu", "2,64", "--leverage", "20", "--trials", "40", "--banks", "150",
                                 "--json", "--no-record"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["mean_degrees"] == [2.0, 64.0] and summary["leverages"] == [20.0]
    p = summary["probability"]["20"]
    for value, interval in zip(p, summary["probability_interval"]["20"], strict=True):
        low, high = wilson_interval(round(value * 40), 40)
        assert interval == pytest.approx([float(low), float(high)])
    # the window spans the mean degrees with P >= 0.5, both ends included
    assert summary["window"]["20"] == ([2.0, 2.0] if p[0] >= 0.5 else None)
    assert p[1] == 0.0 and summary["extent"]["20"][1] is None and summary["extent_interval"]["20"][1] == [None, None]
    bad = runner.invoke(app, ["contagion", "--mu", "2,x", "--no-record"])
    assert bad.exit_code != 0 and "FS821" in str(bad.exception) and "--mu" in str(bad.exception)


def test_cli_contagion_table_shows_the_intervals():
    result = runner.invoke(app, ["contagion", "--mu", "3", "--leverage", "25", "--trials", "20", "--banks", "100",
                                 "--no-record"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "95% intervals" in result.output and "P(contagion) ≥ 0.5" in result.output
