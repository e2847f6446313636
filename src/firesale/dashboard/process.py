"""The Streamlit server as a child process of ``firesale dashboard``, stopped with it.

:func:`serve` starts the child and forwards SIGTERM, SIGINT and SIGHUP to it, then waits
for it to stop (killing it after ``grace`` seconds), so that stopping ``firesale
dashboard`` (Ctrl-C, ``kill``, a service manager, a test's teardown) never leaves a
Streamlit server holding the port. On Linux the child is also asked to get SIGTERM should
``firesale dashboard`` die without a chance to forward anything (SIGKILL).
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["FORWARDED_SIGNALS", "STOP_GRACE_S", "serve"]

#: The signals :func:`serve` passes on to the Streamlit child.
FORWARDED_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, name))
#: Seconds the child has to stop after a forwarded signal before it is killed.
STOP_GRACE_S = 10.0


def _parent_death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to send the child SIGTERM when its parent dies
    (``prctl(PR_SET_PDEATHSIG)``); None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before the fork
    except (OSError, AttributeError):
        return None

    def set_signal() -> None:
        prctl(1, int(signal.SIGTERM), 0, 0, 0)  # 1: PR_SET_PDEATHSIG

    return set_signal


def serve(command: Sequence[str], grace: float = STOP_GRACE_S, **popen: Any) -> int:
    """Run ``command`` (the ``streamlit run`` line) until it ends or this process is told
    to stop.

    Parameters
    ----------
    command : sequence of str
        The child's command line.
    grace : float
        Seconds the child has to stop after a forwarded signal before it is killed.
    **popen
        Passed to :class:`subprocess.Popen`.

    Returns
    -------
    int
        The child's exit status when it ended on its own; ``128 + signal`` when a signal
        stopped this process (130 for SIGINT, 143 for SIGTERM), by which time the child has
        ended too.
    """
    received: list[int] = []
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, _frame: Any) -> None:
        received.append(signum)
        if child is not None and child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)

    # handlers first: a signal between the start and the handlers would orphan the child
    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED_SIGNALS}
    try:
        preexec = _parent_death_signal()
        child = subprocess.Popen(list(command), **({"preexec_fn": preexec} if preexec else {}), **popen)
        if received and child.poll() is None:  # told to stop while starting it
            child.send_signal(received[0])
        deadline: float | None = None
        while True:
            try:
                code = child.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                pass
            if received and deadline is None:
                deadline = time.monotonic() + grace
            if deadline is not None and time.monotonic() > deadline:
                child.kill()
                code = child.wait()
                break
    finally:
        if child is not None and child.poll() is None:  # an exception here: never leave it running
            child.kill()
            child.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 + received[0] if received else code
