"""kill -9 of ``flannel notifier`` in the middle of a batch of emails, then a restart: every
email that was due is delivered, none is lost, and the only repeat is the one the SMTP server
accepted as the notifier died (it could not record it), with the same Message-ID, so a mail
system that deduplicates by it shows each email exactly once."""

from __future__ import annotations

import email
import logging
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from origin.service import conversations, notifyprefs, users
from origin.service.auth import authenticate, issue_token
from tests.conftest import ServerProcess, free_port
from tests.flannel.conftest import Stack, stack  # noqa: F401  (the fixture)
from tests.notifier.conftest import notifier_args
from tests.notifier.test_e2e import SECRET, api, until
from wire.http import SERVICE_HEADER


class KillingInbox:
    """Records every email; on the ``kill_at``-th, kills ``victim`` (SIGKILL) before answering."""

    def __init__(self, kill_at: int) -> None:
        self.kill_at = kill_at
        self.victim: int | None = None
        self.received: list[tuple[str, str]] = []  # (To, Message-ID)
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = email.message_from_bytes(envelope.content)
        with self.lock:
            self.received.append((str(mail["To"]), str(mail["Message-ID"])))
            count = len(self.received)
        if count == self.kill_at and self.victim is not None:
            os.kill(self.victim, signal.SIGKILL)  # mid-batch: accepted here, never recorded there
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[KillingInbox, int]]:
    box = KillingInbox(kill_at=3)
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    # aiosmtpd logs each connection (info) from its own thread, even after pytest's capture ends
    quiet = logging.getLogger("mail.log")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        yield box, port
    finally:
        controller.stop()
        quiet.setLevel(level)


async def test_kill_9_mid_batch_then_restart_sends_every_due_email_once(
    stack: Stack,  # noqa: F811
    start_server: type[ServerProcess],
    inbox: tuple[KillingInbox, int],
    tmp_path: Path,
) -> None:
    box, smtp_port = inbox
    t = stack.team
    recipients = {f"{m.name}@example.com" for m in (t.bob, t.carol)}
    for member in (t.bob, t.carol):
        await notifyprefs.set_prefs(stack.store, member.caller, {"email": {"enabled": True, "delay_s": 0}})
    for i in range(6):  # more away users in #general, each with email on and no delay
        user = await users.create_user(stack.store, t.id, f"extra{i}", email=f"extra{i}@example.com")
        caller = await authenticate(stack.store, await issue_token(stack.store, t.id, user["id"]))
        await conversations.join(stack.store, caller, t.general)
        await notifyprefs.set_prefs(stack.store, caller, {"email": {"enabled": True, "delay_s": 0}})
        recipients.add(f"extra{i}@example.com")
    port = free_port()
    args = notifier_args(stack, tmp_path / "notifier", smtp_port)
    first = start_server(args, port).start()
    assert first.proc is not None
    box.victim = first.proc.pid
    await api(
        stack.origin.url, "chat.postMessage", t.alice.token, channel=t.general, text="<!channel> deploy"
    )

    async def died() -> bool:
        return first.proc is not None and first.proc.poll() is not None

    await until("the notifier was killed at the third email", died)
    assert first.proc.returncode == -signal.SIGKILL and len(box.received) == 3
    second = start_server(args, port).start()  # the same state directory

    async def settled() -> bool:
        async with httpx.AsyncClient() as http:
            s = (await http.get(second.url + "/internal/stats", headers={SERVICE_HEADER: SECRET})).json()
        return bool(s["owed"] == 0 and {to for to, _ in box.received} == recipients)

    try:
        await until("every email is delivered after the restart", settled)
        ids = {to: mid for to, mid in box.received}
        assert len(set(ids.values())) == len(recipients)  # one Message-ID per recipient
        # the two before the kill were recorded as sent, so the only repeat is the third, which
        # the notifier never heard accepted: sent again, as the same email
        assert len(box.received) == len(recipients) + 1
        to, mid = box.received[2]
        assert [m for t_, m in box.received if t_ == to] == [mid, mid]
    finally:
        second.stop()
