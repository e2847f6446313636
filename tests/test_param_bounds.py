"""Constraints as data (the scikit-learn way): break every numeric bound of every
validated model and check the error names the table or section, the field and the value."""

import annotated_types
import pytest

from firesale.channels.impact import MarketParams
from firesale.channels.volatility import VolatilityParams
from firesale.errors import FiresaleError
from firesale.scenario import Scenario, parse_scenario
from firesale.system import Asset, Institution, System

INSTITUTION = {"name": "d", "liabilities": 90.0}
ASSET = {"name": "a", "class": "corporate_ig", "sigma0": 0.01, "adv": 10.0}
HOLDING = {"institution": "d", "asset": "a", "quantity": 100.0}


def _violations(model):
    """(field, bad value) for every bound of every field of a pydantic model."""
    for name, field in model.model_fields.items():
        for meta in field.metadata:
            if isinstance(meta, annotated_types.Ge):
                yield field.alias or name, meta.ge - 0.5
            elif isinstance(meta, annotated_types.Gt):
                yield field.alias or name, meta.gt - 0.5
            elif isinstance(meta, annotated_types.Le):
                yield field.alias or name, meta.le + 0.5
            elif isinstance(meta, annotated_types.Lt):
                yield field.alias or name, meta.lt + 0.5


CASES = (
    [("institutions", f, v) for f, v in _violations(Institution)]
    + [("assets", f, v) for f, v in _violations(Asset)]
    + [("market", f, v) for f, v in _violations(MarketParams)]
    + [("volatility", f, v) for f, v in _violations(VolatilityParams)]
    + [("scenario", f, v) for f, v in _violations(Scenario)]
)


def test_every_model_has_bounds_to_break():
    tables = {table for table, _, _ in CASES}
    assert tables == {"institutions", "assets", "market", "volatility", "scenario"}
    assert len(CASES) >= 25


@pytest.mark.parametrize(("table", "field", "value"), CASES, ids=[f"{t}.{f}" for t, f, _ in CASES])
def test_out_of_range_value_is_named(table, field, value):
    if table in ("institutions", "assets"):
        inst, asset = dict(INSTITUTION), dict(ASSET)
        (inst if table == "institutions" else asset)[field] = value
        with pytest.raises(FiresaleError) as info:
            System.from_records([inst], [asset], [HOLDING], sources={table: f"{table}.csv"})
        where = f"{table}.csv row 1"
    else:
        data = {field: value} if table == "scenario" else {table: {field: value}}
        with pytest.raises(FiresaleError) as info:
            parse_scenario(data, source="scenario.toml")
        where = "scenario.toml"
    text = str(info.value)
    assert where in text, text
    assert field in text, text
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    assert shown in text or repr(value) in text, text
