"""Workspaces."""

from __future__ import annotations

import re

from origin.models import JSON
from origin.store.shards import Store
from wire.errors import SlackError, invalid_arguments
from wire.ids import new_id, now_us

_DOMAIN = re.compile(r"[^a-z0-9-]+")


def team_object(row: tuple[object, ...]) -> JSON:
    team_id, name, domain = row[0], row[1], row[2]
    return {"id": team_id, "name": name, "domain": domain}


ICON_SIZES = (34, 44, 68, 88, 102, 132, 230)


def team_info(team: JSON) -> JSON:
    """Slack's ``team.info`` object: the team, its email domain (none) and default icons."""
    icon: JSON = {
        f"image_{n}": f"https://avatars.flannel.invalid/team/{team['domain']}_{n}.png" for n in ICON_SIZES
    }
    icon["image_default"] = True
    return {**team, "email_domain": "", "icon": icon, "avatar_base_url": "https://avatars.flannel.invalid/"}


async def create_workspace(store: Store, name: str, domain: str | None = None) -> JSON:
    name = name.strip()
    if not name or len(name) > 255:
        raise invalid_arguments("name", "must be 1 to 255 characters")
    domain = _DOMAIN.sub("-", (domain or name).lower()).strip("-")[:63] or "workspace"
    team_id = new_id("T")
    db = await store.assign_shard(team_id)
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO teams (id, name, domain, created, event_seq) VALUES (?, ?, ?, ?, 0)",
            [team_id, name, domain, now_us() // 1_000_000],
        )
    return {"id": team_id, "name": name, "domain": domain}


async def get_team(store: Store, team_id: str) -> JSON:
    async with store.read(team_id) as conn:
        row = await conn.fetchone("SELECT id, name, domain FROM teams WHERE id = ?", [team_id])
    if row is None:
        raise SlackError("team_not_found")
    return team_object(row)


async def current_offset(store: Store, team_id: str) -> int:
    async with store.read(team_id) as conn:
        row = await conn.fetchone("SELECT event_seq FROM teams WHERE id = ?", [team_id])
    if row is None:
        raise SlackError("team_not_found")
    return int(row[0])
