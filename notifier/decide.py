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
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from wire import dnd, mentions
from wire.bus import Counts
from wire.notifyprefs import ChannelPref, NotificationPrefs

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


def decide(
    message: Message,
    channel: Channel,
    recipients: Mapping[str, Recipient],
    now: float,
    thread_participants: Collection[str] = (),
    config: Config = Config(),
) -> Decision:
    """The notifications ``message`` in ``channel`` causes, for the candidates in ``recipients``
    (a member without an entry is not notified: no prefs loaded means no decision to make).

    One pass over the members, with what depends only on the message worked out before it (a
    32,000-member channel is 32,000 turns of this loop per message)."""
    if message.subtype not in NOTIFYING_SUBTYPES or message.channel != channel.id:
        return Decision()
    parsed = mentions.parse(message.text)
    mentioned = parsed.users
    broadcast_allowed = len(channel.members) <= config.large_channel
    is_reply = message.is_reply
    participants = frozenset(thread_participants) if is_reply else frozenset()
    is_dm = channel.kind in ("im", "mpim")
    to_all = bool(parsed.broadcast & {"channel", "everyone"})
    to_here = "here" in parsed.broadcast
    # the broadcast names everyone (or every active member) but the channel is too large
    silence_all = not broadcast_allowed and not is_reply and to_all
    silence_here = not broadcast_allowed and not is_reply and to_here
    to_all = broadcast_allowed and to_all
    to_here = broadcast_allowed and to_here
    words_text = _MARKUP.sub(" ", message.text)
    channel_id = channel.id
    default_delay = config.email_delay_s
    out: list[Notification] = []
    silenced: list[str] = []
    dropped: list[str] = []
    for user_id in channel.members:
        rcpt = recipients.get(user_id)
        if rcpt is None or user_id == message.user or rcpt.deleted or rcpt.is_bot:
            continue
        prefs = rcpt.prefs
        reason: str | None
        if is_dm:
            reason = "dm"
        elif user_id in mentioned:
            reason = DIRECT
        elif is_reply and user_id not in participants:
            reason = None  # a reply reaches the thread's participants only (direct mentions aside)
        elif to_all:
            reason = "channel"
        elif to_here and rcpt.active:
            reason = "here"
        elif prefs.highlight_words and _matches(words_text, prefs.highlight_words):
            reason = "keyword"
        elif is_reply:
            reason = "thread"  # a participant, by the test above
        else:
            reason = None
        if reason is None and (silence_all or (silence_here and rcpt.active)):
            silenced.append(user_id)
        override = prefs.channels.get(channel_id, _DEFAULT_OVERRIDE) if prefs.channels else _DEFAULT_OVERRIDE
        if override.muted and reason != DIRECT:
            continue
        if override.desktop == "nothing":
            continue
        level = prefs.desktop if override.desktop == "default" else override.desktop
        if reason is None:
            if level != "all" or is_reply:
                continue
            reason = "message"
        desktop = level == "all" or (level == "mentions" and reason != "message")
        email = prefs.email.enabled and reason != "message"
        if not desktop and not email:
            continue
        held = dnd.status(prefs.dnd, rcpt.tz, now, rcpt.snooze_until, rcpt.dnd_ended_until)
        deliver_at = now
        if held.active:
            if prefs.dnd.when_ends == "drop":
                dropped.append(user_id)
                continue
            deliver_at = float(held.until)
        email_at = None
        if email:
            delay = prefs.email.delay_s
            email_at = max(now + (default_delay if delay is None else delay), deliver_at)
        out.append(Notification(user_id, reason, desktop, deliver_at, email_at))
    out.sort(key=lambda n: n.user_id)
    silenced.sort()
    dropped.sort()
    return Decision(tuple(out), tuple(silenced), tuple(dropped))


def _matches(stripped_text: str, words: tuple[str, ...]) -> bool:
    pattern = _word_pattern(words)
    return pattern is not None and pattern.search(stripped_text) is not None


_DEFAULT_OVERRIDE = ChannelPref()


#: What becomes of an email when it falls due (:func:`email_action`).
EMAIL_ACTIONS = ("send", "active", "no_address", "no_mailer")


def email_action(active: bool, *, mailer: bool, address: str) -> str:
    """Whether an email that fell due goes out: ``send`` only when the user is not active
    (away or offline on every connection: Slack emails a mention "when I'm not active", after
    the delay), has an address, and SMTP is configured. Otherwise why not: ``active`` (they are
    at their desk and the desktop notification told them), ``no_address``, ``no_mailer``.
    Whatever the answer, the batch is settled: an email is never sent later for a user who was
    active when it fell due (a read cancels it before then anyway)."""
    if active:
        return "active"
    if not address:
        return "no_address"
    if not mailer:
        return "no_mailer"
    return "send"


def active_users(reports: Iterable[Mapping[str, Counts]], among: Collection[str]) -> frozenset[str]:
    """Which of ``among`` are active, from every live edge's report (edge -> user -> counts, as
    the ephemeral online store holds them): Slack's rule, as the edges apply it — active when
    some connection on some edge is open and not away (an edge counts a manual away as not
    active); otherwise away, offline included. Reports past their TTL are not in ``reports``."""
    wanted = among if isinstance(among, frozenset | set) else frozenset(among)
    out: set[str] = set()
    for users in reports:
        for user_id, counts in users.items():
            if counts.active > 0 and user_id in wanted:
                out.add(user_id)
    return frozenset(out)
