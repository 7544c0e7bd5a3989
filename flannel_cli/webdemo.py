"""What ``flannel up`` prints for the browser client: its URL and a demo user's sign-in.

Each run gives the demo user (the seeder's first token's user, a workspace admin, so the
operators' dashboard opens for them too) a fresh one-time sign-in link and a fresh password.
"""

from __future__ import annotations

import secrets
from typing import Any

from flannel_cli.admin import signin_url
from origin.service import signin
from origin.store.shards import Store


async def demo_signin(store: Store, demo: dict[str, Any], router_url: str) -> str:
    token = str(demo["tokens"][0]["token"])
    team_id, user_id = token.split("-")[1], token.split("-")[2]
    password = secrets.token_urlsafe(9)
    email = await signin.set_password(store, team_id, user_id, password)
    link = signin_url(router_url, await signin.create_link(store, team_id, user_id))
    return f"""Open the browser client (signs you in once, as the demo user {email}):
  {link}
  later: {router_url}/  with {email} / {password}
  operators' dashboard: {router_url}/dashboard
"""
