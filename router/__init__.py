"""The router: pins each client to the edge cache most likely warm for its workspace.

Imports only the wire contract (``wire``) of the repo, never the origin, the edge or the client
SDK. Modules, one concept each: ``placement`` (pure: bounded-load consistent hashing with a load
floor, warm preference, failover to any region), ``registry`` (live edges and warm sets, Redis or
in-process), ``reports`` (pure: edges clients could not reach), ``tokens`` (cached
``auth.test``), ``ratelimit`` and ``loads`` (pure), ``service`` (the connect flow), ``app`` (the
starlette adapter), ``metrics``, ``settings``.
"""
