"""The dashboard: a Streamlit app doing for one system what the command line does
(``firesale dashboard``; optional extra ``pip install "firesale[dashboard]"``).

Pages: System (a preset or uploaded tables, their problems and a summary), Run (shocks,
channels and policy levers, then the results: headline numbers, price paths, equity
waterfall, cascade timeline, regime table, attribution, downloads), Compare (baseline
against policies), Reverse stress test (the most plausible shock that meets a target) and
Runs (the run store). The logic lives in plain functions in
:mod:`firesale.dashboard.logic`; :mod:`firesale.dashboard.views` only lays out widgets,
and :data:`APP_PATH` is the script ``streamlit run`` starts, in a child process of
``firesale dashboard`` that stops with it (:mod:`firesale.dashboard.process`).

Streamlit is imported only when a page is drawn (through :func:`require_streamlit`), never
by ``import firesale`` or ``import firesale.dashboard``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from firesale.errors import ConfigError, Problem

__all__ = ["APP_PATH", "INSTALL_HINT", "check_streamlit", "require_streamlit"]

#: The Streamlit script of the app.
APP_PATH = Path(__file__).with_name("app.py")
#: What to install for the dashboard.
INSTALL_HINT = 'pip install "firesale[dashboard]"'


def check_streamlit() -> None:
    """Raise a ConfigError naming the extra to install when streamlit is missing (without
    importing it)."""
    if importlib.util.find_spec("streamlit") is None:
        raise ConfigError(Problem("FS751", "dashboard", f"the dashboard needs streamlit: {INSTALL_HINT}"))


def require_streamlit() -> Any:
    """The ``streamlit`` module, or a ConfigError naming the extra to install."""
    check_streamlit()
    import streamlit

    return streamlit
