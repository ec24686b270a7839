"""Check that a Snowfakery recipe stays inside the surface bqsynth compiles: nothing else runs.

A recipe is code. Snowfakery imports every declared ``plugin:`` module, reads every
``include_file`` and renders any string containing a Jinja delimiter, and it does the
first two while *parsing*, before its own validation. So a recipe whose content was
influenced by a model (which reads untrusted source values) must be checked before
Snowfakery ever sees it. :func:`check_recipe` accepts exactly the shape that
``recipe.compile_recipe`` emits and nothing more:

* the only plugin is ``bqsynth.generation.snowfakery_plugin.Bqsynth``; no ``include_file``, ``macro``,
  ``var``, ``for_each``, ``friends`` or any other statement or keyword;
* the options are our four shard options, with string defaults;
* exactly one ``object`` whose ``count`` is the compiled ``${{ row_count | int }}``;
* every field is null or one ``Bqsynth.<function>`` call (the functions compile_recipe
  emits), with only that function's parameters; nested calls only where the plugin takes a
  definition (``null_or.value``, ``rare_or.value`` and ``other``, ``array.element``); ``fake`` only with an allowlisted
  provider; JSON parameters must be JSON;
* no template delimiter (``${{``, ``${%``, ``<<``, ``<%``) anywhere, in parsed keys or values
  or in the raw text (comments included), except the one compiled ``count`` expression;
* plain YAML only: no tags, anchors or aliases (``<<:`` merge keys are delimiters too).

Snowfakery's own built-ins (``fake:``, ``random_choice``, ``reference`` ...) are not needed by
compiled recipes, so they are not allowed: the smallest surface is the one to review.
The function is pure and returns every problem found (empty list = safe).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from typing import Any

import yaml

from bqsynth.generation.recipe import PLUGIN
from bqsynth.generation.snowfakery_plugin import (
    EXCLUSIONS_OPTION,
    ROW_COUNT_OPTION,
    SEED_OPTION,
    START_INDEX_OPTION,
    Bqsynth,
)
from bqsynth.models import TEMPORAL_TYPES
from bqsynth.semantics import PROVIDER_ALLOWLIST

# Both delimiter pairs Snowfakery's Jinja environments recognise (block and variable starts).
TEMPLATE_DELIMITERS = ("${{", "${%", "<<", "<%")
COUNT_EXPRESSION = "${{ " + ROW_COUNT_OPTION + " | int }}"
OPTIONS = frozenset({SEED_OPTION, START_INDEX_OPTION, ROW_COUNT_OPTION, EXCLUSIONS_OPTION})
PLUGIN_PREFIX = "Bqsynth."

# Parameters that take a nested field definition (the plugin evaluates them lazily).
NESTED_PARAMETERS: dict[str, frozenset[str]] = {
    "null_or": frozenset({"value"}),
    "rare_or": frozenset({"value", "other"}),
    "array": frozenset({"element"}),
}
# Parameters the plugin decodes with json.loads, and the JSON type each must hold.
JSON_PARAMETERS: dict[str, type] = {
    "prefix": str,
    "pattern": str,
    "values": list,
    "weights": list,
    "quantiles": list,
    "lengths": list,
    "length_weights": list,
    "spec": dict,
    "shapes": list,
}
# Functions whose every parameter is a nested definition, named freely (a record's fields).
NESTED_FUNCTIONS = frozenset({"record"})
# libyaml's safe loader when present (10x faster on large categorical lists); same grammar.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STANDARD_TAGS = frozenset(
    {
        "tag:yaml.org,2002:str",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:null",
        "tag:yaml.org,2002:seq",
        "tag:yaml.org,2002:map",
    }
)


def _plugin_functions() -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """Public plugin functions -> (all parameters, required parameters), read from the plugin itself.

    Reading the signatures keeps this allowlist and the plugin in step: a parameter the
    plugin does not take is refused here rather than failing (or worse) at generation.
    """
    functions: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
    for name, member in vars(Bqsynth.Functions).items():
        if name.startswith("_") or not callable(member):
            continue
        parameters = [p for p in inspect.signature(member).parameters.values() if p.name != "self"]
        functions[name] = (
            frozenset(p.name for p in parameters),
            frozenset(p.name for p in parameters if p.default is inspect.Parameter.empty),
        )
    return functions


PLUGIN_FUNCTIONS = _plugin_functions()
ALLOWED_FUNCTIONS = frozenset(PLUGIN_PREFIX + name for name in PLUGIN_FUNCTIONS)


def check_recipe(text: str) -> list[str]:
    """Every reason ``text`` is not a recipe bqsynth would compile; empty when it is safe to run."""
    problems = list(_raw_text_problems(text))
    yaml_problems = list(_yaml_node_problems(text))
    if yaml_problems:
        return problems + yaml_problems
    document = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    problems += _document_problems(document)
    # The same problem can be found by several passes; report it once, in order.
    return list(dict.fromkeys(problems))


def _raw_text_problems(text: str) -> Iterator[str]:
    """Delimiters anywhere in the text, comments included: only the compiled count may hold one."""
    remainder = text.replace(f"count: {COUNT_EXPRESSION}", "count: <compiled count>", 1)
    for delimiter in TEMPLATE_DELIMITERS:
        if delimiter in remainder:
            yield f"template delimiter {delimiter!r} found in the recipe text (only the compiled count may hold one)"


def _yaml_node_problems(text: str) -> Iterator[str]:
    """Plain YAML only: tags could construct objects, anchors and aliases could blow up memory."""
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            if getattr(event, "anchor", None) is not None:
                yield f"YAML anchor or alias {event.anchor!r} (line {event.start_mark.line + 1}) is not allowed"
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as error:
        yield f"not valid YAML: {error}"
        return
    if node is not None:
        yield from _tag_problems(node)


def _tag_problems(node: yaml.Node) -> Iterator[str]:
    if node.tag not in _STANDARD_TAGS:
        yield f"YAML tag {node.tag!r} (line {node.start_mark.line + 1}) is not allowed"
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _tag_problems(item)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from _tag_problems(key)
            yield from _tag_problems(value)


def _document_problems(document: Any) -> list[str]:
    if not isinstance(document, list) or not document:
        return ["a recipe must be a non-empty list of statements"]
    problems: list[str] = []
    plugins = objects = 0
    options: list[str] = []
    for index, statement in enumerate(document):
        where = f"statement {index + 1}"
        if not isinstance(statement, dict):
            problems.append(f"{where}: must be a mapping, got {type(statement).__name__}")
            continue
        keys = set(statement)
        if "plugin" in keys:
            plugins += 1
            if keys != {"plugin"}:
                problems.append(f"{where}: a plugin statement takes nothing but the plugin name")
            if statement.get("plugin") != PLUGIN:
                problems.append(f"{where}: plugin {statement.get('plugin')!r} is not allowed (only {PLUGIN})")
        elif "option" in keys:
            options.append(str(statement.get("option")))
            problems += _option_problems(statement, where)
        elif "object" in keys:
            objects += 1
            problems += _object_problems(statement, where)
        elif "include_file" in keys:
            problems.append(f"{where}: include_file is not allowed (recipes may not read files)")
        else:
            problems.append(f"{where}: statement {sorted(map(str, keys))} is not allowed")
    if plugins != 1:
        problems.append(f"the recipe must declare the {PLUGIN} plugin exactly once (found {plugins})")
    if objects != 1:
        problems.append(f"the recipe must define exactly one object (found {objects})")
    if sorted(options) != sorted(OPTIONS):
        problems.append(f"the recipe must declare the options {sorted(OPTIONS)} once each (found {sorted(options)})")
    return problems


def _option_problems(statement: dict[str, Any], where: str) -> list[str]:
    problems: list[str] = []
    if set(statement) != {"option", "default"}:
        problems.append(f"{where}: an option takes exactly 'option' and 'default'")
    if statement.get("option") not in OPTIONS:
        problems.append(f"{where}: option {statement.get('option')!r} is not one of {sorted(OPTIONS)}")
    default = statement.get("default")
    if not isinstance(default, str):
        problems.append(f"{where}: option defaults must be strings (falsy values count as missing)")
    else:
        problems += _string_problems(default, f"{where} default")
    return problems


def _object_problems(statement: dict[str, Any], where: str) -> list[str]:
    problems: list[str] = []
    extra = set(statement) - {"object", "count", "fields"}
    if extra:
        problems.append(f"{where}: object keywords {sorted(map(str, extra))} are not allowed")
    name = statement.get("object")
    if not isinstance(name, str) or not name:
        problems.append(f"{where}: the object needs a name")
    else:
        problems += _string_problems(name, f"{where} object name")
    if statement.get("count") != COUNT_EXPRESSION:
        problems.append(f"{where}: count must be exactly {COUNT_EXPRESSION!r}")
    fields = statement.get("fields")
    if not isinstance(fields, dict):
        problems.append(f"{where}: fields must be a mapping of field name to definition")
        return problems
    for field, definition in fields.items():
        label = f"field {field!r}"
        if not isinstance(field, str):
            problems.append(f"{label}: field names must be strings")
            continue
        problems += _string_problems(field, f"{label} name")
        if definition is not None:
            problems += _definition_problems(definition, label)
    return problems


def _definition_problems(definition: Any, where: str) -> list[str]:
    """One ``Bqsynth.<function>: {parameter: value}`` call, recursively for nested definitions."""
    if not isinstance(definition, dict) or len(definition) != 1:
        return [f"{where}: a field must be null or exactly one Bqsynth.* call, got {_clipped_repr(definition)}"]
    ((function, arguments),) = definition.items()
    if function not in ALLOWED_FUNCTIONS:
        return [f"{where}: function {function!r} is not allowed (allowed: {sorted(ALLOWED_FUNCTIONS)})"]
    name = function.removeprefix(PLUGIN_PREFIX)
    if not isinstance(arguments, dict):
        return [f"{where}: {function} takes named parameters, got {_clipped_repr(arguments)}"]
    if name in NESTED_FUNCTIONS:
        return _record_problems(arguments, f"{where} {function}")
    accepted, required = PLUGIN_FUNCTIONS[name]
    problems: list[str] = []
    unknown = set(arguments) - accepted
    if unknown:
        problems.append(f"{where}: {function} has no parameter(s) {sorted(map(str, unknown))}")
    missing = required - set(arguments)
    if missing:
        problems.append(f"{where}: {function} needs {sorted(missing)}")
    nested = NESTED_PARAMETERS.get(name, frozenset())
    for parameter, value in arguments.items():
        label = f"{where} {function}.{parameter}"
        if parameter in nested:
            if value is not None:
                problems += _definition_problems(value, label)
            continue
        if isinstance(value, (dict, list)):
            problems.append(f"{label}: must be a plain value, got {_clipped_repr(value)}")
            continue
        if isinstance(value, str):
            problems += _string_problems(value, label)
            problems += _json_problems(parameter, value, label)
    if name == "fake" and arguments.get("provider") not in PROVIDER_ALLOWLIST:
        problems.append(f"{where}: Faker provider {arguments.get('provider')!r} is not allowlisted")
    if name == "temporal" and arguments.get("type") not in TEMPORAL_TYPES:
        problems.append(f"{where}: temporal type {arguments.get('type')!r} is not one of {sorted(TEMPORAL_TYPES)}")
    return problems


def _record_problems(fields: dict[Any, Any], where: str) -> list[str]:
    """A record's fields: each a plain name and null or one nested definition."""
    problems: list[str] = []
    for field, definition in fields.items():
        if not isinstance(field, str) or not field.isidentifier():
            problems.append(f"{where}: field name {_clipped_repr(field)} is not a plain name")
            continue
        if definition is not None:
            problems += _definition_problems(definition, f"{where}.{field}")
    return problems


def _json_problems(parameter: str, value: str, label: str) -> list[str]:
    expected = JSON_PARAMETERS.get(parameter)
    if expected is None:
        return []
    try:
        decoded = json.loads(value)
    except ValueError:
        return [f"{label}: must be a JSON {expected.__name__}"]
    if not isinstance(decoded, expected):
        return [f"{label}: must be a JSON {expected.__name__}, got {type(decoded).__name__}"]
    return []


def _string_problems(value: str, label: str) -> list[str]:
    return [f"{label}: template delimiter {d!r} is not allowed" for d in TEMPLATE_DELIMITERS if d in value]


def _clipped_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
