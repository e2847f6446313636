"""``firesale sweep``: many scenarios of one preset, in batches, serially or on Dask
(:mod:`firesale.sweep`). Registered on the main app by :mod:`firesale.cli`.

``--parameters`` (every row of the preset's ``[[parameters]]``) or ``--parameter NAME``
(repeatable) makes each Monte Carlo scenario also draw those parameters in their ranges
(uniform, or log-uniform where ``scale = "log"``). Besides the loss distribution the command
prints the 5/50/95% band of one asset's price path per round (``--asset``; default the asset
whose median path falls lowest), with the yield-change band in bp for a bond; ``--json``
carries the bands of every asset (``bands``)."""

from __future__ import annotations

import contextlib
import json
import shlex
import sys
import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from firesale.errors import ConfigError, Problem

console = Console()
err_console = Console(stderr=True)


def _progress(quiet: bool) -> Any:
    """A rich progress bar on stderr with scenarios/s (none for --json or outside a terminal)."""
    if quiet or not err_console.is_terminal:
        return contextlib.nullcontext(None)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                    TimeElapsedColumn(), console=err_console, transient=False)


def load_kernels_with_notice(preset: Any, quiet: bool) -> None:
    """Compile the numba kernels, or load them from numba's cache, with a notice on a
    terminal: the first use on a machine compiles them, which takes a minute or two."""
    from firesale.simulation import load_compiled_kernels

    status = (contextlib.nullcontext() if quiet or not err_console.is_terminal else
              err_console.status("loading the numba kernels (their first use on this machine compiles them: "
                                 "a minute or two)"))
    with status:
        load_compiled_kernels(preset.system, preset.scenario)


def _figure(result: Any, out: str) -> None:
    from firesale.analytics.figures import plotly_graph_objects, write_figure

    go = plotly_graph_objects()
    d, currency = result.distribution, result.summaries.attrs["currency"]
    fig = go.Figure(go.Histogram(x=result.summaries.total_loss.values, nbinsx=60, name="scenarios"))
    for key, label, dash in (("mean_loss", "mean", "dot"), ("var_99", "VaR 99%", "dash"), ("es_99", "ES 99%", "solid")):
        fig.add_vline(x=d[key], line_dash=dash, annotation_text=f"{label} {d[key]:,.1f}")
    fig.update_layout(title=f"System loss over {d['n']:,} scenarios of {result.summaries.attrs['target']} "
                            f"(P(any default) = {d['p_any_default']:.1%})",
                      xaxis_title=f"system loss ({currency})", yaxis_title="scenarios", showlegend=False)
    import dataclasses

    from firesale.data.netcdf import atomic_path
    from firesale.errors import FiresaleError

    tmp = None
    try:
        with atomic_path(out) as tmp:  # renamed into place once whole, with the umask's permissions
            write_figure(fig, tmp)
    except FiresaleError as err:  # name the file asked for, not the temporary one
        if tmp is None:
            raise
        raise type(err)([dataclasses.replace(p, where=p.where.replace(str(tmp), out),
                                             message=p.message.replace(str(tmp), out)) for p in err.problems]) from None


def sweep(
    target: Annotated[str, typer.Argument(help="Preset name, preset .toml file, or directory of tables.")],
    grid: Annotated[list[str] | None, typer.Option(
        "--grid", help="PARAM=LO:HI:N, N values from LO to HI (repeatable: the product). PARAM is a dotted scenario "
        "field (market.execution_alpha), shock.ASSET.price|client_sale|volatility, or a parameter path of the system "
        "(asset.NAME.FIELD, class.CLASS.FIELD, institution.NAME.FIELD, type.TYPE.FIELD, group.GROUP.FIELD).")] = None,
    monte_carlo: Annotated[int | None, typer.Option(
        "--monte-carlo", help="N scenarios drawing every price / client-sale shock of the preset scaled by a "
        "lognormal factor (mean 1); with --parameters or --parameter, also drawing those parameters.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Root seed of the Monte Carlo draws.")] = 0,
    parameters: Annotated[bool, typer.Option(
        "--parameters", help="With --monte-carlo: each scenario also draws every parameter the preset declares (its "
        "parameters table), uniformly between low and high (log-uniformly where scale = \"log\").")] = False,
    parameter: Annotated[list[str] | None, typer.Option(
        "--parameter", help="With --monte-carlo: draw this parameter of the preset's parameters table, by name, "
        "e.g. asset.ust.max_discount (repeatable).")] = None,
    asset: Annotated[str | None, typer.Option(
        "--asset", help="Asset whose 5/50/95% price band (and yield-change band, for a bond) is printed per round "
        "(default: the one whose median path falls most).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Run on a local Dask cluster of N worker "
                                                "processes (a process pool without dask).")] = None,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="Run on this Dask scheduler, e.g. "
                                                  "tcp://HOST:8786.")] = None,
    batch: Annotated[int, typer.Option("--batch", help="Scenarios per batch (one simulate call).")] = 100,
    kernels: Annotated[str, typer.Option("--kernels", help="numpy (the reference) or numba (compiled, "
                                         "pip install 'firesale[fast]'; same results to 1e-12).")] = "numpy",
    out: Annotated[str | None, typer.Option("--out", help="Draw the loss distribution to this .html or .png.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    store: Annotated[str | None, typer.Option("--store", help="Run store folder (default: FIRESALE_STORE, or "
                                              "./firesale-runs).")] = None,
    no_record: Annotated[bool, typer.Option("--no-record", help="Neither store the batches nor skip stored "
                                            "ones.")] = False,
) -> None:
    """Expand a grid or Monte Carlo sweep, run it in batches, stream batches into the run store;
    print the loss distribution (mean, VaR/ES 99% of system loss, P(any default))
    and the 5/50/95% band of an asset's price path (and yield change, bp) per round."""
    from firesale import sweep as sw

    if out:
        from firesale.analytics.figures import check_figure_path

        check_figure_path(out)
    if workers is not None and workers < 1:
        raise ConfigError(Problem("FS961", f"--workers {workers}", "give 1 worker or more"))
    if kernels == "numba":  # fail before any work when numba is missing
        from firesale.engine.kernels import kernels_named

        kernels_named(kernels)
    spec = sw.SweepSpec(target, grid=tuple(sw.parse_grid(g) for g in grid or ()), monte_carlo=monte_carlo, seed=seed,
                        batch_size=batch, parameters=tuple(parameter or ()), all_parameters=parameters,
                        kernels=kernels)
    from firesale.data.preset import load
    from firesale.store import recording_store

    preset = load(target)
    if asset is not None and asset not in preset.system.asset_names:
        from firesale.errors import did_you_mean

        names = preset.system.asset_names
        raise ConfigError(Problem("FS965", f"--asset {asset}", f"unknown asset.{did_you_mean(asset, names)} Assets of "
                                  f"{target}: {', '.join(names)}; use one of these"))
    if kernels == "numba":  # compiled here once, before any worker would compile them too
        load_kernels_with_notice(preset, quiet=as_json)
    run_store = recording_store(store, no_record)
    if scheduler:
        executor = sw.dask_executor(None, scheduler)
    elif workers:
        executor = sw.dask_executor(workers) if sw.has_dask() else sw.process_executor(workers)
    else:
        executor = contextlib.nullcontext(None)
    with _progress(as_json) as bar, executor as pool:
        task = None
        started: list[float] = []
        first: list[int] = []

        def report(done: int, total: int) -> None:
            nonlocal task
            if bar is None:
                return
            if task is None:
                task = bar.add_task("sweep", total=total, rate="")
                first.append(done)
                started.append(time.perf_counter())
            elapsed = time.perf_counter() - started[0]
            rate = (done - first[0]) / elapsed if elapsed > 0 and done > first[0] else 0.0
            bar.update(task, completed=done, rate=f"{rate:,.0f} scenarios/s")

        result = sw.run_sweep(spec, executor=pool, store=run_store, progress=report,
                              command=shlex.join(["firesale", *sys.argv[1:]]), preset=preset)
    shown = asset or sw.falls_most(result.summaries)
    rows = sw.band_table(result.summaries, shown)
    if out:
        _figure(result, out)
    summary = result.as_json() | {"figure": out, "run_ids": result.run_ids, "band_asset": shown}
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    d, cur = result.distribution, result.summaries.attrs["currency"]
    table = Table(title=f"Sweep of {target}: {d['n']:,} scenarios ({', '.join(summary['params'])})", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("mean system loss", f"{d['mean_loss']:,.2f} {cur}")
    table.add_row("VaR 99% of system loss", f"{d['var_99']:,.2f} {cur}")
    table.add_row("ES 99% of system loss", f"{d['es_99']:,.2f} {cur}")
    table.add_row("largest loss", f"{d['max_loss']:,.2f} {cur}")
    table.add_row("P(any default)", f"{d['p_any_default']:.2%}")
    table.add_row("batches run / found stored", f"{result.batches_run} / {result.batches_skipped}")
    if result.retried:
        table.add_row("batches retried (worker died)", str(result.retried))
    rate = summary["scenarios_per_s"]
    table.add_row("time", f"{result.elapsed_s:,.1f} s" + (f" ({rate:,.0f} scenarios/s)" if rate else ""))
    table.add_row("sweep hash", result.sweep_hash[:12])
    console.print(table)
    console.print(_band_table(rows, shown, int(result.summaries.sizes["round"]), d["n"]))
    if out:
        console.print(f"loss distribution drawn to {out}")


def _band_table(rows: list[dict[str, float]], asset: str, rounds: int, n: int) -> Table:
    """The price band (fraction of t0) and, for a bond, the yield-change band (bp) by round."""
    bond = "y50" in rows[0]
    shown = "every round" if len(rows) == rounds else f"{len(rows)} of {rounds} rounds"
    what = "price (fraction of t0) and yield change dy (bp)" if bond else "price (fraction of t0)"
    table = Table(title=f"{asset}: 5/50/95% band of the {what} over {n:,} scenarios, {shown}")
    table.add_column("round", justify="right")
    for tag in ("p5", "p50", "p95"):
        table.add_column(f"price {tag}", justify="right")
    if bond:
        for tag in ("5", "50", "95"):
            table.add_column(f"dy p{tag}", justify="right")
    for row in rows:
        cells = [str(row["round"]), *(f"{row[t]:.4f}" for t in ("p5", "p50", "p95"))]
        if bond:
            cells += [f"{row[t]:,.1f}" for t in ("y5", "y50", "y95")]
        table.add_row(*cells)
    return table


def register(app: typer.Typer) -> None:
    """Add ``sweep`` to the main app."""
    app.command("sweep")(sweep)
