"""Phase 4 of a round: the funding calls — margin calls, repo not rolled, short-term runs,
redemptions, repo interest, derivative margin and money-market funds' recalls — and the
part cash meets (docs/model.md, the round)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from firesale.channels.funding import margin_calls, withdrawal_share
from firesale.channels.redemptions import redemption_rate
from firesale.engine.constraints import Constraints
from firesale.engine.kernels import NUMPY, Kernels
from firesale.engine.marking import Marked
from firesale.engine.shocks import Shocked
from firesale.engine.state import Inputs, Levers, ScenarioArrays, State

__all__ = ["FundingCalls", "funding_calls", "TRADING_DAYS"]

#: Rounds are trading days: an annual rate accrues 1/252 a round.
TRADING_DAYS = 252


class FundingCalls(NamedTuple):
    """The round's funding calls. Shapes (S, N) unless noted; (S, E) per repo position,
    or a placeholder of shape (1,) when the system has no funding (``funding`` False)."""

    funding: bool  # whether the system (or a redemption wave) has funding to call
    margin: np.ndarray  # (S, E) repo margin called per position
    rolled_off: np.ndarray  # (S, E) repo not rolled (and recalled by funds) per position
    repo_called: np.ndarray  # (S, E) repo left after the calls, before sales repay it
    roll_share: np.ndarray  # share of repo lenders not rolling
    run: np.ndarray  # short-term debt run
    margin_due: np.ndarray  # repo and derivative margin called
    rolled_due: np.ndarray  # repo not rolled, recalled, and its interest
    redeem: np.ndarray  # NAV redeemed
    flow_rate: np.ndarray  # redemption rate beyond the wave (investors' reaction)
    interest: np.ndarray  # a day's repo interest
    interest_call: np.ndarray  # the interest called (the living's)
    vm_call: np.ndarray  # variation margin called
    margin_out: np.ndarray  # initial margin called
    swing: np.ndarray  # bool, swing pricing in force
    need: np.ndarray  # all calls together
    recalled: np.ndarray  # repo lending money-market funds recalled
    cash: np.ndarray  # cash, with the recalled lending
    equity: np.ndarray  # equity, less the interest
    debt: np.ndarray  # debt, with the interest
    lending: np.ndarray  # repo lending after the recall
    funding_cash: np.ndarray  # the part of the calls cash meets
    shortfall: np.ndarray  # the part sales must meet (beyond the tolerance)


def funding_calls(state: State, inputs: Inputs, scen: ScenarioArrays, levers: Levers, t: int, shocked: Shocked,
                  marked: Marked, constraints: Constraints, kernels: Kernels = NUMPY) -> FundingCalls:
    """The calls of :mod:`firesale.channels.funding` and :mod:`firesale.channels.redemptions`,
    paid from cash first. A system without repo, short-term debt or funds skips this work.

    Money-market funds recall repo lending before they sell; every borrower loses that
    share of its repo (a standing facility keeps funding eligible collateral)."""
    entry_asset = inputs.entry_asset
    alive, leverage = constraints.alive, marked.leverage
    equity, debt, cash, lending = marked.equity, marked.debt, marked.cash, state.lending
    tol = scen.tolerance[:, None]
    funding = inputs.has_funding or bool(scen.redemption_shock.any())
    if funding:
        collateral = state.q * np.take(marked.mark, entry_asset, axis=1)
        alive_at = np.take(alive, inputs.entry_institution, axis=1)
        margin = np.where(scen.switch("margin") & alive_at,
                          margin_calls(state.repo, collateral, np.take(marked.haircut, entry_asset, axis=1)), 0.0)
        roll_share = np.where(scen.switch("rollover") & alive,
                              withdrawal_share(leverage, inputs.rollover_threshold, inputs.rollover_share), 0.0)
        rolled_off = (state.repo - margin) * np.take(roll_share, inputs.entry_institution, axis=1)
        rolled_off = np.where(np.take(levers.facility_eligible, entry_asset, axis=1), 0.0, rolled_off)  # facility rolls it
        run = np.where(scen.switch("unsecured") & alive,
                       withdrawal_share(leverage, inputs.run_threshold, inputs.run_share) * state.short_term, 0.0)
        margin_due, rolled_due = kernels.position_sums(margin, None, inputs), kernels.position_sums(rolled_off, None, inputs)
        # a day's repo interest, at the market rate or the facility's minimum bid rate on
        # eligible collateral, accrues to debt and is called with the other repo funding
        rate_paid = np.where(levers.facility_eligible, np.minimum(shocked.repo_rate, scen.facility_min_rate[:, None]),
                             shocked.repo_rate)
        interest = kernels.position_sums(state.repo, rate_paid, inputs) / TRADING_DAYS
        interest = np.where(scen.switch("rollover"), interest, 0.0)  # part of repo funding
        equity, debt = equity - interest, debt + interest
        interest_call = np.where(alive, interest, 0.0)
        rolled_due = rolled_due + interest_call
        wave = scen.at("redemption_shock", t)
        # investors react to the NAV per share since the last marking: the shock and the
        # fire-sale losses booked after the last round's trades
        nav_now = np.divide(equity, state.shares, out=np.zeros_like(equity), where=state.shares > 0)
        nav_return = np.divide(nav_now, state.last_nav, out=np.ones_like(equity), where=state.last_nav > 0) - 1.0
        swing = inputs.swing_pricing | levers.swing_pricing[:, None]
        # the redemption channel is the investors' reaction to losses; a redemption wave is
        # a shock and comes whatever the channel's switch says
        sensitivity = np.where(scen.switch("redemption"), inputs.redemption_sensitivity, 0.0)
        remaining = np.maximum(1.0 - state.flow_redeemed / inputs.redemption_cap, 0.0)
        wave = np.zeros_like(equity) if wave is None else wave
        rate = redemption_rate(nav_return, sensitivity, inputs.first_mover, swing, wave, inputs.redemption_gate,
                               remaining)
        flow_rate = np.maximum(rate - wave, 0.0)
        redeem = np.where(alive, rate * np.maximum(equity, 0.0), 0.0)
    else:
        margin = rolled_off = np.zeros(1)
        roll_share = np.zeros_like(equity)
        run = margin_due = rolled_due = redeem = interest = interest_call = flow_rate = np.zeros_like(equity)
        swing = inputs.swing_pricing
    # derivative margin: variation owed and initial margin called, for the living (a
    # defaulter's variation loss stays in its debt, paid from its liquidation)
    calls_on = alive & scen.switch("margin")
    vm_call, margin_out = np.where(calls_on, marked.vm_loss, 0.0), np.where(calls_on, marked.margin_out, 0.0)
    margin_due = margin_due + vm_call + margin_out
    need = margin_due + rolled_due + run + redeem
    recalled = np.zeros_like(equity)
    if funding and lending.any():
        recalled = np.where(alive & scen.switch("rollover"), np.minimum(np.maximum(need - cash, 0.0), lending), 0.0)
        borrowed_repo = state.repo.sum(axis=1)
        pulled = np.minimum(np.divide(recalled.sum(axis=1), borrowed_repo, out=np.zeros(borrowed_repo.shape),
                                      where=borrowed_repo > 0), 1.0)
        withdrawn = (state.repo - margin - rolled_off) * pulled[:, None]
        withdrawn = np.where(np.take(levers.facility_eligible, entry_asset, axis=1) | ~alive_at, 0.0, withdrawn)
        rolled_off = rolled_off + withdrawn
        rolled_due = rolled_due + kernels.position_sums(withdrawn, None, inputs)
        need = margin_due + rolled_due + run + redeem
        cash = cash + recalled
        lending = lending - recalled
    funding_cash = np.minimum(cash, need)
    shortfall = np.where(need - funding_cash > tol, need - funding_cash, 0.0)
    repo_called = state.repo - margin - rolled_off if funding else state.repo
    return FundingCalls(
        funding=funding, margin=margin, rolled_off=rolled_off, repo_called=repo_called, roll_share=roll_share, run=run,
        margin_due=margin_due, rolled_due=rolled_due, redeem=redeem, flow_rate=flow_rate, interest=interest,
        interest_call=interest_call, vm_call=vm_call, margin_out=margin_out, swing=swing, need=need,
        recalled=recalled, cash=cash, equity=equity, debt=debt, lending=lending, funding_cash=funding_cash, shortfall=shortfall,
    )
