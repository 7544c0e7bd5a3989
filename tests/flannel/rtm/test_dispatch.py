"""Inbound frames -> actions: replies at once, calls to make, typing to fan out; rate limits."""

from __future__ import annotations

import orjson

from flannel.rtm.dispatch import Call, Notify, Reply, dispatch
from flannel.rtm.ratelimit import RateLimit
from flannel.rtm.sendqueue import SendQueue
from flannel.rtm.session import Session
from wire import closecodes


def session(per_s: float = 100.0, burst: float = 100.0, close_debt: float = 40.0) -> Session:
    return Session("U1", "T1", "h", queue=SendQueue(), rate=RateLimit(per_s, burst, close_debt))


def reply(action: object) -> dict[str, object]:
    assert isinstance(action, Reply), action
    decoded: dict[str, object] = orjson.loads(action.frame)
    return decoded


def test_each_frame_becomes_one_action() -> None:
    s = session()
    query = dispatch(s, '{"id": 1, "type": "query", "method": "users.info", "args": {"user": "U2"}}', 0, 1000)
    assert query == Call(1, "users.info", {"user": "U2"})
    send = dispatch(s, '{"id": 2, "type": "message", "channel": "C1", "text": "hi"}', 0, 1000)
    assert send == Call(2, "chat.postMessage", {"channel": "C1", "text": "hi"})
    threaded = dispatch(
        s, '{"id": 3, "type": "message", "channel": "C1", "text": "x", "thread_ts": "1.2"}', 0, 1000
    )
    assert isinstance(threaded, Call) and threaded.args["thread_ts"] == "1.2"
    assert dispatch(s, '{"id": 4, "type": "typing", "channel": "C1"}', 0, 1000) == Notify("C1")
    assert reply(dispatch(s, '{"id": 5, "type": "ping"}', 0, 1000)) == {"type": "pong", "reply_to": 5}
    assert reply(dispatch(s, "[1]", 0, 1000))["error"] == {
        "code": "invalid_json",
        "msg": "a frame must be a JSON object",
    }
    too_big = reply(dispatch(s, '{"id": 6, "type": "ping", "pad": "' + "x" * 2000 + '"}', 0, 1000))
    assert too_big["error"]["code"] == "frame_too_large"  # type: ignore[index]


def test_a_limited_client_is_told_then_closed_once_its_debt_is_too_deep() -> None:
    s = session(per_s=1.0, burst=2.0, close_debt=3.0)
    assert [type(dispatch(s, '{"id": 1, "type": "ping"}', 0, 1000)) for _ in range(2)] == [Reply, Reply]
    limited = reply(dispatch(s, '{"id": 9, "type": "query", "method": "auth.test"}', 0, 1000))
    assert limited["type"] == "error" and limited["reply_to"] == 9
    assert limited["error"] == {"code": "ratelimited", "msg": "retry after 1.0s"}
    assert not s.closing
    for _ in range(3):
        dispatch(s, '{"id": 1, "type": "ping"}', 0, 1000)
    assert s.close_code == closecodes.RATE_LIMITED
