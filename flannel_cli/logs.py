"""Structured logs for every service: one JSON object a line, with request and connection ids.

``AccessLog`` wraps any ASGI app (the CLI wraps each service's): it gives every HTTP request
and WebSocket connection an id, keeps it in a context variable so that every log line written
while serving it carries it, and logs one line when it ends. It logs paths without query
strings and never a header, so no token or ticket reaches the logs.
"""

from __future__ import annotations

import contextvars
import logging
import secrets
import sys
import time
from typing import Any

import orjson

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
connection_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("connection_id", default=None)

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "color_message",
}


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
                out[key] = value
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def configure(service: str, level: str = "info", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
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
    """ASGI middleware: ids, and one structured line per request or connection."""

    def __init__(self, app: Any, service: str) -> None:
        self.app = app
        self.service = service
        self.log = logging.getLogger(f"flannel.{service}.access")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)  # e.g. ``app.state`` of the wrapped Starlette app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        ident = secrets.token_hex(6)
        var = request_id if kind == "http" else connection_id
        token = var.set(ident)
        started = time.perf_counter()
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
            self.log.info(
                "%s %s",
                scope.get("method", "WS"),
                scope.get("path", ""),
                extra={
                    "status": status[0] if status else None,
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            var.reset(token)
