"""One TCP port: JSON-RPC lines from raw sockets, both eras, many clients at once, shutdown."""

from __future__ import annotations

import signal
import socket
import threading
import time
from pathlib import Path

import orjson
import pytest
from support import free_port, log_events, modern_request, server_output, spawn_stdio, tcp_server, wait_for_port

from swarm_mcp.client import LineClient
from swarm_mcp.transports.tcp import sniff


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    with tcp_server(tmp_path_factory.mktemp("tcp"), "--max-line-bytes", "65536") as (port, process):
        yield port, process


def test_first_bytes_decide_the_protocol() -> None:
    assert sniff(b"POST /mcp HTTP/1.1\r\n") == "http"
    assert sniff(b"GET ") == "http"
    assert sniff(b"PO") is None and sniff(b"DEL") is None
    assert sniff(b'{"jsonrpc"') == "lines"
    assert sniff(b"hello") == "lines"
    assert sniff(b"POSTURE") == "lines"


def test_bad_lines_get_errors_that_name_the_problem_and_the_connection_stays_open(server) -> None:
    port, _ = server
    with LineClient.connect("127.0.0.1", port) as client:
        client.send(b"not json at all")
        reply = client.receive()
        assert reply["id"] is None and reply["error"]["code"] == -32700
        assert "not valid JSON" in reply["error"]["message"]
        client.send(b"{}")
        reply = client.receive()
        assert reply["id"] is None and reply["error"]["code"] == -32600
        client.send(b'{"jsonrpc":"2.0","id":"x","method":"ping"}')
        assert client.receive() == {"jsonrpc": "2.0", "id": "x", "result": {}}


def test_an_oversize_line_is_refused_and_discarded_without_closing_the_connection(server) -> None:
    port, _ = server
    with LineClient.connect("127.0.0.1", port) as client:
        client.send(b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"' + b"x" * 200_000 + b'"}}')
        reply = client.receive()
        assert reply["id"] is None and reply["error"]["code"] == -32600
        assert "65536-byte limit" in reply["error"]["message"]
        client.send(b'{"jsonrpc":"2.0","id":2,"method":"ping"}')
        assert client.receive()["id"] == 2


def test_notifications_get_no_reply_on_tcp(server) -> None:
    port, _ = server
    with LineClient.connect("127.0.0.1", port, timeout=0.5) as client:
        client.notify("notifications/initialized")
        client.notify("notifications/cancelled", {"requestId": 12})
        with pytest.raises(TimeoutError):
            client.receive()


def test_both_protocol_eras_on_tcp_lines(server) -> None:
    port, _ = server
    with LineClient.connect("127.0.0.1", port) as legacy:
        assert legacy.initialize("2024-11-05")["protocolVersion"] == "2024-11-05"
        assert legacy.call_tool("features_detect", {"category": "memory"})["structuredContent"]["memory"]["total_bytes"] > 0
    with LineClient.connect("127.0.0.1", port) as modern:
        modern.send(modern_request(1, "server/discover"))
        assert modern.receive()["result"]["supportedVersions"] == ["2026-07-28"]
        modern.send(modern_request(2, "tools/list"))
        assert "features_detect" in {t["name"] for t in modern.receive()["result"]["tools"]}
        modern.send({"jsonrpc": "2.0", "id": 3, "method": "initialize", "params": {}})
        assert modern.receive()["error"]["code"] == -32022


def test_fifty_clients_making_two_hundred_calls_each_at_once_all_get_correct_answers(server) -> None:
    port, _ = server
    failures: list[str] = []
    categories = ["cpu", "memory", "storage", "transports", "runtime"]

    def client_run(index: int) -> None:
        try:
            with LineClient.connect("127.0.0.1", port, timeout=60) as client:
                client.initialize()
                for call in range(200):
                    category = categories[(index + call) % len(categories)]
                    result = client.call_tool("features_detect", {"category": category})
                    content = result["structuredContent"]
                    if result["isError"] or content["category"] != category or category not in content:
                        failures.append(f"client {index} call {call}: {result}")
                        return
        except Exception as exc:  # reported below
            failures.append(f"client {index}: {exc!r}")

    threads = [threading.Thread(target=client_run, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not failures, failures[:3]


def test_a_client_that_disconnects_mid_call_affects_no_other_client(server) -> None:
    port, process = server
    with socket.create_connection(("127.0.0.1", port)) as leaving:
        for message in (
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "features_detect", "arguments": {"category": "neural"}}},
        ):
            leaving.sendall(orjson.dumps(message) + b"\n")
        leaving.recv(4096)  # the initialize reply; the neural probe is still running
    with LineClient.connect("127.0.0.1", port) as staying:
        staying.initialize()
        for _ in range(50):
            assert not staying.call_tool("features_detect", {"category": "cpu"})["isError"]
    assert process.poll() is None


def test_sigterm_stops_a_tcp_server_with_exit_code_zero(tmp_path: Path) -> None:
    with tcp_server(tmp_path) as (port, process):
        with LineClient.connect("127.0.0.1", port) as client:
            client.initialize()
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
            assert time.monotonic() - started < 1.0
    stdout, stderr = server_output(tmp_path)
    events = [e["event"] for e in log_events(stderr)]
    assert "tcp_listening" in events and "daemon_stopped" in events
    assert stdout == b""


def test_stdio_and_tcp_in_one_process_share_the_daemon_state(tmp_path: Path) -> None:
    port = free_port()
    with spawn_stdio(tmp_path, "--stdio", "--tcp", f"127.0.0.1:{port}") as stdio:
        stdio.initialize()
        stdio.call_tool("memory_usage", {"action": "store", "key": "both", "value": "from stdio"})
        assert stdio.process is not None
        wait_for_port(port, stdio.process, tmp_path)
        with LineClient.connect("127.0.0.1", port) as tcp:
            tcp.initialize()
            got = tcp.call_tool("memory_usage", {"action": "retrieve", "key": "both"})["structuredContent"]
            serving = tcp.call_tool("features_detect", {"category": "transports"})["structuredContent"]["transports"]["serving"]
        assert got["entry"]["value"] == "from stdio"
        assert {"stdio", "tcp-lines", "http"} <= set(serving)


def test_a_tcp_listener_refuses_connections_over_max_connections_with_a_reason(tmp_path: Path) -> None:
    with tcp_server(tmp_path, "--set", "max_connections=3") as (port, _):
        held: list[LineClient] = []
        try:
            for _ in range(3):
                held.append(LineClient.connect("127.0.0.1", port))
                held[-1].initialize()
            with LineClient.connect("127.0.0.1", port) as extra:
                extra.send({"jsonrpc": "2.0", "id": 1, "method": "ping"})
                reply = extra.receive()
                assert reply["error"]["code"] == -32002 and "max_connections is 3" in reply["error"]["message"]
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                raw.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}")
                assert raw.makefile("rb").readline().startswith(b"HTTP/1.1 503")
        finally:
            held.pop().close()
        deadline = time.monotonic() + 10
        while True:  # the slot comes back once the server has seen the close
            with LineClient.connect("127.0.0.1", port) as again:
                again.send({"jsonrpc": "2.0", "id": 1, "method": "ping"})
                if "result" in again.receive():
                    break
            assert time.monotonic() < deadline
        for client in held:
            client.close()


@pytest.mark.parametrize("sent", [b"", b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n", b'{"jsonrpc": "2.0"'])
def test_a_connection_that_does_not_finish_its_first_message_within_header_timeout_is_closed(tmp_path: Path, sent: bytes) -> None:
    with tcp_server(tmp_path, "--set", "header_timeout=0.5") as (port, process):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            raw.sendall(sent)
            started = time.monotonic()
            received = raw.makefile("rb").read()  # until the server closes
            assert time.monotonic() - started < 4
        if not sent.startswith(b"POST"):
            assert orjson.loads(received.splitlines()[0])["error"]["code"] == -32600
        with LineClient.connect("127.0.0.1", port) as client:  # the listener is fine
            assert client.initialize()["serverInfo"]["name"] == "swarm-mcp"
        assert process.poll() is None
