"""``firesale reverse`` and ``firesale sensitivity``: the most plausible shock that breaks the
system, and how far each headline moves when an input moves by 1%."""

from __future__ import annotations

import contextlib
import json
import math
import sys
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()
err_console = Console(stderr=True)

Target = Annotated[str, typer.Argument(help="Preset name, preset .toml file, or directory of tables.")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Scenario override FIELD=VALUE with a dotted path, "
                                                  "e.g. market.execution_alpha=1.")]
OutOpt = Annotated[str | None, typer.Option("--out", help="Write the figure to this .html or .png file.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
KernelsOpt = Annotated[str, typer.Option("--kernels", help="numpy, or numba (compiled; pip install "
                                         "'firesale\\[fast]').")]


def _split(values: list[str] | None) -> list[str] | None:
    """Repeated and comma-separated values as one list (None when none were given)."""
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


@contextlib.contextmanager
def _working(preset: Any, kernels: str, quiet: bool, what: str) -> Iterator[Callable[[str], None]]:
    """The numba kernels loaded first where they run (with the sweep's notice), then a
    spinner on stderr while the block runs; yields the callback that updates its text
    (nothing shows when ``quiet``)."""
    from firesale.cli_sweep import load_kernels_with_notice

    if kernels == "numba":
        load_kernels_with_notice(preset, quiet)
    if quiet:
        yield lambda text: None
        return
    with err_console.status("starting ...") as status:
        yield lambda text: status.update(f"{what} of {escape(preset.name)}: {escape(text)} ...")


def _check_kernels(kernels: str) -> None:
    """Fail before any work on an unknown kernel set, or numba missing (FS207)."""
    from firesale.engine.kernels import kernels_named

    kernels_named(kernels)


def _num(value: float | None, fmt: str = ",.4g") -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, fmt)


def reverse(
    target: Target,
    goal: Annotated[str, typer.Option("--target", help="Condition on the run's outcomes, clauses joined by 'and': "
                                      "defaults>=5, loss>=100 (levered capital loss), total_loss, forced_sales, "
                                      "breaches, price.ASSET<=0.97 (lowest price), price_fall.ASSET, yield.ASSET>=30 "
                                      "(peak rise, bp), regime.ASSET==stressed.")],
    over: Annotated[str, typer.Option("--over", help="What the shock moves: price (each asset's return), "
                                      "price+volatility (and its volatility multiplier) or price+funding (and each "
                                      "fund's redemptions).")] = "price",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random starting directions: the same seed, the "
                                      "same answer.", min=0)] = 0,
    steps: Annotated[int, typer.Option("--steps", help="Most refinement steps of the direction.", min=0)] = 12,
    keep_shocks: Annotated[bool, typer.Option("--keep-shocks", help="Add the shock to the scenario's own shocks "
                                              "instead of starting from the calm scenario (its settings, no "
                                              "shocks).")] = False,
    policies: Annotated[bool, typer.Option("--policies/--no-policies", help="Also find the boundary under each "
                                           "policy of the preset.")] = True,
    set_: SetOpt = None,
    kernels: KernelsOpt = "numpy",
    out: OutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Reverse stress test: the most plausible shock that meets a target.

    Plausibility is the Mahalanobis distance under the assets' daily covariance. The search
    starts from the calm scenario (the preset's settings without its shocks) unless
    --keep-shocks. It reports the shock per asset, its distance and its probability under a
    normal model, the outcome at the boundary and at 0.98 times the shock, who carries it,
    the mechanisms' Shapley values there and each policy's boundary along the same direction.
    """
    from firesale.analytics.figures import check_figure_path, write_figure
    from firesale.analytics.outcomes import parse_target
    from firesale.analytics.reverse import calm_scenario, describe, reverse_stress, shock_figure
    from firesale.cli import _scenario
    from firesale.data.preset import load

    _check_kernels(kernels)
    if out:
        check_figure_path(out)
    preset = load(target)
    scenario = _scenario(preset.scenario, None, False, set_)
    base = scenario if keep_shocks else calm_scenario(scenario)
    condition = parse_target(goal, preset.system)
    with _working(preset, kernels, as_json or not err_console.is_terminal, "reverse stress test") as say:
        result = reverse_stress(preset.system, base, condition, over=over, seed=seed, max_steps=steps,
                                kernels=kernels, progress=say)
        say("the boundary's outcomes, mechanisms and policies")
        report = describe(preset, base, result, kernels=kernels, policies=policies)
    if out and report["found"] and not report["met_without_shock"]:
        write_figure(shock_figure(report), out)
        report["figure"] = out
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")
        return
    _print_reverse(report)
    if out:
        console.print(f"figure written to {escape(out)}" if report.get("figure") else
                      "no figure: there is no shock to draw", highlight=False)


def _print_reverse(report: dict[str, Any]) -> None:
    cur = escape(report["currency"])
    console.print(f"[bold]{escape(report['preset'])}[/bold]: the most plausible shock with "
                  f"[bold]{escape(report['target'])}[/bold] (from {escape(report['base'])}, over {report['over']})",
                  highlight=False)
    if not report["found"] or report["met_without_shock"]:
        console.print(escape(report["note"]), highlight=False)
        return
    table = Table(title="the shock", caption="sd: daily standard deviations; share: of the squared distance")
    for col in ("factor", "value", "sd", "share"):
        table.add_column(col, justify="left" if col == "factor" else "right")
    for row in report["shock"]:
        value = f"{100 * row['value']:+.3f}%" if row["kind"] in ("price", "redemption") else \
            f"x{math.exp(row['value']):.3f}"
        table.add_row(escape(f"{row['kind']} {row['name']}"), value, f"{row['sigmas']:+.2f}",
                      f"{row['share_of_distance']:.1%}")
    console.print(table)
    console.print(f"Mahalanobis distance {report['distance']:.4f} over {report['rank']} factors; a normal daily "
                  f"shock lies that far with probability {report['probability']:.3g} (chi-square), the half-space "
                  f"beyond the boundary {report['probability_beyond']:.3g} (first order)", highlight=False)
    outcome = ", ".join(f"{k} {_num(v)}" for k, v in report["outcome"].items())
    lower = ", ".join(f"{k} {_num(v)}" for k, v in report["at_098"]["outcome"].items())
    console.print(f"at the boundary: {escape(outcome)} (meets the target: {report['meets_target']}); at 0.98 times "
                  f"the shock: {escape(lower)} (meets it: {report['at_098']['meets_target']})", highlight=False)
    console.print(f"levered capital loss {report['levered_capital_loss']:,.2f} {cur}, total loss "
                  f"{report['total_loss']:,.2f} {cur}, forced sales {report['forced_sales']:,.2f} {cur}, defaults "
                  f"{report['defaults']}, market tipped: {report['market_tipped']}", highlight=False)
    rows = report["institutions"]
    if rows:
        who = Table(title="who carries it")
        for col in ("institution", "type", "levered", "defaulted", f"equity lost ({cur})", f"forced sales ({cur})",
                    "breached"):
            who.add_column(col, justify="left" if col in ("institution", "type", "breached") else "right")
        for row in rows:
            who.add_row(escape(row["name"]), escape(row["type"]), "yes" if row["levered"] else "no",
                        "yes" if row["defaulted"] else "",
                        f"{row['equity_lost']:,.2f}", f"{row['forced_sales']:,.2f}", escape(", ".join(row["breached"])))
        console.print(who)
    mech = report.get("mechanisms")
    if mech:
        shares = ", ".join(f"{p} {_num(mech['shapley'][p], ',.2f')} ({_num(mech['share'][p], '.0%')})"
                           for p in mech["players"])
        console.print(f"mechanisms at the boundary (Shapley values of the levered capital loss beyond the "
                      f"{mech['baseline_loss']:,.2f} {cur} with every channel off): {escape(shares)}", highlight=False)
    pol = report.get("policies")
    if pol:
        table = Table(title="under each policy, along the same direction",
                      caption="severity: the boundary's distance under the policy over the one found without it")
        for col in ("policy", "meets the target at the shock", "boundary distance", "severity"):
            table.add_column(col, justify="left" if col == "policy" else "right")
        for name, row in pol.items():
            table.add_row(escape(name), "yes" if row["meets_at_shock"] else "no", _num(row["boundary_distance"],
                                                                                        ".4f"),
                          "never within bounds" if row["severity_multiple"] is None else
                          f"x{row['severity_multiple']:.3f}")
        console.print(table)
    search = report["search"]
    console.print(f"search: {search['steps']} refinement steps, {search['batches']} batches, {search['runs']:,} runs, "
                  f"seed {report['seed']}", highlight=False)


def sensitivity(
    target: Target,
    params: Annotated[list[str] | None, typer.Option("--params", help="Knobs (repeatable or comma-separated): "
                                                     "depth, slr_headroom, outside_capital, spread_elasticity, "
                                                     "shock.NAME.FIELD, a declared parameter or any parameter path. "
                                                     "Default: the built-ins the system has, the preset's declared "
                                                     "parameters and its shocks.")] = None,
    outputs: Annotated[list[str] | None, typer.Option("--outputs", help="Outcomes (repeatable or comma-separated): "
                                                      "loss, total_loss, defaults, forced_sales, breaches, "
                                                      "price_fall.ASSET, price.ASSET, yield.ASSET. Default: the "
                                                      "losses, defaults, forced sales and every asset's peak price "
                                                      "fall.")] = None,
    step: Annotated[float, typer.Option("--step", help="Relative move of each knob, each way.")] = 0.01,
    figure_output: Annotated[str | None, typer.Option("--figure-output", help="Outcome of the tornado figure "
                                                      "(default: the first).")] = None,
    set_: SetOpt = None,
    kernels: KernelsOpt = "numpy",
    out: OutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Elasticities of the headline outcomes to each parameter and shock.

    Central differences, each knob moved --step each way, every move a scenario of one batch
    (a knob that changes the system runs its two systems apart). A cliff is a knob whose move
    changes an outcome by more than 10%. Also prints each market's loop gain in the base run.
    """
    from firesale.analytics.figures import check_figure_path, write_figure
    from firesale.analytics.outcomes import check_outcome
    from firesale.analytics.sensitivity import sensitivity as run_sensitivity
    from firesale.analytics.sensitivity import tornado_figure
    from firesale.cli import _scenario
    from firesale.data.preset import load

    _check_kernels(kernels)
    if out:
        check_figure_path(out)
    preset = load(target)
    scenario = _scenario(preset.scenario, None, False, set_)
    if figure_output is not None:
        check_outcome(figure_output, preset.system, f"--figure-output {figure_output}")
    with _working(preset, kernels, as_json or not err_console.is_terminal, "sensitivity") as say:
        result = run_sensitivity(preset.system, scenario, declared=preset.parameters, params=_split(params),
                                 outputs=_split(outputs), step=step, kernels=kernels, progress=say)
    result = {"preset": preset.name, "scenario": scenario.name, "currency": preset.system.currency, **result}
    if out:
        write_figure(tornado_figure(result, figure_output, f"{preset.name}: sensitivity of "
                                    f"{figure_output or result['outputs'][0]}"), out)
        result["figure"] = out
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    _print_sensitivity(result)
    if out:
        console.print(f"figure written to {escape(out)}", highlight=False)


def _print_sensitivity(result: dict[str, Any]) -> None:
    outputs = result["outputs"]
    table = Table(title=f"{escape(result['preset'])} — {escape(result['scenario'])}: elasticities "
                  f"(% change of the outcome per 1% of the knob; * a cliff)",
                  caption=f"central differences, each knob moved {result['step']:.0%} each way (one way where the "
                  "model refuses the other: forward, backward); '-' where the base value is 0")
    table.add_column("knob")
    for name in outputs:
        table.add_column(escape(name), justify="right")
    table.add_row("[dim]base value[/dim]", *(f"[dim]{result['base'][n]:,.4g}[/dim]" for n in outputs))
    for knob in result["knobs"]:
        cells = []
        for name in outputs:
            cell = knob["outcomes"][name]
            text = _num(cell["elasticity"], "+.3f")
            cells.append(f"[red]{text}*[/red]" if cell["cliff"] else text)
        one_sided = "" if knob["difference"] in ("central", None) else f" ({knob['difference']})"
        table.add_row(escape(knob["name"] + one_sided), *cells)
    console.print(table)
    if result["cliffs"]:
        console.print(f"[red]cliffs[/red]: a {result['step']:.0%} move changes these by more than "
                      f"{result['cliff_threshold']:.0%}:", highlight=False)
        for c in result["cliffs"]:
            change = "off zero" if c["largest_relative_change"] is None else f"{c['largest_relative_change']:.1%}"
            console.print(f"  {escape(c['knob'])} → {escape(c['outcome'])}: {_num(c['low'])} / {_num(c['base'])} / "
                          f"{_num(c['high'])} ({change})", highlight=False)
    else:
        console.print(f"no cliff: no {result['step']:.0%} move changes an outcome by more than "
                      f"{result['cliff_threshold']:.0%}", highlight=False)
    gain = result["loop_gain"]
    if gain and gain["peak"] is not None:
        markets = ", ".join(f"{a} {v:.2f}" for a, v in gain["market"].items())
        console.print(f"loop gain of the base run: peak {gain['peak']:.2f} in round {gain['peak_round']} (> 1: sales "
                      f"feed on themselves); each market's peak own gain: {escape(markets)}", highlight=False)
    console.print(f"{result['runs']} runs", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the stress-test commands to ``app``."""
    app.command()(reverse)
    app.command()(sensitivity)
