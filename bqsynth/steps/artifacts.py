"""Artifact I/O: the typed models of ``bqsynth.models`` as the JSON files steps hand to each other.

A step reads its inputs with ``read_model`` and writes its outputs with ``write_model``;
the models themselves know nothing of files. A path is a local file (a KFP artifact's
``.path``) or a ``gs://`` URI: steps that run once per table write their model to the
batch's folder in the staging bucket and hand on only the URI, a string, because Vertex AI
Pipelines refuses a collected fan-in of more than 100 artifacts but not a list of strings.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TypeVar

from google.cloud import storage
from pydantic import BaseModel

from bqsynth.config import RunConfig
from bqsynth.delivery.load import BATCHES_ROOT, ensure_bucket
from bqsynth.gcp.uris import gcs_uri, split_uri

ModelT = TypeVar("ModelT", bound=BaseModel)

# Where the per-table steps' models live: gs://<staging>/bqsynth/batches/<batch>/_steps/<step>/.
STEP_MODELS_FOLDER = "_steps"


def write_model(model: BaseModel, path: str | Path, *, gcs: storage.Client | None = None) -> None:
    """Write a model as JSON at a local path or a ``gs://`` URI (then ``gcs`` is needed)."""
    text = model.model_dump_json(indent=2, by_alias=True)
    if str(path).startswith("gs://"):
        bucket, name = split_uri(str(path))
        ensure_bucket(_needed(gcs, path), bucket).blob(name).upload_from_string(text, content_type="application/json")
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)


def read_model(model_type: type[ModelT], path: str | Path, *, gcs: storage.Client | None = None) -> ModelT:
    """The model of type ``model_type`` written at ``path`` (local or ``gs://``), validated."""
    if str(path).startswith("gs://"):
        bucket, name = split_uri(str(path))
        return model_type.model_validate_json(_needed(gcs, path).bucket(bucket).blob(name).download_as_bytes())
    return model_type.model_validate_json(Path(path).read_text())


def read_text(path: str | Path, *, gcs: storage.Client | None = None) -> str:
    """The text of a file a user named (a plan, a recipe): a local path or a ``gs://`` URI."""
    if str(path).startswith("gs://"):
        bucket, name = split_uri(str(path))
        return _needed(gcs, path).bucket(bucket).blob(name).download_as_text()
    return Path(path).read_text(encoding="utf-8-sig")


def write_text(text: str, path: str, *, gcs: storage.Client | None = None) -> None:
    """Write ``text`` at a local path or a ``gs://`` URI (then ``gcs`` is needed)."""
    if path.startswith("gs://"):
        bucket, name = split_uri(path)
        ensure_bucket(_needed(gcs, path), bucket).blob(name).upload_from_string(text, content_type="text/yaml")
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)


def step_model_uri(config: RunConfig, step: str, key: str) -> str:
    """The ``gs://`` URI of one per-table step's model in this batch (same inputs, same URI).

    ``key`` is hashed into the name, so any source (a table id, a file wildcard) gives a
    safe object name and two sources with the same short name never share one.
    """
    readable = "".join(c if c.isalnum() or c in "_-." else "_" for c in key.rsplit("/", 1)[-1])[-80:]
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    name = f"{BATCHES_ROOT}/{config.batch_id}/{STEP_MODELS_FOLDER}/{step}/{readable}-{digest}.json"
    return gcs_uri(config.staging_bucket, name)


def exclusions_uri(config: RunConfig, table_name: str) -> str:
    """Where the plan step writes, and each shard of a table of several shards reads, the digests
    of the source values the table must never emit (``exclusions.TableExclusions``)."""
    return step_model_uri(config, "exclusions", table_name)


def _needed(gcs: storage.Client | None, path: str | Path) -> storage.Client:
    if gcs is None:
        raise ValueError(f"{path} is in Cloud Storage: pass a storage client to read or write it")
    return gcs
