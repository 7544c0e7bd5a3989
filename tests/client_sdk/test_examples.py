"""The examples, run as their users run them (``python -m``), against the real stack."""

from __future__ import annotations

import asyncio
import signal
import sys

from client_sdk import FlannelClient, Message
from tests.client_sdk.conftest import Stack, discovery_url
from tests.client_sdk.test_e2e import next_event, origin_post
from tests.conftest import ROOT


async def spawn(module: str, *args: str, stdin: bool = False) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        f"client_sdk.examples.{module}",
        *args,
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def expect(proc: asyncio.subprocess.Process, needle: str, wait_s: float = 20) -> list[str]:
    """Output lines up to and including the first one containing ``needle``."""
    assert proc.stdout is not None
    lines: list[str] = []

    async def scan() -> list[str]:
        while True:
            raw = await proc.stdout.readline()  # type: ignore[union-attr]
            if not raw:
                err = await proc.stderr.read() if proc.stderr else b""  # type: ignore[union-attr]
                raise AssertionError(f"exited before {needle!r}: {lines} {err.decode()[-2000:]}")
            lines.append(raw.decode().rstrip("\n"))
            if needle in lines[-1]:
                return lines

    return await asyncio.wait_for(scan(), wait_s)


async def test_bot_replies_to_a_message(stack: Stack) -> None:
    team = stack.team
    bot = await spawn("bot", "--url", discovery_url(stack), "--token", team.carol.token)
    try:
        await expect(bot, "ready as carol")
        async with FlannelClient(discovery_url(stack), team.alice.token) as alice:
            events = alice.events()
            asked = await alice.post(team.general, "!ping")
            whois = await alice.post(team.general, f"<@{team.carol.id}> !whois bo")
            replies: list[Message] = []
            while len(replies) < 2:
                event = await next_event(events, Message)
                if event.user == team.carol.id:
                    replies.append(event)
            by_thread = {m.thread_ts: m.text for m in replies}
            assert by_thread == {asked.ts: "pong", whois.ts: "bob (Bob Example)"}
            assert replies[0].sender is not None and replies[0].sender.name == "carol"
        await expect(bot, "replied to alice: pong")
    finally:
        if bot.returncode is None:
            bot.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(bot.wait(), 15) == 0


async def test_bot_with_a_bad_token_exits_with_a_clear_error(stack: Stack) -> None:
    bot = await spawn("bot", "--url", discovery_url(stack), "--token", "xoxp-not-a-token")
    _, err = await asyncio.wait_for(bot.communicate(), 30)
    assert bot.returncode == 2
    assert "the token was refused: invalid_auth" in err.decode()


async def test_terminal_client_posts_and_prints(stack: Stack) -> None:
    team = stack.team
    term = await spawn(
        "terminal", "--url", discovery_url(stack), "--token", team.alice.token, "--channel", "gen", stdin=True
    )
    assert term.stdin is not None

    def send(line: str) -> None:
        term.stdin.write(line.encode() + b"\n")  # type: ignore[union-attr]

    try:
        await expect(term, "* now in #general")
        send("/who bo")
        await expect(term, "* bob (Bob Example)")
        send("hello from the terminal")
        await expect(term, "* sent ")
        await expect(term, "[#general] alice: hello from the terminal")
        await origin_post(stack, team.bob.token, team.general, "hi terminal")
        await expect(term, "[#general] bob: hi terminal")
        send("/history 2")
        history = await expect(term, "[#general] bob: hi terminal")
        assert any("alice: hello from the terminal" in line for line in history)
        send("/quit")
        assert await asyncio.wait_for(term.wait(), 15) == 0
    finally:
        if term.returncode is None:
            term.kill()
            await term.wait()
    async with FlannelClient(discovery_url(stack), team.bob.token) as bob:
        texts = [m.text async for m in bob.history(team.general, limit=2)]
        assert texts == ["hi terminal", "hello from the terminal"]
