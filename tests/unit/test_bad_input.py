"""Bad input refused before any work: one line per case (add yours to CASES).

Each case runs ``submit.py --local`` with the flags or the YAML config given; it must exit 2
(``EXIT_CONFIG_ERROR``) with a message naming the parameter and what is wrong, before any
client is made or any step runs (no emulator is running for these tests).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import submit

SOURCES = "--source-tables=proj.src.customers,proj.src.orders"

# (case, extra flags, YAML config or None, words the error must contain)
CASES: list[tuple[str, list[str], dict | None, list[str]]] = [
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
]


@pytest.mark.parametrize(("flags", "config", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_before_any_work(
    flags: list[str], config: dict | None, words: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--local"] + ([] if any(f.startswith("--source-tables") for f in flags) else [SOURCES]) + flags
    if config is not None:
        path = tmp_path / "run.yaml"
        path.write_text(yaml.safe_dump(config))
        args += ["--config", str(path)]
    assert submit.main(args) == submit.EXIT_CONFIG_ERROR
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "Traceback" not in error
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
