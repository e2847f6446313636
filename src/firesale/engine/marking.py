"""Phase 2 of a round: mark to market, settle derivatives' margin, recapitalise, and
measure the constraints (SLR, leverage, VaR, haircuts) on the marked books
(docs/model.md, the round)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from firesale.channels.balance_sheet import ratio, slr_exposure
from firesale.channels.funding import haircuts
from firesale.channels.information import marks
from firesale.engine.kernels import NUMPY, Kernels
from firesale.engine.shocks import Shocked
from firesale.engine.state import Inputs, Levers, ScenarioArrays, State

__all__ = ["Marked", "marking"]


class Marked(NamedTuple):
    """Books after marking, before any sale. Shapes (S, N) unless noted."""

    mark: np.ndarray  # (S, K) marks: the price, lower where quotes are missing
    equity: np.ndarray
    cash: np.ndarray
    debt: np.ndarray
    posted: np.ndarray  # initial margin posted, after margin returned
    settled_cash: np.ndarray  # cash received as final settlement carries a price rise beyond the debt
    notional: np.ndarray  # (M,) or (S, M) open derivative notionals
    margin_out: np.ndarray  # initial margin called
    vm_gain: np.ndarray  # variation margin received
    vm_loss: np.ndarray  # variation margin owed (this round's and the last round's)
    total_assets: np.ndarray
    rounds_below: np.ndarray  # (S, N) int, rounds in a row below the leverage trigger
    recap: np.ndarray  # capital investors added
    exposure: np.ndarray  # SLR exposure
    slr: np.ndarray
    leverage: np.ndarray  # equity / total assets
    var: np.ndarray  # VaR of the desks (NaN for the others)
    haircut: np.ndarray  # (S, K)
    slr_trigger: np.ndarray  # after any buffer release
    slr_target: np.ndarray


def marking(state: State, inputs: Inputs, scen: ScenarioArrays, levers: Levers, shocked: Shocked,
            kernels: Kernels = NUMPY) -> Marked:
    """Mark the books at the pre-trade price, below it where quotes are missing (the
    uncertainty the information channel left last round).

    Derivatives settle variation margin in cash at the market price (a loss is owed to
    the counterparty until paid) and initial margin follows volatility. Investors
    recapitalise an institution that has been below its leverage trigger for more rounds
    in a row than their lag, with the cash c that restores the target λ:
    (E + c) / (A + c) = λ."""
    sums = kernels.position_sums
    price, sigma = shocked.price, shocked.sigma
    mark = marks(price, inputs.opacity, state.uncertainty)
    q, cash, debt, posted = state.q, shocked.cash, shocked.debt, state.margin_posted
    equity = shocked.equity + sums(q, mark - state.mark, inputs)
    if scen.final_settlement.any():
        # sales settling at the final price: the seller carries their price moves, in its debt
        carried = sums(state.pending, price - state.price, inputs)
        equity, debt = equity + carried, debt - carried
        # a rise beyond the debt is paid in cash by the buyers
        settled_cash = np.maximum(-debt, 0.0)
        debt, cash = debt + settled_cash, cash + settled_cash
    else:
        settled_cash = np.zeros_like(equity)
    notional = inputs.derivative * state.derivative_open
    if inputs.has_derivatives:
        variation = inputs.derivatives_per_institution(price - state.price, notional)
        required = inputs.derivatives_per_institution(sigma / inputs.sigma0, inputs.margin_base * state.derivative_open)
        margin_out, margin_back = np.maximum(required - posted, 0.0), np.maximum(posted - required, 0.0)
        vm_gain, vm_loss = np.maximum(variation, 0.0), np.maximum(-variation, 0.0)
        equity = equity + variation
        cash = cash + vm_gain + margin_back
        debt = debt + vm_loss
        vm_loss = vm_loss + state.vm_owed  # and what the last round's trading left owed
        posted = posted - margin_back
    else:
        margin_out = vm_gain = np.zeros_like(equity)
        vm_loss = state.vm_owed
    total_assets = cash + posted + state.lending + sums(q, mark, inputs)
    below = ratio(equity, total_assets) < inputs.leverage_trigger  # NaN trigger: never
    rounds_below = np.where(below & ~state.defaulted, state.rounds_below + 1, 0)
    recapitalised = rounds_below > inputs.recapitalisation_lag
    if recapitalised.any():
        target = np.where(recapitalised, inputs.leverage_target, 0.0)
        recap = np.where(recapitalised, np.maximum(target * total_assets - equity, 0.0) / (1.0 - target), 0.0)
        cash, equity, total_assets = cash + recap, equity + recap, total_assets + recap
    else:
        recap = np.zeros_like(equity)
    exposure = (slr_exposure(q, mark, cash, inputs, levers.slr_exemption, lambda v, x: sums(v, x, inputs))
                + posted + state.lending)
    haircut = haircuts(sigma, inputs.sigma0, inputs.haircut0, inputs.haircut_beta, inputs.haircut_cap,
                       levers.haircut_floor)
    haircut = np.where(levers.facility_eligible, np.minimum(haircut, scen.facility_haircut[:, None]), haircut)
    # an SLR buffer release lowers triggers and targets, not below the minimum
    release = levers.slr_buffer_release[:, None]
    slr_floor = np.where(np.isnan(inputs.slr_minimum), 0.0, inputs.slr_minimum)
    return Marked(
        mark=mark, equity=equity, cash=cash, debt=debt, posted=posted, settled_cash=settled_cash, notional=notional,
        margin_out=margin_out, vm_gain=vm_gain, vm_loss=vm_loss, total_assets=total_assets,
        rounds_below=rounds_below, recap=recap, exposure=exposure, slr=ratio(equity, exposure),
        leverage=ratio(equity, total_assets), var=kernels.desk_var(state.q_trading, mark, sigma, inputs), haircut=haircut,
        slr_trigger=np.maximum(inputs.slr_trigger - release, slr_floor),
        slr_target=np.maximum(inputs.slr_target - release, slr_floor),
    )
