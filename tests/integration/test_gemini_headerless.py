"""Gemini names a headerless file's columns: the real google-genai client against the fake Vertex server.

The corpus's ``tilde_headerless.txt`` (``~`` between fields, no header: a first name, a phone,
a dd/mm/yyyy date, a small count) is profiled with a namer that asks the model
(``bqsynth.llm.headerless``). Its names are used only when the answer passes every check;
each broken answer, an HTTP error, a timeout and a spent token budget keep the names by
meaning, with the reason in the profile. What the fake server received is the evidence that
no sample value left the process, and that a file with a header is never sent at all.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from google.cloud import storage

from bqsynth.config import RunConfig, load_config
from bqsynth.gcp.clients import bigquery_client, storage_client
from bqsynth.generation.recipe import with_recipes
from bqsynth.llm import (
    ACCESS_TOKEN_ENV,
    BASE_URL_ENV,
    AdviceOptions,
    AdviceReport,
    GeminiAdvisor,
    LlmSettings,
    advise_plan,
    headerless_namer,
)
from bqsynth.llm.headerless import mask_line, name_headerless
from bqsynth.llm.prompts import PromptLimits
from bqsynth.models import TableProfile
from bqsynth.planning.planner import PlanOptions, plan_dataset
from bqsynth.sources.file_profile import profile_file_parts
from bqsynth.sources.file_stream import FilePart
from bqsynth.steps.profile import pinned_names, read_profile
from bqsynth.steps.start_batch import run_config
from submit import run_local_pipeline
from tests.fake_vertex_genai import FakeReply, FakeVertex, ScriptedModel, error_reply, json_reply, quick_advisor

CORPUS = Path(__file__).resolve().parents[1] / "data" / "files"
TILDE = "tilde_headerless.txt"
OFFLINE = ["first_name", "phone", "date", "column_4"]  # the corpus's expected names by meaning
NAMED = ["customer_first_name", "phone_number", "visit_date", "visit_count"]
TILDE_FORMAT = {"delimiter": "~", "quotechar": '"', "has_header": False}
ATTEMPTS = 2


def answer(columns: list[str], **fmt: Any) -> FakeReply:
    return json_reply({"columns": columns, "format": {**TILDE_FORMAT, **fmt}})


def advisor(fake: FakeVertex, **overrides: Any) -> GeminiAdvisor:
    return quick_advisor(fake.url, **{"attempts": ATTEMPTS, **overrides})


def profile(
    model: ScriptedModel, name: str = TILDE, options: AdviceOptions | None = None, **config: Any
) -> tuple[TableProfile, FakeVertex]:
    uri = f"gs://b/in/{name}"
    part = FilePart.from_bytes(uri, (CORPUS / name).read_bytes())
    with FakeVertex(model) as fake:
        gemini = advisor(fake, **config)
        asked = options or AdviceOptions()
        found = profile_file_parts(uri, [part], namer=lambda sample: name_headerless(sample, gemini, asked))
    return found, fake


def raw_lines(name: str = TILDE) -> list[str]:
    return (CORPUS / name).read_text().splitlines()


# --- the model's names ------------------------------------------------------------------------


def test_the_models_names_name_the_columns_stats_and_sample() -> None:
    found, fake = profile(ScriptedModel().on("headers", "tilde_headerless", answer(NAMED)))
    assert [c.name for c in found.columns] == NAMED
    assert [c.name for c in found.file_format.columns] == NAMED
    assert set(found.stats) == set(NAMED) and set(found.sample[0]) == set(NAMED)
    assert found.row_count == 24
    naming = found.column_naming
    assert naming.source == "model" and naming.fallback_reason is None
    assert naming.offline_names == OFFLINE and naming.model_names == NAMED
    assert naming.format_note == "the model confirmed the detected format"
    assert (naming.tokens, naming.tokens_measured, naming.repair_rounds) == (150, True, 0)  # usage_metadata's
    [request] = fake.requests
    assert request.unsupported_schema_fields == []  # the response schema is in Vertex's subset
    assert set(request.generation_config["responseSchema"]["properties"]) == {"columns", "format"}
    assert naming.prompt_chars == len(request.text)


def test_the_prompt_shows_masked_lines_and_no_raw_sample_value() -> None:
    found, fake = profile(ScriptedModel().on("headers", "tilde_headerless", answer(NAMED)))
    [request] = fake.requests
    payload = request.payload
    assert payload["task"] == "headers" and payload["detected_format"]["columns"] == 4
    assert [c["offline_name"] for c in payload["columns"]] == OFFLINE
    lines = raw_lines()
    assert payload["sample_lines"] == [mask_line(line, "~") for line in lines[:8]]
    assert payload["sample_lines"][0] == "Aaaaaaa~+9 999-999-9999~99/99/9999~9"
    # No field of any line of the file (single digits aside: they are JSON punctuation too) is sent.
    fields = {field for line in lines for field in line.split("~") if len(field) > 1}
    assert fields and not [f for f in fields if f in request.text]


def test_custom_header_and_trailer_lines_are_not_sample_lines() -> None:
    names = ["order_id", "customer_email", "amount", "order_date"]
    model = ScriptedModel().on("headers", "orders_hdr_trl", json_reply({"columns": names}))
    found, fake = profile(model, "orders_hdr_trl.txt")
    assert [c.name for c in found.columns] == names and found.column_naming.format_note is None
    [request] = fake.requests
    assert all(line.startswith("999999|") for line in request.payload["sample_lines"])
    assert "ACME" not in request.text and "20240131" not in request.text


def test_a_stated_format_that_splits_the_sample_alike_is_accepted_and_the_detected_one_kept() -> None:
    found, _ = profile(ScriptedModel().on("headers", "tilde_headerless", answer(NAMED, quotechar="'")))
    assert [c.name for c in found.columns] == NAMED
    assert found.file_format.quotechar == '"'
    assert "the detected format is kept" in found.column_naming.format_note


def test_a_wrong_answer_is_sent_back_and_its_repair_used() -> None:
    model = ScriptedModel().on("headers", "tilde_headerless", answer(NAMED[:3]), answer(NAMED))
    found, fake = profile(model)
    assert [c.name for c in found.columns] == NAMED
    assert found.column_naming.repair_rounds == 1
    first, repair = fake.requests
    assert repair.is_repair and "the file has 4 columns and the answer names 3" in repair.turns[-1][1]
    assert found.column_naming.tokens == 300


# --- every check falls back to the names by meaning -------------------------------------------


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (answer(NAMED[:3]), "the file has 4 columns and the answer names 3"),
        (answer([*NAMED, "extra"]), "the file has 4 columns and the answer names 5"),
        (answer(["1st_name", *NAMED[1:]]), "not BigQuery column names: '1st_name' (column 1)"),
        (answer(["first-name", *NAMED[1:]]), "not BigQuery column names: 'first-name' (column 1)"),
        (answer(["_PARTITIONTIME", *NAMED[1:]]), "not BigQuery column names: '_PARTITIONTIME' (column 1)"),
        (answer(["visit", "phone", "Visit", "n"]), "names must be unique (case does not count): 'visit' repeat"),
        (answer(NAMED, delimiter=","), "reads the sample lines as 1 fields, not the 4 columns"),
        (answer(NAMED, delimiter=" "), "reads the sample lines as 2 fields, not the 4 columns"),
        (answer(NAMED, has_header=True), "the answer says the first line is a header"),
        (json_reply({"names": NAMED}), "does not match the response schema"),
    ],
    ids=[
        "too-few",
        "too-many",
        "leading-digit",
        "dash",
        "reserved-prefix",
        "duplicates",
        "format-comma",
        "format-space",
        "claims-a-header",
        "off-schema",
    ],
)
def test_an_answer_that_fails_a_check_keeps_the_names_by_meaning(reply: FakeReply, reason: str) -> None:
    found, fake = profile(
        ScriptedModel().on("headers", "tilde_headerless", reply), options=AdviceOptions(max_repairs=0)
    )
    assert len(fake.requests) == 1
    assert [c.name for c in found.columns] == OFFLINE
    naming = found.column_naming
    assert naming.source == "offline" and naming.offline_names == OFFLINE
    assert "answer still invalid after 0 repair round(s)" in naming.fallback_reason
    assert reason in naming.fallback_reason
    assert naming.tokens == 150  # spent although unused


def test_an_answer_still_wrong_after_the_repairs_keeps_the_names_by_meaning() -> None:
    model = ScriptedModel().on("headers", "tilde_headerless", *[answer(NAMED[:2])] * 3)
    found, fake = profile(model)
    assert len(fake.requests) == 3  # the first ask and AdviceOptions' 2 repairs
    assert [c.name for c in found.columns] == OFFLINE
    assert found.column_naming.fallback_reason.startswith("answer still invalid after 2 repair round(s)")
    assert found.column_naming.model_names == NAMED[:2]


def test_an_http_error_keeps_the_names_by_meaning() -> None:
    model = ScriptedModel().on("headers", "tilde_headerless", *[error_reply(500, "backend exploded")] * ATTEMPTS)
    found, fake = profile(model)
    assert len(fake.requests) == ATTEMPTS  # the client's retries, then the fallback
    assert [c.name for c in found.columns] == OFFLINE
    reason = found.column_naming.fallback_reason
    assert "HTTP 500" in reason and "backend exploded" in reason


def test_a_timeout_keeps_the_names_by_meaning() -> None:
    slow = answer(NAMED)
    slow.delay = 1.0
    found, fake = profile(ScriptedModel().on("headers", "tilde_headerless", *[slow] * ATTEMPTS), timeout_seconds=0.3)
    assert len(fake.requests) == ATTEMPTS
    assert [c.name for c in found.columns] == OFFLINE
    assert "did not answer within 0.3 s" in found.column_naming.fallback_reason


def test_a_spent_token_budget_asks_nothing_and_keeps_the_names_by_meaning() -> None:
    found, fake = profile(ScriptedModel(), options=AdviceOptions(token_budget=10))
    assert fake.requests == []
    assert [c.name for c in found.columns] == OFFLINE
    assert found.column_naming.fallback_reason.startswith("token budget exhausted")


def test_sample_policy_none_sends_no_line() -> None:
    options = AdviceOptions(prompt=PromptLimits(sample_policy="none"))
    found, fake = profile(ScriptedModel().on("headers", "tilde_headerless", answer(NAMED)), options=options)
    assert [c.name for c in found.columns] == NAMED
    assert fake.requests[0].payload["sample_lines"] == []


def test_sample_policy_raw_sends_the_lines_as_written() -> None:
    options = AdviceOptions(prompt=PromptLimits(sample_policy="raw"))
    _, fake = profile(ScriptedModel().on("headers", "tilde_headerless", answer(NAMED)), options=options)
    assert fake.requests[0].payload["sample_lines"] == raw_lines()[:8]


# --- who is never asked -----------------------------------------------------------------------


def test_a_file_with_a_header_never_calls_the_model() -> None:
    found, fake = profile(ScriptedModel(), "customers.csv")
    assert fake.requests == []
    assert found.column_naming is None
    assert "column_naming" not in json.loads(found.model_dump_json())


def test_offline_profiles_are_written_as_before() -> None:
    assert headerless_namer(LlmSettings(llm="offline")) is None
    uri = f"gs://b/in/{TILDE}"
    offline = profile_file_parts(uri, [FilePart.from_bytes(uri, (CORPUS / TILDE).read_bytes())])
    assert [c.name for c in offline.columns] == OFFLINE and offline.column_naming is None
    assert "column_naming" not in offline.model_dump_json()  # the profile artifact's bytes are unchanged


# --- the plan's advice report says who named the columns, and counts the tokens -------------


def test_the_advice_report_says_who_named_the_columns_and_counts_their_tokens() -> None:
    named, _ = profile(ScriptedModel().on("headers", "tilde_headerless", answer(NAMED)))
    offline_plan = with_recipes(plan_dataset([named], PlanOptions(target_project="p", target_dataset="d")))
    with FakeVertex(ScriptedModel()) as fake:
        advised = advise_plan([named], offline_plan, advisor(fake), AdviceOptions())
    plan_calls = sum(c.tokens for c in advised.report.calls)
    assert plan_calls > 0 and advised.report.tokens_used == plan_calls + 150  # the profile step's call counts
    assert advised.report.table("tilde_headerless").column_naming == named.column_naming
    line = f"tilde_headerless: column names from gemini:gemini-2.5-flash (150 tokens): {', '.join(NAMED)}"
    assert line in advised.report.lines()


def test_the_advice_report_says_why_the_names_are_by_meaning() -> None:
    fallen, _ = profile(ScriptedModel().on("headers", "tilde_headerless", *[error_reply(500)] * ATTEMPTS))
    offline_plan = with_recipes(plan_dataset([fallen], PlanOptions(target_project="p", target_dataset="d")))
    with FakeVertex(ScriptedModel()) as fake:
        advised = advise_plan([fallen], offline_plan, advisor(fake), AdviceOptions())
    assert fallen.column_naming.tokens == 0 and advised.report.tokens_used == sum(
        c.tokens for c in advised.report.calls
    )
    [line] = [x for x in advised.report.lines() if "column names" in x]
    assert line.startswith("tilde_headerless: column names by meaning, not from gemini:gemini-2.5-flash: ")
    assert "HTTP 500" in line


# --- the profile step: llm=gemini in the run's configuration, a file in GCS --------------------


@pytest.fixture
def tilde_in_gcs(local_stack: object) -> str:
    gcs: storage.Client = storage_client()
    bucket_name = f"hdr-{uuid.uuid4().hex[:10]}"
    gcs.create_bucket(bucket_name).blob(f"in/{TILDE}").upload_from_string((CORPUS / TILDE).read_bytes())
    return f"gs://{bucket_name}/in/{TILDE}"


def gemini_run(source: str, **parameters: Any) -> RunConfig:
    bq_project = bigquery_client().project
    return run_config(
        {
            "source_tables": [source],
            "target_project": bq_project,
            "target_dataset": "hdr_target",
            "staging_bucket": source.split("/")[2],
            "llm": "gemini",
            **parameters,
        }
    )


def test_the_profile_step_asks_the_model_for_a_headerless_file_in_gcs(
    tilde_in_gcs: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = gemini_run(tilde_in_gcs)
    with FakeVertex(ScriptedModel().on("headers", "tilde_headerless", answer(NAMED))) as fake:
        monkeypatch.setenv(BASE_URL_ENV, fake.url)
        monkeypatch.setenv(ACCESS_TOKEN_ENV, "test")
        found = read_profile(tilde_in_gcs, config, bigquery_client(), storage_client())
    assert [c.name for c in found.columns] == NAMED and found.column_naming.source == "model"
    [request] = fake.requests
    assert (request.project, request.model) == (config.target_project, config.model)  # the run's project and model


def test_columns_the_configuration_names_keep_their_names_by_meaning(
    tilde_in_gcs: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = gemini_run(tilde_in_gcs, public_columns=["tilde_headerless.column_4"])
    with FakeVertex(ScriptedModel().on("headers", "tilde_headerless", answer(NAMED))) as fake:
        monkeypatch.setenv(BASE_URL_ENV, fake.url)
        monkeypatch.setenv(ACCESS_TOKEN_ENV, "test")
        found = read_profile(tilde_in_gcs, config, bigquery_client(), storage_client())
    assert fake.requests == []
    assert [c.name for c in found.columns] == OFFLINE
    assert "public_columns/private_columns name its columns (tilde_headerless.column_4)" in (
        found.column_naming.fallback_reason
    )
    # A whole table's setting (table.*) names no column: the model is asked.
    assert pinned_names(gemini_run(tilde_in_gcs, private_columns=["tilde_headerless.*"]), "tilde_headerless") is None


# --- the whole pipeline (kfp.local): the model's names reach the target table ------------------


def test_a_pipeline_run_loads_the_headerless_file_under_the_models_names(
    tilde_in_gcs: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bq = bigquery_client()
    target = f"it_hdr_{uuid.uuid4().hex[:8]}"
    config = load_config(
        None,
        {
            "source_tables": [tilde_in_gcs],
            "target_project": bq.project,
            "target_dataset": target,
            "record_counts": {"tilde_headerless": 30},
            "seed": 5,
            "staging_bucket": tilde_in_gcs.split("/")[2],
            "llm": "gemini",
        },
    )
    try:
        with FakeVertex(ScriptedModel().on("headers", "tilde_headerless", answer(NAMED))) as fake:
            monkeypatch.setenv(BASE_URL_ENV, fake.url)
            monkeypatch.setenv(ACCESS_TOKEN_ENV, "test")
            summary = run_local_pipeline(config, str(tmp_path))
        assert summary.ok
        assert [r.task for r in fake.requests].count("headers") == 1  # asked once, by the profile step
        loaded = bq.get_table(f"{bq.project}.{target}.tilde_headerless")
        assert [f.name for f in loaded.schema] == NAMED
        [report_path] = sorted(tmp_path.glob("**/plan-dataset*/advice.json"))
        report = AdviceReport.model_validate_json(report_path.read_text())
        assert report.table("tilde_headerless").column_naming.source == "model"
        assert report.tokens_used == 150 + sum(c.tokens for c in report.calls)  # the run's one budget
    finally:
        bq.delete_dataset(target, delete_contents=True, not_found_ok=True)
