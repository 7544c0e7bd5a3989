"""The origin's operations: the rules (who may do what) and the events each change writes.

Each function takes the :class:`~origin.store.shards.Store` and the caller, checks the
rules, and does its reads and writes through the store in one transaction.
"""
