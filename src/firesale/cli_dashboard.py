"""``firesale dashboard``: the Streamlit app (:mod:`firesale.dashboard`) in a browser.

Registered on the main app by :mod:`firesale.cli`. It runs ``streamlit run`` on
:data:`firesale.dashboard.APP_PATH` in a child process, bound to ``127.0.0.1`` unless
``--host`` says otherwise.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

console = Console(stderr=True)

#: Where the app listens by default: this machine only.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8501


def streamlit_command(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, browser: bool = True) -> list[str]:
    """The ``streamlit run`` command line that serves the dashboard.

    Examples
    --------
    >>> command = streamlit_command(port=8600, browser=False)
    >>> command[command.index("--server.address") + 1], command[command.index("--server.port") + 1]
    ('127.0.0.1', '8600')
    """
    from firesale.dashboard import APP_PATH

    return [sys.executable, "-m", "streamlit", "run", str(APP_PATH), "--server.address", host,
            "--server.port", str(port), "--server.headless", "false" if browser else "true",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            "--global.developmentMode", "false", "--client.toolbarMode", "viewer",
            # an error a page did not catch shows its type and a generic message, never a traceback
            "--client.showErrorDetails", "type"]


def dashboard(
    host: Annotated[str, typer.Option("--host", help="Address to listen on: 127.0.0.1 (this machine only) by "
                                                     "default; 0.0.0.0 shares it on the network.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)] = DEFAULT_PORT,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Do not open a browser tab.")] = False,
) -> None:
    """Open the dashboard: a preset or uploaded tables, shocks and policy levers, results, comparisons
    and the run store, in the browser."""
    from firesale.dashboard import check_streamlit
    from firesale.dashboard.process import serve

    check_streamlit()
    console.print(f"firesale dashboard on http://{escape(host)}:{port} (Ctrl-C stops it)", highlight=False)
    # SIGTERM, SIGINT and SIGHUP are passed on to Streamlit, and waited for: no server is left on the port
    code = serve(streamlit_command(host, port, browser=not no_browser))
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add the ``dashboard`` command to ``app``."""
    app.command()(dashboard)
