"""Loaders: every way into a :class:`~firesale.system.System` (the only package, with the
run store, that opens files)."""

from firesale.data.preset import DEFAULT_PRESET, Preset, list_presets, load, load_preset, validate
from firesale.data.tables import read_tables, write_tables

__all__ = ["DEFAULT_PRESET", "validate", "Preset", "load", "load_preset", "list_presets", "read_tables", "write_tables"]
