"""One schema per input table: column, type, unit, default, description, role.

The loaders validate against these schemas (they are read off the pydantic models of
:mod:`firesale.system`), ``firesale validate --schema`` prints them, and the README's
table section is generated from them, so documentation and checks cannot drift.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from firesale.system import Asset, Institution

__all__ = ["TABLES", "table_schema", "required_columns", "schema_markdown", "known_columns"]

_HOLDINGS = [
    {"column": "institution", "type": "str", "unit": "-", "default": None, "role": "Input (required)",
     "description": "Institution name (from the institutions table)."},
    {"column": "asset", "type": "str", "unit": "-", "default": None, "role": "Input (required)",
     "description": "Asset name (from the assets table)."},
    {"column": "quantity", "type": "float", "unit": "currency", "default": None, "role": "Input (required)",
     "description": "Quantity held, at least 0; prices start at 1, so this is the t0 book value."},
    {"column": "trading_fraction", "type": "float", "unit": "fraction", "default": 1.0, "role": "Input (optional)",
     "description": "Share of the position in the trading book (VaR applies to it)."},
    {"column": "repo", "type": "float", "unit": "currency", "default": 0.0, "role": "Input (optional)",
     "description": "Repo borrowing secured on the position, at most (1 - haircut) x quantity."},
    {"column": "derivative", "type": "float", "unit": "currency", "default": 0.0, "role": "Input (optional)",
     "description": "Signed notional of a swap or future on the asset (long > 0); variation margin settles "
                    "notional x price change in cash every round. The position itself may be 0."},
    {"column": "initial_margin", "type": "float", "unit": "fraction", "default": 0.0, "role": "Input (optional)",
     "description": "Initial margin on the derivative, as a share of |notional| at t0 volatility; it scales "
                    "with sigma / sigma0."},
]
_CORRELATIONS = [
    {"column": "asset_a", "type": "str", "unit": "-", "default": None, "role": "Input (required)",
     "description": "First asset of the pair."},
    {"column": "asset_b", "type": "str", "unit": "-", "default": None, "role": "Input (required)",
     "description": "Second asset of the pair."},
    {"column": "correlation", "type": "float", "unit": "-", "default": None, "role": "Input (required)",
     "description": "Correlation of daily returns in [-1, 1]; pairs not listed are 0."},
]

_MARKET_SHARES = [
    {"column": "institution", "type": "str", "unit": "-", "default": None, "role": "Input (required)",
     "description": "A dealer (institution of type 'dealer')."},
    {"column": "asset", "type": "str", "unit": "-", "default": None, "role": "Input (required)",
     "description": "Asset name (from the assets table)."},
    {"column": "share", "type": "float", "unit": "fraction", "default": None, "role": "Input (required)",
     "description": "The dealer's share of client flow in the asset, in [0, 1]; an asset's shares sum to 1. "
                    "Assets not listed are split by t0 total assets among the dealers holding them (all "
                    "dealers where none does)."},
]


def _from_model(model: type[BaseModel]) -> list[dict[str, Any]]:
    rows = []
    for name, field in model.model_fields.items():
        required = field.default is PydanticUndefined and field.default_factory is None
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        annotation = str(field.annotation).replace("typing.", "").replace("<class '", "").replace("'>", "")
        rows.append({
            "column": field.alias or name,
            "type": annotation,
            "unit": extra.get("unit", "-"),
            "default": None if required else field.default,
            "role": "Input (required)" if required else "Input (optional)",
            "description": field.description or "",
            "plausible": tuple(extra["plausible"]) if "plausible" in extra else None,
        })
    return rows


TABLES: dict[str, list[dict[str, Any]]] = {
    "institutions": _from_model(Institution),
    "assets": _from_model(Asset),
    "holdings": [{**c, "plausible": None} for c in _HOLDINGS],
    "correlations": [{**c, "plausible": None} for c in _CORRELATIONS],
    "market_shares": [{**c, "plausible": None} for c in _MARKET_SHARES],
}


def table_schema(table: str) -> list[dict[str, Any]]:
    """Columns of an input table: ``column, type, unit, default, role, description`` and
    ``plausible``, the ``(low, high)`` range (``None``: open) outside which a value read
    from a file is an error unless ``allow_implausible`` (``None``: only the hard bounds)."""
    return TABLES[table]


def required_columns(table: str) -> list[str]:
    """Columns a table must have."""
    return [c["column"] for c in TABLES[table] if c["role"] == "Input (required)"]


def known_columns(table: str) -> list[str]:
    """Every column a table may have (``currency`` aside, which any table may carry)."""
    return [c["column"] for c in TABLES[table]]


def schema_markdown() -> str:
    """The table schemas as Markdown tables (the README's "Tables" section is this text)."""
    out = []
    for table, columns in TABLES.items():
        out += [f"**{table}**", "", "| column | type | unit | default | description |", "|---|---|---|---|---|"]
        for c in columns:
            kind = c["type"].replace("Literal[", "one of ").replace("]", "").replace(" | ", " or ")
            default = "required" if c["role"] == "Input (required)" else ("" if c["default"] is None else c["default"])
            out.append(f"| `{c['column']}` | {kind} | {c['unit']} | {default} | {c['description']} |")
        out.append("")
    return "\n".join(out)
