"""The words a notification shows: Slack's ``desktop_notification`` frame and the email.

Only a recipient's own notification ever carries a message's text, and the decision only
names members of the conversation, so a private channel's text reaches no one else.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable, Mapping, Sequence
from email.message import EmailMessage
from typing import Any

from notifier.decide import Channel, Message

_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")
_LINK = re.compile(r"<(https?://[^|>]+)(?:\|([^>]*))?>")
MAX_CONTENT = 300


def plain(text: str, name_of: Callable[[str], str]) -> str:
    """Slack markup as a person reads it: ``<@U1>`` as ``@alice``, ``<!here>`` as ``@here``."""
    text = _USER.sub(lambda m: "@" + name_of(m.group(1)), text)
    text = _SPECIAL.sub(lambda m: "@" + m.group(1), text)
    return _LINK.sub(lambda m: m.group(2) or m.group(1), text)


def subtitle(channel: Channel, sender: str) -> str:
    return sender if channel.kind == "im" else ("#" + channel.name if channel.name else channel.id)


def desktop_frame(
    team_name: str, team_id: str, channel: Channel, message: Message, sender: str, content: str
) -> dict[str, Any]:
    """Slack's RTM ``desktop_notification`` (title, subtitle, msg, ts, content, channel...)."""
    body = content if len(content) <= MAX_CONTENT else content[: MAX_CONTENT - 1] + "…"
    return {
        "type": "desktop_notification",
        "title": team_name,
        "subtitle": subtitle(channel, sender),
        "msg": message.ts,
        "ts": message.ts,
        "content": f"{sender}: {body}" if channel.kind != "im" else body,
        "channel": channel.id,
        "launchUri": f"slack://channel?id={channel.id}&message={message.ts}&team={team_id}",
        "avatarImage": None,
        "ssbFilename": "knock_brush.mp3",
        "imageUri": None,
        "isShared": False,
        "isChannelInvite": False,
        "event_ts": message.ts,
    }


def email(
    *,
    sender: str,
    to: str,
    team_name: str,
    items: Sequence[Mapping[str, str]],
    prefs_url: str,
    idempotency_key: str,
) -> EmailMessage:
    """One email for a batch (each item: channel_name, sender, text, permalink), plain + HTML.

    The Message-ID derives from the batch's idempotency key, so a resend after a crash is
    recognisably the same email."""
    msg = EmailMessage()
    count = len(items)
    where = items[0]["channel_name"]
    msg["Subject"] = (
        f"[{team_name}] {count} new notifications" if count > 1 else f"[{team_name}] New message in {where}"
    )
    msg["From"] = sender
    msg["To"] = to
    domain = sender.rpartition("@")[2] or "flannel.local"
    msg["Message-ID"] = f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]}@{domain}>"
    msg["X-Flannel-Idempotency-Key"] = idempotency_key
    msg["List-Unsubscribe"] = f"<{prefs_url}>"
    lines = [f"You have {count} unread notification{'s' if count > 1 else ''} in {team_name}:", ""]
    parts = []
    for item in items:
        lines += [
            f"{item['channel_name']} - {item['sender']}:",
            f"  {item['text']}",
            f"  {item['permalink']}",
            "",
        ]
        parts.append(
            f"<p><b>{html.escape(item['channel_name'])}</b> &mdash; {html.escape(item['sender'])}<br>"
            f"{html.escape(item['text'])}<br>"
            f'<a href="{html.escape(item["permalink"])}">Open in {html.escape(team_name)}</a></p>'
        )
    footer = f"To change or stop these emails, set your notification preferences: {prefs_url}"
    msg.set_content("\n".join([*lines, footer]) + "\n")
    msg.add_alternative(
        f"<html><body><p>You have {count} unread notification{'s' if count > 1 else ''} in "
        f"<b>{html.escape(team_name)}</b>:</p>{''.join(parts)}"
        f'<p style="color:#888">To change or stop these emails, '
        f'<a href="{html.escape(prefs_url)}">set your notification preferences</a>.</p></body></html>',
        subtype="html",
    )
    return msg
