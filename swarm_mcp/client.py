"""A small synchronous MCP client for scripts, tests and benchmarks.

Four wire forms: a server subprocess over stdio, a TCP socket or the data dir's Unix socket speaking
JSON-RPC lines (sending the token first when given), and Streamable HTTP over one keep-alive socket (hand-rolled HTTP/1.1, so it costs far less per call
than the SDK's client and benchmarks measure the server, not the client). Not for production
use by other programs: it trusts the server's framing.
"""

from __future__ import annotations

import io
import itertools
import socket
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import suppress
from typing import Any, BinaryIO

import orjson

__all__ = ("HttpClient", "LineClient", "McpError", "initialize_params", "modern_meta")

HANDSHAKE_VERSION = "2025-06-18"


class McpError(Exception):
    def __init__(self, error: Mapping[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.error = dict(error)
        self.code = error.get("code")


def initialize_params(version: str = HANDSHAKE_VERSION) -> dict[str, Any]:
    return {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "swarm-mcp-client", "version": "1"}}


def modern_meta(version: str = "2026-07-28") -> dict[str, Any]:
    return {
        "io.modelcontextprotocol/protocolVersion": version,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "swarm-mcp-client", "version": "1"},
    }


class _Mcp:
    """The MCP calls both wire forms share, on top of their `request` and `notify`."""

    protocol_version: str | None = None

    def request(self, method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        raise NotImplementedError

    def notify(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        raise NotImplementedError

    def initialize(self, version: str = HANDSHAKE_VERSION) -> dict[str, Any]:
        result = self.request("initialize", initialize_params(version))
        self.protocol_version = result["protocolVersion"]
        self.notify("notifications/initialized")
        return result

    def call_tool(self, name: str, arguments: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self.request("tools/call", {"name": name, "arguments": dict(arguments or {})})


class LineClient(_Mcp):
    """JSON-RPC lines over a pair of byte streams: a subprocess's pipes or a TCP socket."""

    def __init__(self, reader: BinaryIO, writer: BinaryIO, *, process: subprocess.Popen[bytes] | None = None,
                 sock: socket.socket | None = None) -> None:
        self.reader = reader
        self.writer = writer
        self.process = process
        self.sock = sock
        self.notifications: list[dict[str, Any]] = []
        self._ids: Iterator[int] = itertools.count(1)

    @classmethod
    def spawn(cls, argv: Sequence[str], *, env: Mapping[str, str] | None = None, stderr: Any = None,
              cwd: str | None = None) -> LineClient:
        process = subprocess.Popen(
            list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=dict(env) if env else None,
            cwd=cwd, bufsize=0,
        )
        assert process.stdin is not None and process.stdout is not None
        # Buffered reads (readline on a raw pipe costs a syscall per byte); unbuffered writes.
        return cls(io.BufferedReader(process.stdout, 1 << 16), process.stdin, process=process)  # type: ignore[arg-type]

    @classmethod
    def connect(cls, host: str, port: int, *, timeout: float | None = 30, token: str | None = None) -> LineClient:
        """A TCP line connection; with `token`, authenticated before it is returned."""
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls._over(sock, token)

    @classmethod
    def connect_unix(cls, path: str, *, timeout: float | None = 30, token: str | None = None) -> LineClient:
        """A line connection on a daemon's Unix socket (`<data dir>/swarm-mcp.sock`)."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(path)
        except OSError:
            sock.close()
            raise
        return cls._over(sock, token)

    @classmethod
    def _over(cls, sock: socket.socket, token: str | None) -> LineClient:
        client = cls(sock.makefile("rb"), sock.makefile("wb", buffering=0), sock=sock)
        if token is not None:
            try:
                client.authenticate(token)
            except BaseException:
                client.close()
                raise
        return client

    def authenticate(self, token: str) -> None:
        """Send the token as the connection's first line (`swarm-mcp/authenticate`).

        Raises:
            McpError: the server refused it (-32001).
        """
        self.request("swarm-mcp/authenticate", {"token": token})

    # -- raw -------------------------------------------------------------------------------

    def send(self, message: Mapping[str, Any] | bytes) -> None:
        data = message if isinstance(message, bytes) else orjson.dumps(message)
        self.writer.write(data + b"\n")

    def receive(self) -> dict[str, Any]:
        """The next message from the server (a response or a notification)."""
        line = self.reader.readline()
        if not line:
            raise EOFError("the server closed the connection")
        return orjson.loads(line)

    def receive_reply(self) -> dict[str, Any]:
        """The next response (notifications on the way are kept in `notifications`)."""
        while True:
            message = self.receive()
            if "method" not in message:
                return message
            self.notifications.append(message)

    def next_id(self) -> int:
        return next(self._ids)

    def request(self, method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Send a request and return its `result`; notifications on the way are kept in `notifications`.

        Raises:
            McpError: the server answered with a JSON-RPC error.
        """
        request_id = self.next_id()
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        while True:
            reply = self.receive()
            if reply.get("id") == request_id and "method" not in reply:
                if "error" in reply:
                    raise McpError(reply["error"])
                return reply["result"]
            self.notifications.append(reply)

    def notify(self, method: str, params: Mapping[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def close(self) -> None:
        """Close our side (EOF for a server subprocess), wait for the process, release every pipe."""
        with suppress(OSError):
            self.writer.close()
        if self.process is not None:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            for pipe in (self.process.stdout, self.process.stderr):
                if pipe is not None:
                    with suppress(OSError):
                        pipe.close()
        with suppress(OSError):
            self.reader.close()
        if self.sock is not None:
            with suppress(OSError):
                self.sock.close()

    def __enter__(self) -> LineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class HttpClient(_Mcp):
    """Streamable HTTP over one keep-alive connection; understands JSON and SSE replies."""

    def __init__(self, host: str, port: int, *, path: str = "/mcp", token: str | None = None,
                 timeout: float | None = 30) -> None:
        self.host, self.port, self.path = host, port, path
        self.token = token
        self.session_id: str | None = None
        self.notifications: list[dict[str, Any]] = []
        self._ids: Iterator[int] = itertools.count(1)
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._file = self.sock.makefile("rb")

    def post(self, body: Mapping[str, Any], *, extra_headers: Mapping[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        payload = orjson.dumps(body)
        headers = {
            "Host": f"{self.host}:{self.port}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "Content-Length": str(len(payload)),
        }
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.session_id is not None:
            headers["Mcp-Session-Id"] = self.session_id
        if self.protocol_version is not None:
            headers["Mcp-Protocol-Version"] = self.protocol_version
        headers.update(extra_headers or {})
        head = f"POST {self.path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        self.sock.sendall(head.encode() + payload)
        return self._read_response()

    def _read_response(self) -> tuple[int, dict[str, str], bytes]:
        status_line = self._file.readline()
        if not status_line:
            raise EOFError("the server closed the connection")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := self._file.readline()) not in (b"\r\n", b"\n", b""):
            key, _, value = line.decode().partition(":")
            headers[key.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = self._file.read(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            chunks = []
            while (size := int(self._file.readline().split(b";")[0], 16)) > 0:
                chunks.append(self._file.read(size))
                self._file.readline()
            self._file.readline()
            body = b"".join(chunks)
        else:
            body = b""
        return status, headers, body

    def _messages(self, headers: Mapping[str, str], body: bytes) -> list[dict[str, Any]]:
        if headers.get("content-type", "").startswith("text/event-stream"):
            return [orjson.loads(line[5:]) for line in body.splitlines() if line.startswith(b"data:") and line[5:].strip()]
        return [orjson.loads(body)] if body.strip() else []

    def request(self, method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        request_id = next(self._ids)
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        status, headers, body = self.post(message)
        if status >= 400 and not body.strip().startswith(b"{"):
            raise McpError({"code": status, "message": body.decode(errors="replace")})
        if "mcp-session-id" in headers:
            self.session_id = headers["mcp-session-id"]
        for reply in self._messages(headers, body):
            if reply.get("id") == request_id and "method" not in reply:
                if "error" in reply:
                    raise McpError(reply["error"])
                return reply["result"]
            self.notifications.append(reply)
        raise McpError({"code": status, "message": f"no reply to request {request_id} (HTTP {status})"})

    def notify(self, method: str, params: Mapping[str, Any] | None = None) -> int:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        return self.post(message)[0]

    def close(self) -> None:
        with suppress(OSError):
            self._file.close()
        with suppress(OSError):
            self.sock.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
