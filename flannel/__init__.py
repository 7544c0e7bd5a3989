"""Flannel edge: per-workspace caches that answer thin clients from memory.

Imports only :mod:`wire` and :mod:`changelog` of the project (CI's import contract). Modules:

``edge``           :class:`~flannel.edge.Edge`: the cache, the sessions, the flows between them
``app``            the ASGI app: routes, lifespan, health, stats, metrics
``webapi``         ``/api/<method>``: Slack's HTTP conventions over :mod:`wire.http`
``rtm_endpoint``   ``/rtm``: ticket, admission, then the connection
``connection``     one WebSocket: moves frames between the socket and its session
``methods``        the Web API methods answered from memory
``auth``           cached token checks
``access``         the fanout's view of a cached workspace
``origin_client``  the HTTP client for the origin
``regional``       snapshots shared by a region's edges (Redis)
``registry``       this edge's heartbeat record, for the routers
``nonces``         single-use ticket nonces in Redis
``metrics``        Prometheus figures
``cache/``         the workspace cache; ``rtm/`` the sans-I/O real-time core
"""
