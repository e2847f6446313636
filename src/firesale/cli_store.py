"""``firesale runs list | show | diff | rerun``: the recorded runs (:mod:`firesale.store`).

Registered on the main app by :mod:`firesale.cli`. Every command takes ``--store PATH``
(default: ``FIRESALE_STORE``, else ``./firesale-runs``) and ``--json``.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()
err_console = Console(stderr=True)

StoreOpt = Annotated[str | None, typer.Option("--store", help="Run store folder (default: FIRESALE_STORE, else "
                                                              "./firesale-runs).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
RunId = Annotated[str, typer.Argument(help="Run ID, or a unique prefix of it (4 characters or more).")]

runs_app = typer.Typer(name="runs", no_args_is_help=True, add_completion=False,
                       help="The recorded runs: list, show, diff and rerun them.")


def _store(path: str | None) -> Any:
    from firesale.store import RunStore

    return RunStore(path)


def _emit(value: Any) -> None:
    sys.stdout.write(json.dumps(value, default=str) + "\n")


def _number(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


@runs_app.command("list")
def list_runs(
    store: StoreOpt = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Only records of this kind: run, compare, sweep or "
                                             "replication.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Show the latest N records (0: all).")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List the recorded runs, oldest first, with their headline numbers."""
    run_store = _store(store)
    entries = run_store.list(kind=kind, limit=limit or None)
    warning = run_store.missing_database_warning()
    if warning:  # on stderr, so that --json stays one JSON object
        err_console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False, soft_wrap=True)
    if as_json:
        _emit({"store": str(run_store.path), "runs": [
            {"run_id": e.run_id, "seq": e.seq, "kind": e.kind, "target": e.target,
             "created_at": e.created_at.isoformat() + "Z", "firesale_version": e.firesale_version,
             "input_hash": e.input_hash, "scenarios": e.scenario_names, "metrics": e.metrics}
            for e in entries]})
        return
    if not entries and warning:
        return
    if not entries:
        console.print(f"no runs recorded in {escape(str(run_store.path))} yet: `firesale run` records one",
                      highlight=False)
        return
    table = Table(title=f"runs in {escape(str(run_store.path))}")
    table.add_column("#", justify="right")
    table.add_column("id", no_wrap=True)
    table.add_column("recorded (UTC)", no_wrap=True)
    table.add_column("kind")
    table.add_column("target", overflow="fold")
    table.add_column("scenarios", overflow="ellipsis", max_width=28)
    for column in ("total loss", "amplification", "forced sales"):
        table.add_column(column, justify="right")
    for e in entries:
        metrics = e.metrics
        prefix = "baseline." if e.kind == "compare" else ""
        table.add_row(str(e.seq), e.run_id, e.created_at.strftime("%Y-%m-%d %H:%M"), e.kind, escape(e.target),
                      escape(e.scenario_names) or "-", _number(metrics.get(f"{prefix}total_loss")),
                      _number(metrics.get(f"{prefix}amplification"), 3),
                      _number(metrics.get(f"{prefix}forced_sales")))
    console.print(table)


@runs_app.command()
def show(run_id: RunId, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Show one record: what was run, with which version and inputs, how long it took, what it found."""
    record = _store(store).get(run_id)
    if as_json:
        _emit(record.as_json())
        return
    head = Table(title=f"run {record.run_id}", show_header=False)
    head.add_column(style="bold")
    head.add_column(overflow="fold")
    system = record.config.get("system", {})
    rows = [
        ("kind", record.kind), ("target", record.target), ("command", record.command or "-"),
        ("recorded (UTC)", record.created_at.strftime("%Y-%m-%d %H:%M:%S")),
        ("firesale version", record.firesale_version), ("input hash", record.input_hash),
        ("system", f"{system.get('name')} ({system.get('currency')})" if system else "-"),
        ("scenarios", record.scenario_names or "-"),
        ("parameters", json.dumps(record.config.get("params")) if record.config.get("params") else "-"),
        ("timings", ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                              for k, v in record.timings.items()) or "-"),
        ("data", str(record.data_dir) if record.data_dir else "-"),
    ]
    for key, value in rows:
        head.add_row(key, escape(str(value)))
    console.print(head)
    if record.metrics:
        metrics = Table(title="headline metrics")
        metrics.add_column("metric")
        metrics.add_column("value", justify="right")
        for key, value in record.metrics.items():
            metrics.add_row(escape(key), _number(value, 4))
        console.print(metrics)
    console.print(f"full configuration and summary: firesale runs show {record.run_id} --json", highlight=False)


@runs_app.command()
def diff(run_a: RunId, run_b: RunId, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Configuration and metric differences between two records (B against A)."""
    result = _store(store).diff(run_a, run_b)
    if as_json:
        _emit(result)
        return
    if not result["config"]:
        console.print(f"same configuration: {result['a']} and {result['b']} ran the same inputs", highlight=False)
    else:
        table = Table(title=f"configuration: {result['a']} (A) vs {result['b']} (B)")
        for column in ("field", "A", "B"):
            table.add_column(column, overflow="fold")
        for entry in result["config"]:
            table.add_row(escape(entry["key"]), escape(_short(entry["a"])), escape(_short(entry["b"])))
        console.print(table)
    if not result["metrics"]:
        console.print("same metrics", highlight=False)
        return
    table = Table(title="metrics")
    for column in ("metric", "A", "B", "B - A"):
        table.add_column(column, justify="left" if column == "metric" else "right", overflow="fold")
    for entry in result["metrics"]:
        change = entry.get("change")
        table.add_row(escape(entry["key"]), escape(_short(entry["a"])), escape(_short(entry["b"])),
                      "" if change is None else f"{change:+,.6g}")
    console.print(table)


def _short(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.6g}"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


@runs_app.command()
def rerun(run_id: RunId, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Recompute a run from its stored inputs and check it reproduces the stored result bit for bit,
    and the stored summary that runs show, list and diff display.

    Exits with status 1 when a variable or a summary value differs.
    """
    from firesale._version import __version__

    result = _store(store).rerun(run_id)
    run_id = result.run_id
    variables = len(result.stored.variables)
    if as_json:
        _emit({"run_id": run_id, "equal": result.equal, "difference": result.difference,
               "variables": variables, "summary_checked": result.summary_checked,
               "recorded_version": result.recorded_version, "version": __version__})
    elif result.equal:
        what = " and the stored summary" if result.summary_checked else ""
        console.print(f"[green]run {escape(run_id)}: reproduced bit for bit[/green] ({variables} variables and "
                      f"coordinates compared{what})", highlight=False)
    else:
        console.print(f"[red]run {escape(run_id)}: not reproduced[/red]: {escape(result.difference or '')}",
                      highlight=False, soft_wrap=True)
    if not as_json and result.recorded_version != __version__:
        console.print(f"note: recorded with firesale {result.recorded_version}, recomputed with {__version__}",
                      highlight=False)
    if not result.equal:
        # SystemExit, not typer.Exit: firesale.cli.main runs the app with standalone_mode=False,
        # where click returns typer.Exit's code instead of exiting with it
        raise SystemExit(1)


def register(app: typer.Typer) -> None:
    """Add the ``runs`` command group to the main app."""
    app.add_typer(runs_app, name="runs")
