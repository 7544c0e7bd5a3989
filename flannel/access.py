"""The fanout's view of one cached workspace (:class:`flannel.rtm.fanout.Access`)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from flannel.cache import Workspace


class WorkspaceAccess:
    """Visibility, membership and users of ``ws``, as routing events needs them."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def can_see(self, user_id: str, channel_id: str) -> bool:
        return self.ws.can_see(user_id, channel_id)

    def members_of(self, channel_id: str) -> Collection[str]:
        return self.ws.members_of(channel_id)

    def visible_to_all(self, channel_id: str) -> bool:
        """Whether every user may see the channel (a public one): routing asks it once per
        event instead of ``can_see`` per recipient. The one rule's answer for a user with no
        channels ("" is no user id), so it cannot drift from ``can_see``."""
        return self.ws.can_see("", channel_id)

    def user(self, user_id: str) -> Mapping[str, Any] | None:
        return self.ws.find_user(user_id)

    def marked_fields(self, channel_id: str, user_id: str) -> dict[str, Any]:
        """The counts a ``channel_marked`` carries (read state lives here, not at the origin)."""
        return self.ws.marked_fields(channel_id, user_id)
