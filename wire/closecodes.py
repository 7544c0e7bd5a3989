"""WebSocket close codes of ``/rtm`` (4000-4999 are the application's), and what a client does.

Every close an edge sends uses one of these; the client SDK reads them from here too.
"""

from __future__ import annotations

NORMAL = 1000  # the client said goodbye, or the edge drained after a ``goodbye`` frame
GOING_AWAY = 1001
INTERNAL_ERROR = 1011  # the edge failed serving this session: connect again
TOKEN_REVOKED = 4001  # the token was revoked: reconnecting needs a new token
ACCOUNT_INACTIVE = 4002  # the user was deactivated
BAD_TICKET = 4003  # the ticket (or the request opening the socket) was refused: connect again
TOO_SLOW = 4008  # the send queue overflowed or writes stalled: resume at once from the last offset
RESYNC = 4010  # the edge reloaded its copy of the workspace: drop the cache, reconnect
UNAVAILABLE = 4013  # the edge cannot admit now (draining, a dependency down): connect again
RATE_LIMITED = 4029  # kept sending while rate limited

#: Close codes after which reconnecting with the same token cannot succeed.
FATAL = frozenset({TOKEN_REVOKED, ACCOUNT_INACTIVE})
