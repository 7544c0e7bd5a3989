"""Flannel's thin-client library: a typed, asyncio-native Slack-style client.

The client never downloads the workspace. It asks a router (``rtm.connect``) which edge to
use, opens a WebSocket there, and gets a small hello; users and channels are fetched when
needed, arrive just in time with the messages that need them, and stay current from events
in a bounded local cache. If the connection drops it reconnects by itself (exponential
backoff, full jitter, ``Retry-After``) and resumes from the last event, so the application
sees every event once, in order.

.. code-block:: python

    async with FlannelClient("http://router:8200", token) as client:
        alice = (await client.users.search("ali"))[0]
        await client.post(channel_id, f"hi <@{alice.id}>")
        async for event in client.events():
            if isinstance(event, Message) and event.sender:
                print(event.sender.name, event.text)

Everything it raises is a :class:`FlannelError`; see :mod:`client_sdk.errors`.
This package imports nothing else of the Flannel repository: httpx, websockets, orjson only.
"""

from client_sdk.cache import CacheLimits, Directory
from client_sdk.client import FlannelClient
from client_sdk.dispatch import Subscription
from client_sdk.errors import (
    ApiError,
    AuthError,
    ClientClosed,
    ConnectionLost,
    FlannelError,
    RateLimited,
    RequestTimeout,
)
from client_sdk.events import (
    ChannelArchive,
    ChannelCreated,
    ChannelMarked,
    ChannelPurpose,
    ChannelRename,
    ChannelTopic,
    ChannelUnarchive,
    Disconnected,
    Event,
    Goodbye,
    Hello,
    ManualPresenceChange,
    MemberJoined,
    MemberLeft,
    Message,
    MessageChanged,
    MessageDeleted,
    PresenceChange,
    ReactionAdded,
    ReactionRemoved,
    Resync,
    TeamJoin,
    Unknown,
    UserChange,
    UserTyping,
)
from client_sdk.models import Channel, Posted, Reaction, SearchMatch, Team, User
from client_sdk.policy import Backoff
from client_sdk.readstate import ReadState

__all__ = [
    "ApiError",
    "AuthError",
    "Backoff",
    "CacheLimits",
    "Channel",
    "ChannelArchive",
    "ChannelCreated",
    "ChannelMarked",
    "ChannelPurpose",
    "ChannelRename",
    "ChannelTopic",
    "ChannelUnarchive",
    "ClientClosed",
    "ConnectionLost",
    "Directory",
    "Disconnected",
    "Event",
    "FlannelClient",
    "FlannelError",
    "Goodbye",
    "Hello",
    "ManualPresenceChange",
    "MemberJoined",
    "MemberLeft",
    "Message",
    "MessageChanged",
    "MessageDeleted",
    "Posted",
    "PresenceChange",
    "RateLimited",
    "Reaction",
    "ReactionAdded",
    "ReactionRemoved",
    "ReadState",
    "RequestTimeout",
    "Resync",
    "SearchMatch",
    "Subscription",
    "Team",
    "TeamJoin",
    "Unknown",
    "User",
    "UserChange",
    "UserTyping",
]
