"""Load the generated tables into their targets (created with the source schema), once per batch.

All tables are loaded by one step, parents before children: a table is loaded only once
every table it references (``DatasetPlan.relationships``, self-references aside) is in its
target. A child whose parent failed to generate or to load is never loaded, so no target
ever holds rows that point at a missing parent; it gets a Failed load row naming the parent.
Tables whose parents are done load at the same time (one BigQuery load job each).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from google.cloud import bigquery, storage

from bqsynth.config import RunConfig
from bqsynth.delivery.load import empty_target, ensure_target_table, load_table
from bqsynth.generation.shards import merge_shard_results, table_shards
from bqsynth.models import DatasetPlan, TablePlan, TableResult, TableResults
from bqsynth.planning.relationships import order_by_parents, table_parents
from bqsynth.steps.artifacts import read_model, write_model
from bqsynth.steps.audited import AuditTrail, audited

# Load jobs mostly wait on BigQuery; this many run at once.
LOAD_THREADS = 8


def load_tables_step(
    config: RunConfig,
    plan_path: str,
    generated_paths: list[str],
    results_path: str,
    *,
    bq: bigquery.Client,
    gcs: storage.Client | None = None,
) -> TableResults:
    """Every planned table's result, loaded in ``load_waves`` order; children of failed parents skipped.

    ``generated_paths`` are the generate step's results, one per shard (local files or ``gs://``
    URIs); a table's shards are loaded together, by one load job. A planned table with a
    failed shard or a shard without a result (its task left none) is Failed, and so are its children.
    """
    plan = read_model(DatasetPlan, plan_path)
    trail = AuditTrail(bq, config.audit_table, config.batch_id)
    shard_results = [read_model(TableResult, p, gcs=gcs) for p in generated_paths]
    generated = tables_from_shards(plan, config.shard_rows, shard_results)
    results: dict[str, TableResult] = {}
    skipped: set[str] = set()  # children not loaded because of a parent: their messages are not repeated
    for table in plan.tables:  # known before any load: a cycle partner sees them too
        if table.name not in generated:
            results[table.name] = missing_result(trail, table)
        elif generated[table.name].status != "Completed":
            results[table.name] = failed_generation(trail, table, generated[table.name])
    parents = parent_tables(plan)
    with ThreadPoolExecutor(max_workers=LOAD_THREADS) as pool:
        for wave in load_waves([t.name for t in plan.tables], parents):
            pending = [t for t in wave if t not in results]

            def load_or_skip(name: str) -> TableResult:
                table, result = plan.table(name), generated[name]
                failed = failed_parents(name, parents, results)
                if failed:
                    skipped.add(name)
                    return skipped_child(trail, table, result, failed, results, skipped)
                return load_generated(config, table, result, trail, bq)

            for result in pool.map(load_or_skip, pending):
                results[result.table] = result
    loaded = TableResults(tables=[results[t.name] for t in plan.tables])
    write_model(loaded, results_path, gcs=gcs)
    return loaded


def tables_from_shards(plan: DatasetPlan, shard_rows: int, shard_results: list[TableResult]) -> dict[str, TableResult]:
    """Each generated table's result, merged from its shards' (``merge_shard_results``), by table name.

    A table none of whose shards left a result is absent (``missing_result`` handles it).
    """
    by_table: dict[str, list[TableResult]] = {}
    for result in shard_results:
        by_table.setdefault(result.table, []).append(result)
    return {
        table.name: merge_shard_results(table, table_shards(table, shard_rows), by_table[table.name])
        for table in plan.tables
        if table.name in by_table
    }


def failed_generation(trail: AuditTrail, table: TablePlan, result: TableResult) -> TableResult:
    """A table that failed to generate. A table of one shard: its generate row already says why. A
    table of several: a Failed load row says which shards failed, since no one shard's row speaks
    for the table, and none of its shards is loaded."""
    if result.shards > 1:
        trail.write(trail.table_row("load", table).evolve(status="Failed", error_message=result.error))
    return result


def load_generated(
    config: RunConfig, table: TablePlan, result: TableResult, trail: AuditTrail, bq: bigquery.Client
) -> TableResult:
    """The generated table, loaded into its target by one all-or-nothing load job (audited)."""
    begun = trail.table_row(
        "load", table, input_gcs_path=",".join(result.files), num_records_generated=result.rows_generated
    )
    with audited(trail, begun) as work:
        description = f"Synthetic copy of {table.source_table} made by bqsynth"
        ensure_target_table(bq, table.target_table, table.schema_, description=description, layout=table.layout)
        if result.rows_generated == 0 and not result.files:
            rows = empty_target(bq, table.target_table, config.write_disposition)
        else:
            rows = load_table(
                bq,
                table.target_table,
                result.files,
                table.schema_,
                config.batch_id,
                write_disposition=config.write_disposition,
            )
        result = result.model_copy(update={"rows_loaded": rows, "status": "Completed", "load_seconds": work.seconds()})
    if work.failed:
        result = result.model_copy(update={"status": "Failed", "error": work.failure, "load_seconds": work.seconds()})
    return result


def parent_tables(plan: DatasetPlan) -> dict[str, list[str]]:
    """Each planned table's parents: the other planned tables it references (self-references aside)."""
    return table_parents([t.name for t in plan.tables], plan.relationships)


def load_waves(tables: list[str], parents: dict[str, list[str]]) -> list[list[str]]:
    """``tables`` in load order: each wave references only tables of earlier waves (``parents``).

    The generation order's own waves (``planning.relationships.order_by_parents``): a
    reference cycle (A -> B -> A; self-references do not count) is broken where that order
    breaks it, so A loads first and B after it, and a failed A still keeps B out.
    """
    listed = set(tables)
    return order_by_parents({t: [p for p in parents.get(t, []) if p in listed] for t in tables}).waves


def failed_parents(table: str, parents: dict[str, list[str]], results: dict[str, TableResult]) -> list[str]:
    """The parents of ``table`` that are not in their targets (failed, or not done in a cycle)."""
    return [p for p in parents[table] if p in results and results[p].status != "Completed"]


def skipped_child(
    trail: AuditTrail,
    table: TablePlan,
    result: TableResult,
    failed: list[str],
    results: dict[str, TableResult],
    skipped: set[str],
) -> TableResult:
    """A generated child that is not loaded because a parent failed: a Failed load row says which.

    The parents' own errors are quoted, shortened; a parent that was itself skipped is named
    as such, so that a grandchild's message does not repeat every ancestor's.
    """
    causes = "; ".join(
        f"{p}: not loaded either, because of its own parents"
        if p in skipped
        else f"{p}: {_shortened(results[p].error or 'failed')}"
        for p in failed
    )
    names = ", ".join(failed)
    message = (
        f"{table.name} was not loaded into {table.target_table} because the table(s) it references failed "
        f"({names}), so its rows would point at missing parent rows. Fix {names} and run again. ({causes})"
    )
    trail.write(trail.table_row("load", table).evolve(status="Failed", error_message=message))
    return result.model_copy(update={"status": "Failed", "error": message})


def missing_result(trail: AuditTrail, table: TablePlan) -> TableResult:
    """A planned table the generate step left no result for: Failed, so that its children are skipped too."""
    message = f"{table.name} has no generate result in this batch, so it was not loaded; run the batch again"
    trail.write(trail.table_row("load", table).evolve(status="Failed", error_message=message))
    return TableResult(
        table=table.name,
        source_table=table.source_table,
        target_table=table.target_table,
        rows_requested=table.row_count,
        status="Failed",
        error=message,
    )


def _shortened(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
