"""Workspace snapshots: users, channels and memberships at one change-log offset.

``stream`` reads them from the database in one consistent transaction and yields them in
pages (so a 100,000-user workspace never sits whole in the origin's memory); ``state`` is the
in-memory model an edge builds from a snapshot and keeps current by applying events.
"""
