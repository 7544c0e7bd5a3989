"""Mentions in message text, in Slack's markup: ``<@U123>``, ``<@U123|name>``, ``<!here>``,
``<!channel>``, ``<!everyone>`` (``<!here|here>`` too).

The edge uses them to send a message's users just in time and to count mentions; clients to
know which users a message needs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")


def mentioned_users(text: object) -> list[str]:
    """User ids ``<@U..>``-mentioned in ``text``, in order of first mention, without repeats."""
    if not isinstance(text, str) or "<@" not in text:
        return []
    return list(dict.fromkeys(_USER.findall(text)))


def specials(text: object) -> frozenset[str]:
    """Which of ``here``, ``channel``, ``everyone`` the text broadcasts to."""
    if not isinstance(text, str) or "<!" not in text:
        return frozenset()
    return frozenset(_SPECIAL.findall(text))


@dataclass(frozen=True, slots=True)
class Mentions:
    users: tuple[str, ...]
    broadcast: frozenset[str]

    def mentions(self, user_id: str) -> bool:
        """Whether this mentions ``user_id`` directly or by ``<!channel>``/``<!everyone>``
        (``<!here>`` depends on presence, so callers decide it)."""
        return user_id in self.users or bool(self.broadcast & {"channel", "everyone"})


def parse(text: object) -> Mentions:
    return Mentions(tuple(mentioned_users(text)), specials(text))


def referenced_users(event: Mapping[str, Any]) -> tuple[str, ...]:
    """Users a client needs to render a message event: its sender and the ``<@U..>`` mentions.

    Takes both shapes of an edit: the log's ``type: message_changed`` and Slack's
    ``type: message, subtype: message_changed`` (the new message is inside). Deletions and
    other events need none: they either carry the user object (user_change, team_join) or name
    users the client can look up on demand.
    """
    kind, subtype = event.get("type"), event.get("subtype")
    if kind == "message_changed" or (kind == "message" and subtype == "message_changed"):
        inner = event.get("message")
        body: Mapping[str, Any] = inner if isinstance(inner, Mapping) else {}
    elif kind == "message" and subtype != "message_deleted":
        body = event
    else:
        return ()
    found: dict[str, None] = {}
    sender = body.get("user")
    if isinstance(sender, str) and sender:
        found[sender] = None
    found.update(dict.fromkeys(mentioned_users(body.get("text"))))
    return tuple(found)
