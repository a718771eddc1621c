"""A loopback HTTP server that answers as Ollama does (same routes and bodies), scripted per test.

Tests push replies for /api/chat (or set a function of the request), list pulled models for
/api/tags, and read back every request received. Bound to 127.0.0.1 on a free port.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

DIGEST = "6ff4a4c4d2ab0c1e9b3a8c2f0e5d7a6b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f"


@dataclass
class Reply:
    content: str = ""
    status: int = 200
    error: str | None = None
    delay: float = 0.0
    raw_body: str | None = None


def verdict_json(**overrides: Any) -> str:
    """A well-formed verdict answer; each criterion 8/10 unless overridden (name=score or name=(score, reason))."""
    from artfarm.review.criteria import CRITERIA

    scores = {}
    for name in CRITERIA:
        value = overrides.pop(name, 8)
        score, reason = value if isinstance(value, tuple) else (value, f"{name} looks fine")
        scores[name] = {"score": score, "reason": reason}
    body = {"scores": scores, "defects": overrides.pop("defects", []), "summary": overrides.pop("summary", "a calm scene")}
    body.update(overrides)
    return json.dumps(body)


@dataclass
class FakeOllama:
    url: str = ""
    models: list[dict[str, Any]] = field(default_factory=list)
    capabilities: list[str] = field(default_factory=lambda: ["completion", "vision"])
    replies: deque[Reply] = field(default_factory=deque)
    on_chat: Callable[[dict[str, Any]], Reply] | None = None
    requests: list[tuple[str, str, Any]] = field(default_factory=list)

    def pull(self, name: str, digest: str = DIGEST) -> None:
        self.models.append({"name": name, "model": name, "modified_at": "2026-01-01T00:00:00Z", "size": 6_000_000_000,
                            "digest": digest, "details": {"format": "gguf", "family": "qwen25vl",
                                                          "parameter_size": "8.3B", "quantization_level": "Q4_K_M"}})

    def push(self, *replies: Reply | str) -> None:
        self.replies.extend(r if isinstance(r, Reply) else Reply(content=r) for r in replies)

    def chats(self) -> list[dict[str, Any]]:
        return [body for method, path, body in self.requests if path == "/api/chat"]

    def answer_chat(self, body: dict[str, Any]) -> Reply:
        if self.replies:
            return self.replies.popleft()
        if self.on_chat is not None:
            return self.on_chat(body)
        return Reply(status=500, error="test double: no reply scripted for this /api/chat call")

    def has_model(self, name: str) -> bool:
        from artfarm.ollama.models import canonical_name

        return any(canonical_name(m["name"]) == canonical_name(name) for m in self.models)


def _handler(fake: FakeOllama) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def _send(self, status: int, payload: Any | None = None, raw: str | None = None) -> None:
            data = (raw if raw is not None else json.dumps(payload)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def do_GET(self) -> None:
            fake.requests.append(("GET", self.path, None))
            if self.path == "/api/tags":
                self._send(200, {"models": fake.models})
            elif self.path == "/api/version":
                self._send(200, {"version": "0.12.3"})
            else:
                self._send(404, raw="404 page not found")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null")
            fake.requests.append(("POST", self.path, body))
            if self.path == "/api/show":
                if not fake.has_model(body["model"]):
                    self._send(404, {"error": f"model '{body['model']}' not found"})
                else:
                    self._send(200, {"details": {"family": "qwen25vl"}, "capabilities": fake.capabilities,
                                     "modified_at": "2026-01-01T00:00:00Z", "model_info": {}})
                return
            if self.path != "/api/chat":
                self._send(404, raw="404 page not found")
                return
            if not fake.has_model(body["model"]):
                self._send(404, {"error": f"model '{body['model']}' not found, try pulling it first"})
                return
            reply = fake.answer_chat(body)
            if reply.delay:
                time.sleep(reply.delay)
            if reply.raw_body is not None:
                self._send(reply.status, raw=reply.raw_body)
            elif reply.status >= 400:
                self._send(reply.status, {"error": reply.error or "error"})
            else:
                self._send(200, {"model": body["model"], "created_at": "2026-01-01T00:00:00Z",
                                 "message": {"role": "assistant", "content": reply.content},
                                 "done": True, "done_reason": "stop", "total_duration": 1_000_000, "eval_count": 42})

    return Handler


class OllamaDouble:
    """Context manager: ``with OllamaDouble() as fake: ... fake.url``."""

    def __init__(self) -> None:
        self.fake = FakeOllama()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.fake))
        self._server.daemon_threads = True
        self.fake.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> FakeOllama:
        self._thread.start()
        return self.fake

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
