"""Driving the dashboard for tests and benchmarks: serve it on a free local port
(``firesale dashboard --no-browser`` in a child process, in a process group of its own
that is ended with the block) and, with a Playwright page, choose a preset, run it and
read the amplification off the page; find any Streamlit server left behind.

Playwright is not imported here: the functions take its ``Page``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["AMPLIFICATION_LABEL", "SERVED", "Served", "free_port", "group_alive", "open_page", "port_free",
           "run_in_browser", "serve_dashboard", "stop_group", "streamlit_processes"]

#: The label of the amplification figure on the Run page.
AMPLIFICATION_LABEL = "amplification (total / initial)"


@dataclass(frozen=True)
class Served:
    """A dashboard :func:`serve_dashboard` started: its port and its process group."""

    port: int
    pgid: int


#: Every dashboard :func:`serve_dashboard` started in this process, for leak checks.
SERVED: list[Served] = []


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on ``port`` of ``host`` now: none listens on it
    (closed connections waiting out TIME_WAIT do not count, as for any server, which
    binds with ``SO_REUSEADDR``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def group_alive(pgid: int) -> bool:
    """Whether any process of the process group ``pgid`` is left (a zombie counts)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member we may not signal: still a member
        return True
    return True


def stop_group(child: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """End ``child``, the leader of its own process group, and everything in the group:
    SIGTERM to the group, then SIGKILL to what is left after ``timeout`` seconds; returns
    once the group is empty (or, where a member cannot be seen to go, after a second
    ``timeout``)."""
    pgid = child.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    try:
        child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + timeout
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if group_alive(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    if child.poll() is None:
        child.kill()
    child.wait()
    deadline = time.monotonic() + timeout
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)


def streamlit_processes(port: int | None = None) -> list[int]:
    """IDs of the ``streamlit run`` processes of the dashboard (of those listening on
    ``port``, when given), read from ``/proc`` (empty where there is none)."""
    from firesale.dashboard import APP_PATH

    found = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone, or not ours to read
            continue
        words = [a.decode(errors="replace") for a in argv if a]
        if "streamlit" not in " ".join(words) or str(APP_PATH) not in words:
            continue
        if port is not None and not any(a == "--server.port" and b == str(port) for a, b in zip(words, words[1:])):
            continue
        found.append(int(entry.name))
    return sorted(found)


def wait_healthy(url: str, child: subprocess.Popen, timeout: float, log: Path | None = None) -> None:
    """Wait until the dashboard at ``url`` answers its health endpoint.

    Raises
    ------
    RuntimeError
        ``child`` (the process serving it) ended, or ``timeout`` seconds passed first
        (with the end of ``log``).
    """
    started = time.perf_counter()
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if child.poll() is not None or time.perf_counter() - started > timeout:
            tail = log.read_text(errors="replace")[-2000:] if log else ""
            raise RuntimeError(f"the dashboard did not answer on {url} within {timeout:g} s "
                               f"(exit status {child.poll()}): {tail}")
        time.sleep(0.05)


@contextlib.contextmanager
def serve_dashboard(port: int | None = None, timeout: float = 30.0, log: Path | None = None) -> Iterator[
        tuple[str, float]]:
    """Run ``firesale dashboard --no-browser`` on 127.0.0.1 until the block ends.

    The command runs in a process group of its own (listed in :data:`SERVED`); when the
    block ends the whole group is stopped (:func:`stop_group`), Streamlit server included.

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
    child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ},
                             start_new_session=True)
    SERVED.append(Served(port, child.pid))
    try:
        wait_healthy(url, child, timeout, log)
        yield url, time.perf_counter() - started
    finally:
        stop_group(child)
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
