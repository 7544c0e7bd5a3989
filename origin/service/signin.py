"""Browser sign-in: email and password (argon2), one-time sign-in links, and the session.

A signed-in browser holds an ordinary user token (:func:`origin.service.auth.issue_token`):
the router keeps it in an HttpOnly cookie, every part already knows how to check it, and
signing out is ``auth.revoke``, whose ``token_revoked`` event closes the browser's WebSocket at
whichever edge holds it. Credentials and links live on the directory shard (a person signs in
before anyone knows their workspace).

Every failure of a password sign-in is the same ``invalid_credentials`` (unknown email, wrong
password, deactivated user), and an unknown email costs one argon2 verification too, so
neither the answer nor its timing says whether the email exists. Failures are limited per
email and per address (:class:`FailureLimiter`), answered as ``ratelimited`` with a wait.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from origin.service.auth import issue_token
from origin.store.shards import Store
from wire.errors import RateLimited, SlackError
from wire.ids import now_us

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
MAX_EMAIL = 254
LINK_TTL_S = 24 * 3600
INVALID = "invalid_credentials"

_hasher = PasswordHasher()
#: Verified against when the email is unknown, so that case costs what a wrong password does.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def normal_email(email: str) -> str:
    return email.strip().lower()


def link_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    """A signed-in browser: the user token it holds, and who it is."""

    token: str
    team_id: str
    user_id: str


class FailureLimiter:
    """At most ``limit`` failed sign-ins per key in ``window_s`` (keys: an email, an address);
    pure and clock-injected. ``wait`` is 0 or the seconds until the oldest failure expires."""

    def __init__(
        self,
        limit: int = 5,
        window_s: float = 300.0,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window_s, self.max_keys, self.clock = limit, window_s, max_keys, clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _live(self, key: str) -> deque[float]:
        now = self.clock()
        seen = self._failures.get(key)
        if seen is None:
            return deque()
        while seen and seen[0] <= now - self.window_s:
            seen.popleft()
        return seen

    def wait(self, key: str) -> int:
        seen = self._live(key)
        if len(seen) < self.limit:
            return 0
        return max(1, int(seen[0] + self.window_s - self.clock() + 0.999))

    def failed(self, key: str) -> None:
        seen = self._live(key)
        seen.append(self.clock())
        self._failures[key] = seen
        self._failures.move_to_end(key)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)


def check_password(password: str) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise SlackError("invalid_password", f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password


async def _user_email(store: Store, team_id: str, user_id: str) -> str:
    async with store.read(team_id) as conn:
        row = await conn.fetchone(
            "SELECT email, deleted FROM users WHERE id = ? AND team_id = ?", [user_id, team_id]
        )
    if row is None:
        raise SlackError("user_not_found")
    if not row[0]:
        raise SlackError("invalid_arguments", "the user has no email address to sign in with")
    return normal_email(str(row[0]))


async def set_password(store: Store, team_id: str, user_id: str, password: str) -> str:
    """Set (or replace) the user's password; the email it signs in with is returned."""
    email = await _user_email(store, team_id, user_id)
    hashed = _hasher.hash(check_password(password))
    async with store.directory.transaction() as conn:
        await conn.execute("DELETE FROM signin_passwords WHERE email = ? AND team_id = ?", [email, team_id])
        await conn.execute(
            "INSERT INTO signin_passwords (email, team_id, user_id, password_hash, updated) "
            "VALUES (?, ?, ?, ?, ?)",
            [email, team_id, user_id, hashed, now_us()],
        )
    return email


async def create_link(store: Store, team_id: str, user_id: str, ttl_s: int = LINK_TTL_S) -> str:
    """A one-time sign-in secret for the user (valid ``ttl_s``); only its hash is stored."""
    await _known_user(store, team_id, user_id)
    secret = secrets.token_urlsafe(32)
    async with store.directory.transaction() as conn:
        await conn.execute(
            "INSERT INTO signin_links (link_hash, team_id, user_id, expires, used) VALUES (?, ?, ?, ?, 0)",
            [link_hash(secret), team_id, user_id, now_us() + ttl_s * 1_000_000],
        )
    return secret


async def _known_user(store: Store, team_id: str, user_id: str) -> None:
    async with store.read(team_id) as conn:
        row = await conn.fetchone(
            "SELECT deleted FROM users WHERE id = ? AND team_id = ?", [user_id, team_id]
        )
    if row is None:
        raise SlackError("user_not_found")


async def _session(store: Store, team_id: str, user_id: str) -> Session:
    try:
        return Session(await issue_token(store, team_id, user_id), team_id, user_id)
    except SlackError as exc:
        if exc.code in ("user_not_found", "team_not_found"):
            raise SlackError(INVALID) from None
        raise


async def _is_live(store: Store, team_id: str, user_id: str) -> bool:
    try:
        async with store.read(team_id) as conn:
            row = await conn.fetchone(
                "SELECT deleted FROM users WHERE id = ? AND team_id = ?", [user_id, team_id]
            )
    except SlackError:
        return False
    return row is not None and not row[0]


class SignIn:
    """The sign-in flows over a store, with their failure limits."""

    def __init__(self, store: Store, limiter: FailureLimiter | None = None) -> None:
        self.store = store
        self.limiter = limiter or FailureLimiter()

    def _limit(self, *keys: str) -> None:
        wait = max(self.limiter.wait(k) for k in keys)
        if wait:
            raise RateLimited(wait, f"too many failed sign-ins: retry after {wait}s")

    async def with_password(self, email: str, password: str, address: str, team_id: str = "") -> Session:
        if not isinstance(email, str) or not isinstance(password, str):
            raise SlackError("invalid_arguments", "email and password are strings")
        email = normal_email(email)
        if not email or len(email) > MAX_EMAIL or len(password) > MAX_PASSWORD:
            raise SlackError(INVALID)
        keys = (f"email:{email}", f"address:{address}")
        self._limit(*keys)
        async with self.store.directory.read() as conn:
            rows = await conn.fetchall(
                "SELECT team_id, user_id, password_hash FROM signin_passwords "
                "WHERE email = ? ORDER BY team_id",
                [email],
            )
        candidates = [r for r in rows if not team_id or str(r[0]) == team_id] or [(None, None, _DUMMY_HASH)]
        for row_team, row_user, hashed in candidates:
            try:
                _hasher.verify(str(hashed), password)
            except (VerificationError, InvalidHashError):
                continue
            if row_team is None or not await _is_live(self.store, str(row_team), str(row_user)):
                continue
            for key in keys:
                self.limiter.succeeded(key)
            return await _session(self.store, str(row_team), str(row_user))
        for key in keys:
            self.limiter.failed(key)
        raise SlackError(INVALID, "the email or the password is wrong")

    async def with_link(self, secret: str, address: str) -> Session:
        """Redeem a one-time link: a link used, expired or unknown is ``invalid_credentials``."""
        key = f"address:{address}"
        self._limit(key)
        if not isinstance(secret, str) or not 10 <= len(secret) <= 200:
            self.limiter.failed(key)
            raise SlackError(INVALID, "this sign-in link is not valid")
        hashed = link_hash(secret)
        async with self.store.directory.transaction() as conn:
            row = await conn.fetchone(
                "SELECT team_id, user_id, expires, used FROM signin_links WHERE link_hash = ?", [hashed]
            )
            found = None
            if row is not None and not row[3] and int(row[2]) >= now_us():
                claimed = await conn.execute(  # one redeemer wins, even two at once
                    "UPDATE signin_links SET used = 1 WHERE link_hash = ? AND used = 0", [hashed]
                )
                found = (str(row[0]), str(row[1])) if claimed == 1 else None
        if found is None or not await _is_live(self.store, *found):
            self.limiter.failed(key)
            raise SlackError(INVALID, "this sign-in link was used, has expired or is not valid")
        return await _session(self.store, *found)
