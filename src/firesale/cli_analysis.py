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
    outcome: Annotated[str, typer.Option("--outcome", help="Loss attributed: levered_capital_loss (equity lost by "
                                         "institutions with debt, repo or derivatives) or total_loss (with the "
                                         "unlevered holders' mark-to-market).")] = "levered_capital_loss",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Shapley attribution of the loss and the forced sales to the mechanisms, all on/off combinations in one batch.

    Every shock of the scenario, exogenous redemption and client-sale waves included, hits in every combination.

    The baseline (every channel off) carries them: no channel is credited with them."""
    from firesale.analytics.attribution import OUTCOMES, attribution_summary
    from firesale.analytics.attribution import attribute as attribute_run
    from firesale.cli import _scenario
    from firesale.data.preset import load
    from firesale.errors import ConfigError, Problem, did_you_mean

    if outcome not in OUTCOMES:
        raise ConfigError(Problem("FS831", f"--outcome {outcome}", f"unknown outcome.{did_you_mean(outcome, OUTCOMES)} "
                                  f"Use one of: {', '.join(OUTCOMES)}"))
    preset = load(target)
    scenario = _scenario(preset.scenario, None, False, set_)
    quiet = as_json or not err_console.is_terminal
    with contextlib.nullcontext() if quiet else err_console.status(f"running the {players} lattice of {preset.name} ..."):
        result = attribute_run(preset.system, scenario, players)
    summary = attribution_summary(result, outcome=outcome) | {"preset": preset.name, "scenario": scenario.name}
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    cur = preset.system.currency
    what = "levered capital loss" if outcome == "levered_capital_loss" else "total loss"
    table = Table(title=f"{preset.name} — {scenario.name}: what each {players[:-1]} caused (Shapley values)",
                  caption="share: the value over the sum of the players' absolute values, with its sign")
    for col in ("", what, "share", "alone", "forced sales", "share of the sales"):
        table.add_column(col, justify="left" if not col else "right")

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{x:.1%}"

    for name in summary["players"]:
        table.add_row(name, f"{summary['shapley'][name]:,.2f}", pct(summary["share"][name]),
                      f"{summary['alone'][name]:,.2f}", f"{summary['shapley_forced_sales'][name]:,.2f}",
                      pct(summary["share_forced_sales"][name]))
    console.print(table)
    console.print(f"{what} with every channel off (the baseline: the shocks and exogenous waves alone): "
                  f"{summary['baseline_loss']:,.2f} {cur}; with every {players[:-1]}: {summary['total_loss']:,.2f} "
                  f"{cur}; the Shapley values add up to the difference, {summary['amplification_loss']:,.2f} {cur}",
                  highlight=False)
    if summary["interactions"]:
        text = ", ".join(f"{k}: {v:+,.2f}" for k, v in summary["interactions"].items())
        console.print(f"interactions (what the mechanisms do together beyond their parts): {text}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the analysis commands to ``app``."""
    app.command()(attribute)
