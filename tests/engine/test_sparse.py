"""Dense and CSR holdings give the same run (issue 8): the engine reads positions only."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings

from firesale import Scenario, simulate
from firesale.data.synthetic import generate_system
from firesale.errors import ModelDivergenceError
from firesale.matrices import SPARSE_MAX_DENSITY, SPARSE_MIN_CELLS, dense, max_abs_difference
from firesale.testing.strategies import system_and_scenarios

pytestmark = pytest.mark.property


def assert_same_run(first, second, rel=1e-12):
    """Every result variable of two runs within ``rel`` of the larger magnitude."""
    assert set(first.data_vars) == set(second.data_vars)
    for name in first.data_vars:
        a, b = first[name].values, second[name].values
        assert a.shape == b.shape, name
        if a.dtype.kind in "biu":
            np.testing.assert_array_equal(a, b, err_msg=name)
            continue
        finite = np.isfinite(a)
        np.testing.assert_array_equal(finite, np.isfinite(b), err_msg=name)
        scale = max(1.0, float(np.abs(a[finite]).max(initial=0.0)))
        np.testing.assert_allclose(a[finite], b[finite], rtol=rel, atol=rel * scale, err_msg=name)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(system_and_scenarios(count=3))
def test_dense_and_sparse_systems_give_the_same_run(case):
    system, scenarios = case
    as_dense, as_sparse = system.converted(sparse=False), system.converted(sparse=True)
    assert not as_dense.sparse and sp.issparse(as_sparse.holdings) and sp.issparse(as_sparse.market_share)
    for name in ("holdings", "repo", "derivative", "market_share"):
        assert max_abs_difference(getattr(as_dense, name), getattr(as_sparse, name)) == 0.0, name
    np.testing.assert_allclose(as_sparse.equity0, as_dense.equity0, rtol=1e-13)
    runs = []
    for form in (as_dense, as_sparse):
        try:
            runs.append(simulate(form, scenarios, detail=True))
        except ModelDivergenceError as err:  # an explosive draw: both forms must stop at the same place
            runs.append(err.location)
    if isinstance(runs[0], dict) or isinstance(runs[1], dict):
        assert runs[0] == runs[1]
    else:
        assert_same_run(*runs)


def test_large_sparse_system_is_kept_as_csr_and_runs_as_dense():
    # 1,500 x 700 cells at 20 holdings per institution: above the cell count, below the density
    system = generate_system(1500, 700, density=20 / 700, seed=3)
    assert 1500 * 700 >= SPARSE_MIN_CELLS and system.sparse and sp.issparse(system.holdings)
    assert sp.issparse(system.trading_fraction) and system.holdings.nnz <= SPARSE_MAX_DENSITY * 1500 * 700
    as_dense = system.converted(sparse=False)
    assert isinstance(as_dense.holdings, np.ndarray)
    np.testing.assert_array_equal(as_dense.holdings, dense(system.holdings))
    risky = [a.name for a in system.assets if a.asset_class in ("corporate_hy", "equity")][:12]
    scenario = Scenario(name="hit", shocks=[{"asset": name, "price": -0.08} for name in risky], max_rounds=8)
    assert_same_run(simulate(as_dense, [scenario], detail=False), simulate(system, [scenario], detail=False))


def test_small_systems_stay_dense():
    system = generate_system(200, 40, density=0.1, seed=1)
    assert not system.sparse and isinstance(system.holdings, np.ndarray)


def test_keeping_some_variables_gives_the_same_values():
    system = generate_system(300, 40, density=0.1, seed=2)
    scenario = Scenario(name="hit", shocks=[{"asset": a.name, "price": -0.1} for a in system.assets[:8]], max_rounds=6)
    full = simulate(system, [scenario, scenario.updated(name="again", max_rounds=3)], detail=False)
    kept = simulate(system, [scenario, scenario.updated(name="again", max_rounds=3)], detail=False,
                    variables=["equity", "sold"])
    assert "cash" in full and "cash" not in kept and "sales_total" not in kept
    for name in ("equity", "sold", "initial_equity", "rounds"):
        np.testing.assert_array_equal(kept[name].values, full[name].values)


def test_an_unknown_variable_is_refused():
    from firesale.errors import ConfigError

    with pytest.raises(ConfigError, match="'equty'.*equity"):
        simulate(generate_system(20, 5, density=0.5, seed=1), Scenario(), variables=["equty"])


def test_run_summary_of_a_large_system_lists_its_largest_sellers(tmp_path):
    from typer.testing import CliRunner

    from firesale.cli import INSTITUTION_ROWS, app
    from firesale.data.synthetic import write_generated

    write_generated(tmp_path / "big", 1500, 700, density=20 / 700, seed=3)
    result = CliRunner().invoke(app, ["run", str(tmp_path / "big"), "--no-record"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"{INSTITUTION_ROWS} of 1500 institutions" in " ".join(result.output.split())


def test_dense_and_sparse_forms_hash_alike_and_a_holding_changes_the_hash():
    from firesale.store import input_hash

    system = generate_system(300, 40, density=0.1, seed=2)
    scenario = Scenario(name="hit", shocks=[{"asset": system.assets[0].name, "price": -0.1}])
    dense_hash = input_hash(system.converted(sparse=False), [scenario])
    assert input_hash(system.converted(sparse=True), [scenario]) == dense_hash
    holdings = dense(system.holdings).copy()
    holdings[0, np.flatnonzero(holdings[0])[0]] *= 1.5
    changed = system.__class__(system.name, system.institutions, system.assets, holdings, system.trading_fraction,
                               system.correlation, currency=system.currency, description=system.description,
                               repo=system.repo, derivative=system.derivative, initial_margin=system.initial_margin,
                               market_share=system.market_share)
    assert input_hash(changed, [scenario]) != dense_hash
