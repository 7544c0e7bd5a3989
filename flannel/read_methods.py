"""Read-state Web API methods the edge answers from memory (registered in ``flannel.methods``).

``client.counts`` is Slack's own client's sidebar call: every conversation of the caller with
``last_read``, ``latest``, ``has_unreads``, ``mention_count`` and ``unread_count``, grouped as
``channels``, ``mpims`` and ``ims``. The counts live at the edge (``wire.readstate``), kept
fresh by the change log, so the origin is not asked.

Over HTTP the answer's bytes are kept too (:data:`READ_BODIES`): the workspace keeps each
caller's answer while nothing it depends on moved (:func:`flannel.cache.reads.client_counts`)
and gives back the very same object, so its encoding is kept beside it and reused while the
object is the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wire import http
from wire.args import Args

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
