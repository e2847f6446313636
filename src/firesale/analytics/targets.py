"""Targets: the record a preset is checked against, as data."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from firesale.errors import Problem

__all__ = ["Target", "parse_targets"]


class Target(BaseModel):
    """One ``[[targets]]`` row."""

    name: str


def parse_targets(rows: Any, label: str, system: Any, scenario: Any,
                  policies: dict[str, dict[str, Any]]) -> tuple[tuple[Target, ...], list[Problem]]:
    """The validated ``[[targets]]`` rows of a preset, and the problems found."""
    return (), []
