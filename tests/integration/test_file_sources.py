"""A run that mixes a BigQuery table with delimited files in GCS, through the real pipeline.

Sources: ``stores`` (a BigQuery table with a declared key), ``sales_*.csv`` (two
parts; ``;``, a BOM, a header, ``dd.mm.yyyy`` dates, decimal commas) whose ``store_id``
references ``stores`` without saying so, ``contacts.psv`` (no header, ``|``, a custom
``HDR|yyyymmdd|ACME`` header and a ``TRL|<count>`` trailer) and ``empty.csv``, which must
be refused. Everything is checked on what landed: the synthetic files read back with
the settings detected on the source, the BigQuery targets by SQL, the audit trail.

The last test breaks the loaded output on purpose (a copied source email, an orphan
key, a duplicated primary key) and checks that the quality report catches each.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from google.cloud import bigquery, storage

from bqsynth.config import RunConfig, load_config
from bqsynth.delivery.audit import read_audit
from bqsynth.delivery.source_format_files import changed_format
from bqsynth.evaluation.integrity import count_orphans, count_rows
from bqsynth.evaluation.quality_report import quality_findings
from bqsynth.gcp.clients import bigquery_client, default_project, storage_client
from bqsynth.models import DatasetPlan, FileFormat, FileOutputFormat, RunSummary, TableResult, TableResults
from bqsynth.sources.delimited import read_records, sniff_format
from bqsynth.sources.file_profile import detect_format
from bqsynth.steps.artifacts import read_model
from bqsynth.steps.summarize import summarize_step
from submit import run_local_pipeline

STORES = 12
SALES_PARTS = (70, 50)
CONTACTS = 30
COUNTS = {"sales": 150, "contacts": 40}
CONTACTS_OUTPUT = {"delimiter": ",", "has_header": True, "trailer_lines": ["EOF|{count:05}|{date:%Y%m%d}"]}


def sales_csv(rng: random.Random, first_id: int, rows: int) -> bytes:
    lines = ["sale_id;store_id;sold_on;amount;customer_email;note"]
    for i in range(rows):
        day, month = rng.randint(1, 28), rng.randint(1, 12)
        amount = f"{rng.randint(100, 99_999) / 100:.2f}".replace(".", ",")
        note = rng.choice(["", "gift", '"paid; in cash"', "returned"])
        email = f"buyer{first_id + i}.{rng.choice(['kim', 'lee', 'ana', 'raj'])}@shop.example"
        lines.append(f"{first_id + i};{rng.randint(1, STORES)};{day:02d}.{month:02d}.2024;{amount};{email};{note}")
    return "\ufeff".encode() + ("\n".join(lines) + "\n").encode()


def contacts_psv(rng: random.Random) -> bytes:
    lines = ["HDR|20240131|ACME"]
    for i in range(CONTACTS):
        first = rng.choice(["Maria", "John", "Wei", "Fatima", "Lars", "Ana"])
        last = rng.choice(["Smith", "Garcia", "Chen", "Okafor", "Berg"])
        phone = f"+1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
        joined = f"2023{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        lines.append(f"{first.lower()}.{last.lower()}{i}@mail.example|{phone}|{joined}|{rng.randint(1, 500)}")
    lines.append(f"TRL|{CONTACTS:07d}")
    return ("\n".join(lines) + "\n").encode()


@dataclass(frozen=True)
class Run:
    config: RunConfig
    summary: RunSummary
    root: Path
    sources: dict[str, bytes]  # object name -> bytes
    bucket: str
    target: str  # project.dataset


@pytest.fixture(scope="module")
def clients(local_stack: object) -> tuple[bigquery.Client, storage.Client]:
    return bigquery_client(default_project()), storage_client()


@pytest.fixture(scope="module")
def run(clients: tuple[bigquery.Client, storage.Client], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    bq, gcs = clients
    suffix = uuid.uuid4().hex[:8]
    source, target, bucket = f"files_src_{suffix}", f"files_tgt_{suffix}", f"it-files-{suffix}"
    rng = random.Random(5)
    sources = {
        "in/sales_1.csv": sales_csv(rng, 1, SALES_PARTS[0]),
        "in/sales_2.csv": sales_csv(rng, 1 + SALES_PARTS[0], SALES_PARTS[1]),
        "in/contacts.psv": contacts_psv(rng),
        "in/empty.csv": b"",
    }
    try:
        bq.create_dataset(source)
        bq.query(
            f"CREATE TABLE `{bq.project}.{source}.stores` (store_id INT64 NOT NULL, store_name STRING,"
            " PRIMARY KEY (store_id) NOT ENFORCED)"
        ).result()
        values = ", ".join(f"({i}, 'Store {i}')" for i in range(1, STORES + 1))
        bq.query(f"INSERT INTO `{bq.project}.{source}.stores` VALUES {values}").result()
        landing = gcs.create_bucket(bucket)
        for name, data in sources.items():
            landing.blob(name).upload_from_string(data)
        config = load_config(
            None,
            {
                "source_tables": [
                    f"{bq.project}.{source}.stores",
                    f"gs://{bucket}/in/sales_*.csv",
                    f"gs://{bucket}/in/contacts.psv",
                    f"gs://{bucket}/in/empty.csv",
                ],
                "target_dataset": target,
                "record_counts": COUNTS,
                "seed": 9,
                "staging_bucket": bucket,
                "write_disposition": "WRITE_APPEND",
                # The contacts feed goes out comma-delimited, with a header row and its own trailer.
                "file_outputs": {"contacts": CONTACTS_OUTPUT},
            },
        )
        root = tmp_path_factory.mktemp("kfp-files")
        summary = run_local_pipeline(config, str(root))
        yield Run(config, summary, root, sources, bucket, f"{bq.project}.{target}")
    finally:
        bq.delete_dataset(source, delete_contents=True, not_found_ok=True)
        bq.delete_dataset(target, delete_contents=True, not_found_ok=True)


def _artifact(root: Path, step: str, name: str) -> list[Path]:
    return sorted(root.glob(f"*/{step}*/{name}")) + sorted(root.glob(f"*/*/{step}*/{name}"))


def _results(run: Run) -> dict[str, TableResult]:
    [results] = _artifact(run.root, "load-tables", "results")
    return {r.table: r for r in read_model(TableResults, results).tables}


def _download(uri: str) -> bytes:
    bucket, _, name = uri.removeprefix("gs://").partition("/")
    return storage_client().bucket(bucket).blob(name).download_as_bytes()


def _source_format(run: Run, name: str) -> FileFormat:
    return detect_format(run.sources[name], name)


def test_tables_and_files_are_generated_and_the_bad_file_is_refused(run: Run) -> None:
    by_table = {t.table: t for t in run.summary.tables}
    assert set(by_table) == {"stores", "sales", "contacts", "empty"}
    for name in ("stores", "sales", "contacts"):
        assert by_table[name].status == "Completed", by_table[name].error
    assert by_table["sales"].rows_in_target == COUNTS["sales"]
    assert by_table["contacts"].rows_in_target == COUNTS["contacts"]
    empty = by_table["empty"]
    assert empty.status == "Failed"
    assert "empty.csv" in (empty.error or "") and "empty" in (empty.error or "").lower()
    tables = {t.table_id for t in bigquery_client(default_project()).list_tables(run.target.split(".")[1])}
    assert "empty" not in tables  # nothing half-written for the refused source


def test_the_file_to_table_reference_is_found_and_kept(run: Run) -> None:
    plan = read_model(DatasetPlan, _artifact(run.root, "plan-dataset", "plan")[0])
    assert any(
        r.child_table == "sales" and r.child_columns == ["store_id"] and r.parent_table == "stores"
        for r in plan.relationships
    ), plan.relationships
    client = bigquery_client(default_project())
    assert count_orphans(client, f"{run.target}.sales", ["store_id"], f"{run.target}.stores", ["store_id"]) == 0


@pytest.mark.parametrize(
    ("table", "source_file", "output_names"),
    [("sales", "in/sales_1.csv", ["sales_00000.csv"]), ("contacts", "in/contacts.psv", ["contacts.psv"])],
)
def test_synthetic_files_have_the_source_format(
    run: Run, table: str, source_file: str, output_names: list[str]
) -> None:
    result = _results(run)[table]
    assert [uri.rsplit("/", 1)[1] for uri in result.output_files] == output_names
    source = _source_format(run, source_file)
    expected = source if table != "contacts" else changed_format(source, FileOutputFormat(**CONTACTS_OUTPUT))
    data = _download(result.output_files[0])
    detected = sniff_format(data, output_names[0])
    for field in ("encoding", "delimiter", "quoting", "line_terminator", "has_header", "final_newline"):
        assert getattr(detected, field) == getattr(expected, field), field
    assert [(c.type, c.temporal_format, c.decimal_comma) for c in detected.columns] == [
        (c.type, c.temporal_format, c.decimal_comma) for c in expected.columns
    ]
    records = read_records(data, expected, output_names[0])  # the expected settings read it
    assert len(records) == COUNTS[table]
    if table == "contacts":  # source: no header, '|', HDR/TRL lines; asked: ',', a header row, an EOF line
        lines = data.decode().splitlines()
        assert lines[0].startswith("HDR|") and lines[0].endswith("|ACME")
        assert lines[1] == ",".join(c.name for c in source.columns)
        assert lines[-1] == f"EOF|{COUNTS['contacts']:05d}|{dt.datetime.now(dt.UTC):%Y%m%d}"


def test_no_source_email_reaches_the_synthetic_files(run: Run) -> None:
    results = _results(run)
    for table, names in (("sales", ["in/sales_1.csv", "in/sales_2.csv"]), ("contacts", ["in/contacts.psv"])):
        fmt = _source_format(run, names[0])
        email = next(c.name for c in fmt.columns if "email" in c.name or c.name == "email")
        source_emails = {r[email] for n in names for r in read_records(run.sources[n], fmt, n)}
        written = fmt if table != "contacts" else changed_format(fmt, FileOutputFormat(**CONTACTS_OUTPUT))
        output = read_records(_download(results[table].output_files[0]), written, table)
        assert source_emails and not ({r[email] for r in output} & source_emails)


def test_the_audit_trail_records_the_written_files(run: Run) -> None:
    rows = read_audit(bigquery_client(default_project()), run.config.audit_table, run.summary.batch_id)
    written = {r.table_name: r for r in rows if r.stage == "write_files" and r.status == "Completed"}
    assert set(written) == {"sales", "contacts"}
    assert written["sales"].delimiter == ";" and written["sales"].column_header_flag is True
    assert written["contacts"].delimiter == "," and written["contacts"].column_header_flag is True  # as asked
    assert written["contacts"].num_records_generated == COUNTS["contacts"]
    assert f"EOF|{COUNTS['contacts']:05d}|" in (written["contacts"].custom_header or "")
    refused = [r for r in rows if r.table_name == "empty" and r.status == "Failed"]
    assert refused and "empty.csv" in (refused[0].error_message or "")


def test_every_loaded_table_has_a_quality_report(run: Run) -> None:
    by_table = {t.table: t for t in run.summary.tables}
    for name in ("stores", "sales", "contacts"):
        assert by_table[name].privacy is not None and by_table[name].privacy.identifying_values_leaked == 0, name
    for name in ("sales", "contacts"):
        fidelity = by_table[name].fidelity
        assert fidelity is not None and fidelity.quality_score is not None and fidelity.quality_score > 0.6, name
        assert by_table[name].validity is not None and by_table[name].validity > 0.95, name
    # stores is a lookup table (referenced by sales, a key and a name, no personal data): its
    # names are a public reference vocabulary, kept as observed, so they score as categories.
    stores = by_table["stores"].fidelity
    assert by_table["stores"].privacy.public_columns == ["store_name"]
    assert stores is not None and stores.column_shapes == 1.0 and stores.quality_score == 1.0
    assert by_table["sales"].fidelity.cardinality is not None  # children per store, source vs synthetic
    assert (
        _artifact(run.root, "summarize-run", "quality_report")[0].read_text().lstrip().lower().startswith("<!doctype")
    )


def test_the_report_catches_a_copied_email_an_orphan_and_a_duplicate_key(run: Run, tmp_path: Path) -> None:
    """Break the loaded sales table on purpose, then evaluate it again from the run's own artifacts."""
    client = bigquery_client(default_project())
    sales, fmt = f"{run.target}.sales", _source_format(run, "in/sales_1.csv")
    copied = read_records(run.sources["in/sales_1.csv"], fmt, "sales")[0]["customer_email"]
    client.query(
        f"UPDATE `{sales}` SET customer_email = '{copied}' WHERE sale_id = (SELECT MIN(sale_id) FROM `{sales}`)"
    ).result()
    client.query(f"INSERT INTO `{sales}` (sale_id, store_id) VALUES (-1, 999999)").result()  # an orphan store
    client.query(f"INSERT INTO `{sales}` (sale_id, store_id) SELECT sale_id, store_id FROM `{sales}` LIMIT 1").result()
    assert count_rows(client, sales) == COUNTS["sales"] + 2

    summary, headline = summarize_step(
        read_model(RunConfig, _artifact(run.root, "start-batch", "config")[0]),
        plan_path=str(_artifact(run.root, "plan-dataset", "plan")[0]),
        results_path=str(_artifact(run.root, "load-tables", "results")[0]),
        summary_path=str(tmp_path / "summary.json"),
        report_path=str(tmp_path / "report.md"),
        html_path=str(tmp_path / "report.html"),
        bq=client,
        gcs=storage_client(),
    )
    broken = next(t for t in summary.tables if t.table == "sales")
    assert broken.privacy is not None and broken.privacy.identifying_values_leaked >= 1
    assert broken.foreign_key_orphans == 1
    assert broken.duplicate_primary_keys >= 1
    assert not summary.ok
    findings = " ".join(quality_findings(summary)).lower()
    assert "sales" in findings and "orphan" in findings and "duplicate" in findings and "leak" in findings
    assert headline["identifying_values_leaked"] >= 1
    assert copied not in (tmp_path / "report.html").read_text()  # the report shows counts, never the leaked value
