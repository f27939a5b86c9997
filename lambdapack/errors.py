"""One error root for everything a user can get wrong.

Every failure a user can cause or fix is a :class:`LambdapackError` with a one-line
``message`` and a one-line ``hint``. The CLI turns it into ``error: ...`` / ``hint: ...``
on stderr and exit code 1; library callers catch it like any exception. Foreign
exceptions are translated where they occur, never leaked.
"""

from __future__ import annotations


class LambdapackError(Exception):
    """A failure the user can act on: what went wrong, and what to do about it."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class TargetError(LambdapackError):
    """An unknown or inconsistent runtime / architecture / tag set."""


class ResolveError(LambdapackError):
    """Requirements could not be resolved or fetched for the target."""


class ProjectError(ResolveError):
    """A project's lock or pyproject cannot give a layer for the target."""


class WheelError(LambdapackError):
    """A wheel is incompatible, corrupt or unsafe."""


class ArchiveError(LambdapackError):
    """A zip archive is corrupt, unsafe or too large."""


class LayerError(LambdapackError):
    """A layer fails a check or exceeds a limit."""


class InterpreterError(LambdapackError):
    """No usable Python interpreter of the required version."""


class ModelError(LambdapackError):
    """Training data, a model file or its manifest is unusable."""


class VersionMismatchError(LambdapackError):
    """The model's library versions differ from what the layer carries."""


class PackageError(LambdapackError):
    """The function package cannot be built."""


class EmulatorError(LambdapackError):
    """The local Lambda emulator cannot start or run the function."""


class DeployError(LambdapackError):
    """An AWS operation failed or the deployment request is invalid."""
