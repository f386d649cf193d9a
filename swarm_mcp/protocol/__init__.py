"""The MCP protocol engine for line transports (stdio, TCP lines), with no MCP SDK import.

The SDK costs ~0.7 s to import here, more than the whole cold-start budget, so stdio and TCP
lines are served by this small engine; Streamable HTTP uses the SDK's own transport. Both serve
the same `ToolHost`, and differential tests hold the two to the same replies.
"""

from ._lines import LineLimits as LineLimits
from ._lines import LineSink as LineSink
from ._lines import Oversize as Oversize
from ._lines import read_bounded_line as read_bounded_line
from ._lines import serve_line_connection as serve_line_connection
from ._session import CallInfo as CallInfo
from ._session import ProgressFn as ProgressFn
from ._session import ServerIdentity as ServerIdentity
from ._session import Session as Session
from ._session import ToolHost as ToolHost
from ._wire import HANDSHAKE_VERSIONS as HANDSHAKE_VERSIONS
from ._wire import LATEST_HANDSHAKE as LATEST_HANDSHAKE
from ._wire import LATEST_MODERN as LATEST_MODERN
from ._wire import MODERN_VERSIONS as MODERN_VERSIONS
from ._wire import SERVER_INFO_KEY as SERVER_INFO_KEY
from ._wire import RpcError as RpcError
from ._wire import encode_error as encode_error
from ._wire import encode_result as encode_result

__all__ = (
    "CallInfo",
    "HANDSHAKE_VERSIONS",
    "LATEST_HANDSHAKE",
    "LATEST_MODERN",
    "LineLimits",
    "LineSink",
    "MODERN_VERSIONS",
    "Oversize",
    "ProgressFn",
    "RpcError",
    "SERVER_INFO_KEY",
    "ServerIdentity",
    "Session",
    "ToolHost",
    "encode_error",
    "encode_result",
    "read_bounded_line",
    "serve_line_connection",
)
