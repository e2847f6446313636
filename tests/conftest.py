"""Test-wide settings and fixtures: runs recorded by the commands under test go to a
temporary store, never into the checkout's ./firesale-runs; the browser tests' chromium is
Debian's, which `.ci/run` installs with apt (never a downloaded one); ``doc_block`` checks a
generated table of a docs page."""

import os
import re
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


def _check_doc_block(path: Path, tag: str, rendered: str) -> None:
    block = re.compile(rf"(<!-- {re.escape(tag)} -->\n)(.*?)(\n<!-- /{re.escape(tag)} -->)", re.S)
    text = path.read_text()
    if os.environ.get("FIRESALE_UPDATE_DOCS"):
        text = block.sub(lambda m: m.group(1) + rendered + m.group(3), text)
        path.write_text(text)
    found = block.search(text)
    assert found, f"{path.name} has no <!-- {tag} --> block"
    assert found.group(2) == rendered, f"{path.name}: regenerate the <!-- {tag} --> block (FIRESALE_UPDATE_DOCS=1)"


@pytest.fixture
def doc_block():
    """``doc_block(path, tag, rendered)``: the page's rows between ``<!-- TAG -->`` and
    ``<!-- /TAG -->`` are ``rendered``, computed once by the caller; with
    FIRESALE_UPDATE_DOCS=1 they are rewritten first."""
    return _check_doc_block
