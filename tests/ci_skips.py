"""With ``CI`` set, a skipped test is a failed test: a green CI run never hides a test that did not run.

tests/conftest.py imports these hooks. A test that cannot run here calls ``cannot_run(reason)``,
which already fails under CI; these hooks catch every other way a test can end up skipped
(``pytest.skip``, a ``skipif``/``skip`` mark, ``importorskip``, a skip in a fixture or at module
level) and turn it into a failure that carries the skip's reason. Expected failures (``xfail``)
are not skips and pass through. Without ``CI`` nothing changes: a developer's machine may lack
an interpreter or a tool, and the skip says which.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

FAILED_SKIP = "skipped with CI set ({reason}); under CI a test that does not run is a failure"


def _under_ci() -> bool:
    return bool(os.environ.get("CI"))


def _reason(longrepr: object) -> str:
    # a skip's longrepr is (path, line, "Skipped: reason")
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _fail(report: pytest.TestReport | pytest.CollectReport) -> None:
    report.outcome = "failed"
    report.longrepr = FAILED_SKIP.format(reason=_reason(report.longrepr))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if _under_ci() and report.skipped and not hasattr(report, "wasxfail"):
        _fail(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, None, None]:
    outcome = yield
    report: pytest.CollectReport = outcome.get_result()
    if _under_ci() and report.skipped:
        _fail(report)
