"""Where the public data sets live: the ``shared/data`` folder beside the checkout.

The real data (EBA stress tests, US call reports, sovereign bond market data) are kept
outside the repository, in a folder ``shared/data`` next to the checkout (CI clones the
repository into a sibling folder of ``shared/``). :func:`data_root` finds that folder;
:func:`require` names one file in it and says what to do when the file is missing.

Search order of :func:`data_root`:

1. the ``root`` argument, when given;
2. the environment variable ``FIRESALE_DATA``, when set;
3. the first existing ``../shared/data`` seen walking up from the current directory,
   then walking up from the location of this package.

A root that is given (argument or ``FIRESALE_DATA``) but does not exist is an error, never
a silent fall-back to the search.
"""

from __future__ import annotations

import os
from pathlib import Path

from firesale.errors import DataError, Problem

__all__ = ["DATA_ENV_VAR", "data_root", "require"]

#: Environment variable that points at the data folder.
DATA_ENV_VAR = "FIRESALE_DATA"


def _candidates(start: Path) -> list[Path]:
    """``../shared/data`` relative to ``start`` and to each of its parents."""
    return [folder.parent / "shared" / "data" for folder in (start, *start.parents)]


def data_root(root: str | Path | None = None) -> Path:
    """The folder holding the public data sets.

    Parameters
    ----------
    root : str or Path, optional
        An explicit data folder. Without it, ``FIRESALE_DATA`` is used when set, else the
        first existing ``../shared/data`` found walking up from the current directory and
        from this package's location.

    Returns
    -------
    Path
        The data folder, resolved to an absolute path.

    Raises
    ------
    DataError
        ``FS130`` when the folder given does not exist, or when none is found; the
        message lists where it looked and how to point at the data.

    Examples
    --------
    >>> from firesale.data import data_root
    >>> data_root()  # doctest: +SKIP
    PosixPath('/work/shared/data')
    """
    if root is not None:
        path = Path(root).expanduser()
        if not path.is_dir():
            what = "is a file, not a folder" if path.exists() else "does not exist"
            raise DataError(Problem(
                "FS130", str(path),
                f"the data folder given {what}: pass the folder holding eba-2011/, eba-2016/ and "
                f"us-commercial-banks/ (e.g. ../shared/data beside the checkout)",
            ))
        return path.resolve()
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            what = "is a file, not a folder" if path.exists() else "does not exist"
            raise DataError(Problem(
                "FS130", f"{DATA_ENV_VAR}={env}",
                f"the data folder named by {DATA_ENV_VAR} {what}: set {DATA_ENV_VAR}=/path/to/shared/data "
                f"(the folder holding eba-2011/, eba-2016/ and us-commercial-banks/), or unset it to search "
                f"for ../shared/data beside the checkout",
            ))
        return path.resolve()
    looked: list[Path] = []
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for candidate in _candidates(start.resolve()):
            if candidate in looked:
                continue
            looked.append(candidate)
            if candidate.is_dir():
                return candidate.resolve()
    shown = ", ".join(str(p) for p in looked[:6]) + (f" and {len(looked) - 6} more" if len(looked) > 6 else "")
    raise DataError(Problem(
        "FS130", "shared data folder",
        f"not found: looked for ../shared/data walking up from the current directory and from the firesale "
        f"package ({shown}). Point at the data with {DATA_ENV_VAR}=/path/to/shared/data, or pass root=...",
    ))


def require(root: str | Path | None, *parts: str) -> Path:
    """A file (or folder) inside the data folder, which must exist.

    Parameters
    ----------
    root : str or Path, optional
        Data folder, resolved with :func:`data_root` (None searches).
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
            f"missing from the data folder {base}: restore the file (see {base / 'README.md'}), or point "
            f"{DATA_ENV_VAR} at a complete copy of the data",
        ))
    return path
