"""``POST /internal/signin/{how}``: the browser sign-in flows, for the router only.

The router serves the browser and holds its session cookie; it asks the origin, with the
shared secret, to turn credentials into a session (a user token) and says which address the
attempt came from, which the failure limits count. Not a public Web API method: a browser
never reaches the origin, and nothing here takes a token but ``whoami``.

- ``password``: ``{"email", "password", "address", "team"?}`` -> ``{"token", "team_id", "user_id"}``
- ``link``: ``{"link", "address"}`` -> the same (a one-time link is spent)
- ``whoami``: ``{"token"}`` -> ``{"team_id", "user_id", "is_admin"}`` (the dashboard's check)
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from origin.api.http import error_response, json_response
from origin.internal import check_service
from origin.service.auth import authenticate
from origin.service.signin import Session, SignIn
from wire.errors import SlackError
from wire.http import read_body

MAX_BODY = 16 * 1024


def _field(body: dict[str, Any], name: str, required: bool = True) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or (required and not value):
        raise SlackError("invalid_arguments", f"{name} must be a non-empty string")
    return value


def _session(s: Session) -> dict[str, Any]:
    return {"ok": True, "token": s.token, "team_id": s.team_id, "user_id": s.user_id}


class SignInEndpoint:
    def __init__(self, signin: SignIn, secret: str) -> None:
        self.signin = signin
        self.secret = secret

    async def __call__(self, request: Request) -> Response:
        try:
            check_service(request, self.secret)
            raw = await read_body(request.stream(), MAX_BODY)
            try:
                body = orjson.loads(raw or b"{}")
            except orjson.JSONDecodeError:
                raise SlackError("invalid_json", "the body is not JSON") from None
            if not isinstance(body, dict):
                raise SlackError("invalid_json", "the body must be a JSON object")
            how = request.path_params["how"]
            address = _field(body, "address", required=False) or "unknown"
            if how == "password":
                session = await self.signin.with_password(
                    _field(body, "email"), _field(body, "password"), address, _field(body, "team", False)
                )
                return json_response(_session(session))
            if how == "link":
                return json_response(_session(await self.signin.with_link(_field(body, "link"), address)))
            if how == "whoami":
                caller = await authenticate(self.signin.store, _field(body, "token"))
                return json_response(
                    {
                        "ok": True,
                        "team_id": caller.team_id,
                        "user_id": caller.user_id,
                        "is_admin": caller.is_admin,
                    }
                )
            raise SlackError("unknown_method", f"no sign-in flow {how[:40]!r}")
        except SlackError as exc:
            return error_response(exc)
