"""Real kfp.local runs: a parent that fails keeps its children out of the targets, and a
run over many small tables goes through (the fan-ins are parameter lists, not artifacts).

The failures are real: a load fails because the parent's target table exists with another
schema (bqsynth refuses to load into it); a generation fails because Cloud Storage refuses
the upload of the parent's files. Only that refusal is made up, at the HTTP boundary: a
small proxy in front of the GCS emulator answers 403 to uploads under one table's folder,
as GCS does to an identity without write access there. Nothing inside bqsynth is mocked.
"""

from __future__ import annotations

import http.client
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from google.cloud import bigquery

from bqsynth.config import RunConfig, load_config
from bqsynth.delivery.audit import read_audit
from bqsynth.evaluation.integrity import count_orphans, count_rows
from bqsynth.gcp.clients import bigquery_client, default_project, storage_client
from bqsynth.models import RunSummary
from bqsynth.steps.artifacts import read_model
from demo import warehouse
from submit import EXIT_OK, EXIT_TABLES_FAILED, run_local

SCALE = 0.2


@pytest.fixture(scope="module")
def client(local_stack: object) -> bigquery.Client:
    return bigquery_client(default_project())


class RefusingUploads(BaseHTTPRequestHandler):
    """Forwards every request to the GCS emulator, except uploads whose body names ``refused``: 403."""

    upstream: tuple[str, int]
    refused: bytes

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if (
            self.command == "POST"
            and self.path.startswith("/upload/")
            and self.refused in body + unquote(self.path).encode()
        ):
            message = b'{"error": {"code": 403, "message": "Access denied: no write permission on this folder"}}'
            self._answer(403, {"Content-Type": "application/json"}, message)
            return
        connection = http.client.HTTPConnection(*self.upstream, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in {"content-length", "transfer-encoding"}}
        connection.request(self.command, self.path, body=body or None, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        kept = {k: v for k, v in response.getheaders() if k.lower() not in {"content-length", "transfer-encoding"}}
        self._answer(response.status, kept, payload)
        connection.close()

    def _answer(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() not in {"connection", "date", "server"}:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

    def log_message(self, *_: object) -> None:  # quiet
        pass


@pytest.fixture
def gcs_refusing(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Point the run's GCS clients at a proxy; the returned function chooses what it refuses."""
    upstream = urlsplit(os.environ["STORAGE_EMULATOR_HOST"])
    handler = type("Handler", (RefusingUploads,), {"upstream": (upstream.hostname, upstream.port), "refused": b""})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{server.server_address[1]}")

    def refuse(fragment: str) -> None:
        handler.refused = fragment.encode()

    yield refuse
    server.shutdown()


def config_for(source: str, target: str, tables: list[str], **overrides: object) -> RunConfig:
    project = source.split(".")[0]
    base = {
        "source_tables": [f"{source}.{t}" for t in tables],
        "target_dataset": target,
        "seed": 7,
        "scale": 1.0,
        "staging_bucket": "it-staging",
        "audit_table": f"{project}.{target}.bqsynth_audit",
        "batch_id": f"it-{uuid.uuid4().hex[:8]}",
    }
    base.update(overrides)
    return load_config(None, base)


def summary_of(root: Path) -> tuple[RunSummary, str, str]:
    """The run's summary, Markdown report and HTML report, from its KFP artifacts."""
    step = next(root.glob("*/summarize-run"))
    return (
        read_model(RunSummary, step / "summary"),
        (step / "report").read_text(),
        (step / "quality_report").read_text(),
    )


def test_children_of_a_parent_that_failed_to_generate_or_load_are_not_loaded(
    client: bigquery.Client, gcs_refusing: Callable[[str], None], tmp_path: Path
) -> None:
    project = client.project
    source = f"it_psrc_{uuid.uuid4().hex[:8]}"
    target = f"it_ptgt_{uuid.uuid4().hex[:8]}"
    warehouse.load_demo_dataset(client, project, source, seed=42, scale=SCALE)
    client.create_dataset(target)
    # Dim_Product's target exists with another schema: bqsynth refuses to load into it (a load failure).
    client.create_table(
        bigquery.Table(f"{project}.{target}.Dim_Product", schema=[bigquery.SchemaField("product_id", "INT64")])
    )
    tables = ["Dim_Branch", "Dim_Employee", "Dim_Customer", "Dim_Product", "Dim_Account", "Dim_Card"]
    # Dim_Branch is generated in 3 shards, each its own task (the other tables, smaller, in one each), and
    # its second shard's file cannot be written: a generate failure of one shard fails the whole table.
    config = config_for(f"{project}.{source}", target, tables, record_counts={"Dim_Branch": 600}, shard_rows=250)
    gcs_refusing(f"/{config.batch_id}/Dim_Branch/Dim_Branch-00001.")  # .parquet or .json, as the engine writes
    try:
        started = time.perf_counter()
        exit_code = run_local(config, str(tmp_path))
        print(f"failure run: {time.perf_counter() - started:.1f} s")
        summary, markdown, html = summary_of(tmp_path)
        status = {t.table: t for t in summary.tables}

        assert exit_code == EXIT_TABLES_FAILED == 1 and not summary.ok
        assert set(status) == set(tables)  # every table is in the summary
        assert "Forbidden" in (status["Dim_Branch"].error or "")
        assert "shard 2 of 3 (rows 250-499) failed" in (status["Dim_Branch"].error or "")
        assert "Dim_Branch" not in {t.table_id for t in client.list_tables(target)}  # no shard of it was loaded
        assert "does not fit the source" in (status["Dim_Product"].error or "")
        assert status["Dim_Customer"].status == "Completed" and status["Dim_Customer"].rows_in_target > 0
        # Employees reference branches; accounts reference branches, customers and products; cards, accounts.
        for child, parent in (
            ("Dim_Employee", "Dim_Branch"),
            ("Dim_Account", "Dim_Product"),
            ("Dim_Card", "Dim_Account"),
        ):
            assert status[child].status == "Failed", child
            assert "because the table(s) it references failed" in (status[child].error or ""), child
            assert parent in (status[child].error or ""), child
            assert status[child].rows_generated > 0 and status[child].rows_loaded == 0, child
            assert child not in {t.table_id for t in client.list_tables(target)}, f"{child} was loaded"
        assert "Dim_Branch" in status["Dim_Account"].error and "Dim_Customer" not in status["Dim_Account"].error

        failed_rows = {
            (r.table_name, r.stage): r.error_message
            for r in read_audit(client, config.audit_table, config.batch_id)
            if r.status == "Failed"
        }
        assert {("Dim_Branch", "generate"), ("Dim_Product", "load"), (None, "run")} <= set(failed_rows)
        assert "shard 2 of 3" in (failed_rows[("Dim_Branch", "load")] or "")  # the table's row at load says why
        for child in ("Dim_Employee", "Dim_Account", "Dim_Card"):
            assert "failed" in (failed_rows[(child, "load")] or ""), child
        for table in tables:  # the reports list every table, with its status and its error
            assert table in markdown and table in html, table
        assert markdown.count("Failed") >= 5 and "Forbidden" in markdown and "Forbidden" in html
        untouched = f"{project}.{target}.Dim_Product"
        assert [f.name for f in client.get_table(untouched).schema] == ["product_id"]
        assert count_rows(client, untouched) == 0
    finally:
        client.delete_dataset(source, delete_contents=True, not_found_ok=True)
        client.delete_dataset(target, delete_contents=True, not_found_ok=True)


MANY = 30


def test_a_run_over_thirty_small_tables_completes(client: bigquery.Client, tmp_path: Path) -> None:
    """One region file and 29 shop files that reference it, a few rows each.

    File sources (files in the GCS emulator), so that the run also goes through the
    write_files part of generation 30 times. Its cost is the ~64 step subprocesses that
    kfp.local starts, two at a time: measured 428 s on the shared 2-core machine at a load
    average of 5.5 (the same run over 30 BigQuery tables: 419 s).
    """
    project = client.project
    bucket = f"it-many-{uuid.uuid4().hex[:8]}"
    target = f"it_manyt_{uuid.uuid4().hex[:8]}"
    landing = storage_client().create_bucket(bucket)
    landing.blob("in/region.csv").upload_from_string(
        "region_id,region_name\n" + "".join(f"{n},Region {n}\n" for n in range(1, 4))
    )
    shops = [f"shop_{n:02d}" for n in range(MANY - 1)]
    for shop in shops:
        rows = "".join(f"{n},{1 + n % 3},{10.5 * n}\n" for n in range(1, 5))
        landing.blob(f"in/{shop}.csv").upload_from_string(f"{shop}_id,region_id,sales\n{rows}")
    config = load_config(
        None,
        {
            "source_tables": [f"gs://{bucket}/in/{name}.csv" for name in ["region", *shops]],
            "target_dataset": target,
            "seed": 7,
            "staging_bucket": "it-staging",
            "audit_table": f"{project}.{target}.bqsynth_audit",
            "batch_id": f"it-{uuid.uuid4().hex[:8]}",
        },
    )
    try:
        started = time.perf_counter()
        exit_code = run_local(config, str(tmp_path))
        print(f"{MANY}-table run: {time.perf_counter() - started:.1f} s")
        summary, markdown, _ = summary_of(tmp_path)
        assert exit_code == EXIT_OK, [(t.table, t.error) for t in summary.tables if not t.ok]
        assert len(summary.tables) == MANY and {t.status for t in summary.tables} == {"Completed"}
        for shop in shops:
            shop_table, region_table = f"{project}.{target}.{shop}", f"{project}.{target}.region"
            assert count_rows(client, shop_table) == 4, shop
            assert count_orphans(client, shop_table, ["region_id"], region_table, ["region_id"]) == 0, shop
        assert all(shop in markdown for shop in shops)
    finally:
        client.delete_dataset(target, delete_contents=True, not_found_ok=True)
        for blob in landing.list_blobs():
            blob.delete()
        landing.delete()
