"""The presence and typing knobs of an edge (flags in ``flannel_cli.edge``)."""

from __future__ import annotations

from dataclasses import dataclass

from wire.presence import TYPING_EXPIRY_S, TYPING_INTERVAL_S, TYPING_MEMBER_CAP


@dataclass(frozen=True, slots=True)
class PresenceSettings:
    #: A connection without client activity for this long is auto-away (Slack: 10 minutes).
    away_after_s: float = 600.0
    #: Bots count as active while connected, never auto-away.
    bots_always_active: bool = True
    #: How long an edge's report lives without a heartbeat: an edge killed without a goodbye
    #: stops counting within this bound. Heartbeats go out every third of it.
    ttl_s: float = 30.0
    #: Presence changes are batched over this window before going out.
    coalesce_s: float = 0.25
    #: At most one typing frame per channel per this many seconds per connection is forwarded.
    typing_interval_s: float = TYPING_INTERVAL_S
    #: Clients show a typist this long after the last ``user_typing`` (said in the hello).
    typing_expiry_s: float = TYPING_EXPIRY_S
    #: No typing for channels with more members than this.
    typing_member_cap: int = TYPING_MEMBER_CAP

    @property
    def heartbeat_s(self) -> float:
        return self.ttl_s / 3
