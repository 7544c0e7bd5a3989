"""Builders shared by the cache tests: origin-shaped users, conversations, events, snapshot pages.

The shapes follow ``origin/models.py`` and ``wire/events.py``; a reference
:class:`~wire.state.WorkspaceState` plays the origin, so no server is needed.
"""

from __future__ import annotations

import copy
from typing import Any

from wire.state import WorkspaceState

JSON = dict[str, Any]
TEAM = {"id": "T1", "name": "Test Team", "domain": "test"}


def user(uid: str, name: str, real_name: str = "", display: str = "", deleted: bool = False) -> JSON:
    first, _, last = real_name.partition(" ")
    return {
        "id": uid,
        "team_id": "T1",
        "name": name,
        "deleted": deleted,
        "real_name": real_name,
        "tz": "UTC",
        "is_admin": False,
        "is_bot": False,
        "is_app_user": False,
        "updated": 1700000000,
        "profile": {
            "display_name": display,
            "real_name": real_name,
            "title": "",
            "email": f"{name}@example.com",
            "first_name": first,
            "last_name": last,
        },
    }


def conversation(
    cid: str,
    name: str | None,
    kind: str = "channel",
    private: bool = False,
    archived: bool = False,
    members: tuple[str, ...] = (),
) -> JSON:
    obj: JSON = {
        "id": cid,
        "context_team_id": "T1",
        "created": 1700000000,
        "creator": members[0] if members else "U1",
        "is_archived": archived,
        "is_channel": kind == "channel",
        "is_group": False,
        "is_im": kind == "im",
        "is_mpim": kind == "mpim",
        "is_private": private or kind != "channel",
        "is_general": name == "general",
        "num_members": len(members),
    }
    if kind in ("channel", "mpim"):
        obj["name"] = obj["name_normalized"] = name
        obj["topic"] = {"value": "", "creator": "", "last_set": 0}
        obj["purpose"] = {"value": "", "creator": "", "last_set": 0}
    if kind in ("im", "mpim"):
        obj["members_key"] = ",".join(sorted(members))
    return obj


def pages_of(state: WorkspaceState, size: int = 2) -> list[JSON]:
    """The snapshot stream the origin would send for ``state`` (small pages to exercise paging)."""
    users = [copy.deepcopy(state.users[u]) for u in sorted(state.users)]
    channels = [copy.deepcopy(state.channels[c]) for c in sorted(state.channels)]
    members = [[c, u] for c in sorted(state.members) for u in sorted(state.members[c])]
    out: list[JSON] = [{"type": "header", "team": dict(state.team), "offset": state.offset}]
    for kind, items in (("users", users), ("channels", channels), ("members", members)):
        out.extend({"type": kind, "items": items[i : i + size]} for i in range(0, len(items), size))
    out.extend(state.reads.pages())  # read state: windows and cursors (wire.readstate)
    out.append({"type": "end", "users": len(users), "channels": len(channels), "members": len(members)})
    return out


def base_state() -> WorkspaceState:
    """alice, bob, carol and a deactivated dave; #general (all), a private channel (alice,
    bob), an archived public channel (carol), a DM alice-bob and a group DM of the three."""
    state = WorkspaceState(dict(TEAM), 10)
    for u in (
        user("U1", "alice", "Alice Smith", "ally"),
        user("U2", "bob", "Bob Jones"),
        user("U3", "carol", "Carol Smithers", "cc"),
        user("U4", "dave", "Dave Smith", deleted=True),
    ):
        state.users[u["id"]] = u
    for c, members in (
        (conversation("C1", "general", members=("U1", "U2", "U3")), ("U1", "U2", "U3")),
        (conversation("G1", "secret-plans", private=True, members=("U1", "U2")), ("U1", "U2")),
        (conversation("C2", "old-stuff", archived=True, members=("U3",)), ("U3",)),
        (conversation("D1", None, "im", members=("U1", "U2")), ("U1", "U2")),
        (conversation("G2", "mpdm-U1--U2--U3-1", "mpim", members=("U1", "U2", "U3")), ("U1", "U2", "U3")),
    ):
        state.channels[c["id"]] = c
        state.members[c["id"]] = set(members)
    return state


def event(offset: int, kind: str, **fields: Any) -> JSON:
    return {"type": kind, "offset": offset, "team": "T1", "event_ts": "1700000000.000100", **fields}
