"""Closed forms of the literature's fire-sale models, for checks against the engine."""

from firesale.models.bsu import (
    FireSaleEquilibria,
    FireSaleEquilibrium,
    SquareRootImpact,
    equilibria,
    equilibrium_stability,
    fire_sale_map,
    lower_equilibrium,
    sales_fractions,
    upper_equilibrium,
)
from firesale.models.caccioli import (
    ALPHA_TEN_PERCENT,
    CascadeResult,
    ContagionSweep,
    contagion_sweep,
    liquidation_cascade,
    simulate_contagion,
)
from firesale.models.cont_schaanning import ContSchaanningPath, cont_schaanning, market_depth
from firesale.models.eisenberg_noe import ClearingResult, clearing_vector
from firesale.models.glt import (
    aggregate_vulnerability,
    cascade_multiplier,
    indirect_vulnerability,
    systemicness,
    vulnerability_rounds,
)

__all__ = ["aggregate_vulnerability", "systemicness", "indirect_vulnerability", "vulnerability_rounds", "cascade_multiplier",
           "cont_schaanning", "ContSchaanningPath", "market_depth",
           # Breuer-Summer-Urosevic
           "SquareRootImpact", "FireSaleEquilibrium", "FireSaleEquilibria", "sales_fractions", "fire_sale_map",
           "lower_equilibrium", "upper_equilibrium", "equilibria", "equilibrium_stability",
           # Eisenberg-Noe
           "ClearingResult", "clearing_vector",
           # Caccioli-Shrestha-Moore-Farmer
           "ALPHA_TEN_PERCENT", "CascadeResult", "ContagionSweep", "liquidation_cascade", "simulate_contagion",
           "contagion_sweep"]
