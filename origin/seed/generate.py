"""The pure half of seeding: a seed and a team id in, the workspace's rows out.

Content (names, memberships, texts) comes from RNGs keyed by the seed alone, one per
phase, so two workspaces seeded alike look alike and changing ``--messages`` leaves the
users and channels as they were. Ids come from an RNG keyed by the seed *and* the team id:
reproducible, yet a second workspace seeded into the same database does not collide.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Any

import orjson

from origin.models import default_profile, text_object
from origin.seed.names import (
    CHANNEL_PREFIXES,
    CHANNEL_TOPICS,
    FIRST_NAMES,
    LAST_NAMES,
    PURPOSES,
    TIME_ZONES,
    TITLES,
    handle,
)
from wire.ids import _ALPHABET

Row = tuple[Any, ...]
DAY_S = 86_400
TOKEN_USERS = 5
BIG_CHANNELS = 5
MAX_IMS = 5_000
MAX_MPIMS = 50
PRIVATE_SHARE = 0.10
_STATUSES = (
    ("In a meeting", ":calendar:"),
    ("Out sick", ":face_with_thermometer:"),
    ("Vacationing", ":palm_tree:"),
    ("Commuting", ":bus:"),
    ("Focus time", ":headphones:"),
)
_GENERAL_PURPOSE = "This channel is for workspace-wide communication and announcements."
_RANDOM_PURPOSE = "A place for non-work-related flimflam, faffing, hodge-podge or jibber-jabber."


class IdMaker:
    """Slack-shaped ids (``U``/``C``/``D``/``G`` + 10 chars), unique within one workspace."""

    def __init__(self, seed: int, team_id: str) -> None:
        self._rng = random.Random(f"flannel-seed/ids/{seed}/{team_id}")
        self._seen: set[str] = set()

    def __call__(self, kind: str) -> str:
        while True:
            bits = self._rng.getrandbits(50)
            new = kind + "".join(_ALPHABET[(bits >> (5 * i)) & 31] for i in range(10))
            if new not in self._seen:
                self._seen.add(new)
                return new


@dataclass
class Conversation:
    """A channel, DM or group DM; ``members`` and ``creator`` are user indices."""

    id: str
    name: str | None
    kind: str
    is_private: bool
    creator: int
    members: list[int]
    created: int
    topic: str
    purpose: str
    dm_key: str | None = None
    last_ts: int = 0


@dataclass
class Workspace:
    """Everything to insert, plus what the caller reports back."""

    team_id: str
    now_us: int
    user_ids: list[str]
    user_names: list[str]
    users: list[Row]
    conversations: list[Conversation]
    members: list[Row] = field(default_factory=list)
    messages: list[Row] = field(default_factory=list)
    reactions: list[Row] = field(default_factory=list)

    def channels(self) -> list[Conversation]:
        return [c for c in self.conversations if c.kind == "channel"]

    def conversation_rows(self) -> list[Row]:
        """Rows for ``CONVERSATION_COLUMNS, last_ts``."""
        return [
            (
                c.id,
                self.team_id,
                c.name,
                c.kind,
                int(c.is_private),
                0,
                c.created,
                self.user_ids[c.creator],
                c.topic,
                c.purpose,
                len(c.members),
                c.dm_key,
                c.last_ts,
            )
            for c in self.conversations
        ]


def _rng(seed: int, phase: str) -> random.Random:
    return random.Random(f"flannel-seed/{phase}/{seed}")


def make_users(rng: random.Random, ids: IdMaker, team_id: str, n: int, now_s: int) -> list[Row]:
    """Rows for ``USER_COLUMNS, email``; user 0 is an admin."""
    zones = [z for z, _ in TIME_ZONES]
    zone_weights = list(itertools.accumulate(w for _, w in TIME_ZONES))
    taken: dict[str, int] = {}
    rows: list[Row] = []
    for i in range(n):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        real_name = f"{first} {last}"
        base = f"{handle(first)}.{handle(last)}"
        taken[base] = taken.get(base, 0) + 1
        name = base if taken[base] == 1 else f"{base}{taken[base]}"
        extra: dict[str, str] = {}
        if rng.random() < 0.35:
            extra["display_name"] = rng.choice((first, f"{first} {last[0]}.", handle(first)))
        if rng.random() < 0.75:
            extra["title"] = rng.choice(TITLES)
        if rng.random() < 0.1:
            extra["status_text"], extra["status_emoji"] = rng.choice(_STATUSES)
        email = f"{name}@example.com"
        profile = orjson.dumps(default_profile(name, real_name, email, **extra)).decode()
        is_admin = i == 0 or rng.random() < 0.005
        tz = rng.choices(zones, cum_weights=zone_weights)[0]
        updated = now_s - rng.randrange(365 * DAY_S)
        rows.append((ids("U"), team_id, name, real_name, 0, 0, int(is_admin), tz, updated, profile, email))
    return rows


def _channel_names(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """``count`` unique (name, topic) pairs, ``general`` and ``random`` first."""
    out = [("general", "general"), ("random", "random")][:count]
    seen = {name for name, _ in out}
    while len(out) < count:
        prefix, topic = rng.choice(CHANNEL_PREFIXES), rng.choice(CHANNEL_TOPICS)
        name = f"{prefix}-{topic}"
        for k in itertools.count(2):
            if name not in seen:
                break
            name = f"{prefix}-{topic}-{k}"
        seen.add(name)
        out.append((name, topic))
    return out


def channel_size(rank: int, n_users: int, private: bool) -> int:
    """Zipf-like: rank 0 (general, random) has everyone; later ranks fall off, min 2."""
    if rank == 0:
        return n_users
    size = int(n_users * 0.35 / rank**0.9 + 0.5) // (4 if private else 1)
    return max(min(2, n_users), min(size, n_users))


def make_channels(
    rng: random.Random, ids: IdMaker, user_ids: list[str], count: int, now_s: int
) -> list[Conversation]:
    """Public and private channels; user 0 (the admin) is in every public one."""
    n_users = len(user_ids)
    named = _channel_names(rng, count)
    n_private = round(PRIVATE_SHARE * (count - 2)) if count > 2 else 0
    private = set(rng.sample(range(2, count), max(1, n_private))) if count > 2 else set()
    out: list[Conversation] = []
    for i, (name, topic) in enumerate(named):
        is_private = i in private
        size = channel_size(max(0, i - 1), n_users, is_private)
        members = list(range(n_users)) if size == n_users else rng.sample(range(n_users), size)
        if not is_private and 0 not in members:
            members[-1] = 0
        creator = 0 if i < 2 else members[0]
        created = now_s - (400 * DAY_S if i < 2 else 91 * DAY_S + rng.randrange(300 * DAY_S))
        creator_id = user_ids[creator]
        purpose = {"general": _GENERAL_PURPOSE, "random": _RANDOM_PURPOSE}.get(name)
        if purpose is None and rng.random() < 0.7:
            purpose = rng.choice(PURPOSES).format(topic=topic)
        topic_text = rng.choice(("", "", f"Weekly sync on Tuesdays, notes in #{name}", "Be kind"))
        topic_obj, purpose_obj = _text(topic_text, creator_id, created), _text(purpose, creator_id, created)
        out.append(
            Conversation(
                ids("C"), name, "channel", is_private, creator, members, created, topic_obj, purpose_obj
            )
        )
    return out


def _text(value: str | None, creator: str | None, created: int) -> str:
    """Unset: exactly what channel creation stores; set: what setTopic/setPurpose stores."""
    return text_object(value, creator, created) if value else text_object("", None, 0)


def make_dms(rng: random.Random, ids: IdMaker, user_ids: list[str], now_s: int) -> list[Conversation]:
    """About one DM per ten users (token users get a few each), and a few group DMs."""
    n = len(user_ids)
    out: list[Conversation] = []
    seen: set[frozenset[int]] = set()

    def add(members: list[int], kind: str) -> None:
        key = frozenset(members)
        if len(key) != len(members) or key in seen:
            return
        seen.add(key)
        sorted_ids = sorted(user_ids[m] for m in members)
        name = "mpdm-" + "--".join(sorted_ids) + "-1" if kind == "mpim" else None
        created = now_s - 91 * DAY_S - rng.randrange(300 * DAY_S)
        conv_id, empty, key_text = (
            ids("D" if kind == "im" else "G"),
            text_object("", None, 0),
            ",".join(sorted_ids),
        )
        out.append(
            Conversation(conv_id, name, kind, True, members[0], members, created, empty, empty, key_text)
        )

    target = min(n // 10, MAX_IMS) if n >= 2 else 0
    for user in range(min(TOKEN_USERS, n)):
        for _ in range(3):
            if len(out) < target:
                add([user, rng.randrange(n)], "im")
    for _ in range(target * 20):
        if len(out) >= target:
            break
        add([int(n * rng.random() ** 2), rng.randrange(n)], "im")
    mpims = min(MAX_MPIMS, max(1, n // 50)) if n >= 3 else 0
    for k in range(mpims):
        members = rng.sample(range(n), rng.randint(3, min(6, n)))
        if k == 0 and 0 not in members:
            members[0] = 0
        add(members, "mpim")
    return out


def member_rows(rng: random.Random, ws: Workspace) -> list[Row]:
    """Everyone joined within a day of the conversation's creation, before any message."""
    rows: list[Row] = []
    for conv in ws.conversations:
        base = conv.created * 1_000_000
        spread = DAY_S * 1_000_000 if conv.kind == "channel" else 1
        for m in conv.members:
            rows.append((conv.id, ws.user_ids[m], ws.team_id, 0, base + rng.randrange(spread)))
    return rows


def make_workspace(seed: int, team_id: str, users: int, channels: int, now_us: int) -> Workspace:
    """Users, channels, DMs and memberships (messages come from ``chatter``)."""
    ids = IdMaker(seed, team_id)
    now_s = now_us // 1_000_000
    user_rows = make_users(_rng(seed, "users"), ids, team_id, users, now_s)
    user_ids = [str(r[0]) for r in user_rows]
    convs = make_channels(_rng(seed, "channels"), ids, user_ids, channels, now_s)
    convs += make_dms(_rng(seed, "dms"), ids, user_ids, now_s)
    ws = Workspace(team_id, now_us, user_ids, [str(r[2]) for r in user_rows], user_rows, convs)
    ws.members = member_rows(_rng(seed, "members"), ws)
    return ws
