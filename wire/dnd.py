"""Do-not-disturb: when a user's daily window and snooze hold notifications, in Slack's terms.

Two independent sources, as in Slack: the daily schedule (``dnd`` of the notification prefs,
in the user's ``tz``, a window that may cross midnight) and a snooze (``dnd.setSnooze``: until
a time). ``dnd.endDnd`` ends the scheduled window now in progress (``ended_until``, the end of
that window) and any snooze. The origin answers ``dnd.info`` with :func:`info`; the notifier
asks :func:`status` whether to hold a notification and until when. Times are Unix seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wire.notifyprefs import Dnd


def zone(tz: str | None) -> ZoneInfo:
    """The user's time zone; an unknown one is UTC (never an error at notification time)."""
    try:
        return ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _at(day: date, minutes: int, tz: ZoneInfo) -> int:
    local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=tz)
    return int(local.timestamp())


def window(dnd: Dnd, tz: str | None, now: float, ended_until: int = 0) -> tuple[int, int]:
    """The scheduled window in progress at ``now``, else the next one: ``(start, end)``.

    A window that ``dnd.endDnd`` ended (its end at or before ``ended_until``) is skipped.
    """
    zi = zone(tz)
    today = datetime.fromtimestamp(now, zi).date()
    after = max(now, ended_until)
    for offset in range(-1, 3):
        day = today + timedelta(days=offset)
        start = _at(day, dnd.start_min, zi)
        end_day = day if dnd.end_min > dnd.start_min else day + timedelta(days=1)
        end = _at(end_day, dnd.end_min, zi)
        if end > after:
            return start, end
    raise AssertionError("a daily window always recurs within three days")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class Status:
    """Whether notifications are held at a moment, and until when (``until``, seconds)."""

    active: bool
    until: int = 0
    snoozed: bool = False


def status(dnd: Dnd, tz: str | None, now: float, snooze_until: int = 0, ended_until: int = 0) -> Status:
    until = 0
    snoozed = snooze_until > now
    if snoozed:
        until = snooze_until
    if dnd.enabled:
        start, end = window(dnd, tz, now, ended_until)
        if start <= now < end:
            until = max(until, end)
            # a snooze that ends inside the window runs on into it
            return Status(True, until, snoozed)
        if snoozed and start <= snooze_until < end:
            until = end
    return Status(snoozed, until, snoozed)


def info(dnd: Dnd, tz: str | None, now: float, snooze_until: int = 0, ended_until: int = 0) -> dict[str, Any]:
    """Slack's ``dnd.info`` body for the caller (``snooze_*`` fields only for oneself)."""
    body = team_info(dnd, tz, now, ended_until)
    snoozed = snooze_until > now
    body["snooze_enabled"] = snoozed
    if snoozed:
        body["snooze_endtime"] = snooze_until
        body["snooze_remaining"] = int(snooze_until - now)
        body["snooze_is_indefinite"] = False
    return body


def team_info(dnd: Dnd, tz: str | None, now: float, ended_until: int = 0) -> dict[str, Any]:
    """What anyone may see of a user's DND (``dnd.teamInfo``, ``dnd_updated_user``)."""
    if not dnd.enabled:
        return {"dnd_enabled": False, "next_dnd_start_ts": 1, "next_dnd_end_ts": 1}
    start, end = window(dnd, tz, now, ended_until)
    return {"dnd_enabled": True, "next_dnd_start_ts": start, "next_dnd_end_ts": end}
