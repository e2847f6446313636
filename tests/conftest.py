"""Test-wide settings: runs recorded by the commands under test go to a temporary store,
never into the checkout's ./firesale-runs."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _temporary_run_store(tmp_path_factory):
    store = tmp_path_factory.mktemp("firesale-runs")
    patch = pytest.MonkeyPatch()
    patch.setenv("FIRESALE_STORE", str(store))
    yield store
    patch.undo()
