"""LightGBM's text model (``booster.save_model("model.txt")``) for ``model import``.

The file is claimed by what it holds: a text model's first line is ``tree``. A ``.txt`` file that is
not one is claimed too, so that it is refused as what it is rather than as a broken pickle.
LightGBM's own reader crashes the process (SIGSEGV, SIGABRT) on many truncated files, so the file
is first checked here (the header, ``version``, every tree ``tree_sizes`` announces, ``end of
trees``, the parameters and ``pandas_categorical`` sections closed), then read once by LightGBM in
a child process, and only then here. Each failure is one :class:`~lambdapack.errors.ModelError`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from lambdapack.errors import ModelError

MAGIC = b"tree\n"
FORMATS = 4  # model format versions up to v4 (LightGBM 4.x writes v4)
_VERSION = re.compile(r"v(\d+)")
_SAVE_HINT = "save the whole model again with booster.save_model('model.txt') (or model.booster_.save_model)"
TRIAL_TIMEOUT_S = 120


def claims(path: Path) -> bool:
    """A LightGBM text model by its first line, or any ``.txt`` file (refused with the reason if not one)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(MAGIC) + 1)
    except OSError:
        return False
    return head.replace(b"\r\n", b"\n").startswith(MAGIC) or path.suffix.lower() == ".txt"


def _text(path: Path) -> str:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    except OSError as exc:
        raise ModelError(f"{path}: cannot read it ({exc.strerror or exc})", hint="check the path and permissions") \
            from None
    text = text.replace("\r\n", "\n")
    if text.split("\n", 1)[0] != "tree":
        first = text.split("\n", 1)[0][:40] if text else "binary data"
        raise ModelError(f"{path} is not a LightGBM text model (it begins {first!r}, a text model begins 'tree')",
                         hint="pass a model saved with booster.save_model('model.txt'), or a joblib/pickle file")
    return text


def _header(path: Path, text: str) -> dict[str, str]:
    head = text.split("\n\n", 1)[0].split("\n")[1:]
    fields = dict(line.split("=", 1) for line in head if "=" in line)
    found = _VERSION.fullmatch(fields.get("version", ""))
    if found is None:
        raise ModelError(f"{path}: a LightGBM text model without a model format version", hint=_SAVE_HINT)
    if int(found.group(1)) > FORMATS:
        import lightgbm

        raise ModelError(f"{path} was saved by a newer LightGBM (model format {fields['version']}; LightGBM "
                         f"{lightgbm.__version__} here reads up to v{FORMATS})",
                         hint="import it where the LightGBM that saved it is installed")
    return fields


def check_text(path: Path, text: str) -> None:
    """Refuse a text model LightGBM's reader would choke on: truncated, or sections left open."""
    fields = _header(path, text)
    end = text.find("\nend of trees\n")
    if end < 0:
        raise ModelError(f"{path} is truncated: a LightGBM text model ends its trees with 'end of trees'",
                         hint=_SAVE_HINT)
    start = text.find("\nTree=0\n")
    sizes = [int(s) for s in fields.get("tree_sizes", "").split() if s.isdigit()]
    count = len(re.findall(r"^Tree=\d+$", text[: end + 1], flags=re.MULTILINE))
    if start < 0 or (sizes and (len(sizes) != count or sum(sizes) != end + 1 - (start + 1))):
        raise ModelError(f"{path} is damaged: its trees do not have the sizes its header announces "
                         f"({len(sizes)} announced, {count} found)", hint=_SAVE_HINT)
    rest = text[end:]
    if "\nparameters:\n" in rest and "\nend of parameters\n" not in rest:
        raise ModelError(f"{path} is truncated in its parameters section", hint=_SAVE_HINT)
    marker = rest.find("\npandas_categorical:")
    if marker >= 0:
        line = rest[marker + len("\npandas_categorical:"):].split("\n", 1)[0]
        try:
            json.loads(line)
        except ValueError:
            raise ModelError(f"{path} is truncated in its pandas_categorical line", hint=_SAVE_HINT) from None


def _trial_load(path: Path) -> None:
    """LightGBM reads the file once in a child process: a reader crash there is an error here."""
    code = "import sys, lightgbm; lightgbm.Booster(model_file=sys.argv[1])"
    try:
        done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                              errors="replace", timeout=TRIAL_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise ModelError(f"LightGBM took over {TRIAL_TIMEOUT_S} s to read {path}", hint=_SAVE_HINT) from None
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
        said = lines[-1] if lines else f"exit status {done.returncode}"
        raise ModelError(f"LightGBM cannot read {path}: {said[:200]}", hint=_SAVE_HINT)


def load(path: Path) -> Any:
    """The ``lightgbm.Booster`` in ``path``, checked before LightGBM reads it."""
    try:
        import lightgbm
    except ImportError:
        raise ModelError(f"{path} is a LightGBM model and LightGBM is not installed here",
                         hint="pip install lightgbm (the version that saved the model)") from None
    check_text(path, _text(path))
    _trial_load(path)
    try:
        return lightgbm.Booster(model_file=str(path))
    except lightgbm.basic.LightGBMError as exc:
        raise ModelError(f"LightGBM cannot read {path}: {exc}", hint=_SAVE_HINT) from None
