"""One self-contained HTML report of a run: plotly.js inline (once), no external URL.

Sections (:data:`REPORT_SECTIONS`): the summary numbers (initial and total loss, the
amplification and forced sales as a multiple of the initial loss — the narrative's 19x on
``dealer_prime``), the price path of every asset, the system's equity waterfall by round
(:func:`equity_waterfall`), the cascade timeline (who was forced to sell when, coloured by
the binding constraint), the Shapley attribution of the damage to the mechanisms
(:func:`firesale.analytics.attribution.attribute`), the regime table of the most stressed
market when the system has dealers (:func:`firesale.analytics.regimes.regime_table`), the
sensitivity of the headline outcomes to each parameter and shock
(:func:`firesale.analytics.sensitivity.sensitivity`: elasticities, cliffs, each market's
loop gain and a tornado chart) and the configuration (system and scenario).

The report reads only the results Dataset (and, for the attribution and the sensitivity,
reruns the scenario on the system). Every axis is labelled from the variables'
``long_name`` and ``units`` attrs; every text taken from the inputs is escaped.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from firesale.errors import ConfigError, Problem

__all__ = ["REPORT_SECTIONS", "REPORT_STEPS", "REPORT_SUFFIXES", "attribution_figure", "build_report",
           "cascade_figure", "check_report_path", "equity_waterfall", "price_figure", "waterfall_figure",
           "write_report"]

#: Section anchor → heading, in the order the report shows them.
REPORT_SECTIONS: dict[str, str] = {
    "summary": "Summary",
    "prices": "Price paths",
    "waterfall": "Equity waterfall by round",
    "cascade": "Cascade timeline",
    "attribution": "Attribution to the mechanisms",
    "regimes": "Market regime",
    "sensitivity": "Sensitivity",
    "configuration": "Configuration",
}
#: The steps :func:`build_report` reports to its ``progress`` callback, in order.
REPORT_STEPS: tuple[str, ...] = (
    "simulating the scenario",
    "attribution: the 8 on/off corners of the mechanisms",
    "sensitivity: each knob moved 1% each way",
    "drawing the figures and tables",
)
#: What :func:`write_report` writes.
REPORT_SUFFIXES = (".html", ".htm")
#: Components of the equity waterfall (:func:`equity_waterfall`).
WATERFALL_COMPONENTS = ("shock", "fire-sale revaluation", "trading and other", "paid out to investors")
#: Rounds the waterfall shows one by one; later rounds are drawn as one step.
WATERFALL_ROUNDS = 12
#: Institutions listed in the summary table (those that sold most first).
SUMMARY_INSTITUTIONS = 50
#: Trace colours, by the position of the channel in the Dataset's ``channel`` coordinate.
_PALETTE = ("#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692", "#b6e880", "#ff97ff",
            "#fecb52")
_UNATTRIBUTED_COLOUR = "#7f7f7f"
_PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
_FIGURE_HEIGHT = 460

Progress = Callable[[int, int, str], None]

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1f2933; }
header { background: #1f2933; color: #f5f7fa; padding: 1rem 2rem; }
header h1 { margin: 0 0 .3rem 0; font-size: 1.5rem; }
header nav a { color: #9fb3c8; margin-right: 1rem; text-decoration: none; }
main { padding: 0 2rem 2rem 2rem; max-width: 1200px; }
section { margin-top: 2rem; }
h2 { border-bottom: 1px solid #cbd2d9; padding-bottom: .3rem; }
.headline { font-size: 1.15rem; }
.cards { display: flex; flex-wrap: wrap; gap: .8rem; margin: 1rem 0; }
.card { border: 1px solid #cbd2d9; border-radius: 6px; padding: .6rem 1rem; min-width: 10rem; }
.card .value { font-size: 1.5rem; font-weight: 600; }
.card .what { color: #52606d; font-size: .85rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .9rem; }
th, td { border: 1px solid #e4e7eb; padding: .25rem .6rem; text-align: left; vertical-align: top; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
.stressed { background: #fde8e8; }
.functioning { background: #e3f9e5; }
.unmeasured { color: #7b8794; font-style: italic; }
td.cliff { background: #fde8e8; color: #9b1c1c; font-weight: 600; }
.wide { overflow-x: auto; }
.note { color: #52606d; font-size: .9rem; }
pre { background: #f5f7fa; padding: .8rem; overflow-x: auto; font-size: .8rem; }
footer { color: #7b8794; font-size: .8rem; padding: 1rem 2rem; }
"""


def check_report_path(path: str | Path) -> Path:
    """The report path, if it ends in ``.html`` (or ``.htm``) and its folder exists.

    Raises
    ------
    ConfigError
        Another suffix, or a folder that does not exist.
    """
    path = Path(path)
    if path.suffix.lower() not in REPORT_SUFFIXES:
        raise ConfigError(Problem("FS740", f"report {str(path)!r}", f"the report is an HTML file, not "
                                  f"{path.suffix or '(no suffix)'!r}: give a path ending in .html, e.g. report.html"))
    if not path.parent.is_dir():
        raise ConfigError(Problem("FS740", f"report {str(path)!r}", f"the folder {str(path.parent)!r} does not "
                                  "exist: create it first, or write the report elsewhere"))
    return path


def _label(variable: xr.DataArray) -> str:
    """An axis label from the variable's attrs: ``long_name (units)``, like xarray's
    ``label_from_attrs`` (the name when there is no ``long_name``; no unit when it is ``1``)."""
    name = variable.attrs.get("long_name") or variable.attrs.get("standard_name") or str(variable.name)
    units = variable.attrs.get("units")
    return f"{name} ({units})" if units and units not in ("1", "-") else str(name)


def _e(text: Any) -> str:
    """Escaped text for HTML (and for plotly labels, which accept a few tags)."""
    return html.escape(str(text), quote=True)


def _amount(value: float | None, currency: str) -> str:
    return "-" if value is None else f"{value:,.2f} {currency}"


def _multiple(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}×"


def _percent(value: float | None, digits: int = 2) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{100 * value:+.{digits}f}%"


def _table(header: list[str] | None, rows: list[list[tuple[str, str]]], css_class: str = "") -> str:
    """An HTML table; ``header`` (none when ``None``) and each cell's text are escaped, a
    cell is ``(text, class)``."""
    head = "" if header is None else "<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr></thead>"
    body = "".join(
        "<tr>" + "".join(f'<td class="{cls}">{_e(text)}</td>' if cls else f"<td>{_e(text)}</td>" for text, cls in row)
        + "</tr>" for row in rows)
    attr = f' class="{css_class}"' if css_class else ""
    return f"<table{attr}>{head}<tbody>{body}</tbody></table>"


def equity_waterfall(ds: xr.Dataset, scenario: int = 0) -> xr.Dataset:
    """The system's equity, round by round, split by what moved it.

    For round :math:`t` with system holdings :math:`H_{t-1,k}` (units, prices start at 1)
    and marks :math:`m_{t-1,k}` at the end of the round before (t0: holdings0 and 1), the
    fundamental prices :math:`F_{t,k}` and the capital paid out :math:`C_t` (cumulative),

    .. math::

        \\text{shock}_t &= \\sum_k H_{t-1,k}\\, m_{t-1,k} (F_{t,k} / F_{t-1,k} - 1) \\\\
        \\text{fire-sale revaluation}_t &= \\sum_k H_{t-1,k} (m_{t,k} - m_{t-1,k}) - \\text{shock}_t \\\\
        \\text{paid out}_t &= -(C_t - C_{t-1}) \\\\
        \\text{trading and other}_t &= E_t - E_{t-1} - \\text{the three above}

    (all as changes of equity, negative when it falls): the revaluation of the round's opening
    holdings at the shocked fundamentals, then at the prices the selling pressure (and its
    fading) and the marks made; what the trades realised beyond that (execution against the
    round's closing marks, spreads), interest and derivatives is the rest. Capital paid out
    to redeeming investors lowers equity but is not a loss; the other three add up to minus
    the summary's total loss.

    Parameters
    ----------
    ds : Dataset
        Results of :func:`firesale.simulate`; without per-round holdings (``detail=False``)
        the shock, revaluation and trading are one component.
    scenario : int
        Position of the scenario in ``ds``.

    Returns
    -------
    Dataset
        ``equity_change`` (round, component) in the system's currency, and the system's
        ``initial_equity`` and ``final_equity``.

    Examples
    --------
    >>> from firesale import load_preset, simulate
    >>> p = load_preset("dealer_prime")
    >>> steps = equity_waterfall(simulate(p.system, p.scenario, detail=True))
    >>> dict(zip(steps.component.values.tolist(), (steps.equity_change.sel(round=0).values.round(9) + 0.0).tolist()))
    {'shock': -6.0, 'fire-sale revaluation': 0.0, 'trading and other': 0.0, 'paid out to investors': 0.0}
    """
    one = ds.isel(scenario=scenario)
    equity = one.equity.sum("institution").values
    initial = float(one.initial_equity.sum())
    paid_out = one.capital_out.sum("institution").values
    change = np.diff(np.concatenate([[initial], equity]))
    payout = -np.diff(np.concatenate([[0.0], paid_out]))
    if "holdings" in one:
        held = one.holdings.sum("institution").values  # (round, asset)
        held_before = np.vstack([one.holdings0.sum("institution").values, held[:-1]])
        ones = np.ones((1, one.sizes["asset"]))
        marks = one.mark.values
        marks_before = np.vstack([ones, marks[:-1]])
        fundamental = one.fundamental.values
        fundamental_before = np.vstack([ones, fundamental[:-1]])
        shock = (held_before * marks_before * (fundamental / fundamental_before - 1.0)).sum(axis=1)
        revaluation = (held_before * (marks - marks_before)).sum(axis=1) - shock
        rest = change - payout - shock - revaluation
        components = WATERFALL_COMPONENTS
        values = np.stack([shock, revaluation, rest, payout], axis=1)
    else:
        components = ("shock, revaluation and trading", WATERFALL_COMPONENTS[-1])
        values = np.stack([change - payout, payout], axis=1)
    units = one.equity.attrs.get("units", "")
    return xr.Dataset(
        {
            "equity_change": xr.DataArray(values, dims=("round", "component"), attrs={
                "units": units, "long_name": "change in system equity",
                "description": "Change of the system's equity in the round, by what moved it (negative: a fall)."}),
            "initial_equity": xr.DataArray(initial, attrs={"units": units, "long_name": "system equity at t0"}),
            "final_equity": xr.DataArray(float(equity[-1]), attrs={"units": units,
                                                                    "long_name": "system equity at the end"}),
        },
        coords={"round": one["round"].values, "component": list(components)},
        attrs={"system": ds.attrs.get("system", ""), "scenario": str(one.scenario.values)},
    )


class _FigureWriter:
    """Figures as HTML fragments: plotly.js inline in the first one only."""

    def __init__(self) -> None:
        self._library_written = False

    def __call__(self, fig: Any, div_id: str, height: int = _FIGURE_HEIGHT) -> str:
        fig.update_layout(height=height, margin={"l": 60, "r": 20, "t": 50, "b": 60})
        fragment = fig.to_html(full_html=False, include_plotlyjs=not self._library_written, div_id=div_id,
                               config=_PLOTLY_CONFIG, default_height=f"{height}px")
        self._library_written = True
        return fragment


def _round_labels(one: xr.Dataset) -> list[str]:
    return [str(int(r)) for r in one["round"].values]


def _summary_section(summary: dict[str, Any]) -> str:
    cur = summary["currency"] or ""
    multiple = summary["forced_sales_per_initial_loss"]
    amplification = summary["amplification"]
    if summary["initial_loss"] is None:  # a wave and no impulse run: the initial loss is unknown
        headline = (f"The scenario forced {_amount(summary['forced_sales'], cur)} of sales; the system lost "
                    f"{_amount(summary['total_loss'], cur)} in all (no impulse run: the initial loss is unknown).")
    elif multiple is None:  # no price shock: nothing to divide by
        headline = (f"The shock costs nothing with every channel off, yet it forced "
                    f"{_amount(summary['forced_sales'], cur)} of sales; the system lost "
                    f"{_amount(summary['total_loss'], cur)} in all.")
    else:
        headline = (f"A shock that costs {_amount(summary['initial_loss'], cur)} with every channel off forced "
                    f"{_amount(summary['forced_sales'], cur)} of sales: {_multiple(multiple, 1)} the initial loss. "
                    f"The system lost {_amount(summary['total_loss'], cur)} in all, an amplification of "
                    f"{_multiple(amplification, 2)}; levered institutions lost "
                    f"{_amount(summary['levered_capital_loss'], cur)} of capital.")
    cards = [
        (_amount(summary["initial_loss"], cur), "initial loss (every channel off; the shocks and exogenous waves on)"),
        (_amount(summary["total_loss"], cur), "total loss"),
        (_multiple(amplification, 2), "amplification (total / initial loss)"),
        (_amount(summary["levered_capital_loss"], cur),
         f"levered capital loss ({summary['levered_institutions']} institutions with debt, repo or derivatives; "
         f"initial {_amount(summary['initial_levered_capital_loss'], cur)})"),
        (_multiple(summary["amplification_levered"], 2), "amplification of the levered capital loss"),
        (_amount(summary["unlevered_mark_to_market"], cur),
         f"unlevered holders' mark-to-market (initial {_amount(summary['initial_unlevered_mark_to_market'], cur)})"),
        (_multiple(summary["amplification_unlevered"], 2), "amplification of the unlevered mark-to-market"),
        (_amount(summary["forced_sales"], cur), "forced sales"),
        (_multiple(multiple, 1), "forced sales / initial loss"),
        (str(summary["rounds"]), "rounds"),
        (str(summary["breaches"]), "institutions breaching"),
        (str(summary["defaults"]), "defaults"),
    ]
    parts = [f'<p class="headline" id="headline">{_e(headline)}</p>', '<div class="cards">']
    parts += [f'<div class="card"><div class="value">{_e(value)}</div><div class="what">{_e(what)}</div></div>'
              for value, what in cards]
    parts.append("</div>")
    # spreads are quoted only with the information channel on: show them where they were
    with_spreads = any(spread["peak"] > 0 for spread in summary["spreads"].values())
    price_rows = [[(asset, ""), (_percent(summary["price_trough"][asset]), "number"), (_percent(change), "number"),
                   *([(f"{1e4 * summary['spreads'][asset]['t0']:.1f} bp", "number"),
                      (f"{1e4 * summary['spreads'][asset]['peak']:.1f} bp", "number")] if with_spreads else [])]
                  for asset, change in summary["price_change"].items()]
    parts.append(_table(["asset", "price trough", "price at the end",
                         *(["spread t0", "spread peak"] if with_spreads else [])], price_rows))
    cascade = summary["cascade"]["groups"]
    if cascade:
        steps = " → ".join(f"round {r}: {', '.join(g or '-' for g in groups)}" for r, groups in cascade)
        parts.append(f"<p><strong>Cascade</strong> (groups first forced to sell): {_e(steps)}</p>")
    institutions = sorted(summary["institutions"], key=lambda row: -row["sales"])
    shown = institutions[:SUMMARY_INSTITUTIONS]
    rows = [[(row["name"], ""), (row["type"], ""), (row["group"], ""),
             ("-" if row["first_forced_round"] is None else str(row["first_forced_round"]), "number"),
             (f"{row['sales']:,.2f}", "number"), (", ".join(row["sales_by_channel"]) or "-", ""),
             (f"{row['initial_equity']:,.2f}", "number"), (f"{row['final_equity']:,.2f}", "number"),
             ("-" if row["min_capital_ratio"] is None else f"{100 * row['min_capital_ratio']:.2f}%", "number"),
             *([("yes" if row["defaulted"] else "", "")] if summary["defaults"] else [])] for row in shown]
    parts.append(_table(["institution", "type", "group", "first forced", f"sold ({cur})", "binding channels",
                         f"equity t0 ({cur})", f"final equity ({cur})", "lowest capital ratio",
                         *(["defaulted"] if summary["defaults"] else [])], rows))
    if len(institutions) > len(shown):
        parts.append(f'<p class="note">The {len(shown)} institutions that sold most of {len(institutions)}.</p>')
    return "".join(parts)


def price_figure(ds: xr.Dataset, index: int = 0) -> Any:
    """The price path of every asset, one line each from t0 (a plotly Figure).

    Parameters
    ----------
    ds : Dataset
        Results of :func:`firesale.simulate`.
    index : int
        Position of the scenario in ``ds``.
    """
    from firesale.analytics.figures import plotly_graph_objects

    go = plotly_graph_objects()
    one = ds.isel(scenario=index)
    x = ["t0", *_round_labels(one)]
    fig = go.Figure()
    for k, asset in enumerate(one.asset.values):
        fig.add_trace(go.Scatter(x=x, y=[1.0, *one.price.values[:, k].tolist()], mode="lines+markers",
                                 name=_e(asset)))
    fig.update_layout(title=f"{_e(one.price.attrs.get('long_name', 'price'))} of each asset by round",
                      xaxis_title=_e(_label(one["round"])), yaxis_title=_e(_label(one.price)),
                      xaxis={"type": "category"})
    return fig


def waterfall_figure(ds: xr.Dataset, index: int = 0) -> Any:
    """The system's equity waterfall by round, :func:`equity_waterfall` drawn (a plotly
    Figure); the y axis spans the levels the system's equity passes through, so that the
    steps are visible.

    Parameters
    ----------
    ds : Dataset
        Results of :func:`firesale.simulate`.
    index : int
        Position of the scenario in ``ds``.
    """
    from firesale.analytics.figures import plotly_graph_objects

    go = plotly_graph_objects()
    steps = equity_waterfall(ds, index)
    equity = ds.equity
    values = steps.equity_change.values
    tolerance = 1e-9 * max(1.0, abs(float(steps.initial_equity)))
    rounds = [str(int(r)) for r in steps["round"].values]
    groups: list[tuple[str, np.ndarray]] = [(f"round {r}", values[i]) for i, r in enumerate(rounds[:WATERFALL_ROUNDS])]
    if len(rounds) > WATERFALL_ROUNDS:
        groups.append((f"rounds {rounds[WATERFALL_ROUNDS]}–{rounds[-1]}", values[WATERFALL_ROUNDS:].sum(axis=0)))
    units = steps.equity_change.attrs.get("units", "")
    outer, inner, measure, y = ["t0"], [_e(steps.initial_equity.attrs["long_name"])], ["absolute"], [
        float(steps.initial_equity)]
    for label, row in groups:
        for component, value in zip(steps.component.values, row):
            if abs(value) > tolerance:
                outer.append(label)
                inner.append(_e(component))
                measure.append("relative")
                y.append(float(value))
    outer.append("end")
    inner.append(_e(steps.final_equity.attrs["long_name"]))
    measure.append("total")
    y.append(float(steps.final_equity))
    fig = go.Figure(go.Waterfall(x=[outer, inner], y=y, measure=measure, textposition="outside",
                                 text=[f"{v:+,.2f}" if m == "relative" else f"{v:,.2f}" for v, m in zip(y, measure)],
                                 decreasing={"marker": {"color": "#ef553b"}},
                                 increasing={"marker": {"color": "#00cc96"}},
                                 totals={"marker": {"color": "#636efa"}}))
    levels = np.cumsum([y[0], *y[1:-1]])
    span = max(float(levels.max() - levels.min()), 1e-9 * max(1.0, abs(y[0])), 1e-12)
    low = max(0.0, float(levels.min()) - 0.25 * span) if levels.min() >= 0 else float(levels.min()) - 0.25 * span
    fig.update_layout(title=f"{_e(steps.equity_change.attrs['long_name'])} by round and by what moved it "
                            f"({_e(units)})",
                      yaxis_title=_e(_label(equity)), yaxis={"range": [low, float(levels.max()) + 0.2 * span]},
                      showlegend=False)
    return fig


def cascade_figure(ds: xr.Dataset, index: int = 0) -> Any | None:
    """The cascade timeline (a plotly Figure): institutions × rounds, a marker where an
    institution was forced to sell, sized by the sale and coloured by the channel behind
    most of its sales in the round; an ✕ where it defaulted. ``None`` when nobody sold or
    defaulted.

    Parameters
    ----------
    ds : Dataset
        Results of :func:`firesale.simulate`.
    index : int
        Position of the scenario in ``ds``.
    """
    from firesale.analytics.figures import plotly_graph_objects

    go = plotly_graph_objects()
    one = ds.isel(scenario=index)
    sold = one.sold.values  # (round, institution)
    tolerance = 1e-9 * max(1.0, float(np.nanmax(np.abs(sold))) if sold.size else 1.0)
    by_channel = one.sales_by_channel.values  # (round, institution, channel)
    defaulted = one.defaulted.values > 0
    first_default = np.where(defaulted.any(axis=0), defaulted.argmax(axis=0), -1)
    selling = sold > tolerance
    involved = selling.any(axis=0) | (first_default >= 0)
    if not involved.any():
        return None
    first_sale = np.where(selling.any(axis=0), selling.argmax(axis=0), np.iinfo(np.int64).max)
    order = sorted(np.flatnonzero(involved), key=lambda n: (first_sale[n], first_default[n], n))
    names = [_e(one.institution.values[n]) for n in order]
    channel_of = np.where(by_channel.sum(axis=2) > tolerance, by_channel.argmax(axis=2), -1)
    biggest = float(sold.max()) if sold.size else 1.0
    last_event = max(int(np.flatnonzero(selling.any(axis=1)).max(initial=0)), int(first_default.max()))
    last_round = int(one["round"].values[last_event]) + 1
    cur = one.sold.attrs.get("units", "")
    fig = go.Figure()
    channels = [str(c) for c in one.channel.values]
    for c, channel in [*enumerate(channels), (-1, "none")]:
        rounds, insts = np.nonzero(selling & (channel_of == c))
        if not len(rounds):
            continue
        amounts = sold[rounds, insts]
        fig.add_trace(go.Scatter(
            x=one["round"].values[rounds].tolist(), y=[_e(one.institution.values[n]) for n in insts], mode="markers",
            name=_e(channel), marker={"size": (8 + 22 * np.sqrt(amounts / biggest)).tolist(), "opacity": 0.85,
                                      "color": _PALETTE[c % len(_PALETTE)] if c >= 0 else _UNATTRIBUTED_COLOUR},
            text=[f"{_e(one.institution.values[n])}: sold {a:,.2f} {_e(cur)} in round {int(one['round'].values[r])}"
                  f" ({_e(channel)} binding)" for r, n, a in zip(rounds, insts, amounts)],
            hoverinfo="text"))
    defaults = np.flatnonzero(first_default >= 0)
    if len(defaults):
        fig.add_trace(go.Scatter(
            x=one["round"].values[first_default[defaults]].tolist(),
            y=[_e(one.institution.values[n]) for n in defaults],
            mode="markers", name=_e(one.defaulted.attrs.get("long_name", "defaulted")),
            marker={"symbol": "x", "size": 14, "color": "#1f2933"}, hoverinfo="x+y+name"))
    legend = one.binding.attrs.get("long_name") if "binding" in one else _label(one.channel)
    fig.update_layout(
        title=f"{_e(_label(one.sold))}: who was forced to sell when", legend_title_text=_e(legend),
        xaxis_title=_e(_label(one["round"])), yaxis_title=_e(_label(one.institution)),
        yaxis={"type": "category", "categoryorder": "array", "categoryarray": names[::-1]},
        xaxis={"range": [-0.5, float(max(last_round, 1)) + 0.5]})
    return fig


def attribution_figure(result: xr.Dataset) -> Any | None:
    """The Shapley shares of the levered capital loss and of the forced sales by mechanism
    (or channel), as grouped bars (a plotly Figure): each value over the sum of the players'
    absolute values, with its sign (:func:`~firesale.analytics.attribution.shapley_shares`);
    ``None`` when the mechanisms change neither.

    Parameters
    ----------
    result : Dataset
        Result of :func:`firesale.analytics.attribution.attribute`.
    """
    from firesale.analytics.attribution import attribution_summary
    from firesale.analytics.figures import plotly_graph_objects

    go = plotly_graph_objects()
    summary = attribution_summary(result)
    players = summary["players"]
    fig = go.Figure()
    loss = summary["outcome"].replace("_", " ")
    for share_key, what in (("share", loss), ("share_forced_sales", "forced sales")):
        shares = summary[share_key]
        if all(shares[p] is None for p in players):
            continue
        fig.add_trace(go.Bar(x=[_e(p) for p in players], y=[shares[p] for p in players],
                             name=_e(f"share of the {what}"), text=[f"{shares[p]:.1%}" for p in players],
                             textposition="outside"))
    if not fig.data:
        return None
    fig.update_layout(title="Shapley shares of the damage by mechanism (value / sum of |values|, signed)",
                      barmode="group", xaxis_title=_e(_label(result.player)), yaxis_title="Shapley share (fraction)",
                      yaxis={"tickformat": ".0%"})
    return fig


def _attribution_section(result: xr.Dataset, currency: str, draw: _FigureWriter) -> str:
    from firesale.analytics.attribution import attribution_summary

    summary = attribution_summary(result)
    players = summary["players"]
    fig = attribution_figure(result)
    parts = []
    if fig is not None:
        parts.append(draw(fig, "figure-attribution"))
    else:
        parts.append('<p class="note">Nothing to share: the mechanisms change neither the loss nor the sales.</p>')

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{x:.1%}"

    rows = [[(p, ""), (f"{summary['shapley'][p]:,.2f}", "number"), (pct(summary["share"][p]), "number"),
             (f"{summary['alone'][p]:,.2f}", "number"), (f"{summary['shapley_forced_sales'][p]:,.2f}", "number"),
             (pct(summary["share_forced_sales"][p]), "number")] for p in players]
    loss = summary["outcome"].replace("_", " ")
    parts.append(_table(["mechanism", f"Shapley {loss} ({currency})", "share", f"alone ({currency})",
                         f"Shapley forced sales ({currency})", "share of the sales"], rows))
    total = summary["outcomes"]["total_loss"]
    parts.append(f'<p class="note">The {_e(loss)} with every mechanism off (the baseline: the shocks and the '
                 f'exogenous redemption and client-sale waves, which no mechanism is credited with) is '
                 f'{_e(_amount(summary["baseline_loss"], currency))}; with every mechanism on, '
                 f'{_e(_amount(summary["total_loss"], currency))}. The Shapley values add up to the difference '
                 f'({_e(_amount(summary["amplification_loss"], currency))}) and to the forced sales '
                 f'({_e(_amount(summary["forced_sales"], currency))}). A share is the value over the sum of the '
                 f'mechanisms\' absolute values, with its sign. The total loss, with the unlevered holders\' '
                 f'mark-to-market, goes from {_e(_amount(total["baseline"], currency))} to '
                 f'{_e(_amount(total["total"], currency))}.</p>')
    if summary["interactions"]:
        text = ", ".join(f"{k}: {v:+,.2f}" for k, v in summary["interactions"].items())
        parts.append(f'<p class="note">Interactions (Harsanyi dividends): {_e(text)}</p>')
    return "".join(parts)


def _regime_section(ds: xr.Dataset, index: int) -> str:
    from firesale.analytics.regimes import regime_table

    table = regime_table(ds, index)
    first, worst = table["first_round"], table["worst_round"]
    header = ["", f"round {first} ({table['regime']['first']})",
              f"round {worst}, the worst ({table['regime']['worst']})"]
    css = {"stressed": "stressed", "functioning": "functioning"}
    rows = [[(row["row"], ""), *((f"{row[col]['label']}: {row[col]['text']}", css.get(row[col]["state"], "unmeasured"))
                                 for col in ("first", "worst"))] for row in table["rows"]]
    t = table["thresholds"]
    note = (f"Stressed when: persistence > {t['persistence']:g} (trending), dealers net sellers, spread or impact "
            f"≥ {t['spread_ratio']:g}× t0, gain > {t['gain']:g}, quoting share < {100 * t['quoting_share']:.0f}% or "
            f"mark discount > {100 * t['mark_discount']:.0f}%; a market is stressed when {t['rows_for_stress']} of "
            "its measured rows are. A row not measured (in grey) does not count"
            + "".join(f"; not measured in round {r}: {', '.join(table['not_measured'][col])}"
                      for col, r in (("first", first), ("worst", worst)) if table["not_measured"][col]) + ".")
    return (f"<p>The {_e(table['asset'])} market, the most stressed: the first round and the worst side by side.</p>"
            + _table(header, rows, "regime") + f'<p class="note">{_e(note)}</p>')


def _tornado_output(result: dict[str, Any]) -> str:
    """The outcome the report's tornado chart shows: the first whose base value is not 0
    (a change off 0 has no per cent), else the first."""
    return next((name for name in result["outputs"] if result["base"][name]), result["outputs"][0])


def _sensitivity_figure(result: dict[str, Any]) -> Any:
    """:func:`~firesale.analytics.sensitivity.tornado_figure` of :func:`_tornado_output`,
    its knob names and title escaped."""
    from firesale.analytics.sensitivity import tornado_figure

    fig = tornado_figure(result, _tornado_output(result))
    for trace in fig.data:
        trace.y = [_e(name) for name in trace.y]
    fig.update_layout(title=_e(fig.layout.title.text))
    return fig


def _sensitivity_section(result: dict[str, Any], draw: _FigureWriter) -> str:
    """The elasticity table (knobs × outcomes, cliffs marked), the cliffs, each market's
    loop gain and the tornado chart of a :func:`firesale.analytics.sensitivity.sensitivity`
    result."""
    outputs, units = result["outputs"], result["units"]
    step, threshold = f"{result['step']:.0%}", f"{result['cliff_threshold']:.0%}"
    parts = [f"<p>How far each headline outcome moves when one input (a knob) moves by {step} each way: the "
             f"elasticity (y(θ(1 + h)) − y(θ(1 − h))) / (2h · y(θ)) with h = {step}, the per cent change of the "
             f"outcome per per cent of the knob, by central differences ({result['runs']} runs). A "
             f"<strong>cliff</strong> (in red, marked *) is a knob whose {step} move changes an outcome by more than "
             f"{threshold} of its base value, or moves it off zero.</p>"]
    header = ["knob", *(name if units[name] == "-" else f"{name} ({units[name]})" for name in outputs)]
    rows = [[("base value", "note"), *((f"{result['base'][name]:,.4g}", "number note") for name in outputs)]]
    for knob in result["knobs"]:
        cells = []
        for name in outputs:
            cell = knob["outcomes"][name]
            text = "-" if cell["elasticity"] is None else f"{cell['elasticity']:+.3f}"
            cells.append((f"{text}*", "number cliff") if cell["cliff"] else (text, "number"))
        one_sided = "" if knob.get("difference") in ("central", None) else f" ({knob['difference']})"
        rows.append([(knob["name"] + one_sided, ""), *cells])
    parts.append('<div class="wide">' + _table(header, rows, "sensitivity") + "</div>")
    parts.append('<p class="note">"-": the outcome is 0 in the base run, so it has no elasticity (a move off 0 is '
                 "a cliff). A knob marked forward or backward moved one way only: the model refuses the other "
                 "value.</p>")
    parts.append('<details><summary class="note">What each knob moves</summary><ul class="note">'
                 + "".join(f"<li><strong>{_e(knob['name'])}</strong>: {_e(knob['description'])}</li>"
                           for knob in result["knobs"]) + "</ul></details>")
    if result["cliffs"]:
        items = []
        for c in result["cliffs"]:
            change = "off zero" if c["largest_relative_change"] is None else f"by {c['largest_relative_change']:.1%}"
            low, base, high = ("-" if c[key] is None else f"{c[key]:,.4g}" for key in ("low", "base", "high"))
            items.append(f"<li><strong>{_e(c['knob'])}</strong> → {_e(c['outcome'])}: {low} / {base} / {high} at "
                         f"−{step} / the base / +{step} ({change})</li>")
        parts.append(f'<p id="cliffs"><strong>Cliffs</strong>: a {step} move changes these by more than '
                     f"{threshold}:</p><ul>{''.join(items)}</ul>")
    else:
        parts.append(f'<p id="cliffs">No cliff: no {step} move changes an outcome by more than {threshold}.</p>')
    parts.append(_loop_gain_part(result["loop_gain"]))
    fig = _sensitivity_figure(result)
    parts.append(draw(fig, "figure-sensitivity", height=max(_FIGURE_HEIGHT, int(fig.layout.height or 0))))
    return "".join(parts)


def _loop_gain_part(gain: dict[str, Any] | None) -> str:
    """The base run's loop gain (:func:`firesale.analytics.amplification.loop_gain_summary`):
    its peak and each market's peak own gain."""
    if gain is None:
        from firesale.simulation import LOOP_GAIN_MAX_ASSETS

        return (f'<p class="note" id="loop-gain">The loop gain was not measured: it is measured by default for '
                f"systems of at most {LOOP_GAIN_MAX_ASSETS:,} assets.</p>")
    if gain["peak"] is None:
        return '<p class="note" id="loop-gain">The base run has no finite loop gain in any round.</p>'
    rows = [[(market, ""), (f"{value:.2f}", "number")] for market, value in gain["market"].items()]
    return (f'<p id="loop-gain">Loop gain of the base run (sale → price → sale): peak {gain["peak"]:.2f} in round '
            f"{gain['peak_round']}; above 1, each unit sold forces more than one more and sales feed on "
            "themselves. Each market's peak own gain:</p>" + _table(["market", "peak own loop gain"], rows))


def _configuration_section(ds: xr.Dataset, index: int, system: Any, scenario: Any, title: str | None,
                           description: str | None) -> str:
    one = ds.isel(scenario=index)
    types: dict[str, int] = {}
    for kind in one.institution_type.values:
        types[str(kind)] = types.get(str(kind), 0) + 1
    rows = [
        [("system", ""), (ds.attrs.get("system", "") if system is None else system.name, "")],
        [("currency", ""), (ds.attrs.get("currency", ""), "")],
        [("institutions", ""), (f"{one.sizes['institution']} ({', '.join(f'{n} {t}' for t, n in types.items())})", "")],
        [("assets", ""), (f"{one.sizes['asset']}: {', '.join(str(a) for a in one.asset.values)}", "")],
        [("scenario", ""), (str(one.scenario.values), "")],
        [("rounds run", ""), (str(one.sizes["round"]), "")],
        [("firesale version", ""), (ds.attrs.get("firesale_version", ""), "")],
    ]
    if title:
        rows.insert(0, [("preset", ""), (title, "")])
    if description:
        rows.insert(1, [("description", ""), (description, "")])
    if scenario is not None:
        scenario_json = scenario.model_dump_json(indent=2)
    else:
        texts = str(ds.attrs.get("scenarios", "")).split(";")
        scenario_json = texts[index] if len(texts) == ds.sizes["scenario"] else ds.attrs.get("scenarios", "")
        try:
            scenario_json = json.dumps(json.loads(scenario_json), indent=2)
        except json.JSONDecodeError:
            pass
    return (_table(None, rows, "configuration") + "<h3>Scenario</h3>"
            + f'<pre id="scenario-json">{_e(scenario_json)}</pre>')


def build_report(system: Any, scenario: Any, ds: xr.Dataset | None = None, *, attribution: bool | xr.Dataset = True,
                 sensitivity: bool | dict[str, Any] | None = None, declared: Sequence[Any] = (), index: int = 0,
                 title: str | None = None, description: str | None = None,
                 progress: Progress | None = None) -> str:
    """The report of one scenario as the text of a self-contained HTML page.

    Parameters
    ----------
    system : System or None
        The system; ``None`` reports a stored Dataset alone (no attribution).
    scenario : Scenario or None
        The scenario; ``None`` takes it from ``ds`` (attrs ``scenarios``).
    ds : Dataset, optional
        Results to report; default: ``simulate(system, with_impulse(scenario), detail=True)``,
        the scenario and its impulse run (every channel off: the initial loss). Where ``ds``
        holds no impulse run of the scenario, the system and scenario given run it.
    attribution : bool or Dataset
        Run the Shapley attribution to the mechanisms (8 runs of the scenario); ``False``
        leaves it out; a Dataset of :func:`~firesale.analytics.attribution.attribute` is used
        as it is.
    sensitivity : bool, dict or None
        Run :func:`~firesale.analytics.sensitivity.sensitivity` on the scenario (the
        built-in knobs, ``declared`` and every shock, each moved 1% each way: about 2 runs
        a knob, in batches); ``False`` leaves it out; a result of it is used as it is.
        Default (None): run it when the system and the scenario are given.
    declared : sequence of ParameterRange
        The preset's declared parameters (``Preset.parameters``): knobs of the sensitivity
        besides the built-ins and the shocks.
    index : int
        Position of the scenario to report in ``ds``.
    title, description : str, optional
        Preset name and description for the heading and the configuration.
    progress : callable, optional
        Called as ``progress(done, total, what)`` before each of :data:`REPORT_STEPS` and
        once at the end (``done == total``).

    Returns
    -------
    str
        The HTML page: plotly.js inline once, no external URL.

    Raises
    ------
    ConfigError
        Neither a system and scenario nor a Dataset, or an attribution or a sensitivity
        asked for without the system and scenario.

    Examples
    --------
    >>> from firesale import load_preset
    >>> p = load_preset("dealer_prime")
    >>> page = build_report(p.system, p.scenario, attribution=False)
    >>> "19.0×" in page and page.startswith("<!DOCTYPE html>")
    True
    """
    from firesale.analytics.amplification import summarize
    from firesale.analytics.figures import plotly_graph_objects

    plotly_graph_objects()  # fail before any work when plotly is missing
    total = len(REPORT_STEPS)

    def step(done: int) -> None:
        if progress is not None:
            progress(done, total, REPORT_STEPS[done] if done < total else "done")

    if ds is None:
        if system is None or scenario is None:
            raise ConfigError(Problem("FS741", "report", "nothing to report: give a system and a scenario, or the "
                                      "results Dataset of a run"))
        step(0)
        from firesale.analytics.amplification import with_impulse
        from firesale.simulation import measures_loop_gain, simulate

        # the impulse run (every channel off) rides in the batch: the initial loss
        ds = simulate(system, with_impulse(scenario), detail=True, loop_gain=measures_loop_gain(system))
    step(1)
    attribution_result: xr.Dataset | None = None
    if isinstance(attribution, xr.Dataset):
        attribution_result = attribution
    elif attribution:
        if system is None or scenario is None:
            raise ConfigError(Problem("FS741", "report attribution", "the attribution reruns the scenario on the "
                                      "system: give both, or leave the attribution out (attribution=False)"))
        from firesale.analytics.attribution import attribute

        attribution_result = attribute(system, scenario)
    step(2)
    sensitivity_result: dict[str, Any] | None = None
    if isinstance(sensitivity, dict):
        sensitivity_result = sensitivity
    elif sensitivity or (sensitivity is None and system is not None and scenario is not None):
        if system is None or scenario is None:
            raise ConfigError(Problem("FS741", "report sensitivity", "the sensitivity reruns the scenario on the "
                                      "system: give both, or leave the sensitivity out (sensitivity=False)"))
        from firesale.analytics.sensitivity import sensitivity as elasticities
        from firesale.simulation import measures_loop_gain

        # the report's own run measured the loop gain where the system is small enough: read it there
        measured = ds.isel(scenario=[index]) if "loop_gain" in ds else measures_loop_gain(system)
        sensitivity_result = elasticities(system, scenario, declared=declared, loop_gain=measured)
    step(3)
    summary = summarize(ds, index)
    if summary["initial_loss_from"] != "impulse run" and system is not None and scenario is not None:
        from firesale.analytics.amplification import channels_off
        from firesale.simulation import simulate

        summary = summarize(ds, index, impulse=simulate(system, channels_off(scenario), detail=False))
    one = ds.isel(scenario=index)
    currency = str(summary["currency"] or "")
    draw = _FigureWriter()
    sections: dict[str, str] = {"summary": _summary_section(summary)}
    sections["prices"] = draw(price_figure(ds, index), "figure-prices")
    sections["waterfall"] = draw(waterfall_figure(ds, index), "figure-waterfall") + (
        '<p class="note">Shock: the round\'s opening holdings revalued at the shocked fundamentals. Fire-sale '
        "revaluation: the same holdings at the prices and marks the selling pressure (and its fading) made. Trading "
        "and other: what trades realised beyond that, interest and derivatives. Capital paid out to redeeming "
        "investors lowers equity without being a loss.</p>")
    cascade = cascade_figure(ds, index)
    sections["cascade"] = draw(cascade, "figure-cascade") if cascade is not None else (
        '<p class="note">No institution was forced to sell or defaulted.</p>')
    if attribution_result is not None:
        sections["attribution"] = _attribution_section(attribution_result, currency, draw)
    else:
        sections["attribution"] = '<p class="note">Left out of this report (run it with the attribution).</p>'
    if bool((one.institution_type == "dealer").any()):
        sections["regimes"] = _regime_section(ds, index)
    else:
        sections["regimes"] = '<p class="note">No dealers in the system: no market regime table.</p>'
    if sensitivity_result is not None:
        sections["sensitivity"] = _sensitivity_section(sensitivity_result, draw)
    elif sensitivity is False:
        sections["sensitivity"] = '<p class="note">Left out of this report (run it with the sensitivity).</p>'
    else:
        sections["sensitivity"] = ('<p class="note">Left out of this report: the sensitivity reruns the scenario on '
                                   "the system, which this report was not given.</p>")
    sections["configuration"] = _configuration_section(ds, index, system, scenario, title, description)
    step(total)
    name = title or summary["system"] or "firesale"
    heading = f"firesale report: {name} — {summary['scenario']}"
    nav = "".join(f'<a href="#{key}">{_e(text)}</a>' for key, text in REPORT_SECTIONS.items())
    body = "".join(f'<section id="{key}"><h2>{_e(REPORT_SECTIONS[key])}</h2>{sections[key]}</section>'
                   for key in REPORT_SECTIONS)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{_e(heading)}</title><style>{_STYLE}</style></head>'
        f"<body><header><h1>{_e(heading)}</h1><nav>{nav}</nav></header><main>{body}</main>"
        f'<footer>Made by firesale {_e(ds.attrs.get("firesale_version", ""))}; works offline (plotly.js is '
        "inside this file).</footer></body></html>\n"
    )


def write_report(path: str | Path, system: Any, scenario: Any, ds: xr.Dataset | None = None,
                 **options: Any) -> Path:
    """Write :func:`build_report` to an ``.html`` file (UTF-8).

    Parameters
    ----------
    path : str or Path
        Where to write; must end in ``.html``; its folder must exist.
    system, scenario, ds, **options
        As for :func:`build_report`.

    Returns
    -------
    Path

    Raises
    ------
    ConfigError
        Another suffix or a folder that does not exist (checked before any work).
    """
    path = check_report_path(path)
    page = build_report(system, scenario, ds, **options)
    path.write_text(page, encoding="utf-8")
    return path
