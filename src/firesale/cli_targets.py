"""``firesale targets`` (a preset against its record) and ``firesale calibrate`` (fit its
free parameters to that record). Registered on the main app by :mod:`firesale.cli`.

Both exit with status 0 when every target is met (after the fit, for ``calibrate``) and 1
when any is missed, so that a script or CI job can gate on them; a preset without targets
is not an error for ``targets`` (status 0).
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from firesale.errors import ConfigError, Problem

console = Console()
err_console = Console(stderr=True)

TargetArg = Annotated[str, typer.Argument(help="Preset name, preset .toml file, or directory of tables.")]


def _number(x: float) -> str:
    """A value in a cell: whole enough to compare with the record, never cut."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    size = abs(x)
    if size >= 1000:
        return f"{x:,.1f}"
    if size >= 1 or size == 0:
        return f"{x:.3f}".rstrip("0").rstrip(".") if size else "0"
    return f"{x:.4g}"


def _band(result: Any) -> str:
    if math.isinf(result.high) and math.isinf(result.low):
        return "any"
    if math.isinf(result.high):
        return f"≥ {_number(result.low)}"
    if math.isinf(result.low):
        return f"≤ {_number(result.high)}"
    return f"[{_number(result.low)}, {_number(result.high)}]"


def _target_table(title: str, results: list[Any]) -> None:
    """The targets, one row each; what each measures (observable, selectors, rounds,
    statistic) and its source are listed by :func:`_print_sources`: long texts in columns
    would crush the numbers."""
    from firesale.cli import _add_columns, _fitted

    def build(narrow: bool = False) -> Table:
        table = Table(title=title)
        _add_columns(table, [("target", "name"), ("model", "num"), ("record", "num"), ("band", "num"),
                             ("unit", "text"), ("met", "text")], narrow)
        for r in results:
            met = "[green]yes[/green]" if r.passed else "[red]no[/red]"
            table.add_row(escape(r.name), _number(r.model), _number(r.value), _band(r), escape(r.unit), met)
        return table

    console.print(_fitted(build, lambda: build(True)))
    met = sum(r.passed for r in results)
    colour = "green" if met == len(results) else "red"
    console.print(f"[{colour}]{met} of {len(results)} targets met[/{colour}]", highlight=False)


def _print_sources(results: list[Any]) -> None:
    console.print("[bold]What each target measures, and the record's source[/bold]")
    for r in results:
        console.print(f"  [bold]{escape(r.name)}[/bold]: {escape(r.label)}; {escape(r.source)}", highlight=False,
                      soft_wrap=True)


def targets(
    target: TargetArg,
    policy: Annotated[str | None, typer.Option(
        "--policy", "-p", help="Check the record with this policy applied to the baseline (a switch of "
        "scenario.policy, a policies.NAME section of the preset, or A+B); a target's own policy goes on top.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Check a preset against the record in its targets table, one row per target.

    Exit status 0 when every target is met, 1 when any is missed."""
    from firesale.analytics.compare import policy_scenario
    from firesale.analytics.targets import evaluate_targets
    from firesale.data.preset import load

    preset = load(target)
    scenario = preset.scenario if policy is None else policy_scenario(preset, policy)
    if not preset.targets:
        if as_json:
            sys.stdout.write(json.dumps({"preset": preset.name, "scenario": scenario.name, "policy": policy,
                                         "targets": [], "met": 0, "total": 0, "all_met": True}) + "\n")
        else:
            console.print(escape(f"{preset.name} has no [[targets]]: nothing to check (add [[targets]] rows with "
                                 "name, observable, value, tolerance and source)"), highlight=False, soft_wrap=True)
        return
    quiet = as_json or not err_console.is_terminal
    with contextlib.nullcontext() if quiet else err_console.status(f"running {escape(preset.name)} ..."):
        results = evaluate_targets(preset, scenario=scenario)
    met = sum(r.passed for r in results)
    if as_json:
        sys.stdout.write(json.dumps({"preset": preset.name, "scenario": scenario.name, "policy": policy,
                                     "targets": [r.as_json() for r in results], "met": met, "total": len(results),
                                     "all_met": met == len(results)}) + "\n")
    else:
        _target_table(f"{escape(preset.name)} — {escape(scenario.name)}: the model against the record", results)
        _print_sources(results)
    if met < len(results):
        raise typer.Exit(1)


def _preset_text(target: str) -> tuple[str, Path | None]:
    """The TOML text of a preset (a file, or a built-in by name) and its folder (None for a
    built-in), for ``--out``."""
    from firesale.data.preset import list_presets

    path = Path(target)
    if path.is_dir():
        raise ConfigError(Problem("FS183", f"--out, preset {target}", "is a folder of tables: --out writes one "
                                  "TOML file; calibrate a .toml preset, or leave out --out"))
    if path.suffix == ".toml" and path.is_file():
        return path.read_text(encoding="utf-8"), path.resolve().parent
    if target in list_presets():
        return (resources.files("firesale") / "presets" / f"{target}.toml").read_text(encoding="utf-8"), None
    raise ConfigError(Problem("FS183", f"--out, preset {target}", "no TOML file to write the fit into"))


def _write_fitted(target: str, out: str, result: Any) -> None:
    import tomllib

    from firesale.calibration import calibration_header, fitted_preset_text
    from firesale.data.netcdf import atomic_path
    from firesale.data.preset import load

    text, folder = _preset_text(target)
    if folder is not None and "tables" in tomllib.loads(text) and Path(out).resolve().parent != folder:
        raise ConfigError(Problem("FS183", f"--out {out}", "the preset reads [tables] files relative to its own "
                                  f"folder ({folder.name}): write --out in that folder"))
    new = fitted_preset_text(text, result.system, result.values, calibration_header(result))
    with atomic_path(out) as tmp:
        tmp.write_text(new, encoding="utf-8")
    load(out)  # the fitted file loads on its own


def calibrate(
    target: TargetArg,
    free: Annotated[list[str], typer.Option("--free", help="A parameter of the preset's parameters table to fit "
                                            "within its low and high (repeatable), e.g. "
                                            "asset.ust_10y.max_discount.")],
    out: Annotated[str | None, typer.Option("--out", help="Write the fitted preset to this .toml file: the "
                                            "preset's text with the fitted values changed.")] = None,
    max_evaluations: Annotated[int, typer.Option("--max-evaluations", help="Most residual evaluations of the "
                                                 "least-squares fit (each Jacobian adds one batch).")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    store: Annotated[str | None, typer.Option("--store", help="Run store folder to record in (default: "
                                              "FIRESALE_STORE, else ./firesale-runs).")] = None,
    no_record: Annotated[bool, typer.Option("--no-record", help="Do not record this in the run store.")] = False,
) -> None:
    """Fit free parameters to the preset's targets by bounded least squares.

    Trust-region reflective; prints the targets before and after and the fitted values,
    records the fit. Exit status 0 when every target is met after the fit, 1 otherwise."""
    import shlex

    from rich import progress as bars

    from firesale.calibration import calibrate as calibrate_preset
    from firesale.data.preset import load
    from firesale.store import recording_store

    if out is not None and Path(out).suffix != ".toml":
        raise ConfigError(Problem("FS183", f"--out {out}", "the fitted preset is a TOML file: use a .toml name"))
    preset = load(target)
    run_store = recording_store(store, no_record)
    columns = (bars.TextColumn("fitting"), bars.BarColumn(), bars.MofNCompleteColumn(),
               bars.TextColumn("{task.fields[info]}"), bars.TimeElapsedColumn())
    started = time.perf_counter()
    with bars.Progress(*columns, console=err_console, transient=True,
                       disable=as_json or not err_console.is_terminal) as bar:
        task = bar.add_task("fit", total=max_evaluations, info="")

        def report(calls: int, vectors: int, norm: float) -> None:
            bar.update(task, completed=min(calls, max_evaluations),
                       info=f"{vectors} runs, residual norm {norm:.4g}")

        result = calibrate_preset(preset, free, max_evaluations=max_evaluations, progress=report)
    elapsed = time.perf_counter() - started
    if out is not None:
        _write_fitted(target, out, result)
    summary = result.summary() | {"out": out}
    command = ["calibrate", target, *(f"--free={n}" for n in free), *([f"--out={out}"] if out else []),
               f"--max-evaluations={max_evaluations}"]
    run_id = None
    if run_store is not None:
        params = {"free": [p.name for p in result.parameters],
                  "bounds": {p.name: [p.low, p.high] for p in result.parameters},
                  "initial": {p.name: p.initial for p in result.parameters},
                  "fitted": result.values,
                  "residuals_before": [r.residual for r in result.before],
                  "residuals_after": [r.residual for r in result.after],
                  "max_evaluations": max_evaluations}
        run_id = run_store.record("calibration", target, result.system, result.scenarios, result.dataset, summary,
                                  {"calibrate_s": elapsed}, params=params,
                                  command=shlex.join(["firesale", *command]))
    met = sum(r.passed for r in result.after)
    if as_json:
        sys.stdout.write(json.dumps(summary | {"run_id": run_id}) + "\n")
    else:
        _print_fit(preset.name, result, out, run_id, run_store)
    if met < len(result.after):
        raise typer.Exit(1)


def _print_fit(name: str, result: Any, out: str | None, run_id: str | None, run_store: Any) -> None:
    _target_table(f"{escape(name)} before the fit", result.before)
    _target_table(f"{escape(name)} after the fit", result.after)
    _print_sources(result.after)
    table = Table(title="Fitted parameters")
    for header in ("parameter", "before", "fitted", "low", "high", ""):
        table.add_column(header, justify="left" if header in ("parameter", "") else "right",
                         overflow="fold" if header == "parameter" else "ellipsis", no_wrap=header != "parameter")
    for p in result.parameters:
        table.add_row(escape(p.name), f"{p.initial:.6g}", f"{p.fitted:.6g}", f"{p.low:g}", f"{p.high:g}",
                      "[yellow]at a bound[/yellow]" if p.at_bound else "")
    console.print(table)
    console.print(f"residual norm {result.norm_before:.4g} -> {result.norm_after:.4g} after "
                  f"{result.function_evaluations} evaluations ({result.evaluations} parameter vectors run): "
                  f"{escape(result.message)}", highlight=False, soft_wrap=True)
    if out:
        console.print(f"fitted preset written to {escape(out)}", highlight=False)
    if run_id:
        console.print(f"recorded as run {run_id} in {escape(str(run_store.path))} (firesale runs show {run_id})",
                      highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``targets`` and ``calibrate`` to the main app."""
    app.command("targets")(targets)
    app.command("calibrate")(calibrate)
