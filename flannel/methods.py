"""Web API methods the edge answers from memory; everything else goes to the origin.

The same table serves HTTP (``/api/<method>``) and WebSocket queries. Cursors are the
origin's (``wire.cursors``), so a client may page at the edge and continue at the origin.

Over HTTP the user methods are answered straight as bytes (:data:`BODIES`): each user's JSON
is encoded once and kept by the workspace itself until it replaces that user's object (a
``user_change`` or ``team_join``: :meth:`flannel.cache.queries.Queries.users_json`), and an
answer is joined from those bytes, identical to encoding the method's result. Kept in the
workspace, a user's JSON is one dict get by id (no second table to check against the user's
object), goes when the workspace is evicted or reloaded, and counts in its memory estimate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from flannel.cache import CacheError, Workspace
from flannel.read_methods import READ_BODIES, READ_METHODS
from flannel.user_conversations import users_conversations
from wire import cursors
from wire.args import Args
from wire.cursors import metadata, page
from wire.errors import SlackError, invalid_arguments
from wire.visibility import CONVERSATION_TYPES

JSON = dict[str, Any]


@dataclass(frozen=True)
class Who:
    """The caller a method answers for: their workspace and user."""

    team_id: str
    user_id: str


Local = Callable[[Workspace, Who, Args], JSON]


def _next(kind: str, after: str | None) -> JSON:
    """The origin's cursor for the page after ``after`` (so paging may continue at either)."""
    return metadata(cursors.encode(kind, after) if after else None)


def _prefix(args: Args) -> tuple[str, int]:
    """A quick-switcher search: ``query`` (or ``prefix``) and ``limit``."""
    name = "query" if "query" in args else "prefix"
    return args.string(name, max_len=200), args.integer("limit", 10, 1, 100, error="invalid_limit")


def users_info(ws: Workspace, who: Who, args: Args) -> JSON:
    if "users" in args:
        found, missing = ws.users(args.items("users", max_items=1000))
        if missing:
            raise SlackError("users_not_found", ",".join(missing))
        return {"users": found}
    return {"user": ws.user(args.id("user", "user_not_found"))}


def users_list(ws: Workspace, who: Who, args: Args) -> JSON:
    limit, after = page(args, "user", 200)
    channel = args.id("channel", "channel_not_found") if "channel" in args else None
    members, next_after = ws.list_users(who.user_id, limit, after, channel)
    return {"members": members, "cache_ts": 0, **_next("user", next_after)}


def users_search(ws: Workspace, who: Who, args: Args) -> JSON:
    query, limit = _prefix(args)
    return {"users": ws.search_users(query, limit)}


def conversations_info(ws: Workspace, who: Who, args: Args) -> JSON:
    return {"channel": ws.conversation(who.user_id, args.id("channel", "channel_not_found"))}


def conversations_list(ws: Workspace, who: Who, args: Args) -> JSON:
    raw = args.opt_string("types") or "public_channel"
    types = {t.strip() for t in raw.split(",") if t.strip()}
    if not types or types - set(CONVERSATION_TYPES):
        raise invalid_arguments("types", f"unknown type(s); use {CONVERSATION_TYPES}")
    limit, after = page(args, "conv", 100)
    channels, next_after = ws.list_conversations(
        who.user_id, types, args.flag("exclude_archived"), limit, after
    )
    return {"channels": channels, **_next("conv", next_after)}


def conversations_members(ws: Workspace, who: Who, args: Args) -> JSON:
    limit, after = page(args, "member", 100)
    ids, next_after = ws.members(who.user_id, args.id("channel", "channel_not_found"), limit, after)
    return {"members": ids, **_next("member", next_after)}


def conversations_search(ws: Workspace, who: Who, args: Args) -> JSON:
    query, limit = _prefix(args)
    return {"channels": ws.search_conversations(who.user_id, query, limit)}


def auth_test(ws: Workspace, who: Who, args: Args) -> JSON:
    me = ws.user(who.user_id)
    team = ws.team
    bot = {"bot_id": "B" + me["id"][1:]} if me.get("is_bot") else {}
    url = f"https://{team.get('domain', 'flannel')}.flannel.invalid/"
    return {
        **bot,
        "url": url,
        "team": team.get("name"),
        "user": me["name"],
        "team_id": who.team_id,
        "user_id": who.user_id,
        "is_enterprise_install": False,
    }


LOCAL: dict[str, Local] = {
    "users.info": users_info,
    "users.list": users_list,
    "users.search": users_search,
    "conversations.info": conversations_info,
    "conversations.list": conversations_list,
    "conversations.members": conversations_members,
    "conversations.search": conversations_search,
    "auth.test": auth_test,
    "users.conversations": users_conversations,
    **READ_METHODS,  # client.counts (flannel.read_methods)
}


def answer(method: Local, ws: Workspace, who: Who, args: Args) -> JSON:
    """Run a local method; cache errors become Slack errors."""
    try:
        return method(ws, who, args)
    except CacheError as exc:
        raise _slack_error(exc) from None


def _slack_error(exc: CacheError) -> SlackError:
    return SlackError("invalid_arguments" if exc.code == "invalid_types" else exc.code)


# -- the same answers as HTTP bodies, joined from each user's JSON kept ---------------------

LocalBody = Callable[[Workspace, Who, Args], bytes]


def _users_array(head: bytes, ws: Workspace, user_ids: Iterable[str], tail: bytes = b"]}") -> bytes:
    """``head``, the JSON of the users of ``user_ids`` as a JSON array's inside, ``tail``;
    every id is one the workspace holds (else ``users_not_found``, naming those it lacks)."""
    found, missing = ws.users_json(user_ids)
    if missing:
        raise SlackError("users_not_found", ",".join(missing))
    return b"".join((head, b",".join(found), tail))


def users_info_body(ws: Workspace, who: Who, args: Args) -> bytes:
    if "users" in args:  # each id once, in request order
        return _users_array(_USERS, ws, dict.fromkeys(args.items("users", max_items=1000)))
    user = ws.user(args.id("user", "user_not_found"))
    return b'{"ok":true,"user":' + ws.users_json((user["id"],))[0][0] + b"}"


def users_search_body(ws: Workspace, who: Who, args: Args) -> bytes:
    query, limit = _prefix(args)
    return _users_array(_USERS, ws, ws.search_user_ids(query, limit))


def users_list_body(ws: Workspace, who: Who, args: Args) -> bytes:
    limit, after = page(args, "user", 200)
    channel = args.id("channel", "channel_not_found") if "channel" in args else None
    members, next_after = ws.list_users(who.user_id, limit, after, channel)
    rest = orjson.dumps({"cache_ts": 0, **_next("user", next_after)})  # {"cache_ts":0,...}
    ids = [member["id"] for member in members]
    return _users_array(b'{"ok":true,"members":[', ws, ids, b"]," + rest[1:])


_USERS = b'{"ok":true,"users":['


#: Methods of :data:`LOCAL` answered as the HTTP body itself (``{"ok":true,...}``).
BODIES: dict[str, LocalBody] = {
    "users.info": users_info_body,
    "users.search": users_search_body,
    "users.list": users_list_body,
    **READ_BODIES,  # client.counts (flannel.read_methods)
}


def answer_body(method: LocalBody, ws: Workspace, who: Who, args: Args) -> bytes:
    """Run a method of :data:`BODIES`; cache errors become Slack errors."""
    try:
        return method(ws, who, args)
    except CacheError as exc:
        raise _slack_error(exc) from None
