"""Where the public data sets live: shipped with the package, or a folder the user names.

The real data (EBA stress tests, US call reports, sovereign bond market data) ship inside
the package (:mod:`firesale.data.datasets`: compressed copies, their licences and
provenance). :func:`data_root` says which folder the loaders read; :func:`require` names
one file in it and says what to do when the file is missing.

Order of :func:`data_root`:

1. the ``root`` argument (``--data`` on the command line), when given;
2. the environment variable ``FIRESALE_DATA``, when set;
3. the shipped data sets (:data:`firesale.data.datasets.DATASETS_FOLDER`).

A folder named by (1) or (2) holds the original CSV layout (``eba-2011/DATA_DISCLOSURE.CSV.csv``,
``eba-2016/eba_exposures_2016.csv``, ``us-commercial-banks/matr_T.csv`` ...) and is read as
CSV; the shipped folder is read from its Parquet tables into the same frames
(:func:`is_shipped`, :func:`firesale.data.datasets.read_original`). A folder that is named
but does not exist is an error, never a silent fall-back to the shipped copy.
"""

from __future__ import annotations

import os
from pathlib import Path

from firesale.data.datasets import DATASETS_FOLDER
from firesale.errors import DataError, Problem

__all__ = ["DATA_ENV_VAR", "data_root", "is_shipped", "require"]

#: Environment variable that points at the data folder.
DATA_ENV_VAR = "FIRESALE_DATA"


def is_shipped(root: str | Path) -> bool:
    """Whether ``root`` is the folder of the shipped data sets (read as Parquet, not CSV)."""
    return Path(root).resolve() == DATASETS_FOLDER


#: How to point the loaders at another folder (the end of every FS130/FS131 message).
_HOW = (f"pass --data /path/to/data on the command line (root=... in Python) or set {DATA_ENV_VAR}=/path/to/data, "
        "a folder holding eba-2011/, eba-2016/ and us-commercial-banks/ as distributed")


def data_root(root: str | Path | None = None) -> Path:
    """The folder holding the public data sets.

    Parameters
    ----------
    root : str or Path, optional
        An explicit data folder (the CLI's ``--data``). Without it, ``FIRESALE_DATA`` is
        used when set, else the data sets shipped with the package.

    Returns
    -------
    Path
        The data folder, resolved to an absolute path.

    Raises
    ------
    DataError
        ``FS130`` when the folder given does not exist, or the shipped folder is missing
        (a broken install); the message says how to point at the data (``--data``,
        ``FIRESALE_DATA``).

    Examples
    --------
    >>> from firesale.data import data_root
    >>> from firesale.data.datasets import DATASETS_FOLDER
    >>> data_root(DATASETS_FOLDER) == DATASETS_FOLDER
    True
    """
    if root is not None:
        path = Path(root).expanduser()
        if not path.is_dir():
            what = "is a file, not a folder" if path.exists() else "does not exist"
            raise DataError(Problem(
                "FS130", str(path),
                f"the data folder given (--data, or root= in Python) {what}: pass the folder holding "
                f"eba-2011/, eba-2016/ and us-commercial-banks/, or leave --data out to use the data sets "
                f"shipped with firesale",
            ))
        return path.resolve()
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            what = "is a file, not a folder" if path.exists() else "does not exist"
            raise DataError(Problem(
                "FS130", f"{DATA_ENV_VAR}={env}",
                f"the data folder named by {DATA_ENV_VAR} {what}: set {DATA_ENV_VAR}=/path/to/data "
                f"(the folder holding eba-2011/, eba-2016/ and us-commercial-banks/), or unset it to use the "
                f"data sets shipped with firesale",
            ))
        return path.resolve()
    if not DATASETS_FOLDER.is_dir():
        raise DataError(Problem(
            "FS130", "shipped data sets",
            f"not found: {DATASETS_FOLDER} is missing from the firesale package (a broken install). Reinstall "
            f"firesale, or {_HOW}",
        ))
    return DATASETS_FOLDER


def require(root: str | Path | None, *parts: str) -> Path:
    """A file (or folder) inside the data folder, which must exist.

    Parameters
    ----------
    root : str or Path, optional
        Data folder, resolved with :func:`data_root` (None: ``FIRESALE_DATA``, else the
        shipped data sets).
    *parts : str
        Path components below the root, e.g. ``"eba-2011", "DATA_DISCLOSURE.CSV.csv"``.

    Returns
    -------
    Path
        The existing path.

    Raises
    ------
    DataError
        ``FS130`` when the data folder is not found; ``FS131`` naming the missing file.
    """
    base = data_root(root)
    path = base.joinpath(*parts)
    if not path.exists():
        relative = "/".join(parts)
        raise DataError(Problem(
            "FS131", relative,
            f"missing from the data folder {base}: restore the file, or leave --data and {DATA_ENV_VAR} unset to "
            f"use the data sets shipped with firesale",
        ))
    return path
