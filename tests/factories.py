"""Builders for test workspaces."""

from __future__ import annotations

from dataclasses import dataclass, field

from origin.service import conversations, teams, users
from origin.service.auth import Caller, authenticate, issue_token
from origin.store.shards import Store


@dataclass
class Member:
    id: str
    name: str
    token: str
    caller: Caller


@dataclass
class Team:
    id: str
    users: list[Member] = field(default_factory=list)
    general: str = ""
    private: str = ""

    @property
    def alice(self) -> Member:
        return self.users[0]

    @property
    def bob(self) -> Member:
        return self.users[1]

    @property
    def carol(self) -> Member:
        return self.users[2]


async def make_team(store: Store, names: tuple[str, ...] = ("alice", "bob", "carol")) -> Team:
    """A workspace with users, a public #general with everyone, and a private channel that
    only the first two users are in."""
    team = await teams.create_workspace(store, "Test Team")
    out = Team(team["id"])
    for name in names:
        user = await users.create_user(
            store, team["id"], name, name.title() + " Example", f"{name}@example.com"
        )
        token = await issue_token(store, team["id"], user["id"])
        out.users.append(Member(user["id"], name, token, await authenticate(store, token)))
    general = await conversations.create(store, out.alice.caller, "general", False)
    out.general = general["id"]
    for member in out.users[1:]:
        await conversations.join(store, member.caller, out.general)
    private = await conversations.create(store, out.alice.caller, "secret-plans", True)
    out.private = private["id"]
    await conversations.invite(store, out.alice.caller, out.private, [out.bob.id])
    return out
