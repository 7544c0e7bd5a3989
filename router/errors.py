"""Slack-style errors the router answers with: ``{"ok": false, "error": code}`` and a status."""

from __future__ import annotations


class RouterError(Exception):
    """``code`` is Slack's error string; ``retry_after`` (seconds) makes it a 429 answer."""

    def __init__(
        self, code: str, status: int = 200, detail: str = "", retry_after: int | None = None
    ) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.status = status
        self.detail = detail
        self.retry_after = retry_after


def ratelimited(retry_after: int) -> RouterError:
    return RouterError("ratelimited", 429, f"retry after {retry_after}s", retry_after)
