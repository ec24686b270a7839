"""Every response schema bqsynth sends passes the subset Vertex AI's structured output supports.

Vertex answers a schema with a field outside the subset with HTTP 200 and no text, not an
error (the subset and the evidence are in tests/fake_vertex_genai.py). The schemas are
enumerated from the advisor interface (one per ``advise_*`` question), captured as the real
google-genai client puts them on the wire to a local fake server, and checked with the fake's
statement of the subset, not with bqsynth's own converter.
"""

from __future__ import annotations

import typing
from types import SimpleNamespace
from typing import Any, Literal

import pytest
from google.oauth2.credentials import Credentials
from pydantic import BaseModel, Field

from bqsynth.llm import GeminiAdvisor, GeminiConfig
from bqsynth.llm.base import PlanAdvisor, Prompt, Turn
from bqsynth.llm.response_schema import SUPPORTED_FIELDS, response_schema
from tests.fake_vertex_genai import (
    RESPONSE_SCHEMA_FIELDS,
    FakeVertex,
    RecordedRequest,
    request_schema_problems,
    text_reply,
    unsupported_schema_fields,
)

ADVISE_METHODS = sorted(name for name in vars(PlanAdvisor) if name.startswith("advise_"))
PROMPT = Prompt(task="semantics", system="s", turns=[Turn(role="user", text="u")])


def answer_model(method: str) -> type[BaseModel]:
    """The answer model an ``advise_*`` question returns, read from the interface's annotation."""
    reply = typing.get_type_hints(getattr(PlanAdvisor, method))["return"]
    (model,) = typing.get_args(reply)
    return model


def gemini(fake: FakeVertex) -> GeminiAdvisor:
    return GeminiAdvisor(GeminiConfig(project="p", base_url=fake.url, attempts=1), credentials=Credentials(token="t"))


@pytest.fixture(scope="module")
def sent() -> dict[str, RecordedRequest]:
    """Each advise_* question asked once through the real client: what went over the wire."""
    with FakeVertex(lambda request: text_reply("{}")) as fake:
        advisor = gemini(fake)
        for method in ADVISE_METHODS:
            getattr(advisor, method)(SimpleNamespace(prompt=PROMPT))  # only the prompt is sent
    assert len(fake.requests) == len(ADVISE_METHODS)
    return dict(zip(ADVISE_METHODS, fake.requests, strict=True))


def test_the_questions_are_enumerated_from_the_interface() -> None:
    assert ADVISE_METHODS == ["advise_generation", "advise_relationships", "advise_semantics"]
    assert all(issubclass(answer_model(m), BaseModel) for m in ADVISE_METHODS)


@pytest.mark.parametrize("method", ADVISE_METHODS)
def test_every_schema_bqsynth_sends_passes_the_vertex_subset(sent: dict[str, RecordedRequest], method: str) -> None:
    request = sent[method]
    schema = request.generation_config["responseSchema"]
    assert unsupported_schema_fields(schema) == []
    assert request.unsupported_schema_fields == [] and request_schema_problems(request.body) == []
    # It is the question's answer model, field for field, in declaration order.
    fields = list(answer_model(method).model_fields)
    assert list(schema["properties"]) == fields
    assert schema.get("propertyOrdering", schema.get("property_ordering")) == fields


def test_bqsynth_keeps_to_the_fields_the_fake_models() -> None:
    assert SUPPORTED_FIELDS == RESPONSE_SCHEMA_FIELDS


def test_the_check_finds_what_a_pydantic_class_sends() -> None:
    """The check is not vacuous: google-genai's own conversion of the same model fails it."""
    from google.genai import types

    model = answer_model("advise_semantics")
    with FakeVertex(lambda request: text_reply("{}")) as fake:
        config = types.GenerateContentConfig(response_mime_type="application/json", response_schema=model)
        advisor = gemini(fake)  # kept: the client closes with its advisor
        response = advisor.client().models.generate_content(model="m", contents="x", config=config)
    found = fake.requests[0].unsupported_schema_fields
    assert {"responseSchema.additionalProperties", "responseSchema.title"} <= set(found)
    assert "responseSchema.properties.columns.items.properties.human_name.maxLength" in found
    assert "responseSchema.properties.columns.items.properties.confidence.default" in found
    # ... and the fake answers as Vertex does: HTTP 200, a candidate, no text.
    assert not response.text and response.candidates[0].finish_reason.value == "STOP"


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "OBJECT", "properties": {"a": {"type": "STRING"}}, "required": ["a"]}, []),
        ({"type": "OBJECT", "additionalProperties": False}, ["s.additionalProperties"]),
        ({"type": "OBJECT", "additional_properties": True}, ["s.additionalProperties"]),  # proto name, same field
        ({"type": "STRING", "title": "A", "default": "x"}, ["s.title", "s.default"]),
        ({"type": "STRING", "max_length": 3, "pattern": "a+"}, ["s.maxLength", "s.pattern"]),
        ({"type": "STRING", "minimum": 1}, ["s.minimum"]),  # a field of another type
        ({"type": "ARRAY", "items": {"$ref": "#/$defs/X"}}, ["s.items.$ref"]),
        ({"anyOf": [{"type": "INTEGER", "minimum": 0}, {"type": "STRING", "example": "x"}]}, ["s.anyOf[1].example"]),
        ({"type": "ARRAY", "items": {"type": "INTEGER", "format": "int64"}, "min_items": 1, "maxItems": 2}, []),
    ],
)
def test_the_subset_check(schema: dict[str, Any], expected: list[str]) -> None:
    assert unsupported_schema_fields(schema, "s") == expected


def test_a_json_schema_is_checked_against_its_own_list() -> None:
    ok = {"type": "object", "properties": {"a": {"type": "string", "title": "A"}}, "additionalProperties": False}
    assert request_schema_problems({"generationConfig": {"responseJsonSchema": ok}}) == []
    bad = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 3}}}
    assert request_schema_problems({"generation_config": {"response_json_schema": bad}}) == [
        "responseJsonSchema.properties.a.maxLength"
    ]


class Child(BaseModel):
    name: str = Field(max_length=10, description="A name")


class Sample(BaseModel):
    kind: Literal["a", "b"]
    one: Literal["x"] = "x"
    child: Child
    maybe: int | None = Field(default=None, ge=1, le=5, description="Optional")
    children: list[Child] = Field(default_factory=list, max_length=3)
    bare: str = Field(default="", max_length=7)


def test_the_conversion_keeps_meaning_in_supported_fields() -> None:
    schema = response_schema(Sample)
    assert unsupported_schema_fields(schema) == []
    props = schema["properties"]
    assert schema["required"] == ["kind", "child"] and schema["propertyOrdering"] == list(Sample.model_fields)
    assert props["kind"] == {"type": "STRING", "enum": ["a", "b"]} and props["one"]["enum"] == ["x"]
    assert props["child"]["properties"]["name"] == {"type": "STRING", "description": "A name (at most 10 characters)"}
    assert props["maybe"] == {
        "type": "INTEGER",
        "minimum": 1,
        "maximum": 5,
        "description": "Optional",
        "nullable": True,
    }
    assert props["children"]["maxItems"] == 3 and props["children"]["items"]["type"] == "OBJECT"
    assert props["bare"] == {"type": "STRING", "description": "at most 7 characters"}
    # A fresh copy each call: google-genai rewrites a dict schema in place.
    schema["properties"].clear()
    assert response_schema(Sample)["properties"]
