"""``--help`` of every command and subcommand, compared with the snapshots in tests/cli/help/.

The help is rendered in one child process with a fixed environment (100 columns, TERM=dumb,
NO_COLOR=1, none of the variables that force colour), so it does not depend on the terminal
or CI the tests run in. After a deliberate change to the command line, regenerate them::

    FIRESALE_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/cli/test_help.py

and review the diff of tests/cli/help/. The snapshots follow the help layout of the typer
the install resolves (written with typer 0.29.2, which bundles its own click as typer._click,
click 8.5.1 installed beside it, rich 15.0.0): another typer version may lay the help out
differently (typer 0.15 has no ``<bool>`` type column, for one), which this test then shows as
a diff; the failure message names the versions found.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_errors import UNSET, _versions  # the CLI suite's clean child environment

HELP_DIR = Path(__file__).parent / "help"
UPDATE = os.environ.get("FIRESALE_UPDATE_SNAPSHOTS") == "1"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

#: Rendered in the child: every command path and its --help text.
RENDER = r'''
import json, sys
import typer.main
from typer.testing import CliRunner
from firesale.cli import app

def walk(command, path):
    yield path
    for name in sorted(getattr(command, "commands", {}) or {}):
        yield from walk(command.commands[name], [*path, name])

env = {"COLUMNS": "100", "LINES": "50", "TERM": "dumb", "NO_COLOR": "1"}
out = {}
for path in walk(typer.main.get_command(app), []):
    result = CliRunner().invoke(app, [*path, "--help"], env=env)
    out[" ".join(["firesale", *path])] = {"code": result.exit_code, "text": result.output}
sys.stdout.write(json.dumps(out))
'''

@pytest.fixture(scope="module")
def helps() -> dict[str, dict]:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update({"COLUMNS": "100", "LINES": "50", "TERM": "dumb", "NO_COLOR": "1"})
    done = subprocess.run([sys.executable, "-c", RENDER], capture_output=True, text=True, env=env, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def _file(command: str) -> Path:
    return HELP_DIR / (command.replace(" ", "_") + ".txt")


def _normal(text: str) -> str:
    return "\n".join(line.rstrip() for line in ANSI.sub("", text).splitlines()) + "\n"


def test_every_command_has_a_help(helps):
    for command, result in helps.items():
        assert result["code"] == 0, f"{command} --help exited {result['code']}:\n{result['text']}"
        assert "Usage:" in result["text"], command
    assert {"firesale", "firesale run", "firesale sweep", "firesale runs", "firesale runs list"} <= set(helps)


def test_help_matches_the_snapshots(helps):
    if UPDATE:
        HELP_DIR.mkdir(exist_ok=True)
        for stale in set(HELP_DIR.glob("*.txt")) - {_file(c) for c in helps}:
            stale.unlink()
        for command, result in helps.items():
            _file(command).write_text(_normal(result["text"]), encoding="utf-8")
        return
    problems = []
    for command, result in helps.items():
        path = _file(command)
        if not path.exists():
            problems.append(f"{command}: no snapshot {path.name}")
            continue
        want, got = path.read_text(encoding="utf-8"), _normal(result["text"])
        if want != got:
            diff = difflib.unified_diff(want.splitlines(), got.splitlines(), f"{path.name} (snapshot)",
                                        f"{command} --help (now)", lineterm="")
            problems.append("\n".join(diff))
    stale = sorted(p.name for p in set(HELP_DIR.glob("*.txt")) - {_file(c) for c in helps})
    problems += [f"{name}: a snapshot of no command" for name in stale]
    assert not problems, (
        f"--help differs from tests/cli/help/ ({_versions()}); if the change is meant, regenerate with "
        "FIRESALE_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/cli/test_help.py and review the diff:\n\n"
        + "\n\n".join(problems))
