"""A private_columns override changes the target: the pipeline's steps, called as functions on the emulators.

The source is the first 300 tracks of Chinook 1.4 with their genre's name (tests/unit/data/reference_tables.json):
eight genres, two of them (Rock And Roll, Blues) on fewer than 15 tracks. By default the genre is a public
vocabulary and every genre comes out; named in ``private_columns``, the two rare genres never come out, and
genres of bqsynth's own vocabulary take their share.
"""

from __future__ import annotations

import uuid
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from google.cloud import bigquery

from bqsynth.text_kinds import GENRES
from tests.unit.test_reference_vocabularies import source_rows
from tests.unit.test_steps import Warehouse, run_batch, warehouse  # noqa: F401 - the fixture

K = 15  # min_category_count: Rock And Roll (12 tracks) and Blues (11) are rare
ROWS = 600


@cache
def tracks() -> list[dict[str, Any]]:
    chinook = source_rows("chinook")
    genres = {g["GenreId"]: g["Name"] for g in chinook["Genre"]}
    return [
        {"track_id": t["TrackId"], "genre": genres[t["GenreId"]], "milliseconds": t["Milliseconds"]}
        for t in chinook["Track"]
    ]


@pytest.fixture(scope="module")
def source(warehouse: Warehouse) -> str:  # noqa: F811 - the fixture imported above
    schema = [
        bigquery.SchemaField("track_id", "INT64", mode="REQUIRED"),
        bigquery.SchemaField("genre", "STRING"),
        bigquery.SchemaField("milliseconds", "INT64"),
    ]
    table = warehouse.bq.create_table(bigquery.Table(f"{warehouse.dataset}.tracks", schema=schema), exists_ok=True)
    warehouse.bq.load_table_from_json(tracks(), table, job_config=bigquery.LoadJobConfig(schema=schema)).result()
    return f"{warehouse.dataset}.tracks"


def target_genres(warehouse: Warehouse) -> Counter[str]:  # noqa: F811
    rows = warehouse.bq.query(f"SELECT genre FROM `{warehouse.target}.tracks`").result()
    return Counter(row[0] for row in rows if row[0] is not None)


def run(warehouse: Warehouse, source: str, work: Path, **settings: Any) -> tuple[Any, Counter[str]]:  # noqa: F811
    config = warehouse.config(
        batch_id=f"vocab-{uuid.uuid4().hex[:8]}",
        source_tables=[source],
        record_counts={"tracks": ROWS},
        min_category_count=K,
        **settings,
    )
    summary = run_batch(warehouse, config, work, table="tracks")
    [quality] = summary.tables
    assert quality.status == "Completed" and quality.rows_in_target == ROWS, quality.error
    return summary, target_genres(warehouse)


def test_a_private_columns_override_changes_the_target(
    warehouse: Warehouse,  # noqa: F811
    source: str,
    tmp_path: Path,
) -> None:
    counts = Counter(t["genre"] for t in tracks())
    rare = {g for g, n in counts.items() if n < K}
    assert rare == {"Rock And Roll", "Blues"}

    public, kept = run(warehouse, source, tmp_path / "public")
    assert set(kept) == set(counts)  # every genre as observed, the rare ones too
    [quality] = public.tables
    assert quality.privacy is not None and quality.privacy.public_columns == ["genre"]
    assert quality.privacy.rare_categories_emitted == 0  # public: not counted, and the report says why
    report = (tmp_path / "public" / "report.md").read_text()
    assert "- public tracks.genre (heuristic): a small vocabulary (category.name)" in report

    private, replaced = run(warehouse, source, tmp_path / "private", private_columns=["tracks.genre"])
    assert not rare & set(replaced)  # the rare genres never come out
    fresh = set(replaced) - set(counts)
    assert fresh and fresh <= set(GENRES)  # their share goes to genres, never lorem
    share = sum(replaced[g] for g in fresh) / ROWS
    assert share == pytest.approx(sum(counts[g] for g in rare) / len(tracks()), abs=0.04)
    [quality] = private.tables
    assert quality.privacy is not None and quality.privacy.public_columns == []
    assert quality.privacy.rare_categories_emitted == 0
    assert "- private tracks.genre (private_columns)" in (tmp_path / "private" / "report.md").read_text()
