"""Upload URLs: ``/upload/v1/<team>.<file>.<expires>.<signature>``, signed with the origin's
secret so that only the origin could have made one, and valid until ``expires``. Being signed
does not make a URL usable twice: the file's state (``pending`` -> ``receiving``) is claimed
once, in the database (:mod:`origin.files.service`)."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass

from wire.files import upload_path

_TOKEN = re.compile(r"([A-Z0-9]{1,32})\.(F[A-Z0-9]{1,31})\.([0-9]{1,12})\.([0-9a-f]{40})")


@dataclass(frozen=True)
class UploadGrant:
    team_id: str
    file_id: str
    expires: int  # Unix seconds


def _sign(secret: str, team_id: str, file_id: str, expires: int) -> str:
    message = f"upload:{team_id}:{file_id}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:40]


def upload_url(base_url: str, secret: str, team_id: str, file_id: str, expires: int) -> str:
    token = f"{file_id}.{expires}.{_sign(secret, team_id, file_id, expires)}"
    return base_url.rstrip("/") + upload_path(team_id, token)


def verify(secret: str, token: str, now: float | None = None) -> UploadGrant | None:
    """The grant a well-signed, unexpired token carries; None otherwise (no hint why)."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    team_id, file_id, expires_s, signature = match.groups()
    expires = int(expires_s)
    if not hmac.compare_digest(signature, _sign(secret, team_id, file_id, expires)):
        return None
    if (time.time() if now is None else now) > expires:
        return None
    return UploadGrant(team_id, file_id, expires)
