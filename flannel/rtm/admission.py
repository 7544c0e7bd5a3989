"""Who may open an RTM connection, decided without I/O.

The ``/rtm`` handler asks at two moments. Before it touches the ticket (:func:`gate`): a
draining edge refuses at once, without accepting the socket, so the ticket is not spent.
Once the ticket was redeemed (:func:`on_ticket`): a refused ticket, a token revoked since the
ticket was signed, or a malformed ``resume_from`` is refused; a ticket nobody could redeem
(the nonce store is down) is refused as unavailable, so the client connects again. Then, once
the workspace caught up with the log (:func:`on_workspace`), a token revoked or a user
deactivated meanwhile, or a user the workspace does not know, is refused too. A refusal after
accepting sends an error frame, then closes with a code of :mod:`wire.closecodes`, so the
client knows whether to come back.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Any

from flannel.rtm import frames
from wire import closecodes
from wire.errors import SlackError
from wire.offsets import parse_offset
from wire.tickets import Ticket, TicketError

#: The code of a ticket that could not be redeemed because the nonce store is unreachable.
STORE_DOWN = "service_unavailable"


@dataclass(frozen=True, slots=True)
class Admit:
    """Open a session for ``user_id`` of ``team_id``, starting after ``resume_from``."""

    user_id: str
    team_id: str
    token_hash: str
    resume_from: int | None


@dataclass(frozen=True, slots=True)
class Refuse:
    """Close with ``close_code``; after accepting (``accept``), an error frame says ``error``."""

    close_code: int
    error: str
    msg: str = ""
    accept: bool = True

    def frame(self) -> bytes:
        return frames.refusal(self.error, self.msg or self.error)


def gate(draining: bool) -> Refuse | None:
    """Before the ticket: a draining edge admits nobody (routers are sending clients elsewhere)."""
    if draining:
        return Refuse(closecodes.UNAVAILABLE, "draining", accept=False)
    return None


def on_ticket(ticket: Ticket | TicketError, revoked: Container[str], resume_from: Any) -> Admit | Refuse:
    """After redeeming the ticket: who connects and from where; ``resume_from`` (the query's,
    else the ticket's) is absent or a non-negative integer."""
    if isinstance(ticket, TicketError):
        if ticket.code == STORE_DOWN:  # the ticket was not spent: the client may come back
            return Refuse(closecodes.UNAVAILABLE, ticket.code, ticket.detail)
        return Refuse(closecodes.BAD_TICKET, ticket.code, ticket.detail)
    if ticket.token_hash and ticket.token_hash in revoked:
        return Refuse(closecodes.TOKEN_REVOKED, "token_revoked")
    try:
        offset = parse_offset(resume_from)
    except SlackError:
        msg = "resume_from must be a non-negative integer"
        return Refuse(closecodes.BAD_TICKET, "invalid_arguments", msg)
    resume = offset if offset is not None else ticket.resume_from
    return Admit(ticket.user, ticket.team, ticket.token_hash or "", resume)


def on_workspace(token_hash: str, revoked: Container[str], user: Mapping[str, Any] | None) -> Refuse | None:
    """With the workspace loaded, just before the session starts: the latest word on the token
    and the user (a revocation or deactivation applied after this point closes the session)."""
    if token_hash and token_hash in revoked:
        return Refuse(closecodes.TOKEN_REVOKED, "token_revoked")
    if user is None:
        return Refuse(closecodes.BAD_TICKET, "user_not_found")  # not known yet: connect again
    if user.get("deleted"):
        return Refuse(closecodes.ACCOUNT_INACTIVE, "account_inactive")
    return None
