"""Route each change-log event to the connections allowed to see it, encoded once.

Who gets what (Slack's rules, membership-based so a thin client hears only its channels):

=====================================================  ====================================
message, message_changed, message_deleted,             members of the channel (reactions:
reaction_added, reaction_removed, pin_added,           ``item.channel``)
pin_removed, file_shared
file_deleted                                           members of every channel in
                                                       ``channel_ids``, plus ``user_id``
file_change                                            ``user_id``'s connections only
member_joined_channel, member_left_channel             members, plus the user who joined
                                                       or left
channel_rename/archive/unarchive/topic/purpose         whoever can see the channel: all for
                                                       a public channel, members otherwise
channel_created                                        everyone for a public channel; the
                                                       event's ``members`` otherwise
team_join, user_change, emoji_changed,                 every connection of the workspace
subteam_created, dnd_updated_user
ephemeral_message                                      ``user``'s connections only (the one
                                                       recipient), if it may see the channel
channel_marked                                         that user's connections only (as
                                                       channel/group/im_marked, with counts)
im_open, im_close, mpim_open, mpim_close, dnd_updated  that user's connections only
token_revoked                                          nobody: that token's connections close
anything else                                          nobody (fail closed)
=====================================================  ====================================

Every recipient must also pass ``can_see(user, channel)`` for channel events: membership is
necessary, visibility is the last word. Route an event *after* the workspace cache applied it,
so ``members_of`` and ``can_see`` describe the workspace as of that event.

Encode once. The event is serialised once and the same bytes object goes to every target. Users
a connection has not been sent travel in a separate ``user_info`` frame just before the event
(see ``delivery.py``), encoded once per distinct set of missing users, rather than as a
``users`` field that would make the event's bytes differ per connection.

A ``channel_created`` reaches everyone only for a public channel by :func:`wire.visibility.is_public`:
a channel object that does not say ``is_private: false`` is private, the rule failing closed.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from flannel.rtm import frames
from flannel.rtm.delivery import Delivery, UserInfo, UserJson
from flannel.rtm.resume import ReadAfter, Resumed, resume
from flannel.rtm.session import QUEUED, WRITTEN, Event, Session, close_for
from wire import mentions
from wire.visibility import is_public


class Access(Protocol):
    """What routing needs from a workspace (the edge's cache implements it, or an adapter)."""

    def can_see(self, user_id: str, channel_id: str) -> bool: ...

    def members_of(self, channel_id: str) -> Collection[str]:
        """The channel's member ids; a set, since routing tests membership one user at a time."""
        ...

    def user(self, user_id: str) -> Mapping[str, Any] | None: ...

    # Optional: ``visible_to_all(channel_id) -> bool``, whether ``can_see`` holds for every
    # user; routing then checks a public channel once per event (see ``_visible_to_all``).


_MEMBERS = frozenset(
    {
        "message",
        "message_changed",
        "message_deleted",
        "reaction_added",
        "reaction_removed",
        "pin_added",
        "pin_removed",
        "file_shared",
    }
)
_MEMBERSHIP = frozenset({"member_joined_channel", "member_left_channel"})
_VISIBLE = frozenset(
    {"channel_rename", "channel_archive", "channel_unarchive", "channel_topic", "channel_purpose"}
)
_TEAM = frozenset({"team_join", "user_change", "emoji_changed", "subteam_created", "dnd_updated_user"})
#: Events about one user's own view (a DM opened or closed): that user's connections only.
_OWN = frozenset({"channel_marked", "im_open", "im_close", "mpim_open", "mpim_close", "dnd_updated"})
#: File events that name their people and channels in their own fields (see wire/events.py):
#: ``file_deleted`` reaches the members of every channel it was shared in and whoever deleted
#: it; ``file_change`` (no channel) reaches only the user who changed it.
_FILE = frozenset({"file_deleted", "file_change"})


@dataclass(slots=True)
class Routed:
    """What one routing did: frames delivered (queued or written straight out), the sessions
    that got them queued (the only ones to wake), and the sessions that must now be closed."""

    delivered: int = 0
    written: int = 0  # of them, written straight to the transport while routing
    closing: list[Session] = field(default_factory=list)
    woken: list[Session] = field(default_factory=list)


def _channel(event: Event) -> str | None:
    if event.get("type") in ("reaction_added", "reaction_removed"):
        item = event.get("item")
        channel: Any = item.get("channel") if isinstance(item, Mapping) else None
    else:
        channel = event.get("channel")
        if isinstance(channel, Mapping):  # channel_rename, channel_created carry the object
            channel = channel.get("id")
    return channel if isinstance(channel, str) else None


def _file_audience(event: Event) -> tuple[list[str], str | None]:
    """The channels and the one user a ``file_deleted`` / ``file_change`` reaches."""
    user = event.get("user_id")
    ids = event.get("channel_ids") if event.get("type") == "file_deleted" else None
    channels = [c for c in ids if isinstance(c, str)] if isinstance(ids, list) else []
    return channels, user if isinstance(user, str) else None


def _is_public(event: Event) -> bool:
    """A ``channel_created`` for a public channel (the one visibility rule: fails closed)."""
    channel = event.get("channel")
    return isinstance(channel, Mapping) and is_public(channel)


def _with_counts(event: Event, access: Access) -> Event:
    """A mark as Slack sends it: with the user's counts after it, which the edge holds (an
    access without read state leaves the event as it is). One recipient: encoded once still."""
    counted = getattr(access, "marked_fields", None)
    channel, user = event.get("channel"), event.get("user")
    if counted is None or not isinstance(channel, str) or not isinstance(user, str):
        return event
    return {**event, **counted(channel, user)}


def _visible_to_all(access: Access, channel_id: str) -> bool:
    """Whether ``can_see`` holds for every user (a public channel), when ``access`` can tell
    at once (``visible_to_all``, optional: :class:`flannel.access.WorkspaceAccess` has it)."""
    everyone = getattr(access, "visible_to_all", None)
    return everyone is not None and bool(everyone(channel_id))


def _subject(event: Event) -> str | None:
    user = event.get("user")
    return user if isinstance(user, str) else None


#: Channels whose recipients a workspace's route cache keeps at most (then it starts afresh).
ROUTES_KEPT = 512


class _Routes:
    """One workspace's recipients of a channel's messages, as routing last worked them out:
    valid for the workspace object it was worked out against, until a session of the workspace
    connects or leaves or an event other than a channel message is routed (any change of
    membership or visibility comes as such an event, applied to the cache before routing)."""

    __slots__ = ("by_channel", "workspace")

    def __init__(self, workspace: weakref.ref[Any]) -> None:
        self.workspace = workspace
        self.by_channel: dict[str, list[Session]] = {}


class Fanout:
    """The connections of this edge, by workspace, user and token; routes events to them."""

    def __init__(
        self,
        encode: Callable[[Any], bytes] = frames.encode,
        users: UserJson | None = None,
        keep_routes: bool = True,
    ) -> None:
        """``users``: each user's JSON encoded once for user_info frames; by default kept when
        ``encode`` is the wire's own (a custom ``encode`` sees every user_info frame whole).
        ``keep_routes``: keep each channel's recipients between its messages (see
        :class:`_Routes`), so a message to thousands of connections does not look each of
        them up in the channel's members again."""
        self._encode = encode
        self._users = users if users is not None or encode is not frames.encode else UserJson()
        self._teams: dict[str, dict[str, set[Session]]] = {}
        self._tokens: dict[str, set[Session]] = {}
        self._keep_routes = keep_routes
        self._routes: dict[str, _Routes] = {}

    # -- registry --------------------------------------------------------------------------

    def add(self, session: Session) -> None:
        self._routes.pop(session.team_id, None)
        self._teams.setdefault(session.team_id, {}).setdefault(session.user_id, set()).add(session)
        if session.token_hash:
            self._tokens.setdefault(session.token_hash, set()).add(session)

    def remove(self, session: Session) -> None:
        self._routes.pop(session.team_id, None)
        users = self._teams.get(session.team_id, {})
        mine = users.get(session.user_id)
        if mine is not None:
            mine.discard(session)
            if not mine:
                del users[session.user_id]
                if not users:
                    del self._teams[session.team_id]
        tokens = self._tokens.get(session.token_hash)
        if tokens is not None:
            tokens.discard(session)
            if not tokens:
                del self._tokens[session.token_hash]

    def sessions(self, team_id: str | None = None) -> list[Session]:
        teams = [self._teams.get(team_id, {})] if team_id is not None else self._teams.values()
        return [s for users in teams for mine in users.values() for s in mine]

    def __len__(self) -> int:
        return sum(len(mine) for users in self._teams.values() for mine in users.values())

    # -- events ----------------------------------------------------------------------------

    def prepare(self, event: Event, access: Access, team_id: str = "") -> Delivery:
        """The event in Slack's shape, encoded and framed once, with what JIT users it needs
        and carries (``team_id``: whose users' kept JSON the user_info frames reuse)."""
        if event.get("type") == "channel_marked":
            event = _with_counts(event, access)
        needs = mentions.referenced_users(event)
        carried = frames.carried_user(event)
        if carried and self._users is not None:
            self._users.forget(team_id, carried)  # the cache holds a new object for it now
        offset = event.get("offset")
        info = None
        if needs:
            kept = self._users.lookup(team_id, access.user) if self._users is not None else None
            info = UserInfo(access.user, self._encode, kept)
        return Delivery(
            offset=offset if isinstance(offset, int) else None,
            frame=self._encode(frames.wire_event(event)),
            needs=needs,
            carries=(carried,) if carried else (),
            user_info=info,
        )

    def reaches(self, user_id: str, event: Event, access: Access) -> bool:
        """Whether ``user_id`` may receive ``event``: the same rules as :meth:`route`."""
        kind = event.get("type")
        if kind in _TEAM:
            return True
        if kind in _OWN:
            return _subject(event) == user_id
        if kind == "ephemeral_message":
            channel = _channel(event)
            return _subject(event) == user_id and channel is not None and access.can_see(user_id, channel)
        if kind in _FILE:
            channels, subject = _file_audience(event)
            return user_id == subject or any(
                user_id in access.members_of(c) and access.can_see(user_id, c) for c in channels
            )
        if kind == "channel_created":
            if _is_public(event):
                return True
            members = event.get("members")
            return isinstance(members, list) and user_id in members
        channel = _channel(event)
        if channel is None:
            return False
        if kind in _VISIBLE:
            return access.can_see(user_id, channel)
        if kind in _MEMBERSHIP and _subject(event) == user_id:
            return True
        if kind in _MEMBERS or kind in _MEMBERSHIP:
            return user_id in access.members_of(channel) and access.can_see(user_id, channel)
        return False

    def route(self, team_id: str, event: Event, access: Access, straight: bool = True) -> Routed:
        """Queue ``event`` on every session of ``team_id`` that may see it; apply its closes.
        ``straight``: write it out at once to the sessions whose outlet takes it (see
        :meth:`Session.push`); False while more events follow in this loop turn, so that a
        connection's frames of one turn go out in one write."""
        routed = Routed()
        users = self._teams.get(team_id)
        if not users:
            return routed
        if event.get("type") in _MEMBERS:
            targets = self._channel_targets(team_id, users, event, access)
        else:
            self._routes.pop(team_id, None)  # membership or visibility may have changed
            targets = self._targets(users, event, access)
        if targets:
            delivery = self.prepare(event, access, team_id)
            woken = routed.woken
            for session in targets:
                if session.close_code is not None:
                    continue
                how = session.push(delivery, straight)
                if how == QUEUED:
                    routed.delivered += 1
                    woken.append(session)
                elif how == WRITTEN:  # already out: nothing to wake
                    routed.delivered += 1
                    routed.written += 1
                else:
                    routed.closing.append(session)
        elif self._users is not None and (carried := frames.carried_user(event)):
            self._users.forget(team_id, carried)
        for session in self._ended_by(team_id, users, event):
            ended = close_for(session, event)
            if ended is not None and session.close_code is None:
                session.close(*ended)
                routed.closing.append(session)
        return routed

    def typing(
        self,
        team_id: str,
        user_id: str,
        channel_id: str,
        access: Access,
        woken: list[Session] | None = None,
    ) -> Routed | None:
        """A ``typing`` of ``user_id`` (on this edge or another) -> ephemeral ``user_typing`` to
        the channel's other members on this edge (``woken`` collects them).

        None when the typist may not post there. Typing is not in the change log: it reaches
        other edges over the ephemeral bus, and each edge calls this for its own connections.
        """
        members = access.members_of(channel_id)
        if not access.can_see(user_id, channel_id) or user_id not in members:
            return None
        routed = Routed()
        users = self._teams.get(team_id, {})
        frame = frames.user_typing(channel_id, user_id, self._encode)
        delivery = Delivery(offset=None, frame=frame, ephemeral=True)
        for member in self._present(users, members):
            if member == user_id or not access.can_see(member, channel_id):
                continue
            for target in users[member]:
                if target.close_code is None and target.deliver(delivery):
                    routed.delivered += 1
                    if woken is not None:
                        woken.append(target)
        return routed

    async def open(
        self,
        session: Session,
        access: Access,
        hello: Mapping[str, Any],
        head: int,
        resume_from: int | None = None,
        read_after: ReadAfter | None = None,
        max_replay: int | None = None,
    ) -> Resumed:
        """Register ``session`` and start it: hello, missed events if resuming, then live.

        Registration happens before the first await, so with ``head`` read just before this
        call no event can fall between the replay and the live feed (see ``resume.py``).
        """
        self.add(session)
        return await resume(
            session,
            hello,
            head,
            resume_from,
            read_after,
            visible=lambda event: self.reaches(session.user_id, event, access),
            prepare=lambda event: self.prepare(event, access, session.team_id),
            max_replay=max_replay,
        )

    # -- targeting -------------------------------------------------------------------------

    def _targets(self, users: dict[str, set[Session]], event: Event, access: Access) -> list[Session]:
        kind = event.get("type")
        if kind in _TEAM or (kind == "channel_created" and _is_public(event)):
            return [s for mine in users.values() for s in mine]
        if kind in _OWN:
            subject = _subject(event)
            return list(users.get(subject, ())) if subject else []
        if kind == "ephemeral_message":  # one recipient, never the channel's other members
            subject, channel = _subject(event), _channel(event)
            if subject is None or channel is None or not access.can_see(subject, channel):
                return []
            return list(users.get(subject, ()))
        if kind in _FILE:
            channels, subject = _file_audience(event)
            chosen_ids = {subject} if subject is not None else set()
            for c in channels:
                chosen_ids.update(
                    u for u in self._present(users, access.members_of(c)) if access.can_see(u, c)
                )
            return [s for uid in chosen_ids for s in users.get(uid, ())]
        if kind == "channel_created":
            members = event.get("members")
            ids: Iterable[str] = members if isinstance(members, list) else ()
            return [s for uid in set(ids) if isinstance(uid, str) for s in users.get(uid, ())]
        channel = _channel(event)
        if channel is None:
            return []
        if kind in _VISIBLE:
            uids: Iterable[str] = users
        elif kind in _MEMBERS or kind in _MEMBERSHIP:
            uids = self._present(users, access.members_of(channel))
        else:
            return []
        if _visible_to_all(access, channel):  # a public channel: one check, not one per user
            chosen = list(uids)
        else:
            chosen = [uid for uid in uids if access.can_see(uid, channel)]
        subject = _subject(event)
        if kind in _MEMBERSHIP and subject is not None and subject not in chosen:
            chosen.append(subject)  # the user who left is no longer a member, but must hear it
        return [s for uid in chosen for s in users.get(uid, ())]

    def _channel_targets(
        self, team_id: str, users: dict[str, set[Session]], event: Event, access: Access
    ) -> list[Session]:
        """:meth:`_targets` of a channel message, kept per channel while nothing changed."""
        channel = _channel(event) if self._keep_routes else None
        if channel is None:
            return self._targets(users, event, access)
        workspace = getattr(access, "ws", access)  # what membership is read from
        routes = self._routes.get(team_id)
        if routes is None or routes.workspace() is not workspace or len(routes.by_channel) >= ROUTES_KEPT:
            routes = self._routes[team_id] = _Routes(weakref.ref(workspace))
        targets = routes.by_channel.get(channel)
        if targets is None:
            targets = routes.by_channel[channel] = self._targets(users, event, access)
        return targets

    @staticmethod
    def _present(users: dict[str, set[Session]], members: Collection[str]) -> Iterable[str]:
        """Members with a connection here, walking whichever side is smaller."""
        if len(members) < len(users):
            return [uid for uid in members if uid in users]
        return [uid for uid in users if uid in members]

    def _ended_by(self, team_id: str, users: dict[str, set[Session]], event: Event) -> Iterable[Session]:
        kind = event.get("type")
        if kind == "token_revoked":
            token = event.get("token_hash")
            found = self._tokens.get(token, ()) if isinstance(token, str) else ()
            return [s for s in found if s.team_id == team_id]  # one workspace's log, its sessions
        if kind == "user_change":
            user = event.get("user")
            if isinstance(user, Mapping) and user.get("deleted") and isinstance(user.get("id"), str):
                return list(users.get(user["id"], ()))
        return []
