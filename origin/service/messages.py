"""Messages: posting (with threads, broadcasts and what apps post besides text), editing and
deleting. Reading them is :mod:`origin.service.history`.

A message's ``ts`` is unique and strictly increasing per channel even under concurrent
posts: the workspace row is locked for the write (``Store.write``), and the new ts is
``max(now, channel.last_ts + 1µs)``.

A post may carry Slack's ``client_msg_id``: the poster's idempotency key. A client whose edge
died before the answer came sends the post again with the same id; the origin finds the first
one by (workspace, user, id) and answers with it instead of posting twice (a unique index backs
the look-up, which the workspace lock already serializes).

A thread reply names its parent's author (``parent_user_id``). A reply with ``reply_broadcast``
is Slack's ``thread_broadcast``: one message, subtype ``thread_broadcast``, with the thread's
``thread_ts``, that is both in the thread (``conversations.replies``, the parent's
``reply_count``) and in the channel (``conversations.history``). It is logged once, as one
``message`` event; editing or deleting it changes it in both places at once.

Posting is a group-commit job (:class:`~origin.service.message_batches.Posts`, see
:mod:`origin.store.group`): the posts that queue one after another behind a workspace's lock are
decided together. One statement reads their conversations with the posters' memberships (one
more reads their thread parents, one their client_msg_ids, when they have some); each post is
then decided in queue order in memory, seeing the posts before it (the channel's ``last_ts``, a
thread's reply fields, an id just used), exactly as if they had run one after the other; then
one ``last_ts`` update, one multi-row message insert, one update of the thread parents and one
reopening of DMs write them all. A refused post wrote nothing. Posts to a name or a user, and
every post of a batch whose statements failed, run alone
(:func:`~origin.service.message_writes.post_alone`), statement by statement.

``chat.update`` and ``chat.delete`` are group-commit jobs too
(:class:`~origin.service.message_batches.Edits`), decided the same way: read together,
decided in queue order in memory, written in a few statements for all.
"""

from __future__ import annotations

from origin.models import JSON
from origin.service import targets
from origin.service.auth import Caller
from origin.service.content import Content
from origin.service.message_batches import EDITS, POSTS
from origin.service.message_writes import POSTED_SUBTYPES, EditItem, PostItem, check_text
from origin.store.shards import Store
from wire.errors import SlackError, invalid_arguments


async def post(
    store: Store,
    caller: Caller,
    channel: str,
    text: str,
    thread_ts: int | None = None,
    client_msg_id: str | None = None,
    *,
    content: Content | None = None,
    subtype: str | None = None,
    broadcast: bool = False,
) -> tuple[JSON, int]:
    """``chat.postMessage``: returns the message and the event offset it was logged at (see
    :func:`post_to`, which also says where it went)."""
    _, message, offset = await post_to(
        store,
        caller,
        channel,
        text,
        thread_ts,
        client_msg_id,
        content=content,
        subtype=subtype,
        broadcast=broadcast,
    )
    return message, offset


async def post_to(
    store: Store,
    caller: Caller,
    channel: str,
    text: str,
    thread_ts: int | None = None,
    client_msg_id: str | None = None,
    *,
    content: Content | None = None,
    subtype: str | None = None,
    broadcast: bool = False,
) -> tuple[str, JSON, int]:
    """Post to ``channel`` (an id, a name or a user id: :mod:`origin.service.targets`);
    returns (channel id, message, offset).

    With a ``client_msg_id`` the caller posted before, nothing is written: the original message
    is returned (its reactions included), with offset 0. Reusing an id for another channel is
    ``invalid_arguments``: the answer could not name the channel asked for.
    """
    content = content or Content()
    check_text(text, content)
    if subtype is not None and subtype not in POSTED_SUBTYPES:
        raise invalid_arguments("subtype", f"one of {POSTED_SUBTYPES}")
    item = PostItem(
        caller, targets.check_ref(channel), text, thread_ts, client_msg_id, content, subtype, broadcast
    )
    db = await store.shard_of(caller.team_id)
    return await store.group_commit.submit(db, caller.team_id, POSTS, item)


async def update(
    store: Store, caller: Caller, channel_id: str, ts: int, text: str, content: Content | None = None
) -> JSON:
    """``chat.update``: new text, and the blocks, attachments or metadata given (what is not
    given is kept; an empty list removes them). A group-commit job
    (:class:`~origin.service.message_batches.Edits`)."""
    item = EditItem("update", caller, channel_id, ts, text, content or Content())
    db = await store.shard_of(caller.team_id)
    message: JSON | None = await store.group_commit.submit(db, caller.team_id, EDITS, item)
    if message is None:  # an update always answers with the message
        raise SlackError("internal_error", "update gave no message")
    return message


async def delete(store: Store, caller: Caller, channel_id: str, ts: int) -> None:
    """``chat.delete``. A group-commit job (:class:`~origin.service.message_batches.Edits`)."""
    item = EditItem("delete", caller, channel_id, ts, "", Content())
    db = await store.shard_of(caller.team_id)
    await store.group_commit.submit(db, caller.team_id, EDITS, item)
