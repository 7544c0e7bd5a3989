"""An example bot: answers commands in a thread under the message that asked.

    python -m client_sdk.examples.bot --url http://router:8200 --token xoxb-...

Commands (in any channel the bot is in, or by mentioning it): ``!ping``, ``!echo TEXT``,
``!whois PREFIX`` (a users.search). It shows the handler style (``@client.on``), the local
cache (``event.sender`` arrives just in time) and a clean exit on SIGINT/SIGTERM or on a
revoked token (exit status 2).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from client_sdk import AuthError, Event, FlannelClient, FlannelError, Message


async def answer(client: FlannelClient, text: str) -> str | None:
    """The reply to a command, or None when ``text`` is not one."""
    command, _, rest = text.strip().partition(" ")
    if command == "!ping":
        return "pong"
    if command == "!echo":
        return rest or "(nothing to echo)"
    if command == "!whois":
        found = await client.users.search(rest.strip() or "a", limit=5)
        return ", ".join(f"{u.name} ({u.real_name})" for u in found) or "nobody"
    return None


async def run(url: str, token: str, region: str | None) -> int:
    client = FlannelClient(url, token, region)

    @client.on("message")
    async def on_message(event: Event) -> None:
        if not isinstance(event, Message) or event.subtype or event.user == client.self_user.id:
            return
        text = event.text.replace(f"<@{client.self_user.id}>", "").strip()
        reply = await answer(client, text)
        if reply is not None:
            who = event.sender.name if event.sender else event.user
            await client.post(event.channel, reply, thread_ts=event.thread_ts or event.ts)
            print(f"replied to {who}: {reply}", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        async with client:
            print(f"ready as {client.self_user.name} in {client.team.name}", flush=True)
            ended = asyncio.create_task(client.wait_closed())
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({ended, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if ended.done():
                ended.result()  # raises why the session ended
            ended.cancel()
    except AuthError as exc:
        print(f"the token was refused: {exc.code}", file=sys.stderr, flush=True)
        return 2
    except FlannelError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--url", required=True, help="a URL that answers rtm.connect (the router)")
    parser.add_argument("--token", required=True)
    parser.add_argument("--region", default=None)
    args = parser.parse_args(argv)
    return asyncio.run(run(args.url, args.token, args.region))


if __name__ == "__main__":
    sys.exit(main())
