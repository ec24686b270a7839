"""GeminiAdvisor's parsing and failure handling, with stub clients (the HTTP path is in tests/integration)."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import bqsynth
from bqsynth.llm import ACCESS_TOKEN_ENV, BASE_URL_ENV, GeminiAdvisor, GeminiConfig, LlmSettings, make_advisor
from bqsynth.llm.answers import SemanticsAnswer
from bqsynth.llm.base import Prompt, Turn
from bqsynth.llm.response_schema import response_schema

PROMPT = Prompt(task="semantics", table="T", system="s" * 40, turns=[Turn(role="user", text="u" * 60)])
GOOD = '{"table": "T", "columns": [{"column": "a", "semantic_type": "email", "human_name": "email"}]}'


class StubModels:
    def __init__(self, outcome: Any) -> None:
        self.outcome = outcome
        self.calls: list[dict[str, Any]] = []

    def generate_content(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def advisor(outcome: Any, **config: Any) -> tuple[GeminiAdvisor, StubModels]:
    models = StubModels(outcome)
    gemini = GeminiAdvisor(GeminiConfig(project="p", **config), client=SimpleNamespace(models=models))
    return gemini, models


def response(text: str | None, parsed: Any = None, total: int | None = 42, finish: str | None = None) -> Any:
    usage = SimpleNamespace(total_token_count=total) if total is not None else None
    candidates = [SimpleNamespace(finish_reason=finish)] if finish else []
    return SimpleNamespace(text=text, parsed=parsed, usage_metadata=usage, candidates=candidates)


def test_a_parsed_answer_is_used_with_measured_tokens() -> None:
    parsed = SemanticsAnswer.model_validate_json(GOOD)
    gemini, models = advisor(response(GOOD, parsed=parsed))
    reply = gemini.ask(PROMPT, SemanticsAnswer)
    assert reply.answer == parsed and reply.tokens == 42 and reply.tokens_measured and reply.error is None
    call = models.calls[0]
    assert call["model"] == "gemini-2.5-flash"
    config = call["config"]
    assert config.response_schema == response_schema(SemanticsAnswer)  # the subset Vertex supports
    assert config.response_mime_type == "application/json"
    assert config.system_instruction == PROMPT.system and config.temperature == 0.0
    assert [c.role for c in call["contents"]] == ["user"] and call["contents"][0].parts[0].text == "u" * 60


def test_text_is_validated_when_the_sdk_did_not_parse() -> None:
    gemini, _ = advisor(response(GOOD, parsed=None, total=None))
    reply = gemini.ask(PROMPT, SemanticsAnswer)
    assert reply.answer is not None and reply.answer.columns[0].semantic_type == "email"
    assert not reply.tokens_measured and reply.tokens == (PROMPT.chars + len(GOOD) + 3) // 4


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"table": "T", "columns": [', "Invalid JSON"),
        (GOOD.replace('"email", "human', '"password", "human'), "columns.0.semantic_type"),
        (GOOD.replace('"human_name": "email"', '"human_name": "e", "sql": "DROP"'), "Extra inputs"),
    ],
)
def test_schema_errors_are_repairable_errors(text: str, expected: str) -> None:
    gemini, _ = advisor(response(text))
    reply = gemini.ask(PROMPT, SemanticsAnswer)
    assert reply.answer is None and reply.failure is None and expected in reply.error and reply.text == text


def test_an_empty_answer_says_why() -> None:
    gemini, _ = advisor(response(None, finish="SAFETY"))
    reply = gemini.ask(PROMPT, SemanticsAnswer)
    assert reply.answer is None and "SAFETY" in reply.error


@pytest.mark.parametrize("finish", ["STOP", "FINISH_REASON_UNSPECIFIED"])
def test_an_empty_answer_that_simply_ended_is_a_failure_naming_the_schema(finish: str) -> None:
    """Vertex's answer to a response schema it does not support: repairing would get the same."""
    gemini, _ = advisor(response("", finish=finish, total=7))
    reply = gemini.ask(PROMPT, SemanticsAnswer)
    assert reply.answer is None and reply.error is None and reply.tokens == 7
    assert reply.failure.startswith(f"Gemini answered HTTP 200 with no text (finish reason {finish}): ")
    assert "the likely cause is a field in the response schema" in reply.failure


def test_api_and_transport_errors_are_failures_not_exceptions() -> None:
    from google.genai import errors

    server = errors.ServerError(503, {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}})
    gemini, _ = advisor(server)
    reply = gemini.ask(PROMPT, SemanticsAnswer)
    assert reply.failure == "Gemini answered HTTP 503 UNAVAILABLE: overloaded" and reply.tokens == 0
    gemini, _ = advisor(RuntimeError("no application default credentials"))
    assert "RuntimeError: no application default credentials" in gemini.ask(PROMPT, SemanticsAnswer).failure


def test_the_client_is_configured_for_vertex_with_retries_and_a_timeout() -> None:
    from google.oauth2.credentials import Credentials

    config = GeminiConfig(project="p", location="europe-west4", base_url="http://127.0.0.1:9", timeout_seconds=2.5)
    client = GeminiAdvisor(config, credentials=Credentials(token="t")).client()
    options = client._api_client._http_options
    assert client.vertexai and options.base_url == "http://127.0.0.1:9"
    assert options.timeout == 2500  # google-genai counts milliseconds
    assert options.retry_options.attempts == 4 and options.retry_options.http_status_codes == [
        408,
        429,
        500,
        502,
        503,
        504,
    ]
    assert GeminiConfig(project="p", thinking_budget=0).thinking_budget == 0


def test_environment_hooks_point_gemini_at_a_fake_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BASE_URL_ENV, "http://127.0.0.1:8123")
    monkeypatch.setenv(ACCESS_TOKEN_ENV, "test")
    gemini = make_advisor(LlmSettings(llm="gemini", project="p"))
    assert isinstance(gemini, GeminiAdvisor) and gemini.config.base_url == "http://127.0.0.1:8123"
    assert gemini._credentials.token == "test"
    explicit = make_advisor(LlmSettings(llm="gemini", project="p", base_url="http://127.0.0.1:1"))
    assert explicit.config.base_url == "http://127.0.0.1:1"


def _imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return modules


def test_the_removed_vertexai_sdk_is_never_imported() -> None:
    root = Path(bqsynth.__file__).parent.parent
    sources = [*root.joinpath("bqsynth").rglob("*.py"), *root.joinpath("components").rglob("*.py")]
    sources += [root / "pipeline.py", root / "submit.py"]
    offenders = {
        str(path): module
        for path in sources
        if path.exists()
        for module in _imported_modules(path)
        if "generative_models" in module
    }
    assert offenders == {}
