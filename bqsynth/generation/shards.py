"""A table's rows as shards, each its own generate task, and the shards' results as the table's again.

Keys and references are pure functions of ``(seed, table, row index)``, so a shard is only a
row range: shards run on separate workers in any order, and the load step loads all of a
table's shard files in one job. A table is whole only when every one of its shards is:
a failed or missing shard fails the table, naming the shard, and nothing of it is loaded.

A file source stays one shard whatever its size: its synthetic files in the source's format
carry the table's record count in trailers and are numbered like the source's parts, so
they are written from all of its rows at once (file sources are parsed in memory anyway,
up to 2 GiB each, see ``bqsynth.sources.gcs_files``).
"""

from __future__ import annotations

from collections.abc import Sequence

from bqsynth.models import TablePlan, TableResult, WorkItem


def table_shards(table: TablePlan, shard_rows: int) -> list[WorkItem]:
    """``ceil(row_count / shard_rows)`` row ranges covering every row of ``table`` once, in order.

    A table of 0 rows is one empty shard, so that its (empty) target is still made.
    """
    if shard_rows < 1:
        raise ValueError(f"shard_rows must be at least 1, not {shard_rows}")
    if table.file_format is not None or table.row_count == 0:
        return [WorkItem(table=table.name, shard=0, shards=1, start_index=0, row_count=table.row_count)]
    starts = range(0, table.row_count, shard_rows)
    return [
        WorkItem(
            table=table.name,
            shard=shard,
            shards=len(starts),
            start_index=start,
            row_count=min(shard_rows, table.row_count - start),
        )
        for shard, start in enumerate(starts)
    ]


def work_items(tables: Sequence[TablePlan], shard_rows: int) -> list[WorkItem]:
    """Every shard of every table: the generation ParallelFor's items."""
    return [item for table in tables for item in table_shards(table, shard_rows)]


def merge_shard_results(table: TablePlan, expected: Sequence[WorkItem], results: Sequence[TableResult]) -> TableResult:
    """The table's result from its shards' results: Completed only when every expected shard is.

    ``expected`` are the table's shards (``table_shards``); ``results`` the generate step's
    results of this table's shards (one per shard; a retried task overwrites its own). A
    failed shard, or one that left no result, fails the table with a message naming the
    table and the shard(s); the files of the other shards are dropped, so nothing of the
    table is loaded.
    """
    by_shard = {r.shard.shard if r.shard else 0: r for r in results}
    ordered = [by_shard[item.shard] for item in expected if item.shard in by_shard]
    merged = TableResult(
        table=table.name,
        source_table=table.source_table,
        target_table=table.target_table,
        rows_requested=table.row_count,
        rows_generated=sum(r.rows_generated for r in ordered),
        generate_seconds=sum(r.generate_seconds for r in ordered),  # the work, though shards may run side by side
        engine=ordered[0].engine if ordered else "",
        shards=len(expected),
    )
    failed = [(item, by_shard[item.shard]) for item in expected if item.shard in by_shard]
    failed = [(item, r) for item, r in failed if r.status != "Completed"]
    missing = [item for item in expected if item.shard not in by_shard]
    if not failed and not missing:
        return merged.model_copy(
            update={
                "files": [uri for r in ordered for uri in r.files],
                "output_files": [uri for r in ordered for uri in r.output_files],
                "status": "Completed",
            }
        )
    problems = [f"{item.label()} failed: {r.error or 'no error was recorded'}" for item, r in failed]
    if missing:
        named = ", ".join(item.label() for item in missing)
        problems.append(f"{named}: no generate result in this batch (its task did not finish); run the batch again")
    error = f"{table.name} was not loaded into {table.target_table}: " + "; ".join(problems)
    if len(expected) == 1 and failed:
        error = failed[0][1].error or error  # a table of one shard: its own error, as before shards
    return merged.model_copy(update={"status": "Failed", "error": error})
