"""Read-state Web API methods the edge answers from memory (registered in ``flannel.methods``).

``client.counts`` is Slack's own client's sidebar call: every conversation of the caller with
``last_read``, ``latest``, ``has_unreads``, ``mention_count`` and ``unread_count``, grouped as
``channels``, ``mpims`` and ``ims``. The counts live at the edge (``wire.readstate``), kept
fresh by the change log, so the origin is not asked.

Over HTTP the answer's bytes are kept too (:data:`READ_BODIES`): the workspace keeps each
caller's answer while nothing it depends on moved (:func:`flannel.cache.reads.client_counts`)
and gives back the very same object, so its encoding is kept beside it and reused while the
object is the same.

``conversations.history`` for a channel's latest page is answered from the edge's
:class:`flannel.cache.history.HistoryCache` when it holds that page (:func:`history`): the
origin's own answer, kept until an event of the channel; otherwise the origin answers, and its
answer is kept for the next reader. Only a reader the workspace cache lets see the channel is
answered from memory; anyone else is the origin's to refuse.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from flannel.cache.history import HistoryCache, limit_of
from flannel.origin_client import Forwarded
from wire import http
from wire.args import Args
from wire.mentions import referenced_users

if TYPE_CHECKING:
    from flannel.cache import Workspace

JSON = dict[str, Any]

#: Encoded answers kept (one per caller); past it the table starts over.
MAX_BODIES = 10_000
_bodies: dict[tuple[str, str], tuple[JSON, bytes]] = {}


def client_counts(ws: Workspace, who: Any, args: Args) -> JSON:
    return dict(ws.client_counts(str(who.user_id)))


def client_counts_body(ws: Workspace, who: Any, args: Args) -> bytes:
    """``client.counts`` as the HTTP body (``{"ok":true,...}``), encoded once per answer."""
    user_id = str(who.user_id)
    answer = ws.client_counts(user_id)
    key = (ws.team_id, user_id)
    kept = _bodies.get(key)
    if kept is not None and kept[0] is answer:  # the same object: nothing it says has moved
        return kept[1]
    body = http.ok_body(answer)
    if kept is None and len(_bodies) >= MAX_BODIES:
        _bodies.clear()
    _bodies[key] = (answer, body)
    return body


READ_METHODS: dict[str, Callable[[Workspace, Any, Args], JSON]] = {"client.counts": client_counts}
#: The same methods answered straight as HTTP bodies (:mod:`flannel.webapi` uses these first).
READ_BODIES: dict[str, Callable[[Workspace, Any, Args], bytes]] = {"client.counts": client_counts_body}


#: Methods answered through the edge's history cache (:func:`history`).
HISTORY = "conversations.history"


async def history(
    cache: HistoryCache,
    ws: Workspace | None,
    user_id: str,
    keys: tuple[str, ...],
    args: Mapping[str, Any],
    fetch: Callable[[], Awaitable[Forwarded]],
) -> JSON | Forwarded:
    """``conversations.history``: the latest page from memory (the answer without ``ok``),
    or the origin's answer as it came (``fetch``), kept when it is a latest page.

    ``ws`` is the workspace once it has applied the caller's own writes (None while it is
    behind: the origin answers, nothing is kept); ``keys`` the caller's ids (as
    :mod:`flannel.writes` names them): one that just wrote without an offset is answered by
    the origin (:meth:`HistoryCache.writing`). The caller must be one the cache lets see
    the channel; other readers, other pages (a cursor, ``latest``, ``oldest``...) and limits
    the origin would refuse go to the origin untouched.
    """
    channel = args.get("channel")
    limit = limit_of(args)
    if ws is None or limit is None or not isinstance(channel, str) or not ws.can_see(user_id, channel):
        return await fetch()
    found = None if cache.writing(keys, time.monotonic()) else cache.get(ws, channel, limit, time.monotonic())
    if found is not None:
        return found
    pending = cache.begin(ws.team_id, channel)
    answer: JSON | None = None
    try:
        forwarded = await fetch()
        if forwarded.status == 200 and forwarded.body[:20].find(b'"ok":true') >= 0:
            decoded = orjson.loads(forwarded.body)
            answer = decoded if isinstance(decoded, dict) else None
        return forwarded
    finally:
        cache.end(pending, ws, limit, answer, time.monotonic())


def history_users(ws: Workspace, known: set[str], answer: Mapping[str, Any]) -> list[JSON]:
    """The users a history page shows (each message's sender and ``<@U..>`` mentions, as
    :func:`wire.mentions.referenced_users` says for a message event) that a connection was not
    sent yet (``known``): sent in a ``user_info`` frame just ahead of the page over the
    WebSocket, as the fanout does ahead of an event, so a client draws the page without a
    ``users.info`` round trip. Each once, in page order; unknown ids are left out."""
    messages = answer.get("messages") if answer.get("ok") is True else None
    if not isinstance(messages, list):
        return []
    wanted: dict[str, None] = {}
    for message in messages:
        if isinstance(message, Mapping):
            wanted.update(dict.fromkeys(referenced_users(message)))
    found, _ = ws.users(u for u in wanted if u not in known)
    return found
