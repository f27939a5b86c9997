"""Where the files in ``templates/`` are, in an installed wheel or in a source checkout.

The wheel carries them as ``lambdapack/_templates/`` (pyproject's force-include); an editable
install or a checkout reads the repository's top-level ``templates/``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from lambdapack.errors import PackageError

_CHECKOUT = Path(__file__).resolve().parent.parent / "templates"


def template_path(name: str) -> Path:
    """The file or directory ``templates/<name>`` as a path on disk."""
    packaged = resources.files("lambdapack").joinpath("_templates").joinpath(name)
    if isinstance(packaged, Path) and packaged.exists():
        return packaged
    checkout = _CHECKOUT / name
    if checkout.exists():
        return checkout
    raise PackageError(f"lambdapack's template {name!r} is missing from this installation",
                       hint="reinstall lambdapack (`pip install --force-reinstall lambdapack`)")


def template_bytes(name: str) -> bytes:
    """The content of ``templates/<name>``."""
    path = template_path(name)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PackageError(f"cannot read lambdapack's template {path} ({exc.strerror or exc})",
                           hint="reinstall lambdapack (`pip install --force-reinstall lambdapack`)") from None


def template_tree(name: str) -> dict[str, bytes]:
    """Every ``.py`` file under the template directory ``name``: ``{"name/rel/path.py": bytes}``, sorted."""
    root = template_path(name)
    out = {}
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" not in path.parts:
            relative = f"{name}/{path.relative_to(root).as_posix()}"
            out[relative] = template_bytes(relative)
    return out
