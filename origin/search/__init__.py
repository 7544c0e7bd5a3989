"""Message search, the pure part: Slack's query language, engine match strings, highlighting.

The store runs the filters and the match expression; this package never touches a database.
"""

from origin.search.fts import (
    FTS5_TOKENIZE,
    INNODB_STOPWORDS,
    MysqlMatch,
    matches,
    to_fts5,
    to_mysql,
)
from origin.search.highlight import HIGHLIGHT_END, HIGHLIGHT_START, highlight
from origin.search.query import FROM_ME, SearchQuery, SearchQueryError, parse

__all__ = [
    "FROM_ME",
    "FTS5_TOKENIZE",
    "HIGHLIGHT_END",
    "HIGHLIGHT_START",
    "INNODB_STOPWORDS",
    "MysqlMatch",
    "SearchQuery",
    "SearchQueryError",
    "highlight",
    "matches",
    "parse",
    "to_fts5",
    "to_mysql",
]
