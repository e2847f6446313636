"""Test-wide settings and fixtures: runs recorded by the commands under test go to a
temporary store, never into the checkout's ./firesale-runs; the browser tests' chromium is
Debian's, which `.ci/run` installs with apt (never a downloaded one)."""

import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("FIRESALE_CHROMIUM", "/usr/bin/chromium"))


@pytest.fixture(autouse=True, scope="session")
def _temporary_run_store(tmp_path_factory):
    store = tmp_path_factory.mktemp("firesale-runs")
    patch = pytest.MonkeyPatch()
    patch.setenv("FIRESALE_STORE", str(store))
    yield store
    patch.undo()


@pytest.fixture
def chromium() -> str:
    """Path of the chromium executable, or a skip that says why there is none."""
    if not CHROMIUM.is_file() or not os.access(CHROMIUM, os.X_OK):
        where = "in CI: .ci/run could not install it with apt" if os.environ.get("CI") else \
            "install it with `apt-get install chromium` to run this test"
        pytest.skip(f"no chromium at {CHROMIUM} ({where})")
    return str(CHROMIUM)
