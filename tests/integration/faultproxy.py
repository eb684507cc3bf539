"""A loopback HTTP proxy that injects faults in front of a model server.

Each incoming request takes the next fault from a script ("429", "500", "stall", "garbage",
"truncated") or, when the script is empty, is forwarded to the upstream server unchanged.
Every request is recorded (path, fault, status) so tests can count what reached the server.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

JSON_CT = {"Content-Type": "application/json"}
# fault -> (status, body) answered without reaching the server
CANNED: dict[str, tuple[int, bytes]] = {
    "429": (429, b'{"error": {"message": "rate limited"}}'),
    "500": (500, b'{"error": {"message": "boom"}}'),
    "garbage": (200, b"<html>\x00\xff not json at all"),
    "truncated": (200, b'{"id": "x", "object": "chat.completion", "choi'),
}


@dataclass
class Seen:
    path: str
    fault: str
    status: int


@dataclass
class FaultProxy:
    upstream: str  # e.g. http://127.0.0.1:8765 (no /v1)
    faults: deque[str] = field(default_factory=deque)
    seen: list[Seen] = field(default_factory=list)  # model calls (POST), faults applied
    probes: list[Seen] = field(default_factory=list)  # GETs (e.g. /v1/models), passed through
    retry_after: str = "0"
    stall_s: float = 30.0
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def script(self, *faults: str) -> None:
        self.faults.clear()
        self.faults.extend(faults)
        self.seen.clear()
        self.probes.clear()

    def forwarded(self) -> int:
        return sum(1 for s in self.seen if s.fault == "pass")

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                probe = self.command != "POST"  # what-do-you-serve questions: never faulted
                fault = "pass" if probe or not proxy.faults else proxy.faults.popleft()
                if fault == "stall":
                    proxy.seen.append(Seen(self.path, fault, 0))
                    time.sleep(proxy.stall_s)
                    return
                if fault in CANNED:
                    status, payload = CANNED[fault]
                    extra = {"Retry-After": proxy.retry_after} if status == 429 else {}
                    proxy.seen.append(Seen(self.path, fault, status))
                    self._send(status, payload, {**JSON_CT, **extra})
                    return
                req = urllib.request.Request(
                    proxy.upstream + self.path, data=body if self.command == "POST" else None,
                    method=self.command, headers={"Content-Type": "application/json"},
                )
                try:
                    with urllib.request.urlopen(req, timeout=900) as r:
                        data, status = r.read(), r.status
                except urllib.error.HTTPError as e:
                    data, status = e.read(), e.code
                (proxy.probes if probe else proxy.seen).append(Seen(self.path, "pass", status))
                self._send(status, data, JSON_CT)

            do_GET = _handle
            do_POST = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
