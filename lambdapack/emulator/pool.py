"""``size`` warm runtimes of one function, leased one request at a time (``serve --concurrency``)."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

from lambdapack.emulator.invoker import InitOutcome, InvokeResult, LocalFunction

T = TypeVar("T")


class FunctionPool:
    """``size`` warm runtimes of one function; a request leases one, waiting if all are busy."""

    def __init__(self, functions: list[LocalFunction]) -> None:
        self._all = functions
        self._idle: queue.Queue[LocalFunction] = queue.Queue()
        for function in functions:
            self._idle.put(function)

    @property
    def size(self) -> int:
        return len(self._all)

    def warm(self) -> list[InitOutcome | None]:
        """Start every runtime at once; each one's init outcome (None: it was already running)."""
        return _each(self._all, LocalFunction.warm)

    @contextlib.contextmanager
    def lease(self) -> Iterator[LocalFunction]:
        function = self._idle.get()
        try:
            yield function
        finally:
            self._idle.put(function)

    def invoke(self, event: bytes) -> InvokeResult:
        with self.lease() as function:
            return function.invoke(event)

    def close(self) -> None:
        """Stop every runtime at once: stopping one takes ~30 ms (kill, reap, its Runtime API's
        shutdown poll), so 64 of them one after the other would hold a Ctrl-C for two seconds."""
        _each(self._all, LocalFunction.close)


def _each(functions: list[LocalFunction], call: Callable[[LocalFunction], T]) -> list[T | None]:
    """``call(function)`` for every function, each on its own thread; the results in order.

    Every call runs to its end; then the first exception one raised, if any, is raised here.
    """
    results: list[T | None] = [None] * len(functions)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = call(functions[i])
        except BaseException as exc:  # raised in the caller's thread below  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(functions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results

