"""Flannel edge: per-workspace caches that answer thin clients from memory."""
