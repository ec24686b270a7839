"""Artifact I/O: the typed models of ``bqsynth.models`` as the JSON files KFP hands between steps.

A step reads its inputs with ``read_model`` and writes its outputs with ``write_model``;
the models themselves know nothing of files.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

ModelT = TypeVar("ModelT", bound=BaseModel)


def write_model(model: BaseModel, path: str | Path) -> None:
    """Write a model as a JSON artifact (the only way stages hand data to each other)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(model.model_dump_json(indent=2, by_alias=True))


def read_model(model_type: type[ModelT], path: str | Path) -> ModelT:
    """The model of type ``model_type`` written at ``path``, validated."""
    return model_type.model_validate_json(Path(path).read_text())
