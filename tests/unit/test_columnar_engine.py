"""Engine agreement: the columnar engine against Snowfakery, the reference (issue 14, item 2).

Keys and references must be identical row by row; every other generator must agree in
distribution. The thresholds, stated once here:

* KS distance (numbers, dates and times as seconds, text lengths) below ``ks_limit(n, m)``:
  the two-sample critical value at alpha = 0.001, 1.95 * sqrt((n + m) / (n * m)); 0.044 for
  two samples of 4,000 rows;
* total variation distance (categories, booleans) below ``tv_limit(k, n, m)``: 0.05, or for
  k categories in small samples twice the bound on its expected sampling noise,
  0.8 * sqrt(k * (1/n + 1/m)), whichever is larger (0.05 for the 4,000-row test table;
  about 0.25 for a demo column with 120 non-null values);
* patterns: the characters at each position, by total variation as above;
* null rates equal within ``null_limit``: four standard errors of the difference;
* copula columns: Spearman correlations equal within 0.06 (and far from 0, so it shows).

``test_the_distance_checks_flag_a_wrong_distribution`` shows each check failing on a
generator changed on purpose, so none of them passes whatever the engine does.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import ks_2samp, spearmanr

from bqsynth.generation.columnar import (
    ColumnarError,
    choose_engine,
    choose_file_format,
    generate_table_columnar,
    generate_with_engine,
    parent_indices,
    seconds_to_texts,
    uniforms,
    unsupported_columns,
)
from bqsynth.generation.exclusions import exclusion_key, value_digest
from bqsynth.generation.keys import parent_index, row_uniform
from bqsynth.generation.parquet_files import read_rows
from bqsynth.generation.recipe import compile_recipe, with_recipes
from bqsynth.generation.snowfakery_runner import generate_table
from bqsynth.models import (
    ArrayValue,
    BooleanValue,
    BytesValue,
    Categorical,
    ColumnPlan,
    ColumnSchema,
    DatasetPlan,
    FakerValue,
    FileFormat,
    ForeignKeyRef,
    FreeText,
    InterColumnRule,
    NullValue,
    NumberFromQuantiles,
    PatternString,
    RecordValue,
    SequenceKey,
    ShapedText,
    TablePlan,
    TemporalFromQuantiles,
    Vocabulary,
    leaf_plans,
)
from bqsynth.planning.planner import PlanOptions, plan_dataset
from bqsynth.values import temporal_to_seconds, value_at
from tests.factories import demo_profiles
from tests.unit.test_composite_keys import lahman_like, managers_like, tpcds_like, tpch_like, visits_like

TV_LIMIT = 0.05
ROWS = 4000
SEED = 42
# The copula factor rows of three strongly correlated columns (a lower-triangular L).
COPULA = ([1.0], [0.8, 0.6], [0.7, 0.3, 0.648])


def ks_limit(n: int, m: int) -> float:
    return 1.95 * math.sqrt((n + m) / (n * m))


def tv_limit(categories: int, n: int, m: int) -> float:
    # E|p - q| <= sqrt(2/pi) * sd per category; summed (Cauchy-Schwarz) and halved: 0.4 * sqrt(k (1/n + 1/m)).
    return max(TV_LIMIT, 0.8 * math.sqrt(categories * (1 / n + 1 / m)))


def null_limit(rate: float, n: int, m: int) -> float:
    return 4 * math.sqrt(max(rate * (1 - rate), 1e-4) * (1 / n + 1 / m)) + 1e-9


def tv_distance(a: list[Any], b: list[Any]) -> float:
    ca, cb = Counter(map(json.dumps, a)), Counter(map(json.dumps, b))
    return 0.5 * sum(abs(ca[k] / len(a) - cb[k] / len(b)) for k in set(ca) | set(cb))


def ks_distance(a: list[float], b: list[float]) -> float:
    return float(ks_2samp(a, b).statistic)


# ---------------------------------------------------------------------------------------------
# A table with every generator kind the columnar engine interprets
# ---------------------------------------------------------------------------------------------


def _col(name: str, kind: str, generator: Any, mode: str = "NULLABLE", null_rate: float = 0.0) -> ColumnPlan:
    return ColumnPlan(name=name, type=kind, mode=mode, generator=generator, null_rate=null_rate)  # type: ignore[arg-type]


def every_kind_table(rows: int = ROWS, rules: list[InterColumnRule] | None = None) -> TablePlan:
    columns = [
        _col("sale_id", "INT64", SequenceKey(start=1000, step=3), mode="REQUIRED"),
        _col("sale_code", "STRING", SequenceKey(prefix="S-", width=7, as_string=True)),
        _col("sale_shape", "STRING", SequenceKey(pattern="??-####", start=17)),
        _col("sale_hour", "TIMESTAMP", SequenceKey(temporal="TIMESTAMP", start=1_600_000_000, step=3600)),
        _col(
            "customer_id",
            "INT64",
            ForeignKeyRef(
                parent_table="Customer",
                parent_column="customer_id",
                parent_rows=500,
                parent_key=SequenceKey(start=1),
                skew=1.3,
            ),
            null_rate=0.1,
        ),
        _col(
            "product_code",
            "STRING",
            ForeignKeyRef(
                parent_table="Product",
                parent_column="product_code",
                parent_rows=80,
                parent_key=SequenceKey(prefix="PRD-", width=4, as_string=True),
                fan_out=[(0.0, 0.0), (0.1, 0.5), (0.6, 1.0)],  # a tenth of the products sell half
            ),
        ),
        _col("status", "STRING", Categorical(values=["open", "paid", "void", None], weights=[6, 3, 1, 1])),
        _col("tier", "STRING", Categorical(values=["A", "B", "C", "D"], weights=[1, 2, 3, 4], copula=list(COPULA[0]))),
        _col(
            "amount",
            "NUMERIC",
            NumberFromQuantiles(quantiles=[-50, 0, 10, 40, 900], decimals=2, precision=12, copula=list(COPULA[1])),
            null_rate=0.05,
        ),
        _col("price", "NUMERIC", NumberFromQuantiles(quantiles=[1, 2.5, 9.99, 20], decimals=2)),
        _col("quantity", "INT64", NumberFromQuantiles(quantiles=[1, 1, 2, 5, 40], integer=True)),
        _col("ratio", "FLOAT64", NumberFromQuantiles(quantiles=[0.0, 0.1, 0.5, 0.99])),
        _col("serial", "INT64", NumberFromQuantiles(quantiles=[10_000, 99_999], integer=True, unique=True)),
        _col(
            "sold_on",
            "DATE",
            TemporalFromQuantiles(
                type="DATE", quantiles=["2020-01-01", "2021-03-01", "2024-12-31"], copula=list(COPULA[2])
            ),
        ),
        _col(
            "sold_at",
            "TIMESTAMP",
            TemporalFromQuantiles(
                type="TIMESTAMP", quantiles=["2020-01-01 00:00:00+00:00", "2024-12-31 23:00:00+00:00"]
            ),
            null_rate=0.2,
        ),
        _col(
            "booked_at",
            "DATETIME",
            TemporalFromQuantiles(
                type="DATETIME", quantiles=["1965-01-01 00:00:00", "2001-06-30 12:00:00"], whole_days=True
            ),
        ),
        _col("opens_at", "TIME", TemporalFromQuantiles(type="TIME", quantiles=["08:00:00", "09:30:00", "18:00:00"])),
        _col("is_gift", "BOOL", BooleanValue(p_true=0.3)),
        _col("nothing", "STRING", NullValue()),
        _col("phone", "STRING", PatternString(pattern="(###) ###-####")),
        _col("ref_no", "STRING", PatternString(pattern="R-??###", unique=True)),
        _col("merchant", "STRING", FakerValue(provider="company"), null_rate=0.15),
        _col("email", "STRING", FakerValue(provider="email", unique=True)),
        _col("note", "STRING", FreeText(min_length=5, max_length=60, avg_length=25)),
        _col("label", "STRING", ShapedText(shapes=["Aaaa 99", "AAA-aaaa"], weights=[3, 1])),
        _col(
            "finish",
            "STRING",
            Vocabulary(
                values=["Brushed Pewter", "Sea Glass", "Burnt Umber", "Matte Slate", "Oat Linen"],
                weights=[5, 4, 3, 2, 1],
                origin="gemini:test",
            ),
            null_rate=0.1,
        ),
        _col(
            "tags",
            "STRING",
            ArrayValue(
                element=Categorical(values=["vip", "paperless", "student", "new"], weights=[1, 3, 2, 2]),
                lengths=Categorical(values=[0, 1, 2, 4], weights=[2, 3, 2, 1]),
            ),
            mode="REPEATED",
        ),
        _col(
            "scores",
            "INT64",
            ArrayValue(
                element=NumberFromQuantiles(quantiles=[0, 10, 50, 100], integer=True),
                lengths=Categorical(values=[1, 3], weights=[1, 1]),
            ),
            mode="REPEATED",
            null_rate=0.2,
        ),
        _col(
            "address",
            "RECORD",
            RecordValue(
                fields=[
                    _col("city", "STRING", FakerValue(provider="city")),
                    _col("zip", "STRING", PatternString(pattern="#####"), null_rate=0.3),
                ]
            ),
        ),
    ]
    schema = [_schema_of(c) for c in columns]
    table = TablePlan(
        name="Sales",
        source_table="p.src.Sales",
        target_table="p.tgt.Sales",
        row_count=rows,
        columns=columns,
        schema=schema,
        primary_key=["sale_id"],
        rules=rules or [],
    )
    return table.model_copy(update={"recipe": compile_recipe(table, SEED)})


def _schema_of(column: ColumnPlan) -> ColumnSchema:
    fields = [_schema_of(f) for f in column.generator.fields] if isinstance(column.generator, RecordValue) else []
    return ColumnSchema(name=column.name, type=column.type, mode=column.mode, fields=fields)


def rows_of(files: list[Path]) -> list[dict[str, Any]]:
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def both(table: TablePlan, seed: int, tmp: Path, exclusions: dict[str, list[str]] | None = None) -> tuple[list, list]:
    columnar = rows_of(generate_table_columnar(table, seed, tmp / "c", shard_rows=1500, exclusions=exclusions)[0])
    reference = rows_of(generate_table(table, seed, tmp / "s", shard_rows=1500, exclusions=exclusions)[0])
    return columnar, reference


@pytest.fixture(scope="module")
def every_kind(tmp_path_factory: pytest.TempPathFactory) -> tuple[TablePlan, list, list]:
    table = every_kind_table()
    columnar, reference = both(table, SEED, tmp_path_factory.mktemp("every_kind"))
    return table, columnar, reference


def column(rows: list[dict[str, Any]], path: str) -> list[Any]:
    return [value_at(row, path) for row in rows]


# ---------------------------------------------------------------------------------------------
# Distances, per kind
# ---------------------------------------------------------------------------------------------


def _seconds(value: Any, kind: str) -> float:
    if kind == "TIME":
        hours, minutes, seconds = str(value).split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    return temporal_to_seconds(str(value).replace(" UTC", "+00:00"), kind)


def distance_problems(plan: ColumnPlan, path: str, a: list[Any], b: list[Any]) -> list[str]:
    """What breaks agreement between two engines' values of one column (empty: they agree)."""
    problems: list[str] = []
    rate = 0.0 if plan.mode == "REQUIRED" else plan.null_rate
    nulls_a, nulls_b = sum(v is None for v in a) / len(a), sum(v is None for v in b) / len(b)
    if abs(nulls_a - nulls_b) > null_limit(max(rate, nulls_b), len(a), len(b)):
        problems.append(f"{path}: null rates {nulls_a:.3f} and {nulls_b:.3f}")
    xs, ys = [v for v in a if v is not None], [v for v in b if v is not None]
    if not xs or not ys:
        return problems if bool(xs) == bool(ys) else [*problems, f"{path}: values in one engine only"]
    generator, limit = plan.generator, ks_limit(len(xs), len(ys))
    if isinstance(generator, ArrayValue):
        lengths_a, lengths_b = [len(v) for v in xs], [len(v) for v in ys]
        tv = tv_limit(len(set(lengths_a + lengths_b)), len(xs), len(ys))
        if (d := tv_distance(lengths_a, lengths_b)) > tv:
            problems.append(f"{path}: total variation of lengths {d:.3f} > {tv:.3f}")
        element = plan.model_copy(update={"generator": generator.element, "mode": "NULLABLE", "null_rate": 0.0})
        return problems + distance_problems(
            element, f"{path}[]", [e for v in xs for e in v], [e for v in ys for e in v]
        )
    match generator:
        case Categorical() | BooleanValue() | Vocabulary():
            tv = tv_limit(len({json.dumps(v) for v in xs + ys}), len(xs), len(ys))
            if (d := tv_distance(xs, ys)) > tv:
                problems.append(f"{path}: total variation {d:.3f} > {tv:.3f}")
        case NumberFromQuantiles():
            if (d := ks_distance([float(v) for v in xs], [float(v) for v in ys])) > limit:
                problems.append(f"{path}: KS {d:.3f} > {limit:.3f}")
        case TemporalFromQuantiles():
            d = ks_distance([_seconds(v, plan.type) for v in xs], [_seconds(v, plan.type) for v in ys])
            if d > limit:
                problems.append(f"{path}: KS {d:.3f} > {limit:.3f}")
        case PatternString():
            # Same shape, so same lengths: compare the characters drawn at each position.
            for position in range(len(generator.pattern)):
                at_a, at_b = [str(v)[position] for v in xs], [str(v)[position] for v in ys]
                tv = tv_limit(len(set(at_a + at_b)), len(xs), len(ys))
                if (d := tv_distance(at_a, at_b)) > tv:
                    problems.append(f"{path}: total variation {d:.3f} > {tv:.3f} at position {position}")
        case FakerValue() | FreeText() | ShapedText():
            if (d := ks_distance([len(str(v)) for v in xs], [len(str(v)) for v in ys])) > limit:
                problems.append(f"{path}: KS of lengths {d:.3f} > {limit:.3f}")
    return problems


def measured_distance(plan: ColumnPlan, a: list[Any], b: list[Any]) -> float:
    xs, ys = [v for v in a if v is not None], [v for v in b if v is not None]
    match plan.generator:
        case ArrayValue():
            element = plan.model_copy(update={"generator": plan.generator.element})
            return max(
                tv_distance([len(v) for v in xs], [len(v) for v in ys]),
                measured_distance(element, [e for v in xs for e in v], [e for v in ys for e in v]),
            )
        case Categorical() | BooleanValue() | Vocabulary():
            return tv_distance(xs, ys)
        case NumberFromQuantiles():
            return ks_distance([float(v) for v in xs], [float(v) for v in ys])
        case TemporalFromQuantiles():
            return ks_distance([_seconds(v, plan.type) for v in xs], [_seconds(v, plan.type) for v in ys])
    if isinstance(plan.generator, PatternString):
        return max(
            tv_distance([str(v)[p] for v in xs], [str(v)[p] for v in ys]) for p in range(len(plan.generator.pattern))
        )
    return ks_distance([len(str(v)) for v in xs], [len(str(v)) for v in ys])


KEY_KINDS = (SequenceKey, ForeignKeyRef)


def key_mismatches(table: TablePlan, a: list[dict[str, Any]], b: list[dict[str, Any]]) -> list[str]:
    """Key and reference columns that differ in any row where both engines give a value."""
    wrong = []
    for path, plan in leaf_plans(table.columns).items():
        if isinstance(plan.generator, KEY_KINDS):
            pairs = [(x, y) for x, y in zip(column(a, path), column(b, path), strict=True) if None not in (x, y)]
            if not pairs or any(x != y for x, y in pairs):
                wrong.append(path)
    return wrong


# ---------------------------------------------------------------------------------------------
# Every kind, one table
# ---------------------------------------------------------------------------------------------


def test_the_columnar_engine_interprets_every_kind_of_the_test_table() -> None:
    assert unsupported_columns(every_kind_table()) == []
    assert choose_engine(every_kind_table(), "auto")[0] == "columnar"


def test_keys_and_references_are_identical_row_by_row(every_kind: tuple[TablePlan, list, list]) -> None:
    table, columnar, reference = every_kind
    assert len(columnar) == len(reference) == ROWS
    assert key_mismatches(table, columnar, reference) == []
    # Nullable references are null in different rows (drawn), identical wherever both have one.
    pairs = zip(column(columnar, "customer_id"), column(reference, "customer_id"), strict=True)
    both_present = sum(None not in pair for pair in pairs)
    assert both_present > 0.7 * ROWS


def test_every_column_agrees_in_distribution(every_kind: tuple[TablePlan, list, list]) -> None:
    table, columnar, reference = every_kind
    problems = [
        problem
        for path, plan in leaf_plans(table.columns).items()
        if not isinstance(plan.generator, KEY_KINDS)
        for problem in distance_problems(plan, path, column(columnar, path), column(reference, path))
    ]
    assert problems == []


def test_rows_have_the_same_schema_nesting_and_types(every_kind: tuple[TablePlan, list, list]) -> None:
    _, columnar, reference = every_kind

    def types(row: dict[str, Any]) -> dict[str, Any]:
        return {k: types(v) if isinstance(v, dict) else type(v).__name__ for k, v in row.items() if v is not None}

    def union(rows: list[dict[str, Any]]) -> dict[str, set[str]]:
        seen: dict[str, set[str]] = {}
        for row in rows:
            for key, kind in json.loads(json.dumps(types(row))).items():
                seen.setdefault(key, set()).add(json.dumps(kind, sort_keys=True))
        return seen

    assert [list(r) for r in columnar[:1]] == [list(r) for r in reference[:1]]  # columns in schema order
    assert union(columnar) == union(reference)
    assert {len(v.split(".")[-1]) for v in column(columnar, "amount") if v} == {2}  # NUMERIC(12, 2) as text


def test_copula_columns_keep_their_correlation(every_kind: tuple[TablePlan, list, list]) -> None:
    _, columnar, reference = every_kind

    def correlations(rows: list[dict[str, Any]]) -> np.ndarray:
        kept = [r for r in rows if r["amount"] is not None]
        tiers = [ord(r["tier"]) for r in kept]
        amounts = [float(r["amount"]) for r in kept]
        days = [_seconds(r["sold_on"], "DATE") for r in kept]
        return np.array([spearmanr(tiers, amounts)[0], spearmanr(amounts, days)[0], spearmanr(tiers, days)[0]])

    ours, theirs = correlations(columnar), correlations(reference)
    assert np.all(np.abs(ours - theirs) < 0.06), (ours, theirs)
    assert np.all(ours > 0.5)  # the copula's correlation is there, not just equally absent


def test_unique_columns_stay_unique(every_kind: tuple[TablePlan, list, list]) -> None:
    _, columnar, _ = every_kind
    for path in ("sale_id", "sale_code", "sale_shape", "sale_hour", "serial", "ref_no", "email"):
        values = column(columnar, path)
        assert len(set(values)) == len(values) == ROWS, path


def test_a_self_reference_points_at_an_earlier_row_as_the_reference_does(tmp_path: Path) -> None:
    table = every_kind_table(rows=600)
    manager = ForeignKeyRef(
        parent_table="Sales", parent_column="sale_id", parent_rows=600, parent_key=SequenceKey(start=1000, step=3)
    )
    table.columns.append(_col("manager_id", "INT64", manager))
    table.schema_.append(ColumnSchema(name="manager_id", type="INT64"))
    table = table.model_copy(update={"recipe": compile_recipe(table, SEED)})
    columnar, reference = both(table, SEED, tmp_path)
    assert column(columnar, "manager_id") == column(reference, "manager_id")
    assert columnar[0]["manager_id"] is None
    assert all(r["manager_id"] < r["sale_id"] for r in columnar[1:])


@pytest.mark.parametrize(
    ("profiles", "counts"),
    [
        (tpch_like, {"lineitem": 3000}),
        (tpcds_like, {}),
        (lahman_like, {"People": 200, "Teams": 60, "Batting": 900, "Pitching": 300, "Fielding": 1500}),
        (managers_like, {"People": 50, "Teams": 40, "Managers": 1500, "Awards": 3000}),
        (visits_like, {"people": 30, "places": 10, "days": 7, "visits": 2000, "notes": 3000}),
    ],
)
def test_composite_link_one_to_one_and_via_references_are_identical(
    tmp_path: Path, profiles: Any, counts: dict[str, int]
) -> None:
    plan = with_recipes(
        plan_dataset(profiles(), PlanOptions(seed=4, record_counts=counts, target_project="p", target_dataset="t"))
    )
    for table in plan.tables:
        assert choose_engine(table, "auto")[0] == "columnar", table.name
        columnar, reference = both(table, plan.seed, tmp_path / table.name)
        assert key_mismatches(table, columnar, reference) == [], table.name


# ---------------------------------------------------------------------------------------------
# Rules, exclusions, determinism
# ---------------------------------------------------------------------------------------------


RULES = [
    InterColumnRule(kind="compare", target="booked_at", operands=["sold_at"], op="<="),
    InterColumnRule(kind="arithmetic", target="amount", operands=["quantity", "price"], op="*"),
    InterColumnRule(kind="determines", target="status", operands=["tier"]),
]


def test_rules_are_enforced_as_in_the_reference(tmp_path: Path) -> None:
    table = every_kind_table(rows=1500, rules=RULES)
    columnar, reference = both(table, SEED, tmp_path)
    for rows in (columnar, reference):
        assert all(r["booked_at"] <= r["sold_at"].replace(" UTC", "") for r in rows if r["sold_at"] and r["booked_at"])
        assert all(float(r["amount"]) == pytest.approx(r["quantity"] * float(r["price"])) for r in rows if r["amount"])
        status_of_tier: dict[str, set[str]] = {}
        for r in rows:
            if r["status"] is not None:
                status_of_tier.setdefault(r["tier"], set()).add(r["status"])
        assert all(len(statuses) == 1 for statuses in status_of_tier.values())
    # "determines" is a function of the key alone: both engines give each tier the same status.
    pick = {r["tier"]: r["status"] for r in reference if r["status"] is not None}
    assert all(pick.get(r["tier"], r["status"]) == r["status"] for r in columnar if r["status"] is not None)


def test_no_excluded_value_is_emitted(tmp_path: Path) -> None:
    table = every_kind_table(rows=2000)
    first = rows_of(generate_table_columnar(table, SEED, tmp_path / "first")[0])

    def most_common(path: str, share: float, by_day: bool = False) -> list[str]:
        counts = Counter(str(v) for v in column(first, path) if v is not None)
        keep = [v for v, _ in counts.most_common(max(1, int(len(counts) * share)))]
        return [value_digest(exclusion_key(v, "DATE" if by_day else "")) for v in keep]

    exclusions = {
        "merchant": most_common("merchant", 0.5),
        "phone": most_common("phone", 0.5),
        "address.zip": most_common("address.zip", 0.9),
        "label": most_common("label", 0.5),
        "finish": most_common("finish", 0.5),
        "note": most_common("note", 0.5),
        "sold_on": most_common("sold_on", 0.5, by_day=True),
        "booked_at": most_common("booked_at", 0.5, by_day=True),
        "ref_no": most_common("ref_no", 0.5),
    }
    rows = rows_of(generate_table_columnar(table, SEED, tmp_path / "second", exclusions=exclusions)[0])
    for path, digests in exclusions.items():
        by_day = path in ("sold_on", "booked_at")
        emitted = {value_digest(exclusion_key(v, "DATE" if by_day else "")) for v in column(rows, path) if v}
        assert not emitted & set(digests), path
    assert len({r["ref_no"] for r in rows}) == len(rows)  # skipping excluded values keeps it unique


def test_the_same_seed_gives_byte_identical_files_across_runs_and_shard_layouts(tmp_path: Path) -> None:
    table = every_kind_table(rows=3000, rules=RULES)

    def output(name: str, shard_rows: int, seed: int = SEED) -> bytes:
        files = generate_table_columnar(table, seed, tmp_path / name, shard_rows=shard_rows)[0]
        return b"".join(f.read_bytes() for f in files)

    once = output("once", 3000)
    assert output("again", 3000) == once
    assert output("shards", 1000) == once
    assert output("odd_shards", 777) == once  # shards starting inside a block of per-row draws
    assert output("other_seed", 3000, seed=SEED + 1) != once


def test_the_lines_are_what_json_dumps_writes_for_the_shaped_rows(
    every_kind: tuple[TablePlan, list, list], tmp_path: Path
) -> None:
    table, columnar, _ = every_kind
    text = "".join(f"{json.dumps(r, separators=(',', ':'))}\n" for r in columnar)
    files = generate_table_columnar(table, SEED, tmp_path, shard_rows=1500)[0]
    assert "".join(f.read_text() for f in files) == text


def typed(value: Any, column: ColumnSchema) -> Any:
    """An NDJSON value as the Python value its BigQuery type reads back from Parquet (a test oracle,
    written apart from ``parquet_files``)."""
    if value is None:
        return [] if column.is_repeated else None
    if column.is_repeated:
        return [typed(v, column.model_copy(update={"mode": "NULLABLE"})) for v in value]
    if column.is_record:
        return {f.name: typed(value.get(f.name), f) for f in column.fields}
    match column.type:
        case "NUMERIC":
            return Decimal(value).quantize(Decimal("1E-9"))
        case "DATE":
            return dt.date.fromisoformat(value)
        case "DATETIME":
            return dt.datetime.fromisoformat(value)
        case "TIMESTAMP":
            return dt.datetime.fromisoformat(value.removesuffix(" UTC")).replace(tzinfo=dt.UTC)
        case "TIME":
            return dt.time.fromisoformat(value)
    return value


def parquet_rows(files: list[Path]) -> list[dict[str, Any]]:
    assert all(f.suffix == ".parquet" for f in files), files
    return [row for f in files for row in read_rows(f)]


@pytest.mark.parametrize("rules", [None, RULES], ids=["no-rules", "rules"])
def test_parquet_holds_the_ndjson_values_typed(rules: list[InterColumnRule] | None, tmp_path: Path) -> None:
    table = every_kind_table(rows=2000, rules=rules)
    lines = rows_of(generate_table_columnar(table, SEED, tmp_path / "n", shard_rows=700)[0])
    files = generate_table_columnar(table, SEED, tmp_path / "p", shard_rows=700, file_format="parquet")[0]
    got = parquet_rows(files)
    expected = [{c.name: typed(row[c.name], c) for c in table.schema_} for row in lines]
    assert len(got) == len(expected) == 2000
    for column in table.schema_:  # column by column, so that a failure names it
        assert [r[column.name] for r in got] == [r[column.name] for r in expected], column.name


def test_parquet_files_are_byte_identical_across_runs_and_equal_across_shard_layouts(tmp_path: Path) -> None:
    table = every_kind_table(rows=3000, rules=RULES)

    def output(name: str, shard_rows: int, seed: int = SEED) -> list[Path]:
        return generate_table_columnar(table, seed, tmp_path / name, shard_rows=shard_rows, file_format="parquet")[0]

    once = output("once", 1000)
    assert [f.read_bytes() for f in output("again", 1000)] == [f.read_bytes() for f in once]
    whole = parquet_rows(once)
    assert parquet_rows(output("whole", 3000)) == whole
    assert parquet_rows(output("odd_shards", 777)) == whole
    assert parquet_rows(output("other_seed", 1000, seed=SEED + 1)) != whole


def test_the_file_format_is_parquet_unless_it_would_change_a_value(tmp_path: Path) -> None:
    table = every_kind_table(rows=10)
    assert choose_file_format(table, "auto")[0] == "parquet"
    assert choose_file_format(table, "ndjson")[0] == "ndjson"
    made = generate_with_engine(table, SEED, tmp_path / "auto", engine="auto")
    assert [f.suffix for f in made.files] == [".parquet"] and "Parquet" in made.reason
    big = table.model_copy(
        update={
            "columns": [*table.columns, _col("big", "BIGNUMERIC", NumberFromQuantiles(quantiles=[0, 1], decimals=20))],
            "schema_": [*table.schema_, ColumnSchema(name="big", type="BIGNUMERIC")],
        }
    )
    chosen, reason = choose_file_format(big, "auto")
    assert chosen == "ndjson" and "column big is BIGNUMERIC" in reason
    with pytest.raises(ColumnarError, match="cannot be written as Parquet"):
        choose_file_format(big, "parquet")
    assert [f.suffix for f in generate_with_engine(big, SEED, tmp_path / "big", engine="auto").files] == [".json"]
    from_file = table.model_copy(update={"file_format": FileFormat()})
    assert choose_file_format(from_file, "auto") == (
        "ndjson",
        "NDJSON, as a file source: its files in the source's format are written from the NDJSON",
    )
    with pytest.raises(ColumnarError, match="not one of"):
        choose_file_format(table, "csv")  # type: ignore[arg-type]


def test_bulk_helpers_equal_the_per_row_functions() -> None:
    rows = np.arange(0, 5000, 7, dtype=np.int64)
    assert uniforms(3, "T", "c", "parent", rows).tolist() == [row_uniform(3, "T", "c", "parent", int(r)) for r in rows]
    for skew in (0.0, 0.8):
        bulk = parent_indices(3, "T", "c", rows, 97, skew).tolist()
        assert bulk == [parent_index(3, "T", "c", int(r), 97, skew) for r in rows]
    curve = [(0.0, 0.0), (0.05, 0.4), (0.3, 0.9), (0.7, 1.0)]
    bulk = parent_indices(3, "T", "c", rows, 97, 0.0, curve).tolist()
    assert bulk == [parent_index(3, "T", "c", int(r), 97, 0.0, curve) for r in rows]
    from bqsynth.values import seconds_to_temporal

    seconds = np.random.default_rng(1).uniform(-3e9, 4e9, 500)
    for kind in ("DATE", "DATETIME", "TIMESTAMP", "TIME"):
        assert seconds_to_texts(seconds, kind) == [seconds_to_temporal(float(s), kind) for s in seconds], kind


# ---------------------------------------------------------------------------------------------
# The engine setting
# ---------------------------------------------------------------------------------------------


def test_unsupported_kinds_fall_back_to_snowfakery_or_are_refused_by_name(tmp_path: Path) -> None:
    table = every_kind_table(rows=50)
    table.columns.append(_col("blob", "BYTES", BytesValue(min_length=1, max_length=4)))
    table.schema_.append(ColumnSchema(name="blob", type="BYTES"))
    table = table.model_copy(update={"recipe": compile_recipe(table, SEED)})
    engine, reason = choose_engine(table, "auto")
    assert engine == "snowfakery" and "blob (bytes)" in reason
    made = generate_with_engine(table, SEED, tmp_path / "auto", engine="auto")
    assert made.engine == "snowfakery" and made.rows == 50
    with pytest.raises(ColumnarError, match=r"Sales.*blob \(bytes\)"):
        generate_with_engine(table, SEED, tmp_path / "columnar", engine="columnar")
    assert choose_engine(every_kind_table(), "snowfakery")[0] == "snowfakery"


def test_a_users_recipe_runs_on_snowfakery(tmp_path: Path) -> None:
    table = every_kind_table(rows=20)
    edited = table.model_copy(update={"recipe": table.recipe.replace("p_true: 0.3", "p_true: 0.9")})
    assert edited.recipe != table.recipe
    assert choose_engine(table, "auto")[0] == "columnar"
    assert choose_engine(edited, "auto")[0] == "snowfakery"
    with pytest.raises(ColumnarError, match="user"):
        choose_engine(edited, "columnar")


# ---------------------------------------------------------------------------------------------
# The demo dataset as a whole
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_plan() -> DatasetPlan:
    options = PlanOptions(target_project="p", target_dataset="d", record_counts={"Fact_Transaction": 6000})
    return with_recipes(plan_dataset(demo_profiles(), options))


def test_the_demo_dataset_agrees_table_by_table(demo_plan: DatasetPlan, tmp_path: Path) -> None:
    engines = {t.name: choose_engine(t, "auto")[0] for t in demo_plan.tables}
    assert set(engines.values()) == {"columnar"}, engines
    problems: list[str] = []
    for table in demo_plan.tables:
        columnar_rows = rows_of(
            generate_with_engine(
                table, demo_plan.seed, tmp_path / f"{table.name}-c", engine="auto", file_format="ndjson"
            ).files
        )
        reference = rows_of(generate_table(table, demo_plan.seed, tmp_path / f"{table.name}-s")[0])
        assert len(columnar_rows) == len(reference) == table.row_count
        problems += [f"{table.name}: {path} differs" for path in key_mismatches(table, columnar_rows, reference)]
        for key in table.primary_key:
            assert len({r[key] for r in columnar_rows}) == len(columnar_rows), f"{table.name}.{key}"
        if table.row_count >= 300:  # distances on a few dozen rows say nothing
            problems += [
                f"{table.name}: {problem}"
                for path, plan in leaf_plans(table.columns).items()
                if not isinstance(plan.generator, KEY_KINDS)
                for problem in distance_problems(plan, path, column(columnar_rows, path), column(reference, path))
            ]
    assert problems == []


def test_the_distance_checks_flag_a_wrong_distribution(
    every_kind: tuple[TablePlan, list, list], tmp_path: Path
) -> None:
    """Each check fails on a generator changed on purpose: the agreement tests can fail."""
    table, _, reference = every_kind
    leaves = leaf_plans(table.columns)
    shifted = {
        "is_gift": BooleanValue(p_true=0.4),
        "quantity": NumberFromQuantiles(quantiles=[1, 1, 3, 6, 40], integer=True),
        "sold_at": TemporalFromQuantiles(
            type="TIMESTAMP", quantiles=["2020-06-01 00:00:00+00:00", "2024-12-31 23:00:00+00:00"]
        ),
        "status": Categorical(values=["open", "paid", "void", None], weights=[5, 4, 1, 1]),
        "note": FreeText(min_length=5, max_length=60, avg_length=35),
        "phone": PatternString(pattern="(###) ###-##?#"),
        "tags": ArrayValue(
            element=Categorical(values=["vip", "paperless", "student", "new"], weights=[1, 3, 2, 2]),
            lengths=Categorical(values=[0, 1, 2, 4], weights=[1, 3, 2, 2]),
        ),
        "scores": ArrayValue(
            element=NumberFromQuantiles(quantiles=[0, 20, 50, 100], integer=True),
            lengths=Categorical(values=[1, 3], weights=[1, 1]),
        ),
    }
    for path, generator in shifted.items():
        wrong = every_kind_table(rows=ROWS)
        wrong.columns = [c.model_copy(update={"generator": generator}) if c.name == path else c for c in wrong.columns]
        wrong.recipe = compile_recipe(wrong, SEED)
        rows = rows_of(generate_table_columnar(wrong, SEED, tmp_path / path)[0])
        assert distance_problems(leaves[path], path, column(rows, path), column(reference, path)), path
    # Null rates: another rate is flagged too.
    nulls = every_kind_table(rows=ROWS)
    nulls.columns = [c.model_copy(update={"null_rate": 0.15}) if c.name == "sold_at" else c for c in nulls.columns]
    nulls.recipe = compile_recipe(nulls, SEED)
    rows = rows_of(generate_table_columnar(nulls, SEED, tmp_path / "nulls")[0])
    assert any(
        "null rates" in p
        for p in distance_problems(leaves["sold_at"], "sold_at", column(rows, "sold_at"), column(reference, "sold_at"))
    )


def test_the_engine_is_a_run_parameter_from_the_file_the_flag_and_the_pipeline(tmp_path: Path) -> None:
    from bqsynth.config import ConfigError, pipeline_defaults, validated_config
    from submit import build_parser, config_from_args

    tables = ["p.src.Dim_Customer", "p.src.Fact_Sales"]
    assert pipeline_defaults()["engine"] == "auto"
    assert validated_config({"source_tables": tables}, "test").engine == "auto"
    with pytest.raises(ConfigError, match="engine"):
        validated_config({"source_tables": tables, "engine": "pandas"}, "test")
    args = build_parser().parse_args(["--local", "--source-tables", ",".join(tables), "--engine", "snowfakery"])
    assert config_from_args(args).engine == "snowfakery"
