"""Mentions in message text, in Slack's markup: ``<@U123>``, ``<@U123|name>``, ``<!here>``,
``<!channel>``, ``<!everyone>`` (``<!here|here>`` too).

The edge uses them to send a message's users just in time and to count mentions; clients to
know which users a message needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
