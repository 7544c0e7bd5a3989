"""Tickets the router issues are the tickets edges accept: same bytes, same checks."""

from __future__ import annotations

import pytest

from flannel.rtm import tickets as edge_tickets
from router import tickets as router_tickets

SECRET = "s3cret"
NOW = 1_700_000_000.0


@pytest.mark.parametrize("resume_from", [None, 0, 41])
@pytest.mark.parametrize("token_hash", [None, "ab" * 32])
def test_a_router_ticket_passes_the_edge_check(resume_from: int | None, token_hash: str | None) -> None:
    ticket = router_tickets.issue(
        SECRET, "U1", "T1", "edge-a", ttl_s=30, now=NOW, resume_from=resume_from, token_hash=token_hash
    )
    parsed = edge_tickets.check(SECRET, ticket, "edge-a", NOW + 1)
    assert (parsed.user, parsed.team, parsed.edge) == ("U1", "T1", "edge-a")
    assert parsed.resume_from == resume_from and parsed.token_hash == token_hash
    assert parsed.expires_at == pytest.approx(NOW + 30)


def test_byte_identical_to_the_edge_issuer() -> None:
    args = (SECRET, "U1", "T1", "e", 12.5, NOW, 7, "n0nce", "h")
    assert router_tickets.issue(*args) == edge_tickets.issue(*args)


async def test_single_use_wrong_edge_wrong_secret_expired() -> None:
    ticket = router_tickets.issue(SECRET, "U1", "T1", "edge-a", now=NOW)
    nonces = edge_tickets.MemoryNonceStore(clock=lambda: NOW)
    await edge_tickets.verify(SECRET, ticket, "edge-a", NOW, nonces)
    with pytest.raises(edge_tickets.TicketError, match="ticket_used"):
        await edge_tickets.verify(SECRET, ticket, "edge-a", NOW, nonces)
    for secret, edge, now, code in [
        ("other", "edge-a", NOW, "invalid_auth"),
        (SECRET, "edge-b", NOW, "wrong_edge"),
        (SECRET, "edge-a", NOW + 3600, "ticket_expired"),
    ]:
        with pytest.raises(edge_tickets.TicketError) as refused:
            edge_tickets.check(secret, ticket, edge, now)
        assert refused.value.code == code
    segment, _, signature = ticket.partition(".")
    with pytest.raises(edge_tickets.TicketError):
        edge_tickets.check(SECRET, segment[:-2] + "AA." + signature, "edge-a", NOW)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        router_tickets.issue(SECRET, "", "T1", "e")
    with pytest.raises(ValueError):
        router_tickets.issue(SECRET, "U1", "T1", "e", resume_from=-1)
