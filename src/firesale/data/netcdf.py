"""Results on disk: netCDF files written atomically (a killed write leaves no partial file)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import xarray as xr

from firesale.errors import ConfigError, Problem

__all__ = ["dataset_bytes", "open_dataset", "save_dataset"]


def save_dataset(ds: xr.Dataset, path: str | Path) -> Path:
    """Write a results Dataset to ``path`` (netCDF, via scipy), replacing it atomically."""
    path = Path(path)
    if path.suffix not in (".nc", ".netcdf"):
        raise ConfigError(Problem("FS301", str(path), "results are written as netCDF: use a .nc file name"))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".nc.part")
    os.close(fd)
    try:
        ds.to_netcdf(tmp, engine="scipy")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def dataset_bytes(ds: xr.Dataset) -> bytes:
    """A results Dataset as the bytes of a netCDF file (what :func:`save_dataset` writes),
    e.g. for a download; :func:`open_dataset` reads the file back."""
    return bytes(ds.to_netcdf(engine="scipy"))


def open_dataset(path: str | Path) -> xr.Dataset:
    """Read a results Dataset written by :func:`save_dataset`."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(Problem("FS302", str(path), "file not found"))
    with xr.open_dataset(path, engine="scipy") as ds:
        return ds.load()
