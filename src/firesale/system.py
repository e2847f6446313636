"""The system: institutions, assets, holdings and correlations as validated tables.

A :class:`System` is the t0 input of a simulation, built the PyPSA way: one table per
component, each column documented with a unit (see :func:`firesale.schema.table_schema`).
Rows are validated with pydantic v2; every problem is reported with its table, row and
field, all at once. Loading from files lives in :mod:`firesale.data`; this module never
opens a file.

Units: amounts are in the system's ``currency`` unit (declared once, e.g. ``"USD bn"``);
ratios are fractions (0.05 is 5%); prices start at 1, so a holding's ``quantity`` is its
book value at t0.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator

from firesale.errors import DataError, FieldError, Problem, did_you_mean, explain
from firesale.matrices import Matrix, count_nonzero, from_triplets, prefer_sparse, row_sums, triplets

__all__ = [
    "Institution",
    "Asset",
    "System",
    "INSTITUTION_TYPES",
    "ASSET_CLASSES",
    "LIQUIDATION_POLICIES",
    "IMPACT_LAWS",
    "ALLOW_IMPLAUSIBLE",
    "ImplausibleValue",
    "Mistyped",
    "implausible_allowed",
    "implausible_is_allowed",
    "plausibility_checked",
    "loader_checks",
    "implausible",
    "plausibility_findings",
]

INSTITUTION_TYPES = (
    "dealer",
    "bank",
    "asset_manager",
    "money_market_fund",
    "hedge_fund",
    "pension_fund",
)
#: Asset classes in the default liquidity pecking order (most liquid first).
ASSET_CLASSES = (
    "reserves",
    "treasury",
    "agency_mbs",
    "corporate_ig",
    "corporate_hy",
    "equity",
    "other",
)
LIQUIDATION_POLICIES = ("pecking_order", "pro_rata", "initial_weights")

#: Adverse-selection share of order flow at t0 (mu0) by class. Order flow in credit is more
#: informative than in rates; the Treasury value gives the 10-year's calm Glosten-Milgrom
#: spread 2 * mu0 * sigma0 = 2 * 0.02 * 0.4% = 1.6 bp, about 0.5/32 of par (Fleming & Ruela,
#: NY Fed Liberty Street, Apr 2020).
ADVERSE_SELECTION = {"reserves": 0.0, "treasury": 0.02, "agency_mbs": 0.05, "corporate_ig": 0.10,
                     "corporate_hy": 0.15, "equity": 0.05, "other": 0.20}
#: Opacity by class: the share of the price a mark gives up when no dealer quotes (u = 1), a
#: prudent-valuation adjustment for price uncertainty (EBA RTS on prudent valuation, Art. 9).
#: Quoted markets (reserves, on-the-run Treasuries, listed equity) mark at the price. EU
#: banks' valuation adjustments run at about 0.25% of their fair-valued assets in calm
#: markets, mostly on Level 2-3 positions; the values here are a few times that, for
#: close-out uncertainty once quotes are gone (an assumption, loosely calibrated).
OPACITY = {"reserves": 0.0, "treasury": 0.0, "agency_mbs": 0.005, "corporate_ig": 0.01,
           "corporate_hy": 0.02, "equity": 0.0, "other": 0.03}
#: Largest fire-sale discount outside buyers tolerate in the long run, by class (a fraction
#: of the fundamental price; ``inf``: no bound), used when a scenario turns on
#: ``market.outside_demand`` and the asset sets no ``max_discount``. Treasuries: the
#: Treasury-OIS dislocation of March 2020 was tens of basis points of yield at long
#: maturities (He, Nagel & Song 2022, J. Financial Economics 143(1)), several percent of
#: price at a duration of 8-10; 8% bounds it (an assumption within that order). Agency MBS
#: and investment-grade corporates: a few percent (Haddad, Moreira & Muir 2021, "When
#: selling becomes viral", RFS 34(11): the March 2020 bond-CDS and ETF discounts); high
#: yield twice that; equities: stocks sold by distressed funds trade about 10% below
#: fundamental at the trough (Coval & Stafford 2007, J. Financial Economics 86(2)).
#: Long gilts of September 2022 reached about 10% (Pinter, Siriwardane & Walker 2024, BoE
#: SWP 1089): the gilt preset sets it on its assets.
MAX_DISCOUNT = {"reserves": math.inf, "treasury": 0.08, "agency_mbs": 0.05, "corporate_ig": 0.05,
                "corporate_hy": 0.10, "equity": 0.10, "other": math.inf}
#: Share of the outstanding fire-sale pressure outside capital absorbs a round, by class,
#: used with ``market.outside_demand`` when the asset sets no ``capital_arrival``: Duffie
#: (2010, J. Finance 65(4)) documents recoveries over weeks to months. A half-life of about
#: 3 weeks (15 trading days, 0.045 a round) for rates and 6 weeks for credit and equity
#: (0.023), an assumption of that order.
CAPITAL_ARRIVAL = {"reserves": 0.0, "treasury": 0.045, "agency_mbs": 0.045, "corporate_ig": 0.023,
                   "corporate_hy": 0.023, "equity": 0.023, "other": 0.0}
IMPACT_LAWS = ("linear", "exponential", "sqrt", "multiplicative")

_RATIO = {"ge": 0.0, "le": 1.0, "allow_inf_nan": False}


# ----------------------------------------------------------------------------- plausibility
#: Validation-context key: ``True`` lets values outside a field's plausible range through,
#: ``False`` refuses them (``model_validate(data, context={ALLOW_IMPLAUSIBLE: False})``).
#: Without it, :func:`plausibility_checked` decides: the file loaders check, while values
#: built in Python (``System.from_records``, ``Scenario.updated``) are explicit and are not
#: second-guessed. The hard bounds hold everywhere.
ALLOW_IMPLAUSIBLE = "allow_implausible"
#: Whether validation checks plausible ranges: None (not said: no), True or False.
_CHECK: ContextVar[bool | None] = ContextVar("firesale_check_plausible", default=None)
#: How an implausible value is let through, appended to every implausibility message.
ALLOW_HINT = ("If the value is meant, allow it: allow_implausible = true at the top of the TOML file, "
              "--allow-implausible on the command line or allow_implausible=True in Python")


@contextmanager
def plausibility_checked(enabled: bool = True) -> Iterator[None]:
    """Within the block, Institution, Asset and Scenario validation refuses values outside a
    field's plausible range (``enabled``) or lets them through (the hard bounds hold
    either way). The loaders of :mod:`firesale.data` check unless ``allow_implausible``."""
    token = _CHECK.set(bool(enabled))
    try:
        yield
    finally:
        _CHECK.reset(token)


def implausible_allowed() -> typing.ContextManager[None]:
    """Within the block, values outside a field's plausible range validate, the file
    loaders' included (``plausibility_checked(False)``)."""
    return plausibility_checked(False)


def loader_checks(allow_implausible: bool = False) -> typing.ContextManager[None]:
    """The check a file loader validates in: plausible ranges checked unless
    ``allow_implausible`` or an enclosing :func:`implausible_allowed`."""
    if allow_implausible:
        return plausibility_checked(False)
    return nullcontext() if _CHECK.get() is False else plausibility_checked(True)


def implausible_is_allowed(context: Any = None) -> bool:
    """Whether implausible values are let through: by the validation ``context``'s
    ``allow_implausible`` key when it has one, else unless :func:`plausibility_checked`."""
    if isinstance(context, Mapping) and ALLOW_IMPLAUSIBLE in context:
        return bool(context[ALLOW_IMPLAUSIBLE])
    return not _CHECK.get()


def _unit(unit: str, plausible: tuple[float | None, float | None] | None = None, what: str = "",
          mistake: str = "") -> dict[str, Any]:
    """A field's ``json_schema_extra``: its unit and, optionally, its plausible range
    ``(low, high)`` (``None``: open), what the value is (for messages) and the likely
    mistake above the range, a format string of ``v`` (the value), ``pct`` (v / 100),
    ``bp`` (v / 10,000), ``rise`` (1 + v / 100) and ``hi``."""
    out: dict[str, Any] = {"unit": unit}
    if plausible is not None:
        out["plausible"] = list(plausible)
        out["what"] = what
        if mistake:
            out["mistake"] = mistake
    return out


def _plausible_text(low: float | None, high: float | None) -> str:
    if low is None:
        return f"at most {high:g}"
    if high is None:
        return f"at least {low:g}"
    return f"{low:g} to {high:g}"


def implausible(name: str, value: Any, spec: Mapping[str, Any]) -> str | None:
    """What is wrong with ``value`` of field ``name`` when it lies outside the field's
    plausible range (``spec``: the field's ``json_schema_extra``), with the likely unit
    mistake; ``None`` when it is plausible, not a finite number, or the field has no range.

    Examples
    --------
    >>> print(implausible("sigma0", 4.5, Asset.model_fields["sigma0"].json_schema_extra))
    sigma0 = 4.5 looks like a percentage: daily volatility is a fraction (0.045 for 4.5%); plausible: at most 0.2 (fraction/day)
    """
    bounds = spec.get("plausible") if isinstance(spec, Mapping) else None
    if bounds is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    v = float(value)
    low, high = bounds
    if not math.isfinite(v) or ((low is None or v >= low) and (high is None or v <= high)):
        return None
    unit, what = str(spec.get("unit", "-")), str(spec.get("what") or name)
    above = high is not None and v > high
    if above and spec.get("mistake"):
        guess = str(spec["mistake"]).format(v=v, pct=v / 100, bp=v / 1e4, rise=1 + v / 100, hi=high)
    elif above and unit == "fraction/day" and v <= 100:
        if v <= 1:
            guess = (f"looks like a percentage or a yearly figure: {what} is a fraction per day ({v / 100:g} for "
                     f"{v:g}%; a yearly {v:g} is {v / math.sqrt(252):.3g} a day)")
        else:
            guess = f"looks like a percentage: {what} is a fraction ({v / 100:g} for {v:g}%)"
            if v / 100 > high:
                guess += f"; if {v:g}% is a year's, a day's is {v / 100 / math.sqrt(252):.3g}"
    elif above and unit.startswith("fraction") and 1 < v <= 100:
        guess = f"looks like a percentage: {what} is a fraction ({v / 100:g} for {v:g}%)"
    elif above and unit == "years":
        guess = f"looks like months or days: {what} is in years ({v / 12:.3g} for {v:g} months)"
    else:
        guess = f"is {'above' if above else 'below'} what is plausible for {what}"
    return f"{name} = {v:g} {guess}; plausible: {_plausible_text(low, high)} ({unit})"


class ImplausibleValue(FieldError):
    """Values outside their fields' plausible ranges: ``findings`` lists ``(field, what
    is wrong)``, each without :data:`ALLOW_HINT`; the message is all of them with it."""

    def __init__(self, findings: Sequence[tuple[str, str]]):
        self.findings = list(findings)
        super().__init__(self.findings[0][0], "; ".join(m for _, m in self.findings) + ". " + ALLOW_HINT)


_PLAUSIBLE_FIELDS: dict[type, list[tuple[str, str, dict[str, Any], float, float]]] = {}


def _plausible_fields(model: type[BaseModel]) -> list[tuple[str, str, dict[str, Any], float, float]]:
    """``(name, label, spec, low, high)`` of the fields of a model with a plausible range."""
    if model not in _PLAUSIBLE_FIELDS:
        out = []
        for name, info in model.model_fields.items():
            spec = info.json_schema_extra
            if isinstance(spec, dict) and "plausible" in spec:
                low, high = spec["plausible"]
                out.append((name, info.alias or name, spec, -math.inf if low is None else low,
                            math.inf if high is None else high))
        _PLAUSIBLE_FIELDS[model] = out
    return _PLAUSIBLE_FIELDS[model]


def plausibility_findings(model: BaseModel, prefix: str = "") -> list[tuple[str, str]]:
    """``(field, message)`` for each field of a validated model outside its plausible
    range (fields named by alias, after ``prefix``)."""
    out = []
    for name, label, spec, low, high in _plausible_fields(type(model)):
        value = getattr(model, name)
        if value is None or low <= value <= high:  # the common case, fast
            continue
        message = implausible(prefix + label, value, spec)
        if message is not None:
            out.append((prefix + label, message))
    return out


class Mistyped:
    """A boolean (or a text) given for a number, put in the value's place before
    validation so that the field fails with its name instead of coercing it (``true``
    would count as 1). Its ``repr`` is what the messages show."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __repr__(self) -> str:
        if isinstance(self.value, bool):
            return f"{str(self.value).lower()} (a boolean)"
        return f"{self.value!r} (text in quotes)"


_NUMBER_FIELDS: dict[type, dict[str, str]] = {}


def number_fields(model: type[BaseModel]) -> dict[str, str]:
    """``{key: "float" or "int"}`` for every number field of a model, by name and alias."""
    if model not in _NUMBER_FIELDS:
        out = {}
        for name, info in model.model_fields.items():
            kinds = {a for a in (typing.get_args(info.annotation) or (info.annotation,)) if a is not type(None)}
            if kinds in ({float}, {int}, {int, float}):
                kind = "int" if kinds == {int} else "float"
                out[name] = kind
                if info.alias:
                    out[info.alias] = kind
        _NUMBER_FIELDS[model] = out
    return _NUMBER_FIELDS[model]


def _non_finite_text(value: str) -> bool:
    """Text spelling NaN or infinity: left to the field's own check (NaN is reported as NaN)."""
    try:
        return not math.isfinite(float(value))
    except ValueError:
        return False


def mark_mistyped(model: type[BaseModel], data: Any, *, text: bool) -> Any:
    """``data`` with each boolean given for a number field of ``model`` (and, with
    ``text``, each text but spellings of nan and inf) replaced by :class:`Mistyped`; a
    copy when anything changed."""
    if not isinstance(data, Mapping):
        return data
    fields = number_fields(model)
    out = None
    for key, value in data.items():
        if key in fields and (isinstance(value, bool) or (text and isinstance(value, str)
                                                          and not _non_finite_text(value))):
            out = dict(data) if out is None else out
            out[key] = Mistyped(value)
    return data if out is None else out


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _no_boolean_numbers(cls, data: Any) -> Any:
        # Text cells are how CSV tables hold numbers, so only booleans are refused here;
        # the TOML loader refuses quoted numbers in inline tables.
        return mark_mistyped(cls, data, text=False)

    @model_validator(mode="after")
    def _plausible(self, info: ValidationInfo) -> _Row:
        if not implausible_is_allowed(info.context):
            findings = plausibility_findings(self)
            if findings:
                raise ImplausibleValue(findings)
        return self


class Institution(_Row):
    """One institution: its balance sheet outside the holdings table and its constraints.

    Every ratio constraint has three levels (step 3 of the round, docs/model.md): below ``*_minimum`` the
    institution defaults, below ``*_trigger`` it acts, and it restores ``*_target``. A
    constraint left empty does not bind. A trigger without a target restores the trigger.
    """

    name: str = Field(min_length=1, description="Unique name.", json_schema_extra=_unit("-"))
    type: Literal[INSTITUTION_TYPES] = Field(  # type: ignore[valid-type]
        "dealer", description="Institution type.", json_schema_extra=_unit("-")
    )
    group: str = Field("", description="Group label (A, B, C, D, ...).", json_schema_extra=_unit("-"))
    cash: float = Field(
        0.0, ge=0.0, allow_inf_nan=False, description="Cash and central-bank reserves.",
        json_schema_extra=_unit("currency"),
    )
    liabilities: float = Field(
        ge=0.0, allow_inf_nan=False,
        description="Debt: deposits, unsecured and other liabilities (repaid by forced sales).",
        json_schema_extra=_unit("currency"),
    )
    slr_minimum: float | None = Field(
        None, **_RATIO, description="SLR below which the institution defaults.",
        json_schema_extra=_unit("fraction", (None, 0.5), "a leverage ratio (Tier 1 / exposure, a few percent)"),
    )
    slr_trigger: float | None = Field(
        None, **_RATIO, description="SLR (Tier 1 / exposure) below which it shrinks.",
        json_schema_extra=_unit("fraction", (None, 0.5), "a leverage ratio (Tier 1 / exposure, a few percent)"),
    )
    slr_target: float | None = Field(
        None, **_RATIO, description="SLR it restores by selling.",
        json_schema_extra=_unit("fraction", (None, 0.5), "a leverage ratio (Tier 1 / exposure, a few percent)"),
    )
    slr_deleveraging: Literal["trigger", "minimum"] = Field(
        "trigger",
        description="Where the SLR forces sales: 'trigger' (neutral), below the trigger, back to the target (Dealer "
        "Prime, the Bank of England / INET rule); 'minimum', only below the regulatory minimum, back to it, and "
        "below the trigger a buffer shortfall that restricts distributions and, for a dealer, rations new "
        "absorption (market.balance_sheet_cost) instead of forcing inventory out. With 'minimum' the SLR minimum "
        "is no default threshold.", json_schema_extra=_unit("-"),
    )
    leverage_minimum: float | None = Field(
        None, **_RATIO, description="Equity / total assets below which it defaults.",
        json_schema_extra=_unit("fraction", (None, 0.5), "equity / total assets (a few percent for banks and dealers)"),
    )
    leverage_trigger: float | None = Field(
        None, **_RATIO, description="Equity / total assets below which it delevers.",
        json_schema_extra=_unit("fraction", (None, 0.5), "equity / total assets (a few percent for banks and dealers)"),
    )
    leverage_target: float | None = Field(
        None, **_RATIO, description="Equity / total assets it restores.",
        json_schema_extra=_unit("fraction", (None, 0.5), "equity / total assets (a few percent for banks and dealers)"),
    )
    recapitalisation_lag: int | None = Field(
        None, ge=0, le=1000,
        description="Rounds its investors take to recapitalise it: once its equity / total assets has been below "
        "its leverage trigger for more than this many rounds in a row (0: from the first), they add, after the "
        "round's marking and before its sales, the cash that restores its leverage target in each round it is "
        "still below (LDI funds' calls on their pension schemes; segregated "
        "mandates are topped up within days, pooled funds' many small investors take weeks: Pinter 2023, BoE "
        "SWP 1019). None: never recapitalised by its investors.",
        json_schema_extra=_unit("rounds"),
    )
    leverage_targeting: Literal["sell_only", "two_sided"] = Field(
        "sell_only",
        description="two_sided: also buys when equity / assets exceeds the target (Adrian-Shin).",
        json_schema_extra=_unit("-"),
    )
    var_limit: float | None = Field(
        None, gt=0.0, allow_inf_nan=False, description="Value-at-Risk limit of the trading book.",
        json_schema_extra=_unit("currency"),
    )
    var_confidence: float = Field(
        0.99, gt=0.5, lt=1.0, description="One-day VaR confidence level.",
        json_schema_extra=_unit("fraction", (0.9, None), "a VaR confidence level (0.95 to 0.999)"),
    )
    liquidation: Literal[LIQUIDATION_POLICIES] = Field(  # type: ignore[valid-type]
        "pecking_order",
        description="How a sale is spread over assets: most liquid first, pro rata, or by t0 weights.",
        json_schema_extra=_unit("-"),
    )
    repay_with_cash: bool = Field(
        False, description="Use cash to repay debt before selling assets.", json_schema_extra=_unit("-")
    )
    other_liabilities: float = Field(
        0.0, ge=0.0, allow_inf_nan=False,
        description="Part of the liabilities that neither cash nor sale proceeds repay early (deposits and other "
        "liabilities beside a repayable loan, the Bank of England / INET split); repayment beyond the rest stops "
        "and the cash stays on the balance sheet. Creditors of a defaulted institution are paid whatever it "
        "raises, this part included. 0 (neutral): all of the liabilities can be repaid.",
        json_schema_extra=_unit("currency"),
    )
    short_term_debt: float = Field(
        0.0, ge=0.0, allow_inf_nan=False,
        description="Part of the liabilities that is unsecured short-term funding and can run.",
        json_schema_extra=_unit("currency"),
    )
    run_threshold: float | None = Field(
        None, **_RATIO, description="Equity / total assets below which short-term creditors run.",
        json_schema_extra=_unit("fraction", (None, 0.5), "equity / total assets (a few percent for banks and dealers)"),
    )
    run_share: float = Field(
        0.25, **_RATIO, description="Share of the remaining short-term debt withdrawn in each round of a run.",
        json_schema_extra=_unit("fraction/round"),
    )
    repo_rollover_threshold: float | None = Field(
        None, **_RATIO, description="Equity / total assets below which repo lenders stop rolling its repo.",
        json_schema_extra=_unit("fraction", (None, 0.5), "equity / total assets (a few percent for banks and dealers)"),
    )
    repo_lending: float = Field(
        0.0, ge=0.0, allow_inf_nan=False,
        description="Cash lent in the tri-party repo market (money-market funds): an asset it recalls, before "
        "selling, when it needs cash; every borrower then loses that share of its repo.",
        json_schema_extra=_unit("currency"),
    )
    shares: float | None = Field(
        None, gt=0.0, allow_inf_nan=False,
        description="Fund shares outstanding (NAV per share = equity / shares; default: NAV 1 at t0).",
        json_schema_extra=_unit("units"),
    )
    redemption_sensitivity: float = Field(
        0.0, ge=0.0, allow_inf_nan=False,
        description="Funds: share of NAV redeemed per unit of NAV fall in a round (flow-performance).",
        json_schema_extra=_unit("-", (None, 10.0), "a flow-performance sensitivity (0.5 to 3 in the presets; 10 "
                                "redeems 10% of NAV after a 1% fall)"),
    )
    first_mover: float = Field(
        0.0, ge=0.0, allow_inf_nan=False,
        description="Funds: extra redemptions, as a multiple of the flow-performance term, when early "
        "redeemers leave the impact cost to those who stay (off under swing pricing).",
        json_schema_extra=_unit("-", (None, 10.0), "a multiple of the flow-performance redemptions"),
    )
    close_hedges: bool = Field(
        False, description="A sale of an asset closes the same share of the institution's derivative on it: the "
        "hedge unwinds with the position (a basis trade: a hedge fund selling cash Treasuries buys back its short "
        "futures alongside, Banegas, Monin & Petrasek 2021). Off: derivatives keep their notional.",
        json_schema_extra=_unit("-"),
    )
    redemption_cap: float | None = Field(
        None, gt=0.0, le=1.0, allow_inf_nan=False,
        description="Funds: most of their NAV that flow-performance redemptions take over the whole run (the "
        "curve is concave: each round's flow is scaled by the share of this cap still unused). None: no cap, "
        "the flow is linear in the loss. Redemption waves (shocks) are not counted against it.",
        json_schema_extra=_unit("fraction"),
    )
    swing_pricing: bool = Field(
        False, description="Funds: redeemers bear the fund's cost of selling for them.", json_schema_extra=_unit("-"),
    )
    redemption_gate: float | None = Field(
        None, **_RATIO, description="Funds: most of the NAV redeemable in one round.", json_schema_extra=_unit("fraction"),
    )
    repo_rollover_share: float = Field(
        0.25, **_RATIO, description="Share of its repo not rolled over in each round below the threshold.",
        json_schema_extra=_unit("fraction/round"),
    )

    @model_validator(mode="after")
    def _levels_ordered(self) -> Institution:
        for ratio in ("slr", "leverage"):
            minimum, trigger, target = (getattr(self, f"{ratio}_{lvl}") for lvl in ("minimum", "trigger", "target"))
            if target is not None and trigger is None:
                raise FieldError(
                    f"{ratio}_target",
                    f"{ratio}_target = {target:g} is set but {ratio}_trigger is empty: set {ratio}_trigger too "
                    f"(or set only {ratio}_trigger, which is then also the target)",
                )
            if minimum is not None:
                for level, value in (("trigger", trigger), ("target", target)):
                    if value is not None and value < minimum:
                        raise FieldError(
                            f"{ratio}_{level}",
                            f"{ratio}_{level} = {value:g} is below {ratio}_minimum = {minimum:g}: "
                            f"raise {ratio}_{level} or lower {ratio}_minimum",
                        )
            if trigger is not None and target is not None and target < trigger:
                raise FieldError(
                    f"{ratio}_target",
                    f"{ratio}_target = {target:g} is below {ratio}_trigger = {trigger:g}: "
                    f"raise {ratio}_target to at least {ratio}_trigger",
                )
        return self

    @model_validator(mode="after")
    def _deleveraging_needs_its_minimum(self) -> Institution:
        if self.slr_deleveraging == "minimum" and (self.slr_minimum is None or self.slr_trigger is None):
            missing = "slr_minimum" if self.slr_minimum is None else "slr_trigger"
            raise FieldError("slr_deleveraging", f"slr_deleveraging = 'minimum' forces sales only below the SLR "
                             f"minimum and rations balance sheet below the trigger, but {missing} is empty: set it, "
                             "or use slr_deleveraging = 'trigger'")
        return self

    @model_validator(mode="after")
    def _short_term_within_liabilities(self) -> Institution:
        for part in ("short_term_debt", "other_liabilities"):
            if getattr(self, part) > self.liabilities:
                raise FieldError(part, f"{part} = {getattr(self, part):g} is above liabilities = "
                                 f"{self.liabilities:g}: it is a part of the liabilities; lower it")
        return self

    def level(self, ratio: str, which: str) -> float:
        """Constraint level as a float, NaN when the constraint does not bind."""
        value = getattr(self, f"{ratio}_{which}")
        if which == "target" and value is None:
            value = getattr(self, f"{ratio}_trigger")
        return math.nan if value is None else float(value)


class Asset(_Row):
    """One asset: its class, risk, market depth and impact law, haircut and SLR treatment.

    Price impact (step 4 of the round, docs/model.md) is measured in units of the t0 price from the
    cumulative value sold ``Q``: linear ``Q/D``; exponential ``(1 - f)(1 - exp(-Q/((1 - f)D)))``
    (Cont-Schaanning 2017, floor ``f``); square root ``sigma0 · kappa · sqrt(Q/adv)``
    (Breuer-Summer-Urosevic); multiplicative, the price times ``exp(-Q/D)``, shocks
    included (Cifuentes-Ferrucci-Shin 2005, the Bank of England / INET model, where
    ``D`` is the asset's initial holdings over β). ``depth = inf`` is a market no sale moves.
    """

    name: str = Field(min_length=1, description="Unique name.", json_schema_extra=_unit("-"))
    asset_class: Literal[ASSET_CLASSES] = Field(  # type: ignore[valid-type]
        alias="class", description="Asset class.", json_schema_extra=_unit("-")
    )
    sigma0: float = Field(
        gt=0.0, allow_inf_nan=False, description="Daily volatility of returns at t0.",
        json_schema_extra=_unit("fraction/day", (None, 0.2), "daily volatility"),
    )
    adv: float = Field(
        0.0, ge=0.0, allow_inf_nan=False, description="Average daily traded volume.",
        json_schema_extra=_unit("currency/day"),
    )
    impact: Literal[IMPACT_LAWS] = Field(  # type: ignore[valid-type]
        "linear", description="Price-impact law.", json_schema_extra=_unit("-")
    )
    depth: float = Field(
        math.inf, gt=0.0, description="Market depth D: value sold that moves the price by 100% (linear).",
        json_schema_extra=_unit("currency"),
    )
    impact_floor: float = Field(
        0.0, ge=0.0, lt=1.0, description="Exponential law: price floor as a fraction of the t0 price.",
        json_schema_extra=_unit("fraction"),
    )
    impact_kappa: float = Field(
        1.5, ge=0.0, allow_inf_nan=False, description="Square-root law coefficient.",
        json_schema_extra=_unit("-", (None, 10.0), "the square-root law's coefficient (of order 1)"),
    )
    haircut: float = Field(
        0.0, ge=0.0, lt=1.0, allow_inf_nan=False, description="Repo haircut at t0 (h0), in [0, 1).",
        json_schema_extra=_unit("fraction"),
    )
    haircut_beta: float | None = Field(
        None, ge=0.0, allow_inf_nan=False,
        description="Rise of the haircut per unit rise of sigma/sigma0 (default 1.5 x haircut: 2% -> 5% "
        "when volatility doubles).",
        json_schema_extra=_unit("fraction", (None, 1.0), "the haircut's rise per unit rise of sigma/sigma0"),
    )
    haircut_cap: float = Field(
        0.5, ge=0.0, lt=1.0, description="Highest haircut volatility can push it to.",
        json_schema_extra=_unit("fraction"),
    )
    duration: float | None = Field(
        None, gt=0.0, allow_inf_nan=False,
        description="Modified duration of a bond: reports price moves as yield moves (dy = -ln(p) / duration).",
        json_schema_extra=_unit("years", (None, 50.0), "a modified duration"),
    )
    slr_exempt: bool | None = Field(
        None, description="Left out of the SLR exposure under the exemption policy "
        "(default: reserves and Treasuries).", json_schema_extra=_unit("-"),
    )
    tradable: bool | None = Field(
        None, description="Can be sold in a round (default: every class but 'other').",
        json_schema_extra=_unit("-"),
    )
    liquidity_rank: int | None = Field(
        None, ge=0, description="Pecking order, lower is sold first (default: by class).",
        json_schema_extra=_unit("-"),
    )
    adverse_selection: float | None = Field(
        None, ge=0.0, lt=1.0, allow_inf_nan=False,
        description="Share of order flow that is informed at t0 (Glosten-Milgrom mu0), in [0, 1) (default: by "
        "class, or spread / (2 sigma0) when spread is given).",
        json_schema_extra=_unit("fraction", (None, 0.5), "the informed share of order flow (0.02 to 0.2 by class)"),
    )
    spread: float | None = Field(
        None, ge=0.0, allow_inf_nan=False,
        description="Bid-ask spread at t0 as a share of the price (default: 2 x adverse_selection x sigma0, "
        "the Glosten-Milgrom spread).",
        json_schema_extra=_unit("fraction", (None, 0.1), "a bid-ask spread",
                                "looks like basis points or a percentage: the spread is a fraction of the price "
                                "({bp:g} for {v:g} bp, {pct:g} for {v:g}%)"),
    )
    hedge_of: str | None = Field(
        None, description="For a futures contract or swap: the asset whose positions it hedges. An institution "
        "that closes hedges closes its derivative on this asset in step with its sales of that one (a basis "
        "trade: long cash Treasuries, short futures). Its price is its own: give it the fundamental shocks of "
        "the asset it hedges; the fire sale in that asset does not reach it, so the basis widens.",
        json_schema_extra=_unit("-"),
    )
    max_discount: float | None = Field(
        None, gt=0.0, le=1.0, allow_inf_nan=False,
        description="Largest fire-sale discount outside buyers tolerate (a fraction of the fundamental): fire-sale "
        "pressure never takes the price below fundamental x (1 - max_discount). Default: none, or the class's "
        "calibrated value when the scenario sets market.outside_demand.",
        json_schema_extra=_unit("fraction", (None, 0.5), "a fire-sale discount (0.05 to 0.10 by class)"),
    )
    capital_delay: int = Field(
        0, ge=0, le=1000,
        description="Rounds before outside capital starts to arrive in this market: the price pressure fades at "
        "capital_arrival only from round capital_delay + 1 (opportunistic buyers such as hedge funds entered the "
        "gilt market days into the September 2022 sales: Pinter, Siriwardane & Walker 2024). 0: from round 1.",
        json_schema_extra=_unit("rounds"),
    )
    capital_arrival: float | None = Field(
        None, ge=0.0, le=1.0, allow_inf_nan=False,
        description="Share of the outstanding fire-sale pressure absorbed by outside capital arriving each round "
        "(slow-moving capital). Default: 0, or the class's value when the scenario sets market.outside_demand.",
        json_schema_extra=_unit("fraction/round", (None, 0.5), "the share of fire-sale pressure absorbed a round "
                                "(0.02 to 0.05 by class)"),
    )
    opacity: float | None = Field(
        None, ge=0.0, le=1.0, allow_inf_nan=False,
        description="Share of the price a mark gives up when no dealer quotes (mark = p (1 - opacity u)); "
        "default by class.",
        json_schema_extra=_unit("fraction", (None, 0.5), "a mark's discount without quotes (0 to 0.03 by class)"),
    )

    @model_validator(mode="after")
    def _sqrt_needs_volume(self) -> Asset:
        if self.impact == "sqrt" and self.adv <= 0:
            raise FieldError("adv", f"impact = 'sqrt' needs adv > 0, got adv = {self.adv:g} (the square-root "
                             "law divides by volume): fill in the average daily volume")
        return self

    @model_validator(mode="after")
    def _cap_above_haircut(self) -> Asset:
        if self.haircut_cap < self.haircut:
            raise FieldError("haircut_cap", f"haircut_cap = {self.haircut_cap:g} is below haircut = {self.haircut:g}: "
                             "the cap bounds how far the haircut can rise; raise it")
        return self

    @model_validator(mode="after")
    def _spread_within_glosten_milgrom(self) -> Asset:
        if self.spread is None:
            return self
        implied = self.spread / (2.0 * self.sigma0)
        if self.adverse_selection is None and implied >= 1.0:
            raise FieldError("spread", f"spread = {self.spread:g} implies an adverse-selection share "
                             f"spread / (2 sigma0) = {implied:.3g}, but it must be below 1 (a spread of two "
                             "daily standard deviations is all flow informed): lower the spread or raise sigma0")
        if self.adverse_selection is not None and not math.isclose(implied, self.adverse_selection, rel_tol=1e-6):
            raise FieldError("spread", f"spread = {self.spread:g} and adverse_selection = "
                             f"{self.adverse_selection:g} disagree: the Glosten-Milgrom spread is 2 x "
                             f"adverse_selection x sigma0 = {2 * self.adverse_selection * self.sigma0:.6g}; "
                             "give one of them")
        return self

    @property
    def mu0(self) -> float:
        """Adverse-selection share at t0 (step 6 of the round, docs/model.md)."""
        if self.adverse_selection is not None:
            return self.adverse_selection
        if self.spread is not None:
            return self.spread / (2.0 * self.sigma0)
        return ADVERSE_SELECTION[self.asset_class]

    def discount_bound(self, outside_demand: bool) -> float:
        """Largest discount ``d`` (``inf``: none) with or without the class default."""
        if self.max_discount is not None:
            return self.max_discount
        return MAX_DISCOUNT[self.asset_class] if outside_demand else math.inf

    def arrival_rate(self, outside_demand: bool) -> float:
        """Capital arrival ``a`` a round, with or without the class default."""
        if self.capital_arrival is not None:
            return self.capital_arrival
        return CAPITAL_ARRIVAL[self.asset_class] if outside_demand else 0.0

    @property
    def opacity_share(self) -> float:
        return self.opacity if self.opacity is not None else OPACITY[self.asset_class]

    @property
    def beta(self) -> float:
        """Haircut sensitivity to σ/σ0 (step 5 of the round, docs/model.md)."""
        return self.haircut_beta if self.haircut_beta is not None else 1.5 * self.haircut

    @property
    def is_slr_exempt(self) -> bool:
        return self.slr_exempt if self.slr_exempt is not None else self.asset_class in ("reserves", "treasury")

    @property
    def is_tradable(self) -> bool:
        return self.tradable if self.tradable is not None else self.asset_class != "other"

    @property
    def rank(self) -> int:
        return self.liquidity_rank if self.liquidity_rank is not None else ASSET_CLASSES.index(self.asset_class)


def _known_fields(model: type[_Row]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _row_problems(
    model: type[_Row], rows: Sequence[Mapping[str, Any]], source: str, code: str
) -> tuple[list[Any], list[Problem]]:
    parsed: list[Any] = []
    problems: list[Problem] = []
    known = _known_fields(model)
    for i, row in enumerate(rows):
        label = f"{source} row {i + 1}"
        if row.get("name"):
            label += f" ({row['name']})"
        clean = {k: v for k, v in row.items() if v is not None}
        try:
            parsed.append(model.model_validate(clean))
        except ValidationError as err:
            for e in err.errors():
                field = ".".join(str(x) for x in e["loc"])
                cause = (e.get("ctx") or {}).get("error")
                if isinstance(cause, FieldError):
                    field = cause.field
                where = f"{label}, field {field}" if field else label
                problems.append(Problem(code, where, explain(e, known)))
    return parsed, problems


def _split_rows(
    rows: Any, source: str, currency: str
) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Rows as plain dicts, each without its ``currency`` cell, which must agree with the
    system currency ("mismatched units" otherwise)."""
    problems: list[Problem] = []
    if isinstance(rows, Mapping) or isinstance(rows, (str, bytes)):
        return [], [Problem("FS107", source, f"got {type(rows).__name__}, not a list of rows: "
                            "give one mapping per row (in TOML, an array of tables [[...]])")]
    out: list[dict[str, Any]] = []
    for r, row in enumerate(rows):
        if not isinstance(row, Mapping):
            problems.append(Problem("FS107", f"{source} row {r + 1}",
                                    f"got {row!r}, not a row of named fields: give a mapping of column to value"))
            out.append({})
            continue
        row = {str(k): v for k, v in row.items()}
        unit = row.pop("currency", None)
        if unit is not None and str(unit).strip() != currency:
            problems.append(Problem("FS122", f"{source} row {r + 1}, field currency",
                                    f"mismatched units: {unit!r} but the system's amounts are in {currency!r}; "
                                    "convert the amounts or fix the currency"))
        out.append(row)
    return out, problems


class System:
    """A validated system of institutions and assets, with its array view.

    Build it with :meth:`from_records` (or a loader of :mod:`firesale.data`), which
    validates everything and raises :class:`~firesale.errors.DataError` listing every
    problem with its table, row and field.

    Attributes
    ----------
    institutions : list of Institution, length N
    assets : list of Asset, length K
    holdings : Matrix, shape (N, K)
        Quantity held; prices start at 1, so this is the t0 book value (currency).
    trading_fraction : Matrix, shape (N, K)
        Share of each position held in the trading book (VaR applies to it).
    repo : Matrix, shape (N, K)
        Repo borrowing secured on each position (currency), at most (1 - haircut) of it.
    derivative : Matrix, shape (N, K)
        Signed notional of a derivative on each asset (swap, future; currency at t0
        prices): its value moves by notional × price change, settled daily in cash.
    initial_margin : Matrix, shape (N, K)
        Initial margin on the derivative as a share of |notional| at t0 volatility.
    correlation : ndarray, shape (K, K)
        Correlation of daily returns, used by VaR.
    market_share : Matrix, shape (N, K)
        Each dealer's share of client order flow in each asset (columns of tradable assets
        with dealers sum to 1; zero for non-dealers). From the ``market_shares`` table;
        assets it does not list are split by dealers' t0 total assets.
    sparse : bool
        Whether the (N, K) matrices above are :class:`scipy.sparse.csr_array` (large,
        sparse systems; :func:`firesale.matrices.prefer_sparse`) or numpy arrays. In CSR
        form ``trading_fraction`` is stored where a holdings row is given only.
    currency : str
        The unit of every amount.
    """

    def __init__(
        self,
        name: str,
        institutions: list[Institution],
        assets: list[Asset],
        holdings: Matrix,
        trading_fraction: Matrix,
        correlation: np.ndarray,
        currency: str = "currency",
        description: str = "",
        repo: Matrix | None = None,
        derivative: Matrix | None = None,
        initial_margin: Matrix | None = None,
        market_share: Matrix | None = None,
        sparse: bool | None = None,
    ) -> None:
        self.name = name
        self.description = description
        self.currency = currency
        self.institutions = list(institutions)
        self.assets = list(assets)
        shape = (len(self.institutions), len(self.assets))
        if sparse is None:
            sparse = prefer_sparse(*shape, count_nonzero(holdings) + count_nonzero(derivative))
        self.sparse = bool(sparse)
        self.holdings = _in_form(holdings, shape, self.sparse)
        self.repo = _in_form(repo, shape, self.sparse)
        self.derivative = _in_form(derivative, shape, self.sparse)
        self.initial_margin = _in_form(initial_margin, shape, self.sparse)
        # a trading fraction means something where a position is held (or a derivative)
        self._positions = _position_pattern(self.holdings, self.repo, self.derivative)
        self.trading_fraction = _in_form(trading_fraction, shape, self.sparse, fill=1.0, pattern=self._positions)
        self.correlation = np.asarray(correlation, dtype=float)
        self.market_share = _market_share(self, market_share)
        for arr in (self.holdings, self.trading_fraction, self.correlation, self.repo, self.derivative,
                    self.initial_margin, self.market_share):
            for part in (arr.data, arr.indices, arr.indptr) if sp.issparse(arr) else (arr,):
                part.setflags(write=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_records(
        cls,
        institutions: Sequence[Mapping[str, Any]],
        assets: Sequence[Mapping[str, Any]],
        holdings: Sequence[Mapping[str, Any]],
        correlations: Sequence[Mapping[str, Any]] = (),
        market_shares: Sequence[Mapping[str, Any]] = (),
        *,
        name: str = "system",
        currency: str = "currency",
        description: str = "",
        sources: Mapping[str, str] | None = None,
        sparse: bool | None = None,
    ) -> System:
        """Validate tables given as records (one mapping per row) and build a System.

        Parameters
        ----------
        institutions, assets, holdings, correlations : sequence of mapping
            One mapping per row; columns as in :func:`firesale.schema.table_schema`.
            Holdings rows: ``institution``, ``asset``, ``quantity`` and optionally
            ``trading_fraction`` and ``repo``. Correlation rows: ``asset_a``, ``asset_b``, ``correlation``.
        market_shares : sequence of mapping, optional
            Rows ``institution`` (a dealer), ``asset``, ``share``: each dealer's share of client
            flow in an asset; the shares of an asset listed must sum to 1.
            A value ``None`` is "not set" (the default applies). Any row may carry a
            ``currency``, which must equal ``currency`` ("mismatched units" otherwise).
        sources : mapping, optional
            Label of each table in messages (file name), e.g. ``{"holdings": "holdings.csv"}``.
        sparse : bool, optional
            Keep the (N, K) matrices as CSR; by default when the system is large and
            sparse (:func:`firesale.matrices.prefer_sparse`).

        Raises
        ------
        DataError
            Listing every problem found, each with table, row and field.
        """
        src = {t: t for t in ("institutions", "assets", "holdings", "correlations", "market_shares")}
        src.update(sources or {})
        problems: list[Problem] = []
        institutions, p = _split_rows(institutions, src["institutions"], currency)
        problems += p
        assets, p = _split_rows(assets, src["assets"], currency)
        problems += p
        holdings, p = _split_rows(holdings, src["holdings"], currency)
        problems += p
        correlations, p = _split_rows(correlations, src["correlations"], currency)
        problems += p
        insts, p = _row_problems(Institution, institutions, src["institutions"], "FS101")
        problems += p
        sound = not p
        asts, p = _row_problems(Asset, assets, src["assets"], "FS102")
        problems += p
        if not institutions:
            problems.append(Problem("FS100", src["institutions"],
                                    "the system has no institutions: add at least one row"))
        if not assets:
            problems.append(Problem("FS100", src["assets"], "the system has no assets: add at least one row"))
        p = _duplicates([r.get("name") for r in institutions], src["institutions"], "institution")
        p += _duplicates([r.get("name") for r in assets], src["assets"], "asset")
        problems += p
        sound = sound and not p
        inst_index = {str(r.get("name")): i for i, r in enumerate(institutions)}
        asset_index = {str(r.get("name")): k for k, r in enumerate(assets)}
        haircuts = [a.haircut for a in asts] if len(asts) == len(assets) else None
        for row, a in enumerate(asts if len(asts) == len(assets) else []):
            if a.hedge_of is not None and a.hedge_of not in asset_index:
                problems.append(Problem("FS104", f"{src['assets']} row {row + 1} ({a.name}), field hedge_of",
                                        f"no asset is named {a.hedge_of!r}: name one of the assets "
                                        f"({', '.join(list(asset_index)[:8])})"))
        held, p = _holdings(holdings, inst_index, asset_index, src["holdings"], haircuts)
        problems += p
        sound = sound and not p
        corr, p = _correlations(correlations, asset_index, src["correlations"])
        problems += p
        market_shares, p = _split_rows(market_shares, src["market_shares"], currency)
        problems += p
        dealers = {r.get("name") for r, i in zip(institutions, insts) if i.type == "dealer"} \
            if len(insts) == len(institutions) else None
        shares, p = _market_shares(market_shares, inst_index, asset_index, dealers, src["market_shares"])
        problems += p
        if sound and institutions and len(insts) == len(institutions):
            # Solvency needs every institution and holding; checked with the other problems
            # when those are sound, so that validate() reports it at once.
            cash = np.array([i.cash for i in insts], dtype=float)

            def per_institution(values: np.ndarray) -> np.ndarray:
                return np.bincount(held["institution"], weights=values, minlength=len(insts))

            problems += _insolvent(insts, cash, per_institution(held["quantity"]), per_institution(held["repo"]),
                                   src["institutions"])
            lent = sum(i.repo_lending for i in insts)
            if lent > held["repo"].sum() * (1 + 1e-12):
                problems.append(Problem(
                    "FS108", f"{src['institutions']}, field repo_lending",
                    f"the institutions lend {lent:g} in repo but borrow only {held['repo'].sum():g}: lending in the "
                    "tri-party market cannot exceed the repo borrowed; lower repo_lending or add repo to holdings"))
            margin0 = per_institution(held["initial_margin"] * np.abs(held["derivative"]))
            problems += [
                Problem("FS107", f"{src['institutions']} row {i + 1} ({inst.name}), field cash",
                        f"cash {cash[i]:g} cannot cover the initial margin of {margin0[i]:g} its derivatives need at "
                        "t0: raise its cash (initial margin is posted out of cash)")
                for i, inst in enumerate(insts) if margin0[i] - cash[i] > 1e-12 * cash[i]
            ]
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
                equity = cash + per_institution(held["quantity"]) - per_institution(held["repo"]) + np.array(
                    [i.repo_lending - i.liabilities for i in insts])
                nav = np.array([e / i.shares if i.shares is not None else 1.0 for e, i in zip(equity, insts)])
            problems += [
                Problem("FS111", f"{src['institutions']} row {i + 1} ({inst.name}), field shares",
                        f"shares = {inst.shares:g} gives a NAV per share of {nav[i]:g}, beyond any number the "
                        "engine can carry: give the shares outstanding in the same unit as the amounts (or leave "
                        "shares empty for a NAV of 1 at t0)")
                for i, inst in enumerate(insts) if not (np.isfinite(nav[i]) and abs(nav[i]) < 1e12)
            ]
        if problems:
            raise DataError(problems)
        shape = (len(insts), len(asts))
        if sparse is None:
            sparse = prefer_sparse(*shape, held["institution"].size)

        def matrix(column: str, fill: float = 0.0) -> Matrix:
            return from_triplets(held["institution"], held["asset"], held[column], shape, sparse, fill)

        return cls(name, insts, asts, matrix("quantity"), matrix("trading_fraction", fill=1.0), corr,
                   currency=currency, description=description, repo=matrix("repo"),
                   derivative=matrix("derivative"), initial_margin=matrix("initial_margin"),
                   market_share=None if shares is None else from_triplets(*shares, shape, True), sparse=sparse)

    # ------------------------------------------------------------------ views
    @property
    def n_institutions(self) -> int:
        return len(self.institutions)

    @property
    def n_assets(self) -> int:
        return len(self.assets)

    @property
    def institution_names(self) -> list[str]:
        return [i.name for i in self.institutions]

    @property
    def asset_names(self) -> list[str]:
        return [a.name for a in self.assets]

    @property
    def cash0(self) -> np.ndarray:
        return np.array([i.cash for i in self.institutions], dtype=float)

    @property
    def liabilities0(self) -> np.ndarray:
        return np.array([i.liabilities for i in self.institutions], dtype=float)

    @property
    def lending0(self) -> np.ndarray:
        """Repo lending per institution at t0, shape (N,)."""
        return np.array([i.repo_lending for i in self.institutions], dtype=float)

    @property
    def total_assets0(self) -> np.ndarray:
        return self.cash0 + self.lending0 + row_sums(self.holdings)

    @property
    def repo0(self) -> np.ndarray:
        """Repo borrowing per institution at t0, shape (N,)."""
        return row_sums(self.repo)

    @property
    def levered0(self) -> np.ndarray:
        """Which institutions are levered at t0, shape (N,) bool: liabilities other than
        repo, repo borrowing, or a derivative position (any nonzero notional). Their equity
        is capital that can fail; the others' losses are their investors' mark-to-market."""
        return (self.liabilities0 > 0) | (self.repo0 > 0) | (np.asarray(row_sums(abs(self.derivative))) > 0)

    @property
    def equity0(self) -> np.ndarray:
        return self.total_assets0 - self.liabilities0 - self.repo0

    @property
    def positions(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows and columns of every position: held, on repo or carrying a derivative
        (row-major). The holdings table has one row for each."""
        return self._positions

    def converted(self, sparse: bool) -> System:
        """The same system with its (N, K) matrices as CSR (``sparse=True``) or numpy arrays."""
        return System(self.name, self.institutions, self.assets, self.holdings, self.trading_fraction,
                      self.correlation, currency=self.currency, description=self.description, repo=self.repo,
                      derivative=self.derivative, initial_margin=self.initial_margin,
                      market_share=self.market_share, sparse=sparse)

    def default_market_share(self) -> Matrix:
        """Market shares without a ``market_shares`` table: by t0 total assets among the
        dealers holding each asset (all dealers where none does)."""
        return _market_share(self, None)

    def institution_index(self, name: str) -> int:
        """Position of an institution, with the valid names in the error."""
        return _index(self.institution_names, name, "institution")

    def asset_index(self, name: str) -> int:
        """Position of an asset, with the valid names in the error."""
        return _index(self.asset_names, name, "asset")

    def __repr__(self) -> str:
        return (
            f"<System {self.name!r}: {self.n_institutions} institutions, {self.n_assets} assets, "
            f"{count_nonzero(self.holdings)} holdings, {self.currency}{', sparse' if self.sparse else ''}>"
        )


def _insolvent(
    insts: Sequence[Institution], cash: np.ndarray, holdings: np.ndarray, repo: np.ndarray, source: str
) -> list[Problem]:
    """Institutions with equity at or below 0 at t0, given their holdings and repo totals (N,)."""
    out = []
    for i, inst in enumerate(insts):
        held = float(holdings[i]) + inst.repo_lending
        loans = float(repo[i])
        equity = cash[i] + held - inst.liabilities - loans
        if equity <= 0:
            out.append(Problem(
                "FS105", f"{source} row {i + 1} ({inst.name}), field liabilities",
                f"insolvent at t0: equity is {equity:.6g} (cash {cash[i]:.6g} + holdings {held:.6g} - liabilities "
                f"{inst.liabilities:.6g} - repo {loans:.6g}); an institution must start with positive equity: "
                "lower its liabilities or raise its cash or holdings",
            ))
    return out


def _index(names: list[str], name: str, what: str) -> int:
    try:
        return names.index(name)
    except ValueError:
        shown = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")
        raise DataError(Problem(
            "FS110", f"{what} {name!r}",
            f"unknown {what}.{did_you_mean(name, names)} Known {what}s: {shown}. Use one of these names",
        )) from None


def _duplicates(names: list[Any], source: str, what: str) -> list[Problem]:
    seen: dict[Any, int] = {}
    out = []
    for i, n in enumerate(names):
        if n is None:
            continue
        key = str(n)
        if key in seen:
            out.append(Problem("FS103", f"{source} row {i + 1} ({n}), field name",
                               f"duplicate {what} name {n!r} (first at row {seen[key] + 1}): names must be unique; "
                               "rename or remove one of the rows"))
        else:
            seen[key] = i
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    except OverflowError:  # an integer beyond any float: infinite for our purposes
        return math.inf if value > 0 else -math.inf
    return out


def _bad_number(value: Any, what: str) -> str:
    """Message for a cell that is not a finite number."""
    number = _number(value)
    if number is not None and math.isnan(number):
        return (f"got {value!r}: NaN is not a value; fill in {what} "
                "(an empty cell in an optional column means 'not set' and takes the default)")
    if number is not None:
        return f"got {value!r}: infinite values are not allowed here; fill in {what}"
    return f"got {value!r}: is not a number; fill in {what}"


_HOLDING_COLUMNS = ("institution", "asset", "quantity", "trading_fraction", "repo", "derivative", "initial_margin")
_CORRELATION_COLUMNS = ("asset_a", "asset_b", "correlation")


def _unknown_columns(row: Mapping[str, Any], label: str, known: Sequence[str], what: str) -> list[Problem]:
    return [
        Problem("FS104" if what == "holdings" else "FS106", f"{label}, field {extra}",
                f"is not a known {what} column.{did_you_mean(extra, known)} Known: {', '.join(known)}; "
                "rename or remove it")
        for extra in sorted(set(row) - set(known))
    ]


def _holdings(
    rows: Sequence[Mapping[str, Any]], inst_index: Mapping[str, int], asset_index: Mapping[str, int], source: str,
    haircuts: Sequence[float] | None = None,
) -> tuple[dict[str, np.ndarray], list[Problem]]:
    """The valid holdings rows as columns: ``institution`` and ``asset`` (positions),
    ``quantity``, ``trading_fraction``, ``repo``, ``derivative`` and ``initial_margin``."""
    columns: dict[str, list] = {c: [] for c in _HOLDING_COLUMNS}
    problems: list[Problem] = []
    seen: dict[tuple[int, int], int] = {}
    for r, row in enumerate(rows):
        label = f"{source} row {r + 1}"
        present = {c: row.get(c) for c in _HOLDING_COLUMNS if row.get(c) is not None}
        if "institution" in present and "asset" in present:
            label += f" ({present['institution']}, {present['asset']})"
        problems += _unknown_columns(row, label, _HOLDING_COLUMNS, "holdings")
        for col in ("institution", "asset", "quantity"):
            if col not in present:
                problems.append(Problem("FS104", f"{label}, field {col}", "is missing: fill in a value (required)"))
        inst, asset = str(present.get("institution")), str(present.get("asset"))
        i, k = inst_index.get(inst), asset_index.get(asset)
        if "institution" in present and i is None:
            problems.append(Problem("FS104", f"{label}, field institution",
                                    f"unknown institution {inst!r}.{did_you_mean(inst, inst_index)} "
                                    "Add it to the institutions table or fix the name"))
        if "asset" in present and k is None:
            problems.append(Problem("FS104", f"{label}, field asset",
                                    f"unknown asset {asset!r}.{did_you_mean(asset, asset_index)} "
                                    "Add it to the assets table or fix the name"))
        quantity = None
        if "quantity" in present:
            quantity = _number(present["quantity"])
            if quantity is None or not math.isfinite(quantity):
                problems.append(Problem("FS104", f"{label}, field quantity",
                                        _bad_number(present["quantity"], "a finite quantity, at least 0")))
                quantity = None
            elif quantity < 0:
                problems.append(Problem("FS104", f"{label}, field quantity",
                                        f"got {present['quantity']!r}: negative holdings are not allowed; "
                                        "the quantity must be at least 0 (model a short position as a liability)"))
                quantity = None
        frac = 1.0
        if "trading_fraction" in present:
            frac = _number(present["trading_fraction"])
            if frac is None or not math.isfinite(frac):
                problems.append(Problem("FS104", f"{label}, field trading_fraction",
                                        _bad_number(present["trading_fraction"], "a fraction in [0, 1]")))
                frac = None
            elif not 0.0 <= frac <= 1.0:
                hint = (f" Ratios are fractions, not percent: write {frac / 100:g}" if 1 < frac <= 100
                        else " Fill in a fraction in [0, 1]")
                problems.append(Problem("FS104", f"{label}, field trading_fraction",
                                        f"got {present['trading_fraction']!r}: must be in [0, 1].{hint}"))
                frac = None
        loan = 0.0
        if "repo" in present:
            loan = _number(present["repo"])
            if loan is None or not math.isfinite(loan) or loan < 0:
                problems.append(Problem("FS104", f"{label}, field repo",
                                        _bad_number(present["repo"], "a repo loan of at least 0")))
                loan = None
            elif quantity is not None and k is not None and haircuts is not None and k < len(haircuts):
                room = (1.0 - haircuts[k]) * quantity
                if loan > room * (1 + 1e-12):
                    what = "its collateral's value" if loan > quantity else "what the haircut allows"
                    problems.append(Problem("FS104", f"{label}, field repo",
                                            f"repo = {loan:g} is above {what}: at most {room:g} = (1 - haircut "
                                            f"{haircuts[k]:g}) x quantity {quantity:g}; lower the loan"))
                    loan = None
        notional = 0.0
        if "derivative" in present:
            notional = _number(present["derivative"])
            if notional is None or not math.isfinite(notional):
                problems.append(Problem("FS104", f"{label}, field derivative",
                                        _bad_number(present["derivative"], "a finite signed notional")))
                notional = None
        im_rate = 0.0
        if "initial_margin" in present:
            im_rate = _number(present["initial_margin"])
            if im_rate is None or not math.isfinite(im_rate) or not 0.0 <= im_rate < 1.0:
                problems.append(Problem("FS104", f"{label}, field initial_margin",
                                        _bad_number(present["initial_margin"], "a fraction in [0, 1)")))
                im_rate = None
        if i is None or k is None or quantity is None or frac is None or loan is None or notional is None \
                or im_rate is None:
            continue
        if (i, k) in seen:
            problems.append(Problem("FS104", f"{label}, fields institution/asset",
                                    f"duplicate holding of {asset!r} by {inst!r} (first at row {seen[(i, k)] + 1}): "
                                    "merge the rows into one"))
            continue
        seen[(i, k)] = r
        for column, value in zip(_HOLDING_COLUMNS, (i, k, quantity, frac, loan, notional, im_rate)):
            columns[column].append(value)
    return {c: np.array(v, dtype=np.int64 if c in ("institution", "asset") else float)
            for c, v in columns.items()}, problems


def _correlations(
    rows: Sequence[Mapping[str, Any]], asset_index: Mapping[str, int], source: str
) -> tuple[np.ndarray, list[Problem]]:
    n = max(asset_index.values(), default=-1) + 1
    corr = np.eye(n)
    problems: list[Problem] = []
    seen: dict[tuple[int, int], int] = {}
    for r, row in enumerate(rows):
        label = f"{source} row {r + 1}"
        before = len(problems)
        problems += _unknown_columns(row, label, _CORRELATION_COLUMNS, "correlations")
        idx = {}
        for col in ("asset_a", "asset_b"):
            value = row.get(col)
            if value is None:
                problems.append(Problem("FS106", f"{label}, field {col}", "is missing: fill in an asset name"))
            elif str(value) not in asset_index:
                problems.append(Problem("FS106", f"{label}, field {col}",
                                        f"unknown asset {value!r}.{did_you_mean(value, asset_index)} "
                                        "Add it to the assets table or fix the name"))
            else:
                idx[col] = asset_index[str(value)]
        raw = row.get("correlation")
        rho = _number(raw)
        if raw is None:
            problems.append(Problem("FS106", f"{label}, field correlation", "is missing: fill in a value in [-1, 1]"))
        elif rho is None or not math.isfinite(rho):
            problems.append(Problem("FS106", f"{label}, field correlation", _bad_number(raw, "a value in [-1, 1]")))
        elif not -1.0 <= rho <= 1.0:
            problems.append(Problem("FS106", f"{label}, field correlation",
                                    f"got {raw!r}: a correlation lies in [-1, 1]; fix the value"))
        if len(problems) > before:
            continue
        a, b = idx["asset_a"], idx["asset_b"]
        if a == b and rho != 1.0:
            problems.append(Problem("FS106", f"{label}, field correlation",
                                    f"got {raw!r} for {row['asset_a']!r} with itself: an asset's correlation "
                                    "with itself is 1; remove the row"))
            continue
        pair = (min(a, b), max(a, b))
        if pair in seen:
            problems.append(Problem("FS106", f"{label}, fields asset_a/asset_b",
                                    f"duplicate pair ({row['asset_a']!r}, {row['asset_b']!r}) (first at row "
                                    f"{seen[pair] + 1}): keep one row per pair"))
            continue
        seen[pair] = r
        corr[a, b] = corr[b, a] = rho
    if not problems and n:
        smallest = float(np.linalg.eigvalsh(corr).min())
        if smallest < -1e-10:
            problems.append(Problem(
                "FS106", source,
                f"invalid correlation matrix: not positive semi-definite (smallest eigenvalue {smallest:.3g}); "
                "the pairwise values contradict each other: make them consistent (e.g. if a~b and b~c are "
                "both high, a~c cannot be strongly negative)",
            ))
    return corr, problems


_MARKET_SHARE_COLUMNS = ("institution", "asset", "share")


def _market_shares(
    rows: Sequence[Mapping[str, Any]], inst_index: Mapping[str, int], asset_index: Mapping[str, int],
    dealers: set[Any] | None, source: str,
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray] | None, list[Problem]]:
    """Market shares from the table as (institutions, assets, shares) of its rows; ``None``
    without rows. The assets listed take these shares, the others the default."""
    given: dict[tuple[int, int], float] = {}
    problems: list[Problem] = []
    seen: dict[tuple[int, int], int] = {}
    first_row: dict[int, int] = {}
    for r, row in enumerate(rows):
        label = f"{source} row {r + 1}"
        before = len(problems)
        problems += _unknown_columns(row, label, _MARKET_SHARE_COLUMNS, "market_shares")
        inst, asset, raw = row.get("institution"), row.get("asset"), row.get("share")
        for col, value in (("institution", inst), ("asset", asset), ("share", raw)):
            if value is None:
                problems.append(Problem("FS109", f"{label}, field {col}", "is missing: fill in a value (required)"))
        i = inst_index.get(str(inst)) if inst is not None else None
        j = asset_index.get(str(asset)) if asset is not None else None
        if inst is not None and i is None:
            problems.append(Problem("FS109", f"{label}, field institution",
                                    f"unknown institution {inst!r}.{did_you_mean(inst, inst_index)} "
                                    "Add it to the institutions table or fix the name"))
        elif i is not None and dealers is not None and inst not in dealers:
            problems.append(Problem("FS109", f"{label}, field institution",
                                    f"{inst!r} is not a dealer: client flow reaches dealers only; set its type to "
                                    "'dealer' or remove the row"))
        if asset is not None and j is None:
            problems.append(Problem("FS109", f"{label}, field asset",
                                    f"unknown asset {asset!r}.{did_you_mean(asset, asset_index)} "
                                    "Add it to the assets table or fix the name"))
        value = _number(raw)
        if raw is not None and (value is None or not math.isfinite(value)):
            problems.append(Problem("FS109", f"{label}, field share", _bad_number(raw, "a share in [0, 1]")))
        elif value is not None and not 0.0 <= value <= 1.0:
            problems.append(Problem("FS109", f"{label}, field share",
                                    f"got {raw!r}: a market share lies in [0, 1]; fix the value"))
        if len(problems) > before:
            continue
        if (i, j) in seen:
            problems.append(Problem("FS109", f"{label}, fields institution/asset",
                                    f"duplicate ({inst!r}, {asset!r}) (first at row {seen[(i, j)] + 1}): keep one "
                                    "row per dealer and asset"))
            continue
        seen[(i, j)] = r
        first_row.setdefault(j, r)
        given[(i, j)] = value
    if not problems:
        names = {v: key for key, v in asset_index.items()}
        totals: dict[int, float] = {}
        for (_, j), value in given.items():
            totals[j] = totals.get(j, 0.0) + value
        for j in sorted(first_row):
            total = totals[j]
            if abs(total - 1.0) > 1e-6:
                problems.append(Problem(
                    "FS109", f"{source} row {first_row[j] + 1}, field share",
                    f"the market shares of asset {names[j]!r} sum to {total:.6g}, not 1: client flow in an asset "
                    "is split among its dealers; rescale them to sum to 1"))
    if not given:
        return None, problems
    (rows, cols), shares = zip(*given), given.values()
    return (np.array(rows), np.array(cols), np.array(list(shares), dtype=float)), problems


def _in_form(matrix: Matrix | None, shape: tuple[int, int], sparse: bool, fill: float = 0.0,
             pattern: tuple[np.ndarray, np.ndarray] | None = None) -> Matrix:
    """``matrix`` (dense or CSR; ``None`` is all ``fill``) in the system's form. CSR keeps
    the values at ``pattern`` only, when given (a dense ``fill`` elsewhere has no meaning)."""
    if matrix is None:
        return sp.csr_array(shape, dtype=float) if sparse else np.full(shape, fill)
    if sp.issparse(matrix):
        coo = sp.coo_array(matrix, dtype=float)
        if sparse:
            return from_triplets(coo.row, coo.col, coo.data, shape, True)
        out = np.full(shape, fill)
        out[coo.row, coo.col] = coo.data
        return out
    matrix = np.asarray(matrix, dtype=float)
    if not sparse:
        return matrix
    if pattern is None:
        pattern = np.nonzero(matrix)
    return from_triplets(pattern[0], pattern[1], matrix[pattern], shape, True)


def _position_pattern(*matrices: Matrix) -> tuple[np.ndarray, np.ndarray]:
    """Positions (rows, columns) non-zero in any of the matrices, row-major."""
    n_cols = matrices[0].shape[1]
    codes = np.unique(np.concatenate([r * n_cols + c for r, c, _ in map(triplets, matrices)]))
    return codes // n_cols, codes % n_cols


def _market_share(system: System, given: Matrix | None) -> Matrix:
    """Market shares of dealers (system form).

    A column the ``given`` matrix lists (dense: not all NaN; CSR: any stored entry) takes
    its values (unlisted dealers 0). Any other column is split by t0 total assets among
    the dealers that hold the asset (a dealer makes markets in what it holds), or among
    all dealers where no dealer holds it; non-tradable assets get none."""
    n, k = system.n_institutions, system.n_assets
    dealer = np.array([i.type == "dealer" for i in system.institutions], dtype=bool)
    size = np.where(dealer, system.total_assets0, 0.0)
    tradable = np.array([a.is_tradable for a in system.assets], dtype=bool)
    rows, cols, quantity = triplets(system.holdings)
    held = dealer[rows] & (quantity > 0)
    rows, cols = rows[held], cols[held]
    unheld = np.flatnonzero(np.bincount(cols, minlength=k) == 0)
    members = np.flatnonzero(dealer)
    rows = np.concatenate([rows, np.repeat(members, unheld.size)])
    cols = np.concatenate([cols, np.tile(unheld, members.size)])
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    weight = size[rows]
    total = np.bincount(cols, weights=weight, minlength=k)[cols]
    share = np.divide(weight, total, out=np.zeros_like(weight), where=total > 0) * tradable[cols]
    if given is not None:
        if sp.issparse(given):
            coo = sp.coo_array(given, dtype=float)
            listed = np.bincount(coo.col, minlength=k) > 0
            g_rows, g_cols, g_share = coo.row, coo.col, coo.data
        else:
            given = np.asarray(given, dtype=float)
            listed = ~np.isnan(given).all(axis=0)
            g_rows, g_cols = np.nonzero(np.nan_to_num(given) * listed)
            g_share = given[g_rows, g_cols]
        keep = ~listed[cols]
        rows, cols = np.concatenate([rows[keep], g_rows]), np.concatenate([cols[keep], g_cols])
        share = np.concatenate([share[keep], g_share])
    return from_triplets(rows, cols, share, (n, k), system.sparse)
