"""The response schema Gemini is sent: an answer model's JSON schema, cut to what Vertex AI supports.

Vertex AI's structured output supports a subset of the OpenAPI 3.0 ``Schema`` it accepts
("Supported schema fields" in
https://cloud.google.com/vertex-ai/generative-ai/docs/multimodal/control-generated-output, with
``type`` and ``description``; the types each field applies to as
https://ai.google.dev/gemini-api/docs/structured-output#json-schemas maps them). A schema that
uses any other field is not refused: the service answers HTTP 200 with no text
(open-orbis/open-orbis#412, googleapis/python-genai#2889). Handing google-genai 2.34 a Pydantic
class sends ``title`` on every node, ``default`` where a field has one, ``maxLength`` from
``max_length`` and ``additionalProperties`` from ``extra="forbid"``: all outside the subset.

So ``response_schema`` builds the schema from the model's JSON schema itself and keeps only
``SUPPORTED_FIELDS``: ``$ref`` inlined, ``Optional[X]`` as X with ``nullable``, ``Literal`` as
``enum``, the property order as ``propertyOrdering``. A string's length bound is not dropped
silently: it is said in the description, and the answer is validated against the model anyway
(``GeminiAdvisor`` validates the text), so a too-long value still goes back for repair.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from pydantic import BaseModel

SUPPORTED_FIELDS = frozenset(
    {
        "type",
        "description",
        "nullable",
        "anyOf",
        "enum",
        "format",
        "minimum",
        "maximum",
        "items",
        "minItems",
        "maxItems",
        "properties",
        "required",
        "propertyOrdering",
    }
)

JsonSchema = dict[str, Any]


def response_schema(model: type[BaseModel]) -> JsonSchema:
    """``model``'s schema in Vertex's supported subset (camelCase fields, upper-case types).

    A fresh copy each time: google-genai rewrites a dict schema in place.
    """
    return copy.deepcopy(_converted(model))


@cache
def _converted(model: type[BaseModel]) -> JsonSchema:
    root = model.model_json_schema()
    return _convert(root, root.get("$defs", {}))


def _resolved(node: JsonSchema, defs: dict[str, JsonSchema]) -> JsonSchema:
    """``node`` with its ``$ref`` replaced by the definition; the node's own keys (its description) win."""
    ref = node.get("$ref")
    if ref is None:
        return node
    own = {key: value for key, value in node.items() if key != "$ref"}
    return {**defs[ref.rsplit("/", 1)[-1]], **own}


def _convert(node: JsonSchema, defs: dict[str, JsonSchema]) -> JsonSchema:
    node = _resolved(node, defs)
    if "anyOf" in node:
        return _convert_union(node, defs)
    kind = str(node.get("type", "")).upper()
    out: JsonSchema = {"type": kind} if kind else {}
    notes: list[str] = []
    if "const" in node:  # a Literal of one value
        out["enum"] = [str(node["const"])]
    if "enum" in node:
        out["enum"] = [str(value) for value in node["enum"]]
    if "format" in node and kind in ("STRING", "INTEGER", "NUMBER"):
        out["format"] = node["format"]
    if kind in ("INTEGER", "NUMBER"):
        out.update({key: node[key] for key in ("minimum", "maximum") if key in node})
        notes += [f"{words} {node[key]}" for key, words in _EXCLUSIVE.items() if key in node]
    if kind == "STRING":
        notes += [f"{words} {node[key]} characters" for key, words in _LENGTHS.items() if key in node]
        if "pattern" in node:
            notes.append(f"matching the regular expression {node['pattern']}")
    if kind == "ARRAY":
        if "items" in node:
            out["items"] = _convert(node["items"], defs)
        out.update({key: node[key] for key in ("minItems", "maxItems") if key in node})
    if kind == "OBJECT":
        properties = {name: _convert(sub, defs) for name, sub in node.get("properties", {}).items()}
        out["properties"] = properties
        required = [name for name in node.get("required", []) if name in properties]
        if required:
            out["required"] = required
        # The order fields are declared in; Vertex otherwise orders them alphabetically.
        out["propertyOrdering"] = list(properties)
    description = _described(node.get("description"), notes)
    if description:
        out["description"] = description
    return out


def _convert_union(node: JsonSchema, defs: dict[str, JsonSchema]) -> JsonSchema:
    """``X | None`` as X with ``nullable``; a wider union as ``anyOf`` of its converted options."""
    options = [option for option in node["anyOf"] if option.get("type") != "null"]
    nullable = len(options) < len(node["anyOf"])
    outer = {key: value for key, value in node.items() if key not in ("anyOf", "default", "title")}
    if len(options) == 1:
        inner = _resolved(options[0], defs)
        out = _convert({**inner, **outer, "description": outer.get("description", inner.get("description"))}, defs)
        if out.get("description") is None:
            out.pop("description", None)
    else:
        out = {"anyOf": [_convert(option, defs) for option in options]}
        if outer.get("description"):
            out["description"] = outer["description"]
    if nullable:
        out["nullable"] = True
    return out


_EXCLUSIVE = {"exclusiveMinimum": "greater than", "exclusiveMaximum": "less than"}
_LENGTHS = {"minLength": "at least", "maxLength": "at most"}


def _described(text: str | None, notes: list[str]) -> str:
    """The field's description, with the bounds the subset cannot express said in words."""
    said = "; ".join(notes)
    if not text or not text.strip():
        return said
    return f"{text.strip()} ({said})" if said else text.strip()
