"""Conversation kinds and the one visibility rule: who may see a conversation.

A conversation is *public* only when it is a channel (not a DM or group DM) that is explicitly
not private. Anything else (private channels, DMs, group DMs, and an object that does not say
``is_private: false``) is visible to its members only: the rule fails closed, so a malformed or
partial object can never widen access. Origin (access checks, listings, boot, search rendering)
and edge (queries, fanout) both decide with these functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Storage kinds of a conversation (the origin's ``conversations.kind``).
KINDS = ("channel", "im", "mpim")
#: The ``types`` of ``conversations.list``.
CONVERSATION_TYPES = ("public_channel", "private_channel", "mpim", "im")


def is_public_kind(kind: str, is_private: bool) -> bool:
    """Stored form: ``kind`` is a :data:`KINDS` member and ``is_private`` the flag."""
    return kind == "channel" and not is_private


def kind_of(channel: Mapping[str, Any]) -> str:
    """``channel``, ``im`` or ``mpim`` from a Slack conversation object."""
    if channel.get("is_im"):
        return "im"
    if channel.get("is_mpim"):
        return "mpim"
    return "channel"


def is_public(channel: Mapping[str, Any]) -> bool:
    """Object form: a channel that says ``is_private: false`` (and is no DM or group DM)."""
    return kind_of(channel) == "channel" and channel.get("is_private") is False


def type_of_kind(kind: str, is_private: bool) -> str:
    """The :data:`CONVERSATION_TYPES` member a stored conversation belongs to."""
    if kind == "channel":
        return "private_channel" if is_private else "public_channel"
    return kind


def type_of(channel: Mapping[str, Any]) -> str:
    """The :data:`CONVERSATION_TYPES` member a conversation object belongs to (fails closed)."""
    kind = kind_of(channel)
    if kind == "channel":
        return "public_channel" if is_public(channel) else "private_channel"
    return kind


def channel_type(kind: str, is_private: bool) -> str:
    """Slack's one-letter ``channel_type`` of events: C public, G private or group DM, D DM."""
    if kind == "im":
        return "D"
    return "C" if is_public_kind(kind, is_private) else "G"
