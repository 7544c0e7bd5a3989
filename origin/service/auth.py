"""Tokens: issued bound to one user of one workspace, stored hashed, revocable; and the
origin's token checker, which turns a token into the :class:`Caller` every method acts for.

A token reads ``xoxp-<team>-<user>-<secret>``: the team part routes the lookup to the
workspace's shard without a global table. Only the SHA-256 of a token is ever stored
(:func:`wire.tokens.token_hash`, the same hash edges, routers and ``token_revoked`` events use).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from origin.store.shards import Store
from wire.errors import SlackError
from wire.ids import now_us
from wire.tokens import token_hash


@dataclass(frozen=True)
class Caller:
    """Who a request acts for, as the checker established it: a user of one workspace.

    Methods take it instead of a token so that they never see the token itself; ``token_hash``
    keys the per-token rate limits (``service:T:U`` when an edge acts for its user).
    """

    team_id: str
    user_id: str
    token_hash: str
    is_admin: bool = False


def token_team(token: str) -> str | None:
    parts = token.split("-")
    if len(parts) != 4 or parts[0] not in ("xoxp", "xoxb") or not parts[1].startswith("T"):
        return None
    return parts[1]


async def issue_token(store: Store, team_id: str, user_id: str, bot: bool = False) -> str:
    token = f"{'xoxb' if bot else 'xoxp'}-{team_id}-{user_id}-{secrets.token_hex(16)}"
    async with store.write(team_id) as tx:
        row = await tx.conn.fetchone(
            "SELECT deleted FROM users WHERE id = ? AND team_id = ?", [user_id, team_id]
        )
        if row is None:
            raise SlackError("user_not_found")
        await tx.conn.execute(
            "INSERT INTO tokens (token_hash, team_id, user_id, created) VALUES (?, ?, ?, ?)",
            [token_hash(token), team_id, user_id, now_us()],
        )
    return token


async def authenticate(store: Store, token: str | None) -> Caller:
    """The origin's token checker: the :class:`Caller` of a live token of a live user.

    ``not_authed`` without a token; ``invalid_auth`` for a token that is malformed, unknown or
    names a workspace that does not exist (the same answer, so a guess learns nothing);
    ``token_revoked`` and ``account_inactive`` for a token that was good once. One indexed read
    on the workspace's own shard, by hash.
    """
    if not token:
        raise SlackError("not_authed")
    team_id = token_team(token)
    if team_id is None:
        raise SlackError("invalid_auth")
    hashed = token_hash(token)
    try:
        conn_ctx = store.read(team_id)
        async with conn_ctx as conn:
            row = await conn.fetchone(
                "SELECT t.user_id, t.revoked, u.deleted, u.is_admin FROM tokens t "
                "JOIN users u ON u.id = t.user_id WHERE t.token_hash = ? AND t.team_id = ?",
                [hashed, team_id],
            )
    except SlackError as exc:
        if exc.code == "team_not_found":
            raise SlackError("invalid_auth") from None
        raise
    if row is None:
        raise SlackError("invalid_auth")
    user_id, revoked, deleted, is_admin = row
    if revoked:
        raise SlackError("token_revoked")
    if deleted:
        raise SlackError("account_inactive")
    return Caller(team_id, str(user_id), hashed, bool(is_admin))


@dataclass(frozen=True)
class Checked:
    """A live token's user, as :func:`authenticate_many` found it (with what ``auth.test``
    shows of them)."""

    caller: Caller
    name: str
    is_bot: bool


async def authenticate_many(store: Store, tokens: list[str]) -> list[Checked | SlackError]:
    """:func:`authenticate` for each token, in order, with the same errors: one indexed read
    per workspace for all of its tokens, not one per token (a reconnect storm's checks)."""
    out: list[Checked | SlackError | None] = [None] * len(tokens)
    by_team: dict[str, list[int]] = {}
    for i, token in enumerate(tokens):
        team_id = token_team(token) if token else None
        if not token:
            out[i] = SlackError("not_authed")
        elif team_id is None:
            out[i] = SlackError("invalid_auth")
        else:
            by_team.setdefault(team_id, []).append(i)
    for team_id, indexes in by_team.items():
        hashes = {i: token_hash(tokens[i]) for i in indexes}
        wanted = sorted(set(hashes.values()))
        try:
            async with store.read(team_id) as conn:
                rows = await conn.fetchall(
                    "SELECT t.token_hash, t.user_id, t.revoked, u.deleted, u.is_admin, u.name, u.is_bot "
                    "FROM tokens t JOIN users u ON u.id = t.user_id "
                    f"WHERE t.team_id = ? AND t.token_hash IN ({','.join('?' * len(wanted))})",
                    [team_id, *wanted],
                )
        except SlackError as exc:
            if exc.code != "team_not_found":
                raise
            rows = []
        found = {str(r[0]): r for r in rows}
        for i, hashed in hashes.items():
            row = found.get(hashed)
            if row is None:
                out[i] = SlackError("invalid_auth")
            elif row[2]:
                out[i] = SlackError("token_revoked")
            elif row[3]:
                out[i] = SlackError("account_inactive")
            else:
                caller = Caller(team_id, str(row[1]), hashed, bool(row[4]))
                out[i] = Checked(caller, str(row[5]), bool(row[6]))
    return [r if r is not None else SlackError("invalid_auth") for r in out]


async def revoke_token(store: Store, token: str) -> Caller:
    """Revoke ``token``; the change log tells edges (by hash) to close its connections."""
    team_id = token_team(token)
    if team_id is None:
        raise SlackError("invalid_auth")
    hashed = token_hash(token)
    async with store.write(team_id) as tx:
        row = await tx.conn.fetchone(
            "SELECT user_id, revoked FROM tokens WHERE token_hash = ? AND team_id = ?",
            [hashed, team_id],
        )
        if row is None:
            raise SlackError("invalid_auth")
        user_id = str(row[0])
        if not row[1]:
            await tx.conn.execute(
                "UPDATE tokens SET revoked = 1, revoked_at = ? WHERE token_hash = ?", [now_us(), hashed]
            )
            await tx.emit(
                {
                    "type": "token_revoked",
                    "user": user_id,
                    "token_hash": hashed,
                    "tokens": {"oauth": [user_id], "bot": []},
                }
            )
    return Caller(team_id, user_id, hashed)


async def authenticate_as(store: Store, team_id: str, user_id: str) -> Caller:
    """A Flannel service (an edge) acting for one of its connected users; the service itself
    was authenticated with the shared secret."""
    try:
        async with store.read(team_id) as conn:
            row = await conn.fetchone(
                "SELECT deleted, is_admin FROM users WHERE id = ? AND team_id = ?", [user_id, team_id]
            )
    except SlackError as exc:
        if exc.code == "team_not_found":
            raise SlackError("invalid_auth") from None
        raise
    if row is None:
        raise SlackError("invalid_auth")
    if row[0]:
        raise SlackError("account_inactive")
    return Caller(team_id, user_id, f"service:{team_id}:{user_id}", bool(row[1]))
