"""The edge's real-time sessions, sans I/O; ``flannel.connection`` wires them to sockets.

``frames``     client frames in (parsed, validated), server frames out
``admission``  who may open a connection (Admit / Refuse)
``dispatch``   what to do with each client frame (reply, call, typing)
``session``    one connection's state: what it was sent, where it is
``delivery``   a frame encoded once for many connections; just-in-time users
``hello``      the thin hello
``resume``     starting a connection: hello, missed events, then live
``fanout``     which connections an event reaches
``ratelimit``  the client's frame budget
``sendqueue``  what a connection has yet to send, bounded
``drain``      spreading goodbyes when the edge drains
"""
