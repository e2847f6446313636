"""Tables uploaded as files (the dashboard's upload): the documented table files and an
optional ``scenario.toml``, given as names and bytes, loaded like a directory of tables.

The files are written to a temporary folder named after the system and read by
:func:`firesale.data.preset.load`, so every check of :func:`~firesale.data.tables.read_tables`
applies and every problem names its file, row and field.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

from firesale.data.preset import Preset, load
from firesale.data.tables import TABLE_NAMES
from firesale.errors import ConfigError, Problem, did_you_mean

__all__ = ["UPLOAD_NAMES", "load_uploaded"]

#: File names an upload may have: each table as ``.csv`` or ``.parquet``, and ``scenario.toml``.
UPLOAD_NAMES: tuple[str, ...] = (*(f"{table}{suffix}" for table in TABLE_NAMES for suffix in (".csv", ".parquet")),
                                 "scenario.toml")


def load_uploaded(files: Mapping[str, bytes], name: str = "uploaded") -> Preset:
    """A system (and its scenario) from uploaded table files.

    Parameters
    ----------
    files : mapping of str to bytes
        File name → contents; names from :data:`UPLOAD_NAMES` (``institutions.csv``,
        ``holdings.parquet``, ``scenario.toml``, ...).
    name : str
        The system's name when no ``scenario.toml`` names it.

    Returns
    -------
    Preset
        As :func:`firesale.data.preset.load` returns for a directory of tables.

    Raises
    ------
    ConfigError
        A file name that is not a table's (with the accepted names), or an invalid scenario.
    DataError
        Invalid or missing tables: every problem at once, each with file, row and field.

    Examples
    --------
    >>> files = {"institutions.csv": b"name,type,cash,liabilities\\nd1,dealer,10,90\\n",
    ...          "assets.csv": b"name,class,sigma0\\nust,treasury,0.01\\n",
    ...          "holdings.csv": b"institution,asset,quantity\\nd1,ust,-5\\n"}
    >>> try:
    ...     load_uploaded(files)
    ... except Exception as err:
    ...     print(err.problems[0].where)
    holdings.csv row 1 (d1, ust), field quantity
    """
    unknown = [file for file in files if Path(file).name != file or file not in UPLOAD_NAMES]
    if unknown:
        raise ConfigError([
            Problem("FS750", f"upload {file!r}", f"is not a table file.{did_you_mean(file, UPLOAD_NAMES)} Accepted "
                    f"names: {', '.join(UPLOAD_NAMES)}; rename the file to its table's name")
            for file in unknown])
    folder_name = re.sub(r"[^\w.-]+", "_", name).strip("._") or "uploaded"
    with tempfile.TemporaryDirectory(prefix="firesale-upload-") as tmp:
        folder = Path(tmp) / folder_name
        folder.mkdir()
        for file, data in files.items():
            (folder / file).write_bytes(data)
        return load(folder)
