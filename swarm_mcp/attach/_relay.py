"""Relay one stdio MCP session to the data dir's owner, line for line, across changes of owner.

Lines go both ways unchanged (ids, progress tokens, cancellations, server-to-client requests), so
the owner sees this session as its own MCP session. The relay reads just enough of each line to
keep three books: the client's requests still waiting for a reply, the handshake that made the
session (`initialize`, `notifications/initialized`, the last `logging/setLevel`, resource
subscriptions), and the owner's requests still waiting for the client.

When the owner goes away (it stopped, was killed, or handed over), every request still waiting
gets a retryable error, the finder connects to the next owner (taking over when nobody else has),
and the handshake is replayed under the relay's own ids, whose replies are swallowed: the client's
session goes on as if nothing happened. Answers the client then sends to the old owner's requests
are dropped.

Two threads, both blocked in a system call until there is work: this one reads the owner and
writes stdout; a second reads stdin and writes the owner. That costs two system calls per line
and direction and no event loop, and works with any stdin (pipe, file, terminal).
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import orjson

from ._log import RelayLog
from ._owner import OwnerLink

__all__ = ("OWNER_LOST", "Relay")

OWNER_LOST = -32000  # the code of the shutting-down error: the call did not finish, and may be retried
_REPLAY = "swarm-mcp:replay:"
_REPLY_PREFIX = b'{"jsonrpc":"2.0","id":'  # how the owner writes every reply (orjson, this key order)
_REPLY_ID = len(_REPLY_PREFIX)
_RESULT_OR_ERROR = (b',"result":', b',"error":')
_SIGNALS = {signal.SIGINT, signal.SIGTERM}
# Client requests the relay keeps whole, to replay them on a new owner
_BOOKED = frozenset({"initialize", "logging/setLevel", "resources/subscribe", "resources/unsubscribe"})


class _Stop(Exception):
    """SIGINT or SIGTERM: the client is leaving."""


def _key(request_id: Any) -> Any:
    """`"7"` and `7` name one request for cancellation, as the owner correlates them."""
    if isinstance(request_id, str):
        try:
            return int(request_id)
        except ValueError:
            return request_id
    return request_id


def _decode(line: bytes) -> dict[str, Any] | None:
    try:
        message = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return message if isinstance(message, dict) else None


def _valid_id(value: Any) -> bool:
    return type(value) is int or type(value) is str  # what orjson makes of a JSON number or string; never a bool


class Relay:
    """One attached stdio session; `run` returns the process's exit code."""

    def __init__(self, connect: Callable[[], OwnerLink], log: RelayLog, *, stdin: int = 0, stdout: int = 1,
                 max_line_bytes: int = 4 * 2**20) -> None:
        self._connect = connect
        self._log = log
        self._stdin, self._stdout = stdin, stdout
        self._max_line = max_line_bytes
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)  # the owner link is usable (or the relay is done)
        self._link: OwnerLink | None = None
        self._in_flight: dict[Any, Any] = {}  # key -> the client's id, for requests the owner has not answered
        self._owner_requests: set[Any] = set()  # ids of the owner's requests the client has not answered
        self._initialize: dict[str, Any] | None = None
        self._initialized = False
        self._set_level: dict[str, Any] | None = None
        self._subscriptions: dict[str, dict[str, Any]] = {}  # uri -> resources/subscribe request
        self._unsent = b""  # one line the lost owner's socket refused: it never arrived, so it goes to the next owner
        self._client_done = False  # stdin reached EOF
        self._finished = False
        self._replays = 0

    # -- the owner side (main thread) ------------------------------------------------------

    def run(self) -> int:
        """Attach, relay until the client leaves (EOF, SIGINT, SIGTERM), and return 0.

        Raises:
            AttachFailed: no owner could be reached or started (at start or on a takeover).
        """
        on_main_thread = threading.current_thread() is threading.main_thread()  # tests run relays on threads
        previous = {signum: signal.signal(signum, self._on_signal) for signum in _SIGNALS} if on_main_thread else {}
        try:
            link = self._connect()
            self._attached(link, first=True)
            threading.Thread(target=self._pump_client, name="swarm-mcp-stdin", daemon=True).start()
            while True:
                if self._pump_owner(link):
                    return 0
                link = self._take_over(link)
        except _Stop:
            return 0
        finally:
            with self._lock:
                self._finished = True
                self._ready.notify_all()
                if self._link is not None:
                    with suppress(OSError):
                        self._link.sock.close()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: object) -> None:
        self._log.info("session_stopping", reason=signal.Signals(signum).name)
        raise _Stop

    def _attached(self, link: OwnerLink, *, first: bool) -> None:
        self._log.info("session_attached" if first else "session_reattached", owner_pid=link.pid,
                       owner_version=link.version, owner_kind=link.kind, started_owner=link.started_here)
        with self._lock:
            self._link = link
            if self._client_done:  # the client left while another owner took over: nothing more will come
                with suppress(OSError):
                    link.sock.shutdown(socket.SHUT_WR)
            self._ready.notify_all()

    def _pump_owner(self, link: OwnerLink) -> bool:
        """Copy the owner's lines to stdout until it goes away; True when the session is over."""
        sock, buffer = link.sock, link.pending
        while True:
            if buffer.endswith(b"\n") and buffer.count(b"\n") == 1:  # one whole line: the usual case
                if self._from_owner(buffer) and not self._write_stdout(buffer):
                    return True  # the client is gone
                buffer = b""
            elif b"\n" in buffer:
                lines = buffer.split(b"\n")
                buffer = lines.pop()
                out = [line + b"\n" for line in lines if self._from_owner(line)]
                if out and not self._write_stdout(b"".join(out)):
                    return True
            try:
                data = sock.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                return self._owner_lost(link)
            buffer += data

    def _from_owner(self, line: bytes) -> bool:
        """Note what the line answers or asks; False to swallow it (a reply to a replayed handshake)."""
        if line.startswith(_REPLY_PREFIX):  # the owner's own encoding of a reply: read the id, skip the rest
            end = line.find(b",", _REPLY_ID)
            if end > 0 and line.startswith(_RESULT_OR_ERROR, end):
                token = line[_REPLY_ID:end]
                if token.isdigit():
                    self._in_flight.pop(int(token), None)
                    return True
        if not line.strip():
            return False
        message = _decode(line)
        if message is None:
            return True
        request_id = message.get("id")
        if "method" in message:
            if _valid_id(request_id):
                self._owner_requests.add(request_id)
            return True
        if isinstance(request_id, str) and request_id.startswith(_REPLAY):
            if "error" in message:
                self._log.warning("replay_refused", id=request_id, error=message["error"])
            return False
        if _valid_id(request_id):
            self._in_flight.pop(_key(request_id), None)
        return True

    def _write_stdout(self, data: bytes) -> bool:
        try:
            written = os.write(self._stdout, data)
            if written == len(data):
                return True
            view = memoryview(data)[written:]
            while view:
                view = view[os.write(self._stdout, view):]
        except OSError:
            return False
        return True

    def _owner_lost(self, link: OwnerLink) -> bool:
        """Fail what was waiting; True when the session is over (the client has left)."""
        with self._lock:
            self._link = None
            waiting = list(self._in_flight.values())
            self._in_flight.clear()
            self._owner_requests.clear()
            client_done = self._client_done
        with suppress(OSError):
            link.sock.close()
        if waiting or not client_done:
            self._log.warning("owner_lost", owner_pid=link.pid, requests_failed=len(waiting))
        errors = b"".join(
            orjson.dumps({"jsonrpc": "2.0", "id": request_id, "error": {
                "code": OWNER_LOST,
                "message": f"swarm-mcp: the process serving this data dir (pid {link.pid}) went away while this request "
                "was running; another takes over now. The request may or may not have taken effect: check, or retry it.",
                "data": {"retryable": True, "reason": "owner_lost"},
            }}) + b"\n"
            for request_id in waiting
        )
        if errors and not self._write_stdout(errors):
            return True
        return client_done

    def _take_over(self, lost: OwnerLink) -> OwnerLink:
        link = self._connect()
        self._replay(link)
        with self._lock:
            unsent, self._unsent = self._unsent, b""
            if unsent and self._from_client(unsent):
                with suppress(OSError):
                    link.sock.sendall(unsent)
        self._attached(link, first=False)
        return link

    def _replay(self, link: OwnerLink) -> None:
        """Make the new owner's session the client's: its handshake again, under our own ids."""
        lines = []
        for message in (self._initialize, self._set_level, *self._subscriptions.values()):
            if message is not None:
                self._replays += 1
                lines.append(orjson.dumps({**message, "id": f"{_REPLAY}{self._replays}"}))
                if message is self._initialize and self._initialized:
                    lines.append(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
        if lines:
            with suppress(OSError):
                link.sock.sendall(b"\n".join(lines) + b"\n")

    # -- the client side (its own thread) --------------------------------------------------

    def _pump_client(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)  # signals go to the main thread, which can act on them
        buffer = b""
        oversize = False
        while True:
            try:
                data = os.read(self._stdin, 1 << 16)
            except OSError:
                data = b""
            if not data:
                if buffer:
                    self._send(buffer, [] if oversize else [buffer])  # a last line without its newline
                self._client_eof()
                return
            if not buffer and not oversize and data.find(b"\n") == len(data) - 1:  # one whole line: the usual case
                self._send(data, [data])
                continue
            buffer += data
            end = buffer.rfind(b"\n")
            if end < 0:
                if len(buffer) > self._max_line:  # passed on in pieces; the owner refuses it whole
                    self._send(buffer, [])
                    buffer, oversize = b"", True
                continue
            whole, buffer = buffer[: end + 1], buffer[end + 1 :]
            lines = whole.split(b"\n")[:-1] if whole.count(b"\n") > 1 else [whole]
            if oversize:
                del lines[0]  # the end of the oversize line: not ours to read
                oversize = False
            self._send(whole, lines)

    def _send(self, data: bytes, lines: list[bytes]) -> None:
        """Forward `data` to the owner after noting what its complete `lines` ask; waits while
        another owner takes over. Lines that answer a lost owner's requests are left out."""
        with self._lock:
            while self._link is None and not self._finished:
                self._ready.wait()
            if self._finished or self._link is None:
                return
            for line in lines:
                if not self._from_client(line):
                    data = data.replace(line if line.endswith(b"\n") else line + b"\n", b"", 1)
            try:
                self._link.sock.sendall(data)
            except OSError:
                # The owner is gone; its reader fails what was waiting and finds the next one. A single
                # line the socket refused never reached it whole, so it was never read: it goes to the
                # next owner instead of failing. Of several lines, an earlier one may have been read.
                if len(lines) == 1 and data.endswith(b"\n"):
                    self._unsent = data
                    self._forget(lines[0])

    def _forget(self, line: bytes) -> None:
        """Take a request back out of the waiting book (it is sent again later and noted then)."""
        message = _decode(line)
        if message is not None and "method" in message and _valid_id(message.get("id")):
            self._in_flight.pop(_key(message["id"]), None)

    def _from_client(self, line: bytes) -> bool:
        """Note what the line asks or answers; False to drop it (an answer to a lost owner's request)."""
        if b"jsonrpc" not in line:
            return True
        message = _decode(line)
        if message is None:
            return True
        method, request_id = message.get("method"), message.get("id")
        if type(request_id) is int and type(method) is str and method not in _BOOKED:  # an ordinary request
            self._in_flight[request_id] = request_id
            return True
        if method is None:
            if _valid_id(request_id) and ("result" in message or "error" in message):
                if request_id not in self._owner_requests:
                    return False  # the owner that asked is gone; the new one never did
                self._owner_requests.discard(request_id)
            return True
        if _valid_id(request_id):
            self._in_flight[_key(request_id)] = request_id
            if method == "initialize":
                self._initialize = message
            elif method == "logging/setLevel":
                self._set_level = message
            elif method in ("resources/subscribe", "resources/unsubscribe"):
                uri = (message.get("params") or {}).get("uri")
                if isinstance(uri, str):
                    if method == "resources/subscribe":
                        self._subscriptions[uri] = message
                    else:
                        self._subscriptions.pop(uri, None)
        elif method == "notifications/initialized":
            self._initialized = True
        elif method == "notifications/cancelled":
            params = message.get("params")
            cancelled = params.get("requestId") if isinstance(params, dict) else None
            if _valid_id(cancelled):
                self._in_flight.pop(_key(cancelled), None)  # a cancelled request is never answered
        return True

    def _client_eof(self) -> None:
        """The client closed stdin: let the owner answer what it has (half-close), then the session ends."""
        with self._lock:
            self._client_done = True
            if self._link is not None:
                with suppress(OSError):
                    self._link.sock.shutdown(socket.SHUT_WR)
