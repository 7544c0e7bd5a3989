"""Browser sign-in at the origin: passwords (argon2), one-time links, failure limits, and
the internal endpoint the router calls."""

from __future__ import annotations

import asyncio

import pytest

from origin.service import signin
from origin.service.auth import authenticate
from origin.service.signin import FailureLimiter, SignIn
from origin.store.shards import Store
from tests.factories import make_team
from tests.origin.conftest import InProcess
from wire.errors import SlackError

SECRET = "dev-secret-change-me"  # OriginSettings' default, which the in-process app uses


async def test_password_sign_in_gives_a_working_token(store: Store) -> None:
    team = await make_team(store)
    email = await signin.set_password(store, team.id, team.alice.id, "correct horse")
    assert email == "alice@example.com"
    session = await SignIn(store).with_password(" Alice@Example.com ", "correct horse", "1.2.3.4", team.id)
    assert (session.team_id, session.user_id) == (team.id, team.alice.id)
    assert (await authenticate(store, session.token)).user_id == team.alice.id


async def test_every_failure_is_the_same_answer(store: Store) -> None:
    team = await make_team(store)
    await signin.set_password(store, team.id, team.alice.id, "correct horse")
    flows = SignIn(store)
    answers = []
    for email, password in [("alice@example.com", "wrong password"), ("nobody@example.com", "correct horse")]:
        with pytest.raises(SlackError) as caught:
            await flows.with_password(email, password, f"addr-{email}")
        answers.append((caught.value.code, caught.value.detail))
    assert answers[0] == answers[1] == ("invalid_credentials", "the email or the password is wrong")


async def test_a_deactivated_user_cannot_sign_in(store: Store) -> None:
    from origin.service import users

    team = await make_team(store)
    await signin.set_password(store, team.id, team.bob.id, "correct horse")
    await users.set_deleted(store, team.id, team.bob.id, True)
    with pytest.raises(SlackError) as caught:
        await SignIn(store).with_password("bob@example.com", "correct horse", "a")
    assert caught.value.code == "invalid_credentials"


async def test_short_passwords_are_refused(store: Store) -> None:
    team = await make_team(store)
    with pytest.raises(SlackError) as caught:
        await signin.set_password(store, team.id, team.alice.id, "short")
    assert caught.value.code == "invalid_password"


async def test_failures_are_rate_limited_per_email(store: Store) -> None:
    team = await make_team(store)
    await signin.set_password(store, team.id, team.alice.id, "correct horse")
    flows = SignIn(store, FailureLimiter(limit=3, window_s=60))
    for i in range(3):
        with pytest.raises(SlackError):
            await flows.with_password("alice@example.com", "nope nope", f"address-{i}")
    with pytest.raises(SlackError) as caught:  # even the right password, from a new address
        await flows.with_password("alice@example.com", "correct horse", "fresh-address")
    assert caught.value.code == "ratelimited" and caught.value.retry_after


def test_the_limiter_forgets_after_its_window() -> None:
    now = [0.0]
    limiter = FailureLimiter(limit=2, window_s=10, clock=lambda: now[0])
    limiter.failed("k")
    limiter.failed("k")
    assert limiter.wait("k") == 10
    now[0] = 10.5
    assert limiter.wait("k") == 0
    limiter.failed("k")
    limiter.succeeded("k")
    assert limiter.wait("k") == 0


async def test_a_link_signs_in_once(store: Store) -> None:
    team = await make_team(store)
    secret = await signin.create_link(store, team.id, team.bob.id)
    flows = SignIn(store)
    first, second = await asyncio.gather(
        flows.with_link(secret, "a"), flows.with_link(secret, "b"), return_exceptions=True
    )
    won = [r for r in (first, second) if isinstance(r, signin.Session)]
    lost = [r for r in (first, second) if isinstance(r, SlackError)]
    assert len(won) == 1 and won[0].user_id == team.bob.id
    assert [e.code for e in lost] == ["invalid_credentials"]


async def test_an_expired_link_is_refused(store: Store) -> None:
    team = await make_team(store)
    secret = await signin.create_link(store, team.id, team.bob.id, ttl_s=-1)
    with pytest.raises(SlackError) as caught:
        await SignIn(store).with_link(secret, "a")
    assert caught.value.code == "invalid_credentials"


async def test_the_internal_endpoint_needs_the_service_secret(app: InProcess) -> None:
    await signin.set_password(app.store, app.team.id, app.team.alice.id, "correct horse")
    body = {"email": "alice@example.com", "password": "correct horse", "address": "x", "team": app.team.id}
    refused = await app.http.post("/internal/signin/password", json=body)
    assert refused.status_code == 401
    answer = await app.http.post(
        "/internal/signin/password", json=body, headers={"x-flannel-service-secret": SECRET}
    )
    found = answer.json()
    assert found["ok"] is True and found["user_id"] == app.team.alice.id
    who = await app.http.post(
        "/internal/signin/whoami",
        json={"token": found["token"]},
        headers={"x-flannel-service-secret": SECRET},
    )
    assert who.json() == {"ok": True, "team_id": app.team.id, "user_id": app.team.alice.id, "is_admin": False}
    bad = await app.http.post(
        "/internal/signin/password", content=b"[1]", headers={"x-flannel-service-secret": SECRET}
    )
    assert bad.json()["error"] == "invalid_json"
