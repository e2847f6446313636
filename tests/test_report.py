"""The HTML report (:mod:`firesale.report`) and ``firesale report``: what it shows, that it is
self-contained (plotly.js inline once, no external URL), well formed and escaped, and its
errors. The browser test is tests/browser/test_report_browser.py."""

import html.parser
import subprocess
import sys
from importlib import resources

import numpy as np
import pytest
from typer.testing import CliRunner

from firesale import load_preset, simulate
from firesale.analytics import summarize
from firesale.cli import app
from firesale.errors import ConfigError
from firesale.report import REPORT_SECTIONS, REPORT_STEPS, build_report, equity_waterfall, write_report

runner = CliRunner()

#: Elements with no end tag.
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Page(html.parser.HTMLParser):
    """Collects headings, tables, the URLs of external resources and tag-balance errors."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.errors: list[str] = []
        self.sources: list[str] = []
        self.headings: list[str] = []
        self.table_classes: list[str] = []
        self.scripts = 0
        self._heading: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("src", "href"):
            if attrs.get(key) is not None and tag in ("script", "link", "img", "iframe", "source", "embed"):
                self.sources.append(attrs[key])
        if tag == "script":
            self.scripts += 1
        if tag == "table":
            self.table_classes.append(attrs.get("class") or "")
        if tag == "h2":
            self._heading = []
        if tag not in _VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.open.pop()

    def handle_endtag(self, tag):
        if tag == "h2" and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None
        if not self.open or self.open[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.open[-1] if self.open else 'nothing'}")
            return
        self.open.pop()

    def handle_data(self, data):
        if self._heading is not None:
            self._heading.append(data)


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def dealer_prime_report():
    preset = load_preset("dealer_prime")
    return build_report(preset.system, preset.scenario, title=preset.name, description=preset.description)


def test_dealer_prime_report_shows_the_19x_and_the_amplification(dealer_prime_report):
    page = dealer_prime_report
    assert "19.0×" in page  # forced sales 114 per initial loss 6
    assert "forced sales / initial loss" in page
    assert "1.00×" in page and "amplification (total / initial loss)" in page
    assert "114.00 USD bn" in page and "6.00 USD bn" in page


def test_every_section_has_its_heading(dealer_prime_report):
    parsed = _parse(dealer_prime_report)
    assert parsed.headings == list(REPORT_SECTIONS.values())
    for key in REPORT_SECTIONS:
        assert f'<section id="{key}">' in dealer_prime_report


def test_report_is_well_formed_html(dealer_prime_report):
    parsed = _parse(dealer_prime_report)
    assert dealer_prime_report.startswith("<!DOCTYPE html>")
    assert parsed.errors == []
    assert parsed.open == []


def test_report_is_self_contained(dealer_prime_report):
    parsed = _parse(dealer_prime_report)
    external = [s for s in parsed.sources if s.lower().startswith(("http://", "https://", "//"))]
    assert external == []
    assert all(s.startswith("data:") for s in parsed.sources), parsed.sources  # the empty favicon only
    # plotly.js inline exactly once, before the first figure; five figures drawn
    assert dealer_prime_report.count("window.PlotlyConfig") == 1
    assert dealer_prime_report.count("Plotly.newPlot(") == 5
    assert len(dealer_prime_report) > 1_000_000  # the library itself is inside


def test_dealer_prime_cascade_and_attribution(dealer_prime_report):
    page = dealer_prime_report
    assert 'id="figure-cascade"' in page and '"name":"slr"' in page  # the SLR made it sell
    assert 'id="figure-attribution"' in page and "balance_sheet" in page
    assert "corporates_down_4pct" in page  # the configuration


def test_dealer_market_report_has_the_regime_table():
    preset = load_preset("dealer_market")
    page = build_report(preset.system, preset.scenario, attribution=False)
    parsed = _parse(page)
    assert "regime" in parsed.table_classes
    for row in ("price shocks", "dealer behaviour", "liquidity", "feedback loop", "information flow"):
        assert row in page
    assert "round 0 (" in page and "the worst (" in page
    assert "Left out of this report" in page  # no attribution asked for


def test_a_system_without_dealers_has_no_regime_table_and_names_are_escaped(tmp_path):
    text = (resources.files("firesale") / "presets" / "var_desk.toml").read_text()
    text = text.replace('type = "dealer"', 'type = "hedge_fund"').replace('"var_desk"', '"<b>desk</b> & co"')
    path = tmp_path / "desk.toml"
    path.write_text(text)
    from firesale import load

    preset = load(path)
    page = build_report(preset.system, preset.scenario.updated(name="<script>alert(1)</script>"),
                        title=preset.name, attribution=False)
    assert "No dealers in the system" in page
    assert "<b>desk</b>" not in page and "&lt;b&gt;desk&lt;/b&gt; &amp; co" in page
    assert "<script>alert(1)</script>" not in page
    assert _parse(page).errors == []


def test_equity_waterfall_adds_up_to_the_total_loss():
    for name in ("dealer_prime", "dealer_groups", "march_2020", "gilt_ldi_2022"):
        preset = load_preset(name)
        ds = simulate(preset.system, preset.scenario, detail=True)
        steps = equity_waterfall(ds)
        change = steps.equity_change
        assert change.attrs["units"] == ds.equity.attrs["units"]
        losses = change.drop_sel(component="paid out to investors").sum()
        assert float(-losses) == pytest.approx(summarize(ds)["total_loss"], rel=1e-9, abs=1e-9), name
        assert float(steps.initial_equity + change.sum()) == pytest.approx(float(steps.final_equity), rel=1e-12)
    # dealer_prime: the 6 of the shock, nothing else (the sale is at par)
    assert np.allclose(equity_waterfall(simulate(*_prime())).equity_change.sum("round"), [-6.0, 0.0, 0.0, 0.0])


def _prime():
    preset = load_preset("dealer_prime")
    return preset.system, preset.scenario


def test_equity_waterfall_without_holdings_is_one_component():
    preset = load_preset("dealer_groups")
    ds = simulate(preset.system, preset.scenario, detail=False)
    steps = equity_waterfall(ds)
    assert steps.sizes["component"] == 2
    assert float(-steps.equity_change.isel(component=0).sum()) == pytest.approx(summarize(ds)["total_loss"], rel=1e-9)


def test_report_of_a_given_dataset_without_the_system():
    system, scenario = _prime()
    ds = simulate(system, scenario)
    page = build_report(None, None, ds, attribution=False)
    assert "19.0×" in page and "corporates_down_4pct" in page
    with pytest.raises(ConfigError, match="FS741"):
        build_report(None, None, ds)  # the attribution needs the system
    with pytest.raises(ConfigError, match="FS741"):
        build_report(None, None)


def test_progress_is_told_every_step():
    calls = []
    build_report(*_prime(), progress=lambda done, total, what: calls.append((done, total, what)))
    total = len(REPORT_STEPS)
    assert calls == [(i, total, REPORT_STEPS[i]) for i in range(total)] + [(total, total, "done")]


def test_write_report_checks_the_path_first(tmp_path):
    with pytest.raises(ConfigError, match=r"FS740.*\.txt"):
        write_report(tmp_path / "out.txt", *_prime())
    with pytest.raises(ConfigError, match="FS740.*does not exist"):
        write_report(tmp_path / "missing" / "out.html", *_prime())
    path = write_report(tmp_path / "out.html", *_prime(), attribution=False)
    assert "19.0×" in path.read_text(encoding="utf-8")


def test_cli_report_writes_the_file(tmp_path):
    out = tmp_path / "prime.html"
    result = runner.invoke(app, ["report", "dealer_prime", "--html", str(out)])
    assert result.exit_code == 0, result.output
    assert "report written to" in result.output
    page = out.read_text(encoding="utf-8")
    assert "19.0×" in page and 'id="figure-attribution"' in page
    assert 'id="figure-sensitivity"' in page and "<td>shock.corporates.price</td>" in page


def test_cli_report_without_attribution_and_with_overrides(tmp_path):
    out = tmp_path / "prime.html"
    result = runner.invoke(app, ["report", "dealer_prime", "--html", str(out), "--no-attribution",
                                 "--set", "policy.slr_exemption=true"])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "Left out of this report" in page
    assert "0.00 USD bn of sales" in page  # the exemption stops the sale


@pytest.mark.parametrize(("args", "code", "words"), [
    (["report", "dealer_prim", "--html", "out.html"], "FS001", "dealer_prime"),
    (["report", "dealer_prime", "--html", "out.txt"], "FS740", ".html"),
])
def test_cli_report_bad_inputs_are_clear_errors(tmp_path, args, code, words):
    args = [a if not a.startswith("out.") else str(tmp_path / a) for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError)
    assert code in str(result.exception) and words in str(result.exception)
    assert not list(tmp_path.iterdir())  # nothing written


def test_report_of_a_stored_run(tmp_path):
    store = pytest.importorskip("firesale.store", reason="the run store (firesale.store) is not there yet")
    pytest.importorskip("duckdb", reason="the run store needs duckdb")
    system, scenario = _prime()
    ds = simulate(system, scenario)
    run_store = store.RunStore(tmp_path / "runs")
    run_id = run_store.record("run", "dealer_prime", system, [scenario], ds, summarize(ds))
    out = tmp_path / "run.html"
    result = runner.invoke(app, ["report", run_id, "--store", str(tmp_path / "runs"), "--html", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "19.0×" in page and f"run {run_id}" in page
    result = runner.invoke(app, ["report", "0123456789ab", "--store", str(tmp_path / "runs"),
                                 "--html", str(tmp_path / "x.html")])
    assert result.exit_code != 0
    assert "FS001" in str(result.exception) and "FS904" in str(result.exception)


# --------------------------------------------------------------------------- sensitivity
class _Cells(html.parser.HTMLParser):
    """The cells of the sensitivity table, as (text, class) by row and column."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.header: list[str] = []
        self.rows: list[list[tuple[str, str]]] = []
        self._in: str | None = None
        self._table = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("class") == "sensitivity":
            self._table = True
        elif self._table and tag == "tr":
            self.rows.append([])
        elif self._table and tag in ("th", "td"):
            self._in = tag
            (self.header if tag == "th" else self.rows[-1]).append(["", attrs.get("class") or ""])

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = False
        if tag in ("th", "td"):
            self._in = None

    def handle_data(self, data):
        if self._in == "th":
            self.header[-1][0] += data
        elif self._in == "td":
            self.rows[-1][-1][0] += data


def _sensitivity_table(page: str) -> tuple[list[str], dict[str, dict[str, tuple[str, str]]]]:
    section = page[page.index('<section id="sensitivity">'):page.index('<section id="configuration">')]
    cells = _Cells()
    cells.feed(section)
    header = [text for text, _ in cells.header]
    rows = {row[0][0]: {name: tuple(cell) for name, cell in zip(header[1:], row[1:])} for row in cells.rows if row}
    return header, rows


@pytest.fixture(scope="module")
def dealer_groups_report():
    preset = load_preset("dealer_groups")
    page = build_report(preset.system, preset.scenario, attribution=False, declared=preset.parameters,
                        title=preset.name)
    return preset, page


def test_sensitivity_section_names_every_knob_and_the_depth_elasticity_of_runs_made_here(dealer_groups_report):
    from firesale.analytics.amplification import summarize
    from firesale.parameters import apply_parameters

    preset, page = dealer_groups_report
    system, scenario = preset.system, preset.scenario
    header, rows = _sensitivity_table(page)
    assert header[:5] == ["knob", "loss (USD bn)", "total_loss (USD bn)", "defaults (count)", "forced_sales (USD bn)"]
    shocked = [f"shock.{s.asset}.price" for s in scenario.shocks if s.asset is not None and s.price]
    assert shocked and {"base value", "depth", "slr_headroom", *shocked} <= set(rows)
    section = page[page.index('<section id="sensitivity">'):page.index('<section id="configuration">')]
    for name in set(rows) - {"base value"}:  # what each knob moves
        assert f"<li><strong>{name.removesuffix(' (forward)').removesuffix(' (backward)')}</strong>:" in section
    # every asset's depth moved 1% each way, run here
    depths = {f"asset.{a.name}.depth": a.depth for a in system.assets if np.isfinite(a.depth)}
    runs = {}
    for factor in (0.99, 1.0, 1.01):
        moved_system, moved_scenario = apply_parameters(system, scenario, {k: v * factor for k, v in depths.items()})
        runs[factor] = summarize(simulate(moved_system, moved_scenario))
    for column, key in (("loss (USD bn)", "levered_capital_loss"), ("forced_sales (USD bn)", "forced_sales")):
        base = runs[1.0][key]
        elasticity = (runs[1.01][key] - runs[0.99][key]) / (2 * 0.01 * base)
        assert abs(elasticity) > 0.5  # deeper markets, smaller fire sales: a number worth checking
        assert rows["depth"][column] == (f"{elasticity:+.3f}", "number")
        assert rows["base value"][column][0] == f"{base:,.4g}"
    assert 'id="figure-sensitivity"' in page
    assert "No cliff" in section
    assert "Loop gain of the base run" in section and "<td>corp_hy</td>" in section


def test_sensitivity_cliffs_are_marked_in_the_table_and_listed():
    from firesale.analytics.sensitivity import sensitivity

    system, scenario = _prime()
    # a 40% move of dealer_prime's 4% corporate shock moves its loss by 40%: beyond the 10% of a cliff
    result = sensitivity(system, scenario, params=["shock.corporates.price"], outputs=["loss", "defaults"], step=0.4)
    page = build_report(system, scenario, attribution=False, sensitivity=result)
    _, rows = _sensitivity_table(page)
    assert rows["shock.corporates.price"]["loss (USD bn)"] == ("+1.000*", "number cliff")
    assert rows["shock.corporates.price"]["defaults (count)"] == ("-", "number")  # 0 in the base run, and after
    section = page[page.index('<section id="sensitivity">'):page.index('<section id="configuration">')]
    assert "<strong>Cliffs</strong>" in section
    assert "<li><strong>shock.corporates.price</strong> → loss: 3.6 / 6 / 8.4" in section  # 6 × (1 ∓ 0.4)
    assert "No cliff" not in section


def test_sensitivity_left_out_without_the_system_or_when_asked():
    system, scenario = _prime()
    ds = simulate(system, scenario)
    page = build_report(None, None, ds, attribution=False)
    assert "the sensitivity reruns the scenario on the system, which this report was not given" in page
    with pytest.raises(ConfigError, match="FS741.*sensitivity"):
        build_report(None, None, ds, attribution=False, sensitivity=True)
    page = build_report(system, scenario, attribution=False, sensitivity=False)
    assert "Left out of this report (run it with the sensitivity)" in page
    assert page.count("Plotly.newPlot(") == 3  # prices, waterfall, cascade


def test_cli_report_without_sensitivity(tmp_path):
    out = tmp_path / "prime.html"
    result = runner.invoke(app, ["report", "dealer_prime", "--html", str(out), "--no-attribution",
                                 "--no-sensitivity"])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "Left out of this report (run it with the sensitivity)" in page
    assert 'id="figure-sensitivity"' not in page


def test_import_report_leaves_plotly_unloaded():
    code = "import sys, firesale.report; print('plotly' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
