"""The one error type for anything a caller got wrong.

Every layer raises `BuyerguardError` (or a subclass) with a machine-readable
code, a human message and, where it applies, the offending field. The API
turns it into a 4xx JSON body and the CLI into exit code 2 with one line, so
bad input is reported the same way wherever it enters.
"""

from __future__ import annotations


class BuyerguardError(Exception):
    """A refused request: nothing was changed."""

    status_code = 422

    def __init__(
        self,
        code: str,
        message: str,
        field: str | None = None,
        *,
        problems: list[dict[str, str | None]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.problems = problems  # every problem found, when there were several

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "field": self.field}

    def all_problems(self) -> list[dict[str, str | None]]:
        """Every problem of the request, the first being this error's own."""
        return self.problems or [self.as_dict()]


class InvalidInput(BuyerguardError):
    """A value is malformed or out of range."""

    status_code = 422


class NotFound(BuyerguardError):
    """The resource does not exist, or the caller may not see it."""

    status_code = 404


class Conflict(BuyerguardError):
    """The request contradicts the current state (illegal transition, reused key)."""

    status_code = 409


class Unauthorized(BuyerguardError):
    """Missing, unknown, expired or revoked credentials."""

    status_code = 401


class Forbidden(BuyerguardError):
    """The caller's role may not perform this action at all."""

    status_code = 403


class NotReady(BuyerguardError):
    """The database cannot serve yet: unreachable, or its schema is not at this release's head."""

    status_code = 503


class Busy(BuyerguardError):
    """Contention outlasted the retries (deadlocks, serialisation failures, a held lock)."""

    status_code = 503


class RulebookError(BuyerguardError):
    """A rulebook file failed validation; names the file and the key."""

    status_code = 500


def require_text(value: str | None, field: str, message: str) -> None:
    """Refuse text that says nothing (empty, or only blanks): `422 <field>_missing`."""
    if value is None or not value.strip():
        raise InvalidInput(f"{field}_missing", message, field)


def directory_refusal(path: object, wanted: str) -> InvalidInput:
    """A command given a directory where it reads a file: it says so (`file_is_directory`),
    instead of calling a path that is there missing. `wanted` names the file to give."""
    return InvalidInput("file_is_directory", f"{path} is a directory: name {wanted} in it", "file")
