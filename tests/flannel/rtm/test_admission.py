"""Admission decisions: each refusal with its close code, in the order the handler asks."""

from __future__ import annotations

import orjson

from flannel.rtm.admission import Admit, Refuse, gate, on_ticket, on_workspace
from wire import closecodes
from wire.tickets import Ticket, TicketError

TICKET = Ticket("U1", "T1", "E1", 0.0, 30.0, "n1", resume_from=7, token_hash="h1")


def test_a_draining_edge_refuses_without_accepting() -> None:
    assert gate(False) is None
    refused = gate(True)
    assert refused == Refuse(closecodes.UNAVAILABLE, "draining", accept=False)


def test_a_good_ticket_admits_from_the_queries_offset_else_the_tickets() -> None:
    assert on_ticket(TICKET, set(), None) == Admit("U1", "T1", "h1", 7)
    assert on_ticket(TICKET, set(), "") == Admit("U1", "T1", "h1", 7)
    assert on_ticket(TICKET, set(), "12") == Admit("U1", "T1", "h1", 12)
    anonymous = Ticket("U1", "T1", "E1", 0.0, 30.0, "n2")
    assert on_ticket(anonymous, {"h1"}, None) == Admit("U1", "T1", "", None)


def test_refusals_after_the_ticket() -> None:
    used = on_ticket(TicketError("ticket_used"), set(), None)
    assert isinstance(used, Refuse) and used.close_code == closecodes.BAD_TICKET and used.accept
    frame = orjson.loads(used.frame())
    assert frame == {"type": "error", "error": {"code": "ticket_used", "msg": "ticket_used"}}
    expired = on_ticket(TicketError("invalid_auth", "bad ticket: DecodeError"), set(), None)
    assert (
        isinstance(expired, Refuse)
        and orjson.loads(expired.frame())["error"]["msg"] == "bad ticket: DecodeError"
    )
    assert on_ticket(TICKET, {"h1"}, None) == Refuse(closecodes.TOKEN_REVOKED, "token_revoked")
    for bad in ("-1", "abc", "1e3", "²", True, 10**18):
        refused = on_ticket(TICKET, set(), bad)
        assert isinstance(refused, Refuse) and refused.error == "invalid_arguments", bad
        assert refused.close_code == closecodes.BAD_TICKET


def test_refusals_once_the_workspace_is_loaded() -> None:
    alive = {"id": "U1", "deleted": False}
    assert on_workspace("h1", set(), alive) is None
    assert on_workspace("h1", {"h1"}, alive) == Refuse(closecodes.TOKEN_REVOKED, "token_revoked")
    assert on_workspace("", {""}, alive) is None  # a session without a token hash is never revoked
    assert on_workspace("h1", set(), None) == Refuse(closecodes.BAD_TICKET, "user_not_found")
    gone = on_workspace("h1", set(), {"id": "U1", "deleted": True})
    assert gone == Refuse(closecodes.ACCOUNT_INACTIVE, "account_inactive")
    assert gone.close_code in closecodes.FATAL
