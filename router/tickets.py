"""Issuing the signed, single-use WebSocket tickets that edges verify.

The router may import nothing else of the repo, so this is the issuing half of the contract
whose checking half is ``flannel/rtm/tickets.py``: ``base64url(json payload) "."
base64url(hmac_sha256(key, payload segment))`` without padding, the key derived from the shared
secret for this one purpose, payload fields ``v`` (version 1), ``u`` user, ``t`` team, ``e``
edge, ``i``/``x`` issued and expiry in Unix ms, ``n`` nonce, optional ``r`` (resume offset) and
``h`` (SHA-256 of the token, so that revoking it closes the session).
``tests/router/test_tickets_compat.py`` checks that edges accept what is issued here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Any

import orjson

VERSION = 1
DEFAULT_TTL_S = 30.0
_KEY_LABEL = b"flannel/rtm-ticket/v1"


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _key(secret: str | bytes) -> bytes:
    raw = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(raw, _KEY_LABEL, hashlib.sha256).digest()


def issue(
    secret: str | bytes,
    user: str,
    team: str,
    edge: str,
    ttl_s: float = DEFAULT_TTL_S,
    now: float | None = None,
    resume_from: int | None = None,
    nonce: str | None = None,
    token_hash: str | None = None,
) -> str:
    """A URL-safe ticket for ``user`` of ``team`` to open one session on ``edge`` within ``ttl_s``."""
    if not user or not team or not edge:
        raise ValueError("user, team and edge are required")
    if resume_from is not None and (isinstance(resume_from, bool) or resume_from < 0):
        raise ValueError(f"resume_from must be a non-negative int, got {resume_from!r}")
    now = time.time() if now is None else now
    payload: dict[str, Any] = {
        "v": VERSION,
        "u": user,
        "t": team,
        "e": edge,
        "i": int(now * 1000),
        "x": int((now + ttl_s) * 1000),
        "n": nonce or secrets.token_urlsafe(16),
    }
    if resume_from is not None:
        payload["r"] = resume_from
    if token_hash:
        payload["h"] = token_hash
    segment = _b64(orjson.dumps(payload))
    signature = _b64(hmac.new(_key(secret), segment, hashlib.sha256).digest())
    return (segment + b"." + signature).decode("ascii")
