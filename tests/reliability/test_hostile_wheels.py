"""The hostile suite posing as wheels, against the layer's wheel installer (``lambdapack.wheels``).

Every generic hostile zip is also tried under a wheel's file name, and the wheel-only cases
(RECORD lies, missing RECORD, ``.data`` escapes) are added. The installer must refuse each
one with a WheelError and a hint before writing a single file into site-packages, and a
later good wheel must still install into the same directory.
"""

from __future__ import annotations

from pathlib import Path

import hostile
import pytest
from escape_checks import assert_nothing_outside, snapshot

from lambdapack.errors import LambdapackError
from lambdapack.wheels import install

WHEEL_CASES = [c for c in hostile.cases() if "wheel" in c.kinds]


@pytest.mark.parametrize("case", WHEEL_CASES, ids=lambda c: c.name)
def test_the_wheel_installer_refuses(case: hostile.HostileCase, tmp_path: Path) -> None:
    wheel = hostile.as_wheel(case, tmp_path / "wheels")
    sandbox = tmp_path / "sandbox"
    site = sandbox / "build" / "python" / "lib" / "python3.12" / "site-packages"
    sandbox.mkdir()
    (sandbox / "keep.txt").write_text("untouched\n")
    before = snapshot(sandbox)
    # wheels may not carry links at all (the spec has none), so "is a symbolic link" is a fine refusal
    with pytest.raises(LambdapackError, match=f"{case.expect}|symbolic link") as caught:
        install.install_wheels([wheel], site)
    assert caught.value.hint
    assert_nothing_outside(sandbox, sandbox / "build", before)
    # validated before the first write: a refused wheel leaves site-packages empty
    assert not site.exists() or list(site.iterdir()) == []
    install.install_wheels([hostile.good_wheel(tmp_path / "wheels")], site)
    assert (site / "hostile" / "__init__.py").read_text() == "VALUE = 1\n"


def test_one_hostile_wheel_among_good_ones_installs_nothing(tmp_path: Path) -> None:
    good = hostile.good_wheel(tmp_path / "good", name="goodpkg")
    case = next(c for c in WHEEL_CASES if c.name == "wheel-record-hash-mismatch")
    bad = hostile.as_wheel(case, tmp_path / "bad")
    site = tmp_path / "site"
    with pytest.raises(LambdapackError):
        install.install_wheels([good, bad], site)
    assert not site.exists() or list(site.iterdir()) == []
