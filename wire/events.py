"""The change-log event schema: the published contract between the origin and every edge.

Every mutation at the origin writes exactly one event, in the same transaction as the data
(see ``origin.store.shards.WriteTx.emit``). Events use Slack's RTM shapes, plus:

- ``offset``: per-workspace, strictly increasing, gapless integer (the outbox id);
- ``team``: the workspace id;
- ``event_ts``: when the origin wrote it.

Types, and the fields each carries beyond Slack's own:

============================  ===========================================================
``team_join``                 ``user`` (full user object): a user was created
``user_change``               ``user`` (full user object): profile changed or deactivated
                              (``user.deleted`` true)
``channel_created``           ``channel`` (full conversation object, without is_member),
                              ``members`` (initial member ids); also for DMs and group DMs,
                              whose ``channel.is_im`` / ``is_mpim`` say which
``channel_rename``            ``channel`` {id, name, created}
``channel_archive``           ``channel`` (id), ``user``
``channel_unarchive``         ``channel`` (id), ``user``
``channel_topic``             ``channel``, ``topic`` {value, creator, last_set}
``channel_purpose``           ``channel``, ``purpose`` {value, creator, last_set}
``member_joined_channel``     ``channel``, ``user``, ``channel_type`` (C public, G private,
                              D im, G mpim: ``wire.visibility.channel_type``), ``inviter``
                              when invited
``member_left_channel``       ``channel``, ``user``, ``channel_type``
``message``                   ``channel``, ``channel_type``, ``message`` fields inlined as
                              Slack does (``user``, ``text``, ``ts``, ``thread_ts``...)
``message_changed``           ``channel``, ``channel_type``, ``message`` (new),
                              ``previous_message``; subtype ``message_changed``
                              (Slack sends it as type ``message`` with that subtype; the log
                              keeps the subtype name as ``type`` for routing, and edges
                              rewrite it to Slack's shape when delivering)
``message_deleted``           ``channel``, ``channel_type``, ``deleted_ts``,
                              ``previous_message``
``message_replied``           not emitted separately: a reply is a ``message`` with
                              ``thread_ts``; the parent's new reply fields arrive with it
                              as ``parent`` {ts, reply_count, reply_users, latest_reply}
``reaction_added``            ``user``, ``reaction``, ``item`` {type: message, channel, ts},
                              ``item_user``, ``channel_type``
``reaction_removed``          same as reaction_added
``channel_marked``            ``channel``, ``user``, ``ts``: last_read moved (sent to that
                              user only)
``token_revoked``             ``user``, ``tokens`` {oauth: [], bot: []} and ``token_hash``
                              (the sha256 of the revoked token, so edges can close its
                              connections without ever seeing the token)
============================  ===========================================================
"""

from __future__ import annotations

from typing import Any

Event = dict[str, Any]

EVENT_TYPES = (
    "team_join",
    "user_change",
    "channel_created",
    "channel_rename",
    "channel_archive",
    "channel_unarchive",
    "channel_topic",
    "channel_purpose",
    "member_joined_channel",
    "member_left_channel",
    "message",
    "message_changed",
    "message_deleted",
    "reaction_added",
    "reaction_removed",
    "channel_marked",
    "token_revoked",
)
