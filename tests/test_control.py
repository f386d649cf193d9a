"""The control lines on the owner's socket: what is one, and how versions compare."""

from __future__ import annotations

import orjson

from swarm_mcp.control import HELLO, STATUS, control_request, is_newer, parse_control, version_key


def test_versions_compare_by_their_numbers() -> None:
    assert version_key("0.10.0") > version_key("0.9.2") > version_key("0.9")
    assert version_key("1.2.0rc1") == version_key("1.2.0") == (1, 2, 0)
    assert is_newer("0.2.0", "0.1.0") and not is_newer("0.1.0", "0.1.0") and not is_newer("0.0.1", "0.1.0")
    assert version_key("unknown") == () and is_newer("0.0.1", "unknown")


def test_only_a_control_request_is_read_as_one_everything_else_is_mcp() -> None:
    line = control_request(HELLO, "h", version="0.1.0", pid=7, tools=None, token=None)
    assert orjson.loads(line)["params"] == {"version": "0.1.0", "pid": 7}  # None values are left out
    assert parse_control(line.rstrip()) == ("h", HELLO, {"version": "0.1.0", "pid": 7})
    assert parse_control(control_request(STATUS, "s")) == ("s", STATUS, {})
    for mcp in (b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}',
                b'{"jsonrpc":"2.0","id":0,"method":"swarm-mcp/authenticate","params":{"token":"x"}}',
                b'not json swarm-mcp/hello', b'["swarm-mcp/status"]'):
        assert parse_control(mcp) is None
