"""Request bodies as streams: a multipart form read part by part without holding a file
part in memory, and a guard that holds a body to the length it declared."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header

from wire.errors import SlackError

MAX_FIELD = 64 * 1024
MAX_PARTS = 100


class LengthMismatch(Exception):
    """The body was longer or shorter than the length declared for it."""


async def exactly(chunks: AsyncIterable[bytes], length: int) -> AsyncIterator[bytes]:
    """``chunks``, failing with LengthMismatch as soon as they pass ``length`` or end short."""
    seen = 0
    async for chunk in chunks:
        seen += len(chunk)
        if seen > length:
            raise LengthMismatch(f"more than the declared {length} bytes")
        yield chunk
    if seen != length:
        raise LengthMismatch(f"{seen} bytes, not the declared {length}")


def boundary_of(content_type: str) -> bytes | None:
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data":
        return None
    boundary = options.get(b"boundary")
    return boundary or None


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


class MultipartReader:
    """``async for part in reader.parts()``: each part's headers; read a file part's bytes with
    ``reader.data()`` (streamed) or a field's with ``await reader.text()``. The bytes of a part
    that is not read are skipped."""

    def __init__(self, chunks: AsyncIterable[bytes], boundary: bytes) -> None:
        self._chunks = chunks.__aiter__()
        self._events: list[tuple[str, object]] = []
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[str, str] = {}
        self._done = False
        self._in_part = False
        self._count = 0

        def on_header_field(data: bytes, start: int, end: int) -> None:
            self._header_field += data[start:end]

        def on_header_value(data: bytes, start: int, end: int) -> None:
            self._header_value += data[start:end]

        def on_header_end() -> None:
            self._headers[self._header_field.decode("latin-1").lower()] = self._header_value.decode(
                "utf-8", "replace"
            )
            self._header_field, self._header_value = b"", b""

        def on_headers_finished() -> None:
            self._events.append(("part", self._headers))
            self._headers = {}

        def on_part_data(data: bytes, start: int, end: int) -> None:
            self._events.append(("data", bytes(data[start:end])))

        def on_part_end() -> None:
            self._events.append(("end", None))

        def on_end() -> None:
            self._done = True

        self._parser = MultipartParser(
            boundary,
            {
                "on_header_field": on_header_field,
                "on_header_value": on_header_value,
                "on_header_end": on_header_end,
                "on_headers_finished": on_headers_finished,
                "on_part_data": on_part_data,
                "on_part_end": on_part_end,
                "on_end": on_end,
            },
        )

    async def _next_event(self) -> tuple[str, object] | None:
        while not self._events:
            try:
                chunk = await self._chunks.__anext__()
            except StopAsyncIteration:
                if not self._done:
                    raise SlackError("invalid_form_data", "the multipart body ended early") from None
                return None
            try:
                self._parser.write(chunk)
            except Exception as exc:
                raise SlackError("invalid_form_data", f"malformed multipart body: {exc}") from None
        return self._events.pop(0)

    async def parts(self) -> AsyncIterator[Part]:
        while True:
            if self._in_part:  # the caller did not read it: skip its bytes
                async for _ in self.data():
                    pass
            event = await self._next_event()
            if event is None:
                return
            kind, value = event
            if kind != "part":
                continue
            self._count += 1
            if self._count > MAX_PARTS:
                raise SlackError("invalid_form_data", f"at most {MAX_PARTS} parts")
            headers = value if isinstance(value, dict) else {}
            _, options = parse_options_header(headers.get("content-disposition", ""))
            name = options.get(b"name", b"").decode("utf-8", "replace")
            filename = options.get(b"filename")
            self._in_part = True
            yield Part(
                name,
                None if filename is None else filename.decode("utf-8", "replace"),
                headers.get("content-type", "application/octet-stream"),
                headers,
            )

    async def data(self) -> AsyncIterator[bytes]:
        """The current part's bytes, streamed."""
        while self._in_part:
            event = await self._next_event()
            if event is None:
                raise SlackError("invalid_form_data", "the multipart body ended inside a part")
            kind, value = event
            if kind == "end":
                self._in_part = False
            elif kind == "data" and isinstance(value, bytes) and value:
                yield value

    async def text(self) -> str:
        """The current part as a (small) text field."""
        parts: list[bytes] = []
        size = 0
        async for chunk in self.data():
            size += len(chunk)
            if size > MAX_FIELD:
                raise SlackError("invalid_form_data", f"a field is at most {MAX_FIELD} bytes")
            parts.append(chunk)
        try:
            return b"".join(parts).decode("utf-8")
        except UnicodeDecodeError:
            raise SlackError("invalid_form_data", "a field is not UTF-8") from None
