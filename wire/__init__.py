"""The wire contract: what origin, edges, router and clients say to each other, defined once.

Pure (standard library and orjson only), so every part may import it without loading
another part. Modules, one concept each:

``errors``       :class:`SlackError` and Slack's error names
``http``         Slack's HTTP conventions: argument reading, bearer tokens, answers, headers
``args``         typed access to a method's arguments
``ids``          ids and Slack timestamps
``cursors``      opaque pagination cursors and page arguments
``offsets``      change-log offsets as clients give them (``resume_from``)
``events``       the change-log event schema and the event-type groups
``state``        the snapshot/event apply model (the reference meaning of events)
``visibility``   conversation kinds and who may see a conversation
``mentions``     ``<@U..>``, ``<!here>``... parsed out of message text
``closecodes``   WebSocket close codes of ``/rtm``
``tickets``      the signed, single-use WebSocket tickets the router issues and edges redeem
``tokens``       token hashing (a raw token is never a key, a log field or an event field)
``keys``         the Redis key layout shared by edges and routers (registry, warm sets)
``ratelimit``    Slack's per-token rate-limit tiers, each method's tier, the token buckets
``ttlcache``     a bounded in-process map with a TTL per entry (token checks on the hot path)
``tokencheck``   the origin's batch endpoint checking many tokens in one call
``batching``     single-flight, batched asks (token checks, manual-away lookups in a storm)
``readstate``    unread and mention counts, each conversation's latest message, from the log
``presence``     presence and typing as clients see them; the manual-away batch endpoint
``dnd``          do-not-disturb windows and snoozes
``notifyprefs``  a user's notification preferences (``users.prefs.get|set``, the notifier)
``files``        where file bytes travel: upload and download URLs, a proxy's headers
``bus``          the ephemeral bus envelope (presence, typing, frames for one user's sessions)
"""
