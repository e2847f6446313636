"""Inputs at the edge of what a float holds give a clear error naming the field, never an
OverflowError or a numpy warning (cases the red-team mutator found, issue 15)."""

import warnings

import pytest

from firesale import System
from firesale.data.preset import load
from firesale.errors import FiresaleError

INSTITUTION = {"name": "fund", "type": "asset_manager", "liabilities": 0.0, "cash": 1.0}
ASSET = {"name": "bonds", "class": "corporate_ig", "sigma0": 0.01, "depth": 1000.0}


def _build(institution=None, quantity=100.0):
    return System.from_records([{**INSTITUTION, **(institution or {})}], [ASSET],
                               [{"institution": "fund", "asset": "bonds", "quantity": quantity}])


def test_an_integer_beyond_any_float_is_an_infinite_value_error():
    with pytest.raises(FiresaleError, match="field quantity.*infinite"):
        _build(quantity=10**400)


def test_max_rounds_beyond_any_float_in_toml_is_a_clear_error(tmp_path):
    text = (tmp_path / "p.toml")
    text.write_text('name = "p"\n[[institutions]]\nname = "fund"\ntype = "asset_manager"\nliabilities = 0.0\n'
                    '[[assets]]\nname = "bonds"\nclass = "corporate_ig"\nsigma0 = 0.01\n'
                    '[[holdings]]\ninstitution = "fund"\nasset = "bonds"\nquantity = 10.0\n'
                    f'[scenario]\nmax_rounds = {10**400}\n')
    with pytest.raises(FiresaleError) as info:
        load(text)
    assert "max_rounds" in str(info.value)


def test_cash_at_the_largest_float_loads_without_overflow():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            _build({"cash": 1.7976931348623157e308})
        except FiresaleError as err:  # implausible, or a clear error: either names the field
            assert "cash" in str(err)


def test_shares_so_small_the_nav_overflows_are_an_error():
    with pytest.raises(FiresaleError, match=r"FS111.*field shares.*NAV per share"):
        _build({"shares": 5e-324})
