"""How the function is configured (environment variables) and where it writes (one JSON line per event).

Environment variables:
  LAMBDAPACK_CORS_ORIGINS          ``*`` or a comma-separated list of origins (default: no CORS headers)
  LAMBDAPACK_MAX_BATCH             largest batch accepted, beyond it 413 (default 1000)
  LAMBDAPACK_PREDICTOR             ``0`` serves every request with the estimator (default 1)
  LAMBDAPACK_PREDICTOR_MAX_ROWS    batches above this size go to the estimator when the layer is there
                                   (default: function.json's, measured where numpy starts to win)
  LAMBDAPACK_MODEL_DIR             where model.json lives (default: the function's directory)
"""

from __future__ import annotations

import json
import os
import sys

DEFAULT_MAX_BATCH = 1000
OFF = ("0", "false", "no", "off")


class ModelInitError(RuntimeError):
    """The function cannot serve: its model, manifest, predictor or layer is missing, tampered or mismatched."""


def log(level: str, message: str, **fields: object) -> None:
    """One JSON document per line on stdout, which Lambda sends to CloudWatch."""
    line = {"level": level, "message": message}
    line.update(fields)
    sys.stdout.write(json.dumps(line, default=str) + "\n")
    sys.stdout.flush()


def env_int(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ModelInitError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ModelInitError(f"{name}={value} must be at least {minimum}")
    return value


def switched_off(name: str) -> bool:
    return os.environ.get(name, "1").strip().lower() in OFF


def cors_origins() -> list:
    origins = os.environ.get("LAMBDAPACK_CORS_ORIGINS", "").strip()
    return [o.strip() for o in origins.split(",") if o.strip()]


def model_dir() -> str:
    explicit = os.environ.get("LAMBDAPACK_MODEL_DIR")
    if explicit:
        return explicit
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the function's root, above this package
    task_root = os.environ.get("LAMBDA_TASK_ROOT")
    if not os.path.isfile(os.path.join(here, "model.json")) and task_root:
        return task_root
    return here
