"""Mentions in Slack's markup, parsed the same for the edge (just-in-time users, counts) and
clients."""

from __future__ import annotations

import pytest

from wire.mentions import Mentions, mentioned_users, parse, specials


def test_users_in_order_of_first_mention_without_repeats() -> None:
    text = "<@U2> hi <@U1|alice> and <@U2> again, <@W3>"
    assert mentioned_users(text) == ["U2", "U1", "W3"]


@pytest.mark.parametrize(
    "text", ["<@u1>", "<@C1>", "<@>", "@U1", "<@U1", "U1>", "<#C1|general>", "", None, 5, ["<@U1>"]]
)
def test_not_user_mentions(text: object) -> None:
    assert mentioned_users(text) == []


def test_specials_with_and_without_labels() -> None:
    assert specials("<!here> <!channel|channel> <!everyone>") == {"here", "channel", "everyone"}
    assert specials("<!subteam^S1> <!date^1|x> !here <!HERE>") == frozenset()
    assert specials(None) == frozenset()


def test_parse_and_who_is_mentioned() -> None:
    m = parse("<@U1> <!here>")
    assert m == Mentions(("U1",), frozenset({"here"}))
    assert m.mentions("U1") and not m.mentions("U2")  # <!here> depends on presence: the caller's call
    assert parse("<!channel>").mentions("U9") and parse("<!everyone>").mentions("U9")
    assert not parse("plain text").mentions("U1")
