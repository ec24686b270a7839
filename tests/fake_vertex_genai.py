"""A local fake of Vertex AI's ``generateContent`` endpoint, answered through the real google-genai client.

``FakeVertex`` is an ``http.server`` on 127.0.0.1 (random port, its own thread) that
accepts what google-genai 2.34 sends in Vertex mode with ``HttpOptions(base_url=...)``::

    POST {base_url}/v1beta1/projects/P/locations/L/publishers/google/models/M:generateContent

It records every request (path, headers, JSON body) and answers with whatever its
responder returns: a JSON answer, raw text (e.g. invalid JSON), an HTTP error, optionally
after a delay (for timeouts). ``ScriptedModel`` is a responder that plays scripted replies
per (task, table), read from the prompt payload bqsynth sends, and otherwise answers like a
model that agrees with the offline engine's guesses shown in the prompt.

Use with ``google.oauth2.credentials.Credentials(token="test")``: anonymous credentials
cannot be refreshed and the client refuses them.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATH_RE = re.compile(
    r"^/v1beta1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
    r"/publishers/google/models/(?P<model>[^/:]+):generateContent$"
)


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    raw: bytes
    body: dict[str, Any]
    project: str | None = None
    location: str | None = None
    model: str | None = None

    @property
    def turns(self) -> list[tuple[str, str]]:
        """(role, text) of every content turn, in order."""
        return [
            (content.get("role", ""), "".join(part.get("text", "") for part in content.get("parts", [])))
            for content in self.body.get("contents", [])
        ]

    @property
    def system(self) -> str:
        parts = self.body.get("systemInstruction", {}).get("parts", [])
        return "".join(part.get("text", "") for part in parts)

    @property
    def text(self) -> str:
        """Every text the model is shown (system and turns): what leaves the process."""
        return self.system + "".join(text for _, text in self.turns)

    @property
    def payload(self) -> dict[str, Any]:
        """The JSON request bqsynth sends as its first user turn."""
        try:
            return json.loads(self.turns[0][1])
        except (IndexError, ValueError):
            return {}

    @property
    def task(self) -> str | None:
        return self.payload.get("task")

    @property
    def table(self) -> str | None:
        return self.payload.get("table")

    @property
    def is_repair(self) -> bool:
        return len(self.turns) > 1

    @property
    def generation_config(self) -> dict[str, Any]:
        return self.body.get("generationConfig", {})


@dataclass
class FakeReply:
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    delay: float = 0.0


def _candidate(text: str) -> dict[str, Any]:
    return {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}


def text_reply(text: str, prompt_tokens: int | None = 100, output_tokens: int = 50) -> FakeReply:
    """A 200 answer whose text is ``text`` (use it for invalid JSON); no usage when prompt_tokens is None."""
    body: dict[str, Any] = {"candidates": [_candidate(text)], "modelVersion": "fake"}
    if prompt_tokens is not None:
        body["usageMetadata"] = {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": output_tokens,
            "totalTokenCount": prompt_tokens + output_tokens,
        }
    return FakeReply(body=body)


def json_reply(answer: Any, prompt_tokens: int | None = 100, output_tokens: int = 50) -> FakeReply:
    return text_reply(json.dumps(answer), prompt_tokens, output_tokens)


_STATUS = {400: "INVALID_ARGUMENT", 408: "DEADLINE_EXCEEDED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}


def error_reply(status: int, message: str = "scripted error") -> FakeReply:
    return FakeReply(
        status=status,
        body={"error": {"code": status, "message": message, "status": _STATUS.get(status, "UNAVAILABLE")}},
    )


Responder = Callable[[RecordedRequest], FakeReply]


class FakeVertex:
    """The fake server; ``with FakeVertex(responder) as fake: ... fake.url ... fake.requests``."""

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the fake server is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeVertex:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                match = PATH_RE.match(self.path)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                request = RecordedRequest(
                    path=self.path,
                    headers=dict(self.headers.items()),
                    raw=raw,
                    body=body,
                    **(match.groupdict() if match else {}),
                )
                with fake._lock:
                    fake.requests.append(request)
                reply = fake.responder(request) if match else error_reply(404, f"unknown path {self.path}")
                if reply.delay:
                    time.sleep(reply.delay)
                data = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-vertex", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def calls(self, task: str | None = None, table: str | None = None) -> list[RecordedRequest]:
        return [r for r in self.requests if (task is None or r.task == task) and (table is None or r.table == table)]


# --- a scripted model -------------------------------------------------------------------------


def agreeing_answer(payload: dict[str, Any]) -> dict[str, Any]:
    """What a model that agrees with the offline engine answers (read from bqsynth's payload)."""
    task = payload.get("task")
    if task == "semantics":
        return {
            "table": payload["table"],
            "columns": [
                {"column": c["column"], "semantic_type": c["offline"], "human_name": c["column"].replace("_", " ")}
                for c in payload["columns"]
            ],
        }
    if task == "relationships":
        return {
            "relationships": [
                {
                    "action": "confirm",
                    "child_table": k["child_table"],
                    "child_column": k["child_column"],
                    "parent_table": k["parent_table"],
                    "parent_column": k["parent_column"],
                    "confidence": 0.9,
                    "evidence": "agrees with the known relationship",
                }
                for k in payload.get("known", [])
                if "," not in k["child_column"]
            ]
        }
    if task == "generation":
        return {"table": payload["table"], "columns": [], "rules": []}
    raise ValueError(f"unknown task in payload: {task!r}")


Scripted = FakeReply | Callable[[RecordedRequest], FakeReply]


class ScriptedModel:
    """Replies per (task, table) in order; when a script runs out, agrees with the offline engine."""

    def __init__(self, default: Responder | None = None) -> None:
        self.scripts: dict[tuple[str, str | None], list[Scripted]] = {}
        self.default = default or (lambda request: json_reply(agreeing_answer(request.payload)))
        self._lock = threading.Lock()

    def on(self, task: str, table: str | None, *replies: Scripted) -> ScriptedModel:
        self.scripts.setdefault((task, table), []).extend(replies)
        return self

    def __call__(self, request: RecordedRequest) -> FakeReply:
        with self._lock:
            queue = self.scripts.get((request.task or "", request.table), [])
            scripted = queue.pop(0) if queue else None
        if scripted is None:
            return self.default(request)
        return scripted(request) if callable(scripted) else scripted
