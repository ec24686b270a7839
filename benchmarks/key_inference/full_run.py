"""The issue's "Done when" on the benchmark schemas: a real run, then the targets checked by SQL.

For each schema (loaded without declared keys, as run.py loads it): ``submit.py --local`` over all
its tables, then, on the target dataset: every table's audit rows Completed (the latest row of each
stage), orphans of every published FK and of every relationship the run planned (child rows whose
reference has no NULL part and is not in the parent target), duplicate keys of every published PK
and of every planned PK (rows beyond the first per key value). Prints a table per schema and writes
benchmarks/results/full_run.json.

Run: eval "$(bash scripts/local_stack.sh env)"; PYTHONPATH=. .venv/bin/python
benchmarks/key_inference/full_run.py --schemas ssb,chinook,tpch [--scale 1.0] [--reuse]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import emulator  # noqa: E402
from google.cloud import bigquery  # noqa: E402
from run import SCHEMAS  # noqa: E402
from truth import Schema  # noqa: E402

from bqsynth.gcp.clients import bigquery_client  # noqa: E402
from bqsynth.models import RunSummary  # noqa: E402
from bqsynth.steps.artifacts import read_model  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
RESULTS = REPO_ROOT / "benchmarks" / "results"


@dataclass
class KeyCheck:
    kind: str  # "published PK", "planned PK", "published FK", "planned FK"
    name: str
    violations: int  # duplicate rows (PK) or orphan rows (FK)


@dataclass
class FullRun:
    schema: str
    batch_id: str
    exit_code: int
    seconds: float
    tables: int
    tables_completed: int
    rows_in_targets: int
    not_completed: dict[str, str] = field(default_factory=dict)
    checks: list[KeyCheck] = field(default_factory=list)
    # submit.py's last stderr lines when it exits non-zero (its exit codes are submit.EXIT_*), so a
    # recorded exit code is explained; and the commit the run's code came from (+ "-dirty").
    stderr_tail: list[str] = field(default_factory=list)
    commit: str = ""

    def total(self, kind: str) -> int:
        return sum(c.violations for c in self.checks if c.kind == kind)


def _run_pipeline(
    project: str, dataset: str, schema: Schema, batch_id: str, scale: float
) -> tuple[int, Path, list[str]]:
    """``submit.py --local`` over every table of the schema; its own pipeline root, so its summary is found.

    Its stderr is passed through and its last lines kept. Every step imports the repository's code
    when it starts: keep the tree unchanged while a run goes on (a summary written by newer code
    than submit.py's own fails to validate there, and submit.py exits 1 with a traceback).
    """
    root = _root(schema)
    command = [
        sys.executable,
        str(REPO_ROOT / "submit.py"),
        "--local",
        "--source-tables",
        ",".join(f"{project}.{dataset}.{t}" for t in schema.columns),
        "--target-dataset",
        f"fullrun_{schema.name}",
        "--batch-id",
        batch_id,
        "--scale",
        str(scale),
        "--pipeline-root",
        str(root),
    ]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    tail: list[str] = []
    for line in process.stderr:
        sys.stderr.write(line)
        tail = [*tail[-19:], line.rstrip("\n")]
    return process.wait(), root, tail


def _commit() -> str:
    """The commit the run's code came from, "-dirty" when the tree has changes to tracked files."""
    git = ["git", "-C", str(REPO_ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    dirty = subprocess.run([*git, "diff", "--quiet", "HEAD"], capture_output=True, check=False).returncode
    return head.stdout.strip() + ("-dirty" if dirty else "") if head.returncode == 0 else "unknown (not a git tree)"


def _root(schema: Schema) -> Path:
    return REPO_ROOT / "local_outputs" / f"full_run_{schema.name}"


def _without_checks(recorded: dict) -> dict:
    return {k: v for k, v in recorded.items() if k not in ("checks", "not_completed")}


def _summary(root: Path) -> RunSummary | None:
    outputs = sorted(root.glob("*/summarize-run/summary"), key=lambda p: p.stat().st_mtime)
    return read_model(RunSummary, str(outputs[-1])) if outputs else None


def _count(client: bigquery.Client, sql: str) -> int:
    return int(next(iter(client.query(sql).result()))[0] or 0)


def duplicate_rows(client: bigquery.Client, table: str, columns: list[str]) -> int:
    """Rows beyond the first for each key value (NULL parts count as values, as a key allows none)."""
    keys = ", ".join(f"`{c}`" for c in columns)
    return _count(client, f"SELECT SUM(n - 1) FROM (SELECT COUNT(*) AS n FROM `{table}` GROUP BY {keys})")


def orphan_rows(
    client: bigquery.Client, child: str, child_columns: list[str], parent: str, parent_columns: list[str]
) -> int:
    """Child rows whose reference has no NULL part and matches no parent row."""
    on = " AND ".join(f"c.`{a}` = p.`{b}`" for a, b in zip(child_columns, parent_columns, strict=True))
    present = " AND ".join(f"c.`{a}` IS NOT NULL" for a in child_columns)
    return _count(
        client,
        f"SELECT COUNT(*) FROM `{child}` c LEFT JOIN `{parent}` p ON {on} "
        f"WHERE {present} AND p.`{parent_columns[0]}` IS NULL",
    )


def audit_status(client: bigquery.Client, audit_table: str, batch_id: str) -> dict[str, str]:
    """Per table: "Completed" when the latest row of each of its stages is, else the first other status."""
    rows = client.query(
        f"SELECT table_name, stage, status, error_message, insert_timestamp FROM `{audit_table}` "
        f"WHERE batch_id = '{batch_id}' AND table_name IS NOT NULL ORDER BY insert_timestamp"
    ).result()
    latest: dict[tuple[str, str], tuple[str, str | None]] = {}
    for row in rows:
        latest[(row.table_name, row.stage)] = (row.status, row.error_message)
    status: dict[str, str] = {}
    for (table, stage), (state, error) in latest.items():
        if state != "Completed":
            status[table] = f"{stage} {state}: {error or ''}"[:200]
        else:
            status.setdefault(table, "Completed")
    return status


def full_run(client: bigquery.Client, project: str, schema: Schema, *, scale: float, reuse: bool) -> FullRun:
    dataset = emulator.dataset_name(schema, declared=False)
    if not reuse:
        emulator.load(client, project, schema, declared=False)
    batch_id = f"fullrun-{schema.name}-{time.strftime('%Y%m%d%H%M%S')}"
    started, commit = time.monotonic(), _commit()
    exit_code, root, tail = _run_pipeline(project, dataset, schema, batch_id, scale)
    seconds = round(time.monotonic() - started, 1)
    result = FullRun(schema.name, batch_id, exit_code, seconds, 0, 0, 0, commit=commit)
    result.stderr_tail = tail if exit_code else []
    return check_targets(client, project, schema, result, root)


def check_targets(client: bigquery.Client, project: str, schema: Schema, result: FullRun, root: Path) -> FullRun:
    """The SQL checks on the targets of the run ``result.batch_id`` (its plan read from the run's summary)."""
    batch_id = result.batch_id
    result.tables, result.checks = len(schema.columns), []
    target = f"{project}.fullrun_{schema.name}"
    status = audit_status(client, f"{target}.bqsynth_audit", batch_id)
    result.not_completed = {t: s for t in schema.columns if (s := status.get(t, "no audit row")) != "Completed"}
    result.tables_completed = len(schema.columns) - len(result.not_completed)
    loaded = [t for t in schema.columns if t not in result.not_completed]
    result.rows_in_targets = sum(_count(client, f"SELECT COUNT(*) FROM `{target}.{t}`") for t in loaded)
    summary = _summary(root)
    planned_pks = {k.table: k.columns for k in summary.primary_keys} if summary else {}
    planned_fks = summary.relationships if summary else []
    for table, columns in schema.primary_keys.items():
        if table in loaded:
            name = f"{table}({', '.join(columns)})"
            result.checks.append(
                KeyCheck("published PK", name, duplicate_rows(client, f"{target}.{table}", list(columns)))
            )
    for table, columns in planned_pks.items():
        if table in loaded:
            name = f"{table}({', '.join(columns)})"
            result.checks.append(KeyCheck("planned PK", name, duplicate_rows(client, f"{target}.{table}", columns)))
    references = [
        ("published FK", f.child_table, list(f.child_columns), f.parent_table, list(f.parent_columns))
        for f in schema.foreign_keys
    ]
    references += [
        ("planned FK", r.child_table, r.child_columns, r.parent_table, r.parent_columns) for r in planned_fks
    ]
    for kind, child, child_columns, parent, parent_columns in references:
        if child in loaded and parent in loaded:
            name = f"{child}({', '.join(child_columns)}) -> {parent}({', '.join(parent_columns)})"
            count = orphan_rows(client, f"{target}.{child}", child_columns, f"{target}.{parent}", parent_columns)
            result.checks.append(KeyCheck(kind, name, count))
    return result


def report(result: FullRun) -> str:
    kinds = ("published PK", "planned PK", "published FK", "planned FK")
    lines = [
        f"{result.schema}: exit {result.exit_code}, {result.seconds}s, tables Completed "
        f"{result.tables_completed}/{result.tables}, {result.rows_in_targets} rows in targets",
        f"  {'check':<14}{'count':>7}{'violating':>11}{'rows':>9}",
    ]
    for kind in kinds:
        checks = [c for c in result.checks if c.kind == kind]
        bad = [c for c in checks if c.violations]
        label = "duplicates" if kind.endswith("PK") else "orphans"
        lines.append(f"  {kind:<14}{len(checks):>7}{len(bad):>11}{result.total(kind):>9}  ({label})")
    for table, status in result.not_completed.items():
        lines.append(f"  not Completed: {table}: {status}")
    if result.exit_code:
        lines += ["  submit.py's last stderr lines:", *(f"    {line}" for line in result.stderr_tail[-8:])]
    for check in result.checks:
        if check.violations:
            lines.append(f"  {check.kind}: {check.name}: {check.violations}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schemas", default="ssb,chinook,tpch", help=f"comma list of {', '.join(SCHEMAS)}")
    parser.add_argument("--scale", type=float, default=1.0, help="rows = source rows x scale (default 1.0)")
    parser.add_argument("--reuse", action="store_true", help="reuse the datasets loaded by run.py or an earlier run")
    parser.add_argument("--recheck", action="store_true", help="only the SQL checks, on the last recorded run")
    parser.add_argument("--project", default="bqsynth-local")
    args = parser.parse_args()
    client = bigquery_client(args.project)
    out = RESULTS / "full_run.json"
    earlier = {r["schema"]: r for r in json.loads(out.read_text())} if out.exists() else {}
    for name in args.schemas.split(","):
        if args.recheck:  # the SQL checks again on the targets of the last recorded run
            schema = SCHEMAS[name]()
            result = check_targets(
                client, args.project, schema, FullRun(**_without_checks(earlier[name])), _root(schema)
            )
        else:
            result = full_run(client, args.project, SCHEMAS[name](), scale=args.scale, reuse=args.reuse)
        print(report(result), flush=True)
        earlier[name] = asdict(result)
        RESULTS.mkdir(exist_ok=True)
        out.write_text(json.dumps(list(earlier.values()), indent=1))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
