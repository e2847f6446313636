"""Closed forms of the literature's fire-sale models, for checks against the engine."""

from firesale.models.glt import aggregate_vulnerability, indirect_vulnerability, systemicness

__all__ = ["aggregate_vulnerability", "systemicness", "indirect_vulnerability"]
