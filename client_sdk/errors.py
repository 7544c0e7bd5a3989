"""One exception hierarchy, carrying Slack's error codes.

Catch :class:`FlannelError` for anything this library raises; :class:`ApiError` when the
server answered and said no (``exc.code`` is Slack's code: ``channel_not_found``...);
:class:`AuthError` when the token is no good (retrying cannot help, so the client stops);
:class:`RateLimited` when asked to slow down (``retry_after`` seconds);
:class:`ConnectionLost` when the answer never came because the connection went away.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

AUTH_CODES = frozenset({"not_authed", "invalid_auth", "token_revoked", "token_expired", "account_inactive"})
"""Codes that mean the token itself is unusable: the session ends instead of reconnecting."""


class FlannelError(Exception):
    """Base of everything this library raises."""


class ApiError(FlannelError):
    """The server answered ``{"ok": false, "error": code}`` (or an HTTP error)."""

    def __init__(
        self, code: str, response: Mapping[str, Any] | None = None, *, status: int | None = None
    ) -> None:
        detail = (response or {}).get("detail")
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.response: Mapping[str, Any] = response or {}
        self.status = status


class AuthError(ApiError):
    """The token was refused or revoked, or its account deactivated: the session is over."""


class RateLimited(ApiError):
    """HTTP 429 or a ``ratelimited`` frame: try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: float, response: Mapping[str, Any] | None = None) -> None:
        super().__init__("ratelimited", response, status=429)
        self.retry_after = retry_after


class ConnectionLost(FlannelError):
    """The connection closed, or could not be made, before the answer arrived."""


class RequestTimeout(FlannelError, TimeoutError):
    """No answer within the client's ``timeout``."""


class ClientClosed(FlannelError):
    """The client was closed (by the application, or after a fatal error: see ``__cause__``)."""


def api_error(code: str, response: Mapping[str, Any] | None = None, status: int | None = None) -> ApiError:
    """The most specific :class:`ApiError` for ``code``."""
    if code in AUTH_CODES:
        return AuthError(code, response, status=status)
    if code == "ratelimited":
        return RateLimited(_float((response or {}).get("retry_after"), 1.0), response)
    return ApiError(code, response, status=status)


def _float(value: Any, default: float) -> float:
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return default
