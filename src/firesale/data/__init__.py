"""Loaders: every way into a :class:`~firesale.system.System` (the only package, with the
run store, that opens files)."""

from firesale.data.callreports import (
    CALLREPORT_ASSET_CLASSES,
    CallReportArrays,
    callreport_arrays,
    callreport_asset_names,
    callreport_dropped,
    callreport_quarters,
    load_callreport,
)
from firesale.data.eba2011 import Eba2011Data, eba2011_excluded, load_eba2011, read_eba2011
from firesale.data.eba2016 import EBA2016_MARKETS, Eba2016, load_eba2016
from firesale.data.preset import DEFAULT_PRESET, Preset, list_presets, load, load_preset, validate
from firesale.data.shared_data import DATA_ENV_VAR, data_root, require
from firesale.data.tables import read_tables, write_tables

__all__ = [
    "CALLREPORT_ASSET_CLASSES",
    "DATA_ENV_VAR",
    "DEFAULT_PRESET",
    "EBA2016_MARKETS",
    "CallReportArrays",
    "Eba2011Data",
    "Eba2016",
    "Preset",
    "callreport_arrays",
    "callreport_asset_names",
    "callreport_dropped",
    "callreport_quarters",
    "data_root",
    "eba2011_excluded",
    "list_presets",
    "load",
    "load_callreport",
    "load_eba2011",
    "load_eba2016",
    "load_preset",
    "read_eba2011",
    "read_tables",
    "require",
    "validate",
    "write_tables",
]
