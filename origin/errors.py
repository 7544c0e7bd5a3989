"""Errors in Slack's style: a short code the client can switch on, plus an optional detail."""

from __future__ import annotations


class SlackError(Exception):
    """An API error answered as ``{"ok": false, "error": code}``."""

    def __init__(self, code: str, detail: str | None = None, status: int = 200) -> None:
        super().__init__(code if detail is None else f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.status = status


class RateLimited(SlackError):
    def __init__(self, retry_after: int) -> None:
        super().__init__("ratelimited", status=429)
        self.retry_after = retry_after


def invalid_arguments(arg: str, why: str) -> SlackError:
    return SlackError("invalid_arguments", f"{arg}: {why}")
