"""The Gemini advisor: Vertex AI through ``google-genai`` (never ``vertexai.generative_models``).

It is a thin transport: send the ``Prompt`` built by ``prompts`` (nothing else leaves the
process), ask for JSON constrained by the answer's Pydantic schema, and parse the reply.
All judgement about the answer happens in ``validate``.

google-genai 2.34 (pinned: aiplatform 2.7 needs google-genai<3) behaves as ECOSYSTEM.md
describes for 3.x, with these details that matter here:

* ``HttpOptions.timeout`` is in **milliseconds** (it is also sent as ``X-Server-Timeout`` in
  whole seconds); ``HttpRetryOptions(attempts=...)`` counts the first call, and retries also
  cover httpx connection errors and timeouts, with exponential backoff and jitter (tenacity);
* ``response.parsed`` is ``None``, without an exception, when the text is not valid JSON or
  does not validate against the schema: we validate ``response.text`` ourselves to get
  an error message a repair round can use;
* errors after retries: ``errors.ClientError`` (4xx, 429 included) and ``errors.ServerError``
  (5xx), both ``errors.APIError`` with ``code``/``status``/``message``; timeouts surface as
  ``httpx.TimeoutException``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError

from bqsynth.config import run_default
from bqsynth.llm.answers import GenerationAnswer, RelationshipsAnswer, SemanticsAnswer
from bqsynth.llm.base import (
    AnswerT,
    GenerationRequest,
    Prompt,
    RelationshipsRequest,
    Reply,
    SemanticsRequest,
    estimate_tokens,
)
from bqsynth.llm.response_schema import response_schema
from bqsynth.models import StrictModel

RETRY_STATUS_CODES = (408, 429, 500, 502, 503, 504)


class GeminiConfig(StrictModel):
    project: str
    location: str = run_default("llm_location")
    model: str = run_default("model")
    base_url: str | None = Field(default=None, description="Another endpoint (tests, private service connect)")
    timeout_seconds: float = Field(default=120.0, gt=0, description="Per HTTP attempt")
    attempts: int = Field(default=4, ge=1, description="HTTP attempts per call, the first included")
    initial_delay: float = Field(default=1.0, ge=0, description="Seconds before the first retry; doubles after")
    max_delay: float = Field(default=30.0, ge=0)
    jitter: float | None = Field(default=None, ge=0, description="Random extra seconds per retry (None: SDK's 1 s)")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_output_tokens: int = Field(default=8192, ge=256)
    thinking_budget: int | None = Field(default=None, ge=0, description="Cap on thinking tokens (None: model default)")


def _validation_summary(error: ValidationError, limit: int = 12) -> str:
    """Pydantic's errors as short lines a model can act on (where, what, the offending input)."""
    lines = []
    for item in error.errors()[:limit]:
        where = ".".join(str(part) for part in item["loc"]) or "answer"
        shown = repr(item.get("input"))
        lines.append(f"{where}: {item['msg']} (got {shown[:80]})")
    more = len(error.errors()) - limit
    return "; ".join(lines) + (f"; and {more} more" if more > 0 else "")


class GeminiAdvisor:
    """Plan advice from Gemini on Vertex AI; never raises for a failed or bad answer."""

    metered = True

    def __init__(self, config: GeminiConfig, credentials: Any = None, client: Any = None) -> None:
        self.config = config
        self.name = f"gemini:{config.model}"
        self._credentials = credentials
        self._client = client

    def client(self) -> Any:
        """The genai client, created on first use (importing google.genai costs time)."""
        if self._client is None:
            from google import genai
            from google.genai import types

            config = self.config
            self._client = genai.Client(
                vertexai=True,
                project=config.project,
                location=config.location,
                credentials=self._credentials,
                http_options=types.HttpOptions(
                    base_url=config.base_url,
                    timeout=int(config.timeout_seconds * 1000),  # milliseconds in google-genai
                    retry_options=types.HttpRetryOptions(
                        attempts=config.attempts,
                        initial_delay=config.initial_delay,
                        max_delay=config.max_delay,
                        jitter=config.jitter,
                        http_status_codes=list(RETRY_STATUS_CODES),
                    ),
                ),
            )
        return self._client

    def advise_semantics(self, request: SemanticsRequest) -> Reply[SemanticsAnswer]:
        return self.ask(request.prompt, SemanticsAnswer)

    def advise_relationships(self, request: RelationshipsRequest) -> Reply[RelationshipsAnswer]:
        return self.ask(request.prompt, RelationshipsAnswer)

    def advise_generation(self, request: GenerationRequest) -> Reply[GenerationAnswer]:
        return self.ask(request.prompt, GenerationAnswer)

    def ask(self, prompt: Prompt, schema: type[AnswerT]) -> Reply[AnswerT]:
        """One structured-output call; the reply carries the answer, a repairable error or a failure."""
        from google.genai import errors, types

        config = types.GenerateContentConfig(
            system_instruction=prompt.system,
            response_mime_type="application/json",
            response_schema=response_schema(schema),
            temperature=self.config.temperature,
            max_output_tokens=self.config.max_output_tokens,
            thinking_config=(
                types.ThinkingConfig(thinking_budget=self.config.thinking_budget)
                if self.config.thinking_budget is not None
                else None
            ),
        )
        contents = [types.Content(role=turn.role, parts=[types.Part(text=turn.text)]) for turn in prompt.turns]
        try:
            response = self.client().models.generate_content(model=self.config.model, contents=contents, config=config)
        except errors.APIError as error:
            return Reply(failure=f"Gemini answered HTTP {error.code} {error.status or ''}: {error.message}"[:400])
        except Exception as error:  # timeouts, connection and auth errors: the advisor must not stop planning
            return Reply(failure=f"Gemini call failed: {type(error).__name__}: {error}"[:400])
        return self._reply(prompt, schema, response)

    def _reply(self, prompt: Prompt, schema: type[AnswerT], response: Any) -> Reply[AnswerT]:
        text = _text_of(response)
        usage = getattr(response, "usage_metadata", None)
        measured = getattr(usage, "total_token_count", None) if usage is not None else None
        tokens = int(measured) if measured else estimate_tokens(prompt.chars + len(text))
        parsed = getattr(response, "parsed", None)
        if isinstance(parsed, schema):
            return Reply(answer=parsed, text=text, tokens=tokens, tokens_measured=bool(measured))
        if not text.strip():
            reason = _finish_reason(response)
            return Reply(error=f"empty answer{f' (finish reason {reason})' if reason else ''}", tokens=tokens)
        try:
            answer = schema.model_validate_json(text)
        except ValidationError as error:
            return Reply(text=text, error=_validation_summary(error), tokens=tokens, tokens_measured=bool(measured))
        return Reply(answer=answer, text=text, tokens=tokens, tokens_measured=bool(measured))


def _text_of(response: Any) -> str:
    try:
        return response.text or ""
    except (ValueError, AttributeError):  # no candidates (blocked) or no text parts
        return ""


def _finish_reason(response: Any) -> str | None:
    candidates = getattr(response, "candidates", None) or []
    reason = getattr(candidates[0], "finish_reason", None) if candidates else None
    return str(reason) if reason else None
