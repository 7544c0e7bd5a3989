"""Typed access to a method's arguments, each failure an ``invalid_arguments`` naming the
argument and why.

Arguments arrive as query strings, form fields or JSON values, so a number may be ``5`` or
``"5"`` and a boolean ``true``, ``"true"`` or ``"1"``; anything else is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from wire.errors import SlackError, invalid_arguments
from wire.ids import parse_ts

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class Args:
    """A method's arguments, read with the type each method expects.

    Methods never touch the raw mapping: every read says its type, default and bounds, so a
    wrong value is refused the same way by every method, at the origin and at the edge (over
    HTTP and over the WebSocket alike), with an error that names the argument.
    """

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = dict(values)

    def __contains__(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def string(self, name: str, default: str | None = None, max_len: int = 100_000) -> str:
        value = self.values.get(name)
        if value is None or value == "":
            if default is None:
                raise invalid_arguments(name, "is required")
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise invalid_arguments(name, "must be a string")
        text = str(value)
        if len(text) > max_len:
            raise invalid_arguments(name, f"is longer than {max_len} characters")
        return text

    def opt_string(self, name: str) -> str | None:
        return self.string(name) if name in self else None

    def id(self, name: str, error: str) -> str:
        """An object id; a malformed one is simply not found (``error``)."""
        value = self.string(name)
        if not value.isalnum() or len(value) > 32:
            raise SlackError(error)
        return value

    def integer(self, name: str, default: int, lo: int, hi: int, error: str | None = None) -> int:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        try:
            if isinstance(value, bool) or isinstance(value, float):
                raise ValueError
            number = int(value)
        except (TypeError, ValueError):
            raise (SlackError(error) if error else invalid_arguments(name, "must be an integer")) from None
        if not lo <= number <= hi:
            if error:
                raise SlackError(error, f"{name} must be between {lo} and {hi}")
            raise invalid_arguments(name, f"must be between {lo} and {hi}")
        return number

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise invalid_arguments(name, "must be true or false")

    def ts(self, name: str, default: int | None = None, error: str | None = None) -> int:
        value = self.values.get(name)
        if value is None or value == "":
            if default is None:
                raise invalid_arguments(name, "is required")
            return default
        try:
            return parse_ts(str(value)) if isinstance(value, str | int | float) else _bad()
        except ValueError:
            if error:
                raise SlackError(error) from None
            raise invalid_arguments(name, "must be a Slack timestamp like 1700000000.000100") from None

    def opt_ts(self, name: str) -> int | None:
        return self.ts(name) if name in self else None

    def items(self, name: str, max_items: int = 1000) -> list[str]:
        """A comma-separated list (or a JSON array) of strings."""
        value = self.values.get(name)
        if value is None or value == "":
            raise invalid_arguments(name, "is required")
        items = value if isinstance(value, list) else str(value).split(",")
        if isinstance(value, str) and "" not in items and value.replace(",", "").isalnum():
            out = items  # ids and commas only: nothing to strip, no blank item (the usual case)
        else:
            out = [str(i).strip() for i in items if isinstance(i, str) and i.strip()]
        if len(out) != len(items) or not out:
            raise invalid_arguments(name, "must be a comma-separated list of ids")
        if len(out) > max_items:
            raise invalid_arguments(name, f"at most {max_items} items")
        return out

    def obj(self, name: str) -> dict[str, Any] | None:
        """A JSON object given as an object or as a JSON-encoded string."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError:
                raise invalid_arguments(name, "must be a JSON object") from None
        if not isinstance(value, dict):
            raise invalid_arguments(name, "must be a JSON object")
        return value


def _bad() -> int:
    raise ValueError("not a timestamp")
