"""``firesale generate``: write a synthetic system as a directory of tables
(:mod:`firesale.data.synthetic`).

Registered on the main app by :mod:`firesale.cli`.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

console = Console()
err_console = Console(stderr=True)


def generate(
    institutions: Annotated[int, typer.Option("--institutions", help="Number of institutions N (at least 1).")],
    assets: Annotated[int, typer.Option("--assets", help="Number of assets K (at least 1).")],
    out: Annotated[str, typer.Option("--out", help="Directory to write the tables into (created if missing; "
                                     "an existing one must be empty, unless --force).")],
    density: Annotated[float, typer.Option("--density", help="Share of institution x asset pairs held, "
                                           "in (0, 1]; 0.01 is 1%.")] = 0.01,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (0 or more): the same seed writes the same files.",
                                      min=0)] = 0,
    diversification: Annotated[float, typer.Option(
        "--diversification", help="Dirichlet concentration of portfolio weights (> 0): 1 flat, smaller "
        "concentrated, larger near-equal.")] = 1.0,
    currency: Annotated[str, typer.Option("--currency", help="Unit of every amount.")] = "USD m",
    fmt: Annotated[str, typer.Option("--format", help="Table format: csv or parquet.")] = "csv",
    force: Annotated[bool, typer.Option("--force", help="Write into an existing folder that holds files: overwrite "
                                        "the files generate writes, delete nothing.")] = False,
) -> None:
    """Write a synthetic system (Pareto sizes, mixed types, overlapping portfolios) as tables."""
    from firesale.data.synthetic import other_tables, write_generated

    with console.status(f"drawing {institutions:,} institutions x {assets:,} assets",
                        spinner="dots") if console.is_terminal else nullcontext():
        paths = write_generated(out, institutions, assets, density, seed, diversification=diversification,
                                currency=currency, fmt=fmt, force=force)
    console.print(f"wrote {len(paths)} files to {escape(out)} (check with: firesale validate {escape(out)})",
                  highlight=False)
    if others := other_tables(out, fmt):
        names = ", ".join(path.name for path in others)
        err_console.print(f"[yellow]warning:[/yellow] {escape(out)} also holds {escape(names)}, which generate did "
                          "not write and a load of the folder reads too: remove them to load the generated system",
                          highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``generate`` command to ``app``."""
    app.command()(generate)
