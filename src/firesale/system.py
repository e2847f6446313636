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
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from firesale.errors import DataError, Problem

__all__ = [
    "Institution",
    "Asset",
    "System",
    "INSTITUTION_TYPES",
    "ASSET_CLASSES",
    "LIQUIDATION_POLICIES",
    "IMPACT_LAWS",
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
IMPACT_LAWS = ("linear", "exponential", "sqrt")

_RATIO = {"ge": 0.0, "le": 1.0, "allow_inf_nan": False}


def _unit(unit: str) -> dict[str, Any]:
    return {"unit": unit}


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Institution(_Row):
    """One institution: its balance sheet outside the holdings table and its constraints.

    Every ratio constraint has three levels (DESIGN §2 step 3): below ``*_minimum`` the
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
        json_schema_extra=_unit("fraction"),
    )
    slr_trigger: float | None = Field(
        None, **_RATIO, description="SLR (Tier 1 / exposure) below which it shrinks.",
        json_schema_extra=_unit("fraction"),
    )
    slr_target: float | None = Field(
        None, **_RATIO, description="SLR it restores by selling.", json_schema_extra=_unit("fraction")
    )
    leverage_minimum: float | None = Field(
        None, **_RATIO, description="Equity / total assets below which it defaults.",
        json_schema_extra=_unit("fraction"),
    )
    leverage_trigger: float | None = Field(
        None, **_RATIO, description="Equity / total assets below which it delevers.",
        json_schema_extra=_unit("fraction"),
    )
    leverage_target: float | None = Field(
        None, **_RATIO, description="Equity / total assets it restores.",
        json_schema_extra=_unit("fraction"),
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
        json_schema_extra=_unit("fraction"),
    )
    liquidation: Literal[LIQUIDATION_POLICIES] = Field(  # type: ignore[valid-type]
        "pecking_order",
        description="How a sale is spread over assets: most liquid first, pro rata, or by t0 weights.",
        json_schema_extra=_unit("-"),
    )
    repay_with_cash: bool = Field(
        False, description="Use cash to repay debt before selling assets.", json_schema_extra=_unit("-")
    )

    @model_validator(mode="after")
    def _levels_ordered(self) -> Institution:
        for ratio in ("slr", "leverage"):
            minimum, trigger, target = (getattr(self, f"{ratio}_{lvl}") for lvl in ("minimum", "trigger", "target"))
            if target is not None and trigger is None:
                raise ValueError(f"{ratio}_target is set but {ratio}_trigger is empty: set both")
            if trigger is not None and target is not None and target < trigger:
                raise ValueError(
                    f"{ratio}_target = {target} is below {ratio}_trigger = {trigger}: "
                    "the target must be at least the trigger"
                )
            if minimum is not None:
                for level, value in (("trigger", trigger), ("target", target)):
                    if value is not None and value < minimum:
                        raise ValueError(
                            f"{ratio}_{level} = {value} is below {ratio}_minimum = {minimum}: "
                            f"raise {ratio}_{level} or lower the minimum"
                        )
        return self

    def level(self, ratio: str, which: str) -> float:
        """Constraint level as a float, NaN when the constraint does not bind."""
        value = getattr(self, f"{ratio}_{which}")
        if which == "target" and value is None:
            value = getattr(self, f"{ratio}_trigger")
        return math.nan if value is None else float(value)


class Asset(_Row):
    """One asset: its class, risk, market depth and impact law, haircut and SLR treatment.

    Price impact (DESIGN §2 step 4) is measured in units of the t0 price from the
    cumulative value sold ``Q``: linear ``Q/D``; exponential ``(1 - f)(1 - exp(-Q/((1 - f)D)))``
    (Cont-Schaanning 2017, floor ``f``); square root ``sigma0 · kappa · sqrt(Q/adv)``
    (Breuer-Summer-Urosevic). ``depth = inf`` is a market no sale moves.
    """

    name: str = Field(min_length=1, description="Unique name.", json_schema_extra=_unit("-"))
    asset_class: Literal[ASSET_CLASSES] = Field(  # type: ignore[valid-type]
        alias="class", description="Asset class.", json_schema_extra=_unit("-")
    )
    sigma0: float = Field(
        gt=0.0, allow_inf_nan=False, description="Daily volatility of returns at t0.",
        json_schema_extra=_unit("fraction/day"),
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
        json_schema_extra=_unit("-"),
    )
    haircut: float = Field(0.0, **_RATIO, description="Base repo haircut.", json_schema_extra=_unit("fraction"))
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

    @model_validator(mode="after")
    def _sqrt_needs_volume(self) -> Asset:
        if self.impact == "sqrt" and self.adv <= 0:
            raise ValueError("impact = 'sqrt' needs adv > 0 (the square-root law divides by volume)")
        return self

    @property
    def is_slr_exempt(self) -> bool:
        return self.slr_exempt if self.slr_exempt is not None else self.asset_class in ("reserves", "treasury")

    @property
    def is_tradable(self) -> bool:
        return self.tradable if self.tradable is not None else self.asset_class != "other"

    @property
    def rank(self) -> int:
        return self.liquidity_rank if self.liquidity_rank is not None else ASSET_CLASSES.index(self.asset_class)


def _row_problems(
    model: type[_Row], rows: Sequence[Mapping[str, Any]], source: str, code: str
) -> tuple[list[Any], list[Problem]]:
    parsed: list[Any] = []
    problems: list[Problem] = []
    for i, row in enumerate(rows):
        label = f"{source} row {i + 1}"
        if row.get("name"):
            label += f" ({row['name']})"
        clean = {k: v for k, v in row.items() if v is not None}
        try:
            parsed.append(model.model_validate(clean))
        except ValidationError as err:
            for e in err.errors():
                field = ".".join(str(x) for x in e["loc"]) or "row"
                problems.append(Problem(code, f"{label}, field {field}", _explain(e)))
    return parsed, problems


def _explain(error: Mapping[str, Any]) -> str:
    msg = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "missing":
        return "is missing: add this column or field"
    if error["type"] == "extra_forbidden":
        return "is not a known field: check its spelling (see `firesale validate --schema`)"
    value = error.get("input")
    text = f"got {value!r}: {msg}"
    if error["type"] == "finite_number":
        text = f"got {value!r}: NaN or infinite values are not allowed; fill in a number"
    elif error["type"] in ("less_than_equal", "less_than") and isinstance(value, (int, float)) and value > 1:
        ctx = error.get("ctx", {})
        if ctx.get("le") == 1.0:
            text += f". Ratios are fractions: write {value / 100:g}"
    return text


class System:
    """A validated system of institutions and assets, with its array view.

    Build it with :meth:`from_records` (or a loader of :mod:`firesale.data`), which
    validates everything and raises :class:`~firesale.errors.DataError` listing every
    problem with its table, row and field.

    Attributes
    ----------
    institutions : list of Institution, length N
    assets : list of Asset, length K
    holdings : ndarray, shape (N, K)
        Quantity held; prices start at 1, so this is the t0 book value (currency).
    trading_fraction : ndarray, shape (N, K)
        Share of each position held in the trading book (VaR applies to it).
    correlation : ndarray, shape (K, K)
        Correlation of daily returns, used by VaR.
    currency : str
        The unit of every amount.
    """

    def __init__(
        self,
        name: str,
        institutions: list[Institution],
        assets: list[Asset],
        holdings: np.ndarray,
        trading_fraction: np.ndarray,
        correlation: np.ndarray,
        currency: str = "currency",
        description: str = "",
    ) -> None:
        self.name = name
        self.description = description
        self.currency = currency
        self.institutions = list(institutions)
        self.assets = list(assets)
        self.holdings = np.asarray(holdings, dtype=float)
        self.trading_fraction = np.asarray(trading_fraction, dtype=float)
        self.correlation = np.asarray(correlation, dtype=float)
        for arr in (self.holdings, self.trading_fraction, self.correlation):
            arr.setflags(write=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_records(
        cls,
        institutions: Sequence[Mapping[str, Any]],
        assets: Sequence[Mapping[str, Any]],
        holdings: Sequence[Mapping[str, Any]],
        correlations: Sequence[Mapping[str, Any]] = (),
        *,
        name: str = "system",
        currency: str = "currency",
        description: str = "",
        sources: Mapping[str, str] | None = None,
    ) -> System:
        """Validate tables given as records (one mapping per row) and build a System.

        Parameters
        ----------
        institutions, assets, holdings, correlations : sequence of mapping
            One mapping per row; columns as in :func:`firesale.schema.table_schema`.
            Holdings rows: ``institution``, ``asset``, ``quantity`` and optionally
            ``trading_fraction``. Correlation rows: ``asset_a``, ``asset_b``, ``correlation``.
        sources : mapping, optional
            Label of each table in messages (file name), e.g. ``{"holdings": "holdings.csv"}``.

        Raises
        ------
        DataError
            Listing every problem found, each with table, row and field.
        """
        src = {t: t for t in ("institutions", "assets", "holdings", "correlations")}
        src.update(sources or {})
        problems: list[Problem] = []
        insts, p = _row_problems(Institution, institutions, src["institutions"], "FS101")
        problems += p
        asts, p = _row_problems(Asset, assets, src["assets"], "FS102")
        problems += p
        if not institutions:
            problems.append(Problem("FS100", src["institutions"], "the system has no institutions: add at least one row"))
        if not assets:
            problems.append(Problem("FS100", src["assets"], "the system has no assets: add at least one row"))
        problems += _duplicates([r.get("name") for r in institutions], src["institutions"], "institution")
        problems += _duplicates([r.get("name") for r in assets], src["assets"], "asset")
        inst_index = {str(r.get("name")): i for i, r in enumerate(institutions)}
        asset_index = {str(r.get("name")): k for k, r in enumerate(assets)}
        q, trading, p = _holdings(holdings, inst_index, asset_index, src["holdings"])
        problems += p
        corr, p = _correlations(correlations, asset_index, src["correlations"])
        problems += p
        if problems:
            raise DataError(problems)
        system = cls(name, insts, asts, q, trading, corr, currency=currency, description=description)
        system._check_solvent_at_start(src["institutions"])
        return system

    def _check_solvent_at_start(self, source: str) -> None:
        equity = self.equity0
        bad = [
            Problem(
                "FS105", f"{source} ({inst.name})",
                f"equity at t0 is {equity[i]:.6g} (assets {self.total_assets0[i]:.6g} - liabilities "
                f"{inst.liabilities:.6g}); an institution must start solvent: lower its liabilities",
            )
            for i, inst in enumerate(self.institutions)
            if equity[i] <= 0
        ]
        if bad:
            raise DataError(bad)

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
    def total_assets0(self) -> np.ndarray:
        return self.cash0 + self.holdings.sum(axis=1)

    @property
    def equity0(self) -> np.ndarray:
        return self.total_assets0 - self.liabilities0

    def institution_index(self, name: str) -> int:
        """Position of an institution, with the valid names in the error."""
        return _index(self.institution_names, name, "institution")

    def asset_index(self, name: str) -> int:
        """Position of an asset, with the valid names in the error."""
        return _index(self.asset_names, name, "asset")

    def __repr__(self) -> str:
        return (
            f"<System {self.name!r}: {self.n_institutions} institutions, {self.n_assets} assets, "
            f"{np.count_nonzero(self.holdings)} holdings, {self.currency}>"
        )


def _index(names: list[str], name: str, what: str) -> int:
    try:
        return names.index(name)
    except ValueError:
        import difflib

        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        shown = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")
        raise DataError(Problem("FS110", f"{what} {name!r}", f"unknown {what}.{hint} Known: {shown}")) from None


def _duplicates(names: list[Any], source: str, what: str) -> list[Problem]:
    seen: dict[Any, int] = {}
    out = []
    for i, n in enumerate(names):
        if n is None:
            continue
        if n in seen:
            out.append(Problem("FS103", f"{source} row {i + 1}, field name",
                               f"duplicate {what} name {n!r} (first at row {seen[n] + 1}): names must be unique"))
        else:
            seen[n] = i
    return out


def _number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out


def _holdings(
    rows: Sequence[Mapping[str, Any]], inst_index: Mapping[str, int], asset_index: Mapping[str, int], source: str
) -> tuple[np.ndarray, np.ndarray, list[Problem]]:
    q = np.zeros((len(inst_index), len(asset_index)))
    trading = np.ones_like(q)
    problems: list[Problem] = []
    seen: dict[tuple[int, int], int] = {}
    allowed = {"institution", "asset", "quantity", "trading_fraction"}
    for r, row in enumerate(rows):
        label = f"{source} row {r + 1}"
        for extra in sorted(set(row) - allowed):
            problems.append(Problem("FS104", f"{label}, field {extra}",
                                    f"is not a known holdings column (known: {', '.join(sorted(allowed))})"))
        for col in ("institution", "asset", "quantity"):
            if col not in row or row[col] is None:
                problems.append(Problem("FS104", f"{label}, field {col}", "is missing: add this column or value"))
        inst, asset = str(row.get("institution")), str(row.get("asset"))
        i, k = inst_index.get(inst), asset_index.get(asset)
        if "institution" in row and i is None:
            problems.append(Problem("FS104", f"{label}, field institution",
                                    f"unknown institution {inst!r}: add it to the institutions table"))
        if "asset" in row and k is None:
            problems.append(Problem("FS104", f"{label}, field asset",
                                    f"unknown asset {asset!r}: add it to the assets table"))
        quantity = _number(row.get("quantity"))
        if "quantity" in row and row["quantity"] is not None:
            if quantity is None or not math.isfinite(quantity):
                problems.append(Problem("FS104", f"{label}, field quantity",
                                        f"got {row['quantity']!r}: quantity must be a finite number"))
                quantity = None
            elif quantity < 0:
                problems.append(Problem("FS104", f"{label}, field quantity",
                                        f"got {quantity:g}: negative holdings are not allowed "
                                        "(model a short position as a liability)"))
                quantity = None
        frac = _number(row.get("trading_fraction", 1.0))
        if frac is None or not (0.0 <= frac <= 1.0):
            problems.append(Problem("FS104", f"{label}, field trading_fraction",
                                    f"got {row.get('trading_fraction')!r}: must be a fraction in [0, 1]"))
            frac = None
        if i is None or k is None or quantity is None or frac is None:
            continue
        if (i, k) in seen:
            problems.append(Problem("FS104", f"{label}", f"duplicate holding of {asset!r} by {inst!r} "
                                    f"(first at row {seen[(i, k)] + 1}): merge the rows"))
            continue
        seen[(i, k)] = r
        q[i, k] = quantity
        trading[i, k] = frac
    return q, trading, problems


def _correlations(
    rows: Sequence[Mapping[str, Any]], asset_index: Mapping[str, int], source: str
) -> tuple[np.ndarray, list[Problem]]:
    n = len(asset_index)
    corr = np.eye(n)
    problems: list[Problem] = []
    for r, row in enumerate(rows):
        label = f"{source} row {r + 1}"
        a, b = asset_index.get(str(row.get("asset_a"))), asset_index.get(str(row.get("asset_b")))
        rho = _number(row.get("correlation"))
        if a is None or b is None:
            problems.append(Problem("FS106", f"{label}, field asset_a/asset_b",
                                    f"unknown asset in pair ({row.get('asset_a')!r}, {row.get('asset_b')!r})"))
            continue
        if rho is None or not math.isfinite(rho) or not -1.0 <= rho <= 1.0:
            problems.append(Problem("FS106", f"{label}, field correlation",
                                    f"got {row.get('correlation')!r}: a correlation lies in [-1, 1]"))
            continue
        if a == b and rho != 1.0:
            problems.append(Problem("FS106", f"{label}, field correlation",
                                    "an asset's correlation with itself is 1"))
            continue
        corr[a, b] = corr[b, a] = rho
    if not problems and n and np.linalg.eigvalsh(corr).min() < -1e-10:
        problems.append(Problem("FS106", source, "the correlation matrix is not positive semi-definite: "
                                "check the pairwise values"))
    return corr, problems
