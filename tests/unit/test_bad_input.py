"""Bad input refused before any work: one line per case (add yours to CASES).

Each case runs ``submit.py --local`` with the flags or the YAML config given; it must exit 2
(``EXIT_CONFIG_ERROR``) with a short message naming the parameter and what is wrong, before
any client is made or any step runs (no emulator is running for these tests). The config is
a mapping (written as YAML), or the file's exact text or bytes; ``{tmp}`` in a flag is the
test's own directory. Bad input found only once the run has started (a missing table, an
empty file) is catalogued in ``tests/integration/test_bad_input_runs.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import submit
from bqsynth.delivery import audit
from bqsynth.delivery.audit import AuditRecord
from bqsynth.gcp import clients

SOURCES = "--source-tables=proj.src.customers,proj.src.orders"

Config = dict | list | str | bytes | None
TWO_MB_OF_YAML = "record_counts:\n" + "".join(f"  t{n}: 1\n" for n in range(200_000))
MANY_UNKNOWN_NAMES = {"record_counts": {f"t{n}": 1 for n in range(30_000)}}

# (case, extra flags, config file or None, words the error must contain)
CASES: list[tuple[str, list[str], Config, list[str]]] = [
    ("count for a table not in the run", ["--record-count", "invoices=10"], None, ["record_counts", "invoices"]),
    ("negative count in YAML", [], {"record_counts": {"orders": -5}}, ["record_counts.orders", "greater than"]),
    ("fractional count in YAML", [], {"record_counts": {"orders": 2.5}}, ["record_counts.orders"]),
    ("count above max_rows", ["--record-count", "orders=1000000000000"], None, ["max_rows", "orders"]),
    ("count above a lowered max_rows", ["--record-count", "orders=11", "--max-rows", "10"], None, ["max_rows"]),
    ("max_rows of 0", ["--max-rows", "0"], None, ["max_rows"]),
    ("scale inf", ["--scale", "inf"], None, ["scale", "finite"]),
    ("scale nan", ["--scale", "nan"], None, ["scale"]),
    ("scale 0", ["--scale", "0"], None, ["scale", "greater than 0"]),
    ("negative scale", ["--scale", "-1"], None, ["scale"]),
    ("batch id with a space", ["--batch-id", "my batch"], None, ["batch_id", "'my batch'"]),
    ("batch id with a slash", ["--batch-id", "a/b"], None, ["batch_id", "'a/b'"]),
    ("batch id too long", ["--batch-id", "b" * 65], None, ["batch_id", "at most 64"]),
    ("dataset with a dash", ["--target-dataset", "my-data"], None, ["target_dataset", "'my-data'"]),
    ("dataset with a dot", ["--target-dataset", "a.b"], None, ["target_dataset"]),
    ("bucket with capitals", ["--staging-bucket", "My_Bucket"], None, ["staging_bucket", "lowercase"]),
    ("bucket given as a URI", ["--staging-bucket", "gs://bucket"], None, ["staging_bucket", "without gs://"]),
    ("bucket too short", ["--staging-bucket", "ab"], None, ["staging_bucket"]),
    ("bucket named google", ["--staging-bucket", "my-google-bucket"], None, ["staging_bucket", "google"]),
    ("project display name", ["--target-project", "My Project"], None, ["target_project", "project id"]),
    ("audit table of two parts", ["--audit-table", "ds.audit"], None, ["audit_table", "project.dataset.table"]),
    ("quality table with a bad dataset", ["--quality-table", "p.bad-ds.q"], None, ["quality_table", "bad-ds"]),
    ("source of two parts", ["--source-tables", "src.customers"], None, ["source_tables", "src.customers"]),
    ("source with a bad dataset", ["--source-tables", "proj.my-src.t"], None, ["source_tables", "my-src"]),
    ("no sources", ["--source-tables", ""], None, ["source"]),
    ("unknown YAML key", [], {"recordcounts": {"orders": 5}}, ["recordcounts"]),
    ("YAML that is a list", [], ["a", "b"], ["mapping"]),  # type: ignore[list-item]
    ("target dataset holding a source", ["--target-dataset", "src"], None, ["proj.src.customers", "overwrite"]),
    (
        "target project + dataset holding a source",
        ["--target-project", "proj", "--target-dataset", "src"],
        None,
        ["proj.src.customers", "target_dataset"],
    ),
    # the config file itself
    ("malformed YAML: an unclosed brace", [], "record_counts: {orders: 5\n", ["not valid YAML", "line"]),
    ("malformed YAML: a tab for indent", [], "seed: 1\n\tscale: 2\n", ["not valid YAML", "line 2"]),
    ("YAML not UTF-8 (UTF-16)", [], "seed: 1\n".encode("utf-16"), ["not UTF-8", "save it as UTF-8"]),
    ("YAML not UTF-8 (Latin-1)", [], "model: gemini-é\n".encode("latin-1"), ["not UTF-8"]),
    ("a huge config (2 MB)", [], TWO_MB_OF_YAML, ["bytes", "is it the right file"]),
    ("30,000 unknown tables: a short message", [], MANY_UNKNOWN_NAMES, ["record_counts", "and 29990 more"]),
    ("a key given twice", [], "seed: 1\nscale: 2\nseed: 3\n", ["'seed' is given twice", "line 3"]),
    ("a key given twice, nested", [], "record_counts:\n  orders: 1\n  orders: 2\n", ["'orders' is given twice"]),
    ("a Python object tag", [], "seed: !!python/object:os.system {}\n", ["not valid YAML"]),
    ("config file missing", ["--config", "{tmp}/none.yaml"], None, ["none.yaml", "does not exist"]),
    ("config file a directory", ["--config", "{tmp}"], None, ["cannot be read", "directory"]),
    (
        "sources a string, not a list",
        ["--source-tables="],
        {"source_tables": "proj.src.customers"},
        ["source_tables", "list"],
    ),
    ("unknown llm in YAML", [], {"llm": "chatgpt"}, ["llm", "'offline' or 'gemini'"]),
    ("unknown --llm flag", ["--llm", "chatgpt"], None, ["--llm", "invalid choice"]),
    ("bad write disposition", [], {"write_disposition": "WRITE_EMPTY"}, ["write_disposition", "WRITE_APPEND"]),
    ("seed: yes (a YAML boolean)", [], {"seed": True}, ["seed", "not a boolean"]),
    ("a count of on (a YAML boolean)", [], {"record_counts": {"orders": True}}, ["record_counts.orders", "boolean"]),
    ("seed not a number", ["--seed", "abc"], None, ["--seed", "invalid int"]),
    ("negative seed", ["--seed", "-1"], None, ["seed", "greater than or equal to 0"]),
    ("seed above 2**32 - 1", ["--seed", str(2**32)], None, ["seed", "less than or equal to"]),
    ("max_rows not whole", ["--max-rows", "1.5"], None, ["--max-rows", "invalid int"]),
    ("sample_rows above 10000", ["--sample-rows", "20000"], None, ["sample_rows", "10000"]),
    ("quality_sample_rows below 100", ["--quality-sample-rows", "5"], None, ["quality_sample_rows", "100"]),
    ("min_category_count 0", ["--min-category-count", "0"], None, ["min_category_count"]),
    ("negative token budget", ["--llm-token-budget", "-1"], None, ["llm_token_budget"]),
    ("llm_location not a region", ["--llm-location", "US Central"], None, ["llm_location", "us-central1"]),
    ("empty model name", ["--model", " "], None, ["model", "gemini-2.5-flash"]),
    # the sources
    ("an empty --source-tables entry", ["--source-tables=proj.src.a,,proj.src.b"], None, ["empty entry (entry 2)"]),
    ("a trailing comma in --source-tables", ["--source-tables=proj.src.a,"], None, ["--source-tables", "empty entry"]),
    ("a source listed twice", ["--source-tables=proj.src.a,proj.src.a"], None, ["proj.src.a", "more than once"]),
    ("two sources, one short name", ["--source-tables=proj.x.t,proj.y.t"], None, ["short name", "'t'"]),
    ("file source: bad bucket", ["--source-tables=gs://Bad_Bucket/a.csv"], None, ["gs://Bad_Bucket/a.csv", "bucket"]),
    ("file source: no object", ["--source-tables=gs://bucket/"], None, ["gs://bucket/", "bucket and an object"]),
    ("file source: s3://", ["--source-tables=s3://bucket/a.csv"], None, ["s3://bucket/a.csv", "gs://"]),
    ("a count given twice", ["--record-count", "orders=5", "--record-count", "orders=7"], None, ["orders twice"]),
    ("a count without =", ["--record-count", "orders:5"], None, ["--record-count", "TABLE=ROWS"]),
    ("file_outputs for a BigQuery table", [], {"file_outputs": {"orders": {}}}, ["file_outputs", "orders"]),
    (
        "file_outputs delimiter holding a quote",
        ["--source-tables=gs://bucket/in/orders.csv"],
        {"file_outputs": {"orders": {"delimiter": '"|'}}},
        ["file_outputs", "delimiter", "quote character"],
    ),
    # public and private columns (their columns are checked against the schemas at plan time)
    ("public column of a table not in the run", ["--public-column", "genres.name"], None, ["public_columns", "genres"]),
    ("private column without a column", ["--private-column", "orders"], None, ["private_columns", "table.column"]),
    (
        "one column public and private",
        ["--public-column", "orders.status", "--private-column", "orders.status"],
        None,
        ["orders.status", "both public_columns and private_columns"],
    ),
    # where the run writes
    ("audit table is a source", ["--audit-table", "proj.src.orders"], None, ["audit_table", "is a source table"]),
    (
        "quality table is a target",
        ["--target-dataset", "tgt", "--quality-table", "proj.tgt.orders"],
        None,
        ["quality_table", "synthetic copy of proj.src.orders"],
    ),
    ("audit and quality in one table", ["--audit-table=p.d.t", "--quality-table=p.d.t"], None, ["name two tables"]),
    (
        "a source named like the audit table",
        ["--source-tables=proj.src.bqsynth_audit", "--target-dataset=tgt"],
        None,
        ["audit_table proj.tgt.bqsynth_audit", "synthetic copy of proj.src.bqsynth_audit"],
    ),
    (
        "a source named like the quality table",
        ["--source-tables=proj.src.bqsynth_quality", "--target-dataset=tgt"],
        None,
        ["quality_table proj.tgt.bqsynth_quality"],
    ),
    ("a Vertex AI flag with --local", ["--region", "us-central1"], None, ["--region", "only apply to Vertex"]),
    ("a plan file that does not exist", ["--plan", "{tmp}/nowhere.yaml"], None, ["--plan", "no such file"]),
    (
        "a plan file that is not a plan",
        ["--plan", "{tmp}/run.yaml"],
        {"seed": 3},
        ["plan file", "must be a mapping with 'seed' and 'tables'"],
    ),
    ("a plan file with a scale", ["--plan", "{tmp}/run.yaml", "--scale", "2"], {"seed": 3}, ["plan_uri and scale"]),
    ("a recipe for a table not in the run", ["--recipe", "invoices=gs://b/i.yml"], None, ["recipes", "invoices"]),
    ("a recipe without its table", ["--recipe", "orders.recipe.yml"], None, ["--recipe", "TABLE=FILE"]),
    ("a recipe file that does not exist", ["--recipe", "orders={tmp}/no.yml"], None, ["--recipe orders", "no such"]),
]


@pytest.mark.parametrize(("flags", "config", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_before_any_work(
    flags: list[str], config: Config, words: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = [flag.replace("{tmp}", str(tmp_path)) for flag in flags]
    args = ["--local"] + ([] if any(f.startswith("--source-tables") for f in flags) else [SOURCES]) + flags
    if config is not None:
        path = tmp_path / "run.yaml"
        if isinstance(config, bytes):
            path.write_bytes(config)
        else:
            path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
        args += ["--config", str(path)]
    try:
        code = submit.main(args)
    except SystemExit as refused:  # argparse refuses a value of the wrong type or choice itself, exit 2
        code = refused.code
    assert code == submit.EXIT_CONFIG_ERROR
    error = capsys.readouterr().err
    assert "error: " in error and "Traceback" not in error
    assert len(error) < 2_000, f"a message of {len(error)} characters"  # readable, however big the input
    for word in words:
        assert word in error, f"{word!r} not in {error!r}"


def test_valid_names_of_every_kind_are_accepted() -> None:
    config = submit.config_from_args(
        submit.build_parser().parse_args(
            [
                "--local",
                "--source-tables=example.com:proj.src_1.Orders-2024,proj.src.Kunden_Übersicht",
                "--staging-bucket=my.bucket_1-x",
                "--batch-id=2026-12_nightly",
                "--target-dataset=Synthetic_1",
                "--record-count=Orders-2024=0",
                "--scale=0.5",
            ]
        )
    )
    assert config.record_counts == {"Orders-2024": 0} and config.staging_bucket == "my.bucket_1-x"


@pytest.mark.parametrize(("last", "closed"), [("In Progress", True), ("Failed", False)])
def test_a_step_that_crashed_leaves_no_run_in_progress(
    last: str, closed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kfp.local stopped on a step's exception: the run's row is closed unless a step closed it."""
    written: list[AuditRecord] = []
    monkeypatch.setattr(clients, "bigquery_client", lambda project=None: object())
    monkeypatch.setattr(audit, "read_audit", lambda c, t, b: [AuditRecord(batch_id=b, stage="run", status=last)])
    monkeypatch.setattr(audit, "write_audit", lambda c, t, record: written.append(record))
    config = submit.config_from_args(submit.build_parser().parse_args(["--local", SOURCES, "--batch-id=b1"]))
    said = submit.record_stopped(config, "ValueError: boom")
    assert ("says Failed" in said) is closed
    assert [(r.stage, r.status) for r in written] == ([("run", "Failed")] if closed else [])
    assert not written or "boom" in (written[0].error_message or "") and "--batch-id b1" in written[0].error_message
