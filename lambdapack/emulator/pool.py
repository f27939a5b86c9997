"""``size`` warm runtimes of one function, leased one request at a time (``serve --concurrency``)."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator

from lambdapack.emulator.invoker import InitOutcome, InvokeResult, LocalFunction


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
        outcomes: list[InitOutcome | None] = [None] * len(self._all)

        def start(i: int) -> None:
            outcomes[i] = self._all[i].warm()

        threads = [threading.Thread(target=start, args=(i,), daemon=True) for i in range(len(self._all))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return outcomes

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
        for function in self._all:
            function.close()

