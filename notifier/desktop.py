"""Desktop delivery over the ephemeral bus: a ``desktop_notification`` frame becomes a
:class:`wire.bus.UserFrame` for the user's connections, on every edge of every region.

The bus is at most once (a notification is a courtesy: the message itself is in the log and
in the user's unread counts). A bus that fails is logged and the notification counted as
dropped, so a broken bus never stalls the change log or the emails behind it.
"""

from __future__ import annotations

import logging
from typing import Any

from ephemeral import Publisher
from wire.bus import UserFrame

logger = logging.getLogger(__name__)
SENDER = "notifier"


class BusDesktop:
    """A :class:`notifier.ports.DesktopSink` that publishes on an :class:`ephemeral.Publisher`."""

    def __init__(self, publisher: Publisher, sender: str = SENDER) -> None:
        self.publisher = publisher
        self.sender = sender
        self.published = 0
        self.failed = 0

    async def deliver(self, team_id: str, user_id: str, frame: dict[str, Any]) -> None:
        try:
            await self.publisher.publish(UserFrame(team_id, self.sender, user_id, frame))
        except Exception:
            self.failed += 1
            logger.exception("notifier: publishing a desktop_notification to %s/%s failed", team_id, user_id)
            return
        self.published += 1
