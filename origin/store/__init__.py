"""Persistence: one async store interface over MariaDB/MySQL (aiomysql) and SQLite (aiosqlite)."""
