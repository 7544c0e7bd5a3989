"""chat.*"""

from __future__ import annotations

import re

from origin.api.registry import JSON, Context, method
from origin.service import messages
from wire.args import Args
from wire.errors import invalid_arguments

#: Slack's client_msg_id is a UUID; any short printable ASCII token is taken (no spaces).
_CLIENT_MSG_ID = re.compile(r"[!-~]{1,64}")


def client_msg_id(args: Args) -> str | None:
    """The post's idempotency key, if it has one (see :func:`origin.service.messages.post`)."""
    value = args.opt_string("client_msg_id")
    if value is not None and not _CLIENT_MSG_ID.fullmatch(value):
        raise invalid_arguments("client_msg_id", "must be 1 to 64 printable ASCII characters")
    return value


@method("chat.postMessage", tier=4)
async def chat_post_message(ctx: Context, args: Args) -> JSON:
    channel = args.id("channel", "channel_not_found")
    text = args.string("text", default="", max_len=1_000_000)
    thread_ts = args.ts("thread_ts", error="message_not_found") if "thread_ts" in args else None
    message, _ = await messages.post(ctx.store, ctx.caller, channel, text, thread_ts, client_msg_id(args))
    return {"channel": channel, "ts": message["ts"], "message": message}


@method("chat.update", tier=3)
async def chat_update(ctx: Context, args: Args) -> JSON:
    channel = args.id("channel", "channel_not_found")
    ts = args.ts("ts", error="message_not_found")
    text = args.string("text", default="", max_len=1_000_000)
    message = await messages.update(ctx.store, ctx.caller, channel, ts, text)
    return {"channel": channel, "ts": message["ts"], "text": message["text"], "message": message}


@method("chat.delete", tier=3)
async def chat_delete(ctx: Context, args: Args) -> JSON:
    channel = args.id("channel", "channel_not_found")
    ts = args.ts("ts", error="message_not_found")
    await messages.delete(ctx.store, ctx.caller, channel, ts)
    return {"channel": channel, "ts": args.string("ts")}
