"""Red team: every mutated input fails with a clear FiresaleError or runs clean.

Inputs come from :mod:`firesale.testing.mutator` (generated table folders, the presets as
tables and as TOML, each mutated by one to three small mutations). Each is loaded with
the library (:func:`firesale.load`); the outcome must be EITHER a
:class:`~firesale.errors.FiresaleError` whose every problem names where (file, row,
field or key: ``problem.where`` non-empty and not the generic ``"input"``) OR a valid
run: the scenario (and its policy bundles) simulated with ``detail=True`` passes
:func:`firesale.testing.assert_invariants`. Any other exception (KeyError, TypeError,
RecursionError, OverflowError, a ValueError not from firesale, a numpy RuntimeWarning,
which is an error here), a hang past CASE_TIMEOUT_S or a failed invariant fails the
case, with its description. A few cases also go through the command line in a
subprocess (``firesale validate`` and ``firesale run --json --no-record``), which must
never print a traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from firesale import FiresaleError, load, simulate
from firesale.testing import assert_invariants
from firesale.testing.mutator import ENGINE_MUTATIONS, MUTATIONS, base_inputs, mutations

pytestmark = pytest.mark.property

SEED = 20_240_601
#: Library cases drawn from every mutation (a few hundred keeps the module under a minute).
N_CASES = 200
#: Library cases drawn from the mutations that mostly keep inputs valid, stacked, so that
#: extreme values reach the engine and its invariants.
N_ENGINE = 100
#: Command-line cases, each run through `firesale validate` and `firesale run`.
N_CLI = 30
#: Cap on rounds of every valid scenario (small systems, few rounds: fast cases).
MAX_ROUNDS = 10
#: A case that takes longer than this hangs.
CASE_TIMEOUT_S = 30

CASES = [*mutations(SEED, N_CASES, max_rounds=MAX_ROUNDS),
         *mutations(SEED + 2, N_ENGINE, max_rounds=MAX_ROUNDS, names=ENGINE_MUTATIONS, stack=(0.3, 0.4, 0.3))]
CLI_CASES = list(mutations(SEED + 1, N_CLI, max_rounds=MAX_ROUNDS))


class _Timeout(BaseException):
    """Raised by the alarm; a BaseException so that no ``except Exception`` swallows it."""


@contextlib.contextmanager
def _time_limit(seconds: float):
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def fire(signum, frame):
        raise _Timeout(f"no outcome after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _origin(err: BaseException) -> str:
    """file:line (function) of the innermost frame of an exception, for the report."""
    frames = traceback.extract_tb(err.__traceback__)
    if not frames:
        return "?"
    ours = [f for f in frames if "firesale" in f.filename and "tests/" not in f.filename] or frames
    frame = ours[-1]
    return f"{Path(frame.filename).name}:{frame.lineno} ({frame.name})"


def _unclear(err: FiresaleError) -> list[str]:
    """The problems of a FiresaleError that do not say where."""
    if not err.problems:
        return ["(no problems listed)"]
    return [str(p) for p in err.problems if not p.where.strip() or p.where.strip() == "input"]


def outcome(inp, directory: Path) -> str | None:
    """None when the input errs clearly or runs clean, else what went wrong."""
    target = inp.write(directory)
    stage = "load"
    try:
        with warnings.catch_warnings(), _time_limit(CASE_TIMEOUT_S):
            warnings.simplefilter("error", RuntimeWarning)  # numpy floating-point warnings
            preset = load(target)
            stage = "policy overrides"
            scenarios = [preset.scenario, *(preset.scenario.updated(**p["overrides"])
                                            for p in preset.policies.values())]
            stage = "simulate"
            ds = simulate(preset.system, scenarios, detail=True)
            stage = "invariants"
            assert_invariants(ds)
    except FiresaleError as err:
        unclear = _unclear(err)
        if unclear:
            return f"{type(err).__name__} at {stage} does not say where: {unclear[:3]} (from {_origin(err)})"
        return None
    except AssertionError as err:
        if stage == "invariants":
            return f"invariant failed: {err}"
        return f"{stage} raised AssertionError: {err} (at {_origin(err)})"
    except _Timeout as err:
        return f"{stage} hung: {err}"
    except Exception as err:
        text = str(err)
        text = text if len(text) < 600 else text[:600] + " ..."
        return f"{stage} raised {type(err).__module__}.{type(err).__name__}: {text} (at {_origin(err)})"
    return None


@pytest.mark.parametrize("base", base_inputs(MAX_ROUNDS), ids=lambda b: b.origin.replace(" ", "_"))
def test_unmutated_bases_run_clean(base, tmp_path):
    """The starting points are valid (a mutated case then fails for its mutation)."""
    problem = outcome(base, tmp_path / "case")
    assert problem is None, f"{base.description}\n{problem}"
    scenario = load(base.target(tmp_path / "case")).scenario
    assert scenario.max_rounds <= max(MAX_ROUNDS, 1 + max((s.round for s in scenario.shocks), default=0))


def test_mutations_are_deterministic_and_cover_every_mutation():
    assert list(mutations(SEED, 40, max_rounds=MAX_ROUNDS)) == CASES[:40]
    used = {step.split(":", 1)[0] for _, inp in CASES for step in inp.steps}
    assert used == set(MUTATIONS), f"never drawn: {sorted(set(MUTATIONS) - used)}"


@pytest.mark.parametrize("index", range(len(CASES)), ids=lambda i: f"case{i:03d}")
def test_mutated_input_errs_clearly_or_runs_clean(index, tmp_path):
    description, inp = CASES[index]
    problem = outcome(inp, tmp_path / "case")
    assert problem is None, f"{description}\n{problem}"


# --------------------------------------------------------------------------- command line


def _firesale_command() -> list[str]:
    script = Path(sys.executable).parent / "firesale"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from firesale.cli import main; main()"]


def _cli(args: list[str], cwd: Path) -> tuple[int | None, str, float]:
    env = {**os.environ, "FIRESALE_STORE": str(cwd / "store"), "COLUMNS": "200", "PYTHONIOENCODING": "utf-8"}
    started = time.perf_counter()
    try:
        proc = subprocess.run([*_firesale_command(), *args], capture_output=True, text=True, errors="replace",
                              timeout=120, cwd=cwd, env=env)
    except subprocess.TimeoutExpired as err:
        out = (err.stdout or b"").decode("utf-8", "replace") if isinstance(err.stdout, bytes) else (err.stdout or "")
        return None, out + "\n(timed out after 120 s)", time.perf_counter() - started
    return proc.returncode, f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}", time.perf_counter() - started


@pytest.fixture(scope="module", autouse=True)
def cli_runs(request, tmp_path_factory):
    """The command-line cases, started in the background when the module starts, so that
    they run while the library cases do: {index: [(args, future of (code, output, s))]}."""
    if not any(item.name.startswith("test_command_line") for item in request.session.items):
        yield {}
        return
    root = tmp_path_factory.mktemp("cli")
    pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1))
    runs: dict[int, list] = {}
    for i, (_, inp) in enumerate(CLI_CASES):
        target = str(inp.write(root / f"case{i:02d}"))
        for args in (["validate", target], ["run", target, "--json", "--no-record"]):
            runs.setdefault(i, []).append((args, pool.submit(_cli, args, root)))
    yield runs
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("index", range(N_CLI), ids=lambda i: f"cli{i:02d}")
def test_command_line_never_prints_a_traceback(index, cli_runs):
    description, _ = CLI_CASES[index]
    for args, future in cli_runs[index]:
        code, output, _ = future.result()
        command = f"firesale {args[0]} ..."
        assert "Traceback" not in output, f"{description}\n{command} printed a traceback:\n{output[-3000:]}"
        assert code in (0, 1), f"{description}\n{command} exited with {code}:\n{output[-3000:]}"
        if code == 1:
            assert output.split("--- stderr\n", 1)[-1].strip(), f"{description}\n{command} failed silently"
        elif args[0] == "run":
            stdout = output.split("--- stdout\n", 1)[1].split("\n--- stderr\n", 1)[0].strip()
            try:
                summary = json.loads(stdout.splitlines()[-1]) if stdout else None
            except json.JSONDecodeError:
                summary = None
            assert isinstance(summary, dict), f"{description}\n{command} --json printed no JSON object: {stdout[:300]!r}"
