"""``users.conversations`` answered from memory: memberships, types, archived, paging, and
another user's private conversations hidden from a caller who is not in them."""

from __future__ import annotations

from typing import Any

import pytest

from flannel.cache import Workspace
from flannel.methods import LOCAL, Who, answer
from tests.flannel.cache import base_state, pages_of
from tests.flannel.harness import serve
from wire.args import Args
from wire.errors import SlackError

ALICE = Who("T1", "U1")
CAROL = Who("T1", "U3")
ALL = "public_channel,private_channel,mpim,im"


@pytest.fixture
def ws() -> Workspace:
    return Workspace.from_pages(pages_of(base_state()))


def ids(ws: Workspace, who: Who = ALICE, **args: Any) -> list[str]:
    return [c["id"] for c in answer(LOCAL["users.conversations"], ws, who, Args(args))["channels"]]


def test_the_callers_own_conversations_by_type(ws: Workspace) -> None:
    assert ids(ws) == ["C1"]  # public_channel by default
    assert ids(ws, types=ALL) == ["C1", "D1", "G1", "G2"]
    assert ids(ws, types="private_channel,im") == ["D1", "G1"]
    assert ids(ws, CAROL, types="public_channel") == ["C1", "C2"]
    assert ids(ws, CAROL, types="public_channel", exclude_archived="true") == ["C1"]


def test_another_users_private_conversations_stay_hidden(ws: Workspace) -> None:
    assert ids(ws, CAROL, user="U1", types=ALL) == ["C1", "G2"]  # not alice's DM nor G1
    assert ids(ws, ALICE, user="U3", types=ALL) == ["C1", "C2", "G2"]
    body = answer(LOCAL["users.conversations"], ws, ALICE, Args({"user": "U2", "types": "im"}))
    assert [(c["id"], c["user"]) for c in body["channels"]] == [("D1", "U2")]  # the DM's other side


def test_pages_follow_the_cursor(ws: Workspace) -> None:
    seen: list[str] = []
    cursor = ""
    for _ in range(5):
        body = answer(
            LOCAL["users.conversations"], ws, ALICE, Args({"types": ALL, "limit": 3, "cursor": cursor})
        )
        seen += [c["id"] for c in body["channels"]]
        cursor = body["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert seen == ["C1", "D1", "G1", "G2"]


def test_errors(ws: Workspace) -> None:
    for args, code in (({"user": "U9"}, "user_not_found"), ({"types": "nope"}, "invalid_arguments")):
        with pytest.raises(SlackError) as info:
            answer(LOCAL["users.conversations"], ws, ALICE, Args(args))
        assert info.value.code == code


async def test_the_edge_answers_it_without_the_origin() -> None:
    async with serve() as env, env.http() as http:
        got = await http.post(
            "/api/users.conversations", data={"types": ALL}, headers={"Authorization": "Bearer xoxp-bob"}
        )
    assert got.json()["ok"] and [c["id"] for c in got.json()["channels"]] == ["C1", "D1", "G1", "G2"]
    assert "users.conversations" not in [c.method for c in env.origin.forwarded()]
