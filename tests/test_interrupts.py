"""hold_signals: a signal during the hold is delivered, once, right after it, to the handler in place."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from lambdapack.interrupts import hold_signals


class Boom(Exception):
    pass


@pytest.fixture
def raising_sigterm() -> Iterator[None]:
    def handler(signum: int, frame: object) -> None:
        raise Boom(signum)

    old = signal.signal(signal.SIGTERM, handler)
    yield
    signal.signal(signal.SIGTERM, old)


def test_a_signal_during_the_hold_raises_after_the_block(raising_sigterm: None) -> None:
    done: list[str] = []
    with pytest.raises(Boom), hold_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # without the hold the handler would raise here
        done.append("the block finished")
    assert done == ["the block finished"]
    assert signal.getsignal(signal.SIGTERM).__name__ == "handler"  # the handler is back


def test_nested_holds_deliver_once_at_the_outermost_end(raising_sigterm: None) -> None:
    done: list[str] = []
    with pytest.raises(Boom):
        with hold_signals():
            with hold_signals():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)
            done.append("inner over")
        done.append("never")
    assert done == ["inner over"]


def test_no_signal_no_effect_and_ignored_signals_stay_ignored() -> None:
    with hold_signals():
        pass
    old = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with hold_signals():
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.05)
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, old)
