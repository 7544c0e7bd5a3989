"""The metadata of one workspace as a plain value, and how each change-log event moves it.

This is the reference meaning of the event schema (``wire/events.py``): applying the
events after offset X to ``snapshot(X)`` gives ``snapshot(now)``. The edge's cache applies
events with the same rules. Events about messages (ephemeral ones too), reactions, pins,
marks, a member's open or closed DMs, custom emoji and user groups leave this state as it is:
they have no handler here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wire.readstate import ReadState

JSON = dict[str, Any]


@dataclass
class WorkspaceState:
    """One workspace's users, channels and memberships at change-log ``offset``, as plain data.

    It is what the event schema *means*: the origin's snapshot, folded page by page with
    :meth:`add_page`, plus every later event through :meth:`apply`, must equal the snapshot taken
    now. Tests hold the origin to that, and the edge's cache is checked against it, so the two
    can never disagree about an event. :meth:`apply` refuses a gap (the caller resyncs) and
    ignores a duplicate (the log delivers at least once).
    """

    team: JSON
    offset: int
    users: dict[str, JSON] = field(default_factory=dict)
    channels: dict[str, JSON] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)
    #: Read state (``wire.readstate``): windows of recent messages and ``last_read`` cursors.
    #: Not compared: a window that lost messages to deletions holds fewer than a fresh snapshot.
    reads: ReadState = field(default_factory=ReadState, compare=False, repr=False)

    def add_page(self, page: JSON) -> None:
        """Fold one page of a snapshot stream into the state."""
        kind = page["type"]
        if self.reads.add_page(page):
            return
        if kind == "users":
            for user in page["items"]:
                self.users[user["id"]] = user
        elif kind == "channels":
            for channel in page["items"]:
                self.channels[channel["id"]] = channel
                self.members.setdefault(channel["id"], set())
        elif kind == "members":
            for channel_id, user_id in page["items"]:
                self.members.setdefault(channel_id, set()).add(user_id)

    def apply(self, event: JSON) -> bool:
        """Apply one event; False if it is not the next offset (the caller must resync)."""
        offset = int(event["offset"])
        if offset <= self.offset:
            return True  # already seen: the log may deliver a duplicate, it is a no-op
        if offset != self.offset + 1:
            return False
        self.offset = offset
        self.reads.apply(event)
        handler = _HANDLERS.get(event["type"])
        if handler is not None:
            handler(self, event)
        return True


def _user(state: WorkspaceState, event: JSON) -> None:
    state.users[event["user"]["id"]] = event["user"]


def _channel_created(state: WorkspaceState, event: JSON) -> None:
    channel = event["channel"]
    state.channels[channel["id"]] = channel
    state.members[channel["id"]] = set(event.get("members", []))


def _rename(state: WorkspaceState, event: JSON) -> None:
    channel = state.channels.get(event["channel"]["id"])
    if channel is not None:
        channel["name"] = channel["name_normalized"] = event["channel"]["name"]
        channel["is_general"] = channel["name"] == "general"


def _archive(archived: bool) -> Any:
    def apply(state: WorkspaceState, event: JSON) -> None:
        channel = state.channels.get(event["channel"])
        if channel is not None:
            channel["is_archived"] = archived

    return apply


def _text(field_name: str) -> Any:
    def apply(state: WorkspaceState, event: JSON) -> None:
        channel = state.channels.get(event["channel"])
        if channel is not None:
            channel[field_name] = event[field_name]

    return apply


def _membership(joined: bool) -> Any:
    def apply(state: WorkspaceState, event: JSON) -> None:
        members = state.members.setdefault(event["channel"], set())
        if joined:
            members.add(event["user"])
        else:
            members.discard(event["user"])
        channel = state.channels.get(event["channel"])
        if channel is not None:
            channel["num_members"] = len(members)

    return apply


_HANDLERS: dict[str, Any] = {
    "team_join": _user,
    "user_change": _user,
    "channel_created": _channel_created,
    "channel_rename": _rename,
    "channel_archive": _archive(True),
    "channel_unarchive": _archive(False),
    "channel_topic": _text("topic"),
    "channel_purpose": _text("purpose"),
    "member_joined_channel": _membership(True),
    "member_left_channel": _membership(False),
}
