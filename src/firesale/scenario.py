"""Scenarios: the shock, which channels act, the policy switches and the market parameters.

A preset is a :class:`~firesale.system.System` plus a :class:`Scenario`. Every field is
validated (unknown keys are errors, so typos fail) and documented with its unit.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator

from firesale.channels import MECHANISMS
from firesale.channels.balance_sheet import BalanceSheetSwitches
from firesale.channels.funding import FundingSwitches
from firesale.channels.impact import MarketParams
from firesale.channels.information import InformationParams
from firesale.channels.volatility import VolatilityParams
from firesale.errors import ConfigError, Problem, explain
from firesale.system import (
    ALLOW_HINT,
    ALLOW_IMPLAUSIBLE,
    ImplausibleValue,
    Mistyped,
    _unit,
    implausible,
    implausible_is_allowed,
    mark_mistyped,
    plausibility_findings,
)

__all__ = ["Shock", "Policy", "PolicyWindow", "PolicyTiming", "POLICY_LEVERS", "CentralBankPurchases", "RepoFacility", "ChannelSwitches", "Scenario", "parse_scenario",
           "mechanism_lattice", "implausible_findings"]


def _mark_deep(model: type[BaseModel], data: Any) -> Any:
    """``data`` with every boolean or text given for a number field of ``model``, or of a
    nested model that does not check its own (the channels' parameters), replaced by
    :class:`~firesale.system.Mistyped`."""
    data = mark_mistyped(model, data, text=True)
    if not isinstance(data, Mapping):
        return data
    out = None
    for key, nested in _unchecked_models(model).items():
        value = data.get(key)
        if isinstance(value, Mapping):
            marked = _mark_deep(nested, value)
            if marked is not value:
                out = dict(data) if out is None else out
                out[key] = marked
    return data if out is None else out


@functools.cache
def _unchecked_models(model: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """``{field: model}`` of the fields of ``model`` that hold a model which does not check
    its own numbers; found once per model (a scenario validates hundreds of sections)."""
    found = {}
    for key, info in model.model_fields.items():
        nested = _model_in(info.annotation)
        if nested is not None and not issubclass(nested, _Strict):
            found[key] = nested
    return found


def _model_in(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


class _Strict(BaseModel):
    """A scenario section: a boolean or a text never counts as a number (``max_rounds =
    true`` is an error, not 1 round)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _numbers_are_numbers(cls, data: Any) -> Any:
        return _mark_deep(cls, data)


class Shock(_Strict):
    """One shock: a fundamental price change or a volatility jump of an asset, or an
    institution's default, in a given round (step 1 of the round, docs/model.md)."""

    asset: str | None = Field(None, description="Asset hit by a price or volatility shock.")
    institution: str | None = Field(None, description="Institution forced into default.")
    price: float | None = Field(
        None, gt=-1.0, allow_inf_nan=False,
        description="Return applied to the asset's fundamental price (-0.04 is a 4% fall).",
        json_schema_extra=_unit("fraction", (None, 1.0), "a return"),
    )
    volatility: float | None = Field(
        None, gt=0.0, allow_inf_nan=False, description="Multiplier of the asset's volatility (2 doubles it).",
        json_schema_extra=_unit("-", (0.05, 20.0), "a volatility multiplier",
                                "looks like a percentage or a level: volatility is a multiplier of sigma0 (2 doubles "
                                "it; a {v:g}% rise is {rise:g})"),
    )
    default: bool = Field(False, description="The institution defaults in this round.")
    redemption: float | None = Field(
        None, ge=0.0, le=1.0, allow_inf_nan=False,
        description="Share of a fund's NAV its investors redeem in this round (a redemption wave).",
        json_schema_extra=_unit("fraction", (None, 0.5), "a share of NAV redeemed in one round"),
    )
    repo_rate: float | None = Field(
        None, ge=0.0, le=1.0, allow_inf_nan=False,
        description="Market repo rate on the asset as collateral from this round on (annual; 0 at t0).",
        json_schema_extra=_unit("fraction/year", (None, 0.5), "an annual repo rate (0.05 is 5% a year)"),
    )
    capital: float | None = Field(
        None, allow_inf_nan=False,
        description="Capital added to an institution in this round, in cash (a recapitalisation); negative is "
        "capital paid out (a dividend or buyback), owed where the cash runs out. Neither is a loss or a gain.",
        json_schema_extra={"unit": "currency"},
    )
    client_sale: float | None = Field(
        None, ge=0.0, allow_inf_nan=False,
        description="Value of the asset sold to dealers in this round by clients outside the system (e.g. "
        "foreign official holders in March 2020), at the round's price.", json_schema_extra={"unit": "currency"},
    )
    round: int = Field(0, ge=0, description="Round in which the shock hits.")

    @model_validator(mode="after")
    def _one_target(self) -> Shock:
        if (self.asset is None) == (self.institution is None):
            raise ValueError("a shock names exactly one of 'asset' or 'institution': set one of them, not both")
        if self.asset is not None and all(v is None for v in (self.price, self.volatility, self.repo_rate,
                                                              self.client_sale)):
            raise ValueError(
                f"the shock to asset {self.asset!r} sets none of 'price', 'volatility', 'repo_rate' or "
                "'client_sale': set price (a return, e.g. -0.04), volatility (a multiplier, e.g. 2), repo_rate "
                "(annual, e.g. 0.05) or client_sale (value sold by outside clients, e.g. 100)"
            )
        if self.institution is not None and not self.default and self.redemption is None and self.capital is None:
            raise ValueError(f"the shock to institution {self.institution!r} sets none of default = true, "
                             "redemption (a share of NAV) or capital (cash added): add one")
        if self.asset is not None and self.capital is not None:
            raise ValueError("a capital shock names an institution, not an asset")
        if self.asset is not None and self.redemption is not None:
            raise ValueError("a redemption shock names a fund (institution), not an asset")
        if self.institution is not None and any(v is not None for v in (self.price, self.volatility,
                                                                         self.repo_rate, self.client_sale)):
            raise ValueError("an institution shock takes no 'price', 'volatility', 'repo_rate' or 'client_sale': "
                             "remove them (shock the asset in a separate entry)")
        return self


class ChannelSwitches(BalanceSheetSwitches, FundingSwitches):
    """Every channel's switch: balance sheet (slr, var, leverage, default), funding
    (margin, rollover, unsecured, redemption) and information."""

    information: bool = Field(
        True, description="Information asymmetry: spreads, quote withdrawal, RFQ, thinner depth, opaque marks "
        "and the inter-dealer freeze.",
    )


class CentralBankPurchases(_Strict):
    """A central bank buying eligible assets: it takes up to ``daily_cap`` a round (and
    ``total`` in all) of the selling pressure, or whatever keeps prices at ``price_floor``."""

    assets: tuple[str, ...] = Field(description="Eligible assets (names).")
    daily_cap: float = Field(
        float("inf"), ge=0.0, description="Most it buys in one round.", json_schema_extra={"unit": "currency/round"}
    )
    total: float = Field(float("inf"), ge=0.0, description="Most it buys in all.", json_schema_extra={"unit": "currency"})
    price_floor: float | None = Field(
        None, ge=0.0, le=1.0, allow_inf_nan=False,
        description="Buys what keeps eligible prices at or above this share of their t0 price (within the caps); "
        "without it, it buys the round's net sales.",
        json_schema_extra=_unit("fraction of t0 price", (0.5, None), "a share of the t0 price (0.95 keeps prices "
                                "within 5% of t0)"),
    )
    daily_cap_by_round: tuple[float, ...] = Field(
        (), description="Caps of the programme's first rounds, in order from its start (policy.timing.purchases."
        "start); daily_cap after them. E.g. the Fed's 40 a day from 13 March 2020, 75 a day from 19 March.",
        json_schema_extra={"unit": "currency/round"},
    )
    announcement_repricing: float = Field(
        0.0, gt=-1.0, allow_inf_nan=False,
        description="Return of eligible assets' fundamental price in the announcement round: what the announcement "
        "itself says about their value or supply (e.g. the Bank of England postponing its gilt sales on 28 "
        "September 2022). 0: none.",
        json_schema_extra=_unit("fraction", (-0.5, 0.5), "a return (0.05 is +5%)"),
    )
    announced: int | None = Field(
        None, ge=0, description="Round the programme is announced in, at or before its start (policy.timing."
        "purchases.start); None: announced when it starts. From then until the programme ends, outside buyers "
        "require at most announcement_discount on eligible assets (a backstop's announcement effect).",
    )
    announcement_discount: float | None = Field(
        None, ge=0.0, lt=1.0, allow_inf_nan=False,
        description="Largest fire-sale discount outside buyers require on eligible assets once the programme is "
        "announced (a share of the fundamental price): they can sell to the backstop, so they need not be paid "
        "more to hold the inventory. None: the assets' own max_discount (no announcement effect).",
        json_schema_extra=_unit("fraction", (None, 0.5), "a price discount (0.02 is 2% below fundamental)"),
    )


    @model_validator(mode="after")
    def _caps_are_amounts(self) -> CentralBankPurchases:
        bad = [c for c in self.daily_cap_by_round if not (c >= 0.0 and c < float("inf"))]
        if bad:
            raise ValueError(f"daily_cap_by_round holds {bad[0]!r}: each cap is a finite amount at or above 0")
        return self


class RepoFacility(_Strict):
    """A standing repo facility: lends against eligible collateral at a fixed haircut, so
    those haircuts do not rise above it and that repo is always rolled."""

    assets: tuple[str, ...] = Field(description="Eligible collateral (asset names).")
    haircut: float = Field(ge=0.0, lt=1.0, description="The facility's haircut.", json_schema_extra={"unit": "fraction"})
    min_rate: float = Field(
        float("inf"), ge=0.0, description="The facility's minimum bid rate: repo on eligible collateral never "
        "costs more (annual).",
        json_schema_extra=_unit("fraction/year", (None, 0.5), "an annual rate (0.05 is 5% a year; inf: none)"),
    )


class PolicyWindow(_Strict):
    """The rounds a policy lever acts in: from ``start`` up to, not including, ``end``."""

    start: int = Field(0, ge=0, description="First round the lever acts in (0: from the shock).")
    end: int | None = Field(None, ge=1, description="First round it no longer acts in (None: to the end of the run).")

    @model_validator(mode="after")
    def _ordered(self) -> PolicyWindow:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"end = {self.end} is not after start = {self.start}: a lever acts from start up to, "
                             "not including, end")
        return self


#: The policy levers, in the order of :class:`PolicyTiming`.
POLICY_LEVERS = ("slr_exemption", "haircut_floor", "swing_pricing", "slr_buffer_release", "all_to_all", "purchases",
                 "repo_facility")


class PolicyTiming(_Strict):
    """When each policy lever acts (``[scenario.policy.timing.LEVER] start = 8``). A lever
    outside its window is off; the default window is the whole run."""

    slr_exemption: PolicyWindow = Field(default_factory=PolicyWindow)
    haircut_floor: PolicyWindow = Field(default_factory=PolicyWindow)
    swing_pricing: PolicyWindow = Field(default_factory=PolicyWindow)
    slr_buffer_release: PolicyWindow = Field(default_factory=PolicyWindow)
    all_to_all: PolicyWindow = Field(default_factory=PolicyWindow)
    purchases: PolicyWindow = Field(default_factory=PolicyWindow)
    repo_facility: PolicyWindow = Field(default_factory=PolicyWindow)


class Policy(_Strict):
    """Policy switches of a scenario; combinable."""

    slr_exemption: bool = Field(
        False,
        description="Treasuries and reserves left out of the SLR exposure (US relief, Apr 2020 - Mar 2021).",
    )
    haircut_floor: bool = Field(
        False, description="Haircuts stay at their t0 level: no volatility sensitivity (FSB minimum haircut floors).",
    )
    swing_pricing: bool = Field(False, description="Every fund swing-prices its redemptions.")
    slr_buffer_release: float = Field(
        0.0, ge=0.0, le=1.0, description="Lowers every SLR trigger and target by this much (not below the minimum).",
        json_schema_extra={"unit": "fraction"},
    )
    all_to_all: float = Field(
        0.0, ge=0.0, lt=1.0, description="Share of sales matched directly with outside buyers, without price impact.",
        json_schema_extra={"unit": "fraction"},
    )
    purchases: CentralBankPurchases | None = Field(None, description="Central-bank purchases.")
    repo_facility: RepoFacility | None = Field(None, description="Standing repo facility.")
    timing: PolicyTiming = Field(default_factory=PolicyTiming, description="When each lever acts.")

    @model_validator(mode="after")
    def _announced_by_start(self) -> Policy:
        if self.purchases is not None and self.purchases.announced is not None \
                and self.purchases.announced > self.timing.purchases.start:
            raise ValueError(f"purchases.announced = {self.purchases.announced} is after timing.purchases.start = "
                             f"{self.timing.purchases.start}: a programme is announced at or before it starts")
        return self

    def events(self) -> list[int]:
        """Rounds in which a lever starts, ends or is announced (the run must reach them)."""
        out = [w.start for w in (getattr(self.timing, lever) for lever in POLICY_LEVERS)]
        out += [w.end for w in (getattr(self.timing, lever) for lever in POLICY_LEVERS) if w.end is not None]
        if self.purchases is not None and self.purchases.announced is not None:
            out.append(self.purchases.announced)
        return out


#: Plausible ranges of the channels' parameters, whose models live in
#: :mod:`firesale.channels` (the scenario checks them; the unit is the field's own), by
#: dotted field: ``(low, high)`` (``None``: open) and what the value is.
CHANNEL_PLAUSIBLE: dict[str, tuple[tuple[float | None, float | None], str]] = {
    "market.mean_reversion": ((None, 0.5), "the share of the price pressure that fades a round"),
    "market.dealer_lean": ((None, 0.5), "the share of the price pressure dealers buy back a round (0.2: a "
                           "half-life of about 3 days)"),
    "market.balance_sheet_cost": ((None, 100.0), "dealers' shadow cost of balance sheet (of order 1)"),
    "volatility.anchor": ((None, 0.5), "the GARCH pull to the fundamental variance a round (0.01 to 0.05)"),
    "volatility.cap": ((None, 20.0), "a cap on volatility as a multiple of its fundamental level (inf: none)"),
    "information.rfq_spread_multiplier": ((None, 20.0), "the RFQ spread as a multiple of the lit spread (about 2)"),
    "information.quote_spread_cap": ((None, 100.0), "a multiple of the calm spread (about 8)"),
    "information.spread_cap": ((None, 100.0), "a multiple of the t0 spread (inf: none)"),
}


def implausible_findings(scenario: Scenario) -> list[tuple[str, str]]:
    """``(dotted field, message)`` for every value of a scenario outside its field's
    plausible range (:data:`CHANNEL_PLAUSIBLE` for the channels' parameters)."""
    out = plausibility_findings(scenario)
    for s, shock in enumerate(scenario.shocks):
        out += plausibility_findings(shock, f"shocks.{s}.")
    out += plausibility_findings(scenario.policy, "policy.")
    for section in ("purchases", "repo_facility"):
        programme = getattr(scenario.policy, section)
        if programme is not None:
            out += plausibility_findings(programme, f"policy.{section}.")
    for path, (bounds, what) in CHANNEL_PLAUSIBLE.items():
        section, name = path.split(".")
        model = getattr(scenario, section)
        extra = type(model).model_fields[name].json_schema_extra
        unit = extra.get("unit", "-") if isinstance(extra, dict) else "-"
        message = implausible(path, getattr(model, name), {"unit": unit, "plausible": list(bounds), "what": what})
        if message is not None:
            out.append((path, message))
    return out


class Scenario(_Strict):
    """What happens to a system: shocks, channel switches, policies and parameters."""

    name: str = Field("baseline", min_length=1, description="Scenario name.")
    description: str = Field("", description="One line on what the scenario is.")
    shocks: tuple[Shock, ...] = Field((), description="Shocks, applied in their rounds.")
    channels: ChannelSwitches = Field(default_factory=ChannelSwitches)
    policy: Policy = Field(default_factory=Policy)
    market: MarketParams = Field(default_factory=MarketParams)
    volatility: VolatilityParams = Field(default_factory=VolatilityParams)
    information: InformationParams = Field(default_factory=InformationParams)
    max_rounds: int = Field(50, ge=1, le=10_000, description="Rounds (trading days) at most.")
    tolerance: float = Field(
        1e-9, gt=0.0, description="Sales and price moves below this count as none (stop rule).",
        json_schema_extra={"unit": "currency"},
    )
    price_tolerance: float = Field(
        0.0, ge=0.0, lt=1.0, allow_inf_nan=False,
        description="Relative price move a round below which prices count as settled (stop rule): a run stops "
        "when nobody trades and every price moves less than this (and less than tolerance). 0 (neutral): the "
        "absolute tolerance alone, so pressure fading geometrically runs to max_rounds.",
        json_schema_extra=_unit("fraction/round", (None, 0.01), "a relative price move a round"),
    )

    @model_validator(mode="after")
    def _plausible(self, info: ValidationInfo) -> Scenario:
        if not implausible_is_allowed(info.context):
            findings = implausible_findings(self)
            if findings:
                raise ImplausibleValue(findings)
        return self

    @model_validator(mode="after")
    def _shocks_within_horizon(self) -> Scenario:
        late = [sh.round for sh in self.shocks if sh.round >= self.max_rounds]
        if late:
            raise ValueError(
                f"a shock in round {max(late)} never hits: rounds run 0..{self.max_rounds - 1}; "
                f"raise max_rounds to at least {max(late) + 1} or move the shock"
            )
        return self

    def updated(self, **changes: Any) -> Scenario:
        """A copy with fields changed; dotted names reach nested fields
        (``updated(**{"market.execution_alpha": 1.0})``). Validated like the original
        (the plausible ranges are checked inside :func:`firesale.system.plausibility_checked`
        only, as in the file loaders: a value set in Python is explicit).

        Raises
        ------
        ConfigError
            A name that is not a field (with its dotted path), or a value out of range.
        """
        data = self.model_dump()
        for key, value in changes.items():
            target = data
            *parents, leaf = key.split(".")
            for depth, part in enumerate(parents):
                nxt = target.get(part, {}) if isinstance(target, dict) else None
                if nxt is None and isinstance(target, dict) and part in target:
                    nxt = {}  # an optional section left empty (e.g. policy.purchases) starts empty
                if not isinstance(nxt, dict):
                    path = ".".join(parents[: depth + 1])
                    raise ConfigError(Problem(
                        "FS201", f"override, field scenario.{key}",
                        f"scenario.{path} is not a section with fields, so {key!r} names nothing: "
                        "check the dotted name",
                    ))
                target[part] = nxt
                target = nxt
            target[leaf] = value
        return parse_scenario(data, source="override")


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model that holds the field at ``loc`` (for spelling hints)."""
    model: Any = Scenario
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            return []
        model = field.annotation
        for arg in typing.get_args(model) or ():
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                model = arg
                break
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def parse_scenario(data: Mapping[str, Any], source: str = "scenario", *,
                   allow_implausible: bool | None = None) -> Scenario:
    """Validate a scenario mapping, reporting every problem with its dotted field path
    (``scenario.market.execution_alpha``): FS201 a value out of its bounds or an unknown
    field, FS205 a value outside its plausible range, FS206 a boolean or a text given for
    a number. ``allow_implausible``: True lets implausible values through, False refuses
    them, None (default) as :func:`firesale.system.plausibility_checked` says (the file
    loaders check; elsewhere they pass).

    Raises
    ------
    ConfigError
    """
    context = None if allow_implausible is None else {ALLOW_IMPLAUSIBLE: bool(allow_implausible)}
    try:
        return Scenario.model_validate(data, context=context)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            field = ".".join(str(x) for x in e["loc"])
            cause = (e.get("ctx") or {}).get("error")
            if isinstance(cause, ImplausibleValue):
                problems += [Problem("FS205", f"{source}, field scenario.{field + '.' if field else ''}{path}",
                                     f"{message}. {ALLOW_HINT}") for path, message in cause.findings]
                continue
            where = f"{source}, field scenario.{field}" if field else f"{source}, section scenario"
            code = "FS206" if isinstance(e.get("input"), Mistyped) else "FS201"
            problems.append(Problem(code, where, explain(e, _fields_at(tuple(e["loc"])))))
        raise ConfigError(problems) from None


def mechanism_lattice(scenario: Scenario) -> list[Scenario]:
    """The scenario with each of the three mechanisms (balance sheet, funding, information)
    on or off: the 2^3 = 8 corners of the lattice a Shapley attribution needs, to run as
    one batch. Named by the mechanisms on (``"none"`` for plain revaluation); a mechanism
    is on as the scenario has it, off with all its channels off.

    Examples
    --------
    >>> [s.name for s in mechanism_lattice(Scenario())]  # doctest: +NORMALIZE_WHITESPACE
    ['none', 'balance_sheet', 'funding', 'balance_sheet+funding', 'information',
     'balance_sheet+information', 'funding+information', 'balance_sheet+funding+information']
    """
    out = []
    names = list(MECHANISMS)
    for corner in range(2 ** len(names)):
        on = [m for j, m in enumerate(names) if corner >> j & 1]
        off = {f"channels.{c}": False for m in names if m not in on for c in MECHANISMS[m]}
        out.append(scenario.updated(name="+".join(on) or "none", **off))
    return out
