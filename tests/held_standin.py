"""A Messages stand-in that holds every model turn until released: a Claude Code run that hangs
mid-request, for tests of timeouts, cancellation and concurrency limits."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from messages_standin import MessagesStandIn

__all__ = ("HeldStandIn",)

HOLD_AT_MOST = 120.0  # a forgotten release must not hold a server thread forever


@dataclass
class HeldStandIn(MessagesStandIn):
    """Each `POST /v1/messages` waits for `release`; `arrived` is set by the first one to arrive,
    and `most_in_flight` is the most held at once (how many Claude runs asked the model together)."""

    release: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)
    in_flight: int = 0
    most_in_flight: int = 0
    arrivals: int = 0

    def answer(self, method: str, path: str, body: Any) -> tuple[int, str, bytes, str]:
        if method == "POST" and urlsplit(path).path.rstrip("/") == "/v1/messages":
            with self._lock:
                self.in_flight += 1
                self.arrivals += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.arrived.set()
            try:
                self.release.wait(HOLD_AT_MOST)
            finally:
                with self._lock:
                    self.in_flight -= 1
        return super().answer(method, path, body)
