"""The methods the edge answers from memory: Slack's shapes, the origin's cursors, errors."""

from __future__ import annotations

from typing import Any

import pytest

from flannel.cache import Workspace
from flannel.methods import LOCAL, Who, answer
from tests.flannel.cache import base_state, pages_of
from wire import cursors
from wire.args import Args
from wire.errors import SlackError

ALICE = Who("T1", "U1")
CAROL = Who("T1", "U3")


@pytest.fixture
def ws() -> Workspace:
    return Workspace.from_pages(pages_of(base_state()))


def call(ws: Workspace, method: str, who: Who = ALICE, **args: Any) -> dict[str, Any]:
    return answer(LOCAL[method], ws, who, Args(args))


def error_of(ws: Workspace, method: str, who: Who = ALICE, **args: Any) -> tuple[str, str | None]:
    with pytest.raises(SlackError) as info:
        call(ws, method, who, **args)
    return info.value.code, info.value.detail


def test_users_info_one_or_many(ws: Workspace) -> None:
    assert call(ws, "users.info", user="U2")["user"]["name"] == "bob"
    assert [u["id"] for u in call(ws, "users.info", users="U3,U1")["users"]] == ["U3", "U1"]
    assert error_of(ws, "users.info", user="U9") == ("user_not_found", None)
    assert error_of(ws, "users.info", user="not-an-id!") == ("user_not_found", None)
    assert error_of(ws, "users.info", users="U1,U8,U9") == ("users_not_found", "U8,U9")


def test_users_list_pages_with_the_origins_cursors(ws: Workspace) -> None:
    first = call(ws, "users.list", limit=2)
    assert [u["id"] for u in first["members"]] == ["U1", "U2"]
    cursor = first["response_metadata"]["next_cursor"]
    assert cursors.decode("user", cursor) == "U2"  # the origin pages users with the same cursor
    rest = call(ws, "users.list", limit=2, cursor=cursor)
    assert [u["id"] for u in rest["members"]] == ["U3", "U4"]  # deactivated users are listed
    assert rest["response_metadata"] == {"next_cursor": ""}
    assert error_of(ws, "users.list", cursor="garbage")[0] == "invalid_cursor"
    assert error_of(ws, "users.list", limit="x")[0] == "invalid_limit"
    members = call(ws, "users.list", channel="G1")["members"]
    assert [u["id"] for u in members] == ["U1", "U2"]
    assert error_of(ws, "users.list", CAROL, channel="G1")[0] == "channel_not_found"


def test_conversations_list_types_and_visibility(ws: Workspace) -> None:
    public = call(ws, "conversations.list")["channels"]
    assert [c["id"] for c in public] == ["C1", "C2"]
    everything = call(ws, "conversations.list", CAROL, types="public_channel,private_channel,im,mpim")
    assert [c["id"] for c in everything["channels"]] == ["C1", "C2", "G2"]  # not alice's G1 nor D1
    assert [c["id"] for c in call(ws, "conversations.list", exclude_archived="true")["channels"]] == ["C1"]
    paged = call(ws, "conversations.list", limit=1)
    after = call(ws, "conversations.list", limit=1, cursor=paged["response_metadata"]["next_cursor"])
    assert [c["id"] for c in after["channels"]] == ["C2"]
    code, detail = error_of(ws, "conversations.list", types="public_channel,secret")
    assert code == "invalid_arguments" and detail is not None and "types" in detail


def test_conversations_info_members_and_search_hide_what_the_caller_may_not_see(ws: Workspace) -> None:
    info = call(ws, "conversations.info", channel="G1")["channel"]
    assert info["id"] == "G1" and info["is_member"] is True
    assert call(ws, "conversations.info", channel="D1")["channel"]["user"] == "U2"
    assert error_of(ws, "conversations.info", CAROL, channel="G1")[0] == "channel_not_found"
    assert error_of(ws, "conversations.members", CAROL, channel="G1")[0] == "channel_not_found"
    assert call(ws, "conversations.members", channel="G1")["members"] == ["U1", "U2"]
    assert [c["id"] for c in call(ws, "conversations.search", query="secret")["channels"]] == ["G1"]
    assert call(ws, "conversations.search", CAROL, query="secret")["channels"] == []


def test_users_search_takes_query_or_prefix(ws: Workspace) -> None:
    assert [u["id"] for u in call(ws, "users.search", query="car")["users"]] == ["U3"]
    assert [u["id"] for u in call(ws, "users.search", prefix="bob")["users"]] == ["U2"]
    assert call(ws, "users.search", query="dave")["users"] == []  # deactivated
    assert error_of(ws, "users.search", query="a", limit=0)[0] == "invalid_limit"


def test_auth_test_says_who_the_caller_is(ws: Workspace) -> None:
    me = call(ws, "auth.test")
    assert (me["user_id"], me["team_id"], me["user"], me["team"]) == ("U1", "T1", "alice", "Test Team")
    assert "bot_id" not in me and me["url"].startswith("https://test.")
