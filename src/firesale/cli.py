"""The ``firesale`` command line: parses options, calls one library function, prints.

Errors raised on purpose (:class:`~firesale.errors.FiresaleError`) are printed without a
traceback and exit with status 1; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from firesale.analytics.amplification import summarize, with_impulse
from firesale.analytics.narrative import explain_institution
from firesale.analytics.regimes import regime_table
from firesale.data.preset import DEFAULT_PRESET, list_presets, load, validate as validate_target
from firesale.errors import ConfigError, FiresaleError, Problem
from firesale.scenario import Scenario
from firesale.simulation import measures_loop_gain, simulate

app = typer.Typer(
    name="firesale", no_args_is_help=True, add_completion=False,
    help="Simulate how a constrained inter-dealer market turns a liquidity shock into a systemic crisis.",
)
console = Console()
err_console = Console(stderr=True)
_state = {"debug": False}

Target = Annotated[str, typer.Argument(help="Preset name, preset .toml file, or directory of tables.")]
ShockOpt = Annotated[
    list[str] | None,
    typer.Option("--shock", help="ASSET=RETURN price shock in round 0, e.g. corporates=-0.04 (repeatable; "
                 "replaces the preset's shocks and names the scenario after them, e.g. shock_corporates-4pct)."),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Scenario override FIELD=VALUE with a dotted path, e.g. market.execution_alpha=1."),
]


@app.callback()
def _main(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    allow_implausible: Annotated[bool, typer.Option(
        "--allow-implausible", help="Let values outside their fields' plausible ranges through (a daily sigma0 "
        "above 20%, say): they are errors otherwise, as likely unit mistakes.")] = False,
) -> None:
    _state["debug"] = debug
    if allow_implausible:
        from firesale.system import implausible_allowed

        # for the rest of this command: every loader it calls lets implausible values through
        allowed = implausible_allowed()
        allowed.__enter__()
        ctx.call_on_close(lambda: allowed.__exit__(None, None, None))


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def shock_scenario_name(shocks: list[dict[str, Any]]) -> str:
    """The name of a scenario whose shocks ``--shock`` gave: ``shock_corporates+5pct``
    (several joined by ``_``), so a run is never titled or stored under the preset's name
    for other shocks.

    Examples
    --------
    >>> shock_scenario_name([{"asset": "corporates", "price": 0.05}])
    'shock_corporates+5pct'
    >>> shock_scenario_name([{"asset": "a", "price": -0.04}, {"asset": "b", "price": -0.125}])
    'shock_a-4pct_b-12.5pct'
    """
    return "shock_" + "_".join(f"{item['asset']}{100 * item['price']:+g}pct" for item in shocks)


def _scenario(base: Scenario, shocks: list[str] | None, exempt: bool, sets: list[str] | None) -> Scenario:
    """``base`` with ``--shock`` (which replaces its shocks and names the scenario after them,
    see :func:`shock_scenario_name`; ``--set name=...`` still wins), ``--exempt-treasuries``
    and ``--set`` applied."""
    changes: dict[str, Any] = {}
    if shocks:
        parsed = []
        for item in shocks:
            asset, sep, value = item.partition("=")
            try:
                price = float(value)
            except ValueError:
                price = None
            if not sep or price is None:
                raise ConfigError(Problem("FS501", f"--shock {item}", "write ASSET=RETURN, e.g. corporates=-0.04"))
            parsed.append({"asset": asset.strip(), "price": price})
        changes["shocks"] = parsed
        changes["name"] = shock_scenario_name(parsed)
        changes["description"] = (f"--shock {', '.join(shocks)}: replaces the shocks of scenario "
                                  f"{base.name!r}")
    if exempt:
        changes["policy.slr_exemption"] = True
    for item in sets or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(Problem("FS502", f"--set {item}", "write FIELD=VALUE, e.g. max_rounds=10"))
        changes[key.strip().removeprefix("scenario.")] = _parse_value(value.strip())
    return base.updated(**changes) if changes else base


def _note_shock_name(base: Scenario, scenario: Scenario, shocks: list[str] | None) -> None:
    """Say that --shock renamed the scenario (its name is the run's title and stored name)."""
    if shocks and scenario.name != base.name:
        console.print(f"--shock replaces the shocks of scenario {escape(repr(base.name))}: this run is scenario "
                      f"{escape(repr(scenario.name))}", highlight=False, soft_wrap=True)


def _fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def _rendered(table: Table) -> str:
    """What ``table`` prints on the console, captured (not printed)."""
    with console.capture() as capture:
        console.print(table)
    return capture.get()


def _fitted(*builds: Callable[[], Table]) -> Table:
    """The first of the tables built by ``builds`` that prints on the console's width with no
    cell cut short ("…"): the wide layout when the terminal has room for it (what it printed
    before), else a narrow one (numbers kept whole, text folded); the last one if none does."""
    table = builds[0]()
    for build in builds[1:]:
        if "…" not in _rendered(table):
            return table
        table = build()
    return table


def _add_columns(table: Table, columns: list[tuple[str, str]], narrow: bool) -> None:
    """Add ``(header, kind)`` columns: kind ``num`` (right-aligned), ``text`` or ``name``. In the
    narrow layout numbers never wrap (long headers go on several lines instead) and text folds
    where it must rather than end in "…"."""
    for header, kind in columns:
        if kind == "num":
            table.add_column(header.replace(" ", "\n") if narrow else header, justify="right",
                             no_wrap=narrow)
        else:
            table.add_column(header, overflow="fold" if narrow or kind == "name" else "ellipsis")


def _print_summary(summary: dict[str, Any]) -> None:
    cur = escape(summary["currency"])
    head = Table(title=f"{escape(summary['system'])} — {escape(summary['scenario'])}", show_header=False)
    head.add_column(style="bold")
    head.add_column(justify="right")
    head.add_row("initial loss (channels off, shocks on)", f"{_fmt(summary['initial_loss'])} {cur}")
    head.add_row("total loss", f"{_fmt(summary['total_loss'])} {cur}")
    head.add_row("amplification (total / initial)", _fmt(summary["amplification"], 3))
    for label, key, part in ((f"levered capital ({summary['levered_institutions']})", "levered_capital_loss",
                              "levered"), ("unlevered mark-to-market", "unlevered_mark_to_market", "unlevered")):
        head.add_row(f"  {label}: initial → total", f"{_fmt(summary[f'initial_{key}'])} → {_fmt(summary[key])} "
                     f"(x{_fmt(summary[f'amplification_{part}'], 3)})")
    head.add_row("shock alone on t0 books (no waves)", f"{_fmt(summary['shock_only_loss'])} {cur}")
    head.add_row("forced sales", f"{_fmt(summary['forced_sales'])} {cur}")
    head.add_row("forced sales / initial loss", _fmt(summary["forced_sales_per_initial_loss"], 1))
    head.add_row("rounds", str(summary["rounds"]))
    head.add_row("rounds to stabilise (prices within 0.1% of their end)", str(summary["rounds_to_stabilise"]))
    if (gain := summary.get("loop_gain")) and gain["peak"] is not None:
        head.add_row("loop gain, peak (> 1: past the tipping point)", f"{gain['peak']:.2f} (round {gain['peak_round']})")
    head.add_row("institutions breaching", str(summary["breaches"]))
    by_round = ", ".join(str(n) for n in summary["defaults_by_round"])
    head.add_row("defaults", str(summary["defaults"]) + (f" (by round: {by_round})" if summary["defaults"] else ""))
    console.print(head)

    def prices(narrow: bool = False) -> Table:
        table = Table(title="Price change by asset")
        _add_columns(table, [("asset", "name"), ("trough", "num"), ("end", "num")], narrow)
        for asset, change in summary["price_change"].items():
            table.add_row(escape(asset), f"{100 * summary['price_trough'][asset]:+.2f}%", f"{100 * change:+.2f}%")
        return table

    console.print(_fitted(prices, lambda: prices(True)))

    # rows the run did not measure do not count toward the regime: named where there are any
    unmeasured_any = any(regime["not_measured_rows"] for regime in summary["regime"].values())
    # no spread or quotes with the information channel off: those columns only where measured
    quoted = any("information flow" not in regime["not_measured_rows"] for regime in summary["regime"].values())

    def markets(narrow: bool = False) -> Table:
        table = Table(title="Markets: spreads, quotes and regime" if quoted else
                      "Markets: regime (information channel off: no spreads or quotes)")
        _add_columns(table, [("asset", "name"), *([("spread t0", "num"), ("spread peak", "num"),
                                                   ("quoting share (min)", "num")] if quoted else []),
                             ("regime (worst round)", "text"), ("stressed rows", "text"),
                             *([("not measured", "text")] if unmeasured_any else [])], narrow)
        for asset, regime in summary["regime"].items():
            spread, quotes = summary["spreads"][asset], summary["quoting_share"][asset]
            colour = "red" if regime["state"] == "stressed" else "green"
            table.add_row(escape(asset), *([f"{1e4 * spread['t0']:.1f} bp", f"{1e4 * spread['peak']:.1f} bp",
                                            f"{100 * quotes['min']:.0f}%"] if quoted else []),
                          f"[{colour}]{escape(regime['state'])}[/{colour}] (r{regime['worst_round']})",
                          escape(", ".join(regime["stressed_rows"]) or "-"),
                          *([escape(", ".join(regime["not_measured_rows"]) or "-")] if unmeasured_any else []))
        return table

    console.print(_fitted(markets, lambda: markets(True)))
    cascade = summary["cascade"]
    if cascade["groups"]:
        steps = [f"round {r}: {', '.join(g or '-' for g in groups)}" for r, groups in cascade["groups"]]
        console.print("[bold]Cascade (groups first forced to sell):[/bold] " + escape(" → ".join(steps)))
    by_group = summary["sales_by_group"]
    rounds = [r for r in range(summary["rounds"]) if any(v[r] > 0 for v in by_group.values())]
    if rounds:
        title = f"Forced sales by group and round ({cur})"

        def flows(narrow: bool = False) -> Table:
            table = Table(title=title)
            _add_columns(table, [("group", "name"), *((f"r{r}", "num") for r in rounds), ("total", "num")], narrow)
            for group, values in by_group.items():
                table.add_row(escape(group or "-"), *(_fmt(values[r], 1) if values[r] > 0 else "" for r in rounds),
                              _fmt(sum(values), 1))
            return table

        def flows_by_round() -> Table:  # too many rounds for the width: one row per round
            table = Table(title=title)
            _add_columns(table, [("round", "num"), *((escape(group or "-"), "num") for group in by_group)], True)
            for r in rounds:
                table.add_row(f"r{r}", *(_fmt(values[r], 1) if values[r] > 0 else "" for values in by_group.values()))
            table.add_section()
            table.add_row("total", *(_fmt(sum(values), 1) for values in by_group.values()))
            return table

        console.print(_fitted(flows, lambda: flows(True), flows_by_round))
    any_default = any(row["defaulted"] for row in summary["institutions"])
    rows = summary["institutions"]
    caption = None
    if len(rows) > INSTITUTION_ROWS:
        # a large system: its largest sellers (and defaults), the rest in --json
        rows = sorted(rows, key=lambda row: (not row["defaulted"], -row["sales"]))[:INSTITUTION_ROWS]
        caption = (f"{INSTITUTION_ROWS} of {len(summary['institutions'])} institutions: defaults first, then "
                   "the largest sellers; all of them with --json")

    def institutions(narrow: bool = False) -> Table:
        table = Table(title="Institutions", caption=caption)
        columns = [("name", "name"), ("group", "name"), ("first forced", "num"), ("sold", "num"),
                   ("main assets sold", "text"), ("binding", "text"), ("final equity", "num"), ("min ratio", "num")]
        _add_columns(table, columns + ([("defaulted", "text")] if any_default else []), narrow)
        for row in rows:
            top = sorted(row.get("sales_by_asset", {}).items(), key=lambda item: -item[1])[:2]
            cells = [
                escape(row["name"]), escape(row["group"]),
                "-" if row["first_forced_round"] is None else str(row["first_forced_round"]),
                _fmt(row["sales"], 1), escape(", ".join(a for a, _ in top) or "-"),
                escape(", ".join(row["sales_by_channel"]) or "-"), _fmt(row["final_equity"]),
                "-" if row["min_capital_ratio"] is None else f"{100 * row['min_capital_ratio']:.2f}%",
            ]
            table.add_row(*cells, *(["yes" if row["defaulted"] else ""] if any_default else []))
        return table

    console.print(_fitted(institutions, lambda: institutions(True)))


StoreOpt = Annotated[str | None, typer.Option("--store", help="Run store folder to record in (default: "
                                                              "FIRESALE_STORE, else ./firesale-runs).")]
NoRecordOpt = Annotated[bool, typer.Option("--no-record", help="Do not record this in the run store.")]


def _record(run_store: Any, kind: str, target: str, preset: Any, scenarios: list[Scenario], ds: Any,
            summary: dict[str, Any], simulate_s: float, command: list[str], **params: Any) -> str | None:
    """Record a run or comparison in the store (see :mod:`firesale.store`); its run ID, or None."""
    if run_store is None:
        return None
    import shlex

    return run_store.record(kind, target, preset.system, scenarios, ds, summary, {"simulate_s": simulate_s},
                            params=params, command=shlex.join(["firesale", *command]))


@app.command()
def run(
    target: Target = DEFAULT_PRESET,
    shock: ShockOpt = None,
    exempt_treasuries: Annotated[bool, typer.Option("--exempt-treasuries", help="Exempt Treasuries and reserves from the SLR exposure.")] = False,
    set_: SetOpt = None,
    out: Annotated[str | None, typer.Option("--out", help="Write the results Dataset to this .nc file (the run, "
                                            "then its impulse run: every channel off).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    store: StoreOpt = None,
    no_record: NoRecordOpt = False,
) -> None:
    """Run a preset (or file), print its summary and record it in the run store."""
    import time

    from firesale.store import recording_store

    if out and Path(out).suffix not in (".nc", ".netcdf"):  # before the work, as save_dataset would
        raise ConfigError(Problem("FS301", out, "results are written as netCDF: use a .nc file name"))
    with contextlib.nullcontext() if as_json else console.status(f"loading {escape(target)} ..."):
        preset = load(target)
    scenario = _scenario(preset.scenario, shock, exempt_treasuries, set_)
    run_store = recording_store(store, no_record)
    started = time.perf_counter()
    # the impulse run (every channel off) rides in the same batch: the initial loss
    batch = with_impulse(scenario)
    with contextlib.nullcontext() if as_json else console.status(f"simulating {escape(preset.name)} ..."):
        ds = simulate(preset.system, batch, loop_gain=measures_loop_gain(preset.system))
    simulate_s = time.perf_counter() - started
    if out:
        from firesale.data.netcdf import save_dataset

        save_dataset(ds, out)
    with contextlib.nullcontext() if as_json else console.status("summarising ..."):
        summary = summarize(ds)
    command = ["run", target, *(f"--shock={s}" for s in shock or []),
               *(["--exempt-treasuries"] if exempt_treasuries else []), *(f"--set={s}" for s in set_ or [])]
    run_id = _record(run_store, "run", target, preset, batch, ds, summary, simulate_s, command)
    if as_json:
        sys.stdout.write(json.dumps({**summary, "run_id": run_id}) + "\n")
        return
    _note_shock_name(preset.scenario, scenario, shock)
    _print_summary(summary)
    if out:
        console.print(f"results written to {escape(out)}", highlight=False)
    if run_id:
        console.print(f"recorded as run {run_id} in {escape(str(run_store.path))} (firesale runs show {run_id})",
                      highlight=False)


@app.command()
def explain(
    target: Target,
    institution: Annotated[str, typer.Option("--institution", "-i", help="Institution to follow.")],
    shock: ShockOpt = None,
    exempt_treasuries: Annotated[bool, typer.Option("--exempt-treasuries")] = False,
    set_: SetOpt = None,
) -> None:
    """Tell one institution's story round by round."""
    preset = load(target)
    scenario = _scenario(preset.scenario, shock, exempt_treasuries, set_)
    ds = simulate(preset.system, scenario)
    _note_shock_name(preset.scenario, scenario, shock)
    for line in explain_institution(ds, institution):
        console.print(escape(line), highlight=False, soft_wrap=True)


@app.command()
def regimes(
    target: Target = DEFAULT_PRESET,
    asset: Annotated[str | None, typer.Option("--asset", help="Asset whose market to show (default: the one "
                                                             "that gets most stressed).")] = None,
    shock: ShockOpt = None,
    exempt_treasuries: Annotated[bool, typer.Option("--exempt-treasuries")] = False,
    set_: SetOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """The functioning-vs-stressed table of a market: first round and worst round side by side."""
    preset = load(target)
    scenario = _scenario(preset.scenario, shock, exempt_treasuries, set_)
    ds = simulate(preset.system, scenario, loop_gain=measures_loop_gain(preset.system))
    table = regime_table(ds, 0, asset)
    if as_json:
        sys.stdout.write(json.dumps(table) + "\n")
        return
    _note_shock_name(preset.scenario, scenario, shock)
    out = Table(title=f"{escape(preset.name)} — {escape(scenario.name)}: the {escape(table['asset'])} market")
    out.add_column("")
    first, worst = table["first_round"], table["worst_round"]
    out.add_column(f"round {first} ({escape(table['regime']['first'])})")
    out.add_column(f"round {worst}, the worst ({escape(table['regime']['worst'])})")
    for row in table["rows"]:
        cells = []
        for col in ("first", "worst"):
            cell = row[col]
            colour = {"stressed": "red", "functioning": "green"}.get(cell["state"], "dim")
            cells.append(f"[{colour}]{escape(cell['label'])}[/{colour}]\n{escape(cell['text'])}")
        out.add_row(f"[bold]{escape(row['row'])}[/bold]", *cells)
    console.print(out)
    t = table["thresholds"]
    console.print(
        f"Stressed when: persistence > {t['persistence']:g} (trending), dealers net sellers, spread or impact ≥ "
        f"{t['spread_ratio']:g}x t0, gain > {t['gain']:g}, quoting share < {100 * t['quoting_share']:.0f}% or mark "
        f"discount > {100 * t['mark_discount']:.0f}%; a market is stressed when {t['rows_for_stress']} of its "
        "measured rows are. A row not measured does not count.", highlight=False)
    for col, label in (("first", f"round {first}"), ("worst", f"round {worst}")):
        if table["not_measured"][col]:
            console.print(f"not measured in {label}: {escape(', '.join(table['not_measured'][col]))}",
                          highlight=False)


def _timing_text(summary: dict[str, Any]) -> str:
    """When a run's policy levers act: ``purchases 4- (announced 3)``, one lever a line."""
    parts = []
    for lever, window in summary["timing"].items():
        span = f"{window['start']}-" + ("" if window["end"] is None else str(window["end"] - 1))
        announced = window.get("announced")
        note = f" (announced {announced})" if announced is not None and announced != window["start"] else ""
        parts.append(f"{lever} {span}{note}")
    return "\n".join(parts) or "-"


def _print_comparison(preset_name: str, result: dict[str, Any], descriptions: dict[str, str]) -> None:
    runs = {"baseline": result["baseline"], **result["policies"]}
    base = result["baseline"]
    cur = escape(base["currency"])
    table = Table(title=f"{escape(preset_name)} — {escape(base['scenario'])}: baseline vs policies")
    table.add_column("", no_wrap=True)
    for name in runs:
        table.add_column(escape(name.replace("+", " + ")), justify="right", overflow="fold")

    def row(label: str, cell) -> None:
        table.add_row(label, *(cell(s) for s in runs.values()))

    row(f"total loss ({cur})", lambda s: _fmt(s["total_loss"]))
    row("amplification", lambda s: _fmt(s["amplification"], 3))
    row(f"levered capital loss ({cur})", lambda s: _fmt(s["levered_capital_loss"]))
    row("amplification, levered capital", lambda s: _fmt(s["amplification_levered"], 3))
    row(f"forced sales ({cur})", lambda s: _fmt(s["forced_sales"]))
    row("defaults", lambda s: str(s["defaults"]))
    row("rounds to stabilise", lambda s: str(s["rounds_to_stabilise"]) + ("" if s["stabilised"] else " (max)"))
    if any(s["timing"] for s in result["policies"].values()):
        row("acts in rounds", _timing_text)
    table.add_section()
    table.add_row("peak price fall", *("" for _ in runs))
    for asset in base["peak_price_fall"]:
        row(f"  {escape(asset)}", lambda s, a=asset: f"{100 * s['peak_price_fall'][a]:.2f}%")
    console.print(table)
    if not all(s["stabilised"] for s in runs.values()):
        console.print("(max): still trading or moving at the scenario's max_rounds", highlight=False)
    used = dict.fromkeys(part.strip() for name in result["policies"] for part in name.split("+"))
    for name in used:
        console.print(f"[bold]{escape(name)}[/bold]: {escape(descriptions.get(name) or '-')}",
                      highlight=False, soft_wrap=True)


@app.command()
def compare(
    target: Target,
    policy: Annotated[
        list[str] | None,
        typer.Option("--policy", "-p", help="Policy to compare with the baseline, one column each (repeatable): a "
                     "switch of scenario.policy (e.g. slr_exemption), a [policies.NAME] section of the preset, "
                     "or A+B for both."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    store: StoreOpt = None,
    no_record: NoRecordOpt = False,
) -> None:
    """Run the baseline and each policy in one batch, print them side by side and record the batch."""
    import time

    from firesale.analytics.compare import comparison_scenarios, policy_names, summarize_comparison
    from firesale.store import recording_store

    preset = load(target)
    known = policy_names(preset)
    if not policy:
        raise ConfigError(Problem("FS600", "compare", "give at least one --policy NAME; known policies of "
                                  f"{preset.name}: {', '.join(known)}"))
    run_store = recording_store(store, no_record)
    with err_console.status(f"simulating {escape(preset.name)}: baseline and {len(policy)} "
                            f"polic{'y' if len(policy) == 1 else 'ies'} in one batch ..."):
        names, scenarios = comparison_scenarios(preset, policy)
        started = time.perf_counter()
        ds = simulate(preset.system, scenarios)
        simulate_s = time.perf_counter() - started
        result = summarize_comparison(ds, scenarios, names)
        run_id = _record(run_store, "compare", target, preset, scenarios, ds, result, simulate_s,
                         ["compare", target, *(f"--policy={p}" for p in policy)], policies=names)
    if as_json:  # the JSON keeps its documented keys; the run ID goes to stderr
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        _print_comparison(preset.name, result, known)
    if run_id:
        (err_console if as_json else console).print(
            f"recorded as run {run_id} in {escape(str(run_store.path))} (firesale runs show {run_id})",
            highlight=False)


@app.command()
def presets() -> None:
    """List the built-in presets."""
    table = Table(show_header=True)
    table.add_column("preset")
    table.add_column("description")
    for name, description in list_presets().items():
        table.add_row(escape(name) + (" (default)" if name == DEFAULT_PRESET else ""), escape(description))
    console.print(table)


@app.command()
def validate(
    target: Annotated[str | None, typer.Argument(help="Preset name, preset .toml file, or directory of tables "
                                                      "(none with --schema).")] = None,
    schema: Annotated[bool, typer.Option("--schema", help="Print the table schemas instead.")] = False,
) -> None:
    """Check a preset, file or directory of tables and report every problem at once."""
    if not schema and target is None:
        raise typer.BadParameter("give a preset name, a preset .toml file or a directory of tables to check "
                                 "(or --schema for the table schemas)", param_hint="'TARGET'")
    if schema:
        from firesale.schema import TABLES

        for table, columns in TABLES.items():
            t = Table(title=escape(table))
            for col in ("column", "type", "unit", "default", "role", "description"):
                t.add_column(col, overflow="fold")
            for c in columns:
                t.add_row(*(escape(str(c[k])) for k in ("column", "type", "unit", "default", "role", "description")))
            console.print(t)
        return
    problems = validate_target(target)
    if not problems:
        console.print(f"[green]{escape(target)}: valid[/green]")
        return
    err_console.print(f"[red]{escape(target)}: {len(problems)} problem(s)[/red]")
    for p in problems:
        err_console.print(f"  {escape(str(p))}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _shock_text(result: Any, threshold: float | None) -> str:
    """A threshold in words: "corp_hy fall of 3.40%", "client sale of 120.0 USD bn of corp_hy"."""
    asset, kind, low, high = (result.attrs[k] for k in ("asset", "kind", "low", "high"))
    currency = result.attrs.get("currency", "")

    def size(x: float) -> str:
        return f"{100 * x:.2f}%" if kind == "price" else f"{x:,.1f} {currency}"

    if threshold is None:  # NaN: no tipping within the range
        return f"does not tip up to a {asset} {'fall' if kind == 'price' else 'client sale'} of {size(high)}"
    if threshold == low:
        return ("stressed with no shock at all (the calm baseline)" if low == 0
                else f"tips already at {size(low)} (the low end)")
    return f"{asset} fall of {size(threshold)}" if kind == "price" else f"client sale of {size(threshold)} of {asset}"


@app.command()
def tipping(
    target: Target,
    shock: Annotated[str, typer.Option("--shock", help="Asset shocked in round 0, whose market is watched.")],
    kind: Annotated[str, typer.Option("--kind", help="price (a fall, as a fraction) or client_sale (value sold "
                                      "to dealers by outside clients).")] = "price",
    param: Annotated[str | None, typer.Option("--param", help="Second parameter to sweep: a dotted scenario field "
                                              "(e.g. market.layoff_share) or dealer_capital (multiplier of "
                                              "dealers' t0 equity).")] = None,
    values: Annotated[str | None, typer.Option("--values", help="Values of --param, comma-separated, "
                                               "e.g. 0.5,1,1.5,2.")] = None,
    low: Annotated[float, typer.Option("--low", help="Smallest shock size tried, added to the calm "
                                       "baseline.")] = 0.0,
    high: Annotated[float | None, typer.Option("--high", help="Largest shock size tried (default: a 50% fall, or "
                                               "10x the asset's t0 holdings sold).")] = None,
    iterations: Annotated[int, typer.Option("--iterations", help="Bisection steps.")] = 20,
    set_: SetOpt = None,
    out: Annotated[str | None, typer.Option("--out", help="Write the boundary figure to this .html or .png "
                                            "file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Find by bisection the smallest shock at which a market tips into the stressed regime.

    The shock is sized from a calm baseline: the preset's scenario without its own shocks (its
    channels, policies and parameters kept) plus one round-0 shock of --kind on --shock. The
    scenario also runs once as given, and the output says whether its own shocks already tip
    the market and in which rounds, whether the calm baseline is stressed with no shock at all
    (the threshold is then --low and measures no shock), and, where nothing up to --high tips,
    which rows of the regime table fall short.
    """
    import math

    from rich import progress as bars

    from firesale.analytics import tipping as tipping_analysis
    from firesale.analytics.figures import check_figure_path, write_figure

    if param is not None and values is None:
        raise ConfigError(Problem("FS703", "--param", f"--param {param} needs --values to sweep, e.g. "
                                  "--values 0.8,1,1.2"))
    if values is not None and param is None:
        raise ConfigError(Problem("FS703", "--values", "--values needs --param naming what they set, e.g. "
                                  "--param dealer_capital"))
    parsed = [None] if values is None else [_parse_value(v.strip()) for v in values.split(",")]
    if any(v == "" for v in parsed):
        raise ConfigError(Problem("FS703", f"--values {values}", "an empty value: write them comma-separated, "
                                  "e.g. --values 0.8,1,1.2"))
    if out:
        check_figure_path(out)
    preset = load(target)
    scenario = _scenario(preset.scenario, None, False, set_)
    columns = (bars.TextColumn("{task.description}"), bars.BarColumn(), bars.MofNCompleteColumn(),
               bars.TimeElapsedColumn())
    with bars.Progress(*columns, console=err_console, transient=True, disable=not err_console.is_terminal) as bar:
        task = bar.add_task(f"bisecting {escape(shock)} ({escape(kind)})", total=iterations + 1)
        result = tipping_analysis.tipping_point(preset.system, scenario, shock, kind=kind, param=param, values=parsed, low=low,
                               high=high, iterations=iterations,
                               progress=lambda step, total: bar.update(task, completed=step, total=total))
    if out:
        write_figure(tipping_analysis.boundary_figure(result), out)
    thresholds = [None if math.isnan(x) else float(x) for x in result.threshold.values]
    own_rounds = [_stressed_rounds(result.preset_regime[v]) for v in range(result.sizes["param"])]
    calm_rounds = [_stressed_rounds(result.calm_regime[v]) for v in range(result.sizes["param"])]
    rows = [str(r) for r in result.row.values]
    if as_json:
        sys.stdout.write(json.dumps({
            "preset": preset.name, "scenario": scenario.name, "asset": shock, "kind": kind, "param": param,
            "units": result.threshold.attrs["units"], "values": result.param.values.tolist(),
            "thresholds": thresholds, "baseline": result.attrs["baseline"],
            "monotone": [bool(m) for m in result.monotone.values],
            "preset_shock_tips": [bool(t) for t in result.preset_tips.values],
            "preset_shock_stressed_rounds": own_rounds,
            "preset_shock_size": result.attrs["preset_size"],
            "calm_baseline_tips": [bool(t) for t in result.calm_tips.values],
            "calm_baseline_stressed_rounds": calm_rounds,
            "scan_rows_stressed": [[r for r, f in zip(rows, flags) if f] for flags in result.scan_stressed.values],
            "scan_rows_measured": [[r for r, f in zip(rows, flags) if f] for flags in result.scan_measured.values],
            **{k: result.attrs[k] for k in ("low", "high", "iterations", "resolution")}, "figure": out,
        }) + "\n")
        return
    table = Table(title=f"{escape(preset.name)} — {escape(scenario.name)}: where the {escape(shock)} market tips")
    table.add_column(escape(param or ""))
    table.add_column(f"threshold ({escape(result.threshold.attrs['units'])})", justify="right")
    table.add_column("shock that tips it (from calm)")
    table.add_column("the preset's own shocks")
    for value, x, own in zip(result.param.values.tolist(), thresholds, own_rounds):
        table.add_row("base scenario" if param is None else escape(str(value)), "-" if x is None else f"{x:.6g}",
                      escape(_shock_text(result, x)),
                      f"[red]tip it: rounds {_rounds_text(own)}[/red]" if own else "do not tip it")
    console.print(table)
    for line in _tipping_lines(result, preset.name, scenario, param, set_, thresholds, own_rounds, calm_rounds):
        console.print(line, highlight=False)
    console.print(f"bisection: {iterations} steps, resolution {result.attrs['resolution']:.3g}", highlight=False)
    if not result.monotone.values.all():
        console.print("[yellow]note:[/yellow] the market untips at some larger shocks (see monotone in --json): "
                      "the threshold is the first tipping size found by the scan", highlight=False)
    if out:
        console.print(f"figure written to {escape(out)}", highlight=False)


def _stressed_rounds(regime: Any) -> list[int]:
    """The rounds in which a regime-by-round array (1 stressed) is stressed."""
    return [int(r) for r, flag in zip(regime["round"].values, regime.values) if flag]


def _rounds_text(rounds: list[int]) -> str:
    """Rounds as runs: [1, 2, 3, 5] -> "1-3, 5"."""
    runs: list[list[int]] = []
    for r in rounds:
        if runs and r == runs[-1][-1] + 1:
            runs[-1].append(r)
        else:
            runs.append([r])
    return ", ".join(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs)


def _tipping_lines(result: Any, preset: str, scenario: Scenario, param: str | None, overrides: list[str] | None,
                   thresholds: list[float | None], own_rounds: list[list[int]],
                   calm_rounds: list[list[int]]) -> list[str]:
    """What ``firesale tipping`` says under its table (rich markup): the baseline, whether the
    preset's own shocks tip the market and in which rounds, a calm baseline that is stressed
    by itself, and why a market that does not tip within the range does not (with the
    ``firesale regimes`` command that shows its table, where no --param changes the run)."""
    from firesale.analytics.regimes import THRESHOLDS

    asset, kind, high, currency = (result.attrs[k] for k in ("asset", "kind", "high", "currency"))
    values = result.param.values.tolist()
    rows = [str(r) for r in result.row.values]

    def at(v: int) -> str:
        return "" if param is None else f" at {param} = {values[v]}"

    def regimes_command(size: str) -> str:
        sets = "".join(f" --set {o}" for o in overrides or ())
        return f"firesale regimes {preset} --asset {asset} --shock {asset}={size}{sets}"

    count = len(scenario.shocks)
    if not count:
        lines = [f"measured from the calm baseline: {scenario.name} has no shocks of its own."]
    else:
        lines = [f"measured from the calm baseline: {scenario.name} without its "
                 f"{'shock' if count == 1 else f'{count} shocks'} (channels, policies and parameters kept)."]
        own_size = result.attrs["preset_size"]
        own = "" if not own_size else f"a {100 * own_size:.2f}% {asset} fall" if kind == "price" else \
            f"a {asset} client sale of {own_size:,.1f} {currency}"
        subject = (f"the preset's own shock{f' ({own})' if own else ''}" if count == 1 else
                   f"the preset's own {count} shocks{f' ({own} among them)' if own else ''}")
        tips, do = ("tips", "does") if count == 1 else ("tip", "do")
        if not any(own_rounds):
            lines.append(f"{subject} {do} not tip {asset}: functioning in every round"
                         + (f" at every value of {param}." if param else "."))
        else:
            lines += [f"{subject} already {tips} {asset}{at(v)}: stressed in rounds {_rounds_text(rounds)}."
                      if rounds else f"{subject} {do} not tip {asset}{at(v)}: functioning in every round."
                      for v, rounds in enumerate(own_rounds)]
    lines = [escape(line) for line in lines]
    for v, rounds in enumerate(calm_rounds):
        if rounds:
            hint = "" if param else f"; its regime table: {regimes_command('0')}"
            lines.append("[red]the calm baseline itself is stressed[/red]" + escape(
                f"{at(v)}: {asset} tips with no shock at all (rounds {_rounds_text(rounds)}), so the threshold is the "
                f"low end and measures no shock{hint}."))
    needed = int(THRESHOLDS["rows_for_stress"])
    for v, x in enumerate(thresholds):
        if x is not None:
            continue
        stressed = [r for r, flag in zip(rows, result.scan_stressed.values[v]) if flag]
        measured = [r for r, flag in zip(rows, result.scan_measured.values[v]) if flag]
        if len(measured) < needed:
            why = (f"only {len(measured)} of the {len(rows)} regime rows {'is' if len(measured) == 1 else 'are'} "
                   f"measured ({', '.join(measured) or 'none'}) and {needed} stressed make it stressed, so it cannot "
                   "tip here")
        else:
            named = f" ({', '.join(stressed)})" if stressed else ""
            rows_are = "regime row is" if len(stressed) == 1 else "regime rows are"
            why = (f"at most {len(stressed)} {rows_are} stressed in one round of the scan{named}, and {needed} "
                   "make it stressed")
        size = f"{100 * high:.2f}% fall" if kind == "price" else f"client sale of {high:,.1f} {currency}"
        hint = f"; the table at that fall: {regimes_command(f'-{high:g}')}" if kind == "price" and not param else ""
        lines.append(escape(f"{asset} does not tip{at(v)} up to a {size}: {why}{hint}."))
    return lines


#: Modules that add commands to the app, each with ``register(app)``.
#: The summary's institution table lists at most this many rows.
INSTITUTION_ROWS = 40

COMMAND_MODULES = ("firesale.cli_replications", "firesale.cli_analysis", "firesale.cli_store", "firesale.cli_report",
                   "firesale.cli_generate", "firesale.cli_sweep", "firesale.cli_dashboard", "firesale.cli_targets",
                   "firesale.cli_stress")

for _module in COMMAND_MODULES:
    __import__(_module, fromlist=["register"]).register(app)


def _click_classes(name: str) -> tuple[type, ...]:
    """The class ``name`` (``ClickException``, ``Exit``, ``Abort``) of every click the install
    has: click itself (typer up to 0.2x) and the copy typer 0.29+ bundles (``typer._click``)."""
    import importlib

    found: list[type] = []
    for module in ("click.exceptions", "typer._click.exceptions", "typer.exceptions"):
        try:
            cls = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if isinstance(cls, type) and cls not in found:
            found.append(cls)
    return tuple(found)


def _is_click_exception(exc: BaseException) -> bool:
    """A usage error (or another error click shows itself) from whichever click raised it;
    by class name too, should a future typer move the classes again."""
    if isinstance(exc, _click_classes("ClickException")):
        return True
    return hasattr(exc, "show") and any(cls.__name__ == "ClickException" for cls in type(exc).__mro__)


def _show_click_exception(exc: Exception) -> None:
    """Print a usage error as typer does in standalone mode: usage line, hint, the message."""
    try:
        from typer import rich_utils

        rich_utils.rich_format_error(exc)  # prints nothing for NoArgsIsHelpError: the help is printed
        return
    except Exception:  # noqa: BLE001 - an older or newer typer without it: click's plain message
        pass
    if type(exc).__name__ != "NoArgsIsHelpError":
        exc.show()


def main() -> None:
    """Entry point: run the app, turning FiresaleError into a message and exit status 1, and a
    usage error (unknown command or option, missing or invalid argument) into click's message
    and exit status 2; never a traceback unless ``--debug``."""
    try:
        code = app(standalone_mode=False)
    except FiresaleError as err:
        if _state["debug"]:
            raise
        err_console.print(f"[red]error:[/red] {escape(str(err))}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except _click_classes("Exit") as exc:
        sys.exit(exc.exit_code)
    except _click_classes("Abort"):
        sys.exit(130)
    except Exception as exc:
        if not _is_click_exception(exc):
            raise
        _show_click_exception(exc)
        sys.exit(getattr(exc, "exit_code", 2))
    # typer.Exit(code) raised inside a command comes back as the return value here
    if isinstance(code, int) and code:
        sys.exit(code)
    if not sys.argv[1:]:  # the help in place of a command: a usage error, as click 8.2+ says (8.1 said 0)
        sys.exit(2)
