"""Phase 3 of a round: defaults and what the balance-sheet constraints ask, per
institution (docs/model.md, the round)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from firesale.channels.balance_sheet import leverage_trade, slr_shrink
from firesale.channels.default import in_default
from firesale.engine.marking import Marked
from firesale.engine.state import Inputs, ScenarioArrays, State

__all__ = ["Constraints", "constraints"]


class Constraints(NamedTuple):
    """What the balance-sheet constraints ask of each institution, shapes (S, N)."""

    defaulted: np.ndarray  # bool, in default (before or now)
    alive: np.ndarray  # bool
    slr_shed: np.ndarray  # exposure the SLR channel sheds (0 where it does not bind)
    lev_trade: np.ndarray  # assets leverage targeting sells (negative: buys)


def constraints(state: State, inputs: Inputs, scen: ScenarioArrays, marked: Marked,
                shocked_default: np.ndarray) -> Constraints:
    """Defaults (:func:`~firesale.channels.default.in_default`), the SLR shrink
    (:func:`~firesale.channels.balance_sheet.slr_shrink`) and leverage targeting
    (:func:`~firesale.channels.balance_sheet.leverage_trade`) of each living institution.

    An institution that deleverages only below its SLR minimum restores the minimum (and
    does not default there)."""
    at_minimum = inputs.slr_at_minimum
    defaulted = scen.switch("default") & in_default(
        marked.equity, marked.slr, marked.leverage, np.where(at_minimum, np.nan, inputs.slr_minimum),
        inputs.leverage_minimum, state.defaulted | shocked_default,
    )
    alive = ~defaulted
    shed_trigger = np.where(at_minimum, inputs.slr_minimum, marked.slr_trigger)
    shed_target = np.where(at_minimum, inputs.slr_minimum, marked.slr_target)
    slr_shed = np.where(scen.switch("slr") & alive, slr_shrink(marked.equity, marked.exposure, shed_trigger,
                                                               shed_target), 0.0)
    lev_trade = np.where(
        scen.switch("leverage") & alive,
        leverage_trade(marked.equity, marked.total_assets, inputs.leverage_trigger, inputs.leverage_target,
                       inputs.two_sided),
        0.0,
    )
    return Constraints(defaulted, alive, slr_shed, lev_trade)
