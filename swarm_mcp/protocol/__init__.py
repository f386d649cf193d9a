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
from ._session import LOG_LEVELS as LOG_LEVELS
from ._session import CallInfo as CallInfo
from ._session import Notify as Notify
from ._session import ProgressFn as ProgressFn
from ._session import ServerIdentity as ServerIdentity
from ._session import Session as Session
from ._session import SessionChannel as SessionChannel
from ._session import SurfaceHost as SurfaceHost
from ._session import ToolHost as ToolHost
from ._wire import HANDSHAKE_VERSIONS as HANDSHAKE_VERSIONS
from ._wire import INTERNAL_ERROR as INTERNAL_ERROR
from ._wire import INVALID_PARAMS as INVALID_PARAMS
from ._wire import LOG_LEVEL_KEY as LOG_LEVEL_KEY
from ._wire import SUBSCRIPTION_ID_KEY as SUBSCRIPTION_ID_KEY
from ._wire import ResourceNotFound as ResourceNotFound
from ._wire import LATEST_HANDSHAKE as LATEST_HANDSHAKE
from ._wire import LATEST_MODERN as LATEST_MODERN
from ._wire import MODERN_VERSIONS as MODERN_VERSIONS
from ._wire import SERVER_INFO_KEY as SERVER_INFO_KEY
from ._wire import SERVER_SHUTTING_DOWN as SERVER_SHUTTING_DOWN
from ._wire import RpcError as RpcError
from ._wire import encode_error as encode_error
from ._wire import encode_result as encode_result

__all__ = (
    "CallInfo",
    "HANDSHAKE_VERSIONS",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "LOG_LEVELS",
    "LOG_LEVEL_KEY",
    "LATEST_HANDSHAKE",
    "LATEST_MODERN",
    "LineLimits",
    "LineSink",
    "MODERN_VERSIONS",
    "Notify",
    "Oversize",
    "ProgressFn",
    "ResourceNotFound",
    "RpcError",
    "SERVER_INFO_KEY",
    "SERVER_SHUTTING_DOWN",
    "SUBSCRIPTION_ID_KEY",
    "ServerIdentity",
    "Session",
    "SessionChannel",
    "SurfaceHost",
    "ToolHost",
    "encode_error",
    "encode_result",
    "read_bounded_line",
    "serve_line_connection",
)
