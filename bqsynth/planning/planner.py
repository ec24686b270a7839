"""Plan the whole dataset jointly: relationships, keys, one generator per column.

The offline engine: every decision here is a deterministic function of the profiles
and the options, explained in ``ColumnPlan.reason``. A model provider may later
propose changes, which are validated against the same vocabulary.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any, NamedTuple

from pydantic import Field

from bqsynth.config import run_default
from bqsynth.errors import BqsynthError
from bqsynth.groups import group_pair_space
from bqsynth.models import (
    DAY_TYPES,
    NUMERIC_TYPES,
    TEMPORAL_TYPES,
    ArrayValue,
    BooleanValue,
    Categorical,
    ColumnPlan,
    ColumnSchema,
    ColumnStats,
    DatasetPlan,
    FakerValue,
    ForeignKeyRef,
    FreeText,
    Generator,
    GroupKey,
    GroupLayout,
    GroupPairing,
    KeyChoice,
    LineNumber,
    LinkPairing,
    NullValue,
    NumberFromQuantiles,
    PatternString,
    PlanFailure,
    RecordValue,
    Relationship,
    SequenceKey,
    ShapedText,
    StrictModel,
    TablePlan,
    TableProfile,
    TemporalFromQuantiles,
    ValueCount,
    normalise_type,
)
from bqsynth.planning.copula_fit import table_copula
from bqsynth.planning.locales import localised_columns
from bqsynth.planning.relationships import candidate_key, discover_relationships
from bqsynth.planning.type_shapes import (
    bytes_generator,
    geography_generator,
    interval_generator,
    json_generator,
    range_generator,
)
from bqsynth.planning.vocabularies import ColumnSettings, TableRoles, column_guesses, default_disclosure, table_roles
from bqsynth.semantics import SemanticGuess, classify_column, derive_pattern, sample_values
from bqsynth.shapes import excluded_bound, fitted_pattern, pattern_space, widest_pattern
from bqsynth.sources.key_checks import FanOut, FanOutQuery, KeyChecks
from bqsynth.text_kinds import column_shapes, reads_as_prose
from bqsynth.values import temporal_to_seconds

# Types whose generator is learnt from the sample (see bqsynth.planning.type_shapes).
SHAPED_TYPES = ("BYTES", "JSON", "GEOGRAPHY", "INTERVAL", "RANGE")
# Most digits of the decimal types when the schema declares no precision: NUMERIC(38, 9), BIGNUMERIC(76, 38).
DECIMAL_PRECISION = {"NUMERIC": 38, "BIGNUMERIC": 76}
# Faker providers whose values stay well-formed with a row-index suffix (in the local part
# of an email); other faked columns are not forced unique, which would deform them.
UNIQUE_BY_SUFFIX = frozenset({"email", "safe_email", "free_email", "company_email"})


class PlanOptions(StrictModel):
    """What the planner takes from the run's configuration (defaults: RunConfig's)."""

    seed: int = run_default("seed")
    record_counts: dict[str, int] = Field(default_factory=dict, description="Rows per table (short name)")
    scale: float = Field(
        default=run_default("scale"), gt=0, description="Rows = source rows x scale, where no count is given"
    )
    max_rows: int = Field(default=run_default("max_rows"), ge=1, description="No table gets more rows")
    target_project: str
    target_dataset: str
    min_category_count: int = Field(
        default=run_default("min_category_count"),
        ge=1,
        description="Category values seen fewer times are never emitted",
    )
    categorical_max_distinct: int = 50
    public_columns: list[str] = Field(
        default_factory=list, description="table.column or table.*: values kept as observed (RunConfig's)"
    )
    private_columns: list[str] = Field(
        default_factory=list, description="table.column or table.*: rare values suppressed (RunConfig's)"
    )
    first_rows: dict[str, int] = Field(
        default_factory=dict,
        description="WRITE_APPEND: rows already in each target (short name); the batch's keys continue after them",
    )


class PlanError(BqsynthError):
    """A table cannot be planned; the message names the table and column."""


def requested_rows(profile: TableProfile, options: PlanOptions) -> int:
    """The table's row count: asked for by name, else the source's times the scale, up to ``max_rows``."""
    if profile.name in options.record_counts:
        return int(options.record_counts[profile.name])
    rows = max(1, int(round(profile.row_count * options.scale))) if profile.row_count else 0
    if rows > options.max_rows:
        raise PlanError(
            f"table {profile.name}: {profile.row_count} source rows x scale {options.scale} = {rows} rows, more than "
            f"max_rows={options.max_rows}",
            table=profile.name,
            hint="lower the scale, give the table a record count, or raise max_rows on purpose",
        )
    return rows


# --- keys -------------------------------------------------------------------------------------

_MIDNIGHT = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[ T]00:00(?::00(?:\.0*)?)?)?\s*(?:UTC|Z|[+-]00:?00)?$")
_PREFIXED_ID = re.compile(r"^(?P<prefix>\D*?)(?P<digits>\d+)$")


def key_spec(column: ColumnSchema, stats: ColumnStats | None, samples: list, rows: int) -> SequenceKey:
    """A key generator keeping the source key's look: its start, or its prefix and width."""
    if normalise_type(column.type) in DAY_TYPES:
        return temporal_key_spec(column, stats, samples)
    if column.type == "INT64":
        start = int(stats.min_value) if stats and isinstance(stats.min_value, (int, float)) else 1
        return SequenceKey(start=max(start, 1) if start > 0 else start, step=1)
    prefixes = [m for m in (_PREFIXED_ID.match(str(v)) for v in samples) if m]
    if samples and len(prefixes) == len(samples) and len({m["prefix"] for m in prefixes}) == 1:
        prefix = prefixes[0]["prefix"]
        width = max(len(m["digits"]) for m in prefixes)
        start = min(int(m["digits"]) for m in prefixes)
    else:
        # A code of one fixed shape (``AAAAAAAABAAAAAAA``) keeps that shape, widened to hold
        # every row; only a key of no single shape, or one too short for the rows, becomes K0001.
        shape = derive_pattern(samples) if samples else None
        fitted = fitted_pattern(shape, rows) if shape else None
        if fitted is not None:
            return SequenceKey(start=0, as_string=True, pattern=fitted)
        prefix, width, start = "K", 0, 1
    width = max(width, len(str(start + max(rows - 1, 0))))
    return SequenceKey(start=start, prefix=prefix, width=width, as_string=True)


def temporal_key_spec(column: ColumnSchema, stats: ColumnStats | None, samples: list) -> SequenceKey:
    """A time that keys its rows (the hour of ``(origin, time_hour)``), kept on the source's grid:
    from the source's first moment, one step per row, the step being the greatest common divisor
    of the gaps between sampled moments (an hour for hourly readings; a day at least for DATE)."""
    kind = normalise_type(column.type)
    day = 86400
    moments = sorted({int(temporal_to_seconds(str(v), kind)) for v in samples if v is not None})
    step = 0
    for earlier, later in itertools.pairwise(moments):
        step = math.gcd(step, later - earlier)
    if kind == "DATE":
        step = max(step, day) // day * day
    first = stats.min_value if stats is not None and stats.min_value is not None else None
    start = int(temporal_to_seconds(str(first), kind)) if first is not None else (moments[0] if moments else 0)
    return SequenceKey(start=start, step=step or (day if kind == "DATE" else 1), temporal=kind)  # type: ignore[arg-type]


def fit_pattern(
    generator: PatternString, rows: int, excluded: int, *, table: str, column: str
) -> tuple[PatternString, str]:
    """The pattern generator with a shape that has room for the rows, and what changed.

    A unique column needs ``rows + excluded`` values (source values are never emitted); a
    repeating one needs a free value besides the excluded ones, and twice the excluded
    count to find one in a few draws. A shape too small is widened (``bqsynth.shapes``);
    when even the widest shape of that length and those classes is too small, the table
    cannot be generated and this says so now, not half-way through generation.
    """
    needed = rows + excluded if generator.unique else excluded + 1
    roomy = needed if generator.unique else 2 * excluded + 1
    fitted = fitted_pattern(generator.pattern, needed, roomy)
    if fitted is None:
        widest = widest_pattern(generator.pattern)
        place = ", ".join(f"{kind} {name}" for kind, name in (("table", table), ("column", column)) if name)
        if generator.unique:
            need = f"a unique column needs {needed} ({rows} rows + {excluded} source values never emitted)"
            hint = "Request fewer rows (record_counts), or give the column a longer shape by hand."
        else:
            need = f"the column needs {needed} (a value besides the {excluded} source values never emitted)"
            hint = "Give the column a longer shape by hand."
        raise PlanError(
            f"{place}: the shape {generator.pattern!r} "
            f"(widest: {widest!r}) holds {pattern_space(widest)} values, but {need}",
            table=table or None,
            column=column,
            hint=hint,
        )
    if fitted == generator.pattern:
        return generator, ""
    return generator.model_copy(
        update={"pattern": fitted}
    ), f"shape widened to {fitted!r}: the source uses {generator.pattern!r} densely"


def estimate_skew(top_counts: list[ValueCount], child_rows: int, parent_rows: int) -> float:
    """Fit the fan-out skew from the child column's most frequent parent keys.

    The top ``k`` parents hold a share ``f`` of the children; under the model in
    ``generation.keys.parent_index`` that share is ``(k / n) ** (1 / (1 + skew))``, so
    ``skew = ln(k / n) / ln(f) - 1``. Uniform fan-out gives about 0.
    """
    counts = [c.count for c in top_counts if c.value is not None and c.count > 0]
    if not counts or child_rows <= 0 or parent_rows <= 1:
        return 0.0
    k = min(len(counts), parent_rows - 1)
    share = min(sum(sorted(counts, reverse=True)[:k]) / child_rows, 0.999999)
    parent_share = k / parent_rows
    if share <= parent_share:
        return 0.0
    return round(max(0.0, min(math.log(parent_share) / math.log(share) - 1.0, 20.0)), 4)


# Knots of a fan-out curve kept in the plan: enough for the shape, few enough to read in plan.yaml.
MAX_FAN_OUT_KNOTS = 33


def fan_out_curve(fan_out: FanOut, parent_rows: int, max_knots: int = MAX_FAN_OUT_KNOTS) -> list[tuple[float, float]]:
    """The Lorenz curve of a reference's children per parent: knots (parent share, child share).

    Parents are taken most children first, those with none last (``parent_rows`` less the
    parents the histogram counts), so the curve rises from (0, 0) to (p, 1) and is flat after
    ``p``. Beyond ``max_knots`` neighbouring groups of parents share a segment (their mean
    number of children). Empty when there is nothing to fit (no child, a single parent).
    """
    bins = sorted(((c, p) for c, p in fan_out.histogram if c > 0 and p > 0), reverse=True)
    parents = max(parent_rows, sum(p for _, p in bins))
    children = sum(c * p for c, p in bins)
    if not bins or children == 0 or parents <= 1:
        return []
    # Split the parents with children into at most max_knots - 1 groups of about equal size.
    groups: list[list[tuple[int, int]]] = [[]]
    per_group = sum(p for _, p in bins) / (max_knots - 1)
    held = 0
    for c, p in bins:
        if groups[-1] and held >= per_group * len(groups) and len(groups) < max_knots - 1:
            groups.append([])
        groups[-1].append((c, p))
        held += p
    knots = [(0.0, 0.0)]
    parent_count = child_count = 0
    for group in groups:
        parent_count += sum(p for _, p in group)
        child_count += sum(c * p for c, p in group)
        knots.append((parent_count / parents, child_count / children))
    knots[-1] = (knots[-1][0], 1.0)
    return knots


def reference_fan_outs(
    profiles: list[TableProfile], relationships: list[Relationship], checks: KeyChecks | None
) -> dict[str, dict[str, FanOut]]:
    """Children per parent of every single-column reference of a BigQuery table, by child table
    and column, counted exactly by ``checks`` (SQL on the sources); a reference without one
    (a file source, a check not made) keeps the skew model."""
    if checks is None:
        return {}
    by_name = {p.name: p for p in profiles if p.file_format is None}  # a file is not a table SQL can read
    wanted = [
        (r.child_table, r.child_columns[0])
        for r in relationships
        if len(r.child_columns) == 1 and r.child_table in by_name and "." not in r.child_columns[0]
    ]
    wanted = list(dict.fromkeys(wanted))
    answers = checks.fan_out([FanOutQuery(table_id=by_name[t].table_id, column=c) for t, c in wanted])
    found: dict[str, dict[str, FanOut]] = {}
    for (table, column), answer in zip(wanted, answers, strict=True):
        if answer is not None:
            found.setdefault(table, {})[column] = answer
    return found


def primary_key_column(profile: TableProfile, relationships: list[Relationship]) -> str | None:
    """The single column whose values the plan derives from the row index.

    The declared key, else the column other tables refer to, else a unique key-named
    column (``transaction_id`` in an undeclared fact table), whose uniqueness is kept.
    For a composite key, its first column that is not a reference: unique on its own, it
    keeps the whole key unique (``line_no`` of ``(order_id, line_no)``).
    """
    if len(profile.primary_key) == 1:
        return profile.primary_key[0]
    if profile.primary_key:
        references = {c for r in relationships if r.child_table == profile.name for c in r.child_columns}
        free = [c for c in profile.primary_key if c not in references]
        return free[0] if free else None
    referenced = {
        r.parent_columns[0] for r in relationships if r.parent_table == profile.name and len(r.parent_columns) == 1
    }
    if len(referenced) == 1:
        return referenced.pop()
    candidate = candidate_key(profile)
    return candidate[0] if candidate else None


# --- value generators -------------------------------------------------------------------------


def boolean_generator(stats: ColumnStats | None) -> BooleanValue:
    """The observed share of true values (an even chance without statistics)."""
    p_true = 0.5
    if stats and stats.non_null_count:
        trues = sum(v.count for v in stats.top_values if v.value in (True, "true", "True"))
        p_true = trues / stats.non_null_count
    return BooleanValue(p_true=round(min(max(p_true, 0.0), 1.0), 6))


def categorical_from_stats(stats: ColumnStats, min_count: int) -> Categorical | None:
    kept = [v for v in stats.top_values if v.value is not None and v.count >= min_count]
    if not kept:
        return None
    return Categorical(values=[v.value for v in kept], weights=[float(v.count) for v in kept])


def observed_vocabulary(stats: ColumnStats | None, samples: Sequence[Any], whole: bool) -> Categorical | None:
    """Every observed value with its frequency (a public column): from the sample when it holds the
    whole table (a lookup table), else from the profiled top values when they cover at least 90% of
    the rows; None when neither knows the column's values. Values seen once each stay unique."""
    hashable = [v for v in samples if not isinstance(v, (dict, list))]
    if whole and hashable:
        counted = Counter(hashable).most_common()
    elif stats is not None and stats.top_values:
        counted = [(v.value, v.count) for v in stats.top_values if v.value is not None and v.count > 0]
        if sum(c for _, c in counted) < 0.9 * max(stats.non_null_count, 1):
            return None
    else:
        return None
    if not counted:
        return None
    unique = len(counted) > 1 and all(count == 1 for _, count in counted)
    return Categorical(values=[v for v, _ in counted], weights=[float(c) for _, c in counted], unique=unique)


def is_categorical(stats: ColumnStats | None, options: PlanOptions) -> bool:
    if stats is None or not stats.top_values:
        return False
    covered = sum(v.count for v in stats.top_values)
    return (
        stats.distinct_count <= options.categorical_max_distinct
        and stats.distinct_ratio < 0.5
        and covered >= 0.9 * max(stats.non_null_count, 1)
    )


def is_vocabulary(stats: ColumnStats | None, options: PlanOptions) -> bool:
    """A small vocabulary of shared values (a status, a currency, a genre): categorical, and the values
    seen at least ``min_category_count`` times hold 90% of the rows, as the categorical test's
    coverage asks of the top values. A few rows with a value or two each say nothing of the kind."""
    if stats is None or not is_categorical(stats, options):
        return False
    frequent = sum(v.count for v in stats.top_values if v.value is not None and v.count >= options.min_category_count)
    return frequent >= 0.9 * max(stats.non_null_count, 1)


def number_generator(column: ColumnSchema, stats: ColumnStats) -> NumberFromQuantiles | None:
    quantiles = [float(q) for q in stats.quantiles if isinstance(q, (int, float))]
    if not quantiles and isinstance(stats.min_value, (int, float)) and isinstance(stats.max_value, (int, float)):
        quantiles = [float(stats.min_value), float(stats.max_value)]
    if not quantiles:
        return None
    decimals, precision = None, None
    if column.type in ("NUMERIC", "BIGNUMERIC"):
        # The declared scale when there is one, else the most decimals any source value has.
        if column.scale is not None:
            decimals = column.scale
        else:
            decimals = stats.max_scale if stats.max_scale is not None else 2
        precision = column.precision or DECIMAL_PRECISION[column.type]
    return NumberFromQuantiles(
        quantiles=sorted(quantiles), integer=column.type == "INT64", decimals=decimals, precision=precision
    )


def shaped_generator(
    column: ColumnSchema,
    stats: ColumnStats | None,
    samples: list[Any],
    profile: TableProfile,
    path: str,
    min_count: int,
) -> tuple[Generator, str]:
    """The generator of a JSON, GEOGRAPHY, BYTES, INTERVAL or RANGE column, learnt from the sample."""
    found: Generator | None
    match column.type:
        case "JSON":

            def identifying(key_path: str, values: list[str]) -> bool:
                key = ColumnSchema(name=key_path.rsplit(".", 1)[-1], type="STRING")
                return classify_column(profile, key_path, key, None, values).identifying

            found, reason = json_generator(samples, path, identifying, min_count), "JSON of the sample's key structure"
        case "GEOGRAPHY":
            found, reason = geography_generator(samples), "within the sample's bounds"
        case "BYTES":
            found, reason = bytes_generator(stats, samples, column.max_length), "random bytes of the source's lengths"
        case "INTERVAL":
            found, reason = interval_generator(samples), "within the sample's months, days and seconds"
        case _:
            found = range_generator(samples, column.range_element_type or "")
            reason = "starts and lengths of the sample's ranges"
    if found is None:
        return NullValue(), f"{column.type}: the profile sample holds no value to learn from"
    return found, reason


def temporal_generator(column: ColumnSchema, stats: ColumnStats) -> TemporalFromQuantiles | None:
    quantiles = [str(q) for q in stats.quantiles if q is not None]
    if not quantiles and stats.min_value is not None and stats.max_value is not None:
        quantiles = [str(stats.min_value), str(stats.max_value)]
    if not quantiles:
        return None
    return TemporalFromQuantiles(type=column.type, quantiles=quantiles)  # type: ignore[arg-type]


def _at_midnight(value: Any) -> bool:
    """``1962-02-18 00:00:00`` (a day kept in a DATETIME or TIMESTAMP), however it is spelled."""
    return _MIDNIGHT.match(str(value).strip()) is not None


def unique_in_source(stats: ColumnStats | None) -> bool:
    """Whether the source column holds (almost) no value twice: the synthetic one then holds none twice."""
    return bool(stats and stats.distinct_ratio > 0.95 and stats.non_null_count > 1)


def unique_integers(generator: NumberFromQuantiles, rows: int) -> tuple[NumberFromQuantiles, str]:
    """The integer generator made unique over the source's range, widened upwards to hold ``rows``."""
    low, high = math.ceil(generator.quantiles[0]), math.floor(generator.quantiles[-1])
    note = "unique in the source: a permutation of its range, no value twice"
    if high - low + 1 < rows:
        high = low + rows - 1
        note += f" (range widened to {low}..{high} to hold {rows} rows)"
    quantiles = [float(low), *generator.quantiles[1:-1], float(high)]
    return generator.model_copy(update={"unique": True, "quantiles": quantiles, "copula": None}), note


def value_generator(
    column: ColumnSchema,
    stats: ColumnStats | None,
    guess: SemanticGuess,
    options: PlanOptions,
    samples: Sequence[Any] = (),
    shaped: tuple[Generator, str] | None = None,
) -> tuple[Generator, str]:
    """The generator for a scalar (or array element) column, and why it was chosen.

    ``samples`` are the column's sample values; ``shaped`` is the generator of a JSON,
    GEOGRAPHY, BYTES, INTERVAL or RANGE column (``shaped_generator``), learnt from the
    sample by the caller.
    """
    unique = unique_in_source(stats)
    if column.type in SHAPED_TYPES:
        return shaped or (NullValue(), f"{column.type}: no sample to learn from")
    if column.type == "BOOL":
        return boolean_generator(stats), "observed share of true values"
    if guess.identifying and column.type == "STRING":
        generator, why = text_generator(stats, guess, samples, unique, column.max_length)
        return generator, f"identifying ({guess.semantic_type}): {why}"
    if is_categorical(stats, options) and stats is not None:
        categorical = categorical_from_stats(stats, options.min_category_count)
        if categorical is not None:
            why = f"categorical: observed frequencies, values seen < {options.min_category_count} times dropped"
            suppressed = stats.non_null_count - sum(categorical.weights)
            if column.type == "STRING" and suppressed > 0:
                other, kind = rare_replacement(stats, guess, samples, column.max_length)
                categorical = categorical.model_copy(update={"other": other, "other_weight": float(suppressed)})
                share = suppressed / max(stats.non_null_count, 1)
                why = (
                    f"categorical: observed frequencies; the values seen < {options.min_category_count} times "
                    f"({share:.1%} of rows) are replaced by {kind}"
                )
            return categorical, why
    if stats is not None and column.type in NUMERIC_TYPES:
        number = number_generator(column, stats)
        if number is not None:
            return number, "profiled quantiles"
    if stats is not None and column.type in TEMPORAL_TYPES:
        temporal = temporal_generator(column, stats)
        if temporal is not None:
            if column.type in ("DATETIME", "TIMESTAMP") and samples and all(_at_midnight(v) for v in samples):
                return temporal.model_copy(update={"whole_days": True}), "profiled quantiles, whole days as sampled"
            return temporal, "profiled quantiles"
    if column.type == "STRING":
        generator, why = text_generator(stats, guess, samples, unique, column.max_length)
        return generator, f"{guess.semantic_type}: {why}"
    return NullValue(), "no statistics to generate from"


def text_generator(
    stats: ColumnStats | None, guess: SemanticGuess, samples: Sequence[Any], unique: bool, max_length: int | None = None
) -> tuple[PatternString | FreeText | FakerValue | ShapedText, str]:
    """Values of the column's kind, never filler: the source's one shape, a provider, sentences or shapes.

    One consistent shape in the source (a UK mobile, an account number) is kept exactly;
    Faker's (and ``bqsynth.text_kinds``') providers make values of a known kind (names,
    streets, job titles, product names); free-text comments alone get sentences, of the
    source's lengths; any other text keeps the source's shapes (word count, length, case,
    digits, punctuation) with invented words.
    """
    if guess.pattern:
        return PatternString(pattern=guess.pattern, unique=unique), "same shape as the source"
    if guess.semantic_type == "free_text" and not reads_as_prose(samples):
        return shaped_text(stats, samples), "named like free text but written in capitals or codes: the source's shapes"
    if guess.semantic_type == "free_text":
        low = stats.min_length if stats and stats.min_length else 1
        high = max(stats.max_length if stats and stats.max_length else 50, low)
        if max_length is not None:  # STRING(L)
            low, high = min(low, max_length), min(high, max_length)
        average = stats.avg_length if stats and stats.avg_length else None
        return FreeText(min_length=low, max_length=high, avg_length=average), "sentences of the source's lengths"
    if guess.semantic_type == "address.postal_code" and any(str(v).strip() for v in samples):
        # Postal codes of several countries (H2G 1A7, 12227-000, 70174) keep each shape.
        return shaped_text(stats, samples), "the source's postal code shapes"
    if guess.faker_provider:
        # Only emails stay well-formed with a row-index suffix: "Rock 1a" is no genre.
        return FakerValue(provider=guess.faker_provider, unique=unique and guess.faker_provider in UNIQUE_BY_SUFFIX), (
            "faked"
        )
    return shaped_text(stats, samples), "the source's shapes, invented words"


def rare_replacement(
    stats: ColumnStats, guess: SemanticGuess, samples: Sequence[Any], max_length: int | None
) -> tuple[FakerValue | ShapedText | PatternString, str]:
    """What replaces a category's suppressed values: a value of the column's kind, never lorem.

    The kind's provider (a country for a country, a genre for a genre), the source's one shape,
    else the source's shapes with invented words; a column named like free text that holds
    categories gets their shapes, not sentences.
    """
    generator, why = text_generator(stats, guess, samples, False, max_length)
    if isinstance(generator, FreeText):
        return shaped_text(stats, samples), "values in the source's shapes"
    kind = {
        FakerValue: f"values of their kind ({getattr(generator, 'provider', '')})",
        PatternString: "values of the source's shape",
    }.get(type(generator), "values in the source's shapes")
    return generator, kind  # type: ignore[return-value]


def shaped_text(stats: ColumnStats | None, samples: Sequence[Any]) -> ShapedText:
    """The shapes of the sample's values; without a sample, one capitalised word of the average length."""
    shapes, weights = column_shapes(samples)
    if shapes:
        return ShapedText(shapes=shapes, weights=weights)
    length = round(stats.avg_length) if stats and stats.avg_length else 8
    return ShapedText(shapes=["A" + "a" * max(length - 1, 0)], weights=[1.0])


def _whole_sample_values(profile: TableProfile, path: str) -> list[Any]:
    """Non-null sample values of a top-level column as they are (a JSON array stays one value)."""
    if "." in path:
        return sample_values(profile, path)
    return [row.get(path) for row in profile.sample if row.get(path) is not None]


def array_lengths(stats: ColumnStats | None) -> Categorical:
    counts = [v for v in (stats.array_length_counts if stats else []) if isinstance(v.value, (int, float))]
    if not counts:
        return Categorical(values=[0, 1, 2], weights=[1.0, 1.0, 1.0])
    return Categorical(values=[int(v.value) for v in counts], weights=[float(v.count) for v in counts])  # type: ignore[arg-type]


# --- tables -----------------------------------------------------------------------------------


class _TableContext(StrictModel):
    profile: TableProfile
    rows: int
    key_column: str | None = None
    key: SequenceKey | None = None
    key_parent: _TableContext | None = Field(
        default=None, description="The parent whose key this table's key also refers to (a 1:1 extension table)"
    )
    derived: dict[str, SequenceKey] = Field(
        default_factory=dict,
        description="Other columns of a composite key that other tables refer to, derived from the row "
        "index so a child can recompute them",
    )
    first_row: int = Field(default=0, description="Rows of earlier batches in the target: keys continue after them")
    roles: TableRoles = Field(
        default_factory=TableRoles, description="Lookup tables and tables about people (planning.vocabularies)"
    )
    fan_outs: dict[str, FanOut] = Field(
        default_factory=dict, description="Children per parent of this table's single-column references, by column"
    )

    def column_key(self, column: str) -> SequenceKey:
        """The key of ``column`` derived from the row index, continuing after ``first_row`` rows:
        children copy it, so their references name this batch's keys."""
        profile = self.profile
        schema, samples = profile.column(column), sample_values(profile, column)
        spec = key_spec(schema, profile.stats.get(column), samples, self.first_row + self.rows)
        return spec.model_copy(update={"start": spec.start + self.first_row * spec.step})


class _Parent(NamedTuple):
    """What a reference column points at: the parent's context and key column, and for a
    half of a two-column key, how the link table pairs its parents. A column of a composite
    reference names the draw its columns share (``draw``), the skew they share, and whether
    each child row takes a parent row of its own (``one_to_one``)."""

    ctx: _TableContext
    column: str
    link: LinkPairing | None = None
    draw: str = ""
    skew: float = 0.0
    one_to_one: bool = False
    stratified: bool = False  # drawn in row order, so that a LineNumber numbers each parent's rows
    fan_out: FanOut | None = None  # with stratified: children per parent from the line number's counts


class _Link(NamedTuple):
    """A table whose primary key is made of references only, drawn from k >= 2 parents' rows:
    single references (``partsupp``: part and supplier; an association of three entities), or
    with composite references among them (Lahman ``Managers (playerID, yearID)``: a person, and
    the year of a Teams row). Pairing the parents' rows, never the same tuple twice, keeps the
    key unique (each draw's key columns tell its parent row apart: see ``_key_draws``)."""

    key: tuple[str, ...]
    members: dict[str, tuple[int, _Parent]]  # every column it fills: from which parent, which column
    parents: tuple[_TableContext, ...]
    composites: tuple[Relationship, ...]  # the composite references among the draws

    def pairing(self, table: str, rows: int, position: int, draw: str = "") -> LinkPairing:
        counts = [p.rows for p in self.parents]
        return LinkPairing(
            link_table=table,
            link_rows=rows,
            first_rows=counts[0],
            second_rows=counts[1],
            more_rows=counts[2:],
            position=position,
            draw=draw,
        )

    @property
    def space(self) -> int:
        """How many rows the table can have with no tuple of parent rows twice."""
        return math.prod(p.rows for p in self.parents)


def _single_parents(
    profile: TableProfile, relationships: list[Relationship], contexts: dict[str, _TableContext]
) -> dict[str, tuple[_Parent, Relationship]]:
    """Single-column references of ``profile`` whose parent has a key the plan derives."""
    found: dict[str, tuple[_Parent, Relationship]] = {}
    for rel in relationships:
        if rel.child_table != profile.name or len(rel.child_columns) != 1:
            continue
        parent = contexts.get(rel.parent_table)
        if parent is None or parent.key is None or parent.key_column != rel.parent_columns[0]:
            continue
        found[rel.child_columns[0]] = (_Parent(parent, rel.parent_columns[0]), rel)
    return found


class _Draw(NamedTuple):
    """One parent row a key of references takes columns from: a single or a composite reference."""

    columns: dict[str, str]  # child column -> parent column
    parent: _TableContext
    composite: Relationship | None = None


def _row_identifying(parent: _TableContext) -> set[str]:
    """The parent's columns whose value tells its rows apart: its key and the columns derived
    from its row index (``Teams.teamID`` of ``(yearID, teamID)``), each unique per row."""
    return {c for c in (parent.key_column, *parent.derived) if c}


def _key_draws(
    profile: TableProfile, relationships: list[Relationship], contexts: dict[str, _TableContext]
) -> list[_Draw]:
    """The references that could fill part of ``profile``'s key from one parent row, each
    identifying that row (one of its key columns holds a parent column unique per parent row),
    so distinct parent rows give distinct key values: single references, then composite ones
    whose parent columns are all recomputable from the row index."""
    key = set(profile.primary_key)
    draws = [
        _Draw({column: parent.column}, parent.ctx)
        for column, (parent, _) in _single_parents(profile, relationships, contexts).items()
        if column in key
    ]
    for rel in relationships:
        parent = contexts.get(rel.parent_table)
        if rel.child_table != profile.name or len(rel.child_columns) < 2 or parent is None or parent.key is None:
            continue
        columns = dict(zip(rel.child_columns, rel.parent_columns, strict=True))
        derivable = {parent.key_column, *parent.derived} | _recomputable_references(parent, relationships, contexts)
        identifying = any(columns[c] in _row_identifying(parent) for c in key & set(columns))
        if rel.parent_table != profile.name and identifying and set(rel.parent_columns) <= derivable:
            draws.append(_Draw(columns, parent, rel))
    return draws


def _exact_cover(key: tuple[str, ...], draws: list[_Draw]) -> list[_Draw] | None:
    """Draws with no column in common that fill every column of ``key``, at least two, fewest
    first; among covers of one size the draws' order decides (single references first)."""
    for size in range(2, len(key) + 1):
        for chosen in itertools.combinations(draws, size):
            columns = [c for d in chosen for c in d.columns]
            if len(columns) == len(set(columns)) and set(key) <= set(columns):
                return list(chosen)
    return None


def link_tables(
    profiles: list[TableProfile], relationships: list[Relationship], contexts: dict[str, _TableContext]
) -> dict[str, _Link]:
    """Tables whose primary key k >= 2 reference draws cover exactly, with no column in common.

    Without a pairing such a key has no column of its own to keep it unique, and independent
    draws repeat tuples (Lahman Managers drew 34 duplicate keys).
    """
    links: dict[str, _Link] = {}
    for profile in profiles:
        key = tuple(profile.primary_key)
        if len(key) < 2:
            continue
        cover = _exact_cover(key, _key_draws(profile, relationships, contexts))
        if cover is None:
            continue
        # in the key's column order, as partsupp (partkey, suppkey) pairs part then supplier
        cover.sort(key=lambda d: min(key.index(c) for c in d.columns if c in key))
        members = {c: (i, _Parent(d.parent, p)) for i, d in enumerate(cover) for c, p in d.columns.items()}
        composites = tuple(d.composite for d in cover if d.composite is not None)
        links[profile.name] = _Link(key, members, tuple(d.parent for d in cover), composites)
    return links


def link_space_error(table: str, link: _Link, rows: int) -> str:
    """Why ``rows`` rows of a key made of references only cannot all be unique."""
    sizes = " x ".join(f"{p.rows} {p.profile.name} rows" for p in link.parents)
    return (
        f"table {table}: its primary key ({', '.join(link.key)}) is made of references only, so each row needs "
        f"a combination of parent rows of its own; the key space holds {link.space} rows ({sizes}), "
        f"{rows} rows asked. Ask for at most {link.space} rows of {table}, or more rows of its parents"
    )


class _GroupShape(NamedTuple):
    """A child of two composite references that share a plain key column ``column`` (bakeoff's
    challenges (series, baker) -> bakers and (series, episode) -> episodes): ``column`` is the key
    of an implicit parent of ``groups`` rows, and the child pairs a row of each parent in the same
    group (``GroupPairing``). ``layouts`` lays each parent's rows over the groups; ``key`` gives
    group q its value."""

    child: str
    column: str
    first: Relationship
    second: Relationship
    groups: int
    key: SequenceKey
    layouts: dict[str, GroupLayout]  # parent table -> its layout (its own column name)

    def pairing(self, rows: int, position: int) -> GroupPairing:
        first, second = self.first.parent_table, self.second.parent_table
        return GroupPairing(
            child_table=self.child,
            child_rows=rows,
            first_table=first,
            first=self.layouts[first],
            second_table=second,
            second=self.layouts[second],
            position=position,
        )

    @property
    def space(self) -> int:
        """How many child rows the groups hold with no pair of parent rows twice."""
        return group_pair_space(self.layouts[self.first.parent_table], self.layouts[self.second.parent_table])


def _group_members(rel: Relationship, column: str) -> str:
    """The parent column ``rel`` maps the child's ``column`` to."""
    return rel.parent_columns[rel.child_columns.index(column)]


def _group_parent_problem(
    rel: Relationship, column: str, relationships: list[Relationship], contexts: dict[str, _TableContext]
) -> str:
    """Why the parent of ``rel`` cannot lay its rows out over an implicit parent's groups ('' if it can)."""
    ctx = contexts[rel.parent_table]
    profile, member = ctx.profile, _group_members(rel, column)
    key = set(profile.primary_key)
    if ctx.first_row:
        return f"{profile.name} is an appended batch (its keys continue after {ctx.first_row} earlier rows)"
    if member not in key or key != set(rel.parent_columns):
        return f"{profile.name}'s key ({', '.join(profile.primary_key)}) is not ({', '.join(rel.parent_columns)})"
    own = {c for r in relationships if r.child_table == profile.name for c in r.child_columns}
    if key & own:
        return f"{', '.join(sorted(key & own))} of {profile.name} is a reference itself"
    if any(r.parent_table == profile.name and r.parent_columns == [member] for r in relationships):
        return f"a table refers to {profile.name}.{member} alone"
    if not key - {member} <= {ctx.key_column, *ctx.derived}:
        return f"the rest of {profile.name}'s key is not derived from the row index"
    return ""


def _group_shape_problem(
    child: _TableContext,
    column: str,
    pair: tuple[Relationship, Relationship],
    relationships: list[Relationship],
    contexts: dict[str, _TableContext],
) -> str:
    """Why two composite references of ``child`` sharing ``column`` cannot be paired within groups."""
    sharing = [r for r in relationships if r.child_table == child.profile.name and column in r.child_columns]
    if len(sharing) > 2:
        return f"{len(sharing)} references share {column} (a pairing within groups takes two)"
    if child.first_row:
        return f"{child.profile.name} is an appended batch (its keys continue after {child.first_row} earlier rows)"
    types = {normalise_type(child.profile.column(column).type)}
    for rel in pair:
        problem = _group_parent_problem(rel, column, relationships, contexts)
        if problem:
            return problem
        types.add(normalise_type(contexts[rel.parent_table].profile.column(_group_members(rel, column)).type))
    if len(types) > 1:
        return f"{column} has the types {', '.join(sorted(types))} in the tables that share it"
    return ""


def _group_count(column: str, pair: tuple[Relationship, Relationship], contexts: dict[str, _TableContext]) -> int:
    """The implicit parent's rows: the fewest distinct values of the column in the tables that share it,
    at most each parent's planned rows (every group needs a row of each parent)."""
    child = contexts[pair[0].child_table].profile
    counts = [s.distinct_count for s in [child.stats.get(column)] if s is not None]
    for rel in pair:
        parent = contexts[rel.parent_table]
        stats = parent.profile.stats.get(_group_members(rel, column))
        counts += [stats.distinct_count] if stats is not None else []
        counts.append(parent.rows)
    return min(counts)


def group_layout(ctx: _TableContext, column: str, groups: int) -> GroupLayout:
    """``ctx``'s rows laid out over ``groups`` groups, rows per group from the column's value counts
    (when the profile holds every value), else even."""
    stats = ctx.profile.stats.get(column)
    fan_out: list[tuple[float, float]] = []
    if stats is not None and stats.top_values and sum(v.count for v in stats.top_values) == stats.non_null_count:
        histogram = sorted(Counter(v.count for v in stats.top_values).items())
        fan_out = fan_out_curve(FanOut(histogram=histogram), groups)
    return GroupLayout(column=column, groups=groups, rows=ctx.rows, fan_out=fan_out)


def implicit_groups(
    relationships: list[Relationship], contexts: dict[str, _TableContext], links: dict[str, _Link]
) -> tuple[list[_GroupShape], dict[tuple[str, tuple[str, ...]], str]]:
    """Children whose two composite references share a plain key column that refers to no table,
    each paired within the groups of that column (``_GroupShape``), and for the shapes not covered,
    why (by the second reference), so that its rejection says so."""
    shapes: list[_GroupShape] = []
    why: dict[tuple[str, tuple[str, ...]], str] = {}
    laid_out: dict[str, str] = {}  # parent table -> the column its rows are grouped by
    for name, child in contexts.items():
        composites = sorted(
            (
                r
                for r in relationships
                if r.child_table == name
                and len(r.child_columns) > 1
                and r.parent_table not in (name,)
                and r.parent_table in contexts
            ),
            key=lambda r: (-len(r.child_columns), r.parent_table, r.child_columns),
        )
        for first, second in itertools.combinations(composites, 2):
            shared = set(first.child_columns) & set(second.child_columns)
            if len(shared) != 1 or first.parent_table == second.parent_table or name in links:
                continue
            column = shared.pop()
            problem = _group_shape_problem(child, column, (first, second), relationships, contexts)
            members = {r.parent_table: _group_members(r, column) for r in (first, second)}
            if not problem and any(laid_out.get(t, m) != m for t, m in members.items()):
                problem = "a parent is grouped by another column for another table already"
            groups = _group_count(column, (first, second), contexts) if not problem else 0
            if not problem and groups < 1:
                problem = f"{column} has no value to group by"
            if problem:
                why[(name, tuple(second.child_columns))] = problem
                continue
            p1 = contexts[first.parent_table]
            member = members[first.parent_table]
            key = key_spec(
                p1.profile.column(member), p1.profile.stats.get(member), sample_values(p1.profile, member), groups
            )
            layouts = {t: group_layout(contexts[t], m, groups) for t, m in members.items()}
            shapes.append(_GroupShape(name, column, first, second, groups, key, layouts))
            laid_out.update(members)
    return shapes, why


def group_space_error(shape: _GroupShape, rows: int) -> str:
    """Why ``rows`` rows of a child paired within groups cannot all have keys of their own."""
    first, second = shape.first.parent_table, shape.second.parent_table
    return (
        f"table {shape.child}: its references ({', '.join(shape.first.child_columns)}) -> {first} and "
        f"({', '.join(shape.second.child_columns)}) -> {second} share {shape.column}, so each row pairs a {first} "
        f"row and a {second} row of the same {shape.column} ({shape.groups} groups), no pair twice; the groups "
        f"hold {shape.space} pairs ({shape.layouts[first].rows} {first} rows, {shape.layouts[second].rows} {second} "
        f"rows), {rows} rows asked. Ask for at most {shape.space} rows of {shape.child}, or more rows of its parents"
    )


def grouped_columns(
    table: TablePlan, shapes: list[_GroupShape], contexts: dict[str, _TableContext], numbered: dict[str, KeyChoice]
) -> list[ColumnPlan]:
    """``table``'s columns with the implicit groups applied: a parent's group column as a ``GroupKey``
    and its numbered key column as a ``LineNumber`` within the group; a child's two references
    paired within a group (``GroupPairing``)."""
    columns = {c.name: c for c in table.columns}
    for shape in shapes:
        for rel in (shape.first, shape.second):
            if rel.parent_table != table.name:
                continue
            layout = shape.layouts[table.name]
            group = columns[layout.column]
            columns[layout.column] = group.model_copy(
                update={
                    "generator": GroupKey(layout=layout, key=shape.key),
                    "reason": f"key of an implicit parent: {layout.column} refers to no table but {shape.child} pairs "
                    f"its rows within it; {shape.groups} groups, this table's rows laid out over them in row order",
                }
            )
            choice = numbered.get(table.name)
            line = choice.numbered if choice is not None else None
            if line and set(table.primary_key) == {layout.column, line}:
                columns[line] = columns[line].model_copy(
                    update={
                        "generator": LineNumber(
                            group=[layout.column], rows=table.row_count, parent_rows=shape.groups, layout=layout
                        ),
                        "reason": f"line number: the row's number 1..k within its {layout.column} group",
                    }
                )
        if shape.child != table.name:
            continue
        for position, rel in enumerate((shape.first, shape.second)):
            parent = contexts[rel.parent_table]
            for child_column, parent_column in zip(rel.child_columns, rel.parent_columns, strict=True):
                if position == 1 and child_column == shape.column:
                    continue  # the group's value comes from the first parent's row: the same group
                fk = ForeignKeyRef(
                    parent_table=rel.parent_table,
                    parent_column=parent_column,
                    parent_rows=parent.rows,
                    parent_key=parent.key or SequenceKey(),
                    draw=",".join(rel.child_columns),
                    group_pairing=shape.pairing(table.row_count, position),
                )
                columns[child_column] = columns[child_column].model_copy(
                    update={
                        "generator": fk,
                        "null_rate": 0.0,
                        "semantic_type": "key",
                        "reason": f"foreign key to {rel.parent_table}.{parent_column}, with ({fk.draw}) from a "
                        f"{rel.parent_table} row paired with a "
                        f"{(shape.second if position == 0 else shape.first).parent_table} row of the same "
                        f"{shape.column} group, no pair twice (composite references sharing {shape.column})",
                    }
                )
    return [columns[c.name] for c in table.columns]


def group_note(table: str, shapes: list[_GroupShape]) -> str:
    """What a key's evidence says about implicit groups in its table, if any."""
    for shape in shapes:
        if shape.child == table:
            return (
                f"; generated: ({', '.join(shape.first.child_columns)}) -> {shape.first.parent_table} and "
                f"({', '.join(shape.second.child_columns)}) -> {shape.second.parent_table} paired within each "
                f"{shape.column} group ({shape.groups} groups, an implicit parent), no pair twice"
            )
        if table in (shape.first.parent_table, shape.second.parent_table):
            column = shape.layouts[table].column
            return f"; generated: {column} is an implicit parent's key ({shape.groups} groups), rows laid out over them"
    return ""


def _parents_of(
    profile: TableProfile,
    relationships: list[Relationship],
    contexts: dict[str, _TableContext],
    links: dict[str, _Link],
) -> tuple[dict[str, _Parent], list[Relationship]]:
    """Every reference column the plan keeps valid, and the relationships that covers.

    A composite reference to a link table draws one link row for all its columns, so the
    pair exists there; its columns' single references (to part, to supplier) hold too.
    """
    singles = _single_parents(profile, relationships, contexts)
    parents = {column: parent for column, (parent, _) in singles.items()}
    kept = [rel for _, rel in singles.values()]
    ctx = contexts[profile.name]
    own = links.get(profile.name)
    if own is not None:
        for column, (position, parent) in own.members.items():
            parents[column] = parent._replace(link=own.pairing(profile.name, ctx.rows, position))
        kept += own.composites
    for rel in relationships:
        link = links.get(rel.parent_table)
        if rel.child_table != profile.name or link is None or sorted(rel.parent_columns) != sorted(link.key):
            continue
        draw = ",".join(rel.child_columns)
        for child_column, parent_column in zip(rel.child_columns, rel.parent_columns, strict=True):
            position, parent = link.members[parent_column]
            pairing = link.pairing(rel.parent_table, contexts[rel.parent_table].rows, position, draw)
            parents[child_column] = parent._replace(link=pairing)
        kept.append(rel)
    generated = _generated_composites(
        profile, relationships, contexts, links, _link_columns(profile, relationships, links)
    )
    for rel in generated:
        parent_ctx = contexts[rel.parent_table]
        keyed = [c for c, p in zip(rel.child_columns, rel.parent_columns, strict=True) if p == parent_ctx.key_column]
        stats = profile.stats.get(keyed[0]) if keyed else None
        skew = estimate_skew(stats.top_values, profile.row_count, parent_ctx.profile.row_count) if stats else 0.0
        one_to_one = set(profile.primary_key) == set(rel.child_columns)
        for child_column, parent_column in zip(rel.child_columns, rel.parent_columns, strict=True):
            parents[child_column] = _Parent(
                parent_ctx, parent_column, draw=",".join(rel.child_columns), skew=skew, one_to_one=one_to_one
            )
        kept.append(rel)
    for rel, through, columns in _implied_composites(profile, relationships, contexts, links, generated, set(parents)):
        drawn = parents[through.child_columns[0]]  # the same parent row, draw and skew
        for child_column, parent_column in columns.items():
            parents[child_column] = drawn._replace(column=parent_column)
        kept.append(rel)
    return parents, kept


def _implied_composites(
    profile: TableProfile,
    relationships: list[Relationship],
    contexts: dict[str, _TableContext],
    links: dict[str, _Link],
    generated: list[Relationship],
    taken: set[str],
) -> list[tuple[Relationship, Relationship, dict[str, str]]]:
    """Composite references that hold through another one, through its parent's own reference.

    Lahman Fielding (playerID, yearID, stint) -> Batting and Fielding (yearID, teamID) ->
    Teams share yearID, so only one draws a parent row; but Batting's own (yearID, teamID) ->
    Teams holds, so Fielding's teamID taken from the same Batting row keeps both. Returns each
    such reference, the generated one it holds through, and for its other columns the column
    of that parent row each takes.
    """
    found = []
    kept = {(r.child_table, tuple(r.child_columns)) for r in generated}
    for rel in relationships:
        if (
            rel.child_table != profile.name
            or len(rel.child_columns) < 2
            or (rel.child_table, tuple(rel.child_columns)) in kept
        ):
            continue
        wanted = dict(zip(rel.child_columns, rel.parent_columns, strict=True))
        for through in generated:
            via = dict(zip(through.child_columns, through.parent_columns, strict=True))
            shared = set(wanted) & set(via)
            if not shared:
                continue
            parent_ctx = contexts[through.parent_table]
            members = _composite_members(parent_ctx, relationships, contexts, links, frozenset({profile.name}))
            # the parent's own reference to the same key, whose columns the drawn parent row holds
            own = next(
                (
                    dict(zip(r.parent_columns, r.child_columns, strict=True))
                    for r in relationships
                    if r.child_table == through.parent_table
                    and r.parent_table == rel.parent_table
                    and sorted(r.parent_columns) == sorted(rel.parent_columns)
                    and set(r.child_columns) <= members
                ),
                None,
            )
            if own is None or any(own[wanted[c]] != via[c] for c in shared):
                continue
            rest = {c: own[wanted[c]] for c in wanted if c not in shared}
            if set(rest) & taken:
                continue
            found.append((rel, through, rest))
            taken |= set(rest)
            break
    return found


def _recomputable_references(
    ctx: _TableContext, relationships: list[Relationship], contexts: dict[str, _TableContext]
) -> set[str]:
    """The single references of a table that other tables can recompute (not self-references)."""
    references = _single_parents(ctx.profile, relationships, contexts)
    return {c for c, (_, rel) in references.items() if rel.parent_table != rel.child_table}


def share_referenced_keys(relationships: list[Relationship], contexts: dict[str, _TableContext]) -> None:
    """A key that is also a reference to its parent's key (a 1:1 extension table, ``employee.person_id``
    -> ``person.id``) takes the parent's key: row ``i`` holds the key of parent row ``i``, unique
    and never an orphan. Parents first, so a chain of such tables shares one key."""
    sharing = {}
    for rel in relationships:
        child, parent = contexts.get(rel.child_table), contexts.get(rel.parent_table)
        if child is None or parent is None or child is parent or len(rel.child_columns) != 1:
            continue
        if child.key_column == rel.child_columns[0] and parent.key_column == rel.parent_columns[0] and parent.key:
            sharing[rel.child_table] = parent
    for _ in range(len(sharing)):
        for name, parent in sharing.items():
            contexts[name].key, contexts[name].key_parent = parent.key, parent


def derive_composite_key_columns(relationships: list[Relationship], contexts: dict[str, _TableContext]) -> None:
    """Give a referenced composite key's plain columns a key derived from the row index.

    A composite key's uniqueness comes from its derived key column; its other columns
    (``Teams.teamID`` of ``(yearID, teamID)``, ``bakers.baker``) may then be any value, but a
    child's composite reference must recompute them from the parent row it draws, so they
    are derived from the row index too. Only when every column of the reference can be
    recomputed that way: INT64, STRING and date/time columns of the parent's primary key.
    """
    for rel in relationships:
        parent = contexts.get(rel.parent_table)
        if len(rel.child_columns) < 2 or parent is None or parent.key is None or rel.parent_table == rel.child_table:
            continue
        references = {c for r in relationships if r.child_table == rel.parent_table for c in r.child_columns}
        recomputable = {parent.key_column, *parent.derived} | _recomputable_references(parent, relationships, contexts)
        plain = [c for c in rel.parent_columns if c not in recomputable]
        profile = parent.profile
        if all(
            c in profile.primary_key
            and c not in references
            and normalise_type(profile.column(c).type) in ("INT64", "STRING", *DAY_TYPES)
            for c in plain
        ):
            for column in plain:
                parent.derived[column] = parent.column_key(column)


def _generated_composites(
    profile: TableProfile,
    relationships: list[Relationship],
    contexts: dict[str, _TableContext],
    links: dict[str, _Link],
    claimed: set[str],
    seen: frozenset[str] = frozenset(),
) -> list[Relationship]:
    """Composite references of ``profile`` the generator can keep (other than to link tables).

    Each parent column must be a value of the parent row that any table can recompute: the
    parent's derived key, one of its single references (``TPC-DS store_returns (item,
    ticket) -> store_sales``) or a column of its own generated composite references
    (``seen``: the tables already being asked, so a cycle ends). A column takes part in one
    composite reference only (widest first): two composites sharing a column would need two
    parent rows to agree on it (but see ``_implied_composites``).
    """
    chosen: list[Relationship] = []
    candidates = [
        r
        for r in relationships
        if r.child_table == profile.name and len(r.child_columns) > 1 and r.parent_table != profile.name
    ]
    for rel in sorted(candidates, key=lambda r: (-len(r.child_columns), r.parent_table, r.child_columns)):
        parent = contexts.get(rel.parent_table)
        link = links.get(rel.parent_table)
        if parent is None or parent.key is None or claimed & set(rel.child_columns):
            continue
        if link is not None and sorted(rel.parent_columns) == sorted(link.key):
            continue  # drawn through the link pairing already
        derivable = {parent.key_column, *parent.derived} | _recomputable_references(parent, relationships, contexts)
        derivable |= _composite_members(parent, relationships, contexts, links, seen | {profile.name})
        if set(rel.parent_columns) <= derivable and contexts[profile.name].key_column not in rel.child_columns:
            chosen.append(rel)
            claimed |= set(rel.child_columns)
    return chosen


def _link_columns(profile: TableProfile, relationships: list[Relationship], links: dict[str, _Link]) -> set[str]:
    """Columns of ``profile`` drawn through a link pairing: its own link key, or a composite reference to one."""
    own = links.get(profile.name)
    columns = set(own.members) if own is not None else set()
    for rel in relationships:
        link = links.get(rel.parent_table)
        if rel.child_table == profile.name and link is not None and sorted(rel.parent_columns) == sorted(link.key):
            columns |= set(rel.child_columns)
    return columns


def _composite_members(
    ctx: _TableContext,
    relationships: list[Relationship],
    contexts: dict[str, _TableContext],
    links: dict[str, _Link],
    seen: frozenset[str],
) -> set[str]:
    """Columns of a table that its generated composite references fill: a child can recompute
    them at any row (``Batting.yearID`` of its (yearID, teamID) -> Teams)."""
    if ctx.profile.name in seen or ctx.key is None:
        return set()
    claimed = _link_columns(ctx.profile, relationships, links)
    chosen = _generated_composites(ctx.profile, relationships, contexts, links, claimed, seen)
    return {c for r in chosen for c in r.child_columns}


def plan_column(
    column: ColumnSchema,
    path: str,
    ctx: _TableContext,
    parents: dict[str, _Parent],
    options: PlanOptions,
) -> ColumnPlan:
    profile = ctx.profile
    stats = profile.stats.get(path)
    null_rate = 0.0 if column.mode == "REQUIRED" or stats is None else round(stats.null_rate, 6)
    if column.is_record:
        fields = [plan_column(f, f"{path}.{f.name}", ctx, parents, options) for f in column.fields]
        generator: Generator = RecordValue(fields=fields)
        reason = "nested record"
        if column.is_repeated:
            generator = ArrayValue(element=generator, lengths=array_lengths(stats))
            reason = "array of records: profiled lengths, fields as profiled"
        return ColumnPlan(
            name=column.name,
            type=column.type,
            mode=column.mode,
            semantic_type="record",
            generator=generator,
            null_rate=0.0,
            reason=reason,
        )
    samples = sample_values(profile, path)
    guess = classify_column(profile, path, column, stats, samples)
    if path == ctx.key_column and ctx.key is not None:
        reason = "primary key: derived from the row index"
        if ctx.key_parent is not None:
            parent = ctx.key_parent.profile.name
            if ctx.rows > ctx.key_parent.rows:
                raise PlanError(
                    f"table {profile.name}: its primary key {path} is a reference to {parent}, so each of its rows "
                    f"needs a {parent} row of its own: {ctx.rows} rows asked, {parent} has {ctx.key_parent.rows}. "
                    f"Ask for at most {ctx.key_parent.rows} rows of {profile.name}"
                )
            reason += f", the key of the same row of {parent} (a reference to it, one row each)"
        return _key_plan(column, ctx.key, reason)
    if path in ctx.derived:
        return _key_plan(
            column, ctx.derived[path], "part of a composite key other tables refer to: derived from the row index"
        )
    if path in parents:
        return _reference_column(column, path, ctx, parents[path], null_rate)
    settings = ColumnSettings(public=options.public_columns, private=options.private_columns)
    disclosure = settings.decided(profile.name, path) or default_disclosure(
        profile.name, path, guess, ctx.roles, is_vocabulary(stats, options)
    )
    shaped = None
    if column.type in SHAPED_TYPES:
        whole = _whole_sample_values(profile, path) if column.type == "JSON" else samples
        shaped = shaped_generator(column, stats, whole, profile, path, options.min_category_count)
    kept = None
    if disclosure.public and not column.is_repeated and column.type not in (*SHAPED_TYPES, "BOOL"):
        kept = observed_vocabulary(stats, samples, whole=len(profile.sample) >= profile.row_count)
    if kept is not None:
        generator: Generator = kept
        reason = "public: every observed value kept with its frequency" + (
            ", each once before any repeats (unique in the source)" if kept.unique else ""
        )
    else:
        generator, reason = value_generator(column, stats, guess, options, samples, shaped)
        if disclosure.public and column.type not in (*SHAPED_TYPES, "BOOL") and not column.is_repeated:
            reason += "; public, but the profile does not hold its values (more than its top values), so generated"
    if isinstance(generator, NumberFromQuantiles) and generator.integer and not column.is_repeated:
        if unique_in_source(stats):
            generator, note = unique_integers(generator, ctx.rows)
            reason = f"{reason}; {note}"
    if isinstance(generator, PatternString) and not column.is_repeated:
        excluded = excluded_bound(stats.distinct_count, stats.non_null_count) if stats and guess.identifying else 0
        generator, widened = fit_pattern(generator, ctx.rows, excluded, table=profile.name, column=path)
        reason = f"{reason}; {widened}" if widened else reason
    if column.is_repeated:
        generator = ArrayValue(element=generator, lengths=array_lengths(stats))
        reason = f"array; elements: {reason}"
        null_rate = 0.0
    # No rows asked (an empty source at its own size, a count of 0): a REQUIRED column needs
    # no value, and the target is created empty with the source schema.
    if isinstance(generator, NullValue) and column.mode == "REQUIRED" and ctx.rows > 0:
        raise PlanError(f"table {profile.name}: REQUIRED column {path} ({column.type}) cannot be generated: {reason}")
    if isinstance(generator, NullValue) and stats is not None and stats.non_null_count > 0:
        # Never a silent column of NULLs: the source has values this plan cannot make.
        raise PlanError(
            f"table {profile.name}: column {path} ({column.type}) has values in the source but cannot be "
            f"generated: {reason}",
            table=profile.name,
            column=path,
            hint="exclude the table from the run, or give the column a generator by hand in the plan",
        )
    return ColumnPlan(
        name=column.name,
        type=column.type,
        mode=column.mode,
        semantic_type=guess.semantic_type,
        generator=generator,
        null_rate=null_rate,
        identifying=guess.identifying and kept is None,
        reason=f"{reason}; {guess.reason}".strip("; "),
        disclosure=disclosure,
    )


def plan_unreferenced_column(profile: TableProfile, column: str, rows: int, options: PlanOptions) -> ColumnPlan:
    """The plan of ``column`` as if it referred to nothing and were no key (a rejected reference)."""
    schema = next(c for c in profile.columns if c.name == column)
    return plan_column(schema, column, _TableContext(profile=profile, rows=rows), {}, options)


class _Numbering(NamedTuple):
    """A key numbered within one parent draw: ``column`` numbers the rows of each parent row that
    ``group`` (the key's other columns, all of draw ``draw``) is taken from."""

    column: str
    group: tuple[str, ...]
    draw: str


def _draw_name(column: str, parent: _Parent) -> str:
    """The draw a reference column takes its parent row from: its composite reference's, or its own."""
    return parent.draw or column


def numbering_of(
    profile: TableProfile,
    choice: KeyChoice | None,
    ctx: _TableContext,
    parents: dict[str, _Parent],
    relationships: list[Relationship],
    links: dict[str, _Link],
) -> tuple[_Numbering | None, str]:
    """Whether the key's line number (``KeyChoice.numbered``) can number each parent's rows 1..k,
    and if not, why (the number is then derived from the row index: unique, counting the table's rows).

    It can when the key's other columns are one reference draw whose values tell its parent rows
    apart (``l_orderkey`` -> orders; Managers' ``(yearID, teamID)`` -> Teams): that draw is then
    made in row order, each parent's rows contiguous (``ForeignKeyRef.stratified_rows``).
    """
    if choice is None or not choice.numbered:
        return None, ""
    line, key = choice.numbered, list(profile.primary_key)
    group = tuple(c for c in key if c != line)
    if line not in key or not group:
        return None, f"{line} is not one of several columns of its key ({', '.join(key)})"
    if ctx.first_row:
        return None, (
            f"an appended batch (its keys continue after {ctx.first_row} earlier rows): numbers starting at 1 "
            "again could repeat those of the earlier batch's groups"
        )
    if profile.name in links:
        return None, "its key pairs parent rows (a link table)"
    plain = [c for c in group if c not in parents]
    if plain:
        return (
            None,
            f"({', '.join(group)}) is not one reference draw: {', '.join(plain)} is no reference the plan keeps",
        )
    draws = {_draw_name(c, parents[c]) for c in group}
    if len(draws) > 1:
        return None, f"({', '.join(group)}) is drawn from {len(draws)} parent rows, not one"
    parent = parents[group[0]]
    if parent.link is not None or parent.one_to_one or parent.ctx is ctx:
        return None, f"({', '.join(group)}) is paired, a row of its own or a reference to the table itself"
    if not any(parents[c].column in _row_identifying(parents[c].ctx) for c in group):
        return None, f"({', '.join(group)}) does not tell the rows of {parent.ctx.profile.name} apart"
    referring = [r for r in relationships if r.parent_table == profile.name and line in r.parent_columns]
    if referring:
        r = referring[0]
        return None, (
            f"{r.child_table} ({', '.join(r.child_columns)}) refers to it and recomputes {line} from the row index"
        )
    return _Numbering(line, group, draws.pop()), ""


def in_row_order(parents: dict[str, _Parent], numbering: _Numbering, stats: ColumnStats | None) -> dict[str, _Parent]:
    """The parents, with every column of the numbered group's draw drawn in row order, children per
    parent as the line number counts them (one curve for all: they draw one parent row)."""
    fan_out = numbered_fan_out(stats)
    return {
        c: p._replace(stratified=True, fan_out=fan_out) if _draw_name(c, p) == numbering.draw else p
        for c, p in parents.items()
    }


def numbered_fan_out(stats: ColumnStats | None) -> FanOut | None:
    """Children per parent from a line number's value counts: ``count(n >= j)`` groups have a j-th
    row, so ``count(j) - count(j + 1)`` groups have exactly ``j`` rows. None unless the counts hold
    every value of the column, 1..m."""
    if stats is None or not stats.top_values:
        return None
    counts = {v.value: v.count for v in stats.top_values}
    numbers = sorted(counts, key=str)
    if not all(isinstance(n, int) for n in numbers):
        return None
    numbers = sorted(numbers)
    if numbers != list(range(1, len(numbers) + 1)) or sum(counts.values()) != stats.non_null_count:
        return None  # not 1..m, or the top values are not all of them
    ends = [counts[j] - counts.get(j + 1, 0) for j in numbers]
    histogram = [(j, groups) for j, groups in zip(numbers, ends, strict=True) if groups > 0]
    return FanOut(histogram=histogram) if histogram else None


def numbered_columns(columns: list[ColumnPlan], numbering: _Numbering, profile: TableProfile) -> list[ColumnPlan]:
    """The columns with the line number as a ``LineNumber`` of the group's draw (see ``numbering_of``)."""
    fk = next(c.generator for c in columns if c.name == numbering.group[0])
    assert isinstance(fk, ForeignKeyRef)  # numbering_of found every group column among the references
    number = _key_plan(
        profile.column(numbering.column),
        LineNumber(
            group=list(numbering.group),
            rows=fk.stratified_rows,
            parent_rows=fk.parent_rows,
            skew=fk.skew,
            fan_out=fk.fan_out,
        ),
        f"line number: the row's number 1..k among the rows of its ({', '.join(numbering.group)}) parent row, "
        "whose draw is made in row order so that they are contiguous",
    )
    return [number if c.name == numbering.column else c for c in columns]


def numbering_note(choice: KeyChoice, numbering: _Numbering | None, why: str) -> str:
    """What the key's evidence says about how its line number is generated."""
    if numbering is not None:
        group = ", ".join(numbering.group)
        return f"; generated: {choice.numbered} numbers the rows of each ({group}) parent row 1..k"
    return (
        f"; generated: {choice.numbered} is derived from the row index (unique, counting the table's rows, "
        f"not numbered within each group), since {why}"
    )


def unique_by_construction(table: str, primary_key: list[str], columns: list[ColumnPlan]) -> bool:
    """Whether the generators keep ``primary_key`` unique whatever the draws: a column of it is
    unique on its own (a key from the row index, a keyed permutation, a unique shape), or it
    holds every part of the table's own link pairing."""
    generators = {c.name: c.generator for c in columns if c.name in primary_key}
    positions, parents, paired = set(), 0, set()
    for generator in generators.values():
        if isinstance(generator, SequenceKey):
            return True
        if isinstance(generator, NumberFromQuantiles | PatternString | FakerValue) and generator.unique:
            return True
        if isinstance(generator, ForeignKeyRef) and generator.one_to_one:
            return True
        if isinstance(generator, LineNumber) and set(generator.group) <= set(primary_key):
            return True  # numbered within one parent draw of the key (see LineNumber)
        if isinstance(generator, ForeignKeyRef) and generator.group_pairing:
            if generator.group_pairing.child_table == table:
                paired.add(generator.group_pairing.position)
            if paired == {0, 1}:
                return True  # a row of each of two parents in one group, no pair twice (see GroupPairing)
        if isinstance(generator, ForeignKeyRef) and generator.link and generator.link.link_table == table:
            positions.add(generator.link.position)
            parents = len(generator.link.parent_rows)
    return bool(positions) and positions == set(range(parents))


def _repeating_key_parts(key: list[str], columns: list[ColumnPlan], contexts: dict[str, _TableContext]) -> list[str]:
    """Key columns taken from a composite reference's parent column that is not unique per parent
    row (a reference of the parent's): pairing parent rows would not keep their values apart."""
    found = []
    for column in columns:
        fk = column.generator
        if column.name not in key or not isinstance(fk, ForeignKeyRef) or not fk.draw:
            continue
        parent = contexts.get(fk.parent_table)
        if parent is not None and fk.parent_column not in _row_identifying(parent):
            found.append(
                f"{column.name} is {fk.parent_table}.{fk.parent_column} of the composite reference ({fk.draw}), "
                f"a value several {fk.parent_table} rows share"
            )
    return found


def unique_key_columns(
    ctx: _TableContext,
    key: list[str],
    columns: list[ColumnPlan],
    contexts: dict[str, _TableContext] | None = None,
) -> list[ColumnPlan]:
    """The columns, with ``key`` kept unique: already by construction, else by deriving its first
    column that is not drawn from a parent from the row index (bakeoff's ``challenges (series,
    episode, baker)``, whose (series, baker) is drawn from one bakers row). Raises PlanError when
    the key has no such column: references drawn independently of each other would repeat keys."""
    name = ctx.profile.name
    if not key or ctx.rows <= 1 or unique_by_construction(name, key, columns):
        return columns  # (a table of one row, or none, repeats no key)
    free = next(
        (
            c
            for c in columns
            if c.name in key
            and not isinstance(c.generator, ForeignKeyRef)
            and normalise_type(c.type) in ("INT64", "STRING", *DAY_TYPES)
        ),
        None,
    )
    if free is None:
        repeating = _repeating_key_parts(key, columns, contexts or {})
        why = f" ({'; '.join(repeating)})" if repeating else ""
        raise PlanError(
            f"table {name}: no generator keeps its primary key ({', '.join(key)}) unique: the key is made of "
            f"references drawn independently of each other, so keys would repeat{why}",
            table=name,
            hint="declare the table's primary key in the source (or exclude the table from the run)",
        )
    derived = _key_plan(
        ctx.profile.column(free.name),
        ctx.column_key(free.name),
        "part of the primary key whose other columns are drawn from parents: derived from the row index, "
        "so the key stays unique",
    )
    return [derived if c is free else c for c in columns]


def _key_plan(column: ColumnSchema, generator: Generator, reason: str, null_rate: float = 0.0) -> ColumnPlan:
    """The plan of a key or reference column (its values come from row indices)."""
    return ColumnPlan(
        name=column.name,
        type=column.type,
        mode=column.mode,
        semantic_type="key",
        generator=generator,
        null_rate=null_rate,
        reason=reason,
    )


def _reference_column(
    column: ColumnSchema, path: str, ctx: _TableContext, parent: _Parent, null_rate: float
) -> ColumnPlan:
    parent_ctx, link = parent.ctx, parent.link
    assert parent_ctx.key is not None
    profile, stats = ctx.profile, ctx.profile.stats.get(path)
    skew = estimate_skew(stats.top_values, profile.row_count, parent_ctx.profile.row_count) if stats else 0.0
    reason = f"foreign key to {parent_ctx.profile.name}.{parent.column}"
    fan_out: list[tuple[float, float]] = []
    if parent.stratified and parent.fan_out is not None:
        # The line number's own counts: exact, and a composite draw has no SQL-counted fan-out.
        fan_out = fan_out_curve(parent.fan_out, parent_ctx.profile.row_count)
        if fan_out:
            reason += ", children per parent as in the source (from the line number's counts)"
    elif link is None and not parent.draw and parent_ctx is not ctx and path in ctx.fan_outs:
        fan_out = fan_out_curve(ctx.fan_outs[path], parent_ctx.profile.row_count)
        if fan_out:
            reason += ", children per parent as in the source (counted by SQL)"
    skew = 0.0 if fan_out else skew
    if link is not None:
        via = "its own row" if link.link_table == profile.name else f"a drawn row of {link.link_table}"
        parents = len(link.parent_rows)
        what = "two parents' rows, no pair twice" if parents == 2 else f"{parents} parents' rows, no tuple twice"
        reason += f", paired by {via} (a key of {what})"
    if parent.draw:
        skew = 0.0 if parent.one_to_one or fan_out else parent.skew
        row = "a row of its own" if parent.one_to_one else "one drawn row"
        reason += f", with ({parent.draw}) from {row} of {parent_ctx.profile.name} (composite reference)"
        if parent.one_to_one and ctx.rows > parent_ctx.rows:
            raise PlanError(
                f"table {profile.name}: its primary key ({parent.draw}) is a reference to "
                f"{parent_ctx.profile.name}, so each of its rows needs a {parent_ctx.profile.name} row of its own: "
                f"{ctx.rows} rows asked, {parent_ctx.profile.name} has {parent_ctx.rows}. "
                f"Ask for at most {parent_ctx.rows} rows of {profile.name}"
            )
    if parent.stratified:
        reason += ", drawn in row order (each parent's rows contiguous) for the key's line number"
    fk = ForeignKeyRef(
        parent_table=parent_ctx.profile.name,
        parent_column=parent.column,
        parent_rows=parent_ctx.rows,
        parent_key=parent_ctx.key,
        skew=0.0 if link else skew,
        fan_out=fan_out,
        link=link,
        draw=parent.draw,
        one_to_one=parent.one_to_one,
        stratified_rows=ctx.rows if parent.stratified else 0,
    )
    return _key_plan(column, fk, reason, null_rate=0.0 if link or parent.draw or parent.stratified else null_rate)


def resolve_composite_references(tables: list[TablePlan]) -> list[TablePlan]:
    """Point each column of a composite reference at what the parent column really is.

    A composite reference's column that is not the parent's derived key is a reference of
    the parent's: it gets that generator as ``via`` (and its key), so the child recomputes
    the parent row's value. Run on the final plan, after anything that changes a parent's
    columns. Raises PlanError when a parent column is no longer a key or a reference.
    """
    by_name = {t.name: t for t in tables}

    def resolved(table: TablePlan, column: ColumnPlan) -> ColumnPlan:
        fk = column.generator
        if not isinstance(fk, ForeignKeyRef) or not (fk.draw or fk.link):
            return column
        parent = by_name.get(fk.parent_table)
        target = next((c for c in parent.columns if c.name == fk.parent_column), None) if parent else None
        grouped = target is not None and (
            isinstance(target.generator, GroupKey)
            or (isinstance(target.generator, LineNumber) and target.generator.layout is not None)
        )
        if grouped:  # an implicit parent's key, or a number within its group: recomputed from the parent row
            return column.model_copy(update={"generator": fk.model_copy(update={"via": target.generator})})  # type: ignore[union-attr]
        if target is None or not isinstance(target.generator, SequenceKey | ForeignKeyRef) or target.null_rate:
            raise PlanError(
                f"table {table.name}: column {column.name} refers to {fk.parent_table}.{fk.parent_column} as part of "
                f"({fk.draw}), which is neither {fk.parent_table}'s derived key nor a reference. Plan again "
                "without changing that column, or drop the composite reference"
            )
        if isinstance(target.generator, SequenceKey):
            return column.model_copy(update={"generator": fk.model_copy(update={"parent_key": target.generator})})
        via = resolved(parent, target).generator  # type: ignore[arg-type]
        assert isinstance(via, ForeignKeyRef)
        return column.model_copy(update={"generator": fk.model_copy(update={"via": via, "parent_key": via.parent_key})})

    return [t.model_copy(update={"columns": [resolved(t, c) for c in t.columns]}) for t in tables]


def with_copula(columns: list[ColumnPlan], sample: list[dict]) -> list[ColumnPlan]:
    """The columns, correlated leaves carrying their row of the table's copula (see bqsynth.planning.copula_fit)."""
    return with_copula_rows(columns, table_copula(columns, sample))


def with_copula_rows(columns: list[ColumnPlan], rows: dict[str, list[float]], prefix: str = "") -> list[ColumnPlan]:
    """``columns`` with the leaf at each dotted path of ``rows`` carrying that row of ``L``.

    Records on the way to such a leaf are rebuilt; every other column is kept as it is.
    """
    out: list[ColumnPlan] = []
    for column in columns:
        path = f"{prefix}{column.name}"
        generator = column.generator
        if path in rows:
            generator = generator.model_copy(update={"copula": rows[path]})
        elif isinstance(generator, RecordValue) and any(p.startswith(f"{path}.") for p in rows):
            generator = generator.model_copy(update={"fields": with_copula_rows(generator.fields, rows, f"{path}.")})
        out.append(column if generator is column.generator else column.model_copy(update={"generator": generator}))
    return out


def target_table_id(profile: TableProfile, options: PlanOptions) -> str:
    return f"{options.target_project}.{options.target_dataset}.{profile.name}"


def batch_seed(options: PlanOptions) -> int:
    """The plan's seed: the run's, or for a batch appended after earlier ones a seed of its own
    (mixed from the rows already there), so its values are not the first batch's again."""
    if not any(options.first_rows.values()):
        return options.seed
    text = json.dumps([options.seed, sorted(options.first_rows.items())])
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "little")


def plan_dataset(profiles: list[TableProfile], options: PlanOptions, checks: KeyChecks | None = None) -> DatasetPlan:
    """One joint plan over all tables: keys, relationships, one generator per column.

    ``checks`` verifies inferred keys and references exactly on the sources (see
    ``planning.relationships``). The plan's tables have no recipes yet: generation compiles
    them (``generation.recipe.with_recipes``).
    """
    failures = [PlanFailure(table=p.name, source_table=p.table_id, error=p.error) for p in profiles if p.error]
    failed_sources = {p.table_id for p in profiles if p.error}
    report = discover_relationships([p for p in profiles if not p.error], checks)
    inferred_keys = {k.table: k.columns for k in report.primary_keys if k.origin != "declared"}
    numbered_keys = {k.table: k for k in report.primary_keys if k.numbered}
    key_notes: dict[str, str] = {}
    usable = [
        p.model_copy(update={"primary_key": inferred_keys[p.name]}) if p.name in inferred_keys else p
        for p in profiles
        if not p.error
    ]
    relationships = report.relationships
    settings = ColumnSettings(public=options.public_columns, private=options.private_columns)
    unknown = settings.unknown_entries(usable)
    if unknown:
        raise PlanError(
            f"public_columns/private_columns name columns the sources do not have: {'; '.join(unknown)}",
            hint="correct the column names (case as in the source), or use table.* for a whole table",
        )
    roles = table_roles(
        usable, relationships, {p.name: column_guesses(p, _references_of(p, relationships)) for p in usable}
    )
    fan_outs = reference_fan_outs(usable, relationships, checks)
    contexts: dict[str, _TableContext] = {}
    for profile in usable:
        try:
            rows = requested_rows(profile, options)
        except PlanError as error:
            # Still a context, with no rows: its children then fail with it, naming it.
            failures.append(PlanFailure(table=profile.name, source_table=profile.table_id, error=str(error)))
            rows = 0
        ctx = _TableContext(
            profile=profile,
            rows=rows,
            first_row=options.first_rows.get(profile.name, 0),
            roles=roles,
            fan_outs=fan_outs.get(profile.name, {}),
        )
        ctx.key_column = primary_key_column(profile, relationships)
        if ctx.key_column:
            ctx.key = ctx.column_key(ctx.key_column)
        contexts[profile.name] = ctx
    share_referenced_keys(relationships, contexts)
    derive_composite_key_columns(relationships, contexts)
    links = link_tables(usable, relationships, contexts)
    for name, link in links.items():
        # Every tuple of parent rows is used at most once: that bounds the link table's size.
        ctx = contexts[name]
        if ctx.rows <= link.space:
            continue
        if name in options.record_counts:  # asked for by name: a count no key can hold is refused
            failures.append(
                PlanFailure(table=name, source_table=ctx.profile.table_id, error=link_space_error(name, link, ctx.rows))
            )
        else:  # the source's rows times the scale: cut to the space, which the source's rows fit in
            ctx.rows = link.space
    shapes, group_problems = implicit_groups(relationships, contexts, links)
    for shape in shapes:
        # Every pair of parent rows in a group is used at most once: that bounds the child's size.
        ctx = contexts[shape.child]
        if ctx.rows <= shape.space:
            continue
        if shape.child in options.record_counts:
            error = group_space_error(shape, ctx.rows)
            failures.append(PlanFailure(table=shape.child, source_table=ctx.profile.table_id, error=error))
        else:
            ctx.rows = shape.space

    tables: list[TablePlan] = []
    kept_relationships: list[Relationship] = []
    for profile in usable:
        ctx = contexts[profile.name]
        if any(f.table == profile.name for f in failures):
            continue
        missing = [fk.referenced_table for fk in profile.foreign_keys if fk.referenced_table in failed_sources]
        if missing:
            failures.append(
                PlanFailure(
                    table=profile.name,
                    source_table=profile.table_id,
                    error=f"table {profile.name}: its parent table {missing[0]} could not be read",
                )
            )
            continue
        parents, kept = _parents_of(profile, relationships, contexts, links)
        kept_relationships += kept
        key = list(profile.primary_key) or ([ctx.key_column] if ctx.key_column else [])
        choice = numbered_keys.get(profile.name)
        numbering, why = numbering_of(profile, choice, ctx, parents, relationships, links)
        if numbering is not None:
            parents = in_row_order(parents, numbering, profile.stats.get(numbering.column))
        if choice is not None:
            key_notes[profile.name] = numbering_note(choice, numbering, why)
        try:
            planned_columns = [plan_column(c, c.name, ctx, parents, options) for c in profile.columns]
            if numbering is not None:
                planned_columns = numbered_columns(planned_columns, numbering, profile)
            columns = unique_key_columns(ctx, key, planned_columns, contexts)
        except PlanError as error:
            failures.append(PlanFailure(table=profile.name, source_table=profile.table_id, error=str(error)))
            continue
        columns = with_copula(localised_columns(columns, profile.sample), profile.sample)
        table = TablePlan(
            name=profile.name,
            source_table=profile.table_id,
            target_table=target_table_id(profile, options),
            row_count=ctx.rows,
            columns=columns,
            schema=profile.columns,
            primary_key=key,
            first_row=ctx.first_row,
            file_format=profile.file_format,
            output_format=profile.file_format,
            layout=profile.layout,
        )
        if any(profile.name in (sh.child, sh.first.parent_table, sh.second.parent_table) for sh in shapes):
            table = table.model_copy(update={"columns": grouped_columns(table, shapes, contexts, numbered_keys)})
            kept_relationships += [r for sh in shapes if sh.child == profile.name for r in (sh.first, sh.second)]
            key_notes[profile.name] = group_note(profile.name, shapes)
        tables.append(table)
    planned = {t.name for t in tables}
    # Composite references the generator cannot keep (two sharing a column need two parent rows
    # to agree on it): a declared one is still listed, so the orphan check reports it instead of
    # leaving it unchecked; an inferred one is rejected here, with the reason.
    unkept = [
        r
        for r in relationships
        if len(r.child_columns) > 1 and r not in kept_relationships and {r.child_table, r.parent_table} <= planned
    ]
    # a pairing keeps a reference its draw kept too: each once
    kept_relationships = [r for i, r in enumerate(kept_relationships) if r not in kept_relationships[:i]]
    kept_relationships += [r for r in unkept if r.origin == "declared" and r not in kept_relationships]
    rejected = report.rejected + [
        _not_generated(r, kept_relationships, group_problems.get((r.child_table, tuple(r.child_columns)), ""))
        for r in unkept
        if r.origin != "declared" and r not in kept_relationships
    ]
    fail_children_of_failed(tables, kept_relationships, failures)
    return DatasetPlan(
        seed=batch_seed(options),
        tables=resolve_composite_references([t for t in tables if t.name not in {f.table for f in failures}]),
        relationships=kept_relationships,
        primary_keys=[
            k.model_copy(update={"evidence": k.evidence + key_notes[k.table]}) if k.table in key_notes else k
            for k in report.primary_keys
        ],
        rejected_relationships=sorted(rejected, key=lambda r: (r.child_table, r.child_columns, r.parent_table)),
        failures=failures,
    )


# How the evidence of an inferred reference that generation cannot keep ends (benchmarks count them as inferred).
NOT_GENERATED = "rejected: not kept by generation"


def _not_generated(rel: Relationship, kept: list[Relationship], ungrouped: str = "") -> Relationship:
    """An inferred composite reference generation cannot keep, rejected with the one it shares a column with
    (and ``ungrouped``: why the two cannot be paired within the groups of the column they share)."""
    sharing = [k for k in kept if k.child_table == rel.child_table and set(k.child_columns) & set(rel.child_columns)]
    why = "generation draws each composite reference from one parent row and cannot keep this one"
    if sharing:
        other = sharing[0]
        shared = ", ".join(c for c in rel.child_columns if c in other.child_columns)
        why = (
            f"shares {shared} with ({', '.join(other.child_columns)}) -> {other.parent_table}, which generation "
            f"keeps: one row of each parent would have to agree on {shared}"
            + (f", and they cannot be paired within its groups: {ungrouped}" if ungrouped else " (not built)")
        )
    return rel.model_copy(update={"evidence": f"{rel.evidence}; {NOT_GENERATED}: {why}"})


def _references_of(profile: TableProfile, relationships: list[Relationship]) -> set[str]:
    """The columns of ``profile`` that refer to another table's key (keys, for the column guesses)."""
    return {c for r in relationships if r.child_table == profile.name for c in r.child_columns}


def fail_children_of_failed(
    tables: list[TablePlan], relationships: list[Relationship], failures: list[PlanFailure]
) -> None:
    """A child whose parent could not be planned would reference keys that are never loaded:
    fail it too (transitively), appending to ``failures``."""
    failed = {f.table for f in failures}
    changed = True
    while changed:
        changed = False
        for rel in relationships:
            if rel.parent_table in failed and rel.child_table not in failed:
                child = next((t for t in tables if t.name == rel.child_table), None)
                if child is None:
                    continue
                failures.append(
                    PlanFailure(
                        table=child.name,
                        source_table=child.source_table,
                        error=f"table {child.name}: its parent table {rel.parent_table} failed",
                    )
                )
                failed.add(child.name)
                changed = True
