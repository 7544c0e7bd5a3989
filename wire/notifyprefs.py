"""A user's notification preferences: the shape ``users.prefs.get|set`` speak and the notifier reads.

One JSON object per user, every field optional (absent means the default)::

    {
      "desktop": "all" | "mentions" | "nothing",            # default "mentions"
      "email": {"enabled": false, "delay_s": 300},          # delay_s absent: the server's default
      "highlight_words": ["deploy", "on-call"],             # matched as words, case-insensitive
      "dnd": {"enabled": false, "start": "22:00", "end": "08:00", "when_ends": "deliver"},
      "channels": {"C123": {"desktop": "default" | "all" | "mentions" | "nothing", "muted": false}}
    }

``dnd.when_ends``: what happens to what arrived during do-not-disturb: ``deliver`` (queued and
sent when it ends) or ``drop``. The window is daily, in the user's own ``tz``; ``start == end``
is refused (ambiguous). Shared by the origin (validation, storage) and the notifier (decision):
both read it through :func:`parse`, so a stored object always means the same thing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LEVELS = ("all", "mentions", "nothing")
CHANNEL_LEVELS = ("default", *LEVELS)
WHEN_ENDS = ("deliver", "drop")
MAX_WORDS = 50
MAX_WORD_LEN = 50
MAX_CHANNELS = 1000
MAX_DELAY_S = 7 * 86400
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_CHANNEL_ID = re.compile(r"^[CDG][A-Z0-9]{1,31}$")
_TOP = frozenset({"desktop", "email", "highlight_words", "dnd", "channels"})


class PrefsError(ValueError):
    """A preference object that is not valid; ``field`` names what is wrong."""

    def __init__(self, field: str, why: str) -> None:
        super().__init__(f"{field}: {why}")
        self.field = field
        self.why = why


@dataclass(frozen=True, slots=True)
class Email:
    enabled: bool = False
    delay_s: int | None = None  # None: the notifier's configured default


@dataclass(frozen=True, slots=True)
class Dnd:
    enabled: bool = False
    start_min: int = 22 * 60  # minutes after local midnight
    end_min: int = 8 * 60
    when_ends: str = "deliver"


@dataclass(frozen=True, slots=True)
class ChannelPref:
    desktop: str = "default"
    muted: bool = False


@dataclass(frozen=True, slots=True)
class NotificationPrefs:
    desktop: str = "mentions"
    email: Email = field(default_factory=Email)
    highlight_words: tuple[str, ...] = ()
    dnd: Dnd = field(default_factory=Dnd)
    channels: Mapping[str, ChannelPref] = field(default_factory=dict)

    def channel(self, channel_id: str) -> ChannelPref:
        return self.channels.get(channel_id, _DEFAULT_CHANNEL)


_DEFAULT_CHANNEL = ChannelPref()
DEFAULT = NotificationPrefs()


def _hhmm(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def _fmt(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _obj(value: object, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PrefsError(name, "must be an object")
    return value


def _known(obj: Mapping[str, Any], allowed: set[str] | frozenset[str], name: str) -> None:
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        raise PrefsError(f"{name}.{unknown[0]}" if name else unknown[0], "is not a known preference")


def _bool(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise PrefsError(name, "must be true or false")
    return value


def _choice(value: object, choices: tuple[str, ...], name: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise PrefsError(name, "must be one of " + ", ".join(choices))
    return value


def _email(value: object) -> Email:
    obj = _obj(value, "email")
    _known(obj, {"enabled", "delay_s"}, "email")
    delay = obj.get("delay_s")
    if delay is not None and (
        isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= MAX_DELAY_S
    ):
        raise PrefsError("email.delay_s", f"must be an integer between 0 and {MAX_DELAY_S}")
    return Email(_bool(obj.get("enabled", False), "email.enabled"), delay)


def _words(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise PrefsError("highlight_words", "must be a list of strings")
    if len(value) > MAX_WORDS:
        raise PrefsError("highlight_words", f"at most {MAX_WORDS} words")
    out: dict[str, None] = {}
    for word in value:
        if not isinstance(word, str) or not word.strip() or len(word.strip()) > MAX_WORD_LEN:
            raise PrefsError("highlight_words", f"each word must be 1 to {MAX_WORD_LEN} characters")
        out[word.strip()] = None
    return tuple(out)


def _dnd(value: object) -> Dnd:
    obj = _obj(value, "dnd")
    _known(obj, {"enabled", "start", "end", "when_ends"}, "dnd")
    times = []
    for key, default in (("start", "22:00"), ("end", "08:00")):
        text = obj.get(key, default)
        if not isinstance(text, str) or not _HHMM.match(text):
            raise PrefsError(f"dnd.{key}", "must be a time HH:MM (24h)")
        times.append(_hhmm(text))
    if times[0] == times[1]:
        raise PrefsError("dnd.end", "must differ from dnd.start")
    when = _choice(obj.get("when_ends", "deliver"), WHEN_ENDS, "dnd.when_ends")
    return Dnd(_bool(obj.get("enabled", False), "dnd.enabled"), times[0], times[1], when)


def _channels(value: object) -> dict[str, ChannelPref]:
    obj = _obj(value, "channels")
    if len(obj) > MAX_CHANNELS:
        raise PrefsError("channels", f"at most {MAX_CHANNELS} channel overrides")
    out = {}
    for channel_id, pref in obj.items():
        if not isinstance(channel_id, str) or not _CHANNEL_ID.match(channel_id):
            raise PrefsError("channels", f"{channel_id!r} is not a conversation id")
        name = f"channels.{channel_id}"
        body = _obj(pref, name)
        _known(body, {"desktop", "muted"}, name)
        out[channel_id] = ChannelPref(
            _choice(body.get("desktop", "default"), CHANNEL_LEVELS, f"{name}.desktop"),
            _bool(body.get("muted", False), f"{name}.muted"),
        )
    return out


def parse(value: object) -> NotificationPrefs:
    """The preferences an object states; :class:`PrefsError` names the first bad field."""
    obj = _obj(value, "prefs")
    _known(obj, _TOP, "")
    return NotificationPrefs(
        desktop=_choice(obj.get("desktop", "mentions"), LEVELS, "desktop"),
        email=_email(obj.get("email", {})),
        highlight_words=_words(obj.get("highlight_words", [])),
        dnd=_dnd(obj.get("dnd", {})),
        channels=_channels(obj.get("channels", {})),
    )


def merge(stored: Mapping[str, Any], change: Mapping[str, Any]) -> dict[str, Any]:
    """``change`` over ``stored``: objects merge one level down (``email``, ``dnd``, each channel
    of ``channels``); lists and scalars replace. A channel set to ``null`` loses its override."""
    out: dict[str, Any] = dict(stored)
    for key, value in change.items():
        if key == "channels" and isinstance(value, Mapping):
            channels = dict(out.get("channels") or {})
            for channel_id, pref in value.items():
                if pref is None:
                    channels.pop(channel_id, None)
                elif isinstance(pref, Mapping):
                    channels[channel_id] = {**channels.get(channel_id, {}), **pref}
                else:
                    channels[channel_id] = pref
            out["channels"] = channels
        elif key in ("email", "dnd") and isinstance(value, Mapping):
            out[key] = {**(out.get(key) or {}), **value}
        else:
            out[key] = value
    return out


def to_json(prefs: NotificationPrefs) -> dict[str, Any]:
    """Every field, defaults included: what ``users.prefs.get`` answers."""
    return {
        "desktop": prefs.desktop,
        "email": {"enabled": prefs.email.enabled, "delay_s": prefs.email.delay_s},
        "highlight_words": list(prefs.highlight_words),
        "dnd": {
            "enabled": prefs.dnd.enabled,
            "start": _fmt(prefs.dnd.start_min),
            "end": _fmt(prefs.dnd.end_min),
            "when_ends": prefs.dnd.when_ends,
        },
        "channels": {c: {"desktop": p.desktop, "muted": p.muted} for c, p in prefs.channels.items()},
    }
