"""Slack's HTTP conventions, as pure functions every part's adapter calls.

A request's arguments come from the query string and, for POST, a form
(``application/x-www-form-urlencoded`` or ``multipart/form-data``) or a JSON object (a
parameterless POST may arrive as ``application/json`` with an empty body). The token comes as
``Authorization: Bearer`` or as a ``token`` argument. Answers are ``{"ok": true, ...}`` or
``{"ok": false, "error": code}``, with HTTP 200 for every Slack error and 429 with
``Retry-After`` for rate limits, as Slack does: SDKs treat any other status as a transport
failure and retry it.

Malformed input is a Slack error, never a crash: a body over the limit is
``request_too_large``, more than :data:`MAX_FIELDS` fields or an unparsable form is
``invalid_form_data``, bad JSON is ``invalid_json``.
"""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import AsyncIterable, Mapping
from typing import Any
from urllib.parse import unquote, unquote_to_bytes

import orjson

from wire.errors import SlackError

MAX_BODY = 1_000_000
MAX_FIELDS = 1000
#: A service (an edge) proves itself to the origin with the shared secret in this header...
SERVICE_HEADER = "x-flannel-service-secret"
#: ... and names the ``TEAM:USER`` it acts for in this one.
ACTING_HEADER = "x-flannel-as-user"
JSON_TYPE = "application/json"
#: On a write's answer: the change-log offset it committed (origin -> edge -> router -> client).
OFFSET_HEADER = "x-flannel-offset"
#: On a call: answer it only from a copy that has applied this offset (read-your-writes).
AFTER_HEADER = "x-flannel-after"


async def read_body(chunks: AsyncIterable[bytes], limit: int = MAX_BODY) -> bytes:
    """The request body, refused as ``request_too_large`` as soon as it passes ``limit`` (so a
    huge body is never held in memory)."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise SlackError("request_too_large", f"bodies are at most {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def _unquote(part: str) -> str:
    """``urllib.parse.unquote(part)`` (UTF-8, errors replaced), with its common cases short."""
    if "%" not in part:
        return part
    commas = part.replace("%2C", ",")  # a list of ids (``users=U1,U2``): commas its only escape
    if "%" not in commas:
        return commas
    if part.isascii():  # unquote decodes each ASCII run this way; here the run is all of it
        return unquote_to_bytes(part).decode("utf-8", "replace")
    return unquote(part)


def form_pairs(text: str, max_fields: int = MAX_FIELDS) -> dict[str, str]:
    """``dict(parse_qsl(text, keep_blank_values=True, max_num_fields=max_fields))``, the same
    answer for every input (``ValueError`` past ``max_fields``), without its per-field
    generality: a field with no ``+`` or ``%`` is split and kept as it is. ``%2C`` is
    replaced in the whole text first: its ``,`` is no separator, and no escape starts or ends
    inside it, so every field decodes as it would alone."""
    if not text:
        return {}
    if max_fields < 1 + text.count("&"):
        raise ValueError("Max number of fields exceeded")
    if "%2C" in text:  # a list of ids' commas, decoded at once (a "," splits no field)
        text = text.replace("%2C", ",")
    out: dict[str, str] = {}
    if "%" not in text and "+" not in text:  # nothing to decode in any field
        for field in text.split("&"):
            if field:
                name, _, value = field.partition("=")
                out[name] = value
        return out
    for field in text.split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        if "+" in name:
            name = name.replace("+", " ")
        if "%" in name:
            name = _unquote(name)
        if "+" in value:
            value = value.replace("+", " ")
        if "%" in value:
            value = _unquote(value)
        out[name] = value
    return out


def parse_query(query: str | bytes, max_fields: int = MAX_FIELDS) -> dict[str, Any]:
    """A query string or urlencoded form; a repeated name keeps its last value."""
    text = query.decode("latin-1") if isinstance(query, bytes) else query
    try:
        return form_pairs(text, max_fields)
    except ValueError:
        raise SlackError("invalid_form_data", f"at most {max_fields} fields") from None


def _parse_multipart(content_type: str, body: bytes, max_fields: int) -> dict[str, Any]:
    if "boundary=" not in content_type.lower():
        raise SlackError("invalid_form_data", "multipart body without a boundary")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart() or message.defects:
        raise SlackError("invalid_form_data", "malformed multipart body")
    values: dict[str, Any] = {}
    parts = message.get_payload()
    if not isinstance(parts, list) or len(parts) > max_fields:
        raise SlackError("invalid_form_data", f"at most {max_fields} fields")
    for part in parts:
        if isinstance(part, str):
            continue
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.get_filename() is not None:
            continue  # a file part: not an argument
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        charset = part.get_content_charset() or "utf-8"
        try:
            values[name] = payload.decode(charset)
        except (LookupError, ValueError):
            raise SlackError("invalid_form_data", f"field {name!r} is not {charset} text") from None
    return values


def parse_args(
    method: str,
    query: str | bytes,
    content_type: str,
    body: bytes,
    max_body: int = MAX_BODY,
    max_fields: int = MAX_FIELDS,
) -> dict[str, Any]:
    """All arguments of one request: the query string, then the body's fields over it."""
    values = parse_query(query, max_fields)
    if method != "POST":
        return values
    if len(body) > max_body:
        raise SlackError("request_too_large", f"bodies are at most {max_body} bytes")
    ctype = content_type.split(";")[0].strip().lower()
    if ctype == JSON_TYPE:
        if body.strip():
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise SlackError("invalid_json", f"malformed JSON body: {exc}") from None
            if not isinstance(data, dict):
                raise SlackError("invalid_json", "the JSON body must be an object")
            if len(data) > max_fields:
                raise SlackError("invalid_form_data", f"at most {max_fields} fields")
            values.update(data)
    elif ctype == "application/x-www-form-urlencoded":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise SlackError("invalid_form_data", "the form is not UTF-8") from None
        values.update(parse_query(text, max_fields))
    elif ctype == "multipart/form-data":
        values.update(_parse_multipart(content_type, body, max_fields))
    elif body.strip():
        raise SlackError("invalid_form_data", f"unsupported content type {ctype!r}")
    return values


def bearer(authorization: str | None, values: dict[str, Any]) -> str | None:
    """The token: ``Authorization: Bearer`` first, else a ``token`` argument (removed from
    ``values`` so that it never reaches a method or a log)."""
    token = values.pop("token", None)
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    return token if isinstance(token, str) and token else None


def ok_body(result: Mapping[str, Any]) -> bytes:
    return orjson.dumps({"ok": True, **result})


def error_body(exc: SlackError) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error": exc.code}
    if exc.detail:
        body["detail"] = exc.detail
        body["response_metadata"] = {"messages": [f"[ERROR] {exc.detail}"]}
    return body


def error_answer(exc: SlackError) -> tuple[bytes, int, dict[str, str]]:
    """Body, status and headers of a Slack error answer: 200, or 429 with ``Retry-After``."""
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else {}
    return orjson.dumps(error_body(exc)), exc.status, headers


INTERNAL_ERROR = orjson.dumps({"ok": False, "error": "internal_error"})
