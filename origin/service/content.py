"""What a message carries besides its text: Block Kit ``blocks``, legacy ``attachments`` and
app ``metadata``; validated, stored as JSON, and their text made searchable.

Apps send them as JSON values (a JSON body) or as JSON-encoded strings (a form), as Slack takes
them. Validation checks what the origin relies on, not all of Block Kit: the shape (a list of
objects, each block with a string ``type``), the counts (Slack's 50 blocks and 100
attachments) and the encoded size; anything else is refused with Slack's ``invalid_blocks`` /
``invalid_attachments`` / ``invalid_metadata`` and a detail saying why, and nothing is stored.

The searchable text (:func:`searchable_text`) is what a reader sees: the text of section,
header, context and markdown blocks, rich-text elements, and an attachment's pretext, title,
text, fallback, fields and blocks. It is indexed with the message's text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from wire.args import Args
from wire.errors import SlackError

JSON = dict[str, Any]

MAX_BLOCKS = 50
MAX_ATTACHMENTS = 100
MAX_JSON_CHARS = 200_000
"""Per field, as JSON: 50 sections of Slack's longest section text (3,000 characters) fit."""
MAX_METADATA_CHARS = 16_000
MAX_TYPE_CHARS = 255
_ATTACHMENT_TEXT = ("pretext", "author_name", "title", "text", "fallback", "footer")
_ATTACHMENT_STRINGS = (*_ATTACHMENT_TEXT, "title_link", "color", "image_url", "thumb_url", "footer_icon")


@dataclass(frozen=True, slots=True)
class Content:
    """A message's blocks, attachments and metadata (None: not given)."""

    blocks: list[JSON] | None = None
    attachments: list[JSON] | None = None
    metadata: JSON | None = None

    @property
    def has_body(self) -> bool:
        """Whether blocks or attachments say something, so a message needs no text."""
        return bool(self.blocks) or bool(self.attachments)

    def columns(self) -> tuple[str | None, str | None, str | None, str | None]:
        """(blocks, attachments, metadata, extra_text) as stored: JSON text, NULL when empty."""
        return (
            _dump(self.blocks) if self.blocks else None,
            _dump(self.attachments) if self.attachments else None,
            _dump(self.metadata) if self.metadata else None,
            searchable_text(self.blocks or [], self.attachments or []) or None,
        )

    def over(self, old: Content) -> Content:
        """This update over the message's ``old`` content: what is not given is kept (Slack's
        chat.update: an empty list removes blocks or attachments)."""
        return Content(
            old.blocks if self.blocks is None else self.blocks,
            old.attachments if self.attachments is None else self.attachments,
            old.metadata if self.metadata is None else self.metadata,
        )


def _dump(value: Any) -> str:
    return orjson.dumps(value).decode()


def _decode(value: Any, error: str) -> Any:
    """A JSON value given as itself or as a JSON-encoded string (a form field)."""
    if isinstance(value, str | bytes):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            raise SlackError(error, "is not valid JSON") from None
    return value


def _size(value: Any, error: str, limit: int) -> None:
    if len(_dump(value)) > limit:
        raise SlackError(error, f"is longer than {limit} characters of JSON")


def parse_blocks(value: Any) -> list[JSON] | None:
    """``blocks``: a list of at most 50 objects, each with a string ``type``."""
    if value is None or value == "":
        return None
    blocks = _decode(value, "invalid_blocks")
    if not isinstance(blocks, list):
        raise SlackError("invalid_blocks", "must be a JSON array of blocks")
    if len(blocks) > MAX_BLOCKS:
        raise SlackError("invalid_blocks", f"at most {MAX_BLOCKS} blocks")
    for i, block in enumerate(blocks):
        _check_block(block, f"blocks[{i}]", "invalid_blocks")
    _size(blocks, "invalid_blocks", MAX_JSON_CHARS)
    return blocks


def _check_block(block: Any, where: str, error: str) -> None:
    if not isinstance(block, dict):
        raise SlackError(error, f"{where} must be an object")
    kind = block.get("type")
    if not isinstance(kind, str) or not kind or len(kind) > MAX_TYPE_CHARS:
        raise SlackError(error, f"{where}.type must be a non-empty string")
    block_id = block.get("block_id")
    if block_id is not None and (not isinstance(block_id, str) or len(block_id) > MAX_TYPE_CHARS):
        raise SlackError(error, f"{where}.block_id must be a string of at most {MAX_TYPE_CHARS} characters")


def parse_attachments(value: Any) -> list[JSON] | None:
    """``attachments``: a list of at most 100 objects whose text fields are strings."""
    if value is None or value == "":
        return None
    attachments = _decode(value, "invalid_attachments")
    if not isinstance(attachments, list):
        raise SlackError("invalid_attachments", "must be a JSON array of attachments")
    if len(attachments) > MAX_ATTACHMENTS:
        raise SlackError("invalid_attachments", f"at most {MAX_ATTACHMENTS} attachments")
    for i, attachment in enumerate(attachments):
        _check_attachment(attachment, f"attachments[{i}]")
    _size(attachments, "invalid_attachments", MAX_JSON_CHARS)
    return attachments


def _check_attachment(attachment: Any, where: str) -> None:
    error = "invalid_attachments"
    if not isinstance(attachment, dict):
        raise SlackError(error, f"{where} must be an object")
    for key in _ATTACHMENT_STRINGS:
        if key in attachment and not isinstance(attachment[key], str):
            raise SlackError(error, f"{where}.{key} must be a string")
    fields = attachment.get("fields")
    if fields is not None:
        if not isinstance(fields, list):
            raise SlackError(error, f"{where}.fields must be an array")
        for j, item in enumerate(fields):
            if not isinstance(item, dict) or not all(
                isinstance(item.get(k, ""), str) for k in ("title", "value")
            ):
                raise SlackError(error, f"{where}.fields[{j}] must be an object with string title and value")
    blocks = attachment.get("blocks")
    if blocks is not None:
        if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
            raise SlackError(error, f"{where}.blocks must be an array of at most {MAX_BLOCKS} blocks")
        for j, block in enumerate(blocks):
            _check_block(block, f"{where}.blocks[{j}]", error)


def parse_metadata(value: Any) -> JSON | None:
    """``metadata``: ``{"event_type": str, "event_payload": object}``, as Slack's message metadata."""
    if value is None or value == "":
        return None
    metadata = _decode(value, "invalid_metadata")
    if not isinstance(metadata, dict) or set(metadata) - {"event_type", "event_payload"}:
        raise SlackError("invalid_metadata", "must be an object with event_type and event_payload")
    kind = metadata.get("event_type")
    if not isinstance(kind, str) or not kind or len(kind) > MAX_TYPE_CHARS:
        raise SlackError("invalid_metadata", "event_type must be a non-empty string")
    if not isinstance(metadata.get("event_payload"), dict):
        raise SlackError("invalid_metadata", "event_payload must be an object")
    _size(metadata, "invalid_metadata", MAX_METADATA_CHARS)
    return metadata


def from_row(blocks: Any, attachments: Any, metadata: Any) -> Content:
    """The stored columns back as a :class:`Content`."""
    return Content(
        orjson.loads(blocks) if blocks else None,
        orjson.loads(attachments) if attachments else None,
        orjson.loads(metadata) if metadata else None,
    )


# -- searchable text -------------------------------------------------------------------------


def searchable_text(blocks: list[JSON], attachments: list[JSON]) -> str:
    """The words a reader sees in ``blocks`` and ``attachments``, one line per piece."""
    parts = list(_blocks_text(blocks))
    for attachment in attachments:
        parts += [attachment[k] for k in _ATTACHMENT_TEXT if isinstance(attachment.get(k), str)]
        for item in attachment.get("fields") or ():
            if isinstance(item, dict):
                parts += [item[k] for k in ("title", "value") if isinstance(item.get(k), str)]
        parts += _blocks_text(attachment.get("blocks") or [])
    return "\n".join(p for p in parts if p.strip())


def _text_object(value: Any) -> Iterator[str]:
    """A composition text object (``{"type": "mrkdwn", "text": ...}``)'s text."""
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        yield value["text"]


def _blocks_text(blocks: Any) -> Iterator[str]:
    if not isinstance(blocks, list):
        return
    for block in blocks:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind in ("section", "header"):
            yield from _text_object(block.get("text"))
            for field in block.get("fields") or ():
                yield from _text_object(field)
        elif kind == "context":
            for element in block.get("elements") or ():
                yield from _text_object(element)
        elif kind == "markdown" and isinstance(block.get("text"), str):
            yield block["text"]
        elif kind == "rich_text":
            yield from _rich_text(block.get("elements"))


def _rich_text(elements: Any) -> Iterator[str]:
    """Rich text's sections, lists, quotes and preformatted runs, one string each: the runs of
    a section are joined as written (a styled run may be part of a word); a link is its label
    and its URL (as a link in a message's text is, so ``has:link`` finds it)."""
    if not isinstance(elements, list):
        return
    inline: list[str] = []
    for element in elements:
        if not isinstance(element, dict):
            continue
        kind = element.get("type")
        if kind == "text" and isinstance(element.get("text"), str):
            inline.append(element["text"])
        elif kind == "link":
            label, url = element.get("text"), element.get("url")
            words = [w for w in (label, url) if isinstance(w, str) and w]
            inline.append(" ".join(words))
        elif isinstance(element.get("elements"), list):
            yield "".join(inline)
            inline = []
            yield from _rich_text(element["elements"])
    yield "".join(inline)


def from_args(args: Args) -> Content:
    """The ``blocks``, ``attachments`` and ``metadata`` arguments of a post or an update."""
    return Content(
        parse_blocks(args.values.get("blocks")),
        parse_attachments(args.values.get("attachments")),
        parse_metadata(args.values.get("metadata")),
    )
