"""The dashboard in a real browser: headless Debian chromium through Playwright.

``firesale dashboard --no-browser`` serves the app on a free local port; the browser
chooses ``dealer_groups``, runs it and reads the amplification, which must be what
``firesale run --json`` prints; the cascade timeline labels every institution; an upload
with a negative holding shows the error naming its row; on the Reverse stress test page,
``dealer_prime`` with the target ``defaults>=1`` shows the distance the library finds; no
console error is logged and no traceback shows; a screenshot is kept in ``tests/artifacts/``. When the module ends no
dashboard it served is left running. `.ci/run` installs chromium with
apt; where it is absent (or Playwright or streamlit is), the test skips and says why.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firesale.data.preset import load_preset
from firesale.data.tables import write_tables
from firesale.testing.dashboard import (
    SERVED,
    group_alive,
    open_page,
    port_free,
    run_in_browser,
    serve_dashboard,
    streamlit_processes,
)

ARTIFACTS = Path(__file__).parents[1] / "artifacts"


def _leftovers(served: list, within: float = 5.0) -> list[str]:
    """What is left of the dashboards ``served``, after waiting up to ``within`` seconds:
    a process of their group, a Streamlit process on their port, the port taken."""
    deadline = time.monotonic() + within
    while True:
        left = [f"port {s.port}: process group {s.pgid} still has processes" for s in served if group_alive(s.pgid)]
        left += [f"port {s.port}: streamlit processes {pids}" for s in served if (pids := streamlit_processes(s.port))]
        left += [f"port {s.port}: still taken" for s in served if not port_free(s.port)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


@pytest.fixture(scope="module", autouse=True)
def _no_dashboard_left_behind():
    """Reported: every browser test left a Streamlit server running. After the module,
    every dashboard it served must be gone: its process group empty, no Streamlit process
    on its port, the port free."""
    before = len(SERVED)
    yield
    served = SERVED[before:]
    left = _leftovers(served)
    for s in served:  # never leave one running, even when the check fails
        with contextlib.suppress(ProcessLookupError):
            os.killpg(s.pgid, signal.SIGKILL)
    assert not left, f"the module left dashboards running: {left}"


def _cli_amplification() -> float:
    firesale = Path(sys.executable).with_name("firesale")
    out = subprocess.run([str(firesale), "run", "dealer_groups", "--json", "--no-record"], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)["amplification"]


def _cascade_institutions() -> list[str]:
    """The institutions of the cascade timeline of dealer_groups' preset run."""
    from firesale import simulate
    from firesale.report import cascade_figure
    from firesale.simulation import measures_loop_gain

    preset = load_preset("dealer_groups")
    ds = simulate(preset.system, preset.scenario, detail=True, loop_gain=measures_loop_gain(preset.system))
    return list(cascade_figure(ds).layout.yaxis.categoryarray)


def _library_distance() -> float:
    """dealer_prime's least-distance shock with a default, found by the library."""
    from firesale.analytics.outcomes import parse_target
    from firesale.analytics.reverse import calm_scenario, reverse_stress

    preset = load_preset("dealer_prime")
    return reverse_stress(preset.system, calm_scenario(preset.scenario),
                          parse_target("defaults>=1", preset.system)).radius


def _bad_tables(folder: Path) -> list[Path]:
    """dealer_prime's tables with the holding of data row 2 made negative."""
    paths = write_tables(load_preset("dealer_prime").system, folder)
    holdings = folder / "holdings.csv"
    lines = holdings.read_text().splitlines()
    cells = lines[2].split(",")
    cells[2] = "-3"
    lines[2] = ",".join(cells)
    holdings.write_text("\n".join(lines) + "\n")
    return paths


def _reverse_in_browser(page, url: str, timeout: float = 60.0) -> str:
    """Choose dealer_prime on the System page, open the Reverse stress test page, ask for
    ``defaults>=1`` and return the Mahalanobis distance it shows."""
    wait = timeout * 1000
    open_page(page, url, "System", timeout)
    page.locator('[data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name="dealer_prime:").first.click()
    page.get_by_role("heading", name="dealer_prime", exact=True).wait_for(timeout=wait)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Reverse stress test").click()
    page.get_by_role("heading", name="Reverse stress test — dealer_prime").wait_for(timeout=wait)
    target = page.get_by_role("textbox", name="Target")
    target.fill("defaults>=1")
    target.press("Enter")
    page.get_by_role("button", name="Find the shock", exact=True).click()
    metric = page.locator('[data-testid="stMetric"]', has_text="Mahalanobis distance").first
    metric.wait_for(timeout=wait)
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for(timeout=wait)
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


def test_dashboard_runs_dealer_groups_and_reports_upload_errors(tmp_path, chromium):
    executable = chromium
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason='Playwright is not installed: pip install -e ".[test]"')
    pytest.importorskip("streamlit", reason='the dashboard needs streamlit: pip install "firesale[dashboard]"')
    ARTIFACTS.mkdir(exist_ok=True)
    bad = _bad_tables(tmp_path / "bad")
    errors: list[str] = []
    with serve_dashboard(log=tmp_path / "dashboard.log") as (url, _), sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda message: errors.append(f"console: {message.text}")
                    if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
            amplification, _ = run_in_browser(page, url, "dealer_groups")
            assert amplification == f"{_cli_amplification():.3f}"
            page.get_by_role("heading", name="Price paths").scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "dashboard_dealer_groups.png"))
            # reported: the cascade timeline labelled 9 of its 17 institutions
            cascade = page.locator('[data-testid="stPlotlyChart"]', has_text="who was forced to sell").first
            cascade.scroll_into_view_if_needed()
            cascade.locator(".ytick text").first.wait_for(timeout=30_000)
            labels = [t.strip() for t in cascade.locator(".ytick text").all_text_contents()]
            assert sorted(labels) == sorted(_cascade_institutions()), labels
            assert "Traceback" not in page.content()

            open_page(page, url, "System")
            page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files([str(p) for p in bad])
            problem = page.locator('[data-testid="stTable"] tr', has_text="holdings.csv")
            problem.first.wait_for(timeout=30_000)
            cells = problem.first.inner_text()
            assert "quantity" in cells and "negative" in cells
            assert "\t2\t" in f"\t{cells}\t".replace("\n", "\t")  # the row number has its own cell
            problem.first.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "dashboard_upload_error.png"))

            distance = _reverse_in_browser(page, url)
            assert distance == f"{_library_distance():.4f}"
            assert "Traceback" not in page.content()
            page.get_by_role("heading", name="The shock", exact=True).scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "dashboard_reverse_dealer_prime.png"))
        finally:
            browser.close()
    assert errors == []


def test_a_served_dashboard_is_gone_with_its_port_when_the_block_ends(tmp_path):
    """Reported: every browser test left a Streamlit server running."""
    pytest.importorskip("streamlit", reason='the dashboard needs streamlit: pip install "firesale[dashboard]"')
    with serve_dashboard(log=tmp_path / "dashboard.log") as (url, _):
        served = SERVED[-1]
        assert url.endswith(f":{served.port}")
        assert streamlit_processes(served.port), "no streamlit process serves the dashboard"
    assert not group_alive(served.pgid)
    assert streamlit_processes(served.port) == []
    assert port_free(served.port)


def test_the_cascade_timeline_labels_all_17_institutions(tmp_path, chromium):
    """Reported: the cascade timeline labelled 9 of 17 institutions (dealer_groups, every
    institution forced to sell); plotly skips category labels that do not fit its height."""
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason='Playwright is not installed: pip install -e ".[test]"')
    from firesale import simulate
    from firesale.dashboard.logic import label_every_institution
    from firesale.report import cascade_figure

    preset = load_preset("dealer_groups")
    scenario = preset.scenario.updated(shocks=[{"asset": "corp_hy", "price": -0.15},
                                               {"asset": "ig_industrial", "price": -0.1}])
    fig = cascade_figure(simulate(preset.system, scenario, detail=True))
    names = list(fig.layout.yaxis.categoryarray)
    assert len(names) == 17
    assert label_every_institution(fig)
    page_file = tmp_path / "cascade.html"
    page_file.write_text(fig.to_html(include_plotlyjs=True, default_height="450px"))  # offline: plotly.js inline
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 800})
            page.goto(page_file.as_uri())
            page.wait_for_selector(".ytick text", timeout=30_000)
            labels = [t.strip() for t in page.locator(".ytick text").all_text_contents()]
        finally:
            browser.close()
    assert sorted(labels) == sorted(names)
