"""chat.*"""

from __future__ import annotations

import re

from origin.api.registry import JSON, Context, method
from origin.service import ephemeral, history, messages, targets
from origin.service.content import from_args
from wire.args import Args
from wire.errors import invalid_arguments

#: Slack's client_msg_id is a UUID; any short printable ASCII token is taken (no spaces).
_CLIENT_MSG_ID = re.compile(r"[!-~]{1,64}")
MAX_TEXT_ARG = 1_000_000


def client_msg_id(args: Args) -> str | None:
    """The post's idempotency key, if it has one (see :func:`origin.service.messages.post`)."""
    value = args.opt_string("client_msg_id")
    if value is not None and not _CLIENT_MSG_ID.fullmatch(value):
        raise invalid_arguments("client_msg_id", "must be 1 to 64 printable ASCII characters")
    return value


def _target(args: Args) -> str:
    """``channel`` as a post takes it: an id, a ``#name`` or name, or a user id."""
    return targets.check_ref(args.string("channel", max_len=MAX_TEXT_ARG))


def _thread_ts(args: Args) -> int | None:
    return args.ts("thread_ts", error="message_not_found") if "thread_ts" in args else None


@method("chat.postMessage")
async def chat_post_message(ctx: Context, args: Args) -> JSON:
    channel = _target(args)
    text = args.string("text", default="", max_len=MAX_TEXT_ARG)
    content = from_args(args)
    channel_id, message, _ = await messages.post_to(
        ctx.store,
        ctx.caller,
        channel,
        text,
        _thread_ts(args),
        client_msg_id(args),
        content=content,
        broadcast=args.flag("reply_broadcast"),
    )
    return {"channel": channel_id, "ts": message["ts"], "message": message}


@method("chat.meMessage")
async def chat_me_message(ctx: Context, args: Args) -> JSON:
    channel = _target(args)
    text = args.string("text", default="", max_len=MAX_TEXT_ARG)
    channel_id, message, _ = await messages.post_to(
        ctx.store, ctx.caller, channel, text, subtype="me_message"
    )
    return {"channel": channel_id, "ts": message["ts"]}


@method("chat.postEphemeral")
async def chat_post_ephemeral(ctx: Context, args: Args) -> JSON:
    channel = _target(args)
    user = args.id("user", "user_not_in_channel")
    text = args.string("text", default="", max_len=MAX_TEXT_ARG)
    content = from_args(args)
    _, message_ts = await ephemeral.post_ephemeral(
        ctx.store, ctx.caller, channel, user, text, content, _thread_ts(args)
    )
    return {"message_ts": message_ts}


@method("chat.update")
async def chat_update(ctx: Context, args: Args) -> JSON:
    channel = args.id("channel", "channel_not_found")
    ts = args.ts("ts", error="message_not_found")
    text = args.string("text", default="", max_len=MAX_TEXT_ARG)
    message = await messages.update(ctx.store, ctx.caller, channel, ts, text, from_args(args))
    return {"channel": channel, "ts": message["ts"], "text": message["text"], "message": message}


@method("chat.delete")
async def chat_delete(ctx: Context, args: Args) -> JSON:
    channel = args.id("channel", "channel_not_found")
    ts = args.ts("ts", error="message_not_found")
    await messages.delete(ctx.store, ctx.caller, channel, ts)
    return {"channel": channel, "ts": args.string("ts")}


@method("chat.getPermalink")
async def chat_get_permalink(ctx: Context, args: Args) -> JSON:
    channel = args.id("channel", "channel_not_found")
    ts = args.ts("message_ts", error="message_not_found")
    link = await history.get_permalink(ctx.store, ctx.caller, channel, ts, ctx.base_url)
    return {"channel": channel, "permalink": link}
