"""Figures: plotly, imported through one helper that names the extra to install, and
written as ``.html`` or ``.png``. The core never imports plotly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from firesale.errors import ConfigError, Problem

__all__ = ["FIGURE_SUFFIXES", "plotly_graph_objects", "check_figure_path", "write_figure"]

#: What :func:`write_figure` writes.
FIGURE_SUFFIXES = (".html", ".png")


def plotly_graph_objects() -> Any:
    """``plotly.graph_objects``, or a ConfigError naming the extra to install."""
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise ConfigError(Problem("FS704", "figure", 'drawing figures needs plotly: pip install "firesale[figures]"'
                                  )) from None
    return go


def check_figure_path(path: str | Path) -> Path:
    """The figure path, if its suffix is one :func:`write_figure` writes and its folder
    exists: commands call this before any work, so a typo fails at once.

    Raises
    ------
    ConfigError
        Another suffix, listing ``.html`` and ``.png`` (FS705); a folder that does not
        exist or is a file (FS851); a path that is a folder (FS851).
    """
    path = Path(path)
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise ConfigError(Problem("FS705", f"figure {str(path)!r}", f"unknown figure type {path.suffix or '(none)'!r}: "
                                  "write .html (interactive) or .png (needs kaleido), e.g. boundary.html"))
    folder = path.parent
    if not folder.exists():
        raise ConfigError(Problem("FS851", f"figure {str(path)!r}", f"the folder {str(folder)!r} does not exist: "
                                  "create it first, or write the figure into an existing folder"))
    if not folder.is_dir():
        raise ConfigError(Problem("FS851", f"figure {str(path)!r}", f"{str(folder)!r} is a file, not a folder: "
                                  "write the figure into a folder"))
    if path.is_dir():
        raise ConfigError(Problem("FS851", f"figure {str(path)!r}", "is a folder: give a file name, e.g. "
                                  f"{str(path / ('figure' + path.suffix))!r}"))
    return path


def write_figure(fig: Any, path: str | Path) -> Path:
    """Write a plotly figure: ``.html`` (self-contained: plotly.js inside, so it opens
    offline, like the report) or ``.png`` (kaleido).

    Raises
    ------
    ConfigError
        Another suffix, or a PNG export that failed (kaleido needs a Chrome/Chromium).
    """
    path = check_figure_path(path)
    if path.suffix.lower() == ".html":
        fig.write_html(str(path), include_plotlyjs=True, full_html=True)
        return path
    try:
        fig.write_image(str(path))
    except Exception as err:  # noqa: BLE001 - kaleido missing, or no browser for it to drive: any failure
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(Problem(
            "FS706", f"figure {str(path)!r}",
            f"PNG export failed ({reason[:120]}): it needs kaleido (pip install kaleido) and a Chrome/Chromium "
            "(set BROWSER_PATH=/usr/bin/chromium); or write .html instead")) from None
    return path
