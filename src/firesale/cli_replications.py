"""``firesale vulnerability``, ``deleveraging``, ``equilibrium`` and ``contagion``: the
literature's models on the public data (:mod:`firesale.analytics.replications`).

Registered on the main app by :mod:`firesale.cli`; the data are found by
:func:`firesale.data.shared_data.data_root` (``--data`` or ``FIRESALE_DATA``).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from firesale.errors import ConfigError, Problem

console = Console()
err_console = Console(stderr=True)

DataOpt = Annotated[str | None, typer.Option("--data", help="Folder of the public data in their original layout "
                                                             "(default: FIRESALE_DATA, or the data sets shipped "
                                                             "with firesale).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
OutOpt = Annotated[str | None, typer.Option("--out", help="Write the figure to this .html or .png file.")]
StoreOpt = Annotated[str | None, typer.Option("--store", help="Run store folder (default: FIRESALE_STORE, or "
                                                              "./firesale-runs).")]
NoRecordOpt = Annotated[bool, typer.Option("--no-record", help="Do not record this replication in the run store.")]
#: Banks (and assets) of ``contagion`` by default: 1,000 as in the paper; its default run takes
#: about 10 s (11 diversification levels x 2 leverages x 200 trials).
BANKS_DEFAULT = 1000


def _emit(summary: dict[str, Any], as_json: bool) -> bool:
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
    return as_json


def _record(run_store: Any, target: str, params: dict[str, Any], summary: dict[str, Any]) -> str | None:
    """Record a replication with every parameter that determines it; its run ID."""
    if run_store is None:
        return None
    import shlex

    return run_store.record_replication("replication", params, summary, target=target,
                                        command=shlex.join(["firesale", *sys.argv[1:]]))


def _figure(kind: str, data: Any, out: str | None) -> None:
    if not out:
        return
    from firesale.analytics.figures import write_figure
    from firesale.analytics.replications import figure

    write_figure(figure(kind, data), out)


def _publish(kind: str, figure_data: Any, out: str | None, run_store: Any, target: str, params: dict[str, Any],
             summary: dict[str, Any], as_json: bool, shown: dict[str, Any] | None = None) -> bool:
    """Write the figure, record the replication and, with --json, print ``shown`` (default:
    the summary) with the figure path and run ID. True when printed: the command is done."""
    _figure(kind, figure_data, out)
    run_id = _record(run_store, target, params, summary)
    return _emit((summary if shown is None else shown) | {"figure": out, "run_id": run_id}, as_json)


def _figure_written(out: str | None) -> None:
    if out:
        console.print(f"figure written to {escape(out)}", highlight=False)


def _working(what: str, quiet: bool) -> Any:
    """A spinner on stderr while ``what`` runs (none for --json or outside a terminal)."""
    import contextlib

    if quiet or not err_console.is_terminal:
        return contextlib.nullcontext()
    return err_console.status(what + " ...")


def _check_out(out: str | None) -> None:
    if out:
        from firesale.analytics.figures import check_figure_path

        check_figure_path(out)


def _numbers(option: str, text: str) -> tuple[float, ...]:
    """``"1,1.5,2"`` -> (1.0, 1.5, 2.0), or a ConfigError naming the option and the bad item."""
    items = [item.strip() for item in text.split(",")]
    try:
        values = tuple(float(item) for item in items)
    except ValueError:
        values = ()
    if not values or not all(v == v and abs(v) != float("inf") for v in values):
        raise ConfigError(Problem("FS821", f"option {option}", f"got {text!r}: give numbers separated by commas, "
                                  f"e.g. {option} 2,4,8"))
    return values


def vulnerability(
    dataset: Annotated[str, typer.Argument(help="eba2011 (GLT on the EBA 2011 banks) or callreports (US commercial "
                                                "banks, 59 quarters).")],
    write_down: Annotated[float, typer.Option("--write-down", help="eba2011: write-down of GIIPS sovereign debt "
                                              "(0.1 = 10%).")] = 0.1,
    fall: Annotated[float, typer.Option("--fall", help="callreports: fall of every non-cash asset.")] = 0.01,
    impact: Annotated[float, typer.Option("--impact", help="Price impact per euro / dollar sold (GLT: 1e-13, 10 bp "
                                          "per 10 bn).")] = 1e-13,
    top: Annotated[int, typer.Option("--top", help="eba2011: banks listed by each ranking.")] = 10,
    data: DataOpt = None,
    out: OutOpt = None,
    as_json: JsonOpt = False,
    store: StoreOpt = None,
    no_record: NoRecordOpt = False,
) -> None:
    """Greenwood-Landier-Thesmar vulnerability: EBA 2011 banks, or the US index over quarters."""
    from firesale.analytics import replications
    from firesale.store import recording_store

    _check_out(out)
    run_store = recording_store(store, no_record)
    params = {"model": "glt", "data_set": dataset, "write_down": write_down, "fall": fall, "impact": impact}
    if dataset == "eba2011":
        with _working("loading EBA 2011", as_json):
            summary, table = replications.glt_eba2011(write_down, impact, top, data)
        if _publish("systemicness", table, out, run_store, f"vulnerability {dataset}", params, summary, as_json):
            return
        console.print(f"[bold]GLT on EBA 2011[/bold]: {summary['banks']} banks, GIIPS sovereigns written down "
                      f"{summary['write_down']:.0%}, impact {summary['impact_per_euro']:g} per euro on every asset",
                      highlight=False)
        console.print(f"direct loss {summary['direct_loss']:.2%} of system equity; aggregate vulnerability (one "
                      f"round) {summary['aggregate_vulnerability']:.2%}", highlight=False)
        for key, title in (("top_systemicness", "systemicness (share of system equity)"),
                           ("top_indirect_vulnerability", "indirect vulnerability (share of own equity)")):
            ranking = Table(title=f"Most {title.split(' (')[0]}: {title}")
            ranking.add_column("rank", justify="right")
            ranking.add_column("bank")
            ranking.add_column("value", justify="right")
            field = key.removeprefix("top_")
            for r, row in enumerate(summary[key], 1):
                ranking.add_row(str(r), escape(str(row["bank"])), f"{row[field]:.2%}")
            console.print(ranking)
    elif dataset == "callreports":
        from rich import progress as bars

        columns = (bars.TextColumn("{task.description}"), bars.BarColumn(), bars.MofNCompleteColumn(),
                   bars.TimeElapsedColumn())
        with bars.Progress(*columns, console=err_console, transient=True,
                           disable=not err_console.is_terminal) as bar:
            task = bar.add_task("quarters", total=59)
            summary, series = replications.callreport_index(impact, fall, data, lambda: bar.advance(task))
        if _publish("index", series, out, run_store, f"vulnerability {dataset}", params, summary, as_json):
            return
        table = Table(title=f"Aggregate vulnerability of US commercial banks: a {fall:.0%} fall of every non-cash "
                      f"asset, impact {impact:g} per dollar")
        for col in ("quarter", "banks", "AV (share of system equity)"):
            table.add_column(col, justify="right")
        for q, n, av in zip(summary["quarters"], summary["banks"], summary["aggregate_vulnerability"]):
            table.add_row(escape(str(q)), f"{n:,}", f"{av:.2%}")
        console.print(table)
        peak = summary["peak"]
        console.print(f"peak: quarter {escape(str(peak['quarter']))}, {peak['aggregate_vulnerability']:.2%} of "
                      "system equity",
                      highlight=False)
    else:
        raise ConfigError(Problem("FS820", f"data set {dataset!r}", "unknown: use eba2011 or callreports"))
    _figure_written(out)


def deleveraging(
    dataset: Annotated[str, typer.Argument(help="eba2011")] = "eba2011",
    write_down: Annotated[float, typer.Option("--write-down", help="Write-down of GIIPS sovereign debt.")] = 0.1,
    impact: Annotated[float, typer.Option("--impact", help="Price impact per euro sold.")] = 1e-13,
    lambda_max: Annotated[float, typer.Option("--lambda-max", help="Leverage bound (assets / equity).")] = 33.3,
    data: DataOpt = None,
    out: OutOpt = None,
    as_json: JsonOpt = False,
    store: StoreOpt = None,
    no_record: NoRecordOpt = False,
) -> None:
    """Cont-Schaanning deleveraging rounds on the EBA 2011 banks, against GLT's one round."""
    from firesale.analytics import replications
    from firesale.store import recording_store

    if dataset != "eba2011":
        raise ConfigError(Problem("FS820", f"data set {dataset!r}", "unknown: use eba2011"))
    _check_out(out)
    run_store = recording_store(store, no_record)
    with _working("deleveraging rounds", as_json):
        summary = replications.cs_eba2011(write_down, impact, lambda_max, root=data)
    params = {"model": "cont_schaanning", "data_set": dataset, "write_down": write_down, "impact": impact,
              "lambda_max": lambda_max}
    if _publish("deleveraging", summary, out, run_store, f"deleveraging {dataset}", params, summary, as_json):
        return
    table = Table(title=f"Cont-Schaanning on EBA 2011: GIIPS −{write_down:.0%}, λ_max {lambda_max:g}")
    for col in ("round", "fire-sale loss (share of system equity)", "banks delevering"):
        table.add_column(col, justify="right")
    for r, (loss, n) in enumerate(zip(summary["fire_sale_loss_by_round"], summary["delevering_by_round"]), 1):
        table.add_row(str(r), f"{loss:.3%}", str(n))
    console.print(table)
    console.print(f"initial loss {summary['initial_loss']:.2%}, fire sales {summary['fire_sale_loss']:.2%} "
                  f"({summary['fire_sale_share']:.1%} of the total), {summary['insolvent']} banks insolvent; "
                  f"GLT one round: {summary['glt_one_round']:.2%}", highlight=False)
    _figure_written(out)


def equilibrium(
    dataset: Annotated[str, typer.Argument(help="eba2016")] = "eba2016",
    leverage_bound: Annotated[float, typer.Option("--leverage-bound", help="λ̄, assets / equity.")] = 33.0,
    kappa: Annotated[float, typer.Option("--kappa", help="Square-root impact constant (> 0).")] = 1.5,
    horizon: Annotated[int, typer.Option("--horizon", help="Stress horizon in years: 1, 2 or 3.")] = 1,
    year: Annotated[int, typer.Option("--year", help="2016 (stress test) or 2020 (transparency exercise).")] = 2016,
    convention: Annotated[str, typer.Option("--convention", help="corrected (the paper's equations) or syslosseval "
                                            "(the authors' R code as published).")] = "corrected",
    data: DataOpt = None,
    out: OutOpt = None,
    as_json: JsonOpt = False,
    store: StoreOpt = None,
    no_record: NoRecordOpt = False,
) -> None:
    """Breuer-Summer-Urosevic fire-sale equilibria on the EBA 2016 banks: price impact per sovereign market."""
    import math

    from firesale.analytics.replications import bsu_eba2016
    from firesale.data.eba2016 import BSU_CONVENTIONS, BSU_HORIZONS, BSU_YEARS
    from firesale.store import recording_store

    if dataset != "eba2016":
        raise ConfigError(Problem("FS820", f"data set {dataset!r}", "unknown: use eba2016"))
    bad = [(name, value, allowed) for name, value, ok, allowed in (
        ("--kappa", kappa, math.isfinite(kappa) and kappa > 0, "a number above 0 (the paper uses 1.5)"),
        ("--leverage-bound", leverage_bound, math.isfinite(leverage_bound) and leverage_bound > 0,
         "a number above 0 (the paper uses 33)"),
        ("--horizon", horizon, horizon in BSU_HORIZONS, "1, 2 or 3"),
        ("--year", year, year in BSU_YEARS, "2016 or 2020"),
        ("--convention", convention, convention in BSU_CONVENTIONS, "corrected or syslosseval")) if not ok]
    if bad:
        raise ConfigError([Problem("FS821", f"option {name}", f"got {value!r}: use {allowed}")
                           for name, value, allowed in bad])
    _check_out(out)
    run_store = recording_store(store, no_record)
    with _working("iterating to the fire-sale equilibria", as_json):
        summary = bsu_eba2016(leverage_bound, kappa, data, year=year, horizon=horizon, convention=convention)
    params = {"model": "bsu", "data_set": dataset, "leverage_bound": leverage_bound, "kappa": kappa,
              "horizon": horizon, "year": year, "convention": convention}
    if _publish("equilibrium", summary, out, run_store, f"equilibrium {dataset}", params, summary, as_json):
        return
    table = Table(title=f"BSU on EBA {year} ({convention}): {summary['banks']} banks, {horizon}-year adverse "
                  f"scenario, λ̄ = {leverage_bound:g}, κ = {kappa:g}, credit losses "
                  f"{summary['credit_loss']:,.0f} EUR m")
    for col in ("market", "lower", "upper", "every bond sold", "σ, ADV of"):
        table.add_column(col, justify="right" if col != "market" else "left")
    for m in summary["lower"]:
        table.add_row(escape(str(m)), f"{summary['lower'][m]:.3%}", f"{summary['upper'][m]:.3%}",
                      f"{summary['max'][m]:.3%}", escape(summary["sigma_label"][m]))
    console.print(table)
    it = summary["iterations"]
    console.print(f"{'multiple equilibria' if summary['multiple'] else 'one equilibrium'}; iterations: lower "
                  f"{it['lower']}, upper {it['upper']}; banks selling: {summary['banks_selling']['lower']}",
                  highlight=False)
    over = Table(title=f"Banks over the leverage bound λ̄ = {leverage_bound:g} (leverage = assets / equity)")
    for col in ("bank", "t = 0", "after the stress", "after fire sales (lower)", "(upper)", "sells (lower)"):
        over.add_column(col, justify="left" if col == "bank" else "right")
    for row in summary["banks_over_bound"]["banks"]:
        lev = row["leverage"]
        over.add_row(escape(row["bank"]), *(f"{lev[s]:.1f}" if lev[s] < 1e300 else "failed"
                                            for s in ("initial", "stressed", "lower", "upper")),
                     f"{row['sales_fraction']['lower']:.0%}")
    count = summary["banks_over_bound"]["count"]
    over.add_row("[bold]banks over λ̄[/bold]", *(str(count[s]) for s in ("initial", "stressed", "lower", "upper")),
                 "")
    console.print(over)
    losses = Table(title="System CET1 and its loss since t = 0, without and with deleveraging")
    for col in ("state", "CET1 (EUR m)", "loss"):
        losses.add_column(col, justify="left" if col == "state" else "right")
    for state, label in (("initial", "t = 0"), ("stressed", "after the stress, no deleveraging"),
                         ("lower", "after fire sales, lower equilibrium"),
                         ("upper", "after fire sales, upper equilibrium")):
        losses.add_row(label, f"{summary['equity'][state]:,.0f}", f"{summary['equity_loss'][state]:.2%}")
    console.print(losses)
    _figure_written(out)


def contagion(
    mu: Annotated[str, typer.Option("--mu", help="Mean assets per bank (diversification μ_b), comma-separated.")
                  ] = "1,1.5,2,3,4,6,8,12,16,32,64",
    leverage: Annotated[str, typer.Option("--leverage", help="Leverage levels λ = assets / equity, comma-separated."
                                          )] = "10,25",
    trials: Annotated[int, typer.Option("--trials", help="Random systems per diversification level.")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (0 or more).", min=0)] = 0,
    banks: Annotated[int, typer.Option("--banks", help="Banks (and assets) per system.")] = BANKS_DEFAULT,
    out: OutOpt = None,
    as_json: JsonOpt = False,
    store: StoreOpt = None,
    no_record: NoRecordOpt = False,
) -> None:
    """Caccioli et al. (2014): probability and extent of contagion vs diversification, with 95% intervals."""
    from firesale.analytics import replications
    from firesale.store import recording_store

    degrees, leverages = _numbers("--mu", mu), _numbers("--leverage", leverage)
    _check_out(out)
    run_store = recording_store(store, no_record)
    with _working(f"{trials} random systems per cell", as_json):
        summary, ds = replications.caccioli_window(mean_degrees=degrees, leverages=leverages, trials=trials,
                                                   seed=seed, n_banks=banks, n_assets=banks)
    params = {"model": "caccioli", "mean_degrees": summary["mean_degrees"], "leverages": summary["leverages"],
              "trials": trials, "seed": seed, "banks": banks}
    if _publish("contagion", ds, out, run_store, "contagion", params, summary, as_json):
        return

    def cell(value: float | None, interval: list[float | None]) -> str:
        if value is None:
            return "-"
        if interval[0] is None:
            return f"{value:.2f}"
        low, high = (f"{x:.2f}".removeprefix("0") for x in interval)
        return f"{value:.2f} [{low}–{high}]"

    table = Table(title=f"Caccioli et al.: P(contagion: more than 5% of banks fail) and extent (share failed, "
                  f"given contagion) by mean assets per bank μ_b; {banks} banks and assets, {trials} trials per cell, "
                  "95% intervals")
    table.add_column("μ_b", justify="right")
    for lev in summary["probability"]:
        table.add_column(f"P, λ = {lev}", justify="right")
        table.add_column(f"extent, λ = {lev}", justify="right")
    for j, d in enumerate(summary["mean_degrees"]):
        row = []
        for lev in summary["probability"]:
            row += [cell(summary["probability"][lev][j], summary["probability_interval"][lev][j]),
                    cell(summary["extent"][lev][j], summary["extent_interval"][lev][j])]
        table.add_row(f"{d:g}", *row)
    console.print(table)
    for lev, window in summary["window"].items():
        text = "none" if window is None else f"{window[0]:g} to {window[1]:g} assets per bank"
        console.print(f"leverage {lev}: P(contagion) ≥ 0.5 for {text}", highlight=False)
    _figure_written(out)


def register(app: typer.Typer) -> None:
    """Add the replication commands to ``app``."""
    for command in (vulnerability, deleveraging, equilibrium, contagion):
        app.command()(command)
