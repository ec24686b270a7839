"""The SDV side of benchmarks/sdv_benchmark.py. Runs in .bench/sdv-venv (SDV 2.0, pandas, sdmetrics).

    python sdv_worker.py tpch  --sf 0.001 --out DIR        TPC-H rows as NDJSON (DuckDB's tpch extension)
    python sdv_worker.py synth --work DIR --method gaussian_copula|hma
    python sdv_worker.py score --work DIR

``DIR/manifest.json`` (written by the driver) names the tables, their flat column types, the
ground-truth keys and bqsynth's identifying columns; ``DIR/<system>/<table>.jsonl`` hold the
rows of each system (``source``, ``bqsynth``, ``gaussian_copula``, ``hma``). Every system's
rows are read back through the same typed loader and scored by the same code.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from measure import self_peak_rss_mb

# HMASynthesizer in SDV Community refuses larger schemas ("Please use SDV Enterprise"); we respect
# that limit and model the best sub-schema that fits it (see choose_hma_tables).
HMA_MAX_TABLES = 5
HMA_MAX_DEPTH = 2  # SDV counts tables on the longest chain: parent -> child only, no grandchildren

TEMPORAL = ("DATE", "DATETIME", "TIMESTAMP")
# The sdtypes SDMetrics' QualityReport scores; ids and PII sdtypes (email, address, ...) are skipped.
SCORED_SDTYPES = ("numerical", "datetime", "categorical", "boolean", "ordinal")


# ----------------------------------------------------------------------------- files


def read_manifest(work: Path) -> dict[str, Any]:
    return json.loads((work / "manifest.json").read_text())


def typed_frame(path: Path, types: dict[str, str]) -> pd.DataFrame:
    """Rows of one NDJSON file as a DataFrame typed from the BigQuery types, the same for every system."""
    with path.open() as rows:
        records = [json.loads(line) for line in rows if line.strip()]
    frame = pd.DataFrame.from_records(records, columns=list(types))
    for column, type_ in types.items():
        values = frame[column]
        if type_ == "INT64":
            values = pd.to_numeric(values, errors="coerce")
            frame[column] = values.astype("int64") if values.notna().all() else values.astype("float64")
        elif type_ in ("FLOAT64", "NUMERIC"):
            frame[column] = pd.to_numeric(values, errors="coerce").astype("float64")
        elif type_ == "BOOL":
            frame[column] = values.astype("bool") if values.notna().all() else values.astype("object")
        elif type_ in TEMPORAL:
            parsed = pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce")
            frame[column] = parsed.dt.tz_localize(None)
        else:  # STRING, ARRAY (JSON text), anything else: text, None kept as missing
            frame[column] = values.astype("object").where(values.notna(), None)
    return frame


def load_system(work: Path, manifest: dict[str, Any], system: str) -> dict[str, pd.DataFrame]:
    frames = {}
    for table, spec in manifest["tables"].items():
        path = work / system / f"{table}.jsonl"
        if path.exists():
            frames[table] = typed_frame(path, spec["types"])
    return frames


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_json(path, orient="records", lines=True, date_format="iso", date_unit="s")


# -------------------------------------------------------------------------- metadata


def build_metadata(manifest: dict[str, Any], frames: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """SDV metadata: SDV's own detection, corrected by the keys the source declares.

    SDV gets what bqsynth gets: the declared keys, plus its own inference (detect_from_dataframes
    finds primary keys and name-matching foreign keys, as bqsynth infers undeclared ones).
    Composite keys cannot be expressed in SDV metadata and are left out.
    """
    from sdv.metadata import Metadata

    detected = Metadata.detect_from_dataframes(frames).to_dict()
    tables = detected["tables"]
    for table, spec in manifest["tables"].items():
        if not spec["primary_key_declared"]:
            continue
        meta = tables[table]
        old = meta.pop("primary_key", None)
        if old and old not in spec["primary_key"]:
            # A detected key the source contradicts (e.g. a unique comment): model it as data again.
            numeric = pd.api.types.is_numeric_dtype(frames[table][old])
            meta["columns"][old] = {"sdtype": "numerical" if numeric else "categorical"}
        if len(spec["primary_key"]) == 1:
            meta["primary_key"] = spec["primary_key"][0]
            meta["columns"][spec["primary_key"][0]] = {"sdtype": "id"}

    def valid(rel: dict[str, str]) -> bool:
        parent, child = tables[rel["parent_table_name"]], tables[rel["child_table_name"]]
        return (
            parent.get("primary_key") == rel["parent_primary_key"]
            and child.get("primary_key") != rel["child_foreign_key"]
            and rel["parent_table_name"] != rel["child_table_name"]
        )

    relationships = [r for r in detected.get("relationships", []) if valid(r)]
    present = {(r["parent_table_name"], r["child_table_name"], r["child_foreign_key"]) for r in relationships}
    for rel in manifest["relationships"]:
        if not rel["declared"] or len(rel["child_columns"]) != 1:
            continue
        candidate = {
            "parent_table_name": rel["parent"],
            "parent_primary_key": rel["parent_columns"][0],
            "child_table_name": rel["child"],
            "child_foreign_key": rel["child_columns"][0],
        }
        key = (rel["parent"], rel["child"], rel["child_columns"][0])
        if key not in present and valid(candidate):
            relationships.append(candidate)
            present.add(key)
    for rel in relationships:
        tables[rel["child_table_name"]]["columns"][rel["child_foreign_key"]] = {"sdtype": "id"}
    detected["relationships"] = relationships
    Metadata.load_from_dict(detected).validate()
    return detected


def single_table_metadata(metadata: dict[str, Any], table: str):  # -> sdv.metadata.Metadata
    from sdv.metadata import Metadata

    return Metadata.load_from_dict({"tables": {table: metadata["tables"][table]}, "relationships": []})


def _depth(tables: frozenset[str], relationships: list[dict[str, str]]) -> int:
    """Tables on the longest parent -> child chain inside ``tables`` (SDV's definition)."""
    children: dict[str, list[str]] = {}
    for r in relationships:
        children.setdefault(r["parent_table_name"], []).append(r["child_table_name"])

    def depth(table: str, seen: frozenset[str]) -> int:
        below = [depth(c, seen | {c}) for c in children.get(table, []) if c not in seen]
        return 1 + max(below, default=0)

    return max((depth(t, frozenset({t})) for t in tables), default=0)


def choose_hma_tables(metadata: dict[str, Any], rows: dict[str, int]) -> tuple[list[str], list[dict[str, str]]]:
    """The sub-schema HMA Community accepts that keeps the most relationships (then the most rows)."""
    names = sorted(metadata["tables"])
    best: tuple[int, int, tuple[str, ...]] | None = None
    for size in range(1, min(HMA_MAX_TABLES, len(names)) + 1):
        for subset in itertools.combinations(names, size):
            chosen = frozenset(subset)
            inner = [
                r
                for r in metadata["relationships"]
                if r["parent_table_name"] in chosen and r["child_table_name"] in chosen
            ]
            if _depth(chosen, inner) > HMA_MAX_DEPTH:
                continue
            score = (len(inner), sum(rows[t] for t in subset), subset)
            if best is None or score[:2] > best[:2]:
                best = score
    assert best is not None
    chosen = frozenset(best[2])
    inner = [
        r for r in metadata["relationships"] if r["parent_table_name"] in chosen and r["child_table_name"] in chosen
    ]
    return sorted(chosen), inner


# ---------------------------------------------------------------------------- synth


def _gaussian_copula(metadata: dict[str, Any], table: str, frame: pd.DataFrame, rows: int) -> tuple[pd.DataFrame, dict]:
    from sdv.single_table import GaussianCopulaSynthesizer

    synthesizer = GaussianCopulaSynthesizer(single_table_metadata(metadata, table))
    started = time.perf_counter()
    synthesizer.fit({table: frame})  # SDV 2.0: single-table fit takes {name: frame} too
    fitted = time.perf_counter()
    sample = synthesizer.sample(num_rows=rows)
    sampled = time.perf_counter()
    if isinstance(sample, dict):  # SDV 2.0 answers {name: frame} when fitted on one
        sample = sample[table]
    timing = {"model": "GaussianCopula", "fit_seconds": fitted - started, "sample_seconds": sampled - fitted}
    return sample, timing


def synth(work: Path, method: str) -> None:
    manifest = read_manifest(work)
    random.seed(manifest["seed"])
    np.random.seed(manifest["seed"])
    source = load_system(work, manifest, "source")
    metadata = build_metadata(manifest, source)
    rows = {t: len(f) for t, f in source.items()}
    out_dir = work / method
    timings: dict[str, dict[str, Any]] = {}
    report: dict[str, Any] = {"method": method, "sdv_relationships": metadata["relationships"]}

    hma_tables: list[str] = []
    if method == "hma":
        from sdv.metadata import Metadata
        from sdv.multi_table import HMASynthesizer

        hma_tables, inner = choose_hma_tables(metadata, rows)
        sub = {"tables": {t: metadata["tables"][t] for t in hma_tables}, "relationships": inner}
        print(f"HMA sub-schema: {hma_tables}, {len(inner)} relationships", flush=True)
        synthesizer = HMASynthesizer(Metadata.load_from_dict(sub), verbose=False)
        started = time.perf_counter()
        synthesizer.fit({t: source[t] for t in hma_tables})
        fitted = time.perf_counter()
        sample = synthesizer.sample_scale(scale=1.0)
        sampled = time.perf_counter()
        for table in hma_tables:
            write_frame(sample[table], out_dir / f"{table}.jsonl")
        # HMA fits and samples all its tables together: the time is booked once, on the group.
        timings["HMA(" + ",".join(hma_tables) + ")"] = {
            "model": "HMA",
            "fit_seconds": fitted - started,
            "sample_seconds": sampled - fitted,
        }
        report["hma_tables"] = hma_tables
        report["hma_relationships"] = inner

    for table, frame in source.items():
        if table in hma_tables:
            continue
        print(f"GaussianCopula {table} ({rows[table]} rows)", flush=True)
        sample, timing = _gaussian_copula(metadata, table, frame, rows[table])
        write_frame(sample, out_dir / f"{table}.jsonl")
        timings[table] = timing

    report["gaussian_copula_tables"] = [t for t in source if t not in hma_tables]
    report["steps"] = {
        k: {m: round(v, 2) if isinstance(v, float) else v for m, v in t.items()} for k, t in timings.items()
    }
    report["fit_sample_seconds"] = round(sum(t["fit_seconds"] + t["sample_seconds"] for t in timings.values()), 2)
    report["peak_rss_mb"] = self_peak_rss_mb()
    (out_dir / "timing.json").write_text(json.dumps(report, indent=2, default=str))


# ---------------------------------------------------------------------------- score


def _canonical(value: Any) -> str:
    """One text form per value, so 70000001, 70000001.0 and '70000001' compare equal."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def _key_frame(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    keys = frame[columns].dropna()
    return keys.apply(lambda column: column.map(_canonical))


def orphans(child: pd.DataFrame, child_columns: list[str], parent: pd.DataFrame, parent_columns: list[str]) -> int:
    """Child rows whose (non-null) key matches no parent row: a pandas anti-join."""
    keys = _key_frame(child, child_columns)
    parents = _key_frame(parent, parent_columns).drop_duplicates()
    parents.columns = child_columns
    merged = keys.merge(parents, on=child_columns, how="left", indicator=True)
    return int((merged["_merge"] == "left_only").sum())


def duplicate_keys(frame: pd.DataFrame, columns: list[str]) -> int:
    """Rows beyond the first for each primary-key value."""
    keys = _key_frame(frame, columns)
    return int(len(keys) - len(keys.drop_duplicates()))


def leaked(source: pd.Series, synthetic: pd.Series) -> tuple[int, int]:
    """(distinct synthetic values also found in the source column, distinct synthetic values)."""
    real = {_canonical(v) for v in source.dropna().unique()}
    fake = {_canonical(v) for v in synthetic.dropna().unique()}
    return len(fake & real), len(fake)


def quality(real: pd.DataFrame, fake: pd.DataFrame, table_metadata: dict[str, Any]) -> dict[str, float | None]:
    """SDMetrics QualityReport on the columns of ``real`` that the metadata lists (same call for every system)."""
    from sdmetrics.reports.single_table import QualityReport

    columns = [c for c in real.columns if c in table_metadata["columns"]]
    meta = {"columns": {c: table_metadata["columns"][c] for c in columns}}
    if table_metadata.get("primary_key") in columns:
        meta["primary_key"] = table_metadata["primary_key"]
    scorable = [c for c, m in meta["columns"].items() if m["sdtype"] in SCORED_SDTYPES]
    if not scorable:
        return {"quality": None, "column_shapes": None, "column_pair_trends": None}
    report = QualityReport()
    report.generate(real[columns], fake[columns], meta, verbose=False)
    properties = report.get_properties().set_index("Property")["Score"].astype(float)
    # One scorable column has no pairs: the report's score is then NaN; use the shapes alone.
    overall = float(properties.dropna().mean())
    return {
        "quality": round(overall, 4),
        "column_shapes": _round(properties.get("Column Shapes")),
        "column_pair_trends": _round(properties.get("Column Pair Trends")),
    }


def _round(value: float | None) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 4)


def score_system(
    manifest: dict[str, Any], metadata: dict[str, Any], source: dict[str, pd.DataFrame], frames: dict[str, pd.DataFrame]
) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    for table, real in source.items():
        if table not in frames:
            continue
        fake, spec = frames[table], manifest["tables"][table]
        entry: dict[str, Any] = {"rows": len(fake), "source_rows": len(real)}
        entry.update(quality(real, fake, metadata["tables"][table]))
        # Identifying columns are faked on purpose: any fidelity there is a copy of personal data.
        # The second score leaves them out, for every system alike.
        identifying = set(manifest["identifying"].get(table, []))
        kept = [c for c in real.columns if c not in identifying]
        entry.update(
            {f"{k}_non_identifying": v for k, v in quality(real[kept], fake, metadata["tables"][table]).items()}
        )
        entry["duplicate_pks"] = duplicate_keys(fake, spec["primary_key"]) if spec["primary_key"] else 0
        by_column = {}
        for column in manifest["identifying"].get(table, []):
            hits, distinct = leaked(real[column], fake[column])
            by_column[column] = {"leaked": hits, "distinct_synthetic": distinct}
        entry["leaked_values"] = sum(c["leaked"] for c in by_column.values())
        entry["leaked_by_column"] = by_column
        tables[table] = entry
    relationships = []
    for rel in manifest["relationships"]:
        if rel["child"] in frames and rel["parent"] in frames:
            count = orphans(frames[rel["child"]], rel["child_columns"], frames[rel["parent"]], rel["parent_columns"])
        else:
            count = None
        name = f"{rel['child']}({','.join(rel['child_columns'])}) -> {rel['parent']}({','.join(rel['parent_columns'])})"
        relationships.append({"relationship": name, "declared": rel["declared"], "orphans": count})
    return {"tables": tables, "relationships": relationships}


def score(work: Path, systems: list[str]) -> None:
    manifest = read_manifest(work)
    source = load_system(work, manifest, "source")
    metadata = build_metadata(manifest, source)
    results: dict[str, Any] = {"sdv_metadata": metadata}
    for system in systems:
        frames = load_system(work, manifest, system)
        if not frames:
            print(f"no output for {system}: skipped", flush=True)
            continue
        print(f"scoring {system}", flush=True)
        started = time.perf_counter()
        results[system] = score_system(manifest, metadata, source, frames)
        results[system]["scoring_seconds"] = round(time.perf_counter() - started, 1)
    (work / "scores.json").write_text(json.dumps(results, indent=2, default=str))


# ----------------------------------------------------------------------------- tpch


def tpch(sf: float, out: Path) -> None:
    """TPC-H at scale factor ``sf`` with DuckDB 1.5.5's bundled extension (no download)."""
    import duckdb
    import duckdb_extensions

    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    duckdb_extensions.import_extension("tpch", con=con)
    con.execute(f"CALL dbgen(sf={float(sf)})")
    for (table,) in con.execute("SHOW TABLES").fetchall():
        con.execute(f"COPY (SELECT * FROM {table}) TO '{out / (table + '.jsonl')}' (FORMAT JSON)")
        print(table, con.execute(f"SELECT count(*) FROM {table}").fetchone()[0], flush=True)


def main(argv: list[str] | None = None) -> int:
    # SDV and sdmetrics warn on every detected PII column and every pandas deprecation: noise here.
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("tpch")
    gen.add_argument("--sf", type=float, required=True)
    gen.add_argument("--out", type=Path, required=True)
    run = commands.add_parser("synth")
    run.add_argument("--work", type=Path, required=True)
    run.add_argument("--method", choices=["gaussian_copula", "hma"], required=True)
    rate = commands.add_parser("score")
    rate.add_argument("--work", type=Path, required=True)
    rate.add_argument("--systems", default="bqsynth,gaussian_copula,hma")
    args = parser.parse_args(argv)
    if args.command == "tpch":
        tpch(args.sf, args.out)
    elif args.command == "synth":
        synth(args.work, args.method)
    else:
        score(args.work, args.systems.split(","))
    return 0


if __name__ == "__main__":
    sys.exit(main())
