"""Parameters a preset declares as uncertain: what calibration may fit and Monte Carlo may draw.

A preset's ``[[parameters]]`` rows name a parameter by a dotted path and give its range.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from firesale.errors import Problem
from firesale.scenario import Scenario
from firesale.system import System

__all__ = ["ParameterRange", "parse_parameters"]


class ParameterRange(BaseModel):
    """One ``[[parameters]]`` row."""

    name: str


def parse_parameters(rows: Any, label: str, system: System | None,
                     scenario: Scenario | None) -> tuple[tuple[ParameterRange, ...], list[Problem]]:
    """The validated ``[[parameters]]`` rows of a preset, and the problems found."""
    return (), []
