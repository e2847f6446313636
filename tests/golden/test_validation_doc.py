"""docs/validation.md prints, for each historical preset, every target of its [[targets]]
table beside the model's value: the tables must be what `firesale targets` measures now.

Regenerate them with ``FIRESALE_UPDATE_DOCS=1 pytest tests/golden/test_validation_doc.py``
(the rows between the ``<!-- targets:NAME -->`` markers are rewritten)."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest

from firesale import load_preset
from firesale.analytics.targets import TargetResult, evaluate_targets

DOC = Path(__file__).resolve().parents[2] / "docs" / "validation.md"
EPISODES = ("march_2020", "gilt_ldi_2022")


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


def _block(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- targets:{name} -->\n)(.*?)(\n<!-- /targets:{name} -->)", re.S)


@pytest.mark.parametrize("name", EPISODES)
def test_validation_tables_are_what_the_model_gives(name):
    text = DOC.read_text()
    if os.environ.get("FIRESALE_UPDATE_DOCS"):
        text = _block(name).sub(lambda m: m.group(1) + table(name) + m.group(3), text)
        DOC.write_text(text)
    found = _block(name).search(text)
    assert found, f"docs/validation.md has no <!-- targets:{name} --> block"
    assert found.group(2) == table(name)
