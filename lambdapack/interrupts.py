"""Hold Ctrl-C, SIGTERM and SIGHUP while a temporary file or directory and its cleanup come into being.

A signal turns into an exception at the next bytecode, wherever that is. Landing between
``mkdtemp()`` and the ``try``/``ExitStack`` entry that removes the directory, it would leave
the directory behind. :func:`hold_signals` records such a signal instead and delivers it to the
handler that was in place (raising there, as it would have) as soon as the block is over,
when the cleanup is registered.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

_HELD = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextlib.contextmanager
def hold_signals() -> Iterator[None]:
    """Defer SIGINT, SIGTERM and SIGHUP to the end of the block (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def record(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = {sig: signal.signal(sig, record) for sig in _HELD}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if caught:
            _deliver(caught[0], previous[caught[0]])


def _deliver(signum: int, handler: object) -> None:
    """What the signal would have done without the hold."""
    if callable(handler):
        handler(signum, None)
    elif handler == signal.SIG_DFL:
        os.kill(os.getpid(), signum)
