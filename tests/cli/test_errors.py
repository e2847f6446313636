"""The command line misused: the real entry point in a child process, never a traceback.

Every case runs ``firesale ...`` as a user would (``python -m firesale`` where the package
has a ``__main__``, else the ``firesale`` console script beside ``sys.executable``) and
checks the exit status (2 for a usage error that click/typer reports, 1 for a
:class:`~firesale.errors.FiresaleError`), that no "Traceback" is printed and that the message
names the problem.

Written against typer 0.29.2 (which bundles its own click as ``typer._click``), click 8.5.1
and rich 15.0.0: before, ``firesale.cli.main`` caught only ``click.ClickException``, which
typer 0.29's usage errors are not, so each printed a 40-90 line traceback. The failure
messages print the versions found.

The second half holds the regression tests of the command line's other fixes: --shock names
its scenario, numbers printed whole at 80 columns, self-contained HTML figures, generate
never deletes a user's files, user-supplied names printed literally (not as rich markup).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from firesale.cli import app, main

#: Variables that would make rich force a terminal, colours or another width in the child.
UNSET = ("FORCE_COLOR", "PY_COLORS", "GITHUB_ACTIONS", "TERMINAL_WIDTH", "CLICOLOR_FORCE", "TTY_COMPATIBLE",
         "TTY_INTERACTIVE", "_TYPER_FORCE_DISABLE_TERMINAL", "COLORTERM")
BOX = re.compile(r"[│╭╮╰╯─┃━]")


def _versions() -> str:
    found = []
    for package in ("typer", "click", "rich"):
        try:
            found.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            found.append(f"{package} (not installed)")
    return ", ".join(found)


def _entry_point() -> list[str]:
    """``python -m firesale`` if it runs, else the console script next to the interpreter."""
    if importlib.util.find_spec("firesale.__main__") is not None:
        return [sys.executable, "-m", "firesale"]
    script = Path(sys.executable).with_name("firesale.exe" if os.name == "nt" else "firesale")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from firesale.cli import main; sys.exit(main())"]


def _env(columns: int = 100, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update({"COLUMNS": str(columns), "TERM": "dumb", "NO_COLOR": "1", **extra})
    return env


def _firesale(*args: str, columns: int = 100, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([*_entry_point(), *args], capture_output=True, text=True, env=_env(columns, **env),
                          timeout=300, check=False)


def _words(text: str) -> str:
    """The output as one line of words: no panel borders, no line breaks."""
    return " ".join(BOX.sub(" ", text).split())


# --------------------------------------------------------------------------- misuse cases
#: (id, args, expected exit status or None for any non-zero, regex the message must match).
#: ``{tmp}`` is a fresh folder; ``{full}`` a folder that already holds a user's file.
USAGE, ERROR = 2, 1
CASES = [
    ("no arguments", [], USAGE, r"Usage: firesale .*Commands"),
    ("unknown command", ["nosuch"], USAGE, r"No such command 'nosuch'"),
    ("unknown option", ["run", "--bogus"], USAGE, r"No such option: --bogus"),
    ("unknown option of a subcommand", ["runs", "list", "--bogus"], USAGE, r"No such option: --bogus"),
    ("unknown subcommand", ["runs", "nosuch"], USAGE, r"No such command 'nosuch'"),
    ("missing argument", ["explain"], USAGE, r"Missing argument '(target|TARGET)'"),
    ("missing required option", ["explain", "dealer_prime"], USAGE, r"Missing option '--institution'"),
    ("option without its value", ["run", "dealer_prime", "--shock"], USAGE, r"'--shock' requires an argument"),
    ("validate without a target", ["validate"], USAGE, r"TARGET.*give a preset name.*--schema"),
    ("not a number", ["generate", "--institutions", "3", "--assets", "2", "--density", "abc", "--out", "{tmp}/g"],
     USAGE, r"Invalid value for '--density'"),
    ("negative seed, generate", ["generate", "--institutions", "3", "--assets", "2", "--seed", "-1", "--out",
                                 "{tmp}/g"], USAGE, r"'--seed'"),
    ("negative seed, sweep", ["sweep", "dealer_prime", "--monte-carlo", "3", "--seed", "-1", "--no-record"], None,
     r"--seed"),
    ("negative seed, contagion", ["contagion", "--seed", "-1", "--no-record"], USAGE, r"'--seed'"),
    ("port 0", ["dashboard", "--port", "0", "--no-browser"], USAGE, r"'--port'"),
    ("unknown preset", ["run", "dealer_prme", "--no-record"], ERROR, r"Did you mean 'dealer_prime'"),
    ("missing path", ["run", "{tmp}/no/such/dir", "--no-record"], ERROR, r"no such file or directory"),
    ("--set without =", ["run", "dealer_prime", "--set", "max_rounds", "--no-record"], ERROR,
     r"\[FS502\] --set max_rounds: write FIELD=VALUE"),
    ("--set unknown field", ["run", "dealer_prime", "--set", "nosuch.field=1", "--no-record"], ERROR,
     r"\[FS201\].*scenario\.nosuch"),
    ("--shock without =", ["run", "dealer_prime", "--shock", "corporates", "--no-record"], ERROR,
     r"\[FS501\] --shock corporates: write ASSET=RETURN"),
    ("--shock unknown asset", ["run", "dealer_prime", "--shock", "gold=-0.1", "--no-record"], ERROR,
     r"asset 'gold': unknown asset"),
    ("run --out not .nc", ["run", "dealer_prime", "--out", "{tmp}/results.txt", "--no-record"], ERROR,
     r"\[FS301\].*use a \.nc file name"),
    ("tipping --out into a missing folder", ["tipping", "dealer_prime", "--shock", "corporates", "--out",
                                             "{tmp}/missing/boundary.html"], ERROR,
     r"\[FS851\].*the folder '.*missing' does not exist"),
    ("tipping --out of unknown type", ["tipping", "dealer_prime", "--shock", "corporates", "--out",
                                       "{tmp}/boundary.txt"], ERROR, r"\[FS705\].*unknown figure type '\.txt'"),
    ("sweep --out into a missing folder", ["sweep", "dealer_prime", "--monte-carlo", "3", "--no-record", "--out",
                                           "{tmp}/missing/loss.html"], ERROR, r"\[FS851\].*does not exist"),
    ("contagion --out into a missing folder", ["contagion", "--no-record", "--out", "{tmp}/missing/c.html"], ERROR,
     r"\[FS851\].*does not exist"),
    ("report --html into a missing folder", ["report", "dealer_prime", "--html", "{tmp}/missing/r.html"], ERROR,
     r"\[FS740\].*does not exist"),
    ("generate into a folder with files", ["generate", "--institutions", "3", "--assets", "2", "--out", "{full}"],
     ERROR, r"\[FS850\].*already holds 1 file\(s\) \(institutions\.csv\).*--force"),
    ("runs show unknown run", ["runs", "show", "feedbeef", "--store", "{tmp}/store"], ERROR,
     r"\[FS904\] run 'feedbeef': unknown run"),
    ("reverse without a target", ["reverse", "dealer_prime"], USAGE, r"Missing option '--target'"),
    ("reverse target unreadable", ["reverse", "dealer_prime", "--target", "defaults"], ERROR,
     r"\[FS760\] --target clause 'defaults': not a condition"),
    ("reverse unknown outcome", ["reverse", "dealer_prime", "--target", "default>=1"], ERROR,
     r"\[FS761\].*unknown outcome 'default'.*Did you mean 'defaults'"),
    ("reverse unknown asset", ["reverse", "dealer_prime", "--target", "price.gold<=0.9"], ERROR,
     r"\[FS762\].*unknown asset 'gold'"),
    ("reverse unknown --over", ["reverse", "dealer_prime", "--target", "defaults>=1", "--over", "prices"], ERROR,
     r"\[FS765\] --over prices: unknown"),
    ("reverse over funding without a fund", ["reverse", "dealer_prime", "--target", "defaults>=1", "--over",
                                             "price+funding"], ERROR, r"\[FS766\].*has no fund"),
    ("reverse --out of unknown type", ["reverse", "dealer_prime", "--target", "defaults>=1", "--out",
                                       "{tmp}/shock.txt"], ERROR, r"\[FS705\].*unknown figure type '\.txt'"),
    ("sensitivity unknown knob", ["sensitivity", "dealer_prime", "--params", "deepth"], ERROR,
     r"\[FS768\] --params deepth: unknown knob.*Did you mean 'depth'"),
    ("sensitivity knob with nothing to move", ["sensitivity", "var_desk", "--params", "depth"], ERROR,
     r"\[FS768\].*nothing to move"),
    ("sensitivity unknown outcome", ["sensitivity", "dealer_prime", "--outputs", "price_fall.gold"], ERROR,
     r"\[FS762\].*unknown asset 'gold'"),
    ("sensitivity bad step", ["sensitivity", "dealer_prime", "--step", "0.7"], ERROR, r"\[FS769\] --step 0.7"),
]


@pytest.fixture(scope="module")
def misuse(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """Every case run once, several at a time (each child starts Python and imports firesale)."""
    tmp = tmp_path_factory.mktemp("misuse")
    full = tmp / "full"
    full.mkdir()
    (full / "institutions.csv").write_text("name,type\nmy_bank,bank\n")

    def one(case):
        name, args, _, _ = case
        folder = tmp / re.sub(r"\W+", "_", name)
        folder.mkdir()
        args = [a.replace("{tmp}", str(folder)).replace("{full}", str(full)) for a in args]
        return name, (_firesale(*args, FIRESALE_STORE=str(folder / "runs")), folder)

    with ThreadPoolExecutor(max_workers=max(2, min(8, os.cpu_count() or 2))) as pool:
        return dict(pool.map(one, CASES))


@pytest.mark.parametrize("name, args, status, pattern", CASES, ids=[c[0] for c in CASES])
def test_misuse_prints_a_message_not_a_traceback(misuse, name, args, status, pattern):
    done, _ = misuse[name]
    output = done.stdout + done.stderr
    context = f"firesale {' '.join(args)} ({_versions()}) exited {done.returncode}:\n{output[-4000:]}"
    assert "Traceback" not in output, context
    assert done.returncode != 0, context
    if status is not None:
        assert done.returncode == status, context
    assert re.search(pattern, _words(output)), f"no {pattern!r} in the message of {context}"
    if name != "no arguments":  # the help is long; an error is a few lines
        assert len(output.strip().splitlines()) <= 12, context


def test_misuse_writes_nothing(misuse):
    """The usage errors and early checks fail before any file or folder is written."""
    for name in ("negative seed, generate", "not a number", "tipping --out into a missing folder",
                 "sweep --out into a missing folder", "contagion --out into a missing folder"):
        _, folder = misuse[name]
        assert not (folder / "g").exists() and not (folder / "missing").exists(), name
        assert not (folder / "runs").exists(), name
    _, folder = misuse["run --out not .nc"]
    assert not (folder / "runs").exists(), "a run that cannot write its --out file is not recorded"


def test_usage_error_through_main_in_process(monkeypatch, capsys):
    """main() itself (the console script's function): exit status 2 and a short message."""
    monkeypatch.setattr("sys.argv", ["firesale", "run", "--bogus"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    assert exit_info.value.code == 2, _versions()
    assert "No such option: --bogus" in captured.err and "Traceback" not in captured.err + captured.out


def test_validate_schema_needs_no_target():
    """The README writes `firesale validate --schema`: before, a missing-argument traceback."""
    done = _firesale("validate", "--schema")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "institutions" in done.stdout and "holdings" in done.stdout


def test_tipping_out_checked_before_the_computation(tmp_path, monkeypatch, capsys):
    def no_work(*args, **kwargs):
        raise AssertionError("tipping_point ran before the --out folder was checked")

    monkeypatch.setattr("firesale.analytics.tipping.tipping_point", no_work)
    monkeypatch.setattr("firesale.cli.load", no_work)
    monkeypatch.setattr("sys.argv", ["firesale", "tipping", "dealer_prime", "--shock", "corporates", "--out",
                                     str(tmp_path / "missing" / "boundary.html")])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "[FS851]" in err and "does not exist" in err


# --------------------------------------------------------------------------- B: --shock names the scenario
def test_shock_names_the_scenario(tmp_path):
    """Before: a +5% run of dealer_prime was titled and stored as corporates_down_4pct."""
    done = _firesale("run", "dealer_prime", "--shock", "corporates=0.05", "--json", "--no-record")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["scenario"] == "shock_corporates+5pct"

    from firesale.store import RunStore

    store = tmp_path / "store"
    runner = CliRunner()
    result = runner.invoke(app, ["run", "dealer_prime", "--shock", "corporates=0.05", "--shock", "other=-0.125",
                                 "--store", str(store)], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    text = _words(result.stdout)
    assert "--shock replaces the shocks of scenario 'corporates_down_4pct'" in text
    assert "dealer_prime — shock_corporates+5pct_other-12.5pct" in text
    (record,) = RunStore(store).list()
    _, scenarios = RunStore(store).load_inputs(record.run_id)
    # the run and its impulse run (every channel off: the initial loss), recorded together
    assert [s.name for s in scenarios] == ["shock_corporates+5pct_other-12.5pct",
                                           "shock_corporates+5pct_other-12.5pct (channels off)"]
    # --set name= still names it; without --shock the preset's name stays
    result = runner.invoke(app, ["run", "dealer_prime", "--shock", "corporates=0.05", "--set", "name=mine", "--json",
                                 "--no-record"])
    assert json.loads(result.stdout)["scenario"] == "mine"
    result = runner.invoke(app, ["run", "dealer_prime", "--json", "--no-record"])
    assert json.loads(result.stdout)["scenario"] == "corporates_down_4pct"


# --------------------------------------------------------------------------- C: numbers whole at 80 columns
NUMBER_CUT = re.compile(r"[\d.,%]…|…[\d.,%]")


@pytest.mark.parametrize("target", ["march_2020", "dealer_groups"])
def test_numbers_are_printed_whole_at_80_columns(target):
    """Before: at 80 columns march_2020's sales table showed `193…`-like cells in every column."""
    done = _firesale("run", target, "--no-record", columns=80)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert not NUMBER_CUT.search(text), text
    assert "…" not in text, text
    assert max(len(line) for line in text.splitlines()) <= 80
    summary = json.loads(CliRunner().invoke(app, ["run", target, "--no-record", "--json"]).stdout)
    cells = set(text.replace("│", " ").replace("┃", " ").split())
    for row in summary["institutions"][:40]:
        assert f"{row['final_equity']:,.2f}" in cells, (row["name"], text)
        assert f"{row['sales']:,.1f}" in cells, (row["name"], text)
    for group, values in summary["sales_by_group"].items():
        assert f"{sum(values):,.1f}" in cells, (group, text)
        for value in values:
            if value > 0:
                assert f"{value:,.1f}" in cells, (group, text)


# --------------------------------------------------------------------------- D: self-contained figures
SCRIPT_SRC = re.compile(r"<script[^>]*\bsrc\s*=", re.IGNORECASE)


def _self_contained(path: Path) -> None:
    html = path.read_text(encoding="utf-8")
    assert not SCRIPT_SRC.search(html), "a <script src=...>: the figure loads plotly.js from elsewhere"
    assert 'src="https://cdn' not in html and "cdn.plot.ly/plotly" not in html
    assert len(html) > 1_000_000, "plotly.js is not inside the file"


@pytest.mark.parametrize("args", [
    ["tipping", "dealer_market", "--shock", "corp_hy", "--iterations", "2"],
    ["sweep", "dealer_prime", "--monte-carlo", "3", "--no-record"],
    ["contagion", "--trials", "2", "--banks", "64", "--no-record"],
], ids=["tipping", "sweep", "contagion"])
def test_html_figures_open_offline(tmp_path, args):
    """Before: every --out fig.html but the report's loaded plotly.js from its CDN."""
    pytest.importorskip("plotly")
    out = tmp_path / "figure.html"
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    _self_contained(out)


def test_write_figure_is_self_contained(tmp_path):
    pytest.importorskip("plotly")
    from firesale.analytics.figures import plotly_graph_objects, write_figure

    go = plotly_graph_objects()
    _self_contained(write_figure(go.Figure(go.Scatter(x=[0, 1], y=[1, 0])), tmp_path / "f.html"))


# --------------------------------------------------------------------------- E: generate keeps a user's files
GENERATE = ["generate", "--institutions", "6", "--assets", "3", "--density", "0.5", "--seed", "1"]


def test_generate_refuses_a_folder_with_files_and_force_deletes_nothing(tmp_path):
    """Before: generate --out DIR deleted correlations/market_shares and the other format's
    tables there without a word."""
    runner = CliRunner()
    folder = tmp_path / "mine"
    folder.mkdir()
    mine = {"institutions.parquet": b"my parquet", "correlations.csv": b"my correlations", "notes.txt": b"mine",
            "institutions.csv": b"my institutions"}
    for name, data in mine.items():
        (folder / name).write_bytes(data)
    result = runner.invoke(app, [*GENERATE, "--out", str(folder)])
    assert result.exit_code == 1
    assert "FS850" in str(result.exception) and "--force" in str(result.exception)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == mine, "refused, yet files changed"

    result = runner.invoke(app, [*GENERATE, "--out", str(folder), "--force"])
    assert result.exit_code == 0, result.output
    for name in ("institutions.parquet", "correlations.csv", "notes.txt"):
        assert (folder / name).read_bytes() == mine[name], f"--force touched {name}"
    assert (folder / "institutions.csv").read_bytes() != mine["institutions.csv"]
    assert {p.name for p in folder.iterdir()} == set(mine) | {"assets.csv", "holdings.csv", "scenario.toml"}
    warning = " ".join(result.output.split())  # stdout and stderr
    assert "institutions.parquet" in warning and "correlations.csv" in warning and "notes.txt" not in warning

    # a new folder, or an empty one, needs no --force; a rerun into its own output does
    assert runner.invoke(app, [*GENERATE, "--out", str(tmp_path / "new")]).exit_code == 0
    (tmp_path / "empty").mkdir()
    assert runner.invoke(app, [*GENERATE, "--out", str(tmp_path / "empty")]).exit_code == 0
    assert runner.invoke(app, [*GENERATE, "--out", str(tmp_path / "empty")]).exit_code == 1
    again = runner.invoke(app, [*GENERATE, "--out", str(tmp_path / "empty"), "--force"])
    assert again.exit_code == 0 and "warning" not in again.output


# --------------------------------------------------------------------------- names printed literally
def _markup_preset(tmp_path: Path) -> Path:
    from firesale.data.preset import _preset_dir

    text = (_preset_dir() / "dealer_prime.toml").read_text()
    text = text.replace('name = "dealer_prime"', 'name = "Bank [a] x[/y]"')
    text = text.replace('institution = "dealer_prime"', 'institution = "Bank [a] x[/y]"')
    text = text.replace('group = "A"', 'group = "[bold]G"')
    path = tmp_path / "markup.toml"
    path.write_text(text)
    return path


def test_names_with_brackets_print_literally(tmp_path):
    """Before: `Bank [a]` printed as `Bank `, and a name with `[/` crashed run after recording."""
    preset = _markup_preset(tmp_path)
    done = _firesale("run", str(preset), "--store", str(tmp_path / "store"))
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "Traceback" not in output, output
    text = _words(done.stdout)
    assert "Bank [a] x[/y] — corporates_down_4pct" in text  # the title
    assert "Bank [a]" in text and "x[/y]" in text and "[bold]G" in text  # the institution table
    runner = CliRunner()
    for args in (["explain", str(preset), "-i", "Bank [a] x[/y]"],
                 ["compare", str(preset), "-p", "slr_exemption", "--no-record"],
                 ["regimes", str(preset)],
                 ["run", str(preset), "--shock", "corporates=-0.04", "--no-record"]):
        result = runner.invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 0, (args, result.output)
        assert "Bank [a] x[/y]" in result.stdout, (args, result.stdout)
