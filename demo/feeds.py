"""Delimited demo files in Cloud Storage, shaped like the feeds that land from other systems.

They sit beside the demo warehouse so that the demo run mixes BigQuery tables and file
sources, with references crossing between them:

* ``Card_Disputes_part*.csv``: a table in two parts, UTF-8 with a BOM, ``;``-delimited,
  a header row, dates as ``dd.mm.yyyy``, amounts with a decimal comma, free text quoted
  where it holds the delimiter; ``card_id`` references ``Dim_Card`` (undeclared).
* ``Branch_Targets.psv``: no header row, ``|``-delimited, a custom header line
  ``HDR|<yyyymmdd>|ACME BANK`` and a trailer ``TRL|<record count, 7 digits>``; the first
  column holds ``Dim_Branch`` ids.

The rows are drawn from a seeded ``random.Random`` over the demo tables' own keys, so
the files are byte-identical for the same seed.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Sequence
from datetime import date, timedelta

from google.cloud import bigquery, storage

from demo.warehouse import AS_OF, DemoTable, Row, build_demo_tables, load_tables

DEMO_LANDING_BUCKET = "bqsynth-demo-landing"
DISPUTE_REASONS = {"Fraud": 40, "Not received": 25, "Duplicate charge": 15, "Wrong amount": 12, "Cancelled": 8}
NOTES = (
    "Customer says; card was in their wallet",
    'Merchant refused a refund, "twice"',
    "Charged in EUR; expected USD",
    "Subscription cancelled in March",
    "",
)


def _table(tables: Sequence[DemoTable], name: str) -> list[Row]:
    return next(t.rows for t in tables if t.name == name)


def card_disputes_csv(rng: random.Random, cards: list[Row], first_id: int, rows: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(["dispute_id", "card_id", "opened_on", "amount", "reason", "customer_note"])
    reasons, weights = list(DISPUTE_REASONS), list(DISPUTE_REASONS.values())
    for i in range(rows):
        opened = AS_OF - timedelta(days=rng.randint(0, 700))
        amount = f"{rng.randint(500, 250_000) / 100:.2f}".replace(".", ",")
        writer.writerow(
            [
                first_id + i,
                rng.choice(cards)["card_id"],
                f"{opened:%d.%m.%Y}",
                amount,
                rng.choices(reasons, weights)[0],
                rng.choice(NOTES),
            ]
        )
    return "\ufeff".encode() + out.getvalue().encode()


def branch_targets_psv(rng: random.Random, branches: list[Row], as_of: date) -> bytes:
    lines = [f"HDR|{as_of:%Y%m%d}|ACME BANK"]
    for branch in branches:
        for quarter in (1, 2, 3, 4):
            target = f"{rng.randint(50, 900) * 1000 + rng.randint(0, 99) / 100:.2f}".replace(".", ",")
            lines.append(f"{branch['branch_id']}|{as_of.year}Q{quarter}|{target}|{rng.randint(2, 40)}")
    lines.append(f"TRL|{len(lines) - 1:07d}")
    return ("\n".join(lines) + "\n").encode()


def demo_files(tables: Sequence[DemoTable], seed: int = 42) -> dict[str, bytes]:
    """Object name -> bytes of every demo file."""
    rng = random.Random(f"{seed}:demo-files")
    cards, branches = _table(tables, "Dim_Card"), _table(tables, "Dim_Branch")
    return {
        "feeds/disputes/Card_Disputes_part1.csv": card_disputes_csv(rng, cards, 1, 120),
        "feeds/disputes/Card_Disputes_part2.csv": card_disputes_csv(rng, cards, 121, 80),
        "feeds/targets/Branch_Targets.psv": branch_targets_psv(rng, branches, AS_OF),
    }


DEMO_FILE_SOURCES = (
    f"gs://{DEMO_LANDING_BUCKET}/feeds/disputes/Card_Disputes_part*.csv",
    f"gs://{DEMO_LANDING_BUCKET}/feeds/targets/Branch_Targets.psv",
)


def upload_demo_files(
    client: storage.Client, tables: Sequence[DemoTable], seed: int = 42, bucket: str = DEMO_LANDING_BUCKET
) -> list[str]:
    """Write the demo files to ``bucket`` (created when missing); returns their gs:// URIs."""
    target = client.lookup_bucket(bucket) or client.create_bucket(bucket)
    uris = []
    for name, data in demo_files(tables, seed).items():
        target.blob(name).upload_from_string(data, content_type="text/plain")
        uris.append(f"gs://{bucket}/{name}")
    return uris


def load_demo_sources(
    bq: bigquery.Client, gcs: storage.Client, project: str, dataset: str, seed: int = 42, scale: float = 1.0
) -> list[str]:
    """Every source of the demo run (configs/demo.yaml): the warehouse's tables in ``dataset`` and
    the delimited files beside them; returns the files' gs:// URIs."""
    tables = build_demo_tables(seed, scale)
    load_tables(bq, project, dataset, tables)
    return upload_demo_files(gcs, tables, seed)
