"""Driving the dashboard for tests and benchmarks: serve it on a free local port
(``firesale dashboard --no-browser`` in a child process) and, with a Playwright page,
choose a preset, run it and read the amplification off the page.

Playwright is not imported here: the functions take its ``Page``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["AMPLIFICATION_LABEL", "free_port", "open_page", "run_in_browser", "serve_dashboard"]

#: The label of the amplification figure on the Run page.
AMPLIFICATION_LABEL = "amplification (total / initial)"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve_dashboard(port: int | None = None, timeout: float = 30.0, log: Path | None = None) -> Iterator[
        tuple[str, float]]:
    """Run ``firesale dashboard --no-browser`` on 127.0.0.1 until the block ends.

    Yields
    ------
    (str, float)
        The app's URL and the seconds from the start of the process until its health
        endpoint answered.

    Raises
    ------
    RuntimeError
        The app did not answer within ``timeout`` seconds (with the end of its output).
    """
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(Path(sys.executable).with_name("firesale")), "dashboard", "--port", str(port), "--no-browser"]
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ})
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if child.poll() is not None or time.perf_counter() - started > timeout:
                tail = log.read_text(errors="replace")[-2000:] if log else ""
                raise RuntimeError(f"the dashboard did not answer on {url} within {timeout:g} s "
                                   f"(exit status {child.poll()}): {tail}")
            time.sleep(0.05)
        yield url, time.perf_counter() - started
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if log:
            out.close()


def open_page(page: Any, url: str, title: str, timeout: float = 30.0) -> None:
    """Go to ``url`` and wait until the page shows its ``title`` heading."""
    page.goto(url)
    page.get_by_role("heading", name=title).first.wait_for(timeout=timeout * 1000)


def _metric_value(page: Any, label: str) -> str:
    metric = page.locator('[data-testid="stMetric"]', has_text=label).first
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


def run_in_browser(page: Any, url: str, preset: str, timeout: float = 60.0) -> tuple[str, float]:
    """On the System page (the app's main page) choose ``preset``, go to the Run page, press Run and wait for the
    results.

    Returns
    -------
    (str, float)
        The amplification as the page shows it, and the seconds from pressing Run until
        it showed.
    """
    wait = timeout * 1000
    open_page(page, url, "System", timeout)
    page.locator('[data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name=f"{preset}:").first.click()
    page.get_by_role("heading", name=preset, exact=True).wait_for(timeout=wait)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Shock, policies and results").click()
    run = page.get_by_role("button", name="Run", exact=True)
    run.wait_for(timeout=wait)
    started = time.perf_counter()
    run.click()
    page.locator('[data-testid="stMetric"]', has_text=AMPLIFICATION_LABEL).first.wait_for(timeout=wait)
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for(timeout=wait)
    seconds = time.perf_counter() - started
    return _metric_value(page, AMPLIFICATION_LABEL), seconds
