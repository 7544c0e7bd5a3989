"""``POST /internal/presence/manual``: many users' manual away in one call (an edge's connect
storm), each answered as ``users.getPresence`` would; for Flannel services only."""

from __future__ import annotations

import orjson

from tests.origin.conftest import InProcess
from wire.http import SERVICE_HEADER
from wire.presence import MANUAL_AWAY_PATH, MAX_MANUAL_BATCH


async def ask(app: InProcess, body: object, secret: str | None = None) -> tuple[int, dict[str, object]]:
    headers = {SERVICE_HEADER: secret if secret is not None else app.settings.secret}
    resp = await app.http.post(MANUAL_AWAY_PATH, content=orjson.dumps(body), headers=headers)
    return resp.status_code, resp.json()


async def test_each_user_is_answered_as_get_presence_answers_it(app: InProcess) -> None:
    team = app.team
    assert (await app.call("users.setPresence", team.bob.token, data={"presence": "away"})).json()["ok"]
    assert (await app.call("users.setPresence", team.carol.token, data={"presence": "away"})).json()["ok"]
    assert (await app.call("users.setPresence", team.carol.token, data={"presence": "auto"})).json()["ok"]
    pairs = [
        [team.id, team.alice.id],
        [team.id, team.bob.id],
        [team.id, team.carol.id],
        [team.id, "U_NOBODY"],  # unknown: not away (users.getPresence refuses; nothing to hide)
        ["T_OTHER", team.bob.id],  # another workspace's: bob's away is his team's only
        [team.id, team.bob.id],  # asked twice: answered twice
    ]
    status, body = await ask(app, {"users": pairs})
    assert status == 200 and body == {"ok": True, "away": [False, True, False, False, False, True]}
    tokens = {m.id: m.token for m in (team.alice, team.bob, team.carol)}
    for (_, user_id), away in zip(pairs[:3], [False, True, False], strict=True):
        own = (await app.call("users.getPresence", tokens[user_id])).json()
        assert own["manual_away"] is away
    assert app.asgi.state.origin.manual_away.calls == 1


async def test_only_services_may_ask(app: InProcess) -> None:
    status, body = await ask(app, {"users": [[app.team.id, app.team.alice.id]]}, secret="wrong")
    assert (status, body["error"]) == (401, "invalid_auth")
    resp = await app.http.post(MANUAL_AWAY_PATH, content=b'{"users": []}')
    assert (resp.status_code, resp.json()["error"]) == (401, "not_authed")


async def test_bad_requests_are_refused_clearly(app: InProcess) -> None:
    team = app.team
    for body in (
        {"users": "U1"},
        {"users": [[team.id]]},
        {"users": [[team.id, 7]]},
        {"users": [[team.id, ""]]},
        {"users": [[team.id, "U" * 40]]},
        [],
        {"users": [[team.id, team.alice.id]] * (MAX_MANUAL_BATCH + 1)},
    ):
        status, answer = await ask(app, body)
        assert (status, answer["ok"], answer["error"]) == (200, False, "invalid_arguments"), body
    resp = await app.http.post(
        MANUAL_AWAY_PATH, content=b"{nope", headers={SERVICE_HEADER: app.settings.secret}
    )
    assert resp.json()["error"] == "invalid_arguments"
    assert await ask(app, {"users": []}) == (200, {"ok": True, "away": []})
