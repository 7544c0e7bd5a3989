"""``POST /internal/tokens/check``: many tokens in one call, each answered as ``auth.test``
would answer it alone; for Flannel services only."""

from __future__ import annotations

import orjson

from origin.service import users
from origin.service.auth import issue_token, revoke_token
from tests.factories import make_team
from tests.origin.conftest import InProcess
from wire.http import SERVICE_HEADER
from wire.tokencheck import MAX_TOKENS, TOKEN_CHECK_PATH


async def check(app: InProcess, body: object, secret: str | None = None) -> tuple[int, dict[str, object]]:
    headers = {SERVICE_HEADER: secret if secret is not None else app.settings.secret}
    resp = await app.http.post(TOKEN_CHECK_PATH, content=orjson.dumps(body), headers=headers)
    return resp.status_code, resp.json()


async def test_each_token_is_answered_as_auth_test_answers_it(app: InProcess) -> None:
    team = app.team
    revoked = await issue_token(app.store, team.id, team.carol.id)
    await revoke_token(app.store, revoked)
    tokens = [team.alice.token, "xoxp-nope", revoked, team.bob.token, f"xoxp-{team.id}-U0-bad", ""]
    status, body = await check(app, {"tokens": tokens})
    assert status == 200 and body["ok"] is True
    alone = [(await app.call("auth.test", token or None)).json() for token in tokens]
    assert body["results"] == alone
    assert [r.get("user_id") or r["error"] for r in body["results"]] == [  # type: ignore[union-attr]
        team.alice.id,
        "invalid_auth",
        "token_revoked",
        team.bob.id,
        "invalid_auth",
        "not_authed",
    ]
    endpoint = app.asgi.state.origin.token_checks
    assert (endpoint.calls, endpoint.tokens) == (1, len(tokens))


async def test_only_services_may_ask(app: InProcess) -> None:
    status, body = await check(app, {"tokens": [app.team.alice.token]}, secret="wrong")
    assert (status, body["error"]) == (401, "invalid_auth")
    resp = await app.http.post(TOKEN_CHECK_PATH, content=b'{"tokens": []}')
    assert (resp.status_code, resp.json()["error"]) == (401, "not_authed")


async def test_bad_requests_are_refused_clearly(app: InProcess) -> None:
    for body in ({"tokens": "xoxp"}, {"tokens": [1]}, [], {"tokens": ["x"] * (MAX_TOKENS + 1)}):
        status, answer = await check(app, body)
        assert (status, answer["ok"], answer["error"]) == (200, False, "invalid_arguments")
    resp = await app.http.post(
        TOKEN_CHECK_PATH, content=b"{nope", headers={SERVICE_HEADER: app.settings.secret}
    )
    assert resp.json()["error"] == "invalid_arguments"
    status, answer = await check(app, {"tokens": []})
    assert (status, answer) == (200, {"ok": True, "results": []})


async def test_bots_deactivated_users_and_other_workspaces_answer_as_alone(app: InProcess) -> None:
    """One read per workspace for all of its tokens: every kind of answer still equals
    ``auth.test``'s for that token alone, in order, duplicates included."""
    team = app.team
    bot = await users.create_user(app.store, team.id, "deploybot", is_bot=True)
    bot_token = await issue_token(app.store, team.id, bot["id"], bot=True)
    await users.set_deleted(app.store, team.id, team.carol.id, True)
    other = await make_team(app.store, ("dora", "eve"))
    tokens = [
        bot_token,
        team.carol.token,  # deactivated: account_inactive
        other.alice.token,  # another workspace's user
        team.alice.token,
        team.alice.token,  # twice in one batch
        f"xoxp-{other.id}-{other.alice.id}-{'0' * 32}",  # a real workspace, an unknown token
        "xoxp-T0NOSUCH-U1-abc",  # a workspace that does not exist
    ]
    status, body = await check(app, {"tokens": tokens})
    alone = [(await app.call("auth.test", token)).json() for token in tokens]
    assert status == 200 and body["results"] == alone
    assert [r.get("user_id") or r["error"] for r in body["results"]] == [  # type: ignore[union-attr]
        bot["id"],
        "account_inactive",
        other.alice.id,
        team.alice.id,
        team.alice.id,
        "invalid_auth",
        "invalid_auth",
    ]
    assert body["results"][0]["bot_id"]  # type: ignore[index]
