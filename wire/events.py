"""The change-log event schema: the published contract between the origin and every edge.

Every mutation at the origin writes exactly one event, in the same transaction as the data
(see ``origin.store.shards.WriteTx.emit``); a post to a user id whose DM does not exist yet
logs two, the DM's ``channel_created`` and then the ``message``. Events use Slack's RTM
shapes, plus:

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
                              when invited, ``last_read`` (ts string): the joiner's read
                              cursor, the channel's newest message when they joined (Slack's
                              rule: earlier history is not unread); absent (imports) means 0
``member_left_channel``       ``channel``, ``user``, ``channel_type``
``message``                   ``channel``, ``channel_type``, ``message`` fields inlined as
                              Slack does (``user``, ``text``, ``ts``, ``thread_ts``...), and
                              what apps post: ``blocks``, ``attachments`` (JSON arrays) and
                              ``metadata`` {event_type, event_payload}, each only when set;
                              a reply carries ``parent_user_id`` (its thread parent's author).
                              ``subtype`` ``me_message`` (chat.meMessage) or
                              ``thread_broadcast``: a reply also shown in the channel; one
                              message, in the thread (counted in the parent's reply fields)
                              and in the channel's history alike, so treat it as a channel
                              message that also has ``thread_ts`` (latest, unread). A message
                              in a DM or group DM reopens it for members who closed it
``ephemeral_message``         ``user`` (the ONE recipient), ``channel``, ``channel_type``,
                              ``message`` {type: message, user (the poster), text, ts, team,
                              is_ephemeral: true, blocks?, attachments?, thread_ts?}: from
                              chat.postEphemeral, never stored. Edges deliver it ONLY to the
                              connections of ``user`` (if ``user`` may still see ``channel``),
                              never to the channel's other members, in Slack's shape: type
                              ``message``, the inner message's fields, ``channel``
``message_changed``           ``channel``, ``channel_type``, ``message`` (new, with its
                              blocks, attachments, metadata), ``previous_message``; subtype
                              ``message_changed``
                              (Slack sends it as type ``message`` with that subtype; the log
                              keeps the subtype name as ``type`` for routing, and edges
                              rewrite it to Slack's shape when delivering)
``message_deleted``           ``channel``, ``channel_type``, ``deleted_ts``,
                              ``previous_message``; the message's reactions and pin go with it
``message_replied``           not emitted separately: a reply is a ``message`` with
                              ``thread_ts``; the parent's new reply fields arrive with it
                              as ``parent`` {ts, reply_count, reply_users, latest_reply}
``reaction_added``            ``user``, ``reaction``, ``item`` {type: message, channel, ts},
                              ``item_user``, ``channel_type``
``reaction_removed``          same as reaction_added
``channel_marked``            ``channel``, ``user``, ``ts``: last_read moved (sent to that
                              user only)
``pin_added``                 ``user`` (who pinned), ``channel_id`` (Slack's name) and
                              ``channel`` (the same id, for routing), ``channel_type``,
                              ``item`` {type: message, channel, message, created,
                              created_by}: for the channel's members
``pin_removed``               same as pin_added, plus ``has_pins`` (any pin left)
``im_open``                   ``user``, ``channel``: that user opened a DM it had closed
                              (conversations.open); to that user only
``im_close``                  ``user``, ``channel``: that user closed a DM
                              (conversations.close); to that user only
``mpim_open``                 same as im_open, for a group DM
``mpim_close``                same as im_close, for a group DM
``emoji_changed``             ``subtype`` add, ``name``, ``value`` (the image URL or
                              ``alias:<name>``): for every connection of the workspace
``subteam_created``           ``subteam`` (the user group object of usergroups.list, with
                              ``users``): for every connection of the workspace
``token_revoked``             ``user``, ``tokens`` {oauth: [], bot: []} and ``token_hash``
                              (the sha256 of the revoked token, so edges can close its
                              connections without ever seeing the token)
``dnd_updated``               ``user``, ``dnd_status`` {dnd_enabled, next_dnd_start_ts,
                              next_dnd_end_ts, snooze_enabled, snooze_endtime?,
                              snooze_remaining?, snooze_is_indefinite?} (``dnd.info``'s
                              body): that user's do-not-disturb changed (schedule, snooze,
                              endDnd); to that user only
``dnd_updated_user``          ``user``, ``dnd_status`` {dnd_enabled, next_dnd_start_ts,
                              next_dnd_end_ts}: the same change as others see it (never the
                              snooze); for every connection of the workspace. Written only
                              when that public part changed, after its ``dnd_updated``
``file_shared``               ``file_id``, ``file`` {id}, ``user_id`` (who shared it),
                              ``channel_id`` and ``channel`` (the same id, for routing),
                              ``channel_type``: emitted only once the file's bytes are
                              stored (files.completeUploadExternal, files.upload), right
                              after the ``message`` (subtype ``file_share``, ``files`` [full
                              file objects], ``upload``) that shares it. Edges send it to
                              the channel's members
``file_change``               ``file_id``, ``file`` {id}, ``user_id``: a complete file's
                              title changed; no channel: edges send it to that user only
``file_deleted``              ``file_id``, ``channel_ids`` (where it was shared), ``user_id``
                              (who deleted it); its messages now show a tombstone. Edges send
                              it to the members of those channels and to ``user_id``
============================  ===========================================================

``notification_prefs_changed`` carries ``user``: that user's notification preferences changed
(``users.prefs.set``, :mod:`wire.notifyprefs`). No content, so nothing can leak: readers (the
notifier) reload them; edges deliver it to nobody.
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
    "ephemeral_message",
    "pin_added",
    "pin_removed",
    "im_open",
    "im_close",
    "mpim_open",
    "mpim_close",
    "emoji_changed",
    "subteam_created",
    "dnd_updated",
    "dnd_updated_user",
    "notification_prefs_changed",
    "file_shared",
    "file_change",
    "file_deleted",
)
