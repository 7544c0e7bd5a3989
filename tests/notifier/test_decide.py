"""The pure decision: who is notified about a message, why, how and when."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from notifier.decide import (
    DIRECT,
    NOTIFYING_SUBTYPES,
    Audience,
    Channel,
    Config,
    Decision,
    Message,
    Notification,
    Recipient,
    decide,
    decide_for,
    highlights,
)
from wire import dnd, mentions
from wire.notifyprefs import parse

NOW = datetime(2024, 3, 5, 12, 0, tzinfo=ZoneInfo("UTC")).timestamp()  # a Tuesday, noon UTC
MEMBERS = frozenset({"UA", "UB", "UC", "UD"})


def chan(kind: str = "channel", members: frozenset[str] = MEMBERS, cid: str = "C1") -> Channel:
    return Channel(cid, kind, members, is_private=False, name="general")


def msg(text: str, user: str = "UA", channel: str = "C1", **kw: str) -> Message:
    return Message("T1", channel, user, text, "1700000000.000100", **kw)


def people(**prefs: dict[str, object]) -> dict[str, Recipient]:
    out = {u: Recipient(u) for u in MEMBERS}
    for user, p in prefs.items():
        out[user] = Recipient(user, parse(p))
    return out


def who(decision: object) -> dict[str, str]:
    return {n.user_id: n.reason for n in decision.notify}  # type: ignore[attr-defined]


def test_direct_mention_notifies_only_the_mentioned() -> None:
    d = decide(msg("hi <@UB>"), chan(), people(), NOW)
    assert who(d) == {"UB": "mention"}
    n = d.for_user("UB")
    assert n is not None and n.desktop and n.deliver_at == NOW and n.email_at is None


def test_mention_with_label_and_plain_message_nobody() -> None:
    assert who(decide(msg("hi <@UB|bob>"), chan(), people(), NOW)) == {"UB": "mention"}
    assert who(decide(msg("hello all"), chan(), people(), NOW)) == {}


def test_dm_and_group_dm_notify_the_other_members() -> None:
    dm = Channel("D1", "im", frozenset({"UA", "UB"}))
    assert who(decide(msg("yo", channel="D1"), dm, people(), NOW)) == {"UB": "dm"}
    mp = Channel("G1", "mpim", frozenset({"UA", "UB", "UC"}))
    assert who(decide(msg("yo", channel="G1"), mp, people(), NOW)) == {"UB": "dm", "UC": "dm"}


def test_never_the_sender() -> None:
    assert who(decide(msg("<@UA> <!channel>"), chan(), people(), NOW)) == {
        "UB": "channel",
        "UC": "channel",
        "UD": "channel",
    }


def test_channel_and_everyone_reach_members_here_only_active() -> None:
    for special in ("<!channel>", "<!everyone>", "<!channel|@channel>"):
        assert set(who(decide(msg(special), chan(), people(), NOW))) == {"UB", "UC", "UD"}
    rcpts = people()
    rcpts["UC"] = Recipient("UC", active=True)
    assert who(decide(msg("<!here>"), chan(), rcpts, NOW)) == {"UC": "here"}


def test_non_member_is_never_notified_even_when_mentioned() -> None:
    rcpts = {**people(), "UZ": Recipient("UZ")}
    assert who(decide(msg("<@UZ> <!channel>"), chan(), rcpts, NOW)).get("UZ") is None
    private = Channel("G9", "channel", frozenset({"UA", "UB"}), is_private=True)
    assert who(decide(msg("<@UC>", channel="G9"), private, people(), NOW)) == {}


def test_unknown_deleted_or_bot_recipients_skip() -> None:
    rcpts = people()
    rcpts["UB"] = Recipient("UB", deleted=True)
    rcpts["UC"] = Recipient("UC", is_bot=True)
    del rcpts["UD"]
    assert who(decide(msg("<!channel>"), chan(), rcpts, NOW)) == {}


def test_highlight_words_match_whole_words_ignoring_case() -> None:
    rcpts = people(UB={"highlight_words": ["deploy", "on-call"]})
    assert who(decide(msg("DEPLOY now"), chan(), rcpts, NOW)) == {"UB": "keyword"}
    assert who(decide(msg("who is On-Call?"), chan(), rcpts, NOW)) == {"UB": "keyword"}
    assert who(decide(msg("redeployment"), chan(), rcpts, NOW)) == {}
    assert not highlights("<@UDEPLOY>", ("deploy",))
    assert highlights("a.b (deploy).", ("deploy",))


def test_thread_reply_reaches_participants_only() -> None:
    reply = msg("thanks", thread_ts="1699999999.000100")
    d = decide(reply, chan(), people(UD={"desktop": "all"}), NOW, thread_participants={"UB", "UA"})
    assert who(d) == {"UB": "thread"}  # UA wrote it; UD's "all" does not cover thread replies
    d = decide(msg("<!channel>", thread_ts="1699999999.000100"), chan(), people(), NOW, {"UC"})
    assert who(d) == {"UC": "channel"}
    d = decide(msg("<@UD>", thread_ts="1699999999.000100"), chan(), people(), NOW, {"UC"})
    assert who(d) == {"UD": "mention", "UC": "thread"}


def test_thread_broadcast_is_a_channel_message() -> None:
    m = msg("<!channel>", thread_ts="1699999999.000100", subtype="thread_broadcast")
    assert set(who(decide(m, chan(), people(), NOW, {"UC"}))) == {"UB", "UC", "UD"}


def test_edits_and_join_noise_do_not_notify() -> None:
    for subtype in ("channel_join", "message_changed", "message_deleted"):
        assert who(decide(msg("<@UB>", subtype=subtype), chan(), people(), NOW)) == {}
    assert who(decide(msg("<@UB>", subtype="me_message"), chan(), people(), NOW)) == {"UB": "mention"}


def test_message_of_another_channel_is_refused() -> None:
    assert who(decide(msg("<@UB>", channel="C2"), chan(), people(), NOW)) == {}


def test_levels_all_mentions_nothing() -> None:
    rcpts = people(UB={"desktop": "all"}, UC={"desktop": "nothing"})
    assert who(decide(msg("plain"), chan(), rcpts, NOW)) == {"UB": "message"}
    d = decide(msg("<@UC>"), chan(), rcpts, NOW)
    assert who(d) == {"UB": "message"}  # UC: nothing on desktop and no email
    rcpts = people(UC={"desktop": "nothing", "email": {"enabled": True}})
    n = decide(msg("<@UC>"), chan(), rcpts, NOW).for_user("UC")
    assert n is not None and not n.desktop and n.email_at == NOW + 300


def test_channel_override_beats_user_level() -> None:
    rcpts = people(
        UB={"desktop": "nothing", "channels": {"C1": {"desktop": "all"}}},
        UC={"desktop": "all", "channels": {"C1": {"desktop": "mentions"}}},
        UD={"email": {"enabled": True}, "channels": {"C1": {"desktop": "nothing"}}},
    )
    assert who(decide(msg("plain"), chan(), rcpts, NOW)) == {"UB": "message"}
    assert who(decide(msg("<@UD> <@UC>"), chan(), rcpts, NOW)) == {"UB": "message", "UC": "mention"}


def test_muted_channel_silent_except_direct_mention() -> None:
    rcpts = people(UB={"channels": {"C1": {"muted": True}}, "highlight_words": ["x"], "desktop": "all"})
    assert who(decide(msg("<!channel> x plain"), chan(), rcpts, NOW)).get("UB") is None
    assert who(decide(msg("<@UB>"), chan(), rcpts, NOW)) == {"UB": "mention"}
    thread = msg("re", thread_ts="1699999999.000100")
    assert who(decide(thread, chan(), rcpts, NOW, {"UB"})) == {}
    dm = Channel("D1", "im", frozenset({"UA", "UB"}))
    muted_dm = people(UB={"channels": {"D1": {"muted": True}}})
    assert who(decide(msg("yo", channel="D1"), dm, muted_dm, NOW)) == {}


def test_large_channel_broadcasts_notify_nobody_but_are_reported() -> None:
    big = frozenset(f"U{i}" for i in range(6)) | {"UA"}
    rcpts = {u: Recipient(u, active=u == "U1") for u in big}
    d = decide(msg("<!channel> and <@U2>"), chan(members=big), rcpts, NOW, config=Config(large_channel=5))
    assert who(d) == {"U2": "mention"}
    assert set(d.large_channel_silenced) == big - {"UA", "U2"}
    d = decide(msg("<!here>"), chan(members=big), rcpts, NOW, config=Config(large_channel=5))
    assert who(d) == {} and d.large_channel_silenced == ("U1",)
    at_limit = frozenset(list(big)[:5])
    d = decide(msg("<!channel>"), chan(members=at_limit), rcpts, NOW, config=Config(large_channel=5))
    assert len(d.notify) == len(at_limit - {"UA"})


def test_email_delay_from_prefs_or_config() -> None:
    rcpts = people(UB={"email": {"enabled": True, "delay_s": 60}}, UC={"email": {"enabled": True}})
    d = decide(msg("<@UB> <@UC>"), chan(), rcpts, NOW, config=Config(email_delay_s=900))
    assert d.for_user("UB").email_at == NOW + 60  # type: ignore[union-attr]
    assert d.for_user("UC").email_at == NOW + 900  # type: ignore[union-attr]
    d = decide(msg("plain"), chan(), people(UB={"desktop": "all", "email": {"enabled": True}}), NOW)
    assert d.for_user("UB").email_at is None  # type: ignore[union-attr]


def test_dnd_window_holds_until_it_ends_in_the_users_tz() -> None:
    # 12:00 UTC is 21:00 in Tokyo: inside a 20:00-07:00 window, which ends 07:00 JST = 22:00 UTC
    prefs = {"dnd": {"enabled": True, "start": "20:00", "end": "07:00"}, "email": {"enabled": True}}
    rcpts = {"UB": Recipient("UB", parse(prefs), tz="Asia/Tokyo")}
    n = decide(msg("<@UB>"), chan(), rcpts, NOW).for_user("UB")
    end = datetime(2024, 3, 5, 22, 0, tzinfo=ZoneInfo("UTC")).timestamp()
    assert n is not None and n.deliver_at == end and n.email_at == end
    rcpts = {"UB": Recipient("UB", parse(prefs), tz="Europe/Paris")}  # 13:00: outside
    n = decide(msg("<@UB>"), chan(), rcpts, NOW).for_user("UB")
    assert n is not None and n.deliver_at == NOW


def test_dnd_drop_preference_and_snooze() -> None:
    prefs = parse({"dnd": {"enabled": True, "start": "11:00", "end": "13:00", "when_ends": "drop"}})
    d = decide(msg("<@UB>"), chan(), {"UB": Recipient("UB", prefs)}, NOW)
    assert d.notify == () and d.dropped_for_dnd == ("UB",)
    snoozed = Recipient("UB", snooze_until=int(NOW) + 600)
    n = decide(msg("<@UB>"), chan(), {"UB": snoozed}, NOW).for_user("UB")
    assert n is not None and n.deliver_at == NOW + 600
    expired = Recipient("UB", snooze_until=int(NOW) - 1)
    assert decide(msg("<@UB>"), chan(), {"UB": expired}, NOW).for_user("UB").deliver_at == NOW  # type: ignore[union-attr]


def test_dnd_ended_for_the_current_window() -> None:
    prefs = parse({"dnd": {"enabled": True, "start": "11:00", "end": "13:00"}})
    ended = Recipient("UB", prefs, dnd_ended_until=int(NOW) + 3600)
    assert decide(msg("<@UB>"), chan(), {"UB": ended}, NOW).for_user("UB").deliver_at == NOW  # type: ignore[union-attr]


USERS = st.sampled_from(["UA", "UB", "UC", "UD", "UE"])
PREFS = st.fixed_dictionaries(
    {},
    optional={
        "desktop": st.sampled_from(["all", "mentions", "nothing"]),
        "email": st.fixed_dictionaries({"enabled": st.booleans()}),
        "highlight_words": st.lists(st.sampled_from(["deploy", "x", "lunch"]), max_size=2),
        "channels": st.fixed_dictionaries(
            {
                "C1": st.fixed_dictionaries(
                    {
                        "desktop": st.sampled_from(["default", "all", "mentions", "nothing"]),
                        "muted": st.booleans(),
                    }
                )
            }
        ),
    },
)
TEXT = st.lists(
    st.sampled_from(["<@UA>", "<@UB>", "<@UE>", "<!here>", "<!channel>", "deploy", "hi", "lunch"]), max_size=4
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(
    sender=USERS,
    members=st.frozensets(USERS, min_size=1),
    text=TEXT,
    prefs=st.dictionaries(USERS, PREFS),
    active=st.frozensets(USERS),
    kind=st.sampled_from(["channel", "im", "mpim"]),
    reply=st.booleans(),
    participants=st.frozensets(USERS),
    large=st.integers(1, 6),
)
def test_properties(
    sender: str,
    members: frozenset[str],
    text: str,
    prefs: dict[str, dict[str, object]],
    active: frozenset[str],
    kind: str,
    reply: bool,
    participants: frozenset[str],
    large: int,
) -> None:
    rcpts = {
        u: Recipient(u, parse(prefs.get(u, {})), active=u in active) for u in ("UA", "UB", "UC", "UD", "UE")
    }
    m = Message("T1", "C1", sender, text, "2.000000", "1.000000" if reply else None)
    d = decide(m, Channel("C1", kind, members), rcpts, NOW, participants, Config(large_channel=large))
    for n in d.notify:
        assert n.user_id != sender
        assert n.user_id in members
        assert n.desktop or n.email_at is not None
        override = rcpts[n.user_id].prefs.channel("C1")
        if override.muted:
            assert n.reason == "mention" and f"<@{n.user_id}>" in text
        assert override.desktop != "nothing"
        if n.reason in ("channel", "here"):
            assert len(members) <= large
        if reply and n.reason not in ("mention", "dm"):
            assert n.user_id in participants
    assert len({n.user_id for n in d.notify}) == len(d.notify)


# The first, plainer implementation of decide(), kept as the oracle the faster one must agree
# with on every input (its rules, written the slow way: one helper call per member).
def _ref_reason(
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


def reference_decide(
    message: Message,
    channel: Channel,
    recipients: Mapping[str, Recipient],
    now: float,
    thread_participants: Collection[str] = (),
    config: Config = Config(),  # noqa: B008
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
        reason = _ref_reason(user_id, rcpt, message, channel, parsed, broadcast_allowed, participants)
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


DND = st.fixed_dictionaries(
    {"enabled": st.booleans(), "when_ends": st.sampled_from(["deliver", "drop"])},
    optional={
        "start": st.sampled_from(["00:00", "11:00", "22:00"]),
        "end": st.sampled_from(["08:00", "13:00"]),
    },
)


@settings(max_examples=400, deadline=None)
@given(
    sender=USERS,
    members=st.frozensets(USERS, min_size=1),
    text=TEXT,
    prefs=st.dictionaries(USERS, PREFS),
    dnd_prefs=st.dictionaries(USERS, DND),
    active=st.frozensets(USERS),
    gone=st.frozensets(USERS, max_size=2),
    kind=st.sampled_from(["channel", "im", "mpim"]),
    reply=st.sampled_from([None, "1.000000", "2.000000"]),
    subtype=st.sampled_from(["", "thread_broadcast", "channel_join"]),
    participants=st.frozensets(USERS),
    large=st.integers(1, 6),
    delay=st.sampled_from([None, 0, 60]),
)
def test_agrees_with_the_reference_implementation(
    sender: str,
    members: frozenset[str],
    text: str,
    prefs: dict[str, dict[str, object]],
    dnd_prefs: dict[str, dict[str, object]],
    active: frozenset[str],
    gone: frozenset[str],
    kind: str,
    reply: str | None,
    subtype: str,
    participants: frozenset[str],
    large: int,
    delay: int | None,
) -> None:
    rcpts = {}
    for u in ("UA", "UB", "UC", "UD", "UE"):
        p: dict[str, object] = {**prefs.get(u, {}), "dnd": dnd_prefs.get(u, {})}
        if delay is not None and isinstance(p.get("email"), dict):
            p["email"] = {**p["email"], "delay_s": delay}  # type: ignore[dict-item]
        rcpts[u] = Recipient(u, parse(p), tz="Europe/Paris", active=u in active, deleted=u in gone)
    m = Message("T1", "C1", sender, text, "2.000000", reply, subtype)
    args = (m, Channel("C1", kind, members), rcpts, NOW, participants, Config(large_channel=large))
    assert decide(*args) == reference_decide(*args)


@settings(max_examples=300, deadline=None)
@given(
    sender=USERS,
    members=st.frozensets(USERS, min_size=1),
    texts=st.lists(TEXT, min_size=1, max_size=3),
    prefs=st.dictionaries(USERS, PREFS),
    active=st.frozensets(USERS),
    kind=st.sampled_from(["channel", "im", "mpim"]),
    reply=st.sampled_from([None, "1.000000", "2.000000"]),
    participants=st.frozensets(USERS),
    large=st.integers(1, 6),
)
def test_an_audience_indexed_once_decides_every_message_as_decide_does(
    sender: str,
    members: frozenset[str],
    texts: list[str],
    prefs: dict[str, dict[str, object]],
    active: frozenset[str],
    kind: str,
    reply: str | None,
    participants: frozenset[str],
    large: int,
) -> None:
    """The notifier's path: one Audience per channel (entries without presence), reused for
    several messages, presence given per message with ``with_active``."""
    channel = Channel("C1", kind, members)
    cached = {u: Recipient(u, parse(prefs.get(u, {})), tz="Europe/Paris") for u in ("UA", "UB", "UC", "UE")}
    flagged = {u: Recipient(u, r.prefs, r.tz, active=u in active) for u, r in cached.items()}
    audience = Audience.of(channel, cached)
    config = Config(large_channel=large)
    for text in texts:
        m = Message("T1", "C1", sender, text, "2.000000", reply)
        fast = decide_for(m, audience.with_active(active), NOW, participants, config)
        assert fast == decide(m, channel, flagged, NOW, participants, config)
        assert fast == reference_decide(m, channel, flagged, NOW, participants, config)


def test_large_channel_broadcast_reports_the_plain_members_it_silenced() -> None:
    members = frozenset(f"U{i:03d}" for i in range(40))
    rcpts = {u: Recipient(u, active=int(u[1:]) % 2 == 0) for u in members}
    rcpts["U004"] = Recipient("U004", parse({"highlight_words": ["deploy"]}), active=True)
    channel = Channel("C1", "channel", members)
    here = decide(msg("<!here> deploy", user="U000"), channel, rcpts, NOW, config=Config(large_channel=10))
    # the active members, but the sender and the one the message concerns (a keyword)
    expected = tuple(sorted(u for u in members if int(u[1:]) % 2 == 0 and u not in ("U000", "U004")))
    assert here.large_channel_silenced == expected
    assert who(here) == {"U004": "keyword"}
    everyone = decide(msg("<!channel> hi", user="U000"), channel, rcpts, NOW, config=Config(large_channel=10))
    assert everyone.large_channel_silenced == tuple(sorted(members - {"U000"})) and who(everyone) == {}
