"""A cold edge that loads an older regional snapshot catches up with the change log before
admission decides: a revoked token or a deactivated user is refused without a hello, never
greeted and then closed (issue 13, defect 6)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from changelog import MemoryLog
from tests.flannel.cache import base_state, event, pages_of, user
from tests.flannel.harness import event_entry, serve
from wire import closecodes
from wire.tokens import token_hash


class OlderCopy:
    """The region's snapshot cache holding a copy taken at offset 10 (aiocache-shaped)."""

    def __init__(self) -> None:
        self.pages = pages_of(copy.deepcopy(base_state()))
        self.reads = 0

    async def get(self, team_id: str) -> Any:
        self.reads += 1
        return copy.deepcopy(self.pages)

    async def set(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def close(self) -> None:
        return None


async def log_with(*events: dict[str, Any]) -> MemoryLog:
    log = MemoryLog()
    await log.append("T1", [event_entry(e) for e in events])
    return log


REVOKED = event(11, "token_revoked", user="U2", token_hash=token_hash("xoxp-bob"))
DEACTIVATED = event(11, "user_change", user=user("U2", "bob", "Bob Jones", "bj", deleted=True))


@pytest.mark.parametrize(
    ("since", "code", "error"),
    [
        (REVOKED, closecodes.TOKEN_REVOKED, "token_revoked"),
        (DEACTIVATED, closecodes.ACCOUNT_INACTIVE, "account_inactive"),
    ],
    ids=["revoked token", "deactivated user"],
)
async def test_a_cold_edge_refuses_without_a_hello(since: dict[str, Any], code: int, error: str) -> None:
    regional = OlderCopy()
    async with serve(log=await log_with(since), regional=regional) as env:
        url = env.url()  # signed before the change, as a router whose cache had not heard yet
        async with env.ws(url) as bob:
            frames = await bob.until_closed()
    assert regional.reads == 1  # the edge was cold and loaded the older copy
    assert [f.get("type") for f in frames] == ["error"], frames  # no hello, no user_change
    assert frames[0]["error"]["code"] == error and bob.close_code == code


async def test_a_cold_edge_greets_once_caught_up_when_nothing_refuses() -> None:
    later = event(11, "message", channel="C1", user="U1", text="hi", ts="1700000000.000011")
    async with serve(log=await log_with(later), regional=OlderCopy()) as env, env.ws(env.url()) as bob:
        hello = await bob.recv()
    assert hello["type"] == "hello" and hello["offset"] == 11  # the hello reflects the log head
