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
from operator import attrgetter
from typing import NamedTuple

from wire import dnd, mentions
from wire.bus import Counts
from wire.notifyprefs import ChannelPref, Dnd, NotificationPrefs

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


class Notification(NamedTuple):
    """One user's notification (a named tuple: a large channel's decision makes thousands)."""

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
_DEFAULT_OVERRIDE = ChannelPref()


@dataclass(frozen=True, slots=True)
class _Rule:
    """What the decision reads of one member in one conversation, once the message has given
    them a reason (or none): equal for many members, so shared, and its outcome worked out once
    per message for all who share it (``index`` keys that per-message cache)."""

    index: int
    words: tuple[str, ...]
    muted: bool
    silent: bool  # the channel's override is ``nothing``
    level: str  # the effective desktop level here
    email: bool
    email_delay_s: int | None
    dnd: Dnd
    tz: str
    snooze_until: int
    dnd_ended_until: int


def _rule(channel_id: str, rcpt: Recipient, shared: dict[tuple[object, ...], _Rule]) -> _Rule:
    """``rcpt``'s rule in ``channel_id``: the one in ``shared`` equal to it, else a new one."""
    prefs = rcpt.prefs
    override = prefs.channels.get(channel_id, _DEFAULT_OVERRIDE) if prefs.channels else _DEFAULT_OVERRIDE
    key = (
        prefs.highlight_words,
        override.muted,
        override.desktop == "nothing",
        prefs.desktop if override.desktop == "default" else override.desktop,
        prefs.email.enabled,
        prefs.email.delay_s,
        prefs.dnd,
        rcpt.tz,
        rcpt.snooze_until,
        rcpt.dnd_ended_until,
    )
    rule = shared.get(key)
    if rule is None:
        rule = shared[key] = _Rule(len(shared), *key)  # type: ignore[arg-type]
    return rule


@dataclass(frozen=True, slots=True)
class Audience:
    """A conversation's members as :func:`decide_for` sees them, indexed once and reused for
    every message until a member or their prefs change (the notifier caches it per channel).

    Most members of a large channel have nothing that could make a message notify them except
    the message itself naming them (a DM, a mention, a broadcast, a thread they are in): no
    highlight words, no ``all`` level here. Those are the *plain* members, and the decision for
    them follows from the message alone, without a turn of the per-member loop; the others
    (``special``) go through it for every message. Members whose preferences, time zone and
    DND state are the same share one rule, whose outcome is worked out once per message."""

    channel: Channel
    #: the members with an entry who can be notified at all (not deleted, not bots)
    recipients: Mapping[str, Recipient]
    #: the members' rules, made as needed (the special ones' at once), equal ones shared
    rules: dict[str, _Rule]
    shared: dict[tuple[object, ...], _Rule]
    #: members with highlight words or whose level in this channel is ``all``, sorted; and
    #: the same by rule (members sorted)
    special: tuple[str, ...]
    groups: tuple[tuple[_Rule, tuple[str, ...]], ...]
    #: the eligible members who are active (``<!here>``)
    active: frozenset[str]
    #: the eligible members who are not special, sorted; and those of them who are active
    plain: tuple[str, ...]
    plain_active: tuple[str, ...]

    @classmethod
    def of(
        cls, channel: Channel, recipients: Mapping[str, Recipient], active: Collection[str] | None = None
    ) -> Audience:
        """Index ``channel``'s members from ``recipients`` (a member without an entry is never
        notified); who is active is ``active`` when given, else each entry's ``active``."""
        eligible: dict[str, Recipient] = {}
        rules: dict[str, _Rule] = {}
        shared: dict[tuple[object, ...], _Rule] = {}
        special: list[str] = []
        by_rule: dict[int, tuple[_Rule, list[str]]] = {}
        plain: list[str] = []
        for user_id in channel.members:
            rcpt = recipients.get(user_id)
            if rcpt is None or rcpt.deleted or rcpt.is_bot:
                continue
            eligible[user_id] = rcpt
            prefs = rcpt.prefs
            if prefs.highlight_words:
                pass
            elif prefs.channels and channel.id in prefs.channels:
                desktop = prefs.channels[channel.id].desktop
                if (prefs.desktop if desktop == "default" else desktop) != "all":
                    plain.append(user_id)
                    continue
            elif prefs.desktop != "all":
                plain.append(user_id)  # its rule is made when a message names it
                continue
            rule = _rule(channel.id, rcpt, shared)
            rules[user_id] = rule
            special.append(user_id)
            by_rule.setdefault(rule.index, (rule, []))[1].append(user_id)
        plain.sort()
        special.sort()
        groups = tuple((rule, tuple(sorted(members))) for rule, members in by_rule.values())
        if active is None:
            now_active = frozenset(u for u, r in eligible.items() if r.active)
        else:
            now_active = frozenset(u for u in active if u in eligible)
        return cls(
            channel,
            eligible,
            rules,
            shared,
            tuple(special),
            groups,
            now_active,
            tuple(plain),
            tuple(u for u in plain if u in now_active),
        )

    def rule(self, user_id: str) -> _Rule:
        """An eligible member's rule (made the first time it is needed, then kept)."""
        found = self.rules.get(user_id)
        if found is None:
            found = self.rules[user_id] = _rule(self.channel.id, self.recipients[user_id], self.shared)
        return found

    def with_active(self, active: Collection[str]) -> Audience:
        """The same audience with ``active`` (of its members) as the active ones."""
        if active is self.active:
            return self
        now_active = frozenset(u for u in active if u in self.recipients)
        if now_active == self.active:
            return self
        return Audience(
            self.channel,
            self.recipients,
            self.rules,
            self.shared,
            self.special,
            self.groups,
            now_active,
            self.plain,
            tuple(u for u in self.plain if u in now_active),
        )


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
    Who is active is each entry's ``active``. :func:`decide_for` is the same decision over an
    :class:`Audience` indexed beforehand (what the notifier does, once per channel)."""
    if message.subtype not in NOTIFYING_SUBTYPES or message.channel != channel.id:
        return Decision()
    return decide_for(message, Audience.of(channel, recipients), now, thread_participants, config)


def decide_for(
    message: Message,
    audience: Audience,
    now: float,
    thread_participants: Collection[str] = (),
    config: Config = Config(),
) -> Decision:
    """:func:`decide` over an indexed :class:`Audience`.

    The per-member rules run for the members the message can concern: the special ones, the
    mentioned, the thread's participants, the active ones for an ``<!here>``, everyone for a DM
    or ``<!channel>``. Every other member is plain and neither named nor in the thread, so has
    no reason, and a level below ``all``: nothing is sent to them, and the only thing the
    decision says of them is whether a large channel silenced a broadcast that named them
    (all of them for ``<!channel>``, the active ones for ``<!here>``), read off the sorted
    index."""
    channel = audience.channel
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
    recipients = audience.recipients
    rules = audience.rules
    active = audience.active
    sender = message.user
    bulk_silenced: list[str] = []
    extra: set[str] = set()
    candidates: Collection[str]
    full = is_dm or to_all
    if full:
        candidates = sorted(recipients)
    else:
        extra = {u for u in mentioned if u in recipients}
        if is_reply:
            extra.update(u for u in participants if u in recipients)
        if to_here:
            extra.update(active)
        if silence_all or silence_here:
            # plain members the broadcast named (all, or the active), not otherwise concerned
            named = audience.plain if silence_all else audience.plain_active
            bulk_silenced = [u for u in named if u not in extra and u != sender]
        candidates = sorted(extra)  # the special members not among them: by rule, below
    words_text = _MARKUP.sub(" ", message.text)
    keyword: dict[tuple[str, ...], bool] = {}  # per set of highlight words, for this message
    outcomes: dict[tuple[int, str | None], _Outcome] = {}  # per (rule, reason), for this message
    out: list[Notification] = []
    silenced: list[str] = []
    dropped: list[str] = []
    for user_id in candidates:
        if user_id == sender:
            continue
        rule = rules.get(user_id) or audience.rule(user_id)
        is_active = user_id in active
        reason: str | None
        if is_dm:
            reason = "dm"
        elif user_id in mentioned:
            reason = DIRECT
        elif is_reply and user_id not in participants:
            reason = None  # a reply reaches the thread's participants only (direct mentions aside)
        elif to_all:
            reason = "channel"
        elif to_here and is_active:
            reason = "here"
        elif rule.words and _keyword(keyword, words_text, rule.words):
            reason = "keyword"
        elif is_reply:
            reason = "thread"  # a participant, by the test above
        else:
            reason = None
        if reason is None and (silence_all or (silence_here and is_active)):
            silenced.append(user_id)
        key = (rule.index, reason)
        outcome = outcomes.get(key)
        if outcome is None:
            outcome = outcomes[key] = _outcome(rule, reason, is_reply, now, config.email_delay_s)
        if outcome is _SKIP:
            continue
        if outcome is _DROP:
            dropped.append(user_id)
            continue
        out.append(_new_notification(Notification, (user_id, *outcome)))
    if not full:
        # the special members the message does not name: their reason is their rule's
        # (a keyword, or none; none at all in a reply, since they are not in the thread), so
        # the outcome is the rule's too; only a <!here> silenced in a large channel asks who
        # of them is active
        grouped: list[Notification] = []
        for rule, members in audience.groups:
            names = (
                [u for u in members if u not in extra and u != sender]
                if extra or sender in recipients
                else members
            )
            if not names:
                continue
            reason = (
                None
                if is_reply or not rule.words or not _keyword(keyword, words_text, rule.words)
                else "keyword"
            )
            if reason is None:
                if silence_all:
                    silenced += names
                elif silence_here:
                    silenced += [u for u in names if u in active]
            key = (rule.index, reason)
            outcome = outcomes.get(key)
            if outcome is None:
                outcome = outcomes[key] = _outcome(rule, reason, is_reply, now, config.email_delay_s)
            if outcome is _SKIP:
                continue
            if outcome is _DROP:
                dropped += names
                continue
            grouped += [_new_notification(Notification, (u, *outcome)) for u in names]
        if grouped:
            out += grouped
            out.sort(key=_by_user)
        dropped.sort()
    if silenced:
        bulk_silenced += silenced
        bulk_silenced.sort()  # a sorted run and a few more: linear
    return Decision(tuple(out), tuple(bulk_silenced), tuple(dropped))


_Outcome = tuple[object, ...]
_by_user = attrgetter("user_id")
_new_notification = tuple.__new__  # Notification's fields, in order, without its checks
_SKIP: _Outcome = ()
_DROP: _Outcome = ("drop",)


def _keyword(seen: dict[tuple[str, ...], bool], stripped_text: str, words: tuple[str, ...]) -> bool:
    found = seen.get(words)
    if found is None:
        found = seen[words] = _matches(stripped_text, words)
    return found


def _outcome(rule: _Rule, reason: str | None, is_reply: bool, now: float, default_delay: int) -> _Outcome:
    """What a member of ``rule`` given ``reason`` gets: :data:`_SKIP`, :data:`_DROP` (held by
    do-not-disturb that drops), or the fields of their :class:`Notification` after the id."""
    if rule.muted and reason != DIRECT:
        return _SKIP
    if rule.silent:
        return _SKIP
    level = rule.level
    if reason is None:
        if level != "all" or is_reply:
            return _SKIP
        reason = "message"
    desktop = level == "all" or (level == "mentions" and reason != "message")
    email = rule.email and reason != "message"
    if not desktop and not email:
        return _SKIP
    held = dnd.status(rule.dnd, rule.tz, now, rule.snooze_until, rule.dnd_ended_until)
    deliver_at = now
    if held.active:
        if rule.dnd.when_ends == "drop":
            return _DROP
        deliver_at = float(held.until)
    email_at = None
    if email:
        delay = rule.email_delay_s
        email_at = max(now + (default_delay if delay is None else delay), deliver_at)
    return (reason, desktop, deliver_at, email_at)


def _matches(stripped_text: str, words: tuple[str, ...]) -> bool:
    pattern = _word_pattern(words)
    return pattern is not None and pattern.search(stripped_text) is not None


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
