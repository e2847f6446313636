"""Layering rules of STYLE.md: the core loads no heavy or file libraries; the engine,
channels and models are pure numpy; no per-institution Python loop in the engine."""

import ast
import pathlib
import subprocess
import sys

import firesale

SRC = pathlib.Path(firesale.__file__).parent


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_import_firesale_leaves_optional_backends_unloaded():
    loaded = _loaded_after("import firesale")
    for heavy in ("duckdb", "plotly", "streamlit", "dask", "distributed"):
        assert heavy not in loaded, heavy


#: The modules allowed to import numba: the compiled kernels (``engine/compiled.py``) and
#: compiled phases (``engine/compiled_<phase>.py``), behind the numpy reference. They may
#: also hold their tables by weak reference (``weakref``), so that none outlives its run.


def _compiled(path: pathlib.Path) -> bool:
    return path.parent == SRC / "engine" and path.name.startswith("compiled")


def test_engine_channels_models_import_numpy_scipy_only():
    # the standard library's threads too: the run loop runs a batch's chunks side by side
    allowed = {"numpy", "scipy", "pydantic", "firesale", "__future__", "dataclasses", "collections", "typing", "types",
               "math", "functools", "threading", "concurrent"}
    for package in ("engine", "channels", "models"):
        for path in (SRC / package).glob("*.py"):
            permitted = allowed | ({"numba", "os", "weakref"} if _compiled(path) else set())
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                for name in names:
                    assert name.split(".")[0] in permitted, f"{path.name} imports {name}"


def test_numba_only_in_the_compiled_kernels():
    loaded = _loaded_after("import firesale; firesale.simulate(firesale.load_preset('dealer_prime').system)")
    assert "numba" not in loaded  # the numpy reference runs without it


def test_no_loop_over_institutions_in_engine_or_channels():
    """No Python loop over institutions; the compiled kernels' loops run in machine code."""
    for package in ("engine", "channels"):
        for path in (SRC / package).glob("*.py"):
            if _compiled(path):
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.For):
                    text = ast.unparse(node.iter)
                    assert "institution" not in text and "range(n" not in text, f"{path.name}: for ... in {text}"
