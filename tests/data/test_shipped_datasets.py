"""The public data sets shipped in the package (:mod:`firesale.data.datasets`).

The shipped files must be the ones PROVENANCE.md lists (SHA-256), hold exactly the
originals (compared with the CSV files of ``shared/data`` beside the checkout where that
folder exists; elsewhere the shipped copy is written back as CSV and must read back into
the same frames), be package data, and let every replication run with nothing beside the
package.
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from firesale.cli import app
from firesale.data import datasets, shared_data
from firesale.data.datasets import (
    DATASETS_FOLDER,
    LICENSES,
    PARQUET,
    VERBATIM,
    csv_options,
    export_originals,
    read_original,
    sha256,
    shipped_files,
    shipped_quarters,
)
from firesale.data.shared_data import data_root, is_shipped
from firesale.errors import DataError

REPO = Path(__file__).resolve().parents[2]
_SHA = re.compile(r"^\| `([^`]+)` \| `([0-9a-f]{64})` \|$", re.MULTILINE)


def _originals() -> Path | None:
    """``shared/data`` beside the checkout, where it exists (it does in CI)."""
    for folder in (REPO, *REPO.parents):
        candidate = folder.parent / "shared" / "data"
        if (candidate / "eba-2011" / "DATA_DISCLOSURE.CSV.csv").is_file():
            return candidate
    return None


def _all_originals() -> list[str]:
    return [*VERBATIM, *PARQUET, *(f"us-commercial-banks/{kind}_{q}.csv" for q in shipped_quarters()
                                   for kind in ("matr", "equities"))]


def test_provenance_lists_the_sha256_of_every_shipped_file():
    listed = {}
    for folder in LICENSES:
        text = (DATASETS_FOLDER / folder / "PROVENANCE.md").read_text()
        listed |= {f"{folder}/{name}": digest for name, digest in _SHA.findall(text)}
    assert sorted(listed) == shipped_files()
    assert {name: sha256(DATASETS_FOLDER / name) for name in listed} == listed


def test_every_folder_carries_its_licences():
    for folder, licences in LICENSES.items():
        for name in licences:
            text = (DATASETS_FOLDER / folder / name).read_text()
            assert ("MIT License" in text) or ("Apache License" in text and "Version 2.0" in text)


def test_the_call_reports_hold_59_ordinal_quarters():
    assert shipped_quarters() == list(range(1, 60))


def test_shipped_tables_equal_the_originals_exactly(tmp_path):
    """Against the CSV originals where they exist; elsewhere the CSV layout written from the
    shipped copy reads back into the same frames (so the CSV reader path sees the same data)."""
    originals = _originals() or export_originals(tmp_path / "data")
    for relative in _all_originals():
        expected = pd.read_csv(originals / relative, **csv_options(relative))
        pd.testing.assert_frame_equal(read_original(relative), expected, check_exact=True, obj=relative)


def test_the_original_lines_are_those_of_the_files():
    """Hand checks of the originals (``shared/data`` README, file heads): DE017's total
    assets and common equity at Dec 2010, and the first line of ``matr_1.csv``."""
    frame = read_original("eba-2011/DATA_DISCLOSURE.CSV.csv")
    code = pd.to_numeric(frame["INFORMATION_CODE"].str.strip(), errors="coerce")
    dated = pd.to_numeric(frame["INFO_DATE_CODE"].str.strip(), errors="coerce") == 20101231
    assert [round(float(v)) for v in frame.loc[(code == 30029) & dated, "DE017"]] == [1905630]  # README: 1,905,630
    assert [round(float(v)) for v in frame.loc[(code == 30011) & dated, "DE017"]] == [30361]
    first = read_original("us-commercial-banks/matr_1.csv").iloc[0].tolist()
    assert first[:3] == [480228, 27394000, 9897000] and len(first) == 21
    assert read_original("us-commercial-banks/equities_1.csv").iloc[0].tolist() == [480228, 52469000]


def test_package_data_covers_every_shipped_file():
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["firesale"]
    files = [p.relative_to(DATASETS_FOLDER.parents[1]).as_posix() for p in DATASETS_FOLDER.rglob("*")
             if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts]
    assert len(files) == len(shipped_files()) + 2 * len(LICENSES)  # data + a licence and PROVENANCE.md per folder
    assert [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)] == []


def test_without_a_setting_the_loaders_read_the_shipped_copy(monkeypatch, tmp_path):
    monkeypatch.delenv("FIRESALE_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    assert data_root() == DATASETS_FOLDER and is_shipped(data_root())
    monkeypatch.setenv("FIRESALE_DATA", str(tmp_path))
    assert data_root() == tmp_path.resolve() and not is_shipped(data_root())


def test_missing_shipped_folder_names_data_option_and_env_var(monkeypatch, tmp_path):
    monkeypatch.delenv("FIRESALE_DATA", raising=False)
    monkeypatch.setattr(shared_data, "DATASETS_FOLDER", tmp_path / "gone")
    with pytest.raises(DataError) as err:
        data_root()
    assert err.value.problems[0].code == "FS130"
    assert "--data" in str(err.value) and "FIRESALE_DATA=" in str(err.value)


def test_an_unshipped_file_is_named():
    with pytest.raises(DataError, match="FS131.*eba-2011/CSV_Datamap_Structure.xls"):
        read_original("eba-2011/CSV_Datamap_Structure.xls")
    with pytest.raises(DataError, match="matr_60.csv"):
        read_original("us-commercial-banks/matr_60.csv")


@pytest.mark.parametrize("command", [["vulnerability", "eba2011"], ["vulnerability", "callreports"],
                                     ["deleveraging", "eba2011"], ["equilibrium", "eba2016"]])
def test_replications_run_on_the_shipped_data_alone(monkeypatch, tmp_path, command):
    """No FIRESALE_DATA, no --data, and a working directory with no shared/ above it."""
    monkeypatch.delenv("FIRESALE_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    assert not any((folder / "shared").exists() for folder in (tmp_path, *tmp_path.parents))
    result = CliRunner().invoke(app, [*command, "--json", "--no-record"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])


def test_export_writes_a_folder_the_csv_readers_accept(tmp_path):
    """The exported eba-2016 folder, given as --data, gives the numbers of the shipped copy."""
    from firesale.data import load_eba2016

    folder = export_originals(tmp_path / "data", datasets=("eba-2016",))
    assert (folder / "eba-2016" / "LICENSE.syslosseval").is_file()
    shipped, exported = load_eba2016(), load_eba2016(folder)
    assert exported.quantity == shipped.quantity and exported.sigma == shipped.sigma
    with pytest.raises(DataError, match="not a shipped data set"):
        export_originals(tmp_path / "x", datasets=("eba-2019",))
    assert datasets.DATASETS_FOLDER == DATASETS_FOLDER
