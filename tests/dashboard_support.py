"""A small HTTP and server-sent-events client for the dashboard tests (real sockets, stdlib only)."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import orjson

__all__ = ("EventStream", "get", "open_events")


def get(port: int, path: str, headers: Mapping[str, str] | None = None,
        method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection: (status, lower-cased headers, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, headers=dict(headers or {}))
        response = connection.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()


class EventStream:
    """`/dashboard/api/events`, read event by event."""

    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.response = response

    def next(self) -> tuple[str, Any]:
        """The next event (name, decoded data); keep-alive comments are skipped."""
        name, data = "message", b""
        while True:
            line = self.response.readline()
            if not line:
                raise EOFError("the dashboard closed the event stream")
            line = line.rstrip(b"\r\n")
            if not line:
                if data:
                    return name, orjson.loads(data)
                name = "message"
                continue
            if line.startswith(b":"):
                continue
            field, _, value = line.partition(b":")
            value = value.removeprefix(b" ")
            if field == b"event":
                name = value.decode()
            elif field == b"data":
                data += value

    def until(self, want: str, matches: Any = lambda data: True, *, timeout: float = 20) -> Any:
        """Read events until one named `want` whose data `matches`; fail after `timeout` s."""
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while time.monotonic() < deadline:
            name, data = self.next()
            seen.append(name)
            if name == want and matches(data):
                return data
        raise AssertionError(f"no matching {want!r} event within {timeout} s; saw {seen}")


@contextmanager
def open_events(port: int, headers: Mapping[str, str] | None = None) -> Iterator[tuple[int, EventStream]]:
    """The event stream's status and reader; the connection closes on leaving."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.request("GET", "/dashboard/api/events", headers=dict(headers or {}))
        response = connection.getresponse()
        yield response.status, EventStream(response)
    finally:
        connection.close()
