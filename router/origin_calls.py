"""One call from the router to the origin's Web API, answered as a decoded JSON object.

The router asks the origin only two things (``auth.test`` to check a token, ``rtm.start`` for
the fat payload); both want the same handling: an unreachable origin or a body that is not a
JSON object is ``service_unavailable`` (503: the client's retry is right), a 429 is passed on
with its ``Retry-After``, and any Slack answer, ``ok`` or not, is returned as it came.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from wire.errors import RateLimited, SlackError


async def call_origin(
    http: httpx.AsyncClient, url: str, token: str, args: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    try:
        if args is None:
            resp = await http.post(url, headers=headers)
        else:
            resp = await http.post(url, json=dict(args), headers=headers)
    except httpx.HTTPError as exc:
        raise SlackError("service_unavailable", f"origin unreachable: {exc!r}", 503) from exc
    if resp.status_code == 429:
        wait = int(resp.headers.get("retry-after", "1") or 1)
        raise RateLimited(wait, f"retry after {wait}s")
    try:
        body = orjson.loads(resp.content)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        raise SlackError("service_unavailable", f"origin answered HTTP {resp.status_code}", 503)
    return body
