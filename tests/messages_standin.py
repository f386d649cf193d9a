"""A local stand-in for the Anthropic Messages API, so the real Claude Code binary runs offline.

It plays one scripted model: the first request that offers the scripted tool gets a streamed
`tool_use` turn calling it (once); a request that carries that call's `tool_result` gets a final
text turn. Anything else Claude Code asks (token counts, title or summary requests, probes) gets a
sensible small answer. Every request is recorded, and `transcript()` renders them all for a
test's failure message.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

__all__ = ("MessagesStandIn", "Recorded", "running_standin")

TOOL_USE_ID = "toolu_standin_0001"


@dataclass
class Recorded:
    """One HTTP request the stand-in received, and what it answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    answered: str = ""

    def describe(self) -> str:
        head = f"{self.method} {self.path} -> {self.answered}"
        if not isinstance(self.body, dict) or "messages" not in self.body:
            return f"{head} {json.dumps(self.body)[:300] if self.body is not None else ''}"
        tools = [t.get("name", "?") for t in self.body.get("tools", []) or []]
        mcp = [name for name in tools if name.startswith("mcp__")]
        messages = self.body["messages"]
        last = json.dumps(messages[-1])[:400] if messages else "(none)"
        return (f"{head}\n       model={self.body.get('model')} stream={self.body.get('stream')} "
                f"tools={len(tools)} mcp tools={mcp}\n       last of {len(messages)} message(s): {last}")


@dataclass
class MessagesStandIn:
    """The scripted model: call `tool_name` with `tool_input`, then answer `final_text`."""

    tool_name: str
    tool_input: dict[str, Any]
    final_text: str = "Done."
    requests: list[Recorded] = field(default_factory=list)
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _tool_use_sent: bool = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)

    def tool_results(self) -> list[dict[str, Any]]:
        """The distinct `tool_result` blocks Claude Code sent back for the scripted call (a later
        request that repeats the conversation repeats the block; it is counted once)."""
        distinct: dict[str, dict[str, Any]] = {}
        for request in list(self.requests):
            for block in _results_of(request.body, TOOL_USE_ID):
                distinct.setdefault(json.dumps([block.get("content"), block.get("is_error")]), block)
        return list(distinct.values())

    def offered_tools(self) -> set[str]:
        """Every tool name Claude Code offered the model in any Messages request."""
        return {
            tool.get("name", "")
            for request in list(self.requests)
            if isinstance(request.body, dict)
            for tool in request.body.get("tools", []) or []
        }

    def transcript(self) -> str:
        lines = [f"stand-in Messages API at {self.base_url} received {len(self.requests)} request(s):"]
        lines += [f"  {i}. {r.describe()}" for i, r in enumerate(list(self.requests), 1)]
        return "\n".join(lines)

    # -- answers ---------------------------------------------------------------------------

    def answer(self, method: str, path: str, body: Any) -> tuple[int, str, bytes, str]:
        """(status, content type, body, a label for the log) for one request."""
        route = urlsplit(path).path.rstrip("/")
        if method == "POST" and route == "/v1/messages/count_tokens":
            return 200, "application/json", json.dumps({"input_tokens": 42}).encode(), "count_tokens"
        if method == "POST" and route == "/v1/messages" and isinstance(body, dict):
            stream = bool(body.get("stream"))
            model = str(body.get("model", "claude-standin"))
            if _results_of(body, TOOL_USE_ID):
                return self._turn(model, [_text_block(self.final_text)], "end_turn", stream, "final text turn")
            offered = any(tool.get("name") == self.tool_name for tool in body.get("tools", []) or [])
            with self._lock:
                call = offered and not self._tool_use_sent
                self._tool_use_sent = self._tool_use_sent or call
            if call:
                block = {"type": "tool_use", "id": TOOL_USE_ID, "name": self.tool_name, "input": self.tool_input}
                return self._turn(model, [block], "tool_use", stream, f"tool_use {self.tool_name}")
            return self._turn(model, [_text_block("ok")], "end_turn", stream, "plain text turn")
        if method in ("GET", "HEAD") and route in ("", "/"):
            return 200, "application/json", b"{}", "probe"
        error = {"type": "error", "error": {"type": "not_found_error", "message": f"stand-in has no {method} {route}"}}
        return 404, "application/json", json.dumps(error).encode(), "404"

    def _turn(
        self, model: str, blocks: list[dict[str, Any]], stop: str, stream: bool, label: str
    ) -> tuple[int, str, bytes, str]:
        usage = {"input_tokens": 42, "output_tokens": 7, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        message = {
            "id": f"msg_standin_{len(self.requests)}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": blocks,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }
        if not stream:
            return 200, "application/json", json.dumps(message).encode(), label
        events: list[tuple[str, dict[str, Any]]] = [
            ("message_start", {"type": "message_start", "message": {**message, "content": [], "stop_reason": None}}),
        ]
        for index, block in enumerate(blocks):
            if block["type"] == "tool_use":
                start = {**block, "input": {}}
                delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
            else:
                start = {"type": "text", "text": ""}
                delta = {"type": "text_delta", "text": block["text"]}
            events += [
                ("content_block_start", {"type": "content_block_start", "index": index, "content_block": start}),
                ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}),
                ("content_block_stop", {"type": "content_block_stop", "index": index}),
            ]
        events += [
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                               "usage": {"output_tokens": 7}}),
            ("message_stop", {"type": "message_stop"}),
        ]
        payload = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)
        return 200, "text/event-stream", payload.encode(), label + " (stream)"


def _text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _results_of(body: Any, tool_use_id: str) -> list[dict[str, Any]]:
    """The `tool_result` blocks for `tool_use_id` in a Messages request body."""
    messages = body.get("messages", []) if isinstance(body, Mapping) else []
    return [
        block
        for message in messages or []
        if isinstance(message, Mapping) and isinstance(message.get("content"), list)
        for block in message["content"]
        if isinstance(block, Mapping) and block.get("type") == "tool_result" and block.get("tool_use_id") == tool_use_id
    ]


def _handler(standin: MessagesStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = raw[:200].decode(errors="replace")
            headers = {k.lower(): v for k, v in self.headers.items()}
            record = Recorded(self.command, self.path, headers, body)
            status, content_type, payload, label = standin.answer(self.command, self.path, body)
            record.answered = f"{status} {label}"
            standin.record(record)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("request-id", f"req_standin_{len(standin.requests)}")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            return None  # recorded in `standin.requests` instead of stderr

    return Handler


@contextmanager
def serving_http(handler: type[BaseHTTPRequestHandler], name: str) -> Iterator[int]:
    """Serve `handler` on a free localhost port in a background thread for the block's duration;
    yields the port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name=name, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def running_standin(standin: MessagesStandIn) -> Iterator[MessagesStandIn]:
    """Serve `standin` on a free localhost port in a background thread for the block's duration."""
    with serving_http(_handler(standin), "messages-standin") as port:
        standin.port = port
        yield standin
