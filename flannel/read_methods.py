"""Read-state Web API methods the edge answers from memory (registered in ``flannel.methods``).

``client.counts`` is Slack's own client's sidebar call: every conversation of the caller with
``last_read``, ``latest``, ``has_unreads``, ``mention_count`` and ``unread_count``, grouped as
``channels``, ``mpims`` and ``ims``. The counts live at the edge (``wire.readstate``), kept
fresh by the change log, so the origin is not asked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wire.args import Args

if TYPE_CHECKING:
    from flannel.cache import Workspace

JSON = dict[str, Any]


def client_counts(ws: Workspace, who: Any, args: Args) -> JSON:
    return dict(ws.client_counts(str(who.user_id)))


READ_METHODS: dict[str, Callable[[Workspace, Any, Args], JSON]] = {"client.counts": client_counts}
