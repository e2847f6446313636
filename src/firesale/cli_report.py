"""``firesale report``: one self-contained HTML report of a preset, a file or a stored run
(:mod:`firesale.report`).

Registered on the main app by :mod:`firesale.cli`.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from firesale.errors import ConfigError, Problem

console = Console()
err_console = Console(stderr=True)


def _from_store(run_id: str, store_path: str | None) -> dict[str, Any] | list[Problem] | None:
    """A stored run's Dataset (and, where the store kept them, its system and first scenario,
    for the attribution); the store's problems when it has no such run; ``None`` without a
    run store (no :mod:`firesale.store`, or no store folder)."""
    try:
        from firesale.store import RunStore, StoreError
    except ImportError:
        return None
    run_store = RunStore(store_path)
    if not run_store.path.is_dir():
        return None
    try:
        record = run_store.get(run_id)
    except StoreError as err:
        return err.problems
    ds = run_store.load_dataset(record.run_id)
    try:
        system, scenarios = run_store.load_inputs(record.run_id)
    except StoreError:
        system, scenarios = None, [None]
    return {"system": system, "scenario": scenarios[0], "ds": ds, "title": f"run {record.run_id}",
            "description": record.command or None, "parameters": ()}


def load_report_target(target: str, sets: list[str] | None = None, store_path: str | None = None) -> dict[str, Any]:
    """What :func:`firesale.report.build_report` needs for ``target``: a preset name, a preset
    ``.toml`` file or a directory of tables first, else the ID of a run in the run store.

    Returns
    -------
    dict
        ``system``, ``scenario``, ``ds`` (``None`` for a preset: it is simulated), ``title``,
        ``description`` and ``parameters`` (the preset's declared parameters, knobs of the
        sensitivity; none for a stored run).

    Raises
    ------
    ConfigError
        Neither a preset nor a stored run (the preset's problem with the known presets, and
        the store's), or ``--set`` overrides on a stored run.
    """
    from firesale.cli import _scenario
    from firesale.data.preset import load

    try:
        preset = load(target)
    except ConfigError as err:
        if not any(problem.code == "FS001" for problem in err.problems):
            raise
        stored = _from_store(target, store_path)
        if stored is None:
            raise
        if isinstance(stored, list):
            raise ConfigError([*err.problems, *stored]) from None
        if sets:
            raise ConfigError(Problem("FS742", f"run {target!r}", "--set changes a scenario before it runs: a "
                                      "stored run is reported as it is; drop --set")) from None
        return stored
    return {"system": preset.system, "scenario": _scenario(preset.scenario, None, False, sets), "ds": None,
            "title": preset.name, "description": preset.description, "parameters": preset.parameters}


def report(
    target: Annotated[str, typer.Argument(help="Preset name, preset .toml file, directory of tables, or the ID "
                                               "of a stored run.")],
    html: Annotated[str, typer.Option("--html", help="Write the report to this .html file (self-contained: "
                                                     "plotly.js inside, opens offline).")],
    no_attribution: Annotated[bool, typer.Option("--no-attribution", help="Leave out the Shapley attribution to "
                                                 "the mechanisms (saves its 8 runs).")] = False,
    no_sensitivity: Annotated[bool, typer.Option("--no-sensitivity", help="Leave out the sensitivity: each knob "
                                                 "moved 1% each way (saves about 2 runs a knob).")] = False,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Scenario override FIELD=VALUE.")] = None,
    store: Annotated[str | None, typer.Option("--store", help="Run store to find a run ID in (default: "
                                                              "FIRESALE_STORE, else ./firesale-runs).")] = None,
) -> None:
    """Write one self-contained HTML report: summary, price paths, equity waterfall, cascade timeline,
    attribution, regime table, sensitivity and configuration."""
    from rich import progress as bars

    from firesale.report import REPORT_STEPS, check_report_path, write_report

    check_report_path(html)  # before any work
    columns = (bars.TextColumn("{task.description}"), bars.BarColumn(), bars.MofNCompleteColumn(),
               bars.TimeElapsedColumn())
    total = len(REPORT_STEPS) + 2  # loading, the report's steps, writing
    with bars.Progress(*columns, console=err_console, transient=True, disable=not err_console.is_terminal) as bar:
        task = bar.add_task(f"loading {escape(target)}", total=total)
        inputs = load_report_target(target, set_, store)
        attribution = not no_attribution and inputs["system"] is not None
        sensitivity = not no_sensitivity and inputs["system"] is not None and inputs["scenario"] is not None
        path = write_report(html, inputs["system"], inputs["scenario"], inputs["ds"], attribution=attribution,
                            sensitivity=sensitivity, declared=inputs["parameters"], title=inputs["title"],
                            description=inputs["description"],
                            progress=lambda done, _, what: bar.update(
                                task, completed=1 + done, description=what if done < len(REPORT_STEPS)
                                else f"writing {escape(html)}"))
        bar.update(task, completed=total)
    size = path.stat().st_size / 1e6
    left_out = [what for what, asked, done in (("attribution", not no_attribution, attribution),
                                                ("sensitivity", not no_sensitivity, sensitivity)) if asked and not done]
    note = f" (no {' and no '.join(left_out)}: the stored run kept no system to rerun)" if left_out else ""
    console.print(f"report written to {escape(str(path))} ({size:.1f} MB){note}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``report`` command to ``app``."""
    app.command()(report)
