"""Results on disk: netCDF files written atomically (a killed write leaves no partial file).

Every file firesale writes for the user (``--out``, a store's ``results.nc``) goes through
:func:`atomic_path`: it is written under a temporary name beside its destination and
renamed over it in one step (:func:`os.replace`), so a reader sees the old file or the new
one, never half of one, and a failed or killed write leaves the old file as it was. A new
file gets the permissions the umask gives (``0o644`` under the usual ``022``); a file
that is replaced keeps its own.
"""

from __future__ import annotations

import contextlib
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import xarray as xr

from firesale.errors import ConfigError, FiresaleError, Problem

__all__ = ["atomic_path", "dataset_bytes", "open_dataset", "save_dataset"]


def _write_problem(path: Path, err: OSError) -> ConfigError:
    reason = err.strerror or type(err).__name__
    return ConfigError(Problem("FS915", str(path), f"cannot write the file ({reason}): choose a path in a folder "
                               "you can write; nothing was changed there"))


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed over ``path`` when the block
    ends without an error, removed otherwise.

    The temporary name keeps the suffix (``.loss.html.1f2e....html`` for ``loss.html``),
    so writers that choose the format by suffix write the right one. The caller's writer
    creates the file, so it gets the umask's permissions; when ``path`` exists already,
    the new file takes its permission bits instead.

    Raises
    ------
    ConfigError
        ``path`` is a folder (FS915), or its folder cannot be created or written (FS915).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(folder / "a.txt") as tmp:
    ...     _ = tmp.write_text("hello")
    >>> (folder / "a.txt").read_text(), sorted(p.name for p in folder.iterdir())
    ('hello', ['a.txt'])
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(Problem("FS915", str(path), "is a folder: give a file name to write (the folder was "
                                  "left as it is)"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _write_problem(path, err) from None
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}{path.suffix}")
    try:
        yield tmp
        if not tmp.exists():
            raise ConfigError(Problem("FS915", str(path), "the writer produced no file; nothing was changed"))
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))  # a replaced file keeps its permissions
        os.replace(tmp, path)
    except OSError as err:
        raise _write_problem(path, err) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def save_dataset(ds: xr.Dataset, path: str | Path) -> Path:
    """Write a results Dataset to ``path`` (netCDF, via scipy), replacing it atomically
    (see :func:`atomic_path`: the umask's permissions for a new file).

    Raises
    ------
    ConfigError
        Not a ``.nc`` name (FS301), or a path that cannot be written (FS915).
    """
    path = Path(path)
    if path.suffix not in (".nc", ".netcdf"):
        raise ConfigError(Problem("FS301", str(path), "results are written as netCDF: use a .nc file name"))
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="scipy")
    return path


def dataset_bytes(ds: xr.Dataset) -> bytes:
    """A results Dataset as the bytes of a netCDF file (what :func:`save_dataset` writes),
    e.g. for a download; :func:`open_dataset` reads the file back."""
    return bytes(ds.to_netcdf(engine="scipy"))


def open_dataset(path: str | Path) -> xr.Dataset:
    """Read a results Dataset written by :func:`save_dataset`.

    Raises
    ------
    ConfigError
        The file is missing (FS302), or truncated or not a netCDF file (FS914).
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(Problem("FS302", str(path), "file not found"))
    try:
        with xr.open_dataset(path, engine="scipy") as ds:
            return ds.load()
    except FiresaleError:
        raise
    except Exception as err:  # noqa: BLE001 - scipy's reader fails on a cut file with any of several errors
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(Problem(
            "FS914", str(path),
            f"cannot be read as a netCDF results file ({type(err).__name__}: {detail[:120]}): it is truncated or "
            "damaged; write it again (firesale run --out)")) from None
