"""Messages, threads and reactions for a generated workspace.

Messages land on one timeline over the last 90 days, spread over conversations by size
(general gets the most traffic, a two-person channel the least; a tenth goes to DMs).
Walking the timeline in order makes every channel's ts strictly increasing and lets a reply
only ever follow its parent, with the parent's thread fields (reply_count, reply_users in
order of first reply, latest_reply) ending up exactly as ``chat.postMessage`` leaves them.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

import orjson

from origin.seed.generate import DAY_S, Conversation, Row, Workspace
from origin.seed.names import EMOJI, LINK_PATHS, WORDS

SPAN_US = 90 * DAY_S * 1_000_000
DM_SHARE = 0.10
REPLY_SHARE = 0.17
REACTION_SHARE = 0.10
_REPLY_OPENERS = ("+1", "Agreed.", "On it.", "Thanks!", "Same here.", "Good catch.", "Hmm,")


def _sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(3, 14))
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice(".....?!")


def message_text(rng: random.Random, mentionable: list[str], reply: bool) -> str:
    """One to three sentences; some carry a link, a mention, an emoji or inline code."""
    parts = [_sentence(rng) for _ in range(rng.choice((1, 1, 1, 2, 2, 3)))]
    if reply and rng.random() < 0.3:
        parts.insert(0, rng.choice(_REPLY_OPENERS))
    if mentionable and rng.random() < 0.1:
        parts.insert(rng.randrange(len(parts) + 1), f"<@{rng.choice(mentionable)}>")
    if rng.random() < 0.08:
        slug = "-".join(rng.choices(WORDS[40:120], k=2))
        parts.append(f"https://example.com/{rng.choice(LINK_PATHS)}/{slug}-{rng.randrange(1, 10_000)}")
    if rng.random() < 0.05:
        parts.append(f":{rng.choice(EMOJI)}:")
    if rng.random() < 0.03:
        parts.append(f"`{rng.choice(WORDS)}`")
    if rng.random() < 0.01:
        parts.insert(0, rng.choice(("<!here>", "<!channel>")))
    return " ".join(parts)


def _pick_conversations(rng: random.Random, ws: Workspace, count: int) -> list[Conversation]:
    channels = ws.channels()
    dms = [c for c in ws.conversations if c.kind != "channel"]
    if count and not channels and not dms:
        raise ValueError("messages need at least one channel or DM")
    weights = list(itertools.accumulate(len(c.members) for c in channels))
    picks: list[Conversation] = []
    for _ in range(count):
        if dms and (not channels or rng.random() < DM_SHARE):
            picks.append(rng.choice(dms))
        else:
            picks.append(rng.choices(channels, cum_weights=weights)[0])
    return picks


def _poster(rng: random.Random, conv: Conversation) -> int:
    """Skewed: in every conversation a few members do most of the talking."""
    return conv.members[int(len(conv.members) * rng.random() ** 2)]


@dataclass(slots=True)
class _Message:
    conv: Conversation
    ts: int
    user: str
    text: str
    thread_ts: int | None = None
    reply_count: int = 0
    reply_users: list[str] = field(default_factory=list)
    latest_reply: int | None = None
    parent_user: str | None = None

    def row(self, team_id: str) -> Row:
        """``MESSAGE_COLUMNS`` and parent_user_id; only a parent with replies carries reply_users."""
        users = orjson.dumps(self.reply_users).decode() if self.reply_count else None
        return (
            self.conv.id,
            self.ts,
            team_id,
            self.user,
            self.text,
            None,
            self.thread_ts,
            self.reply_count,
            users,
            self.latest_reply,
            None,
            None,
            self.parent_user,
        )


def make_messages(seed: int, ws: Workspace, count: int) -> None:
    """Fill ``ws.messages`` and ``ws.reactions``; set each conversation's ``last_ts``."""
    rng = random.Random(f"flannel-seed/messages/{seed}")
    picks = _pick_conversations(rng, ws, count)
    start = ws.now_us - SPAN_US
    times = sorted(rng.sample(range(SPAN_US), count))
    messages: list[_Message] = []
    recent: dict[str, list[_Message]] = {}  # per conversation: the latest top-level messages
    for conv, offset in zip(picks, times, strict=True):
        ts = start + offset
        user = _poster(rng, conv)
        roots = recent.setdefault(conv.id, [])
        parent = None
        if roots and rng.random() < REPLY_SHARE:
            parent = roots[-1 - int(len(roots) * rng.random() ** 2)]
        sample = rng.sample(conv.members, min(3, len(conv.members)))
        others = [ws.user_ids[m] for m in sample if m != user]
        msg = _Message(conv, ts, ws.user_ids[user], message_text(rng, others, parent is not None))
        if parent is None:
            roots.append(msg)
            del roots[:-10]
        else:
            msg.thread_ts = parent.thread_ts = parent.ts
            msg.parent_user = parent.user
            parent.reply_count += 1
            if msg.user not in parent.reply_users:
                parent.reply_users.append(msg.user)
            parent.latest_reply = ts
        messages.append(msg)
        conv.last_ts = ts
    ws.messages = [m.row(ws.team_id) for m in messages]
    ws.reactions = _reactions(rng, ws, messages)


def _reactions(rng: random.Random, ws: Workspace, messages: list[_Message]) -> list[Row]:
    """A tenth of messages get one to three emoji from one to five members each."""
    out: list[Row] = []
    for msg in messages:
        if rng.random() >= REACTION_SHARE:
            continue
        members = msg.conv.members
        for name in rng.sample(EMOJI, rng.choice((1, 1, 1, 2, 3))):
            for user in rng.sample(members, min(len(members), rng.choice((1, 1, 2, 3, 5)))):
                added = min(msg.ts + rng.randrange(1, 3_600_000_000), ws.now_us - 1)
                out.append((msg.conv.id, msg.ts, name, ws.user_ids[user], added))
    return out
