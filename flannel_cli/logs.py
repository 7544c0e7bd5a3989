"""Structured logs for every service: one JSON object a line, with request and connection ids.

``AccessLog`` wraps any ASGI app (the CLI wraps each service's): it gives every HTTP request
and WebSocket connection an id, keeps it in a context variable so that every log line written
while serving it carries it, and logs one line when it ends. It logs paths without query
strings and never a header. Other loggers (uvicorn's own "WebSocket /rtm?ticket=..." lines,
libraries) pass through :class:`Redact`, so no token or ticket reaches the logs from anywhere.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import re
import secrets
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

import orjson

# The ids of the request / connection being served, as counter values: formatted (see
# :func:`format_id`) only when a line is written, so serving with logging off costs no formatting.
request_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("request_id", default=None)
connection_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("connection_id", default=None)
_PREFIX = secrets.token_hex(3)  # per process: ids are unique across its services
_COUNTER = itertools.count(1)
T = TypeVar("T")


def format_id(value: int) -> str:
    """An id as logged: the process's random prefix and the counter (12 hex digits)."""
    return f"{_PREFIX}{value & 0xFFFFFF:06x}"


_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "color_message",
}


_SECRET = re.compile(
    r"((?:ticket|token|secret|password|code)=)[^&\s\"']+|\bxox[abposr]-[A-Za-z0-9-]+|"
    r"(Bearer\s+)[^\s\"']+",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """``text`` with every ticket, token, secret or bearer credential replaced."""
    return _SECRET.sub(lambda m: (m.group(1) or m.group(2) or "") + "[redacted]", text)


class Redact(logging.Filter):
    """Rewrites a record whose message would carry a credential (a query string with
    ``ticket=`` or ``token=``, a Slack-style token, a bearer header) before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, var in (("request_id", request_id), ("connection_id", connection_id)):
            value = var.get()
            if value:
                out[key] = format_id(value)
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def configure(service: str, level: str = "info", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(Redact())
    if fmt == "json":
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # AccessLog writes the access lines


class AccessLog:
    """ASGI middleware: ids, and one structured line per request or connection.

    Ids are a per-process random prefix and a counter (12 hex digits): unique, and far cheaper
    than random bytes per request. Only the counter's value is kept per request; it is
    formatted when a line is written. When the access logger's level is off, only that value
    is set.
    """

    def __init__(self, app: Any, service: str) -> None:
        self.app = app
        self.service = service
        self.log = logging.getLogger(f"flannel.{service}.access")
        self._counter = _COUNTER

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)  # e.g. ``app.state`` of the wrapped Starlette app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        var = request_id if kind == "http" else connection_id
        token = var.set(next(self._counter))
        if not self.log.isEnabledFor(logging.INFO):
            try:
                await self.app(scope, receive, send)
            finally:
                var.reset(token)
            return
        # One clock read of our own: the record's ``created`` (which logging reads anyway)
        # ends the interval. The record is made directly: the caller is always this line, so
        # logging's stack walk (findCaller) is skipped.
        started = time.time()
        status: list[int] = []

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            elif message["type"] == "websocket.close":
                status.append(int(message.get("code", 1000)))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.line(
                scope.get("method", "WS"), scope.get("path", ""), status[0] if status else None, started
            )
            var.reset(token)

    def line(self, method: str, path: str, status: int | None, started: float) -> None:
        """The access line of a request or connection that began at ``started`` (``time.time``)."""
        log = self.log
        record = log.makeRecord(log.name, logging.INFO, __file__, 0, "%s %s", (method, path), None)
        record.status = status
        record.ms = max(0.0, round((record.created - started) * 1000, 2))
        log.handle(record)

    def answer(
        self, method: str, path: str, answer: Callable[[], T | None], status: Callable[[T], int]
    ) -> T | None:
        """``answer()`` called as :meth:`__call__` calls the app for an HTTP request: under a
        request id of its own, its line logged (the same fields) when it answers; nothing
        logged when it does not (None: the request then takes the ASGI path, under an id of
        its own). The HTTP protocol's quick path answers through this
        (``flannel_cli.http_protocol``)."""
        token = request_id.set(next(self._counter))
        try:
            if not self.log.isEnabledFor(logging.INFO):
                return answer()
            started = time.time()
            got = answer()
            if got is not None:
                self.line(method, path, status(got), started)
            return got
        finally:
            request_id.reset(token)
