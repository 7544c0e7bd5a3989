"""The first screen of a browser page, for the router to inline in the page it serves.

A page that renders from data it came with shows its sidebar and first channel without a
WebSocket round trip: the router asks this edge (``POST /internal/first_screen``, the
service secret plus the user's token) while serving the page, and inlines the answer. It is
what a socket opening now would be sent first, from the same code: the hello
(:meth:`flannel.edge.Edge.hello_of`, positioned at the workspace's offset), the first
channel's latest page (``conversations.history`` as a WebSocket query answers it:
:meth:`flannel.edge.Edge.call_as`, so through the history cache) and the users that page and
the sidebar's DMs show (as the ``user_info`` frame ahead of a page would carry them:
:func:`flannel.read_methods.history_users`). The page's socket then resumes from the hello's
offset: every event after it is replayed, none is lost between the page and the socket.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flannel.methods import Who
from flannel.read_methods import HISTORY, history_users
from flannel.rtm import admission
from flannel.rtm.hello import positioned
from wire.errors import SlackError

if TYPE_CHECKING:
    from flannel.edge import Edge

JSON = dict[str, Any]
#: The first channel's page: as many messages as the page asks when it opens a channel.
PAGE = 40


def first_channel(channels: Sequence[Mapping[str, Any]], wanted: str | None) -> str | None:
    """The channel a page opens first: the one it showed last (``wanted``, from its cookie)
    while the user is still in it and it is not archived; else #general; else None (the page
    then picks one itself, and asks over its socket)."""
    general = None
    for channel in channels:
        if channel.get("is_archived"):
            continue
        if wanted is not None and channel.get("id") == wanted:
            return wanted
        if general is None and channel.get("name") == "general" and not channel.get("is_im"):
            if not channel.get("is_mpim"):
                general = str(channel["id"])
    return general


async def first_screen(edge: Edge, token: str | None, wanted: str | None) -> JSON:
    """``{hello, channel, history, users}`` for the caller of ``token``; ``channel`` and
    ``history`` are None when there is no channel to open first. Refused (a
    :class:`SlackError`) as a socket opening now would be: a revoked token, a deactivated user."""
    caller = await edge.authenticate(token)
    ws = await edge.caught_up(caller.team_id, caller.user_id)
    refusal = admission.on_workspace(caller.token_hash, edge.revoked, ws.find_user(caller.user_id))
    if refusal is not None:
        raise SlackError(refusal.error, refusal.msg)
    offset = ws.offset  # before the history read: an event the page may lack is replayed after it
    hello = positioned(edge.hello_of(ws, caller.user_id), offset, False, None)
    channels: list[JSON] = hello["channels"]
    channel = first_channel(channels, wanted)
    page: JSON | None = None
    known = {caller.user_id}
    users: list[JSON] = []
    if channel is not None:
        page = await edge.call_as(
            Who(caller.team_id, caller.user_id), HISTORY, {"channel": channel, "limit": PAGE}
        )
        if page.get("ok") is not True:
            channel, page = None, None  # the page asks it over its socket, and shows why
        else:
            users = history_users(ws, known, page)
            known.update(u["id"] for u in users)
    partners = [
        str(c["user"]) for c in channels if c.get("is_im") and c.get("user") and c["user"] not in known
    ]
    found, _ = ws.users(dict.fromkeys(partners))
    return {"hello": hello, "channel": channel, "history": page, "users": [*users, *found]}
