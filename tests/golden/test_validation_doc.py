"""docs/validation.md prints, for each historical preset, every target of its [[targets]]
table beside the model's value, and the out-of-sample exercise: the shared behavioural
parameters fitted on one episode (`firesale calibrate`) and scored on the other. The
tables must be what the model gives now.

Regenerate them with ``FIRESALE_UPDATE_DOCS=1 pytest tests/golden/test_validation_doc.py``
(the rows between the ``<!-- targets:NAME -->`` markers are rewritten)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from firesale import load_preset
from firesale.analytics.targets import TargetResult, evaluate_targets
from firesale.calibration import calibrate
from firesale.parameters import apply_parameters

DOC = Path(__file__).resolve().parents[2] / "docs" / "validation.md"
EPISODES = ("march_2020", "gilt_ldi_2022")
#: The behavioural parameters both episodes share (their [[parameters]] rows).
SHARED = ("scenario.market.balance_sheet_cost", "scenario.market.resilience",
          "scenario.information.rfq_spread_multiplier", "scenario.information.adverse_selection_elasticity",
          "class.treasury.capital_arrival")
#: Function evaluations each fit may use.
FIT_EVALUATIONS = 300


def _number(x: float) -> str:
    if not math.isfinite(x):
        return "-"
    return f"{x:,.3g}" if abs(x) < 1 else f"{x:,.1f}"


def _band(r: TargetResult) -> str:
    if r.compare == "at_least":
        return f">= {_number(r.value)}"
    if r.compare == "at_most":
        return f"<= {_number(r.value)}"
    return f"{_number(r.low)} to {_number(r.high)}"


def table(name: str) -> str:
    """The markdown table of a preset's targets, as measured now."""
    rows = ["| target | what | record | band | model | met |", "|---|---|---|---|---|---|"]
    for r in evaluate_targets(load_preset(name)):
        rows.append(f"| {r.name} | {r.description} | {_number(r.value)} {r.unit} | {_band(r)} | "
                    f"{_number(r.model)} | {'yes' if r.passed else '**no**'} |")
    return "\n".join(rows)


def _error(r: TargetResult) -> str:
    """How far a target is missed, in units of its half-band (0 when met)."""
    return "0" if r.passed else f"{abs(r.residual):.2f}"


def out_of_sample() -> str:
    """Fit the shared parameters on each episode, score them on the other: the fitted
    values, then each scored episode's targets with its own values and the other's."""
    presets = {name: load_preset(name) for name in EPISODES}
    fits = {name: calibrate(presets[name], SHARED, max_evaluations=FIT_EVALUATIONS) for name in EPISODES}
    rows = ["| parameter | " + " | ".join(f"{n} (shipped)" for n in EPISODES) + " | "
            + " | ".join(f"fitted on {n}" for n in EPISODES) + " |", "|---" * (1 + 2 * len(EPISODES)) + "|"]
    shipped = {n: {q.name: q.initial for q in fits[n].parameters} for n in EPISODES}
    fitted = {n: {q.name: q.fitted for q in fits[n].parameters} for n in EPISODES}
    for name in SHARED:
        rows.append(f"| {name} | " + " | ".join(f"{shipped[n][name]:.3g}" for n in EPISODES) + " | "
                    + " | ".join(f"{round(fitted[n][name], 6):.3g}" for n in EPISODES) + " |")
    rows.append("| residual norm, shipped → fitted | " + " | ".join("" for _ in EPISODES) + " | "
                + " | ".join(f"{fits[n].norm_before:.3f} → {fits[n].norm_after:.3f}" for n in EPISODES) + " |")
    out = ["\n".join(rows)]
    for scored in EPISODES:
        other = next(n for n in EPISODES if n != scored)
        preset = presets[scored]
        system, scenario = apply_parameters(preset.system, preset.scenario, fitted[other])
        own = evaluate_targets(preset)
        crossed = evaluate_targets(preset, system=system, scenario=scenario)
        lines = [f"| {scored} target | record | shipped | met | fitted on {other} | met | error |",
                 "|---|---|---|---|---|---|---|"]
        for a, b in zip(own, crossed):
            lines.append(f"| {a.name} | {_number(a.value)} | {_number(a.model)} | {'yes' if a.passed else '**no**'} | "
                         f"{_number(b.model)} | {'yes' if b.passed else '**no**'} | {_error(b)} |")
        met = sum(b.passed for b in crossed)
        lines.append(f"| **met** | | {sum(a.passed for a in own)} of {len(own)} | | {met} of {len(crossed)} | | |")
        out.append("\n".join(lines))
    return "\n\n".join(out)


@pytest.mark.parametrize("name", EPISODES)
def test_validation_tables_are_what_the_model_gives(doc_block, name):
    doc_block(DOC, f"targets:{name}", table(name))


def test_out_of_sample_tables_are_what_the_fits_give(doc_block):
    doc_block(DOC, "out_of_sample", out_of_sample())
