"""An export's parts as plain data: its users, its conversations (with the folder of day
files each has) and, read one file at a time, their messages. Pure over :class:`Archive`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from origin.transfer.archive import Archive, ArchiveError, ItemError
from origin.transfer.report import Report

JSON = dict[str, Any]
DAY_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.json$")
#: listing file -> (kind, private, folder named by): Slack's export layout.
LISTINGS = (
    ("channels.json", "channel", False, "name"),
    ("groups.json", "channel", True, "name"),
    ("dms.json", "im", True, "id"),
    ("mpims.json", "mpim", True, "name"),
)


@dataclass
class ConvSpec:
    """One conversation as the export lists it."""

    kind: str  # channel, im, mpim
    id: str
    name: str | None
    is_private: bool
    created: int
    creator: str | None
    members: list[str]
    topic: JSON
    purpose: JSON
    is_archived: bool
    folder: str
    days: list[str] = field(default_factory=list)


@dataclass
class Source:
    users: list[JSON]
    conversations: list[ConvSpec]

    @property
    def day_count(self) -> int:
        return sum(len(c.days) for c in self.conversations)


def _list(archive: Archive, name: str, report: Report) -> list[JSON]:
    """A listing file as a list of objects; malformed or non-list -> reported, empty."""
    if name not in archive:
        return []
    try:
        value = archive.read_json(name)
    except ItemError as exc:
        raise ArchiveError("malformed_listing", str(exc)) from None
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ArchiveError("malformed_listing", f"{name} is not a list of objects")
    return value


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


def _text(value: Any) -> JSON:
    value = value if isinstance(value, dict) else {}
    creator = value.get("creator")
    return {
        "value": str(value.get("value") or ""),
        "creator": str(creator) if creator else "",
        "last_set": _int(value.get("last_set")),
    }


def read_source(archive: Archive, report: Report) -> Source:
    """Users and conversations; a listing that is not JSON refuses the whole export (its
    conversations could not be told apart), a day file that is not JSON is one report item."""
    users_file = next((n for n in ("users.json", "org_users.json") if n in archive), None)
    if users_file is None:
        raise ArchiveError("missing_users", "the export has neither users.json nor org_users.json")
    users = _list(archive, users_file, report)
    convs: list[ConvSpec] = []
    for listing, kind, private, folder_key in LISTINGS:
        for obj in _list(archive, listing, report):
            conv_id = obj.get("id")
            if not isinstance(conv_id, str) or not conv_id:
                report.skip("conversation", "no_id", listing)
                continue
            name = obj.get("name") if kind != "im" else None
            folder = str(obj.get(folder_key) or conv_id)
            convs.append(
                ConvSpec(
                    kind=kind,
                    id=conv_id,
                    name=str(name) if name else None,
                    is_private=private or bool(obj.get("is_private")),
                    created=_int(obj.get("created")),
                    creator=obj.get("creator") or obj.get("user"),
                    members=[str(m) for m in obj.get("members") or [] if isinstance(m, str)],
                    topic=_text(obj.get("topic")),
                    purpose=_text(obj.get("purpose")),
                    is_archived=bool(obj.get("is_archived")),
                    folder=folder,
                )
            )
    by_folder = {c.folder: c for c in convs}
    for name in archive.names:
        folder, _, base = name.rpartition("/")
        if not folder or "/" in folder or not DAY_FILE.match(base):
            continue
        conv = by_folder.get(folder)
        if conv is None:
            report.skip("day_file", "unlisted_conversation", name)
            continue
        conv.days.append(name)
    for conv in convs:
        conv.days.sort()
    return Source(users, convs)


def day_messages(archive: Archive, name: str, report: Report) -> Iterator[JSON]:
    """The messages of one day file; a malformed file or entry is reported and skipped."""
    try:
        value = archive.read_json(name)
    except ItemError as exc:
        report.skip("day_file", "malformed_json", str(exc))
        return
    if not isinstance(value, list):
        report.skip("day_file", "not_a_list", name)
        return
    for i, message in enumerate(value):
        if not isinstance(message, dict):
            report.skip("message", "not_an_object", f"{name}[{i}]")
            continue
        yield message
