"""Synthetic systems (``firesale generate``): valid, deterministic in the seed, of the size
and density asked for, and bad input reported with a code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from firesale.cli import app, main
from firesale.data import load, read_tables, validate
from firesale.data.synthetic import generate_system, generate_tables, write_generated
from firesale.errors import ConfigError
from firesale.simulation import simulate
from firesale.system import INSTITUTION_TYPES
from firesale.testing import assert_invariants

runner = CliRunner()


def _generate(out: Path, *extra: str, n: int = 60, k: int = 30, density: float = 0.2, seed: int = 7):
    args = ["generate", "--institutions", str(n), "--assets", str(k), "--density", str(density), "--seed", str(seed),
            "--out", str(out), *extra]
    return runner.invoke(app, args)


def test_generated_directory_passes_validate(tmp_path):
    result = _generate(tmp_path / "sys")
    assert result.exit_code == 0, result.output
    assert validate(tmp_path / "sys") == []
    check = runner.invoke(app, ["validate", str(tmp_path / "sys")])
    assert check.exit_code == 0, check.output
    assert "valid" in check.output


def test_parquet_tables_read_back_like_csv(tmp_path):
    assert _generate(tmp_path / "csv").exit_code == 0
    assert _generate(tmp_path / "pq", "--format", "parquet").exit_code == 0
    a, b = read_tables(tmp_path / "csv"), read_tables(tmp_path / "pq")
    np.testing.assert_array_equal(a.holdings, b.holdings)
    np.testing.assert_array_equal(a.repo, b.repo)
    assert [i.model_dump() for i in a.institutions] == [i.model_dump() for i in b.institutions]


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        assert _generate(tmp_path / name, seed=seed).exit_code == 0
    files = ("institutions.csv", "assets.csv", "holdings.csv", "scenario.toml")
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    assert (tmp_path / "a" / "holdings.csv").read_bytes() != (tmp_path / "c" / "holdings.csv").read_bytes()


@pytest.mark.parametrize(("n", "k", "density"), [(300, 100, 0.02), (200, 150, 0.1), (100, 400, 0.5), (50, 120, 1.0)])
def test_size_and_density_as_requested(n, k, density):
    tables = generate_tables(n, k, density, seed=11)
    assert len(tables["institutions"]) == n and len(tables["assets"]) == k
    held = len(tables["holdings"]) / (n * k)
    assert held == pytest.approx(density, rel=0.10)
    assert not tables["holdings"].duplicated(["institution", "asset"]).any()


def test_tiny_systems_hold_at_least_one_asset_each():
    tables = generate_tables(3, 1, 0.01, seed=0)
    assert len(tables["holdings"]) == 3
    system = generate_system(1, 1, 1.0, seed=0)
    assert system.n_institutions == 1 and system.n_assets == 1 and system.equity0[0] > 0


def test_generated_system_is_realistic():
    system = generate_system(400, 80, 0.1, seed=3)
    types = [i.type for i in system.institutions]
    assert set(types) == set(INSTITUTION_TYPES)
    size = system.total_assets0
    assert size.max() > 20 * np.median(size)  # heavy-tailed
    ratio = system.equity0 / size
    for inst, r in zip(system.institutions, ratio):
        if inst.type in ("dealer", "bank"):
            assert 0.03 <= inst.slr_minimum < inst.slr_trigger < r and inst.slr_target <= 0.06 + 1e-12
            assert {"dealer": 0.04 - 1e-12, "bank": 0.05 - 1e-12}[inst.type] <= r
        if inst.type == "money_market_fund":
            assert r == pytest.approx(1.0) and inst.repo_lending > 0
    assert (system.repo <= (1 - np.array([a.haircut for a in system.assets])) * system.holdings + 1e-9).all()
    # portfolios overlap: the most held asset is held by far more institutions than the average one
    holders = (system.holdings > 0).sum(axis=0)
    assert holders.max() > 3 * holders.mean()


def test_diversification_controls_concentration():
    def top_weight(diversification: float) -> float:
        system = generate_system(200, 100, 0.2, seed=1, diversification=diversification)
        w = system.holdings / system.holdings.sum(axis=1, keepdims=True)
        return float(w.max(axis=1).mean())

    assert top_weight(0.1) > top_weight(1.0) > top_weight(20.0)


def test_a_run_on_a_generated_system_keeps_the_invariants(tmp_path):
    write_generated(tmp_path / "sys", 200, 50, 0.1, seed=2)
    preset = load(tmp_path / "sys")
    assert preset.system.currency == "USD m"
    assert preset.scenario.shocks
    ds = simulate(preset.system, preset.scenario, detail=True)
    assert_invariants(ds)


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        ({"n": 0}, "FS140", "--institutions 0"),
        ({"k": 0}, "FS140", "--assets 0"),
        ({"density": 0.0}, "FS141", "(0, 1]"),
        ({"density": 1.5}, "FS141", "(0, 1]"),
        ({"density": -0.1}, "FS141", "(0, 1]"),
    ],
)
def test_bad_sizes_and_density_are_config_errors(tmp_path, args, code, needle):
    kwargs = {"n": 10, "k": 5, "density": 0.5} | args
    with pytest.raises(ConfigError) as err:
        write_generated(tmp_path / "x", kwargs["n"], kwargs["k"], kwargs["density"], seed=0)
    assert err.value.problems[0].code == code and needle in str(err.value)
    assert not (tmp_path / "x").exists()


def test_bad_diversification_and_format(tmp_path):
    with pytest.raises(ConfigError, match="FS142"):
        generate_tables(10, 5, 0.5, seed=0, diversification=0.0)
    with pytest.raises(ConfigError, match="FS125"):
        write_generated(tmp_path / "x", 10, 5, 0.5, seed=0, fmt="xlsx")


def test_out_that_is_a_file_is_reported(tmp_path):
    target = tmp_path / "afile"
    target.write_text("not a directory")
    with pytest.raises(ConfigError, match="FS143") as err:
        write_generated(target, 10, 5, 0.5, seed=0)
    assert "is a file" in str(err.value)


def test_cli_errors_print_without_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["firesale", "generate", "--institutions", "10", "--assets", "5",
                                     "--density", "2", "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "FS141" in err and "Traceback" not in err
