"""Load the demo warehouse into BigQuery and its delimited feeds into Cloud Storage.

python -m demo [--project P] [--dataset bqsynth_demo_src] [--seed 42] [--scale 1.0] [--no-files]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from bqsynth.gcp.clients import bigquery_client, storage_client
from demo.feeds import upload_demo_files
from demo.warehouse import DEFAULT_DATASET, build_demo_tables, load_tables


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.splitlines()[0])
    parser.add_argument("--project", help="target project (default: the client's / local stack's)")
    parser.add_argument("--dataset", default=DEFAULT_DATASET)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every row count")
    parser.add_argument("--location", help="dataset location when it has to be created, e.g. US or EU")
    parser.add_argument(
        "--no-files", action="store_true", help="skip the delimited demo files (gs://bqsynth-demo-landing/feeds/)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    client = bigquery_client(args.project)
    project = args.project or client.project
    started = time.monotonic()
    tables = build_demo_tables(args.seed, args.scale)
    counts = load_tables(client, project, args.dataset, tables, args.location)
    files = [] if args.no_files else upload_demo_files(storage_client(project), tables, args.seed)
    elapsed = time.monotonic() - started

    specs = {t.name: t for t in tables}
    report = Table(title=f"{project}.{args.dataset}  (seed {args.seed}, scale {args.scale})")
    report.add_column("Table")
    report.add_column("Rows", justify="right")
    report.add_column("Columns", justify="right")
    report.add_column("Declared constraints")
    for name, n in counts.items():
        spec = specs[name]
        declared = ([f"PK({spec.primary_key})"] if spec.primary_key_declared else []) + [
            f"FK({fk.column})->{fk.ref_table}" for fk in spec.declared_foreign_keys
        ]
        report.add_row(name, f"{n:,}", str(len(spec.columns)), ", ".join(declared) or "-")
    report.caption = f"{sum(counts.values()):,} rows loaded in {elapsed:.1f}s"
    Console().print(report)
    for uri in files:
        print(f"demo file source: {uri}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
