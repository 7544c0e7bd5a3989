"""``users.conversations`` from memory: the edge knows every membership.

The conversations ``user`` (the caller by default) is a member of, as far as the *caller* may
see them (:func:`wire.visibility`'s one rule, through the workspace's ``can_see``): another
user's private channels and DMs stay hidden unless the caller is in them too. Ordered by id
and paged with the origin's cursors, so a client may page here and continue at the origin.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import TYPE_CHECKING, Any

from flannel.cache import CacheError, Workspace
from wire import cursors
from wire.args import Args
from wire.cursors import metadata, page
from wire.errors import SlackError, invalid_arguments
from wire.visibility import CONVERSATION_TYPES, type_of

if TYPE_CHECKING:
    from flannel.methods import Who

JSON = dict[str, Any]


def conversation_types(args: Args) -> set[str]:
    """``types`` (comma-separated :data:`CONVERSATION_TYPES`; ``public_channel`` by default)."""
    raw = args.opt_string("types") or "public_channel"
    types = {t.strip() for t in raw.split(",") if t.strip()}
    if not types or types - set(CONVERSATION_TYPES):
        raise invalid_arguments("types", f"unknown type(s); use {CONVERSATION_TYPES}")
    return types


def users_conversations(ws: Workspace, who: Who, args: Args) -> JSON:
    user = args.id("user", "user_not_found") if "user" in args else who.user_id
    if ws.find_user(user) is None:
        raise SlackError("user_not_found")
    types = conversation_types(args)
    exclude_archived = args.flag("exclude_archived")
    limit, after = page(args, "conv", 100)
    ids = sorted(ws.channels_of(user))
    out: list[JSON] = []
    more = False
    for channel_id in ids[bisect_right(ids, after) if after else 0 :]:
        if not ws.can_see(who.user_id, channel_id):
            continue
        try:
            channel = ws.conversation(who.user_id, channel_id)
        except CacheError:
            continue
        if type_of(channel) not in types or (exclude_archived and channel.get("is_archived")):
            continue
        if len(out) == limit:
            more = True
            break
        out.append(channel)
    next_after = out[-1]["id"] if more and out else None
    return {"channels": out, **metadata(cursors.encode("conv", next_after) if next_after else None)}
