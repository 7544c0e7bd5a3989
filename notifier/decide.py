"""Who is told about a message, why, by which channel of delivery and when: a pure function.

Slack's rules. A member of the conversation (never the sender, never a non-member: membership is
what lets a user see a private channel, a DM or its text) has a *reason* when the message is
in a DM or group DM (``dm``), names them (``mention``), broadcasts ``<!channel>``/``<!everyone>``
(``channel``) or ``<!here>`` while they are active (``here``), contains one of their highlight
words (``keyword``, whole words, case-insensitive), or replies in a thread they started or
replied to (``thread``). A user whose level is ``all`` is also told of every other channel
message (``message``). Then, in order:

- a muted conversation passes only a direct ``<@U>`` mention;
- the level (the channel's override, else the user's ``desktop``): ``nothing`` drops desktop,
  ``mentions`` needs a reason; a channel override of ``nothing`` silences email too;
- in a channel above ``large_channel`` members, ``<!channel>``/``<!here>`` notify nobody
  (Mattermost's rule; they are still mentions in read state, which the edge counts itself);
- a thread reply (not broadcast to the channel) reaches only the thread's participants, except
  for a direct mention;
- during do-not-disturb the notification is held until it ends (``when_ends: deliver``) or
  dropped (``drop``).

Delivery channels are fields of :class:`Notification` (``desktop``, ``email_at``), so a push
transport is one more field, decided here beside the others.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from wire import dnd, mentions
from wire.notifyprefs import NotificationPrefs

#: Message subtypes that notify: what a person (or app) says, not membership noise or edits.
NOTIFYING_SUBTYPES = frozenset({"", "thread_broadcast", "me_message", "bot_message", "file_share"})
DIRECT = "mention"
REASONS = ("dm", "mention", "channel", "here", "keyword", "thread", "message")


@dataclass(frozen=True, slots=True)
class Message:
    team: str
    channel: str
    user: str
    text: str
    ts: str
    thread_ts: str | None = None
    subtype: str = ""

    @property
    def is_reply(self) -> bool:
        """In a thread and not also shown in the channel."""
        return self.thread_ts is not None and self.thread_ts != self.ts and self.subtype != "thread_broadcast"


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    kind: str  # "channel", "im", "mpim" (wire.visibility.KINDS)
    members: frozenset[str]
    is_private: bool = True
    name: str = ""


@dataclass(frozen=True, slots=True)
class Recipient:
    """What the decision needs of one candidate: prefs, time zone, DND state, presence."""

    user_id: str
    prefs: NotificationPrefs = field(default_factory=NotificationPrefs)
    tz: str = "UTC"
    active: bool = False
    snooze_until: int = 0
    dnd_ended_until: int = 0
    deleted: bool = False
    is_bot: bool = False


@dataclass(frozen=True, slots=True)
class Config:
    large_channel: int = 1000
    email_delay_s: int = 300


@dataclass(frozen=True, slots=True)
class Notification:
    user_id: str
    reason: str
    desktop: bool
    deliver_at: float  # now, or when do-not-disturb ends
    email_at: float | None  # when to email if still unread and the user away; None: no email


@dataclass(frozen=True, slots=True)
class Decision:
    notify: tuple[Notification, ...] = ()
    #: mentioned by <!channel>/<!here>, silenced because the channel is large
    large_channel_silenced: tuple[str, ...] = ()
    #: held back by do-not-disturb with ``when_ends: drop``
    dropped_for_dnd: tuple[str, ...] = ()

    def for_user(self, user_id: str) -> Notification | None:
        return next((n for n in self.notify if n.user_id == user_id), None)


@lru_cache(maxsize=4096)
def _word_pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def highlights(text: str, words: tuple[str, ...]) -> bool:
    """Whether ``text`` contains one of ``words`` as a whole word, ignoring case (markup such
    as ``<@U..>`` is left out, so a word never matches inside an id)."""
    pattern = _word_pattern(words)
    return pattern is not None and pattern.search(_MARKUP.sub(" ", text)) is not None


_MARKUP = re.compile(r"<[@#!][^>]*>")


def _reason(
    user_id: str,
    rcpt: Recipient,
    message: Message,
    channel: Channel,
    parsed: mentions.Mentions,
    broadcast_allowed: bool,
    participants: Collection[str],
) -> str | None:
    if channel.kind in ("im", "mpim"):
        return "dm"
    if user_id in parsed.users:
        return "mention"
    in_thread = user_id in participants
    if message.is_reply and not in_thread:
        return None  # a reply reaches the thread's participants only (direct mentions aside)
    if broadcast_allowed and parsed.broadcast & {"channel", "everyone"}:
        return "channel"
    if broadcast_allowed and "here" in parsed.broadcast and rcpt.active:
        return "here"
    if highlights(message.text, rcpt.prefs.highlight_words):
        return "keyword"
    if message.is_reply and in_thread:
        return "thread"
    return None


def decide(
    message: Message,
    channel: Channel,
    recipients: Mapping[str, Recipient],
    now: float,
    thread_participants: Collection[str] = (),
    config: Config = Config(),
) -> Decision:
    """The notifications ``message`` in ``channel`` causes, for the candidates in ``recipients``
    (a member without an entry is not notified: no prefs loaded means no decision to make)."""
    if message.subtype not in NOTIFYING_SUBTYPES or message.channel != channel.id:
        return Decision()
    parsed = mentions.parse(message.text)
    broadcast_allowed = len(channel.members) <= config.large_channel
    participants = frozenset(thread_participants) if message.is_reply else frozenset()
    out: list[Notification] = []
    silenced: list[str] = []
    dropped: list[str] = []
    for user_id in sorted(channel.members):
        rcpt = recipients.get(user_id)
        if user_id == message.user or rcpt is None or rcpt.deleted or rcpt.is_bot:
            continue
        reason = _reason(user_id, rcpt, message, channel, parsed, broadcast_allowed, participants)
        override = rcpt.prefs.channel(channel.id)
        if reason is None and not broadcast_allowed and not message.is_reply:
            if parsed.broadcast & {"channel", "everyone"} or ("here" in parsed.broadcast and rcpt.active):
                silenced.append(user_id)
        if override.muted and reason != DIRECT:
            continue
        level = rcpt.prefs.desktop if override.desktop == "default" else override.desktop
        if override.desktop == "nothing":
            continue
        if reason is None:
            if level != "all" or message.is_reply:
                continue
            reason = "message"
        desktop = level == "all" or (level == "mentions" and reason != "message")
        email = rcpt.prefs.email.enabled and reason != "message"
        if not desktop and not email:
            continue
        held = dnd.status(rcpt.prefs.dnd, rcpt.tz, now, rcpt.snooze_until, rcpt.dnd_ended_until)
        deliver_at = now
        if held.active:
            if rcpt.prefs.dnd.when_ends == "drop":
                dropped.append(user_id)
                continue
            deliver_at = float(held.until)
        email_at = None
        if email:
            delay = rcpt.prefs.email.delay_s
            email_at = max(now + (config.email_delay_s if delay is None else delay), deliver_at)
        out.append(Notification(user_id, reason, desktop, deliver_at, email_at))
    return Decision(tuple(out), tuple(silenced), tuple(dropped))
