"""The Bank of England / Oxford INET fire-sale stress test, nested: preset ``inet_eba2018``
against the peer's own runs.

The peer is the public model of Farmer, Kleinnijenhuis, Nahai-Williamson & Wetzer,
"Foundations of system-wide stress testing" (ox-inet-resilience/firesale_stresstest,
Apache-2.0). Its published figures are plots of three grids on the EBA 2018 file (price
impact, government-bond shock, threshold rule against leverage targeting). The peer itself
was run over those grids and two more (corporate bonds shocked, both shocked): 109 runs,
written by ``peers/inet_grid.py`` to ``peers/inet_firesale_stresstest.json`` with the commit
it ran. Those numbers come from outside firesale; this module checks firesale against all of them.

Steps and rounds: the peer's step s (1..6) is firesale's round s - 1. The defaults of step s
are those of round s - 1; the peer's price after step s is the price at which round s - 1
evaluates (``pre_trade_price``); the final prices are the prices after the last round.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from firesale import simulate
from firesale.cli import app
from firesale.data.eba2018 import load_eba2018
from firesale.data.preset import load_preset

HERE = Path(__file__).resolve().parent
PEER = json.loads((HERE / "peers" / "inet_firesale_stresstest.json").read_text())
PRESET = Path(__file__).resolve().parents[2] / "src" / "firesale" / "presets" / "inet_eba2018.toml"
DOC = Path(__file__).resolve().parents[2] / "docs" / "replications.md"
ROUNDS = 6


def _dense(system) -> np.ndarray:
    holdings = system.holdings
    return holdings.toarray() if hasattr(holdings, "toarray") else np.asarray(holdings)


def _scenario(base, run: dict, **market):
    shocks = [{"asset": asset, "price": -run[key]}
              for asset, key in (("government_bonds", "government_shock"), ("corporate_bonds", "corporate_shock"))
              if run[key] > 0]
    changes = {"shocks": shocks, "name": f"{run['experiment']}_{run['government_shock']:g}_{run['corporate_shock']:g}"}
    changes.update({f"market.{k}": v for k, v in market.items()})
    return base.updated(**changes)


def _system(run: dict):
    # the peer's leverage targeting (buffer 100%) sells whenever equity / assets is below the
    # 5% target, which is firesale's trigger = target = 5%
    levels = {"leverage_trigger": 0.05} if run["leverage_buffer"] >= 1 else {}
    return load_eba2018(price_impact=run["price_impact"], **levels)


def _firesale_grid(**market) -> list[dict]:
    """Every peer run, in firesale: defaults per round and prices, batched by system."""
    base = load_preset("inet_eba2018").scenario
    by_system: dict[tuple, list[int]] = {}
    for i, run in enumerate(PEER["runs"]):
        by_system.setdefault((run["price_impact"], run["leverage_buffer"]), []).append(i)
    out: list[dict] = [{}] * len(PEER["runs"])
    for indices in by_system.values():
        ds = simulate(_system(PEER["runs"][indices[0]]), [_scenario(base, PEER["runs"][i], **market) for i in indices])
        defaulted = ds["defaulted"].values.astype(bool)
        new = defaulted & ~np.concatenate([np.zeros_like(defaulted[:, :1]), defaulted[:, :-1]], axis=1)
        for j, i in enumerate(indices):
            rounds = defaulted.shape[1]
            at = [min(s, rounds - 1) for s in range(ROUNDS)]
            out[i] = {"defaults": [0] + [int(new[j, s].sum()) if s < rounds else 0 for s in range(ROUNDS)],
                      "government_price": ds["pre_trade_price"].values[j, at, 0],
                      "corporate_price": ds["pre_trade_price"].values[j, at, 1],
                      "final": ds["price"].values[j, -1, :2]}
    return out


def _matches(peer: dict, ours: dict, tol: float = 1e-12) -> bool:
    final = np.array([peer["government_price"][-1], peer["corporate_price"][-1]])
    return (ours["defaults"] == peer["defaults"]
            and np.allclose(ours["government_price"], peer["government_price"], rtol=0, atol=tol)
            and np.allclose(ours["corporate_price"], peer["corporate_price"], rtol=0, atol=tol)
            and np.allclose(ours["final"], final, rtol=0, atol=tol))


@pytest.fixture(scope="module")
def grid() -> list[dict]:
    return _firesale_grid()


def _preset_toml() -> str:
    """The preset file: the system :func:`load_eba2018` builds, inline, and the peer's scenario."""
    system = load_eba2018()
    inst_fields = ("name", "type", "cash", "liabilities", "other_liabilities", "repay_with_cash", "liquidation",
                   "leverage_minimum", "leverage_trigger", "leverage_target")

    def value(v) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        return "inf" if v == float("inf") else repr(float(v))

    def row(pairs) -> str:
        return "  {" + ", ".join(f"{k} = {value(v)}" for k, v in pairs) + "},"

    lines = [
        'name = "inet_eba2018"',
        'description = "Bank of England / Oxford INET fire-sale stress test on the EBA 2018 sample of 48 banks: '
        'government bonds fall 20%"',
        'currency = "EUR mn"',
        "",
        "# The system of the public model of Farmer, Kleinnijenhuis, Nahai-Williamson & Wetzer, \"Foundations of",
        "# system-wide stress testing\" (ox-inet-resilience/firesale_stresstest), built from the EBA 2018 file",
        "# shipped with firesale by firesale.data.eba2018.load_eba2018() (tests/reference/test_inet_eba2018.py",
        "# checks that these tables are what it builds): total assets CET1 / leverage ratio, cash 5%, government",
        "# and corporate bonds, other assets the rest; liabilities half a loan repaid early, half other",
        "# liabilities; default below 3% equity / assets, deleverage below 4% to 5%, pro rata, cash first.",
        "institutions = [",
        *[row((f, getattr(i, f)) for f in inst_fields) for i in system.institutions],
        "]",
        "",
        "# Multiplicative impact p <- p exp(-q / D), D = initial holdings / beta: selling 5% of the market",
        "# lowers the price 5% (beta = -ln(0.95) / 0.05). Volatility plays no part in this model.",
        "assets = [",
        *[row([("name", a.name), ("class", a.asset_class), ("sigma0", a.sigma0)]
              + ([("impact", a.impact), ("depth", a.depth)] if a.asset_class != "other" else []))
          for a in system.assets],
        "]",
        "",
        "holdings = [",
    ]
    q = _dense(system)
    for n, inst in enumerate(system.institutions):
        for k, asset in enumerate(system.assets):
            if q[n, k] > 0:
                lines.append(row([("institution", inst.name), ("asset", asset.name), ("quantity", q[n, k])]))
    lines += [
        "]",
        "",
        "[scenario]",
        'name = "government_bonds_down_20pct"',
        'description = "Government bonds fall 20%; six rounds, the peer\'s six steps"',
        "max_rounds = 6",
        "",
        "# The peer's market: every order reaches outside buyers at once (no dealers), sellers are paid the",
        "# midpoint of the price before and after, impact counts units sold, orders execute as the next round",
        "# opens, and a bank keeps its proceeds as cash until it repays its loan with them the round after.",
        "[scenario.market]",
        "intermediation = false",
        "execution_alpha = 0.5",
        "pressure_in_units = true",
        'clearing = "next_round"',
        'proceeds = "hold"',
        "",
        "# A replication, not a calibration: the peer's model has no dealers, funding runs or information",
        "# channel, so intermediation and the information channel stay off (nothing here is repo- or",
        "# fund-financed, so the funding channels have nothing to act on).",
        "[scenario.channels]",
        "information = false",
        "",
        "[[scenario.shocks]]",
        'asset = "government_bonds"',
        "price = -0.2",
        "",
    ]
    return "\n".join(lines)


def test_preset_is_the_system_the_loader_builds_from_the_data():
    rendered = _preset_toml()
    if os.environ.get("FIRESALE_UPDATE_DOCS"):
        PRESET.write_text(rendered)
    assert PRESET.read_text() == rendered, "regenerate presets/inet_eba2018.toml (FIRESALE_UPDATE_DOCS=1)"
    preset, built = load_preset("inet_eba2018").system, load_eba2018()
    assert [i.model_dump() for i in preset.institutions] == [i.model_dump() for i in built.institutions]
    assert [a.model_dump() for a in preset.assets] == [a.model_dump() for a in built.assets]
    np.testing.assert_array_equal(_dense(preset), _dense(built))


def test_balance_sheets_follow_the_peers_rules():
    """Hand rules of the peer's model.py on the file's first row (AT01: CET1 14712, leverage
    6.55%, debt securities 34241, government bonds 13 + 27682)."""
    system = load_eba2018()
    at01 = system.institutions[0]
    assets = 14712 / 0.0655
    assert at01.name == "AT01"
    assert at01.cash == pytest.approx(0.05 * assets, rel=1e-15)
    assert at01.liabilities == pytest.approx(assets - 14712, rel=1e-15)
    assert at01.other_liabilities == pytest.approx((assets - 14712) / 2, rel=1e-15)
    row = dict(zip(system.asset_names, _dense(system)[0]))
    assert row == pytest.approx({"government_bonds": 27695.0, "corporate_bonds": 34241.0 - 27695.0,
                                 "other_assets": assets - 34241 - 0.05 * assets}, rel=1e-15)
    beta = -np.log(0.95) / 0.05
    supply = _dense(system).sum(axis=0)
    assert [a.depth for a in system.assets[:2]] == pytest.approx(list(supply[:2] / beta), rel=1e-14)


def test_run_reports_the_peers_44_defaults_by_round(doc_block):
    """``firesale run inet_eba2018 --json`` at the peer's default: 7, 35 and 2 banks default
    in steps 1-3 (44 of 48), and the peer's final prices; the docs print both side by side."""
    from typer.testing import CliRunner

    peer = next(r for r in PEER["runs"] if r["experiment"] == "price_impact" and r["price_impact"] == 0.05)
    assert peer["defaults"] == [0, 7, 35, 2, 0, 0, 0]
    result = CliRunner().invoke(app, ["run", "inet_eba2018", "--json", "--no-record"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["defaults"] == sum(peer["defaults"]) == 44
    by_round = summary["defaults_by_round"]
    assert by_round + [0] * (ROUNDS - len(by_round)) == peer["defaults"][1:]
    assert summary["price_change"]["government_bonds"] == pytest.approx(peer["government_price"][-1] - 1, abs=1e-12)
    assert summary["price_change"]["corporate_bonds"] == pytest.approx(peer["corporate_price"][-1] - 1, abs=1e-12)
    ours = by_round + [0] * (ROUNDS - len(by_round))
    rows = ["| | " + " | ".join(f"step {s} (round {s - 1})" for s in range(1, ROUNDS + 1)) + " | all | government bonds, "
            "final price | corporate bonds, final price |", "|---" * (ROUNDS + 4) + "|"]
    for label, defaults, gov, corp in (
            ("peer: defaults", peer["defaults"][1:], peer["government_price"][-1], peer["corporate_price"][-1]),
            ("firesale: `defaults_by_round`", ours, 1 + summary["price_change"]["government_bonds"],
             1 + summary["price_change"]["corporate_bonds"])):
        rows.append(f"| {label} | " + " | ".join(str(d) for d in defaults) + f" | {sum(defaults)} | {gov:.6f} | "
                    f"{corp:.6f} |")
    doc_block(DOC, "inet:run", "\n".join(rows))


def test_every_peer_run_is_reproduced(grid):
    """All 109 runs: defaults in every step and both prices after every step, to 1e-12."""
    runs = PEER["runs"]
    assert len(runs) == 109
    missed = [(r["experiment"], r["government_shock"], r["corporate_shock"], r["price_impact"])
              for r, ours in zip(runs, grid) if not _matches(r, ours)]
    assert not missed, missed


def _render_switch_table(counts: dict[str, int]) -> str:
    total = len(PEER["runs"])
    rows = ["| firesale setting | peer runs reproduced (defaults per step, prices after each step) |",
            "|---|---|"]
    rows += [f"| {label} | {n} of {total} |" for label, n in counts.items()]
    return "\n".join(rows)


def test_each_switch_is_needed(grid, doc_block):
    """Without any one of the peer's rules the grid is no longer reproduced; the docs' table
    of how many runs each leaves is this test's count."""
    counts = {"the preset (every rule of the peer)": sum(_matches(r, o) for r, o in zip(PEER["runs"], grid))}
    for label, market in (("proceeds repay debt at once (`market.proceeds = \"repay\"`)", {"proceeds": "repay"}),
                          ("orders execute in the round that places them (`market.clearing = \"same_round\"`)",
                           {"clearing": "same_round"})):
        counts[label] = sum(_matches(r, o) for r, o in zip(PEER["runs"], _firesale_grid(**market)))
    assert counts["the preset (every rule of the peer)"] == len(PEER["runs"])
    assert all(n < len(PEER["runs"]) for label, n in counts.items() if label.startswith(("proceeds", "orders")))
    doc_block(DOC, "inet:switches", _render_switch_table(counts))
