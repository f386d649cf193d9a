"""The relay in process, between pipes (its client) and socket pairs (its owners): lines pass
unchanged both ways, and a change of owner fails what was waiting, replays the handshake under the
relay's own ids and swallows their replies."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson

from swarm_mcp.attach import OwnerLink
from swarm_mcp.attach._log import RelayLog
from swarm_mcp.attach._relay import Relay

WAIT = 10.0


class LineReader:
    """Reads whole lines from a socket or a pipe, each within WAIT seconds."""

    def __init__(self, read: Any) -> None:
        self._read = read
        self._buffer = b""

    def line(self) -> bytes:
        while b"\n" not in self._buffer:
            chunk = self._read()
            assert chunk, "closed before a whole line arrived"
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def message(self) -> dict[str, Any]:
        return dict(orjson.loads(self.line()))


@dataclass
class Owner:
    """The owner's end of one attached connection."""

    sock: socket.socket
    lines: LineReader = field(init=False)

    def __post_init__(self) -> None:
        self.sock.settimeout(WAIT)
        self.lines = LineReader(lambda: self.sock.recv(65536))

    def send(self, message: dict[str, Any] | bytes) -> None:
        self.sock.sendall((message if isinstance(message, bytes) else orjson.dumps(message)) + b"\n")


@dataclass
class Harness:
    client_in: int  # what the client writes (the relay's stdin)
    client_out: LineReader  # what the client reads (the relay's stdout)
    owners: list[Owner]
    done: threading.Event
    exit_code: list[int]

    def send(self, message: dict[str, Any] | bytes) -> None:
        os.write(self.client_in, (message if isinstance(message, bytes) else orjson.dumps(message)) + b"\n")

    def receive(self) -> dict[str, Any]:
        return self.client_out.message()


@contextmanager
def relay(owners: int) -> Iterator[Harness]:
    """A relay whose `connect` hands out `owners` socket pairs in turn."""
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    ends = [socket.socketpair() for _ in range(owners)]
    links = iter(OwnerLink(relay_end, pid=1000 + i, version="0", kind="daemon", started_here=False)
                 for i, (relay_end, _) in enumerate(ends))
    harness = Harness(stdin_w, LineReader(lambda: _read_within(stdout_r)), [Owner(end) for _, end in ends],
                      threading.Event(), [])

    def connect() -> OwnerLink:
        link = next(links, None)
        if link is None:
            raise ConnectionError("no more owners")  # only while the harness tears down
        return link

    def run() -> None:
        try:
            harness.exit_code.append(Relay(connect, RelayLog("error"), stdin=stdin_r, stdout=stdout_w).run())
        except ConnectionError:
            pass
        finally:
            harness.done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield harness
    finally:
        os.close(stdin_w)  # EOF: the relay half-closes; closing every owner end ends it
        for owner in harness.owners:
            owner.sock.close()
        assert harness.done.wait(WAIT)
        _wait_for_stdin_reader()
        for relay_end, _ in ends:
            relay_end.close()  # the ends of owners it never reached
        for fd in (stdin_r, stdout_r, stdout_w):
            os.close(fd)


def _wait_for_stdin_reader() -> None:
    """The relay's stdin thread reads until EOF; its pipe is closed only after, or a later test's
    pipe, given the same descriptor number, would lose lines to it."""
    for thread in threading.enumerate():
        if thread.name == "swarm-mcp-stdin":
            thread.join(WAIT)
            assert not thread.is_alive()


def _read_within(fd: int) -> bytes:
    import select

    assert select.select([fd], [], [], WAIT)[0], f"nothing to read within {WAIT} s"
    return os.read(fd, 65536)


def test_lines_pass_unchanged_both_ways_server_requests_and_odd_lines_included() -> None:
    odd = b'{"method":"tools/call","params":{"name":"x","arguments":{}},"jsonrpc":"2.0","id":"a-1"}'
    with relay(1) as h:
        owner = h.owners[0]
        h.send(odd)
        assert owner.lines.line() == odd  # byte for byte, key order and all
        h.send(b"not json at all")
        assert owner.lines.line() == b"not json at all"  # the owner answers it (-32700), not the relay
        progress = {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": 5, "progress": 1}}
        ask = {"jsonrpc": "2.0", "id": "owner-1", "method": "roots/list"}
        owner.send(progress)
        owner.send(ask)
        owner.send({"jsonrpc": "2.0", "id": "a-1", "result": {"content": []}})
        assert [h.receive(), h.receive(), h.receive()] == [progress, ask, {"jsonrpc": "2.0", "id": "a-1", "result": {"content": []}}]
        answer = {"jsonrpc": "2.0", "id": "owner-1", "result": {"roots": []}}
        h.send(answer)
        assert owner.lines.message() == answer


def test_a_new_owner_gets_the_handshake_again_and_waiting_requests_fail_as_retryable() -> None:
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}}}
    set_level = {"jsonrpc": "2.0", "id": 2, "method": "logging/setLevel", "params": {"level": "debug"}}
    with relay(2) as h:
        first, second = h.owners
        h.send(initialize)
        assert first.lines.message() == initialize
        first.send({"jsonrpc": "2.0", "id": 1, "result": {"protocolVersion": "2025-06-18"}})
        assert h.receive()["id"] == 1
        h.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        h.send(set_level)
        assert first.lines.message()["method"] == "notifications/initialized"
        assert first.lines.message() == set_level
        first.send({"jsonrpc": "2.0", "id": 2, "result": {}})
        assert h.receive() == {"jsonrpc": "2.0", "id": 2, "result": {}}
        h.send({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "slow"}})
        assert first.lines.message()["id"] == 3
        first.send({"jsonrpc": "2.0", "id": "owner-ask", "method": "roots/list"})
        assert h.receive()["id"] == "owner-ask"
        first.sock.close()  # the owner dies with call 3 running and its question open

        failed = h.receive()
        assert failed["id"] == 3 and failed["error"]["code"] == -32000
        assert failed["error"]["data"] == {"retryable": True, "reason": "owner_lost"}
        replayed = [second.lines.message() for _ in range(3)]
        assert replayed == [{**initialize, "id": "swarm-mcp:replay:1"}, {"jsonrpc": "2.0", "method": "notifications/initialized"},
                            {**set_level, "id": "swarm-mcp:replay:2"}]
        second.send({"jsonrpc": "2.0", "id": "swarm-mcp:replay:1", "result": {"protocolVersion": "2025-06-18"}})
        second.send({"jsonrpc": "2.0", "id": "swarm-mcp:replay:2", "result": {}})
        h.send({"jsonrpc": "2.0", "id": "owner-ask", "result": {"roots": []}})  # to the dead owner: dropped
        h.send({"jsonrpc": "2.0", "id": 4, "method": "ping"})
        assert second.lines.message() == {"jsonrpc": "2.0", "id": 4, "method": "ping"}
        second.send({"jsonrpc": "2.0", "id": 4, "result": {}})
        assert h.receive() == {"jsonrpc": "2.0", "id": 4, "result": {}}  # the replayed replies were swallowed


def test_a_cancelled_request_is_not_failed_when_the_owner_goes_away() -> None:
    with relay(2) as h:
        first, second = h.owners
        h.send({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "slow"}})
        h.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "7"}})
        assert first.lines.message()["id"] == 7 and first.lines.message()["method"] == "notifications/cancelled"
        first.sock.close()
        h.send({"jsonrpc": "2.0", "id": 8, "method": "ping"})
        assert second.lines.message()["id"] == 8  # nothing for 7: a cancelled request is never answered
        second.send({"jsonrpc": "2.0", "id": 8, "result": {}})
        assert h.receive() == {"jsonrpc": "2.0", "id": 8, "result": {}}


def test_end_of_input_lets_the_owner_answer_what_it_has_then_the_session_ends() -> None:
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    relay_end, owner_end = socket.socketpair()
    owner = Owner(owner_end)
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(Relay(
        lambda: OwnerLink(relay_end, 1, "0", "daemon", False), RelayLog("error"), stdin=stdin_r, stdout=stdout_w).run()))
    thread.start()
    os.write(stdin_w, b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n')
    os.close(stdin_w)
    assert owner.lines.message()["id"] == 1
    assert owner.sock.recv(1) == b""  # end of input reached the owner
    owner.send({"jsonrpc": "2.0", "id": 1, "result": {}})
    owner.sock.close()
    thread.join(WAIT)
    assert codes == [0]
    assert orjson.loads(LineReader(lambda: _read_within(stdout_r)).line()) == {"jsonrpc": "2.0", "id": 1, "result": {}}
    _wait_for_stdin_reader()
    for fd in (stdin_r, stdout_r, stdout_w):
        os.close(fd)
