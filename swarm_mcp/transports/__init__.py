"""Transports: stdio, and one TCP port that speaks Streamable HTTP and JSON-RPC lines."""
