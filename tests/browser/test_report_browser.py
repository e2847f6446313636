"""The HTML report in a real browser: headless Debian chromium through Playwright.

It opens the file offline (every request that is not ``file:`` or ``data:`` is refused),
logs no console error and no page error, shows the amplification figure and draws its
plotly figures (the sensitivity's tornado: a row for each knob of its table). `.ci/run`
installs chromium with apt; where it is absent (or Playwright is), the test skips and says
why.
"""


import pytest

from firesale import load_preset
from firesale.report import write_report





def test_report_opens_offline_without_errors_and_shows_the_amplification(tmp_path, chromium):
    executable = chromium
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason='Playwright is not installed: pip install -e ".[test]"')
    preset = load_preset("dealer_prime")
    path = write_report(tmp_path / "dealer_prime.html", preset.system, preset.scenario, title=preset.name)
    errors: list[str] = []
    refused: list[str] = []

    def offline(route):
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", offline)
            page.on("console", lambda message: errors.append(f"console: {message.text}")
                    if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
            page.goto(path.resolve().as_uri(), wait_until="load")
            page.wait_for_selector("#figure-waterfall .main-svg", timeout=30_000)
            assert page.locator(".js-plotly-plot").count() == 5
            assert page.locator(".main-svg").count() >= 4
            headline = page.locator("#headline")
            assert headline.is_visible()
            assert "19.0×" in headline.inner_text()
            assert page.get_by_text("forced sales / initial loss").is_visible()
            assert page.locator(".card", has_text="19.0×").is_visible()
            # the waterfall drew its bars, the cascade its markers
            assert page.locator("#figure-waterfall .bars path").count() > 0
            assert page.locator("#figure-cascade .points path").count() > 0
            # the sensitivity's tornado drew a bar for each knob of the table
            knobs = page.locator("table.sensitivity tbody tr").count() - 1  # less the base values
            assert knobs >= 2
            page.locator("#figure-sensitivity").scroll_into_view_if_needed()
            page.wait_for_selector("#figure-sensitivity .ytick text", timeout=30_000)
            ticks = page.locator("#figure-sensitivity .ytick text").all_text_contents()
            assert len(ticks) == knobs
            assert page.locator("#figure-sensitivity .bars path").count() == 2 * knobs  # -1% and +1%
        finally:
            browser.close()
    assert errors == []
    assert refused == []
