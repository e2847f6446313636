"""``firesale attribute``: how much of the damage each mechanism caused (exact Shapley values)."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


def attribute(
    target: Annotated[str, typer.Argument(help="Preset name, preset .toml file, or directory of tables.")],
    players: Annotated[str, typer.Option("--players", help="mechanisms (3: balance sheet, funding, information; "
                                         "8 runs) or channels (every switch on its own; 512 runs).")] = "mechanisms",
    set_: Annotated[list[str] | None, typer.Option("--set", help="Scenario override FIELD=VALUE.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Shapley attribution of the loss and the forced sales to the mechanisms, all on/off combinations in one batch."""
    from firesale.analytics.attribution import attribute as attribute_run
    from firesale.analytics.attribution import attribution_summary
    from firesale.cli import _scenario
    from firesale.data.preset import load

    preset = load(target)
    scenario = _scenario(preset.scenario, None, False, set_)
    quiet = as_json or not err_console.is_terminal
    with contextlib.nullcontext() if quiet else err_console.status(f"running the {players} lattice of {preset.name} ..."):
        result = attribute_run(preset.system, scenario, players)
    summary = attribution_summary(result) | {"preset": preset.name, "scenario": scenario.name}
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    cur = preset.system.currency
    table = Table(title=f"{preset.name} — {scenario.name}: what each {players[:-1]} caused (Shapley values)")
    for col in ("", "loss", "share of the loss", "alone", "forced sales", "share of the sales"):
        table.add_column(col, justify="left" if not col else "right")

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{x:.1%}"

    for name in summary["players"]:
        table.add_row(name, f"{summary['shapley'][name]:,.2f}", pct(summary["share"][name]),
                      f"{summary['alone'][name]:,.2f}", f"{summary['shapley_forced_sales'][name]:,.2f}",
                      pct(summary["share_forced_sales"][name]))
    console.print(table)
    console.print(f"plain revaluation (every mechanism off): {summary['baseline_loss']:,.2f} {cur}; with every "
                  f"mechanism: {summary['total_loss']:,.2f} {cur}; the Shapley values add up to the difference, "
                  f"{summary['amplification_loss']:,.2f} {cur}", highlight=False)
    if summary["interactions"]:
        text = ", ".join(f"{k}: {v:+,.2f}" for k, v in summary["interactions"].items())
        console.print(f"interactions (what the mechanisms do together beyond their parts): {text}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the analysis commands to ``app``."""
    app.command()(attribute)
