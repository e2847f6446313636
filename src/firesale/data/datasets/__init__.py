"""The public data sets shipped with firesale, and how they are rebuilt from the originals.

Four public data sets travel inside the package, one folder each, with their licences and
a ``PROVENANCE.md`` (source, conversion, SHA-256 of every shipped file):

==========================  ==================================================  ================
folder                      what                                                licence
==========================  ==================================================  ================
``eba-2011/``               EBA 2011 EU-wide stress test disclosure (90 banks)  MIT (GraphsData)
``eba-2016/``               EBA 2016/2020 exposures and impairments, sovereign  MIT (syslosseval)
                            bond indices and volumes (Breuer, Summer &
                            Urosevic, OeNB WP 235)
``eba-2018/``               EBA 2018 summary of 48 banks (BoE / Oxford INET)    Apache-2.0
``us-commercial-banks/``    call reports, 59 quarters (Di Gangi, Lillo &        MIT (GraphsData)
                            Pirino 2018, J. Econ. Dyn. Control 94)
==========================  ==================================================  ================

Each original CSV is either shipped as it is (where that is smaller) or as a zstd-compressed
Parquet table holding exactly the frame ``pandas.read_csv`` gives for that file with the
options the loaders use (:func:`csv_options`); the 118 call-report files ``matr_T.csv`` and
``equities_T.csv`` become one table ``callreports.parquet`` with a ``quarter`` and a
``line`` column (the row's position in its file). :func:`read_original` returns, from the
shipped copy, the frame the original file gives; :func:`build` rebuilds the shipped files
from a folder of originals (deterministic for a given pyarrow version) and checks that
they read back exactly; :func:`export_originals` writes the shipped data back in the
original CSV layout (for tools and tests that read the CSV files themselves).

Only :mod:`firesale.data` reads these files; the loaders find them through
:func:`firesale.data.shared_data.data_root` when neither ``--data`` nor ``FIRESALE_DATA``
names another folder.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from firesale.errors import DataError, Problem

__all__ = [
    "CALLREPORT_TABLE",
    "DATASETS_FOLDER",
    "LICENSES",
    "PARQUET",
    "VERBATIM",
    "build",
    "csv_options",
    "export_originals",
    "read_original",
    "sha256",
    "shipped_files",
    "shipped_quarters",
]

#: The folder of the shipped data sets (this package's folder).
DATASETS_FOLDER = Path(__file__).resolve().parent
#: Original files shipped as they are (smaller than their Parquet table).
VERBATIM = (
    "eba-2011/cleaned_data_2011.csv",
    "eba-2018/EBA_2018.csv",
    "us-commercial-banks/asset_names.csv",
)
#: Original file -> shipped Parquet table (same folder).
PARQUET = {
    "eba-2011/DATA_DISCLOSURE.CSV.csv": "eba-2011/DATA_DISCLOSURE.parquet",
    "eba-2016/average_daily_volume_sovereign.csv": "eba-2016/average_daily_volume_sovereign.parquet",
    "eba-2016/eba_exposures_2016.csv": "eba-2016/eba_exposures_2016.parquet",
    "eba-2016/eba_exposures_2020.csv": "eba-2016/eba_exposures_2020.parquet",
    "eba-2016/eba_impairments_2016.csv": "eba-2016/eba_impairments_2016.parquet",
    "eba-2016/eba_impairments_2020.csv": "eba-2016/eba_impairments_2020.parquet",
    "eba-2016/sovereign_bond_indices.csv": "eba-2016/sovereign_bond_indices.parquet",
    "us-commercial-banks/banks_names.csv": "us-commercial-banks/banks_names.parquet",
}
#: The one table of all ``matr_T.csv`` and ``equities_T.csv``.
CALLREPORT_TABLE = "us-commercial-banks/callreports.parquet"
#: Licence files of each folder, copied verbatim from the source repositories (see PROVENANCE.md);
#: :func:`build` leaves them as they are.
LICENSES = {
    "eba-2011": ("LICENSE.GraphsData",),
    "eba-2016": ("LICENSE.syslosseval",),
    "eba-2018": ("LICENSE.firesale_stresstest",),
    "us-commercial-banks": ("LICENSE.GraphsData",),
}
_CALLREPORT = re.compile(r"^us-commercial-banks/(matr|equities)_(\d+)\.csv$")
#: zstd level of the Parquet files; dictionary encoding is off (smaller for every table here).
_ZSTD_LEVEL = 19


def csv_options(relative: str) -> dict[str, Any]:
    """The ``pandas.read_csv`` options the loaders read an original file with.

    Parameters
    ----------
    relative : str
        Path of the original file below the data folder, e.g. ``"eba-2016/eba_exposures_2016.csv"``.

    Returns
    -------
    dict
        Keyword arguments for ``pandas.read_csv``: the EBA 2011 disclosure is read as text
        (Windows-1252, no NA parsing), the call-report quarters as headerless numbers, every
        other file with pandas' defaults.
    """
    if relative == "eba-2011/DATA_DISCLOSURE.CSV.csv":
        # Text cells (worksheet names, narrative answers) are Windows-1252 ("\x80" is the euro sign).
        return {"dtype": str, "encoding": "cp1252", "keep_default_na": False}
    if _CALLREPORT.match(relative):
        return {"header": None, "engine": "c"}
    return {}


def sha256(path: str | Path) -> str:
    """SHA-256 of a file, as lowercase hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def shipped_files() -> list[str]:
    """Every shipped data file (licences and PROVENANCE.md aside), relative to the folder."""
    return sorted([*VERBATIM, *PARQUET.values(), CALLREPORT_TABLE])


def _missing(relative: str, folder: Path) -> DataError:
    return DataError(Problem("FS131", relative, f"missing from the shipped data sets in {folder}: reinstall firesale, "
                             "or point --data (FIRESALE_DATA) at a folder holding the original files"))


def _read_parquet(path: Path) -> Any:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pandas()


@lru_cache(maxsize=2)
def _callreport_panel(path: Path) -> tuple[dict[int, slice], Any]:
    """The call-report table in file order: quarter -> row slice, and the frame."""
    frame = _read_parquet(path).sort_values(["quarter", "line"], kind="stable", ignore_index=True)
    quarters = frame["quarter"].to_numpy()
    starts = np.flatnonzero(np.r_[True, quarters[1:] != quarters[:-1]])
    ends = np.r_[starts[1:], len(quarters)]
    return {int(quarters[s]): slice(int(s), int(e)) for s, e in zip(starts, ends)}, frame


def shipped_quarters(folder: str | Path = DATASETS_FOLDER) -> list[int]:
    """The quarters ``T`` of the shipped call-report table, sorted."""
    path = Path(folder) / CALLREPORT_TABLE
    if not path.is_file():
        raise _missing(CALLREPORT_TABLE, Path(folder))
    return sorted(_callreport_panel(path)[0])


def read_original(relative: str, folder: str | Path = DATASETS_FOLDER) -> Any:
    """The frame ``pandas.read_csv(original, **csv_options(relative))`` gives, read from the
    shipped copy.

    Parameters
    ----------
    relative : str
        Original file below the data folder, e.g. ``"eba-2011/DATA_DISCLOSURE.CSV.csv"`` or
        ``"us-commercial-banks/matr_7.csv"``.
    folder : str or Path
        Folder of the shipped data sets (default: the package's).

    Returns
    -------
    pandas.DataFrame
        Same columns, dtypes, values and index as the CSV reader gives for the original.

    Raises
    ------
    DataError
        ``FS131`` when the file is not among the shipped data (the message names it).
    """
    import pandas as pd

    folder = Path(folder)
    if relative in VERBATIM:
        path = folder / relative
        if not path.is_file():
            raise _missing(relative, folder)
        return pd.read_csv(path, **csv_options(relative))
    if relative in PARQUET:
        path = folder / PARQUET[relative]
        if not path.is_file():
            raise _missing(PARQUET[relative], folder)
        return _read_parquet(path)
    match = _CALLREPORT.match(relative)
    if match is None:
        raise DataError(Problem("FS131", relative, f"not among the shipped data sets (files: "
                                f"{', '.join([*VERBATIM, *PARQUET])}, matr_T.csv and equities_T.csv): point --data "
                                "(FIRESALE_DATA) at a folder holding it"))
    path = folder / CALLREPORT_TABLE
    if not path.is_file():
        raise _missing(CALLREPORT_TABLE, folder)
    rows, frame = _callreport_panel(path)
    quarter = int(match.group(2))
    if quarter not in rows:
        raise _missing(relative, folder)
    part = frame.iloc[rows[quarter]]
    if match.group(1) == "matr":
        columns = [c for c in frame.columns if c not in ("equity", "quarter", "line")]
    else:
        columns = ["bank", "equity"]
    out = part[columns].reset_index(drop=True)
    out.columns = pd.Index(list(range(len(columns))), dtype="int64")
    return out


def _write_parquet(frame: Any, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd", compression_level=_ZSTD_LEVEL, use_dictionary=False)


def _callreport_frame(originals: Path) -> Any:
    """All quarters of ``matr_T.csv`` and ``equities_T.csv`` as one table, sorted by bank
    and quarter (neighbouring rows alike compress best), with each row's file position."""
    import pandas as pd

    folder = originals / "us-commercial-banks"
    names = [str(n).strip() for n in pd.read_csv(folder / "asset_names.csv", dtype=str)["Names_assets2"]]
    quarters = sorted(int(m.group(2)) for p in folder.iterdir()
                      if (m := _CALLREPORT.match(f"us-commercial-banks/{p.name}")) and m.group(1) == "matr")
    parts = []
    for quarter in quarters:
        matr = pd.read_csv(folder / f"matr_{quarter}.csv", **csv_options(f"us-commercial-banks/matr_{quarter}.csv"))
        equities = pd.read_csv(folder / f"equities_{quarter}.csv",
                               **csv_options(f"us-commercial-banks/equities_{quarter}.csv"))
        if len(matr) != len(equities) or not np.array_equal(matr[0].to_numpy(), equities[0].to_numpy()):
            raise DataError(Problem("FS136", f"us-commercial-banks/equities_{quarter}.csv",
                                    f"its bank ids are not those of matr_{quarter}.csv line by line: the one-table "
                                    "layout needs both files in the same bank order"))
        matr.columns = ["bank", *names]
        parts.append(matr.assign(equity=equities[1].to_numpy(), quarter=np.int64(quarter),
                                 line=np.arange(len(matr), dtype=np.int64)))
    return pd.concat(parts, ignore_index=True).sort_values(["bank", "quarter", "line"], kind="stable",
                                                           ignore_index=True)


def build(originals: str | Path, out: str | Path = DATASETS_FOLDER) -> dict[str, str]:
    """Rebuild the shipped files from the original CSV files, and check them.

    Parameters
    ----------
    originals : str or Path
        Folder of the originals (``eba-2011/``, ``eba-2016/``, ``eba-2018/``,
        ``us-commercial-banks/`` as distributed).
    out : str or Path
        Where to write (default: this package's folder).

    Returns
    -------
    dict of str to str
        Each shipped file (relative) to its SHA-256, as listed in the PROVENANCE.md files.

    Raises
    ------
    DataError
        ``FS136`` when a shipped file does not read back into exactly the frame of its
        original, or the call-report quarters' two files list different banks.
    """
    import pandas as pd

    originals, out = Path(originals), Path(out)
    for relative in VERBATIM:
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(originals / relative, out / relative)
    for relative, shipped in PARQUET.items():
        _write_parquet(pd.read_csv(originals / relative, **csv_options(relative)), out / shipped)
    _write_parquet(_callreport_frame(originals), out / CALLREPORT_TABLE)
    _callreport_panel.cache_clear()
    for relative in [*VERBATIM, *PARQUET, *(f"us-commercial-banks/{kind}_{q}.csv" for q in shipped_quarters(out)
                                           for kind in ("matr", "equities"))]:
        expected = pd.read_csv(originals / relative, **csv_options(relative))
        try:
            pd.testing.assert_frame_equal(read_original(relative, out), expected, check_exact=True)
        except AssertionError as err:
            raise DataError(Problem("FS136", relative, f"the shipped copy does not read back into the original's "
                                    f"frame ({err}): report this with your pandas and pyarrow versions")) from None
    return {relative: sha256(out / relative) for relative in shipped_files()}


def export_originals(out: str | Path, datasets: tuple[str, ...] | None = None,
                     folder: str | Path = DATASETS_FOLDER) -> Path:
    """Write the shipped data back in the original CSV layout.

    Each file reads back with ``pandas.read_csv(path, **csv_options(relative))`` into
    exactly the frame of the original (the bytes may differ: floats are written in their
    shortest round-trip form); verbatim files are copied.

    Parameters
    ----------
    out : str or Path
        Folder to write into (created); it can then be passed as ``--data``.
    datasets : tuple of str, optional
        Folders to write (default: all four).
    folder : str or Path
        Folder of the shipped data sets (default: the package's).

    Returns
    -------
    Path
        ``out``.
    """
    out, folder = Path(out), Path(folder)
    chosen = tuple(LICENSES) if datasets is None else datasets
    unknown = [d for d in chosen if d not in LICENSES]
    if unknown:
        raise DataError(Problem("FS131", ", ".join(unknown), f"not a shipped data set: choose among "
                                f"{', '.join(LICENSES)}"))
    originals = [*VERBATIM, *PARQUET]
    if "us-commercial-banks" in chosen:
        originals += [f"us-commercial-banks/{kind}_{q}.csv" for q in shipped_quarters(folder)
                      for kind in ("matr", "equities")]
    for relative in originals:
        if relative.split("/")[0] not in chosen:
            continue
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if relative in VERBATIM:
            shutil.copyfile(folder / relative, target)
            continue
        options = csv_options(relative)
        frame = read_original(relative, folder)
        frame.to_csv(target, index=False, header=options.get("header", "infer") is not None,
                     encoding=options.get("encoding", "utf-8"))
    for name in chosen:
        for licence in LICENSES[name]:
            shutil.copyfile(folder / name / licence, out / name / licence)
    return out
