"""Shapes of codes and keys: their value space, widening at plan time, and generation that never runs out.

A unique pattern column must produce unique values of the source's length and character
classes, none of them a source value, for every shape and row count the shape can hold;
and when even the widest shape cannot, the planner refuses the table by name, up front.
"""

from __future__ import annotations

import json
import random
import string
from collections import Counter
from pathlib import Path

import pytest

from bqsynth.generation import keys
from bqsynth.generation.exclusions import value_digest
from bqsynth.generation.recipe import compile_recipe, with_recipes
from bqsynth.generation.snowfakery_runner import generate_table
from bqsynth.models import (
    ColumnPlan,
    ColumnSchema,
    ForeignKey,
    ForeignKeyRef,
    PatternString,
    SequenceKey,
    TablePlan,
    TableProfile,
    leaf_schemas,
)
from bqsynth.planning.planner import PlanError, PlanOptions, fit_pattern, plan_dataset
from bqsynth.shapes import excluded_bound, fitted_pattern, pattern_space, shape_value, widest_pattern
from tests.factories import column_stats

# --- the pure arithmetic ---------------------------------------------------------------------


def test_letters_and_digits_both_count_in_the_space() -> None:
    assert pattern_space("AC-##") == 100
    assert pattern_space("??") == 676
    assert pattern_space("?#-x") == 260
    assert pattern_space("ABC") == 1


def test_shape_values_are_a_bijection_onto_the_shape() -> None:
    values = [shape_value("?#-x", n) for n in range(260)]
    assert len(set(values)) == 260
    assert all(v[0] in string.ascii_uppercase and v[1].isdigit() and v[2:] == "-x" for v in values)
    with pytest.raises(ValueError, match="has 260 values"):
        shape_value("?#-x", 260)


def test_unique_letters_are_part_of_uniqueness() -> None:
    # Before, a shape of letters only had room for one unique value (10 ** 0).
    values = [keys.pattern_value("K??", i, 3, "t.c", unique=True) for i in range(676)]
    assert len(set(values)) == 676 and all(v[0] == "K" for v in values)
    with pytest.raises(ValueError, match="room for 676"):
        keys.pattern_value("K??", 676, 3, "t.c", unique=True)


def test_widening_keeps_length_and_classes_and_starts_from_the_right() -> None:
    assert widest_pattern("AB-12x") == "??-##x"
    assert fitted_pattern("AB-##", 100) == "AB-##"  # fits: unchanged
    assert fitted_pattern("AB-##", 101) == "A?-##"  # one letter more: 2600 values
    assert fitted_pattern("AB-##", 3000) == "??-##"
    assert fitted_pattern("AB-##", 67_601) is None  # 26 * 26 * 100 is the most it can hold
    assert fitted_pattern("AB-##", 50, roomy=1000) == "A?-##"  # roomy asks for slack when widening


def test_the_excluded_bound_covers_an_approximate_distinct_count() -> None:
    assert excluded_bound(0, 0) == 0
    assert excluded_bound(1000, 5000) == 1021  # 2 % over, plus one
    assert excluded_bound(1000, 1000) == 1000  # never more than the non-null values


def test_a_shape_too_small_is_widened_or_refused_naming_the_column_and_its_size() -> None:
    ok, why = fit_pattern(PatternString(pattern="X-#?", unique=True), 200, 70, table="item", column="code")
    assert ok.pattern == "?-#?" and "widened" in why  # 260 values are too few for 270, 6760 are enough
    with pytest.raises(PlanError) as raised:
        fit_pattern(PatternString(pattern="X-#?", unique=True), 6000, 761, table="item", column="code")
    message = str(raised.value)
    assert message.startswith("table item, column code: ")
    assert "holds 6760 values" in message and "needs 6761 (6000 rows + 761 source values" in message


def test_the_refusal_is_exact_at_the_boundary() -> None:
    fitted, _ = fit_pattern(PatternString(pattern="?#", unique=True), 200, 60, table="t", column="c")
    assert fitted.pattern == "?#"
    source = {shape_value("?#", n) for n in range(60)}
    cursor, produced = keys.PatternCursor(), []
    for row in range(200):
        value, cursor = keys.next_unique_pattern("?#", row, 5, "t.c", source.__contains__, cursor)
        produced.append(value)
    assert len(set(produced)) == 200 and not source & set(produced)  # exactly every unused value
    with pytest.raises(PlanError, match="holds 260 values"):
        fit_pattern(PatternString(pattern="?#", unique=True), 201, 60, table="t", column="c")


def test_a_repeating_pattern_finds_a_free_value_in_a_nearly_full_shape() -> None:
    source = {shape_value("##", n) for n in range(99)}  # every value but one is the source's
    values = {keys.pattern_value_avoiding("##", row, 1, "t.c", source.__contains__, 25) for row in range(50)}
    assert values == set(string.digits[i // 10] + string.digits[i % 10] for i in range(100)) - source


# --- the property: random shapes, densities and row counts -------------------------------------

_CONSTANT_CLASSES = (string.digits, string.ascii_uppercase, string.ascii_lowercase, "-_/.:")


def _random_shape(rng: random.Random) -> str:
    """A shape of 1..16 characters: varying positions, constant digits and letters, literals."""
    chars = []
    for _ in range(rng.randint(1, 16)):
        kind = rng.random()
        if kind < 0.2:
            chars.append("#")
        elif kind < 0.35:
            chars.append("?")
        else:
            chars.append(rng.choice(rng.choice(_CONSTANT_CLASSES)))
    return "".join(chars)


def _same_classes(value: str, shape: str) -> bool:
    """``value`` has the length of the source ``shape`` and, per position, the same class."""

    def fits(char: str, model: str) -> bool:
        if model == "#" or model in string.digits:
            return char in string.digits
        if model == "?" or model in string.ascii_uppercase:
            return char in string.ascii_uppercase
        return char == model

    return len(value) == len(shape) and all(fits(c, m) for c, m in zip(value, shape, strict=True))


def _case(rng: random.Random, case: int) -> str:
    """One random case, checked; returns what happened (refused, kept, widened)."""
    shape = _random_shape(rng)
    space = pattern_space(shape)
    while space > 5000:  # keep the source small enough to enumerate: fix varying positions
        position = shape.index("#") if "#" in shape else shape.index("?")
        shape = shape[:position] + rng.choice(ALPHABET[shape[position]]) + shape[position + 1 :]
        space = pattern_space(shape)
    density = rng.choice([0.0, rng.random(), 1.0])
    source = {shape_value(shape, n) for n in rng.sample(range(space), int(density * space))}
    non_null = len(source) + rng.randint(0, 3) * len(source)
    excluded = excluded_bound(len(source), non_null)
    rows = rng.randint(1, 1500)
    unique = rng.random() < 0.8
    generator = PatternString(pattern=shape, unique=unique)
    widest = pattern_space(widest_pattern(shape))
    too_small = widest < (rows + excluded if unique else excluded + 1)
    try:
        fitted, _ = fit_pattern(generator, rows, excluded, table="T", column="code")
    except PlanError as error:
        assert too_small, f"case {case}: {shape!r} rows={rows} excluded={excluded} refused wrongly: {error}"
        assert f"holds {widest} values" in str(error) and "table T, column code" in str(error)
        return "refused"
    assert not too_small, f"case {case}: {shape!r} rows={rows} excluded={excluded} should be refused"
    salt, seed = f"T.code{case}", case
    if unique:
        cursor, values = keys.PatternCursor(), []
        for row in range(rows):
            value, cursor = keys.next_unique_pattern(fitted.pattern, row, seed, salt, source.__contains__, cursor)
            values.append(value)
        assert len(set(values)) == rows, f"case {case}: {fitted.pattern!r} repeated a value"
    else:
        values = [
            keys.pattern_value_avoiding(fitted.pattern, row, seed, salt, source.__contains__, 25)
            for row in range(min(rows, 300))
        ]
    assert all(_same_classes(v, shape) for v in values), f"case {case}: {shape!r} -> {fitted.pattern!r}: {values[:3]}"
    assert not source & set(values), f"case {case}: a source value was emitted"
    return "kept" if fitted.pattern == shape else "widened"


ALPHABET = {"#": string.digits, "?": string.ascii_uppercase}


def test_property_random_shapes_densities_and_row_counts() -> None:
    rng = random.Random(20261202)
    outcomes = Counter(_case(rng, case) for case in range(300))
    # The cases must exercise every branch, or the property says little.
    assert min(outcomes[k] for k in ("refused", "kept", "widened")) >= 30, outcomes


# --- through the planner and the real Snowfakery --------------------------------------------------


def _profile(name: str, columns: dict[str, str], rows: list[dict], **extra: object) -> TableProfile:
    schema = [ColumnSchema(name=n, type=t) for n, t in columns.items()]
    stats = {p: column_stats(p, c.type, rows) for p, c in leaf_schemas(schema).items()}
    return TableProfile(
        table_id=f"p.d.{name}", name=name, row_count=len(rows), columns=schema, stats=stats, sample=rows, **extra
    )  # type: ignore[arg-type]


def _dense_codes(count: int, rng: random.Random) -> list[str]:
    """16-character codes of which two positions vary (676 values), ``count`` of them used."""
    return [shape_value("AAAAAAAA??AAAAAA", n) for n in rng.sample(range(676), count)]


def _options(**overrides: object) -> PlanOptions:
    return PlanOptions(target_project="tp", target_dataset="td", **overrides)  # type: ignore[arg-type]


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_densely_used_code_is_widened_at_plan_time_and_generates_through_snowfakery(tmp_path: Path) -> None:
    rng = random.Random(4)
    codes = _dense_codes(600, rng)
    item = _profile(
        "item",
        {"item_sk": "INT64", "item_code": "STRING"},
        [{"item_sk": i + 1, "item_code": c} for i, c in enumerate(codes)],
        primary_key=["item_sk"],
    )
    plan = with_recipes(plan_dataset([item], _options(record_counts={"item": 2000})))
    assert not plan.failures
    code = next(c for c in plan.tables[0].columns if c.name == "item_code")
    assert isinstance(code.generator, PatternString) and code.generator.unique and code.identifying
    assert code.generator.pattern != "AAAAAAAA??AAAAAA" and "widened" in code.reason
    exclusions = {"item_code": [value_digest(c) for c in codes]}
    files, written, _ = generate_table(plan.tables[0], plan.seed, tmp_path, shard_rows=700, exclusions=exclusions)
    values = [r["item_code"] for f in files for r in _rows(f)]
    assert written == 2000 and len(set(values)) == 2000  # unique across three shards
    assert all(len(v) == 16 and v.isupper() and v.isalpha() for v in values)
    assert not set(values) & set(codes)
    again, _, _ = generate_table(plan.tables[0], plan.seed, tmp_path / "again", shard_rows=700, exclusions=exclusions)
    assert [r["item_code"] for f in again for r in _rows(f)] == values  # same seed, same values
    plain, _, _ = generate_table(plan.tables[0], plan.seed, tmp_path / "plain", shard_rows=700)
    unexcluded = [r["item_code"] for f in plain for r in _rows(f)]
    assert len(set(unexcluded)) == 2000  # without exclusions each shard starts at its own row


def test_a_code_no_shape_of_its_length_can_hold_is_refused_at_plan_time() -> None:
    code_rows = [{"code_id": n, "code": shape_value("??", n)} for n in range(600)]
    codes = _profile("codes", {"code_id": "INT64", "code": "STRING"}, code_rows, primary_key=["code_id"])
    plan = plan_dataset([codes], _options(record_counts={"codes": 100}))
    assert not plan.tables and len(plan.failures) == 1
    assert plan.failures[0].error.startswith("table codes, column code: ")
    assert (
        "holds 676 values" in plan.failures[0].error
        and "needs 700 (100 rows + 600 source values" in plan.failures[0].error
    )


def test_a_code_key_keeps_its_shape_and_its_children_reference_it(tmp_path: Path) -> None:
    # Issue 12: a 16-character code key came out as K0001.
    rng = random.Random(9)
    codes = _dense_codes(500, rng)
    store = _profile("store", {"store_code": "STRING"}, [{"store_code": c} for c in codes], primary_key=["store_code"])
    sales = _profile(
        "sales",
        {"sale_id": "INT64", "store_code": "STRING"},
        [{"sale_id": i, "store_code": codes[i % 500]} for i in range(1500)],
        primary_key=["sale_id"],
        foreign_keys=[
            ForeignKey(columns=["store_code"], referenced_table="p.d.store", referenced_columns=["store_code"])
        ],
    )
    plan = with_recipes(plan_dataset([store, sales], _options(record_counts={"store": 3000, "sales": 4000})))
    assert not plan.failures
    key = plan.table("store").columns[0].generator
    assert isinstance(key, SequenceKey) and len(key.pattern) == 16 and pattern_space(key.pattern) >= 3000
    fk = next(c for c in plan.table("sales").columns if c.name == "store_code").generator
    assert isinstance(fk, ForeignKeyRef) and fk.parent_key == key
    parents, _, _ = generate_table(plan.table("store"), plan.seed, tmp_path / "store", shard_rows=1000)
    children, _, _ = generate_table(plan.table("sales"), plan.seed, tmp_path / "sales", shard_rows=1500)
    store_codes = [r["store_code"] for f in parents for r in _rows(f)]
    assert len(set(store_codes)) == 3000 and all(len(c) == 16 and c.isalpha() and c.isupper() for c in store_codes)
    referenced = {r["store_code"] for f in children for r in _rows(f)}
    assert referenced <= set(store_codes) and len(referenced) > 1000  # valid, and spread over the parents


def test_a_recipe_passes_the_key_shape_to_both_key_and_reference() -> None:
    key = SequenceKey(start=0, as_string=True, pattern="S-??#")
    table = TablePlan(
        name="t",
        source_table="p.d.t",
        target_table="p.e.t",
        row_count=3,
        schema=[ColumnSchema(name="k", type="STRING"), ColumnSchema(name="r", type="STRING")],
        columns=[
            ColumnPlan(name="k", type="STRING", generator=key),
            ColumnPlan(
                name="r",
                type="STRING",
                generator=ForeignKeyRef(parent_table="p", parent_column="k", parent_rows=9, parent_key=key),
            ),
        ],
    )
    assert compile_recipe(table, 1).count("pattern: '\"S-??#\"'") == 2
    assert [keys.sequence_key_value(key, i) for i in (0, 1, 10, 6759)] == ["S-AA0", "S-AA1", "S-AB0", "S-ZZ9"]


def test_a_model_chosen_pattern_gets_the_same_fit() -> None:
    from bqsynth.llm.answers import GeneratorChoice
    from bqsynth.llm.apply import generator_for_choice

    rows = [{"code": shape_value("XY-#", n)} for n in range(10)]
    stats = column_stats("code", "STRING", rows)
    column = ColumnPlan(name="code", type="STRING", generator=PatternString(pattern="XY-#"), identifying=True)
    choice = GeneratorChoice(column="code", kind="pattern", pattern="XY-#", unique=True)
    widened, problems = generator_for_choice(choice, column, stats, 5, True, 5)
    assert not problems and isinstance(widened, PatternString) and widened.pattern == "X?-#"
    # A shape with nothing to widen, which the source fills to 70 %: 40 rows do not fit.
    full = column_stats("code", "STRING", [{"code": f"{n:02d}"} for n in range(70)])
    choice = GeneratorChoice(column="code", kind="pattern", pattern="##", unique=True)
    refused, problems = generator_for_choice(choice, column, full, 40, True, 5)
    assert refused is None and problems[0].startswith("column code: the shape '##'")
    assert "holds 100 values" in problems[0] and "needs 110 (40 rows + 70 source values" in problems[0]


def test_without_exclusions_the_scan_and_the_direct_value_agree() -> None:
    # The plugin skips the scan when a column has no exclusions; both must give the same rows.
    cursor, scanned = keys.PatternCursor(), []
    for row in range(500):
        value, cursor = keys.next_unique_pattern("AC-?##", row, 11, "t.c", lambda _: False, cursor)
        scanned.append(value)
    assert scanned == [keys.pattern_value("AC-?##", row, 11, "t.c", unique=True) for row in range(500)]
