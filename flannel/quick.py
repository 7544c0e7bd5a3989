"""The Web API calls the edge can answer without an await, for the HTTP protocol's quick path.

Most of the edge's calls are reads answered from memory (a cached token, a loaded workspace
that has caught up): no I/O at all. On uvicorn's ASGI path each still pays for a scope dict,
a Task, the receive and send coroutines and two ASGI messages, which cost more than the
answer. :class:`QuickApi` is the decision the HTTP protocol (``flannel_cli.http_protocol``)
asks when a whole request is in: the answer, as status, headers and body, or None, and then
the request takes the ASGI path unchanged. It answers with :func:`flannel.webapi.answer_now`,
the same steps :func:`flannel.webapi.dispatch` takes, and counts the call in the same metric;
a None has changed nothing (no count, no rate-limit spent), so nothing is counted twice.
"""

from __future__ import annotations

from time import perf_counter

from flannel.edge import Edge
from flannel.methods import LOCAL
from flannel.metrics import EdgeMetrics
from flannel.webapi import Header, answer_headers, answer_now, form_args, header_values
from wire.errors import SlackError

API_PREFIX = "/api/"
#: What the protocol sends: status, headers (as an ASGI app would give them), body.
Reply = tuple[int, list[Header], bytes]


def api_name(path: str) -> str | None:
    """The method ``/api/<method>`` names, as the Starlette route would match it (one path
    segment), or None: not a Web API call, or ``files.upload`` (its multipart body may be
    streamed to the origin by the Starlette route)."""
    if not path.startswith(API_PREFIX):
        return None
    name = path[len(API_PREFIX) :]
    if not name or "/" in name or name == "files.upload":
        return None
    return name


class QuickApi:
    """The edge's answer to a complete GET or POST to ``/api/<method>`` when it needs no
    await, or None (see the module's docstring)."""

    __slots__ = ("edge", "metrics", "paths")

    def __init__(self, edge: Edge, metrics: EdgeMetrics) -> None:
        self.edge = edge
        self.metrics = metrics
        #: The raw paths worth holding a request for: the methods :func:`answer_now` may answer.
        self.paths = frozenset(f"{API_PREFIX}{name}".encode() for name in LOCAL if name != "auth.test")

    def answer(
        self, method: str, path: str, query: bytes, headers: list[Header], body: bytes
    ) -> Reply | None:
        """``method`` (GET or POST) to ``path`` (decoded, below no root path) with ``query``
        (raw, without the ``?``), the raw ``headers`` (names lowercased) and the whole body."""
        name = api_name(path)
        if name is None or name not in LOCAL or method not in ("GET", "POST"):
            return None
        started = perf_counter()
        wanted = header_values(headers)
        try:
            values = form_args(method, query, wanted, body)
        except SlackError:  # dispatch's answer too, but leave the rare error to it
            return None
        answered = answer_now(self.edge, name, values, wanted)
        if answered is None:
            return None
        self.metrics.observe(name, answered[3], perf_counter() - started, answered[4])
        return answered[1], answer_headers(answered), answered[0]
