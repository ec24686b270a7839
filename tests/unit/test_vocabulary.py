"""Model-made vocabularies: which columns may have one, the checks on its values, and both engines.

The checks run on a paint catalogue whose ``shade`` names ("Misty Sage") are a kind no
Faker provider makes; the values a model proposes are dropped when they are source values
(by the leak check's digest), out of the column's bounds or repeated, and too few
survivors keep the offline generator. Both engines draw the stored vocabulary alike, drop
excluded (source) values that slipped through, and say by name when none is left.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bqsynth.evaluation.metrics import column_sdtype, is_text_column, quality_leaf_columns
from bqsynth.generation.columnar import ColumnarError, generate_table_columnar
from bqsynth.generation.exclusions import identifying_paths, value_digest
from bqsynth.generation.recipe import compile_recipe, with_recipes
from bqsynth.generation.recipe_safety import check_recipe
from bqsynth.generation.snowfakery_runner import generate_table
from bqsynth.llm import AdviceOptions, AdvisedPlan, advise_plan
from bqsynth.llm.answers import GenerationAnswer, GeneratorChoice
from bqsynth.llm.columns import key_paths, replace_leaf
from bqsynth.llm.prompts import PromptLimits
from bqsynth.llm.validate import VocabularyAsk, generation_problems, privacy_problems
from bqsynth.llm.vocabulary import (
    VocabularyLimits,
    check_vocabulary,
    not_eligible,
    rank_weights,
    source_digests,
)
from bqsynth.models import (
    Categorical,
    ColumnSchema,
    ShapedText,
    TablePlan,
    TableProfile,
    Vocabulary,
    leaf_plans,
)
from bqsynth.planning.planner import PlanOptions, plan_dataset
from tests.factories import column_stats
from tests.unit.test_llm_advise import ScriptedAdvisor, ok, semantics

ADJECTIVES = ["Misty", "Golden", "Deep", "Pale", "Burnt", "Royal", "Soft", "Dusty", "Bright", "Quiet", "Wild", "Warm"]
NOUNS = ["Sage", "Coral", "Harbor", "Meadow", "Clay", "Ember", "Fern", "Dune", "Lagoon", "Orchid", "Pebble", "Cedar"]
# Shade names a model might invent: none is an ADJECTIVE + NOUN pair of the source.
FRESH = [
    "Sea Glass", "Oat Linen", "Matte Slate", "Wet Basalt", "Night Plum", "Iron Moss", "Salt Marsh", "Rust Canyon",
    "Frost Birch", "Pine Smoke", "Silver Reed", "Storm Kelp",
]  # fmt: skip


def paint_rows(rows: int = 300, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {"paint_id": i + 1, "shade": f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}", "litres": rng.choice([1, 2, 5])}
        for i in range(rows)
    ]


def paint_profile(rows: list[dict[str, Any]], sample_rows: int = 200, table_id: str = "p.d.Paint") -> TableProfile:
    """The profile the profile step writes for a paint catalogue (statistics over every row)."""
    columns = [
        ColumnSchema(name="paint_id", type="INT64", mode="REQUIRED"),
        ColumnSchema(name="shade", type="STRING"),
        ColumnSchema(name="litres", type="INT64"),
    ]
    stats = {c.name: column_stats(c.name, c.type, rows) for c in columns}
    lengths = [len(r["shade"]) for r in rows]
    stats["shade"] = stats["shade"].model_copy(
        update={"min_length": min(lengths), "max_length": max(lengths), "avg_length": sum(lengths) / len(lengths)}
    )
    return TableProfile(
        table_id=table_id,
        name=table_id.rsplit(".", 1)[-1],
        row_count=len(rows),
        columns=columns,
        stats=stats,
        sample=rows[:sample_rows],
        primary_key=["paint_id"],
    )


def as_categorical(table: TablePlan, path: str = "shade") -> TablePlan:
    """The table after a semantics answer that calls the column a vocabulary of labels (``categorical``)."""
    column = leaf_plans(table.columns)[path]
    return table.model_copy(
        update={
            "columns": replace_leaf(table.columns, path, column.model_copy(update={"semantic_type": "categorical"}))
        }
    )


@pytest.fixture(scope="module")
def paint() -> tuple[TableProfile, TablePlan]:
    rows = paint_rows()
    profile = paint_profile(rows)
    offline = plan_dataset([profile], PlanOptions(target_project="p", target_dataset="t")).tables[0]
    return profile, as_categorical(offline)


def test_only_text_of_a_kind_nothing_covers_and_no_personal_data_may_have_a_vocabulary(
    paint: tuple[TableProfile, TablePlan],
) -> None:
    _, table = paint
    keys = key_paths(table)
    leaves = leaf_plans(table.columns)
    shade = leaves["shade"]
    assert isinstance(shade.generator, ShapedText)  # the offline plan: invented words in the source's shapes
    assert not_eligible(shade, "shade", table, keys) is None

    def why(**update: Any) -> str | None:
        return not_eligible(shade.model_copy(update=update), "shade", table, keys)

    assert "personal" in (why(semantic_type="person.full_name") or "")
    assert "personal" in (why(semantic_type="identifier") or "")
    assert "personal" in (why(semantic_type="unknown") or "")  # when in doubt, personal
    assert "Faker" in (why(semantic_type="product.name") or "")
    assert "it is categorical" in (why(generator=Categorical(values=["Misty Sage"], weights=[1.0])) or "")
    assert "key" in (not_eligible(leaves["paint_id"], "paint_id", table, keys) or "")
    assert "STRING" in (not_eligible(leaves["litres"], "litres", table, keys) or "")


def test_source_values_are_dropped_and_counted(paint: tuple[TableProfile, TablePlan]) -> None:
    profile, table = paint
    source_values = sorted({r["shade"] for r in profile.sample})[:3]
    proposed = [*FRESH, *source_values]
    vocabulary, record, problems = check_vocabulary("shade", proposed, profile, table, VocabularyLimits(), "gemini:m")
    assert problems == []
    assert vocabulary is not None and record.used
    assert vocabulary.values == FRESH  # in the model's order, source values gone
    assert record.proposed == len(proposed) and record.kept == len(FRESH)
    assert record.dropped_source_values == 3
    assert not {value_digest(v) for v in vocabulary.values} & source_digests(profile, "shade")
    assert vocabulary.origin == "gemini:m"


def test_values_outside_the_columns_bounds_and_duplicates_are_dropped(paint: tuple[TableProfile, TablePlan]) -> None:
    profile, table = paint
    stats = profile.stats["shade"]
    out_of_bounds = [
        "A" * (stats.max_length + 1),  # longer than any source value
        "Sea Glass 2",  # digits: no source value has any
        " Sea Mist",  # padded
        "Sea\tMist",  # a control character
        "dolor sit",  # lorem filler
    ]
    proposed = [*FRESH, FRESH[0], *out_of_bounds]
    vocabulary, record, _ = check_vocabulary("shade", proposed, profile, table, VocabularyLimits(), "gemini:m")
    assert vocabulary is not None and vocabulary.values == FRESH
    assert record.dropped_out_of_bounds == len(out_of_bounds)
    assert record.dropped_duplicates == 1 and record.dropped_source_values == 0


def test_a_declared_string_length_bounds_the_values(paint: tuple[TableProfile, TablePlan]) -> None:
    profile, table = paint
    schema = [c.model_copy(update={"max_length": 9}) if c.name == "shade" else c for c in table.schema_]
    narrow = table.model_copy(update={"schema_": schema})
    vocabulary, record, _ = check_vocabulary("shade", FRESH, profile, narrow, VocabularyLimits(), "gemini:m")
    kept = [v for v in FRESH if len(v) <= 9]
    assert record.dropped_out_of_bounds == len(FRESH) - len(kept) > 0
    assert (vocabulary.values if vocabulary else []) == (kept if len(kept) >= 10 else [])


def test_too_few_surviving_values_keep_the_offline_generator_with_a_reason(
    paint: tuple[TableProfile, TablePlan],
) -> None:
    profile, table = paint
    source_values = sorted({r["shade"] for r in profile.sample})[:20]
    proposed = [*FRESH[:4], *source_values]
    vocabulary, record, problems = check_vocabulary("shade", proposed, profile, table, VocabularyLimits(), "m")
    assert vocabulary is None and problems == [] and not record.used
    assert record.kept == 4 and record.dropped_source_values == 20
    assert (
        record.fallback_reason
        == "4 of 24 proposed values passed the checks, 10 are needed: the offline generator is kept"
    )


def test_an_answer_over_the_size_or_empty_goes_back_for_repair(paint: tuple[TableProfile, TablePlan]) -> None:
    profile, table = paint
    limits = VocabularyLimits(size=5)
    _, _, problems = check_vocabulary("shade", FRESH, profile, table, limits, "m")
    assert problems == ["shade: a vocabulary holds at most 5 values, the answer has 12"]
    _, _, problems = check_vocabulary("shade", [], profile, table, limits, "m")
    assert problems == ["shade: a vocabulary needs values"]


def test_source_values_outside_the_profile_are_found_by_the_exact_lookup(paint: tuple[TableProfile, TablePlan]) -> None:
    profile, table = paint
    asked: list[tuple[str, str, int]] = []
    hidden = FRESH[:2]  # as if two rows outside the sample held these

    def present(p: TableProfile, path: str, digests: Any) -> set[str]:
        asked.append((p.table_id, path, len(digests)))
        return {value_digest(v) for v in hidden} & set(digests)

    vocabulary, record, _ = check_vocabulary("shade", FRESH, profile, table, VocabularyLimits(), "m", present)
    assert asked == [("p.d.Paint", "shade", len(FRESH))]
    assert vocabulary is not None and vocabulary.values == FRESH[2:]
    assert record.dropped_source_values == 2 and record.checked_on_all_rows


def test_weights_follow_the_source_frequencies_in_rank_order(paint: tuple[TableProfile, TablePlan]) -> None:
    profile, _ = paint
    counts = sorted((v.count for v in profile.stats["shade"].top_values), reverse=True)
    weights = rank_weights(25, profile.stats["shade"])
    assert weights[: len(counts)] == [float(c) for c in counts[:25]]
    assert weights == sorted(weights, reverse=True)
    assert rank_weights(3, None) == [1.0, 1.0, 1.0]


def test_the_generation_answer_checks_vocabularies(paint: tuple[TableProfile, TablePlan]) -> None:
    profile, table = paint
    keys = key_paths(table)
    ask = VocabularyAsk(VocabularyLimits(), "gemini:m")

    def answer(*choices: GeneratorChoice) -> GenerationAnswer:
        return GenerationAnswer(table="Paint", columns=list(choices))

    shade = GeneratorChoice(column="shade", kind="vocabulary", vocabulary=FRESH, reason="paint shades")
    outcome, problems = generation_problems(answer(shade), profile, table, ["shade"], keys, 5, ask)
    assert problems == []
    generator, reason = outcome.generators["shade"]
    assert isinstance(generator, Vocabulary) and generator.values == FRESH
    assert reason == "model: paint shades (12 values checked against the source)"
    assert [r.column for r in outcome.vocabularies] == ["shade"]
    # Not offered, or for a column that may not have one: back to the model.
    _, problems = generation_problems(answer(shade), profile, table, ["shade"], keys, 5, None)
    assert problems == ["shade: vocabulary is not offered in this request; choose another kind"]
    person = table.model_copy(
        update={
            "columns": replace_leaf(
                table.columns,
                "shade",
                leaf_plans(table.columns)["shade"].model_copy(update={"semantic_type": "person.full_name"}),
            )
        }
    )
    _, problems = generation_problems(answer(shade), profile, person, ["shade"], keys, 5, ask)
    assert problems and problems[0].startswith("shade: no vocabulary: it may hold personal or identifying data")
    # Too few survivors: the column keeps its generator, with a note, and the answer stands.
    few = shade.model_copy(update={"vocabulary": FRESH[:3]})
    outcome, problems = generation_problems(answer(few), profile, table, ["shade"], keys, 5, ask)
    assert problems == [] and "shade" not in outcome.generators
    assert outcome.notes == [
        "shade: vocabulary not used: 3 of 3 proposed values passed the checks, 10 are needed: "
        "the offline generator is kept"
    ]


def test_a_vocabulary_is_never_a_privacy_problem_and_is_always_excluded(paint: tuple[TableProfile, TablePlan]) -> None:
    _, table = paint
    column = leaf_plans(table.columns)["shade"]
    vocab = Vocabulary(values=FRESH, weights=[1.0] * len(FRESH), origin="m")
    for identifying in (True, False):
        changed = column.model_copy(update={"generator": vocab, "identifying": identifying})
        with_vocab = table.model_copy(update={"columns": replace_leaf(table.columns, "shade", changed)})
        assert privacy_problems(with_vocab, table) == []
        # The generate step fetches the source's digests of it, and the leak check counts it.
        assert [p.path for p in identifying_paths(with_vocab.columns) if p.path == "shade"] == ["shade"]


# ---------------------------------------------------------------------------------------------
# Both engines
# ---------------------------------------------------------------------------------------------


def vocabulary_table(values: list[str], rows: int = 3000) -> TablePlan:
    profile = paint_profile(paint_rows())
    table = plan_dataset([profile], PlanOptions(target_project="p", target_dataset="t")).tables[0]
    shade = leaf_plans(table.columns)["shade"].model_copy(
        update={
            "generator": Vocabulary(values=values, weights=[float(len(values) - i) for i in range(len(values))]),
            "null_rate": 0.1,
        }
    )
    table = table.model_copy(update={"columns": replace_leaf(table.columns, "shade", shade), "row_count": rows})
    return table.model_copy(update={"recipe": compile_recipe(table, 7)})


def shades(files: list[Path]) -> list[Any]:
    return [json.loads(line)["shade"] for f in files for line in f.read_text().splitlines()]


def test_both_engines_drop_excluded_values_that_slipped_through(tmp_path: Path) -> None:
    table = vocabulary_table(FRESH)
    assert check_recipe(table.recipe) == []
    excluded = {"shade": [value_digest(v) for v in FRESH[:4]]}
    for name, run in (("columnar", generate_table_columnar), ("snowfakery", generate_table)):
        values = shades(run(table, 7, tmp_path / name, exclusions=excluded)[0])
        emitted = Counter(v for v in values if v is not None)
        assert set(emitted) == set(FRESH[4:]), name
        assert 0.05 < values.count(None) / len(values) < 0.15, name
        # The heaviest value left is drawn most often, as its weight says.
        assert emitted.most_common(1)[0][0] == FRESH[4], name


def test_both_engines_say_by_name_when_every_value_is_excluded(tmp_path: Path) -> None:
    table = vocabulary_table(FRESH[:3], rows=20)
    excluded = {"shade": [value_digest(v) for v in FRESH[:3]]}
    with pytest.raises(ColumnarError, match="shade: every value of its vocabulary is a value of the source column"):
        generate_table_columnar(table, 7, tmp_path / "c", exclusions=excluded)
    with pytest.raises(Exception, match="shade: every value of its vocabulary is a value of the source column"):
        generate_table(table, 7, tmp_path / "s", exclusions=excluded)


def test_values_that_look_like_templates_come_out_as_written(tmp_path: Path) -> None:
    values = ["${{ 7 * 7 }}", "<<1+1>>", "Sea Glass"]
    table = vocabulary_table(values, rows=200)
    assert check_recipe(table.recipe) == []
    for name, run in (("columnar", generate_table_columnar), ("snowfakery", generate_table)):
        emitted = {v for v in shades(run(table, 7, tmp_path / name)[0]) if v is not None}
        assert emitted == set(values), name


def test_a_rerun_from_the_plan_is_byte_identical(tmp_path: Path) -> None:
    table = vocabulary_table(FRESH, rows=2000)
    for name, run in (("columnar", generate_table_columnar), ("snowfakery", generate_table)):
        first = b"".join(f.read_bytes() for f in run(table, 7, tmp_path / f"{name}1")[0])
        again = b"".join(f.read_bytes() for f in run(table, 7, tmp_path / f"{name}2")[0])
        assert first == again, name


def test_the_quality_report_scores_a_vocabulary_column_as_text_drawn_fresh() -> None:
    table = vocabulary_table(FRESH, rows=10)
    [shade] = [c for c in quality_leaf_columns(table) if c.path == "shade"]
    assert is_text_column(shade)
    assert column_sdtype(shade.plan)["sdtype"] == "pii"  # never compared value by value with the source's


# ---------------------------------------------------------------------------------------------
# In the advice flow
# ---------------------------------------------------------------------------------------------


def _advise(advisor: ScriptedAdvisor, options: AdviceOptions | None = None) -> tuple[AdvisedPlan, TablePlan]:
    profile = paint_profile(paint_rows())
    offline = with_recipes(plan_dataset([profile], PlanOptions(target_project="p", target_dataset="t")))
    return advise_plan([profile], offline, advisor, options or AdviceOptions()), offline.tables[0]


def _offered(advisor: ScriptedAdvisor) -> dict[str, int]:
    return {
        c["column"]: c["vocabulary_max"]
        for p in advisor.asked("generation", "Paint")
        for c in json.loads(p.turns[0].text)["columns"]
        if "vocabulary_max" in c
    }


def test_a_vocabulary_is_offered_only_where_the_semantics_allow_it() -> None:
    shade = GeneratorChoice(column="shade", kind="vocabulary", vocabulary=FRESH)
    kept_identifier = ScriptedAdvisor().on("generation", "Paint", ok(GenerationAnswer(table="Paint", columns=[shade])))
    advised, offline = _advise(kept_identifier, AdviceOptions(max_repairs=0))
    assert _offered(kept_identifier) == {}  # still an identifier: nothing offered, and an answer is refused
    assert advised.plan.table("Paint").columns == offline.columns
    assert "shade: no vocabulary: it may hold personal or identifying data (identifier)" in (
        advised.report.table("Paint").fallback_reason or ""
    )

    labels = (
        ScriptedAdvisor()
        .on("semantics", "Paint", lambda r: ok(semantics(r, shade="categorical")))
        .on("generation", "Paint", ok(GenerationAnswer(table="Paint", columns=[shade])))
    )
    advised, _ = _advise(labels, AdviceOptions(vocabulary=VocabularyLimits(size=30)))
    assert _offered(labels) == {"shade": 30}
    generator = leaf_plans(advised.plan.table("Paint").columns)["shade"].generator
    assert isinstance(generator, Vocabulary) and generator.values == FRESH and generator.origin == "scripted"
    assert [v.used for v in advised.report.table("Paint").vocabularies] == [True]


def test_a_table_that_falls_back_keeps_no_vocabulary_and_says_why() -> None:
    shade = GeneratorChoice(column="shade", kind="vocabulary", vocabulary=FRESH)
    wrong = GeneratorChoice(column="litres", kind="boolean")  # an INT64 column: refused

    def by_chunk(request: Any) -> Any:
        choice = shade if "shade" in request.columns else wrong
        return ok(GenerationAnswer(table="Paint", columns=[choice]))

    advisor = (
        ScriptedAdvisor()
        .on("semantics", "Paint", *[lambda r: ok(semantics(r, shade="categorical"))] * 2)
        .on("generation", "Paint", by_chunk, by_chunk)
    )
    options = AdviceOptions(max_repairs=0, prompt=PromptLimits(max_columns_per_prompt=2))
    advised, offline = _advise(advisor, options)
    assert advised.plan.table("Paint").columns == offline.columns
    [record] = advised.report.table("Paint").vocabularies
    assert not record.used and record.fallback_reason == "the table fell back to the offline plan"
