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
  ``httpx.TimeoutException``, an endpoint nobody answers on as ``httpx.ConnectError``, and no
  application default credentials as ``google.auth.exceptions.DefaultCredentialsError``;
* a Pydantic class as ``response_schema`` is sent with fields Vertex's structured output does
  not support (``title``, ``default``, ``maxLength``, ``additionalProperties``), and Vertex
  answers such a schema with HTTP 200 and no text: ``response_schema`` sends the subset.

Every failure says its likely cause and what to do (``describe_failure``): the plan step
prints it on the terminal, since a run that quietly plans offline looks like a working one.
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
SCHEMA_DOC = "https://cloud.google.com/vertex-ai/generative-ai/docs/multimodal/control-generated-output"
# Finish reasons of an answer that simply ended: no text with one of them is not the model's choice.
_ENDED = {None, "STOP", "FINISH_REASON_UNSPECIFIED"}


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
            return Reply(failure=describe_failure(error, self.config))
        except Exception as error:  # timeouts, connection and auth errors: the advisor must not stop planning
            return Reply(failure=describe_failure(error, self.config))
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
            if reason in _ENDED and _block_reason(response) is None:
                # Not the model's doing (nothing was blocked or cut): asking again gets the same.
                return Reply(failure=empty_answer_failure(reason), tokens=tokens, tokens_measured=bool(measured))
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
    if reason is None:
        return None
    return str(getattr(reason, "value", reason))  # google-genai's FinishReason enum, or a plain string


def _block_reason(response: Any) -> str | None:
    if not (getattr(response, "candidates", None) or []):
        return "no candidates"  # a blocked prompt, or an answer without any candidate
    feedback = getattr(response, "prompt_feedback", None)
    reason = getattr(feedback, "block_reason", None) if feedback is not None else None
    return str(reason) if reason else None


def empty_answer_failure(finish_reason: str | None) -> str:
    """An HTTP 200 without text that nothing blocked: the mark of a response schema Vertex does not support."""
    return (
        f"Gemini answered HTTP 200 with no text (finish reason {finish_reason or 'none'}): the likely cause is "
        "a field in the response schema that Vertex AI's structured output does not support, which it answers "
        f"so ({SCHEMA_DOC}); bqsynth sends only supported fields: is google-genai the pinned version?"
    )


def _endpoint(config: GeminiConfig) -> str:
    if config.base_url:
        return config.base_url
    regional = "" if config.location == "global" else f"{config.location}-"
    return f"https://{regional}aiplatform.googleapis.com"


def describe_failure(error: BaseException, config: GeminiConfig) -> str:
    """Why a Gemini call failed, in words a user can act on: the cause, then what to check."""
    from google.auth import exceptions as auth_errors
    from google.genai import errors

    detail = f"{type(error).__name__}: {str(error).strip() or repr(error)}"
    where = f"project {config.project}, location {config.location}, model {config.model}"
    if isinstance(error, auth_errors.DefaultCredentialsError):
        text = (
            f"no Google Cloud credentials for Vertex AI ({detail}): run `gcloud auth application-default login`, "
            "or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, or use --llm offline"
        )
    elif isinstance(error, auth_errors.GoogleAuthError):
        text = (
            f"the Google Cloud credentials could not be used ({detail}): "
            "run `gcloud auth application-default login` again, or use --llm offline"
        )
    elif isinstance(error, errors.APIError):
        text = _describe_api_error(error, config, where)
    elif _is_connection_error(error):
        text = (
            f"cannot reach Vertex AI at {_endpoint(config)} ({detail}) after {config.attempts} attempt(s): "
            f"check the network and proxy, and that --llm-location {config.location} serves Gemini"
        )
    elif _is_timeout(error):
        text = (
            f"Vertex AI at {_endpoint(config)} did not answer within {config.timeout_seconds:g} s "
            f"({config.attempts} attempt(s), {detail})"
        )
    else:
        text = f"Gemini call failed: {detail}"
    return text[:600]


def _describe_api_error(error: Any, config: GeminiConfig, where: str) -> str:
    said = f"Gemini answered HTTP {error.code} {error.status or ''}".rstrip() + f": {error.message}"
    message = str(error.message or "")
    if "unsupported field" in message or (error.code == 501 and "schema" in message):
        return f"{said}; the response schema uses a field Vertex AI does not support ({SCHEMA_DOC})"
    hints = {
        401: "the credentials were refused: run `gcloud auth application-default login` again",
        403: f"permission denied ({where}): the caller needs roles/aiplatform.user and the Vertex AI API "
        "(aiplatform.googleapis.com) enabled in the project",
        404: f"model not found ({where}): check --model and --llm-location, and that the project may use the model",
        429: f"quota exhausted after {config.attempts} attempt(s): raise the Vertex AI quota or try again later",
    }
    hint = hints.get(error.code)
    return f"{said}; {hint}" if hint else said


def _is_connection_error(error: BaseException) -> bool:
    import httpx

    return isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, ConnectionError))


def _is_timeout(error: BaseException) -> bool:
    import httpx

    return isinstance(error, (httpx.TimeoutException, TimeoutError))
