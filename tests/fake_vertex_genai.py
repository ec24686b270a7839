"""A local fake of Vertex AI's ``generateContent`` endpoint, answered through the real google-genai client.

``FakeVertex`` is an ``http.server`` on 127.0.0.1 (random port, its own thread) that
accepts what google-genai 2.34 sends in Vertex mode with ``HttpOptions(base_url=...)``::

    POST {base_url}/v1beta1/projects/P/locations/L/publishers/google/models/M:generateContent

It records every request (path, headers, JSON body) and answers with whatever its
responder returns: a JSON answer, raw text (e.g. invalid JSON), an HTTP error, optionally
after a delay (for timeouts).

Like Vertex AI, it first checks the request's ``generationConfig.responseSchema`` (and
``responseJsonSchema``) against the schema subset structured output supports
(``unsupported_schema_fields``). A schema with a field outside it is not refused: Vertex
answers such a request with HTTP 200 and a candidate without text, and so does the fake
(``unsupported_schema_reply``), without asking the responder. ``unsupported_schema="error"``
plays the older answer instead, an HTTP 501 naming the field.

``ScriptedModel`` is a responder that plays scripted replies per (task, table), read from
the prompt payload bqsynth sends, and otherwise answers like a model that agrees with the
offline engine's guesses shown in the prompt.

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
from typing import Any, Literal

# --- the response schema subset ----------------------------------------------------------------

# The fields of a ``responseSchema`` (Vertex's OpenAPI 3.0 ``Schema`` subset) that structured output
# honours, as "Supported schema fields" lists them in
# https://cloud.google.com/vertex-ai/generative-ai/docs/multimodal/control-generated-output
# (anyOf, enum, format, items, maximum, maxItems, minimum, minItems, nullable, properties,
# propertyOrdering, required), with ``type`` and ``description``, which the Gemini API's list adds,
# and the types each field applies to from that list
# (https://ai.google.dev/gemini-api/docs/structured-output#json-schemas). The Schema message itself
# (https://cloud.google.com/vertex-ai/generative-ai/docs/reference/rest/v1/Schema) accepts more
# (title, default, example, pattern, minLength, maxLength, minProperties, maxProperties,
# additionalProperties, ref, defs): the service parses them, so they are no HTTP 400, but
# structured output does not support them, and a schema using one is answered with an empty
# 200 (open-orbis/open-orbis#412 for additionalProperties from a Pydantic dict field;
# googleapis/python-genai#2889). In 2024 the service refused one instead, with "501 Unable to
# submit request because one or more response schemas specified unsupported field min_length"
# (GoogleCloudPlatform/vertex-ai-samples#3618, googleapis/python-aiplatform#4510).
SCHEMA_FIELDS_ANY_TYPE = frozenset({"type", "description", "nullable", "anyOf"})
SCHEMA_FIELDS_BY_TYPE: dict[str, frozenset[str]] = {
    "STRING": frozenset({"enum", "format"}),
    "INTEGER": frozenset({"enum", "format", "minimum", "maximum"}),
    "NUMBER": frozenset({"enum", "format", "minimum", "maximum"}),
    "BOOLEAN": frozenset(),
    "ARRAY": frozenset({"items", "minItems", "maxItems"}),
    "OBJECT": frozenset({"properties", "required", "propertyOrdering"}),
}
RESPONSE_SCHEMA_FIELDS = SCHEMA_FIELDS_ANY_TYPE.union(*SCHEMA_FIELDS_BY_TYPE.values())

# ``responseJsonSchema`` (JSON Schema, an alternative to responseSchema) supports only these, per
# GenerationConfig.responseJsonSchema in
# https://cloud.google.com/vertex-ai/generative-ai/docs/reference/rest/v1/GenerationConfig
JSON_SCHEMA_FIELDS = frozenset(
    {
        "$id", "$defs", "$ref", "$anchor", "type", "format", "title", "description", "enum", "items",
        "prefixItems", "minItems", "maxItems", "minimum", "maximum", "anyOf", "oneOf", "properties",
        "additionalProperties", "required", "propertyOrdering",
    }
)  # fmt: skip


def _camel(name: str) -> str:
    """Protobuf JSON accepts a field's proto name as well as its JSON name (``max_items`` = ``maxItems``)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def unsupported_schema_fields(schema: Any, path: str = "responseSchema") -> list[str]:
    """Every field of a ``responseSchema`` outside the supported subset, as ``path.field``, recursively.

    A field counts as unsupported where the subset does not list it for the schema's type
    (``minimum`` on a STRING, ``items`` on an OBJECT), as the documentation maps them.
    """
    if not isinstance(schema, dict):
        return [f"{path} (not a schema object)"]
    fields = {_camel(key): value for key, value in schema.items()}
    kind = str(fields.get("type", "")).upper()
    allowed = SCHEMA_FIELDS_ANY_TYPE | SCHEMA_FIELDS_BY_TYPE.get(kind, frozenset())
    found = [f"{path}.{name}" for name in fields if name not in allowed]
    for name, sub in (fields.get("properties") or {}).items():
        found += unsupported_schema_fields(sub, f"{path}.properties.{name}")
    if "items" in fields:
        found += unsupported_schema_fields(fields["items"], f"{path}.items")
    for i, sub in enumerate(fields.get("anyOf") or []):
        found += unsupported_schema_fields(sub, f"{path}.anyOf[{i}]")
    return found


def unsupported_json_schema_fields(schema: Any, path: str = "responseJsonSchema") -> list[str]:
    """The same for a ``responseJsonSchema`` (JSON Schema keywords keep their own spelling)."""
    if not isinstance(schema, dict):
        return [] if isinstance(schema, bool) else [f"{path} (not a schema object)"]
    found = [f"{path}.{name}" for name in schema if name not in JSON_SCHEMA_FIELDS]
    for keyword in ("properties", "$defs"):
        for name, sub in (schema.get(keyword) or {}).items():
            found += unsupported_json_schema_fields(sub, f"{path}.{keyword}.{name}")
    for keyword in ("items", "additionalProperties"):
        if keyword in schema:
            found += unsupported_json_schema_fields(schema[keyword], f"{path}.{keyword}")
    for keyword in ("prefixItems", "anyOf", "oneOf"):
        for i, sub in enumerate(schema.get(keyword) or []):
            found += unsupported_json_schema_fields(sub, f"{path}.{keyword}[{i}]")
    return found


def request_schema_problems(body: dict[str, Any]) -> list[str]:
    """The unsupported fields of a generateContent body's response schema (none without a schema)."""
    fields = {_camel(key): value for key, value in body.items()}
    config = {_camel(key): value for key, value in (fields.get("generationConfig") or {}).items()}
    found = []
    if "responseSchema" in config:
        found += unsupported_schema_fields(config["responseSchema"])
    if "responseJsonSchema" in config:
        found += unsupported_json_schema_fields(config["responseJsonSchema"])
    return found


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
    unsupported_schema_fields: list[str] = field(default_factory=list)

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


_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
}


def error_reply(status: int, message: str = "scripted error") -> FakeReply:
    return FakeReply(
        status=status,
        body={"error": {"code": status, "message": message, "status": _STATUS.get(status, "UNAVAILABLE")}},
    )


def unsupported_schema_reply(request: RecordedRequest, prompt_tokens: int = 100) -> FakeReply:
    """How Vertex answers a response schema with unsupported fields: HTTP 200, a candidate with no text.

    The reports (open-orbis/open-orbis#412: "HTTP 200 but empty response.text") show no error,
    no block reason and nothing in the text; the finish reason is an ordinary STOP.
    """
    candidate = {"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP"}
    usage = {"promptTokenCount": prompt_tokens, "candidatesTokenCount": 0, "totalTokenCount": prompt_tokens}
    return FakeReply(body={"candidates": [candidate], "usageMetadata": usage, "modelVersion": "fake"})


def unsupported_schema_error(request: RecordedRequest) -> FakeReply:
    """The answer Vertex gave in 2024 (vertex-ai-samples#3618): HTTP 501 naming the first unsupported field."""
    name = request.unsupported_schema_fields[0].rsplit(".", 1)[-1]
    message = (
        f"Unable to submit request because one or more response schemas specified unsupported field {name}. "
        "Learn more: https://cloud.google.com/vertex-ai/generative-ai/docs/multimodal/control-generated-output"
    )
    return FakeReply(status=501, body={"error": {"code": 501, "message": message, "status": "UNIMPLEMENTED"}})


Responder = Callable[[RecordedRequest], FakeReply]


class _QuietServer(ThreadingHTTPServer):
    """Handler threads outlive a test whose client gave up (a timeout test); socketserver's
    default prints their connection errors to whatever sys.stderr is then, a later test's capture."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None


class FakeVertex:
    """The fake server; ``with FakeVertex(responder) as fake: ... fake.url ... fake.requests``."""

    def __init__(self, responder: Responder, unsupported_schema: Literal["empty", "error"] = "empty") -> None:
        self.responder = responder
        self.unsupported_schema = unsupported_schema
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
                    unsupported_schema_fields=request_schema_problems(body),
                )
                with fake._lock:
                    fake.requests.append(request)
                if not match:
                    reply = error_reply(404, f"unknown path {self.path}")
                elif request.unsupported_schema_fields:  # the model never sees the request
                    error = fake.unsupported_schema == "error"
                    reply = unsupported_schema_error(request) if error else unsupported_schema_reply(request)
                else:
                    reply = fake.responder(request)
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

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
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
    if task == "headers":
        return {"columns": [c["offline_name"] for c in payload["columns"]]}
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


def quick_advisor(url: str, **overrides: Any) -> Any:
    """The real Gemini advisor, talking to a fake server at ``url``, with retries too short to wait for."""
    from google.oauth2.credentials import Credentials

    from bqsynth.llm import GeminiAdvisor, GeminiConfig

    config = GeminiConfig(
        project="test-project", base_url=url, initial_delay=0.01, max_delay=0.02, jitter=0.0, timeout_seconds=10
    ).model_copy(update=overrides)
    return GeminiAdvisor(config, credentials=Credentials(token="test"))
