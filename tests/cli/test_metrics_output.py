"""What ``firesale run``, ``attribute`` and ``regimes`` print for a decision-maker: the loss split
into levered capital and unlevered mark-to-market, the initial loss as the impulse run, signed
Shapley shares, and the regime rows a run did not measure."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from firesale.cli import app

runner = CliRunner()


def _json(args: list[str]) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _text(args: list[str]) -> str:
    result = runner.invoke(app, args, env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    return " ".join(result.stdout.split())


def test_run_splits_every_loss_and_takes_the_impulse_as_initial_loss():
    out = _json(["run", "dealer_groups", "--no-record"])
    # the split adds up, per part and in the impulse, and each amplification is its ratio
    assert out["levered_capital_loss"] + out["unlevered_mark_to_market"] == pytest.approx(out["total_loss"], rel=1e-12)
    assert out["initial_levered_capital_loss"] + out["initial_unlevered_mark_to_market"] == pytest.approx(
        out["initial_loss"], rel=1e-12)
    for part, key in (("levered", "levered_capital_loss"), ("unlevered", "unlevered_mark_to_market")):
        assert out[f"amplification_{part}"] == pytest.approx(out[key] / out[f"initial_{key}"], rel=1e-12)
    # 17 institutions: all but the asset managers AM1 and AM2 borrow
    assert out["levered_institutions"] == sum(row["levered"] for row in out["institutions"]) == 15
    # no exogenous wave in dealer_groups: with every channel off nobody sells, and the
    # impulse is the shock's mark-to-market on t0 books
    assert out["initial_loss_from"] == "impulse run"
    assert out["initial_loss"] == pytest.approx(out["shock_only_loss"], rel=1e-12)
    text = _text(["run", "dealer_groups", "--no-record"])
    assert "levered capital (15): initial → total" in text and "unlevered mark-to-market" in text


def test_attribute_prints_signed_shares_of_the_levered_capital_loss():
    out = _json(["attribute", "dealer_market"])
    assert out["outcome"] == "levered_capital_loss"
    shares = [x for x in out["share"].values() if x is not None]
    assert sum(abs(x) for x in shares) == pytest.approx(1.0, abs=1e-12)
    assert all(out["share"][p] * v >= 0 for p, v in out["shapley"].items())  # a negative value, a negative share
    total = _json(["attribute", "dealer_market", "--outcome", "total_loss"])
    assert total["outcome"] == "total_loss"
    assert total["total_loss"] == pytest.approx(out["outcomes"]["total_loss"]["total"])
    text = _text(["attribute", "dealer_market"])
    assert "levered capital loss with every channel off (the baseline: the shocks and exogenous waves alone)" in text


def test_regimes_name_the_rows_not_measured():
    # dealer_prime runs with the information channel off: no spread, quotes or marks to read
    out = _json(["regimes", "dealer_prime"])
    assert {"liquidity", "information flow"} <= set(out["not_measured"]["worst"])
    states = {row["row"]: row["worst"]["state"] for row in out["rows"]}
    assert states["liquidity"] == states["information flow"] == "not measured"
    text = _text(["regimes", "dealer_prime"])
    assert "A row not measured does not count" in text and "not measured in round 0: price shocks, liquidity" in text
    run = _json(["run", "dealer_prime", "--no-record"])
    assert "information flow" in run["regime"]["treasuries"]["not_measured_rows"]
