"""Presence and typing on the edge, across every edge: pure decisions, one thin hub.

``settings``       the knobs (auto-away, TTLs, coalescing window, typing limits)
``local``          this edge's connections of one workspace -> per-user connection counts
``table``          every edge's counts of a workspace -> each user's presence, with expiry
``subscriptions``  who subscribed (``presence_sub``) to whom, per connection, max 500 ids
``coalesce``       presence changes batched over a short window, flaps dropped
``typing_gate``    typing's rate limit (one per channel per 3 s per connection) and member cap
``hub``            the adapter: joins the above to sessions, the ephemeral bus, the online store

Semantics (Slack's): a user is ``active`` when at least one of their connections, on any edge,
is open and not auto-away, and they have not set manual away; otherwise ``away``. Each edge
reports, per user, how many connections it holds (``total``) and how many count as active
(``active``: 0 when the user went auto-away on that edge or set manual away). Reports travel on
the bus and live in the online store with a TTL, refreshed by heartbeats: an edge that dies stops
counting once its TTL runs out, so no crash leaves a user online.
"""
