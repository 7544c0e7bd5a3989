"""Errors in Slack's style: a short code the client can switch on, plus an optional detail.

Every part answers with these (origin, edge, router), so one class carries what an HTTP answer
needs: Slack answers every error with HTTP 200 except rate limiting (429 with ``Retry-After``).
"""

from __future__ import annotations


class SlackError(Exception):
    """An API error answered as ``{"ok": false, "error": code}`` (with HTTP ``status``)."""

    def __init__(self, code: str, detail: str | None = None, status: int = 200) -> None:
        super().__init__(code if detail is None else f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.status = status
        self.retry_after: int | None = None


class RateLimited(SlackError):
    """HTTP 429 with ``Retry-After: retry_after`` (seconds), as Slack rate limits."""

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__("ratelimited", detail, status=429)
        self.retry_after = retry_after


def invalid_arguments(arg: str, why: str) -> SlackError:
    return SlackError("invalid_arguments", f"{arg}: {why}")
