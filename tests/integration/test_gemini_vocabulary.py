"""Gemini-made vocabularies end to end: the real google-genai client, the fake Vertex server,
the BigQuery emulator, kfp.local.

A paint catalogue's ``shade`` names ("Misty Sage") are text of a kind no Faker provider
makes. The scripted model calls the column a vocabulary of labels and proposes shade names
of its own, among them two source values (one frequent, one held by a single row), a
value out of the column's bounds and a repeat. The plan must keep exactly the invented
values, the target table must hold no source value (a SQL join says so), and generating
again from the stored plan, with no model, must give the pipeline's bytes.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.cloud import bigquery
from google.oauth2.credentials import Credentials

from bqsynth.config import load_config
from bqsynth.gcp.clients import bigquery_client, default_project, storage_client
from bqsynth.generation.columnar import generate_with_engine
from bqsynth.generation.exclusions import fetch_exclusions, present_digests, value_digest
from bqsynth.generation.recipe import with_recipes
from bqsynth.llm import (
    ACCESS_TOKEN_ENV,
    BASE_URL_ENV,
    AdviceOptions,
    AdviceReport,
    GeminiAdvisor,
    GeminiConfig,
    advise_plan,
)
from bqsynth.llm.columns import leaf_plans
from bqsynth.models import DatasetPlan, TableResult, Vocabulary
from bqsynth.planning.planner import PlanOptions, plan_dataset
from bqsynth.sources.gcs_files import profile_file_source
from bqsynth.steps.artifacts import read_model
from bqsynth.steps.generate import generated_uri
from bqsynth.steps.plan import source_values_lookup
from submit import run_local_pipeline
from tests.fake_vertex_genai import FakeVertex, RecordedRequest, ScriptedModel, agreeing_answer, json_reply
from tests.unit.test_vocabulary import FRESH, paint_profile, paint_rows

MODEL = "gemini-2.5-flash"
RARE = "Velvet Thistle"  # one row of the source holds it, outside the profile's sample


def source_rows() -> list[dict[str, Any]]:
    rows = paint_rows(300)
    rows[-1] = {**rows[-1], "shade": RARE}
    return rows


def proposal(rows: list[dict[str, Any]]) -> list[str]:
    frequent = Counter(r["shade"] for r in rows).most_common(1)[0][0]
    return [*FRESH, frequent, RARE, "Sea Glass 2", FRESH[0]]  # 2 source values, 1 out of bounds, 1 repeat


def scripted_model(rows: list[dict[str, Any]]) -> ScriptedModel:
    def semantics(request: RecordedRequest) -> Any:
        answer = agreeing_answer(request.payload)
        for column in answer["columns"]:
            if column["column"] == "shade":
                column.update(semantic_type="categorical", human_name="paint shade name")
        return json_reply(answer)

    shade = {"column": "shade", "kind": "vocabulary", "vocabulary": proposal(rows), "reason": "paint shade names"}
    generation = json_reply({"table": "Paint", "columns": [shade], "rules": []})
    return ScriptedModel().on("semantics", "Paint", semantics).on("generation", "Paint", generation)


def load_paint(client: bigquery.Client, dataset: str, rows: list[dict[str, Any]]) -> str:
    client.create_dataset(dataset, exists_ok=True)
    table_id = f"{client.project}.{dataset}.Paint"
    schema = [
        bigquery.SchemaField("paint_id", "INT64", mode="REQUIRED"),
        bigquery.SchemaField("shade", "STRING"),
        bigquery.SchemaField("litres", "INT64"),
    ]
    client.load_table_from_json(rows, table_id, job_config=bigquery.LoadJobConfig(schema=schema)).result()
    return table_id


# --- the advice alone: the client, the prompt, the response schema, the check ---------------


def test_the_model_proposes_a_vocabulary_and_only_invented_values_reach_the_plan() -> None:
    rows = source_rows()
    profile = paint_profile(rows, sample_rows=200)
    offline = with_recipes(plan_dataset([profile], PlanOptions(target_project="p", target_dataset="d")))
    with FakeVertex(scripted_model(rows)) as fake:
        advisor = GeminiAdvisor(
            GeminiConfig(project="test-project", location="us-central1", model=MODEL, base_url=fake.url),
            credentials=Credentials(token="test"),
        )
        # The exact lookup, over the rows in memory: the rare value is in none of the profile's.
        every_value = {value_digest(r["shade"]) for r in rows}
        advised = advise_plan(
            [profile], offline, advisor, AdviceOptions(), present_digests=lambda p, path, d: every_value & set(d)
        )
    shade = leaf_plans(advised.plan.table("Paint").columns)["shade"]
    assert shade.generator == Vocabulary(values=FRESH, weights=shade.generator.weights, origin=f"gemini:{MODEL}")
    # The response schema Vertex accepts (the fake refuses fields outside its subset) has the bounded list.
    [generation] = [r for r in fake.requests if r.task == "generation"]
    assert generation.unsupported_schema_fields == []
    column_schema = generation.generation_config["responseSchema"]["properties"]["columns"]["items"]
    assert column_schema["properties"]["vocabulary"]["max_items"] == 200  # google-genai's spelling of maxItems
    # Offered for the shade names only, with the run's size.
    offered = {c["column"]: c.get("vocabulary_max") for c in generation.payload["columns"]}
    assert offered == {"paint_id": None, "shade": 50, "litres": None}
    [record] = advised.report.table("Paint").vocabularies
    assert (record.proposed, record.kept, record.dropped_source_values) == (16, 12, 2)
    assert (record.dropped_out_of_bounds, record.dropped_duplicates, record.used) == (1, 1, True)
    assert record.checked_on_all_rows
    assert any("vocabulary used, 12 values" in line for line in advised.report.lines())


# --- against the emulator ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def source(local_stack: object) -> Iterator[tuple[bigquery.Client, str, list[dict[str, Any]]]]:
    client = bigquery_client(default_project())
    dataset = f"it_vsrc_{uuid.uuid4().hex[:8]}"
    rows = source_rows()
    try:
        yield client, load_paint(client, dataset, rows), rows
    finally:
        client.delete_dataset(dataset, delete_contents=True, not_found_ok=True)


def test_the_exact_lookup_finds_source_values_on_every_row(source: tuple) -> None:
    client, table_id, _ = source
    digests = [value_digest(v) for v in [RARE, *FRESH]]
    assert present_digests(client, table_id, "shade", digests, 10**9) == {value_digest(RARE)}
    assert present_digests(client, table_id, "shade", [], 10**9) == set()


def test_the_plan_steps_lookup_reads_every_row_of_bigquery_and_file_sources(source: tuple) -> None:
    client, table_id, rows = source
    gcs = storage_client()
    bucket = gcs.bucket("it-vocab-files")
    if not bucket.exists():
        gcs.create_bucket(bucket)
    text = "paint_id,shade,litres\n" + "".join(f"{r['paint_id']},{r['shade']},{r['litres']}\n" for r in rows)
    bucket.blob("paint/paint.csv").upload_from_string(text)
    file_profile = profile_file_source(gcs, "gs://it-vocab-files/paint/paint.csv", sample_rows=20)
    assert RARE not in {r["shade"] for r in file_profile.sample}
    lookup = source_values_lookup(client, gcs, 10**9)
    digests = [value_digest(v) for v in [RARE, *FRESH]]
    for profile in (paint_profile(rows, sample_rows=20, table_id=table_id), file_profile):
        assert lookup(profile, "shade", digests) == {value_digest(RARE)}, profile.table_id
    assert source_values_lookup(client, None, 10**9)(file_profile, "shade", digests) is None


@pytest.fixture(scope="module")
def run(source: tuple, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    client, table_id, rows = source
    target = f"it_vtgt_{uuid.uuid4().hex[:8]}"
    config = load_config(
        None,
        {
            "source_tables": [table_id],
            "target_dataset": target,
            "record_counts": {"Paint": 2000},
            "seed": 11,
            "sample_rows": 20,
            "staging_bucket": "it-staging",
            "llm": "gemini",
        },
    )
    root = tmp_path_factory.mktemp("kfp")
    try:
        with FakeVertex(scripted_model(rows)) as fake, pytest.MonkeyPatch.context() as env:
            env.setenv(BASE_URL_ENV, fake.url)
            env.setenv(ACCESS_TOKEN_ENV, "test")
            summary = run_local_pipeline(config, str(root))
        yield config, summary, root, f"{client.project}.{target}.Paint"
    finally:
        client.delete_dataset(target, delete_contents=True, not_found_ok=True)


def artifact(root: Path, step: str, name: str) -> Path:
    [found] = sorted(root.glob(f"*/{step}*/{name}")) + sorted(root.glob(f"*/*/{step}*/{name}"))
    return found


def test_the_vocabulary_reaches_the_plan_and_the_advice_report(run: tuple) -> None:
    _, summary, root, _ = run
    assert summary.ok and summary.engine == f"gemini:{MODEL}"
    plan = read_model(DatasetPlan, artifact(root, "plan-dataset", "plan"))
    generator = leaf_plans(plan.table("Paint").columns)["shade"].generator
    assert isinstance(generator, Vocabulary) and generator.values == FRESH
    report = read_model(AdviceReport, artifact(root, "plan-dataset", "advice.json"))
    [record] = report.table("Paint").vocabularies
    # Both source values dropped: the frequent one from the profile, the rare one (in none of the
    # profile's 20 sampled rows or top values, unless sampled) by the lookup on every row.
    assert (record.kept, record.dropped_source_values, record.checked_on_all_rows) == (12, 2, True)


def test_no_source_value_is_in_the_target(source: tuple, run: tuple) -> None:
    client, table_id, _ = source
    _, summary, _, target_id = run
    shared = client.query(
        f"SELECT COUNT(*) AS n FROM `{target_id}` AS t JOIN `{table_id}` AS s ON t.shade = s.shade"
    ).result()
    assert next(iter(shared))["n"] == 0
    emitted = {r["shade"] for r in client.query(f"SELECT DISTINCT shade FROM `{target_id}`").result()} - {None}
    assert emitted <= set(FRESH) and len(emitted) >= 10
    [quality] = summary.tables
    assert quality.privacy is not None and quality.privacy.identifying_values_leaked == 0
    assert "shade" in quality.privacy.identifying_columns_checked


def test_a_rerun_from_the_stored_plan_needs_no_model_and_gives_the_same_bytes(run: tuple, tmp_path: Path) -> None:
    config, summary, root, _ = run
    plan = read_model(DatasetPlan, artifact(root, "plan-dataset", "plan"))
    table = plan.table("Paint")
    gcs = storage_client()
    batch = config.model_copy(update={"batch_id": summary.batch_id})
    result = read_model(TableResult, generated_uri(batch, "Paint"), gcs=gcs)
    pipeline_bytes = b"".join(
        gcs.bucket(uri.split("/")[2]).blob(uri.split("/", 3)[3]).download_as_bytes() for uri in result.files
    )
    exclusions = fetch_exclusions(bigquery_client(default_project()), table)
    again = generate_with_engine(table, plan.seed, tmp_path, engine=config.engine, exclusions=exclusions)
    assert b"".join(f.read_bytes() for f in again.files) == pipeline_bytes
