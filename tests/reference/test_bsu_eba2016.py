"""Breuer, Summer & Urosevic on the EBA banks: the authors' published table, and ours.

The published numbers are the fire-sale equilibrium printed in the README of the authors' R
package syslosseval (github.com/Martin-Summer-1090/syslosseval, README.md, "basic example":
``make_stress_data(eba_exposures_2016, eba_impairments_2016, 1, 2015)``, ``lb = 33``,
``constant = 1.5``), to their three significant figures. ``--convention syslosseval``
must reproduce them; the corrected computation is pinned against the table of
docs/replications.md, which this file generates. Regenerate it with
``FIRESALE_UPDATE_DOCS=1 pytest tests/reference/test_bsu_eba2016.py`` (the rows between the
``<!-- bsu:NAME -->`` markers are rewritten).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from firesale.cli import app
from firesale.errors import ConfigError

DOC = Path(__file__).resolve().parents[2] / "docs" / "replications.md"
MARKETS = ("DE", "ES", "FR", "GB", "IT", "JP", "US", "RoW")
#: syslosseval README.md, basic example (EBA 2016, horizon 1, lb 33, kappa 1.5): delta_lower
#: (= delta_upper, unique) and delta_max, rows DE ES FR GB IT JP US Rest_of_the_world.
PUBLISHED = {"lower": (0.00492, 0.000640, 0.00688, 0.0106, 0.0117, 0.000494, 0.00434, 0.00132),
             "max": (0.0146, 0.0191, 0.0203, 0.0166, 0.0322, 0.000907, 0.00908, 0.00418)}
runner = CliRunner()


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """The shipped eba-2016 data written out as the original CSV files (the hand sums read
    them with the csv module; the CLI reads them through --data)."""
    from firesale.data.datasets import export_originals

    return export_originals(tmp_path_factory.mktemp("data"), datasets=("eba-2016",))


def _run(root, *args: str) -> dict:
    result = runner.invoke(app, ["equilibrium", "eba2016", "--data", str(root), "--json", "--no-record", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def runs(root):
    return {c: _run(root, "--convention", c) for c in ("syslosseval", "corrected")}


def _sig3(x: float) -> float:
    return float(f"{x:.3g}")


def test_syslosseval_convention_reproduces_the_published_table(runs):
    run = runs["syslosseval"]
    for key in ("lower", "upper"):
        assert tuple(_sig3(run[key][m]) for m in MARKETS) == PUBLISHED["lower"]
    assert tuple(_sig3(run["max"][m]) for m in MARKETS) == PUBLISHED["max"]
    assert not run["multiple"]
    # the positional join after an alphabetical sort hands US the rest of the world's σ and ADV
    assert run["sigma_label"]["US"] == "Rest_of_the_world" and run["sigma_label"]["RoW"] == "US"


def _csv(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_losses_counted_once_and_written_off_other_assets(root, runs):
    """Hand sum over the files: Σ Loan_Amount × adverse 2016 rate over the Total rows (once), and
    over the Total and per-country rows together (syslosseval's make_e1)."""
    folder = Path(root) / "eba-2016"
    rates = {(r["LEI_code"], r["Country"], r["Exposure"]): float(r["Impairment_rate"])
             for r in _csv(folder / "eba_impairments_2016.csv")
             if r["Scenario"] == "Adverse scenario" and float(r["Period"]) == 201612}
    once = both = 0.0
    for r in _csv(folder / "eba_exposures_2016.csv"):
        key = (r["LEI_code"], r["Country"], r["Exposure"])
        if key in rates:
            loss = float(r["Loan_Amount"]) * rates[key]
            both += loss
            once += loss if r["Country"] == "Total" else 0.0
    assert runs["corrected"]["credit_loss"] == pytest.approx(once, rel=1e-12)
    assert runs["syslosseval"]["credit_loss"] == pytest.approx(both, rel=1e-12)
    # balance-sheet identity of the paper's t = 1: assets fall by exactly the losses (corrected)
    from firesale.data.eba2016 import load_bsu_inputs

    x = load_bsu_inputs(root)
    a1 = x.securities.sum(axis=1) + x.other_assets1
    np.testing.assert_allclose(x.assets0 - a1, x.credit_loss, rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(x.equity0 - x.equity1, x.credit_loss, rtol=1e-12)


def test_a_bank_that_sells_ends_at_the_bound_and_equity_falls_by_the_marked_loss(runs):
    for run in runs.values():
        for bank in run["banks_over_bound"]["banks"]:
            theta, lev = bank["sales_fraction"]["lower"], bank["leverage"]["lower"]
            if 0 < theta < 1:  # a partial seller restores λ̄ exactly (eq. 6)
                assert lev == pytest.approx(run["leverage_bound"], rel=1e-9)
        assert run["equity_loss"]["lower"] >= run["equity_loss"]["stressed"] >= 0


# --- the doc tables: generated from runs ---------------------------------------------------------

def _pct(x: float) -> str:
    return f"{x:.3%}"


def table_prices(root) -> str:
    runs = {c: _run(root, "--convention", c) for c in ("syslosseval", "corrected")}
    rows = ["| price fall (lower = upper) | " + " | ".join(MARKETS) + " |", "|---" * (len(MARKETS) + 1) + "|",
            "| published (syslosseval README) | " + " | ".join(_pct(v) for v in PUBLISHED["lower"]) + " |",
            "| `--convention syslosseval` | " + " | ".join(_pct(runs["syslosseval"]["lower"][m]) for m in MARKETS)
            + " |",
            "| corrected (default) | " + " | ".join(_pct(runs["corrected"]["lower"][m]) for m in MARKETS) + " |",
            "| corrected / published | " + " | ".join(f"{runs['corrected']['lower'][m] / p:.2f}"
                                                     for m, p in zip(MARKETS, PUBLISHED["lower"])) + " |",
            "| every bond sold, corrected | " + " | ".join(_pct(runs["corrected"]["max"][m]) for m in MARKETS)
            + " |"]
    return "\n".join(rows)


def table_inputs(root) -> str:
    runs = {c: _run(root, "--convention", c) for c in ("syslosseval", "corrected")}
    rows = ["| | syslosseval convention | corrected |", "|---|---|---|"]
    def row(label, f):
        rows.append(f"| {label} | {f(runs['syslosseval'])} | {f(runs['corrected'])} |")
    row("credit losses subtracted from CET1 (EUR m)", lambda r: f"{r['credit_loss']:,.0f}")
    row("banks over λ̄ = 33: t = 0 / after the stress / after fire sales",
        lambda r: " / ".join(str(r["banks_over_bound"]["count"][s]) for s in ("initial", "stressed", "lower")))
    row("banks selling at the equilibrium", lambda r: str(r["banks_selling"]["lower"]))
    row("σ paired with US / RoW (% a day)", lambda r: f"{r['sigma']['US']:.3%} ({r['sigma_label']['US']}) / "
        f"{r['sigma']['RoW']:.3%} ({r['sigma_label']['RoW']})")
    row("σ of DE / GB (% a day), returns on common dates",
        lambda r: f"{r['sigma']['DE']:.4%} / {r['sigma']['GB']:.4%}")
    row("system CET1 lost: no deleveraging / with fire sales",
        lambda r: f"{r['equity_loss']['stressed']:.2%} / {r['equity_loss']['lower']:.2%}")
    return "\n".join(rows)


def table_horizons(root) -> str:
    rows = ["| year, horizon | " + " | ".join(MARKETS) + " | banks over λ̄ after the stress | CET1 lost, with fire "
            "sales |", "|---" * (len(MARKETS) + 3) + "|"]
    for year, horizon in ((2016, 1), (2016, 2), (2016, 3), (2020, 1), (2020, 2), (2020, 3)):
        r = _run(root, "--year", str(year), "--horizon", str(horizon))
        rows.append(f"| {year}, {horizon} | " + " | ".join(_pct(r["lower"][m]) for m in MARKETS)
                    + f" | {r['banks_over_bound']['count']['stressed']} | {r['equity_loss']['lower']:.2%} |")
    return "\n".join(rows)


def table_steps(root) -> str:
    """From the authors' computation to the paper's equations, one correction at a time."""
    from firesale.analytics.replications import bsu_eba2016
    from firesale.data.eba2016 import BSU_CORRECTIONS

    labels = {"losses_once": "(a) losses counted once", "labels_by_name": "(b) σ and ADV joined by name",
              "common_date_returns": "(d) returns between common dates",
              "other_assets": "other assets = total assets − bonds (the corrected computation)"}
    rows = ["| step | " + " | ".join(MARKETS) + " | banks selling | CET1 lost, with fire sales |",
            "|---" * (len(MARKETS) + 3) + "|"]
    previous = None
    for k in range(len(BSU_CORRECTIONS) + 1):
        r = bsu_eba2016(root=root, corrections=BSU_CORRECTIONS[:k])
        label = "syslosseval as published" if k == 0 else "+ " + labels[BSU_CORRECTIONS[k - 1]]
        rows.append(f"| {label} | " + " | ".join(_pct(r["lower"][m]) for m in MARKETS)
                    + f" | {r['banks_selling']['lower']} | {r['equity_loss']['lower']:.2%} |")
        previous = r
    assert previous["lower"] == _run(root)["lower"]  # all four corrections are the default
    return "\n".join(rows)


TABLES = {"prices": table_prices, "inputs": table_inputs, "horizons": table_horizons, "steps": table_steps}


@pytest.mark.parametrize("name", list(TABLES))
def test_doc_tables_are_what_the_model_gives(root, doc_block, name):
    doc_block(DOC, f"bsu:{name}", TABLES[name](root))


@pytest.mark.parametrize("args, names", [
    (["--horizon", "4"], ["--horizon"]),
    (["--year", "2018", "--kappa", "-1"], ["--kappa", "--year"]),
    (["--convention", "R", "--leverage-bound", "0"], ["--leverage-bound", "--convention"]),
])
def test_bad_options_are_named(args, names):
    result = runner.invoke(app, ["equilibrium", "eba2016", "--no-record", *args])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError)
    message = str(result.exception)
    assert all(f"option {n}" in message for n in names) and "FS821" in message


def test_loader_rejects_bad_choices_in_python():
    from firesale.data.eba2016 import load_bsu_inputs

    with pytest.raises(ConfigError, match="horizon"):
        load_bsu_inputs(horizon=0)
