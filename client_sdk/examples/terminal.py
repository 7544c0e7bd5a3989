"""An example terminal client: type to post, see the channel live.

    python -m client_sdk.examples.terminal --url http://router:8200 --token xoxp-... [--channel general]

Lines read from stdin are posted to the current channel; commands start with ``/``:
``/channel NAME`` switch (a prefix search), ``/who PREFIX`` find people, ``/history [N]`` the
last N messages, ``/thread TS TEXT`` reply in a thread, ``/unread`` the unread badges
(also shown at connect; switching to a channel marks it read), ``/quit``. Incoming messages of the
current channel print as ``[#general] bob: text``; someone starting to type there prints
``* bob is typing...`` (typing expires on its own: ``/typing`` lists who is typing now). It
shows the ``events()`` iterator style, lookups through the cache, and history paging.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from client_sdk import (
    AuthError,
    Channel,
    Disconnected,
    FlannelClient,
    FlannelError,
    Hello,
    Message,
    Resync,
    UserTyping,
)


def say(line: str) -> None:
    print(line, flush=True)


class Terminal:
    def __init__(self, client: FlannelClient) -> None:
        self.client = client
        self.channel: Channel | None = None
        self.typists: list[str] = []  # who was last shown typing in the current channel

    async def show(self, message: Message) -> None:
        sender = message.sender
        if sender is None and message.user:  # evicted from the cache since: ask
            sender = (await self.client.users.get([message.user])).get(message.user)
        name = sender.name if sender else message.user
        where = self.channel.name if self.channel and self.channel.id == message.channel else message.channel
        thread = f" (thread {message.thread_ts})" if message.is_reply else ""
        say(f"[#{where}] {name}: {message.text}{thread}")

    async def listen(self) -> None:
        async for event in self.client.events():
            if isinstance(event, Message) and self.channel and event.channel == self.channel.id:
                await self.show(event)
            elif isinstance(event, UserTyping) and self.channel and event.channel == self.channel.id:
                await self.show_typing()
            elif isinstance(event, Disconnected):
                say(f"* disconnected ({event.code}); {'reconnecting' if event.will_reconnect else 'gone'}")
            elif isinstance(event, Hello) and event.reconnect:
                say("* reconnected" + (" (resumed)" if event.resumed else ""))
            elif isinstance(event, Resync):
                say(f"* resync: {event.reason}")

    async def names(self, user_ids: list[str]) -> list[str]:
        found = await self.client.users.get(user_ids) if user_ids else {}
        return [found[u].name if u in found else u for u in user_ids]

    async def show_typing(self) -> None:
        """``* bob is typing...`` for whoever started typing since it was last shown."""
        if self.channel is None:
            return
        now = self.client.who_is_typing(self.channel.id)
        started = [u for u in now if u not in self.typists and u != self.client.self_user.id]
        self.typists = now
        for name in await self.names(started):
            say(f"* {name} is typing...")

    def badges(self) -> list[str]:
        """Unread badges of your conversations: ``#general 3 (@1)``; ``+`` when at least."""
        lines = []
        for channel_id, state in sorted(self.client.cache.reads.by_channel.items()):
            if not state.has_unreads:
                continue
            known = self.client.cache.channels.get(channel_id)
            name = known.name if known and known.name else channel_id
            more = "+" if state.is_floor else ""
            mentions = f" (@{state.mention_count}{more})" if state.mention_count else ""
            lines.append(f"#{name} {state.unread_count_display}{more}{mentions}")
        return lines

    async def switch(self, name: str) -> None:
        found = await self.client.channels.search(name.lstrip("#"), limit=1)
        if not found:
            say(f"* no channel matches {name!r}")
            return
        self.channel = found[0]
        say(f"* now in #{self.channel.name}")
        state = self.client.read_state(self.channel.id)
        if state is not None and state.latest and state.has_unreads:
            await self.client.mark(self.channel.id, state.latest)  # read: the badge clears

    async def command(self, line: str) -> bool:
        """Run one input line; False to quit."""
        verb, _, rest = line.partition(" ")
        if verb == "/quit":
            return False
        if verb == "/channel":
            await self.switch(rest)
        elif verb == "/typing":
            typing = self.client.who_is_typing(self.channel.id) if self.channel else []
            say("* " + (", ".join(await self.names(typing)) + " typing" if typing else "nobody is typing"))
        elif verb == "/unread":
            await self.client.counts()
            for line_ in self.badges() or ["nothing unread"]:
                say(f"* {line_}")
        elif verb == "/who":
            for user in await self.client.users.search(rest.strip(), limit=10):
                say(f"* {user.name} ({user.real_name}) {user.id}")
        elif self.channel is None:
            say("* pick a channel first: /channel NAME")
        elif verb == "/history":
            count = int(rest) if rest.strip().isdigit() else 10
            recent = [m async for m in self.client.history(self.channel.id, limit=count)]
            for message in reversed(recent):
                await self.show(message)
        elif verb == "/thread":
            ts, _, text = rest.partition(" ")
            await self.client.post(self.channel.id, text, thread_ts=ts)
        elif line.strip():
            posted = await self.client.post(self.channel.id, line)
            say(f"* sent {posted.ts}")
        return True


async def read_lines() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def run(url: str, token: str, region: str | None, channel: str | None) -> int:
    try:
        async with FlannelClient(url, token, region) as client:
            say(f"* connected as {client.self_user.name} to {client.team.name}")
            term = Terminal(client)
            for badge in term.badges():
                say(f"* unread: {badge}")
            if channel:
                await term.switch(channel)
            listener = asyncio.create_task(term.listen())
            stdin = await read_lines()
            try:
                while True:
                    reading = asyncio.create_task(stdin.readline())
                    await asyncio.wait({reading, listener}, return_when=asyncio.FIRST_COMPLETED)
                    if listener.done():  # the session ended: say why
                        reading.cancel()
                        listener.result()
                        break
                    line = reading.result().decode()
                    if not line:
                        break
                    try:
                        if not await term.command(line.rstrip("\n")):
                            break
                    except AuthError:
                        raise
                    except FlannelError as exc:
                        say(f"* error: {exc}")
            finally:
                listener.cancel()
    except AuthError as exc:
        say(f"* the token was refused: {exc.code}")
        return 2
    except FlannelError as exc:
        say(f"* error: {exc}")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A terminal client for Flannel.")
    parser.add_argument("--url", required=True, help="a URL that answers rtm.connect (the router)")
    parser.add_argument("--token", required=True)
    parser.add_argument("--region", default=None)
    parser.add_argument("--channel", default=None, help="start in this channel (name prefix)")
    args = parser.parse_args(argv)
    return asyncio.run(run(args.url, args.token, args.region, args.channel))


if __name__ == "__main__":
    sys.exit(main())
