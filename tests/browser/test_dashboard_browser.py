"""The dashboard in a real browser: headless Debian chromium through Playwright.

``firesale dashboard --no-browser`` serves the app on a free local port; the browser
chooses ``dealer_groups``, runs it and reads the amplification, which must be what
``firesale run --json`` prints; an upload with a negative holding shows the error naming
its row; no console error is logged; a screenshot is kept in ``tests/artifacts/``.
`.ci/run` installs chromium with apt; where it is absent (or Playwright or streamlit is),
the test skips and says why.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from firesale.data.preset import load_preset
from firesale.data.tables import write_tables
from firesale.testing.dashboard import open_page, run_in_browser, serve_dashboard

ARTIFACTS = Path(__file__).parents[1] / "artifacts"




def _cli_amplification() -> float:
    firesale = Path(sys.executable).with_name("firesale")
    out = subprocess.run([str(firesale), "run", "dealer_groups", "--json", "--no-record"], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)["amplification"]


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

            open_page(page, url, "System")
            page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files([str(p) for p in bad])
            problem = page.locator('[data-testid="stTable"] tr', has_text="holdings.csv")
            problem.first.wait_for(timeout=30_000)
            cells = problem.first.inner_text()
            assert "quantity" in cells and "negative" in cells
            assert "\t2\t" in f"\t{cells}\t".replace("\n", "\t")  # the row number has its own cell
            problem.first.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "dashboard_upload_error.png"))
        finally:
            browser.close()
    assert errors == []
