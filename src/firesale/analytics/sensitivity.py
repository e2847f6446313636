r"""Sensitivity of the headline outcomes to each parameter and each shock.

For a *knob* :math:`\theta` (a parameter, a group of parameters moved together, or a shock)
and an outcome :math:`y` (:mod:`firesale.analytics.outcomes`), the elasticity by central
differences is

.. math:: \varepsilon = \frac{y(\theta (1 + h)) - y(\theta (1 - h))}{2 h\, y(\theta)},
   \qquad h = 1\%,

the percentage change of the outcome per percent of the knob. Every run, the base and the two
moves of every knob, is one scenario of one batch where the knob changes the scenario only;
a knob that changes the system (depth, headroom) runs its two systems as batches of their own
(:func:`sensitivity`). A *cliff* is a knob whose 1% move changes an outcome by more than
:data:`CLIFF` (10%) of its base value, or moves it off zero: a headline that jumps when an
input moves by a hair.

Built-in knobs besides the preset's declared ``[[parameters]]`` and the shocks (one knob per
shocked asset or institution and field, ``shock.NAME.FIELD``, all its rounds together):

* ``depth``: every asset's market depth, scaled together;
* ``slr_headroom``: each SLR-constrained institution's headroom above its SLR trigger at t0,
  :math:`\mathrm{SLR}_0 - \text{trigger}`, scaled by moving the trigger and the target
  together (the gap between them kept);
* ``outside_capital``: every asset's share of fire-sale pressure outside capital absorbs a
  round (``capital_arrival``, its effective value where unset);
* ``spread_elasticity``: the elasticity of the lit spread to volatility, :math:`1 + \eta`
  (the spread grows as :math:`(\sigma/\sigma_0)^{1+\eta}`, :math:`\eta` the
  ``scenario.information.adverse_selection_elasticity``,
  :mod:`firesale.channels.information`), moved through :math:`\eta`.

A move the model refuses (a value below its field's bound, such as :math:`\eta < 0` when
:math:`\eta = 0`) leaves a one-sided difference: :math:`(y(\theta(1+h)) - y(\theta)) / (h\,
y(\theta))` (``difference`` ``"forward"``, or ``"backward"``).

Each is left out where the run gives it nothing to move (no finite depth, no SLR trigger,
no outside capital arriving, the information channel off). The run also reports the loop gain of each market in the base
run (:func:`firesale.engine.simulate.loop_gain_round`): its peak own gain.

Error codes: FS768 an unknown knob or a knob with nothing to move, FS769 a bad step.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from firesale.analytics.outcomes import check_outcome, outcome_unit, outcome_values, outcome_variables
from firesale.errors import ConfigError, Problem, did_you_mean

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["STEP", "CLIFF", "BUILT_IN", "Knob", "knobs", "default_outputs", "sensitivity", "tornado_figure"]

#: Relative move of each knob, each way.
STEP = 0.01
#: A 1% move that changes an outcome by more than this share of its base value is a cliff.
CLIFF = 0.10
#: The built-in knobs and what each moves.
BUILT_IN = {
    "depth": "every asset's market depth, scaled together",
    "slr_headroom": "each SLR-constrained institution's headroom above its SLR trigger at t0 (trigger and target "
                    "moved together)",
    "outside_capital": "every asset's share of fire-sale pressure outside capital absorbs a round (capital_arrival)",
    "spread_elasticity": "elasticity of the lit spread to volatility, 1 + information.adverse_selection_elasticity",
}
_SPREAD = "scenario.information.adverse_selection_elasticity"
_SHOCK_FIELDS = ("price", "volatility", "redemption", "client_sale", "repo_rate", "capital")


@dataclasses.dataclass(frozen=True)
class Knob:
    """What one elasticity moves: parameter paths set to ``base * factor`` each, or, with an
    ``anchor`` (``slr_headroom``, ``spread_elasticity``), to ``anchor - (anchor - base) * factor``:
    the distance from the anchor is what scales."""

    name: str
    description: str
    paths: tuple[str, ...]
    base: tuple[float, ...]
    anchor: tuple[float, ...] | None = None

    def values(self, factor: float) -> dict[str, float]:
        if self.anchor is None:
            return {p: b * factor for p, b in zip(self.paths, self.base)}
        return {p: a - (a - b) * factor for p, a, b in zip(self.paths, self.anchor, self.base)}

    @property
    def changes_system(self) -> bool:
        return any(not p.startswith("scenario.") for p in self.paths)


def _t0_slr(system: Any, scenario: Any) -> np.ndarray:
    """Each institution's SLR at t0: round 0 of the calm scenario (no shock moves it)."""
    from firesale.simulation import simulate

    calm = scenario.updated(name="t0", shocks=[], max_rounds=1)
    return simulate(system, calm, detail=False, variables=("slr",)).slr.isel(scenario=0, round=0).values


def _built_in(name: str, system: Any, scenario: Any) -> Knob | None:
    from firesale.parameters import parameter_value

    if name == "depth":
        finite = [a for a in system.assets if a.depth is not None and math.isfinite(a.depth) and a.depth > 0]
        if not finite:
            return None
        return Knob(name, BUILT_IN[name], tuple(f"asset.{a.name}.depth" for a in finite),
                    tuple(float(a.depth) for a in finite))
    if name == "outside_capital":
        paths, base = [], []
        for a in system.assets:
            if not scenario.market.outside_demand and a.capital_arrival is None:
                continue  # no outside capital arrives in this market
            value = parameter_value(system, scenario, f"asset.{a.name}.capital_arrival")
            if value > 0:
                paths.append(f"asset.{a.name}.capital_arrival")
                base.append(value)
        return Knob(name, BUILT_IN[name], tuple(paths), tuple(base)) if paths else None
    if name == "spread_elasticity":
        if not scenario.channels.information:
            return None
        # the lit spread grows as (sigma / sigma0)^(1 + eta): the knob is 1 + eta
        value = parameter_value(system, scenario, _SPREAD)
        return Knob(name, BUILT_IN[name], (_SPREAD,), (value,), (-1.0,))
    if name == "slr_headroom":
        slr0 = _t0_slr(system, scenario)
        paths, base, anchor = [], [], []
        for n, inst in enumerate(system.institutions):
            if inst.slr_trigger is None or not np.isfinite(slr0[n]) or slr0[n] <= inst.slr_trigger:
                continue
            for field in ("slr_trigger", "slr_target"):
                value = getattr(inst, field)
                if value is None:
                    continue
                paths.append(f"institution.{inst.name}.{field}")
                base.append(float(value))
                # the target keeps its gap to the trigger: it moves by what the trigger moves
                anchor.append(float(slr0[n]) + float(value) - float(inst.slr_trigger))
        return Knob(name, BUILT_IN[name], tuple(paths), tuple(base), tuple(anchor)) if paths else None
    raise ValueError(name)


def _shock_knobs(scenario: Any) -> list[Knob]:
    """A knob per shocked name and field (``shock.ASSET.price``, ``shock.FUND.redemption``):
    every shock of that name and field over the rounds scaled together (a path of client
    sales is one knob; a volatility shock's knob is its multiplier)."""
    grouped: dict[tuple[str, str], list[tuple[int, float, int]]] = {}
    for i, shock in enumerate(scenario.shocks):
        who = shock.asset or shock.institution
        for field in _SHOCK_FIELDS:
            value = getattr(shock, field, None)
            if value is not None and value != 0:
                grouped.setdefault((who, field), []).append((i, float(value), shock.round))
    out = []
    for (who, field), items in grouped.items():
        rounds = sorted({r for *_, r in items})
        when = f"round {rounds[0]}" if len(rounds) == 1 else f"rounds {rounds[0]}-{rounds[-1]}"
        out.append(Knob(f"shock.{who}.{field}", f"the scenario's {field} shock{'s' if len(items) > 1 else ''} on "
                        f"{who}, {when}", tuple(f"scenario.shocks.{i}.{field}" for i, *_ in items),
                        tuple(v for _, v, _ in items)))
    return out


def knobs(system: Any, scenario: Any, declared: Sequence[Any] = (), names: Sequence[str] | None = None) -> list[Knob]:
    """The knobs of a sensitivity run: ``names`` (built-in names, ``shock.NAME.FIELD``, declared
    parameter names or any parameter path), or by default the built-ins the system has,
    the preset's declared parameters and every shock.

    Raises
    ------
    ConfigError
        FS768: an unknown name, or a built-in knob with nothing to move in this system.
    """
    from firesale.parameters import parameter_value

    shocks = {k.name: k for k in _shock_knobs(scenario)}
    declared_names = [p.name for p in declared]
    if names is None:
        out = [k for k in (_built_in(n, system, scenario) for n in BUILT_IN) if k is not None]
        have = {p for k in out for p in k.paths}
        for name in declared_names:
            if name in have:
                continue
            value = parameter_value(system, scenario, name)
            if value != 0:
                out.append(Knob(name, next(p.description for p in declared if p.name == name), (name,), (value,)))
        return out + list(shocks.values())
    out = []
    for name in dict.fromkeys(names):
        if name in BUILT_IN:
            knob = _built_in(name, system, scenario)
            if knob is None:
                raise ConfigError(Problem("FS768", f"--params {name}", f"system {system.name} gives {name} nothing "
                                          "to move: " + {"depth": "no asset has a finite depth",
                                                         "slr_headroom": "no institution has an SLR trigger below "
                                                                         "its t0 SLR",
                                                         "outside_capital": "no asset has outside capital arriving "
                                                                            "(set market.outside_demand)",
                                                         "spread_elasticity": "the information channel is off or "
                                                                              "the elasticity is 0"}[name]))
            out.append(knob)
        elif name in shocks:
            out.append(shocks[name])
        elif name.startswith("shock."):
            raise ConfigError(Problem("FS768", f"--params {name}", "no such shock knob."
                                      f"{did_you_mean(name, list(shocks))} Shocks: {', '.join(shocks) or 'none'}"))
        elif "." in name:
            value = parameter_value(system, scenario, name)  # FS163-FS167 for a bad path
            if value == 0:
                raise ConfigError(Problem("FS768", f"--params {name}", "is 0: a relative move of 0 moves nothing; "
                                          "an elasticity needs a value other than 0"))
            desc = next((p.description for p in declared if p.name == name), "parameter")
            out.append(Knob(name, desc, (name,), (value,)))
        else:
            known = list(BUILT_IN) + list(shocks) + declared_names
            raise ConfigError(Problem("FS768", f"--params {name}", f"unknown knob.{did_you_mean(name, known)} "
                                      f"Built in: {', '.join(BUILT_IN)}; shocks: {', '.join(shocks) or 'none'}; "
                                      "or any parameter path (asset.NAME.FIELD, scenario.FIELD, ...)"))
    return out


def default_outputs(system: Any) -> list[str]:
    """Levered loss, total loss, defaults, forced sales and every asset's peak price fall."""
    return ["loss", "total_loss", "defaults", "forced_sales"] + [f"price_fall.{a.name}" for a in system.assets]


def _run(system: Any, scenario: Any, moves: list[tuple[Knob, float]], outputs: list[str], kernels: str,
         progress: Callable[[str], None]) -> tuple[dict[str, np.ndarray], list[int]]:
    """The base (row 0) and every move (rows 1...) run: the scenario-only moves in one batch
    with the base, each system move in a batch of its own. Outcomes per row (NaN for a
    move the model refuses), and the refused rows."""
    from firesale.parameters import apply_parameters
    from firesale.simulation import simulate

    variables = outcome_variables(outputs)
    groups: dict[int, tuple[Any, list[Any], list[int]]] = {id(system): (system, [scenario], [0])}
    refused = []
    for row, (knob, factor) in enumerate(moves, start=1):
        try:
            new_system, new_scenario = apply_parameters(system, scenario, knob.values(factor))
        except ConfigError:
            refused.append(row)  # outside the field's bounds: a one-sided difference
            continue
        new_scenario = new_scenario.updated(name=f"{knob.name} x{factor:g}")
        key = id(new_system)
        if key not in groups:
            groups[key] = (new_system, [], [])
        groups[key][1].append(new_scenario)
        groups[key][2].append(row)
    out = {name: np.full(len(moves) + 1, np.nan) for name in outputs}
    for g, (group_system, scenarios, rows) in enumerate(groups.values()):
        progress(f"batch {g + 1} of {len(groups)} ({len(scenarios)} runs)")
        ds = simulate(group_system, scenarios, detail=False, variables=variables, kernels=kernels)
        for name, values in outcome_values(ds, outputs).items():
            out[name][rows] = values
    return out, refused


def sensitivity(system: Any, scenario: Any, *, declared: Sequence[Any] = (), params: Sequence[str] | None = None,
                outputs: Sequence[str] | None = None, step: float = STEP, kernels: str = "numpy",
                loop_gain: bool | xr.Dataset = True, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Elasticities of ``outputs`` (default :func:`default_outputs`) to each knob
    (:func:`knobs`) by central differences of ``step`` each way, with the cliffs and each
    market's loop gain in the base run: measured in a run of its own (``loop_gain`` True),
    read from a results Dataset of the scenario alone that measured it (``loop_gain`` that
    Dataset), or left out (False). JSON-ready.

    Returns
    -------
    dict
        ``base`` (outcome → value), ``knobs`` (one dict per knob: name, description,
        paths, ``changes_system``; per outcome ``low``, ``high``, ``elasticity`` (None
        where the base value is 0) and ``cliff``), ``cliffs`` (knob, outcome, relative
        change), ``loop_gain`` (peak and each market's peak own gain; None when not
        measured), ``step``, ``units``.

    Raises
    ------
    ConfigError
        FS768 (:func:`knobs`), FS761-FS763 for an unknown outcome, FS769 a step outside (0, 0.5).
    """
    if not (isinstance(step, (int, float)) and 0 < step < 0.5):
        raise ConfigError(Problem("FS769", f"--step {step}", "a relative move between 0 and 0.5, e.g. 0.01"))
    say = progress or (lambda text: None)
    outputs = list(dict.fromkeys(outputs or default_outputs(system)))
    for name in outputs:
        check_outcome(name, system, f"--outputs {name}")
    chosen = knobs(system, scenario, declared, params)
    moves = [(k, f) for k in chosen for f in (1 - step, 1 + step)]
    values, refused = _run(system, scenario, moves, outputs, kernels, say)
    base = {name: float(v[0]) for name, v in values.items()}
    rows, cliffs = [], []
    for i, knob in enumerate(chosen):
        low_row, high_row = 1 + 2 * i, 2 + 2 * i
        row: dict[str, Any] = {"name": knob.name, "description": knob.description, "paths": list(knob.paths),
                               "changes_system": knob.changes_system, "outcomes": {}}
        low_ok, high_ok = low_row not in refused, high_row not in refused
        row["difference"] = "central" if low_ok and high_ok else "forward" if high_ok else "backward" if low_ok \
            else None
        for name in outputs:
            y0 = base[name]
            lo = float(values[name][low_row]) if low_ok else None
            hi = float(values[name][high_row]) if high_ok else None
            up, down = (y0 if hi is None else hi), (y0 if lo is None else lo)
            span = step * ((hi is not None) + (lo is not None))
            elasticity = (up - down) / (span * y0) if y0 != 0 and math.isfinite(y0) and span else None
            worst = max(abs(down - y0), abs(up - y0))
            scale = abs(y0)
            relative = worst / scale if scale > 0 else (math.inf if worst > 1e-9 else 0.0)
            cliff = bool(relative > CLIFF)
            row["outcomes"][name] = {"low": lo, "high": hi, "elasticity": elasticity, "cliff": cliff,
                                     "largest_relative_change": None if math.isinf(relative) else relative}
            if cliff:
                cliffs.append({"knob": knob.name, "outcome": name, "base": y0, "low": lo, "high": hi,
                               "largest_relative_change": None if math.isinf(relative) else relative})
        rows.append(row)
    gain = None
    if loop_gain is not False:
        from firesale.analytics.amplification import loop_gain_summary

        if loop_gain is True:
            from firesale.simulation import simulate

            say("the loop gain of the base run")
            loop_gain = simulate(system, scenario, detail=False, loop_gain=True, kernels=kernels)
        summary = loop_gain_summary(loop_gain.isel(scenario=0))
        gain = None if summary is None else {"peak": summary["peak"], "peak_round": summary["peak_round"],
                                             "market": summary["market"]}
    return {"base": base, "knobs": rows, "cliffs": cliffs, "loop_gain": gain, "step": step, "cliff_threshold": CLIFF,
            "runs": 1 + len(moves), "units": {n: outcome_unit(n, system.currency) for n in outputs},
            "outputs": outputs}


def tornado_figure(result: dict[str, Any], output: str | None = None, title: str = "") -> Any:
    """Tornado chart of one outcome (default: the first): each knob's low and high move as
    a percentage change of the outcome (no bar for a move the model refused), knobs sorted
    by the larger of the two, cliffs in red."""
    from firesale.analytics.figures import plotly_graph_objects

    go = plotly_graph_objects()
    output = output or result["outputs"][0]
    base = result["base"][output]
    rows = []
    for knob in result["knobs"]:
        cell = knob["outcomes"][output]
        # a move the model refused (a one-sided difference) draws no bar on its side
        low, high = (base if v is None else v for v in (cell["low"], cell["high"]))
        lo, hi = ((low - base) / abs(base) * 100, (high - base) / abs(base) * 100) if base else \
            (low - base, high - base)
        rows.append((knob["name"], lo, hi, cell["cliff"]))
    rows.sort(key=lambda r: max(abs(r[1]), abs(r[2])))
    names = [r[0] for r in rows]
    step = result["step"]
    fig = go.Figure([
        go.Bar(y=names, x=[r[1] for r in rows], orientation="h", name=f"knob -{step:.0%}",
               marker_color=["#d62728" if r[3] else "#1f77b4" for r in rows]),
        go.Bar(y=names, x=[r[2] for r in rows], orientation="h", name=f"knob +{step:.0%}",
               marker_color=["#ff9896" if r[3] else "#aec7e8" for r in rows]),
    ])
    unit = "% change" if base else f"change ({result['units'][output]})"
    fig.update_layout(barmode="overlay", template="plotly_white", height=max(320, 36 * len(rows) + 160),
                      title=title or f"sensitivity of {output} (base {base:,.4g}): red bars are cliffs "
                      f"(a {step:.0%} move changes it by more than {result['cliff_threshold']:.0%})",
                      xaxis_title=f"{output}, {unit}")
    return fig
