"""The browser tests' chromium: Debian's, which `.ci/run` installs with apt (never a
downloaded one); a test that needs it skips, saying why, where it is absent."""

import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("FIRESALE_CHROMIUM", "/usr/bin/chromium"))


@pytest.fixture
def chromium() -> str:
    """Path of the chromium executable, or a skip with the reason."""
    if not CHROMIUM.is_file() or not os.access(CHROMIUM, os.X_OK):
        where = "in CI: .ci/run could not install it with apt" if os.environ.get("CI") else \
            "install it with `apt-get install chromium` to run this test"
        pytest.skip(f"no chromium at {CHROMIUM} ({where})")
    return str(CHROMIUM)
