"""firesale: how a constrained inter-dealer market turns a liquidity shock into a systemic crisis."""

from firesale._version import __version__
from firesale.data.preset import Preset, list_presets, load, load_preset
from firesale.errors import ConfigError, DataError, FiresaleError
from firesale.scenario import Policy, Scenario, Shock, mechanism_lattice
from firesale.simulation import simulate
from firesale.system import Asset, Institution, System

__all__ = [
    "__version__",
    "System",
    "Institution",
    "Asset",
    "Scenario",
    "Shock",
    "Policy",
    "Preset",
    "simulate",
    "mechanism_lattice",
    "load",
    "load_preset",
    "list_presets",
    "FiresaleError",
    "DataError",
    "ConfigError",
]
