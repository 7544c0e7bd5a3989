"""The one visibility rule: a conversation is public only when it is a channel that says it is
not private. Everything else (and a partial object) is for members only: the rule fails closed."""

from __future__ import annotations

import pytest

from wire.visibility import (
    CONVERSATION_TYPES,
    KINDS,
    channel_type,
    is_public,
    is_public_kind,
    kind_of,
    type_of,
    type_of_kind,
)


def test_a_channel_object_without_is_private_is_not_public() -> None:
    """The case two copies of the rule disagreed on: the missing flag must not widen access."""
    partial = {"id": "C1", "name": "general", "is_channel": True}
    assert not is_public(partial)
    assert type_of(partial) == "private_channel"
    assert not is_public({**partial, "is_private": None})
    assert not is_public({**partial, "is_private": 0})  # only an explicit False opens it
    assert is_public({**partial, "is_private": False})


@pytest.mark.parametrize(
    ("obj", "public"),
    [
        ({"id": "C1", "is_channel": True, "is_private": False}, True),
        ({"id": "G1", "is_channel": True, "is_private": True}, False),
        ({"id": "D1", "is_im": True, "is_private": False}, False),
        ({"id": "G2", "is_mpim": True, "is_private": False}, False),
        ({}, False),
    ],
)
def test_objects(obj: dict[str, object], public: bool) -> None:
    assert is_public(obj) is public


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("private", [False, True])
def test_stored_and_object_forms_agree(kind: str, private: bool) -> None:
    obj = {
        "is_channel": kind == "channel",
        "is_im": kind == "im",
        "is_mpim": kind == "mpim",
        "is_private": private,
    }
    assert kind_of(obj) == kind
    assert is_public(obj) == is_public_kind(kind, private)
    assert type_of(obj) == type_of_kind(kind, private)
    assert type_of_kind(kind, private) in CONVERSATION_TYPES


def test_only_an_unprivate_channel_is_public_in_stored_form() -> None:
    public = {(k, p) for k in KINDS for p in (False, True) if is_public_kind(k, p)}
    assert public == {("channel", False)}


@pytest.mark.parametrize(
    ("kind", "private", "letter"),
    [
        ("channel", False, "C"),
        ("channel", True, "G"),
        ("im", True, "D"),
        ("im", False, "D"),
        ("mpim", True, "G"),
    ],
)
def test_channel_type_letters(kind: str, private: bool, letter: str) -> None:
    assert channel_type(kind, private) == letter


def test_conversation_types_are_slacks() -> None:
    assert set(CONVERSATION_TYPES) == {"public_channel", "private_channel", "mpim", "im"}
