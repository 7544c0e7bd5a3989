"""Which channel a page opens first (``flannel.first_screen.first_channel``)."""

from __future__ import annotations

from flannel.first_screen import first_channel

CHANNELS = [
    {"id": "C1", "name": "design", "is_archived": False},
    {"id": "C2", "name": "general", "is_archived": False},
    {"id": "C3", "name": "old-news", "is_archived": True},
    {"id": "D1", "is_im": True, "is_archived": False, "user": "U2"},
    {"id": "G1", "name": "general", "is_mpim": True, "is_archived": False},
]


def test_the_remembered_channel_while_the_user_is_in_it_else_general() -> None:
    assert first_channel(CHANNELS, "C1") == "C1"
    assert first_channel(CHANNELS, "D1") == "D1"  # a DM is a channel the page may show first
    for wanted in (None, "C3", "CELSEWHERE", ""):  # none, archived, not the user's
        assert first_channel(CHANNELS, wanted) == "C2", wanted


def test_no_general_and_no_remembered_channel_leaves_it_to_the_page() -> None:
    rest = [c for c in CHANNELS if c["id"] != "C2"]
    assert first_channel(rest, "C3") is None  # the mpim named general is not #general
    assert first_channel([], "C1") is None
