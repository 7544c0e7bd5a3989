"""``/rtm``: the WebSocket endpoint. Redeems the ticket, asks admission, runs the connection."""

from __future__ import annotations

import contextlib
import logging
from urllib.parse import unquote_plus

from starlette.websockets import WebSocket

from flannel.connection import Connection
from flannel.edge import Edge
from flannel.rtm import admission
from flannel.rtm.admission import Refuse
from flannel.transport import direct_of, drop_of
from wire import closecodes

log = logging.getLogger("flannel.edge")


def query_values(query_string: bytes, *names: str) -> dict[str, str]:
    """The last value of each of ``names`` in a query string, decoded as starlette's
    ``QueryParams`` would (latin-1, then ``+`` and percent escapes as UTF-8), without building
    the whole multi-dict: a connect storm parses one per handshake, and the ticket (URL-safe
    base64) and ``resume_from`` (digits) need no unescaping."""
    found: dict[str, str] = {}
    for part in query_string.decode("latin-1").split("&"):
        key, _, value = part.partition("=")
        if "%" in key or "+" in key:
            key = unquote_plus(key)
        if key in names:
            found[key] = unquote_plus(value) if "%" in value or "+" in value else value
    return found


async def rtm(socket: WebSocket) -> None:
    edge: Edge = socket.state.edge
    gated = admission.gate(edge.draining)
    if gated is not None:
        await socket.close(gated.close_code, gated.error)  # before accepting: the ticket is kept
        return
    # Parsed here, not through ``socket.query_params``: that would keep them for the
    # connection's life (the ticket is a few hundred bytes).
    query = query_values(socket.scope.get("query_string", b""), "ticket", "resume_from")
    ticket = await edge.redeem(query.get("ticket", ""))
    decision = admission.on_ticket(ticket, edge.revoked, query.get("resume_from"))
    del query
    await socket.accept()
    if isinstance(decision, Refuse):
        await socket.send_text(decision.frame().decode())
        await socket.close(decision.close_code, decision.error)
        return
    session, resume_from = edge.new_session(decision), decision.resume_from
    del ticket, decision  # the ticket's claims are not kept for the connection's life
    try:
        connection = Connection(edge, socket, session, drop_of(socket.scope), direct_of(socket.scope))
        await connection.run(resume_from)
    except Exception:
        log.exception("session %s failed", session.id)
        with contextlib.suppress(Exception):
            await socket.close(closecodes.INTERNAL_ERROR, "internal_error")
