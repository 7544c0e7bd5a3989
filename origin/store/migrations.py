"""The schema, as a versioned list of migrations applied in order on every shard.

DDL is written once; ``{text}`` and friends are filled per dialect. Where the dialects have
no common form (full-text search), a migration gives one list per dialect instead. A
migration is never edited after it ships: change the schema by appending a new one.
"""

from __future__ import annotations

import time
import weakref

from origin.store.db import Database

_TYPES = {
    "sqlite": {"longtext": "TEXT", "table_opts": "", "bool": "INTEGER"},
    "mysql": {
        "longtext": "MEDIUMTEXT",
        "table_opts": " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
        "bool": "TINYINT",
    },
}

# A migration's statements: one portable list, or a list per dialect.
Statements = list[str] | dict[str, list[str]]

# Ids are ASCII; times are integer microseconds (``ts_us``) so ordering is exact.
MIGRATIONS: list[tuple[int, str, Statements]] = [
    (
        1,
        "core tables",
        [
            """CREATE TABLE shard_directory (
                team_id VARCHAR(32) NOT NULL PRIMARY KEY,
                shard INTEGER NOT NULL
            ){table_opts}""",
            """CREATE TABLE teams (
                id VARCHAR(32) NOT NULL PRIMARY KEY,
                name VARCHAR(255) NOT NULL,
                domain VARCHAR(255) NOT NULL,
                created BIGINT NOT NULL,
                event_seq BIGINT NOT NULL DEFAULT 0
            ){table_opts}""",
            """CREATE TABLE users (
                id VARCHAR(32) NOT NULL PRIMARY KEY,
                team_id VARCHAR(32) NOT NULL,
                name VARCHAR(255) NOT NULL,
                real_name VARCHAR(255) NOT NULL DEFAULT '',
                email VARCHAR(255),
                deleted {bool} NOT NULL DEFAULT 0,
                is_bot {bool} NOT NULL DEFAULT 0,
                is_admin {bool} NOT NULL DEFAULT 0,
                tz VARCHAR(64) NOT NULL DEFAULT 'UTC',
                updated BIGINT NOT NULL,
                profile {longtext} NOT NULL
            ){table_opts}""",
            "CREATE INDEX users_team ON users (team_id, id)",
            "CREATE INDEX users_email ON users (team_id, email)",
            """CREATE TABLE conversations (
                id VARCHAR(32) NOT NULL PRIMARY KEY,
                team_id VARCHAR(32) NOT NULL,
                name VARCHAR(255),
                kind VARCHAR(16) NOT NULL,
                is_private {bool} NOT NULL DEFAULT 0,
                is_archived {bool} NOT NULL DEFAULT 0,
                created BIGINT NOT NULL,
                creator VARCHAR(32),
                topic {longtext} NOT NULL,
                purpose {longtext} NOT NULL,
                num_members INTEGER NOT NULL DEFAULT 0,
                last_ts BIGINT NOT NULL DEFAULT 0,
                dm_key VARCHAR(255)
            ){table_opts}""",
            "CREATE INDEX conversations_team ON conversations (team_id, id)",
            "CREATE UNIQUE INDEX conversations_name ON conversations (team_id, name)",
            "CREATE UNIQUE INDEX conversations_dm ON conversations (team_id, dm_key)",
            """CREATE TABLE members (
                channel_id VARCHAR(32) NOT NULL,
                user_id VARCHAR(32) NOT NULL,
                team_id VARCHAR(32) NOT NULL,
                last_read BIGINT NOT NULL DEFAULT 0,
                joined BIGINT NOT NULL,
                PRIMARY KEY (channel_id, user_id)
            ){table_opts}""",
            "CREATE INDEX members_user ON members (user_id, channel_id)",
            "CREATE INDEX members_team ON members (team_id, channel_id, user_id)",
            """CREATE TABLE messages (
                channel_id VARCHAR(32) NOT NULL,
                ts BIGINT NOT NULL,
                team_id VARCHAR(32) NOT NULL,
                user_id VARCHAR(32),
                text {longtext} NOT NULL,
                subtype VARCHAR(64),
                thread_ts BIGINT,
                reply_count INTEGER NOT NULL DEFAULT 0,
                reply_users {longtext},
                latest_reply BIGINT,
                edited_ts BIGINT,
                edited_user VARCHAR(32),
                PRIMARY KEY (channel_id, ts)
            ){table_opts}""",
            "CREATE INDEX messages_thread ON messages (channel_id, thread_ts, ts)",
            """CREATE TABLE reactions (
                channel_id VARCHAR(32) NOT NULL,
                ts BIGINT NOT NULL,
                name VARCHAR(100) NOT NULL,
                user_id VARCHAR(32) NOT NULL,
                added BIGINT NOT NULL,
                PRIMARY KEY (channel_id, ts, name, user_id)
            ){table_opts}""",
            """CREATE TABLE tokens (
                token_hash VARCHAR(64) NOT NULL PRIMARY KEY,
                team_id VARCHAR(32) NOT NULL,
                user_id VARCHAR(32) NOT NULL,
                created BIGINT NOT NULL,
                revoked {bool} NOT NULL DEFAULT 0
            ){table_opts}""",
            "CREATE INDEX tokens_user ON tokens (team_id, user_id)",
            """CREATE TABLE outbox (
                team_id VARCHAR(32) NOT NULL,
                event_offset BIGINT NOT NULL,
                type VARCHAR(64) NOT NULL,
                payload {longtext} NOT NULL,
                created BIGINT NOT NULL,
                published {bool} NOT NULL DEFAULT 0,
                PRIMARY KEY (team_id, event_offset)
            ){table_opts}""",
            "CREATE INDEX outbox_unpublished ON outbox (published, team_id, event_offset)",
        ],
    ),
    (
        2,
        "message search",
        # SQLite: an external-content FTS5 index over messages.text, keyed by the messages
        # rowid and kept by triggers in the writing transaction; it stores no second copy of
        # the text, and 'rebuild' fills it from the rows already there. The tokenizer must stay
        # origin.search.FTS5_TOKENIZE (a test checks). VACUUM may renumber the implicit rowids
        # of messages: run INSERT INTO messages_fts(messages_fts) VALUES('rebuild') after one.
        # Change messages by INSERT, UPDATE and DELETE only: REPLACE deletes without a trigger.
        # MariaDB: an InnoDB FULLTEXT index, transactional at commit. To rebuild it, use one
        # ALTER (DROP INDEX messages_text, ADD FULLTEXT ...) or OPTIMIZE TABLE: MariaDB 10.11
        # leaves the rows already there out of an index re-added by a separate ALTER.
        # Both: authors (from:) and user names (from:@name, in:@name) get an index.
        {
            "sqlite": [
                "CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='messages', "
                "content_rowid='rowid', tokenize='unicode61 remove_diacritics 2')",
                """CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
                    INSERT INTO messages_fts (rowid, text) VALUES (new.rowid, new.text);
                END""",
                """CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
                    INSERT INTO messages_fts (messages_fts, rowid, text)
                    VALUES ('delete', old.rowid, old.text);
                END""",
                """CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
                    INSERT INTO messages_fts (messages_fts, rowid, text)
                    VALUES ('delete', old.rowid, old.text);
                    INSERT INTO messages_fts (rowid, text) VALUES (new.rowid, new.text);
                END""",
                "INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')",
                "CREATE INDEX messages_user ON messages (user_id, ts)",
                "CREATE INDEX users_name ON users (team_id, name)",
            ],
            "mysql": [
                "ALTER TABLE messages ADD FULLTEXT INDEX messages_text (text)",
                "CREATE INDEX messages_user ON messages (user_id, ts)",
                "CREATE INDEX users_name ON users (team_id, name)",
            ],
        },
    ),
    (
        3,
        "when a token was revoked (snapshots tell edges about recent revocations)",
        [
            "ALTER TABLE tokens ADD COLUMN revoked_at BIGINT",
            "CREATE INDEX tokens_revoked ON tokens (team_id, revoked_at)",
        ],
    ),
    (
        4,
        "client_msg_id: a post sent again after its answer was lost is found, not posted twice",
        # NULL for messages posted without one (both dialects let a unique index hold many
        # NULLs). MariaDB: ASCII with a binary collation, so ids differing in case or trailing
        # spaces stay distinct (the table's default collation is case- and pad-insensitive).
        {
            "sqlite": [
                "ALTER TABLE messages ADD COLUMN client_msg_id VARCHAR(64)",
                "CREATE UNIQUE INDEX messages_client_msg ON messages (team_id, user_id, client_msg_id)",
            ],
            "mysql": [
                "ALTER TABLE messages ADD COLUMN client_msg_id VARCHAR(64) CHARACTER SET ascii "
                "COLLATE ascii_bin NULL",
                "CREATE UNIQUE INDEX messages_client_msg ON messages (team_id, user_id, client_msg_id)",
            ],
        },
    ),
    (
        5,
        "messages as apps post them: blocks, attachments, metadata, parent_user_id; their text searchable",
        # blocks, attachments and metadata are stored as the JSON the poster sent (validated by
        # origin.service.content); extra_text is the searchable text of blocks and attachments
        # (NULL when there is none), indexed with text: FTS5 over both columns (rebuilt, same
        # tokenizer), one MariaDB FULLTEXT over (text, extra_text) replacing the one over text,
        # dropped and re-added in one ALTER so the rows already there are indexed. A reply names
        # the author of its thread's parent (parent_user_id), filled here for replies already
        # stored. reactions_user serves reactions.list.
        {
            "sqlite": [
                "ALTER TABLE messages ADD COLUMN parent_user_id VARCHAR(32)",
                "ALTER TABLE messages ADD COLUMN blocks TEXT",
                "ALTER TABLE messages ADD COLUMN attachments TEXT",
                "ALTER TABLE messages ADD COLUMN metadata TEXT",
                "ALTER TABLE messages ADD COLUMN extra_text TEXT",
                "UPDATE messages SET parent_user_id = (SELECT p.user_id FROM messages p "
                "WHERE p.channel_id = messages.channel_id AND p.ts = messages.thread_ts) "
                "WHERE thread_ts IS NOT NULL AND thread_ts <> ts",
                "DROP TRIGGER messages_fts_insert",
                "DROP TRIGGER messages_fts_delete",
                "DROP TRIGGER messages_fts_update",
                "DROP TABLE messages_fts",
                "CREATE VIRTUAL TABLE messages_fts USING fts5(text, extra_text, content='messages', "
                "content_rowid='rowid', tokenize='unicode61 remove_diacritics 2')",
                """CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
                    INSERT INTO messages_fts (rowid, text, extra_text)
                    VALUES (new.rowid, new.text, new.extra_text);
                END""",
                """CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
                    INSERT INTO messages_fts (messages_fts, rowid, text, extra_text)
                    VALUES ('delete', old.rowid, old.text, old.extra_text);
                END""",
                """CREATE TRIGGER messages_fts_update AFTER UPDATE OF text, extra_text ON messages BEGIN
                    INSERT INTO messages_fts (messages_fts, rowid, text, extra_text)
                    VALUES ('delete', old.rowid, old.text, old.extra_text);
                    INSERT INTO messages_fts (rowid, text, extra_text)
                    VALUES (new.rowid, new.text, new.extra_text);
                END""",
                "INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')",
                "CREATE INDEX reactions_user ON reactions (user_id, added)",
            ],
            "mysql": [
                "ALTER TABLE messages ADD COLUMN parent_user_id VARCHAR(32) NULL, "
                "ADD COLUMN blocks MEDIUMTEXT NULL, ADD COLUMN attachments MEDIUMTEXT NULL, "
                "ADD COLUMN metadata MEDIUMTEXT NULL, ADD COLUMN extra_text MEDIUMTEXT NULL",
                "UPDATE messages m JOIN messages p ON p.channel_id = m.channel_id AND p.ts = m.thread_ts "
                "SET m.parent_user_id = p.user_id WHERE m.thread_ts <> m.ts",
                "ALTER TABLE messages DROP INDEX messages_text, "
                "ADD FULLTEXT INDEX messages_text (text, extra_text)",
                "CREATE INDEX reactions_user ON reactions (user_id, added)",
            ],
        },
    ),
    (
        6,
        "pins, custom emoji, user groups, and DMs a member closed",
        [
            """CREATE TABLE pins (
                channel_id VARCHAR(32) NOT NULL,
                ts BIGINT NOT NULL,
                team_id VARCHAR(32) NOT NULL,
                pinned_by VARCHAR(32) NOT NULL,
                created BIGINT NOT NULL,
                PRIMARY KEY (channel_id, ts)
            ){table_opts}""",
            """CREATE TABLE emoji (
                team_id VARCHAR(32) NOT NULL,
                name VARCHAR(100) NOT NULL,
                value VARCHAR(1000) NOT NULL,
                user_id VARCHAR(32),
                created BIGINT NOT NULL,
                PRIMARY KEY (team_id, name)
            ){table_opts}""",
            """CREATE TABLE usergroups (
                id VARCHAR(32) NOT NULL PRIMARY KEY,
                team_id VARCHAR(32) NOT NULL,
                handle VARCHAR(255) NOT NULL,
                name VARCHAR(255) NOT NULL,
                description {longtext} NOT NULL,
                created_by VARCHAR(32),
                created BIGINT NOT NULL,
                updated BIGINT NOT NULL,
                disabled {bool} NOT NULL DEFAULT 0
            ){table_opts}""",
            "CREATE UNIQUE INDEX usergroups_handle ON usergroups (team_id, handle)",
            """CREATE TABLE usergroup_members (
                usergroup_id VARCHAR(32) NOT NULL,
                user_id VARCHAR(32) NOT NULL,
                PRIMARY KEY (usergroup_id, user_id)
            ){table_opts}""",
            # A DM or group DM a member closed (conversations.close) is hidden from their list
            # of open DMs until they open it again or someone writes in it.
            "ALTER TABLE members ADD COLUMN is_open {bool} NOT NULL DEFAULT 1",
        ],
    ),
    (
        7,
        "import and export: what an imported message carries beyond our columns, and transfer jobs",
        # message_extras keeps the Slack fields of an imported message that have no column
        # (files, bot_id, username, icons, inviter...) as JSON, so an export gives them back.
        # transfer_jobs is every import and export job, whichever runner runs it (see
        # origin.transfer.jobs): its state, progress (done / total) and its report.
        [
            """CREATE TABLE message_extras (
                channel_id VARCHAR(32) NOT NULL,
                ts BIGINT NOT NULL,
                team_id VARCHAR(32) NOT NULL,
                payload {longtext} NOT NULL,
                PRIMARY KEY (channel_id, ts)
            ){table_opts}""",
            """CREATE TABLE transfer_jobs (
                id VARCHAR(40) NOT NULL PRIMARY KEY,
                team_id VARCHAR(32) NOT NULL,
                kind VARCHAR(16) NOT NULL,
                state VARCHAR(16) NOT NULL,
                done BIGINT NOT NULL DEFAULT 0,
                total BIGINT NOT NULL DEFAULT 0,
                params {longtext} NOT NULL,
                result {longtext},
                error VARCHAR(255),
                created BIGINT NOT NULL,
                updated BIGINT NOT NULL
            ){table_opts}""",
            "CREATE INDEX transfer_jobs_team ON transfer_jobs (team_id, created)",
        ],
    ),
    (
        8,
        "notification preferences and do-not-disturb",
        # One row per user who changed a default: the wire.notifyprefs object as JSON, and the
        # DND state that is not a preference: a snooze (dnd.setSnooze) and the end of the
        # scheduled window that dnd.endDnd ended early (Unix seconds, 0 when none).
        [
            """CREATE TABLE notification_prefs (
                user_id VARCHAR(32) NOT NULL PRIMARY KEY,
                team_id VARCHAR(32) NOT NULL,
                prefs {longtext} NOT NULL,
                snooze_until BIGINT NOT NULL DEFAULT 0,
                dnd_ended_until BIGINT NOT NULL DEFAULT 0,
                updated BIGINT NOT NULL
            ){table_opts}""",
            "CREATE INDEX notification_prefs_team ON notification_prefs (team_id, user_id)",
        ],
    ),
    (
        9,
        "files: uploads, their bytes' key in the blob store, and where each is shared",
        # A file's state: pending (upload URL issued) -> receiving (the URL was used: never
        # again) -> stored (bytes complete) -> complete (shared by completeUploadExternal, or
        # kept unshared); or failed. Rows not complete by ``expires`` (µs) are swept with their
        # bytes. blob_key is the SHA-256 of the bytes (origin.files.storage: content-addressed);
        # thumbs holds the thumbnails' keys and sizes as JSON. declared is the length announced
        # (reserved against the workspace's quota until the bytes arrive). One file_shares row
        # per message that shares the file (channel, ts).
        [
            """CREATE TABLE files (
                id VARCHAR(32) NOT NULL PRIMARY KEY,
                team_id VARCHAR(32) NOT NULL,
                user_id VARCHAR(32) NOT NULL,
                name VARCHAR(255) NOT NULL,
                title VARCHAR(255) NOT NULL,
                mimetype VARCHAR(255) NOT NULL,
                filetype VARCHAR(32) NOT NULL,
                size BIGINT NOT NULL DEFAULT 0,
                declared BIGINT NOT NULL DEFAULT 0,
                blob_key VARCHAR(64),
                state VARCHAR(16) NOT NULL,
                created BIGINT NOT NULL,
                expires BIGINT,
                thumbs {longtext},
                alt_txt {longtext}
            ){table_opts}""",
            "CREATE INDEX files_team ON files (team_id, state, created)",
            "CREATE INDEX files_user ON files (team_id, user_id, created)",
            "CREATE INDEX files_blob ON files (blob_key)",
            "CREATE INDEX files_expires ON files (state, expires)",
            """CREATE TABLE file_shares (
                file_id VARCHAR(32) NOT NULL,
                channel_id VARCHAR(32) NOT NULL,
                ts BIGINT NOT NULL,
                team_id VARCHAR(32) NOT NULL,
                PRIMARY KEY (file_id, channel_id, ts)
            ){table_opts}""",
            "CREATE INDEX file_shares_channel ON file_shares (channel_id, file_id)",
        ],
    ),
    (
        10,
        "manual presence (users.setPresence away)",
        # The one part of presence that is stored: manual away persists across connections and
        # restarts. Everything else about presence is ephemeral (edges, never the change log).
        [
            """CREATE TABLE user_presence (
                user_id VARCHAR(32) NOT NULL PRIMARY KEY,
                team_id VARCHAR(32) NOT NULL,
                manual_away {bool} NOT NULL DEFAULT 0,
                updated BIGINT NOT NULL
            ){table_opts}""",
        ],
    ),
    (
        11,
        "browser sign-in: passwords and one-time sign-in links",
        # Used on the directory shard only (a person signs in before anyone knows their
        # workspace): an email's argon2 hash per workspace user, and one-time links stored by
        # the SHA-256 of their secret. A signed-in browser holds an ordinary user token.
        [
            """CREATE TABLE signin_passwords (
                email VARCHAR(255) NOT NULL,
                team_id VARCHAR(32) NOT NULL,
                user_id VARCHAR(32) NOT NULL,
                password_hash VARCHAR(255) NOT NULL,
                updated BIGINT NOT NULL,
                PRIMARY KEY (email, team_id)
            ){table_opts}""",
            """CREATE TABLE signin_links (
                link_hash VARCHAR(64) NOT NULL PRIMARY KEY,
                team_id VARCHAR(32) NOT NULL,
                user_id VARCHAR(32) NOT NULL,
                expires BIGINT NOT NULL,
                used {bool} NOT NULL DEFAULT 0
            ){table_opts}""",
        ],
    ),
    (
        12,
        "the MariaDB FULLTEXT index only where the database search engine answers",
        # Search runs on tantivy by default (origin.search), fed from the change log: there the
        # InnoDB FULLTEXT index over messages is never read, and maintaining it was a cost on
        # every write (a sixth of the database's work in an import, more in large ones). Dropped
        # here and added back by `ensure_search_index`, which the database engine runs before
        # it answers (the origin with --search-engine database at startup; the service's
        # database plans before their first query on a shard). SQLite's FTS5 tables stay.
        {"sqlite": [], "mysql": ["ALTER TABLE messages DROP INDEX messages_text"]},
    ),
]

#: The MariaDB index the database search engine's plans need (``MATCH(text, extra_text)``).
#: Built by copying the table: MariaDB 10.11's in-place build, on a table whose FULLTEXT index
#: was dropped in place (migration 12), leaves the rows already there out of it.
MYSQL_SEARCH_INDEX = (
    "ALTER TABLE messages ADD FULLTEXT INDEX messages_text (text, extra_text), ALGORITHM=COPY"
)
_HAS_SEARCH_INDEX = (
    "SELECT COUNT(*) FROM information_schema.STATISTICS "
    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'messages' AND INDEX_NAME = 'messages_text'"
)
_search_indexed: weakref.WeakSet[Database] = weakref.WeakSet()


async def has_search_index(db: Database) -> bool:
    """Whether ``db`` has the full-text index the database search engine reads (SQLite: always)."""
    if db.dialect != "mysql":
        return True
    async with db.read() as conn:
        row = await conn.fetchone(_HAS_SEARCH_INDEX)
    return bool(row and row[0])


async def ensure_search_index(db: Database) -> bool:
    """Make sure ``db`` has the database search engine's full-text index; True when it was
    added now. Adding it to a table of many messages takes a while and blocks the table's
    writes meanwhile (InnoDB builds a FULLTEXT index with a shared lock): the origin does it
    at startup with ``--search-engine database``. Cheap once done (remembered per database);
    concurrent callers (tasks, processes) may race: the losers find the index there."""
    if db in _search_indexed:
        return False
    added = False
    if not await has_search_index(db):
        try:
            async with db.read() as conn:
                await conn.execute(MYSQL_SEARCH_INDEX)
            added = True
        except Exception:
            if not await has_search_index(db):  # not a concurrent add (a duplicate): a failure
                raise
    _search_indexed.add(db)
    return added


def statements(dialect: str, sql_list: Statements) -> list[str]:
    if isinstance(sql_list, dict):
        sql_list = sql_list[dialect]
    return [s.format(**_TYPES[dialect]) for s in sql_list]


async def migrate(db: Database) -> list[int]:
    """Bring ``db`` up to the newest schema; return the versions applied now."""
    async with db.transaction() as conn:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, "
            "applied BIGINT NOT NULL)"
        )
    applied: list[int] = []
    for version, name, sql_list in MIGRATIONS:
        async with db.transaction() as conn:
            # The lock row makes concurrent migrators (several origin processes) take turns.
            row = await conn.fetchone(
                "SELECT version FROM schema_migrations WHERE version = ?" + db.for_update(),
                [version],
            )
            if row is not None:
                continue
            for stmt in statements(db.dialect, sql_list):
                await conn.execute(stmt)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)",
                [version, name, int(time.time())],
            )
            applied.append(version)
    return applied
