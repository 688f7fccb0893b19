"""One error tree for the whole service.

    ScreeningError
     ├── PackError                 the rule pack on disk is invalid (carries every problem found)
     ├── RecordError               an input record does not follow the record contract
     ├── StoreError                the screening store failed or is unreachable
     │    └── NotFoundError        a stored object (screening, alert, entry) does not exist
     ├── AuthError                 no or unknown credentials
     │    └── PermissionDenied     known credentials, but the role does not allow the action
     ├── BatchError                a batch job cannot run (bad arguments, unreadable input)
     ├── WorkflowError             a review action the alert's state or the four-eyes rule does not allow
     └── ListImportError           an official sanctions list file cannot be imported

Adapters translate these into their own vocabulary (HTTP status codes, exit codes); the core raises
nothing else on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass


class ScreeningError(Exception):
    """Base of every error the service raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located precisely enough to fix it.

    ``file`` is a path relative to the pack root (or the input name), ``entry`` the id or index of the entry
    inside it, ``field`` a dotted path inside the entry.
    """

    file: str
    entry: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.entry or '-'}: {self.field or '-'}: {self.message}"


class PackError(ScreeningError):
    """The rule pack is invalid; ``problems`` lists everything found, one per line in ``str()``."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems) or "invalid rule pack")


class RecordError(ScreeningError):
    """An input record is malformed. ``errors`` holds (field path, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{path}: {msg}" for path, msg in errors) or "invalid record")


class StoreError(ScreeningError):
    """The store failed or cannot be reached."""


class NotFoundError(StoreError):
    """A requested object does not exist."""


class AuthError(ScreeningError):
    """Missing or unknown credentials."""


class PermissionDenied(AuthError):
    """The caller is known but its role does not allow this action."""


class BatchError(ScreeningError):
    """A batch job cannot run."""


class WorkflowError(ScreeningError):
    """A review action that the alert's current state, or the four-eyes rule, does not allow."""


class ListImportError(ScreeningError):
    """A sanctions list file cannot be imported; the message names the line or element at fault."""
