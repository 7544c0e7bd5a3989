"""Token hashing: a raw token is never a cache key, a log field or a change-log field.

Everything that must name a token (the edge's and router's token caches, the ``h`` claim of a
ticket, ``token_revoked`` events, the origin's token table) names it by this hash.
"""

from __future__ import annotations

import hashlib


def token_hash(token: str) -> str:
    """Hex SHA-256 of the token."""
    return hashlib.sha256(token.encode()).hexdigest()
