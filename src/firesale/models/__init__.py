"""Closed forms of the literature's fire-sale models, for checks against the engine."""

from firesale.models.cont_schaanning import ContSchaanningPath, cont_schaanning, market_depth
from firesale.models.glt import aggregate_vulnerability, indirect_vulnerability, systemicness, vulnerability_rounds

__all__ = ["aggregate_vulnerability", "systemicness", "indirect_vulnerability", "vulnerability_rounds",
           "cont_schaanning", "ContSchaanningPath", "market_depth"]
