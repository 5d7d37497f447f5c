"""Errors with a stable code, answered as ``{"success": false, "error", "message"}``."""

from __future__ import annotations


class DashboardError(Exception):
    """A refusal a person can act on.

    Attributes:
        code: the stable error code (``forbidden``, ``rollout_in_progress``, ...).
        status: the HTTP status to answer with.
    The message never holds a secret.
    """

    status = 400

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        if status is not None:
            self.status = status

    def as_dict(self) -> dict[str, object]:
        """The JSON error body."""
        return {"success": False, "error": self.code, "message": self.message}


class NotFound(DashboardError):
    """404: the thing asked for does not exist."""

    status = 404


class Forbidden(DashboardError):
    """403: the user's role does not allow this."""

    status = 403


class Conflict(DashboardError):
    """409: the state does not allow this now."""

    status = 409
