"""With CI set no test of the suite is skipped: every way a test can skip fails instead (tests/ci_skips.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

TESTS = Path(__file__).resolve().parent

# Every way pytest offers to skip, in one module: a call, two marks, importorskip, a fixture
# that skips, and an expected failure (not a skip) beside a test that passes.
SKIPPING = '''
import pytest

@pytest.fixture
def needs_tool():
    pytest.skip("no such tool here")

def test_calls_skip():
    pytest.skip("a plain skip")

@pytest.mark.skipif(True, reason="a skipif mark")
def test_skipif():
    pass

@pytest.mark.skip(reason="a skip mark")
def test_skip_mark():
    pass

def test_importorskip():
    pytest.importorskip("no_such_module_anywhere")

def test_fixture_skips(needs_tool):
    pass

@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure():
    assert False

def test_passes():
    pass
'''

MODULE_SKIP = '''
import pytest

pytest.skip("the whole module", allow_module_level=True)

def test_never_collected():
    pass
'''


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest("from ci_skips import pytest_make_collect_report, pytest_runtest_makereport\n")
    pytester.makepyfile(test_skipping=SKIPPING, test_module_skip=MODULE_SKIP)
    return pytester


def test_with_ci_set_every_skip_is_a_failure_with_its_reason(suite: pytest.Pytester,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "1")
    result = suite.runpytest("-p", "no:cacheprovider", "test_skipping.py")
    # a skip in the test's call is a failure; one in its setup (marks, fixtures) an error
    result.assert_outcomes(failed=2, errors=3, passed=1, xfailed=1)
    failures = [line for line in result.stdout.lines if line.startswith(("FAILED", "ERROR"))]
    for reason in ("a plain skip", "a skipif mark", "a skip mark", "no_such_module_anywhere", "no such tool here"):
        assert any("skipped with CI set (" in line and reason in line for line in failures), reason
    # a module that skips itself is a collection error, which stops the run
    result = suite.runpytest("-p", "no:cacheprovider", "test_module_skip.py")
    result.assert_outcomes(errors=1)
    assert "skipped with CI set (the whole module)" in result.stdout.str()
    assert result.ret != 0


def test_without_ci_a_skip_stays_a_skip(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    result = suite.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(skipped=6, passed=1, xfailed=1)


def test_the_suite_skips_only_through_cannot_run() -> None:
    """No test module calls a skip of its own: a test that cannot run says why through cannot_run
    (tests/conftest.py), which fails under CI (and the hooks above catch anything that slips through)."""
    plain = re.compile(r"pytest\.skip\(|\.skipif\(|pytest\.mark\.skip\b|importorskip\(")
    allowed = {TESTS / "conftest.py", TESTS / "ci_skips.py", Path(__file__)}
    found = [f"{path.relative_to(TESTS)}:{n}: {line.strip()}" for path in sorted(TESTS.rglob("*.py"))
             if path not in allowed
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if plain.search(line)]
    assert not found, "skips that bypass cannot_run:\n" + "\n".join(found)
