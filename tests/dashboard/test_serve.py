"""Stopping ``firesale dashboard`` stops its Streamlit server: SIGTERM, SIGINT and SIGHUP
are forwarded to the child and waited for (:func:`firesale.dashboard.process.serve`).

Reported: SIGTERM to ``firesale dashboard`` left Streamlit listening on the port.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from firesale.testing.dashboard import (
    free_port,
    group_alive,
    port_free,
    stop_group,
    streamlit_processes,
    wait_healthy,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups and /proc: Linux")

#: A child that writes its pid, then the signal it gets (and exits), or ignores SIGTERM.
CHILD = textwrap.dedent("""
    import os, signal, sys, time
    out = sys.argv[1]
    def stop(signum, frame):
        with open(out, "a") as f:
            f.write(f"signal {signum}\\n")
        sys.exit(0)
    signal.signal(signal.SIGTERM, signal.SIG_IGN if sys.argv[2] == "ignore" else stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, stop)
    with open(out, "a") as f:
        f.write(f"pid {os.getpid()}\\n")
    while True:
        time.sleep(0.05)
""")


def _parent(tmp_path: Path, mode: str = "stop", grace: float = 10.0) -> tuple[subprocess.Popen, Path]:
    """``serve`` (in a process of its own) running CHILD; returns once the child runs."""
    out = tmp_path / "child.log"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    code = (f"import sys; from firesale.dashboard.process import serve; "
            f"sys.exit(serve([sys.executable, {str(script)!r}, {str(out)!r}, {mode!r}], grace={grace}))")
    parent = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    deadline = time.monotonic() + 30
    while not (out.is_file() and "pid" in out.read_text()):
        assert time.monotonic() < deadline and parent.poll() is None, "the child did not start"
        time.sleep(0.05)
    return parent, out


def _child_pid(out: Path) -> int:
    return int(next(line for line in out.read_text().splitlines() if line.startswith("pid")).split()[1])


def _gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        status = Path(f"/proc/{pid}/stat")
        if status.is_file() and status.read_text().split(")")[-1].split()[0] == "Z":
            return True  # a zombie: ended, its parent has yet to reap it
        time.sleep(0.05)
    return False


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)])
def test_serve_forwards_the_signal_and_waits_for_the_child(tmp_path, sig, code):
    parent, out = _parent(tmp_path)
    try:
        child = _child_pid(out)
        parent.send_signal(sig)
        assert parent.wait(timeout=15) == code
        assert f"signal {int(sig)}" in out.read_text()  # the child got it, and ended before the parent
        assert _gone(child, within=0.5)
    finally:
        stop_group(parent)


def test_serve_kills_a_child_that_does_not_stop_within_the_grace(tmp_path):
    parent, out = _parent(tmp_path, mode="ignore", grace=1.0)
    try:
        child = _child_pid(out)
        started = time.monotonic()
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=15) == 143
        assert time.monotonic() - started < 10
        assert _gone(child, within=0.5)
    finally:
        stop_group(parent)


def test_the_child_is_stopped_when_serve_is_killed(tmp_path):
    parent, out = _parent(tmp_path)
    try:
        child = _child_pid(out)
        parent.kill()  # no chance to forward anything: the kernel sends the child SIGTERM
        parent.wait()
        assert _gone(child)
        assert f"signal {int(signal.SIGTERM)}" in out.read_text()
    finally:
        stop_group(parent)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signalled_firesale_dashboard_frees_its_port(tmp_path, sig):
    """``firesale dashboard --no-browser --port P`` sent SIGTERM (or Ctrl-C's SIGINT, to it
    alone) leaves no Streamlit server: the port is free within a few seconds."""
    pytest.importorskip("streamlit", reason='the dashboard needs streamlit: pip install "firesale[dashboard]"')

    port = free_port()
    log = tmp_path / "dashboard.log"
    with open(log, "wb") as out:
        dashboard = subprocess.Popen([str(Path(sys.executable).with_name("firesale")), "dashboard", "--no-browser",
                                      "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", dashboard, 60.0, log)
        servers = streamlit_processes(port)
        assert servers, "no streamlit process found for the port"
        dashboard.send_signal(sig)  # to firesale alone, not to its group
        assert dashboard.wait(timeout=15) == 128 + int(sig)
        deadline = time.monotonic() + 5
        while not port_free(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert port_free(port), f"port {port} still taken: {log.read_text()[-2000:]}"
        assert streamlit_processes(port) == []
        assert not group_alive(dashboard.pid)
    finally:
        stop_group(dashboard)
