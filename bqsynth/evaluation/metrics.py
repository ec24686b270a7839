"""How good, how private and how well-formed a synthetic table is, computed from samples.

Everything here is pure: pandas DataFrames and plan models in, ``TableFidelity`` /
``TablePrivacy`` / validity numbers out. The frames hold BigQuery JSON-form values (as the
BigQuery client or a JSON export gives them: ISO strings or ``date``/``datetime`` objects for
temporal columns, ``Decimal`` or strings for NUMERIC, RECORD fields flattened to dotted leaf
paths such as ``address.city``). Fetching the samples is the caller's job.

Three families of numbers:

* **Fidelity** (SDMetrics ``QualityReport``): Column Shapes (KSComplement for numbers and
  datetimes, TVComplement for categoricals and booleans), Column Pair Trends, and the
  children-per-parent shape (``CardinalityShapeSimilarity``) per relationship.
* **Privacy**: identifying source values found in the output (counted by the caller, in SQL
  for BigQuery sources or with ``leaked_values`` for file sources), synthetic rows that copy a
  source row, categories emitted although rare in the source, and the distance to the closest
  source record (DCR) next to a baseline of what genuinely new rows look like.
* **Validity**: the share of synthetic values in the format the column promises (email,
  phone, postal code shape, ``#``/``?`` pattern, ISO dates and times).

Which columns get a shape score, and why (``sdmetrics_metadata``):

* keys (``sequence_key``, ``foreign_key``, an implicit parent's ``group_key``) are ``id``: they
  are regenerated from row indices, so their value distribution says nothing; foreign keys are
  judged by the cardinality score (children per parent) and by the orphan count of the integrity checks;
* a line number (``line_number``: 1..k within each parent's rows) is ``numerical``: its values
  are how many rows the groups have, which the source's distribution can be held to;
* faker, pattern and free-text columns are ``pii`` or ``id``: they are drawn fresh and never
  copied, so their values are meant *not* to match the source and a distribution over
  distinct values would score ~0 by design. Their fidelity is their *format*, which the
  validity rules check. The exception is a non-identifying faker column (a state, a
  country, a job title): a small shared vocabulary, where comparing frequencies is
  meaningful, so it is scored as categorical;
* REPEATED columns (arrays) are left out: a sample row holds a list, which none of the
  metrics compares.

Text realism (``text_realism``) is the shape score of text that is drawn fresh: STRING
columns of a faker, pattern, shaped or free-text generator. Their values are meant not to
match the source's, but they must look like them: a title like a title, never a lorem
sentence. Each value is reduced to its signature (length, word count, case pattern,
character classes, whether it is lorem filler: ``bqsynth.text_kinds.text_signature``) and
the two columns' signature distributions are compared. It counts in the table's quality
next to Column Shapes and Column Pair Trends, so a table of keys and text has a quality too.
"""

from __future__ import annotations

import math
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from bqsynth.models import (
    NUMERIC_TYPES,
    TEMPORAL_TYPES,
    ArrayValue,
    BooleanValue,
    Categorical,
    ColumnPlan,
    ColumnQuality,
    FakerValue,
    ForeignKeyRef,
    FreeText,
    GroupKey,
    LineNumber,
    NullValue,
    NumberFromQuantiles,
    PatternString,
    SequenceKey,
    ShapedText,
    TableFidelity,
    TablePlan,
    TablePrivacy,
    TemporalFromQuantiles,
    TextRealism,
    Vocabulary,
    leaf_plans,
    normalise_type,
    public_paths,
)
from bqsynth.semantics import derive_pattern, is_email, is_phone_number
from bqsynth.text_kinds import text_signature

# Bounds that keep one table's quality under a few seconds whatever its size: scores on
# 5,000 rows differ from scores on all rows by about 1/sqrt(5000) ~ 0.01.
MAX_ROWS = 5_000
# Column Pair Trends grows with the square of the column count (30 columns = 435 pairs).
MAX_PAIR_COLUMNS = 30
# DCR compares every synthetic row with every reference row: 2,000 x 2,000 x columns.
MAX_DCR_ROWS = 2_000
DCR_CHUNK_ROWS = 256

MODELABLE = ("numerical", "datetime", "categorical", "boolean")
# The strftime form SDMetrics uses when it needs datetimes as text (pair trends of a
# datetime with a categorical); the values themselves are handed over as datetime64.
SDMETRICS_DATETIME_FORMATS = {
    "DATE": "%Y-%m-%d",
    "DATETIME": "%Y-%m-%dT%H:%M:%S",
    "TIMESTAMP": "%Y-%m-%dT%H:%M:%S",
    "TIME": "%H:%M:%S",
}
_EMAIL_PROVIDERS = frozenset({"email", "free_email", "safe_email", "company_email"})
_POSTAL_PROVIDERS = frozenset({"postcode", "zipcode_plus4"})
_NULL_TOKEN = "\x00null"  # cannot collide with a real value's text in a row hash


@dataclass(frozen=True)
class LeafColumn:
    """One leaf column of a plan with the way quality treats it."""

    path: str
    plan: ColumnPlan
    column_type: str
    sdtype: str

    @property
    def is_key(self) -> bool:
        return isinstance(self.plan.generator, SequenceKey | ForeignKeyRef)

    @property
    def modelable(self) -> bool:
        return self.sdtype in MODELABLE


# ---------------------------------------------------------------------------------------------
# Column kinds and SDMetrics metadata
# ---------------------------------------------------------------------------------------------


def column_sdtype(plan: ColumnPlan) -> dict[str, Any]:
    """The SDMetrics column metadata of one leaf column plan (see the module docstring)."""
    generator = plan.generator
    if isinstance(generator, SequenceKey | ForeignKeyRef | PatternString | GroupKey):
        return {"sdtype": "id"}
    if isinstance(generator, Categorical):
        return {"sdtype": "categorical"}
    if isinstance(generator, NumberFromQuantiles | LineNumber):
        return {"sdtype": "numerical"}
    if isinstance(generator, TemporalFromQuantiles):
        return {"sdtype": "datetime", "datetime_format": SDMETRICS_DATETIME_FORMATS[generator.type]}
    if isinstance(generator, BooleanValue):
        return {"sdtype": "boolean"}
    if isinstance(generator, FakerValue) and not plan.identifying:
        return {"sdtype": "categorical"}
    if isinstance(generator, FakerValue | FreeText | ShapedText | Vocabulary):
        return {"sdtype": "pii", "pii": True}
    return {"sdtype": "unknown"}  # NULL-only columns: nothing to compare


def quality_leaf_columns(table: TablePlan) -> list[LeafColumn]:
    """Leaf columns of the plan that quality can look at (arrays left out), in schema order."""
    return [
        LeafColumn(path, plan, normalise_type(plan.type), column_sdtype(plan)["sdtype"])
        for path, plan in leaf_plans(table.columns).items()
        if not isinstance(plan.generator, ArrayValue) and plan.mode != "REPEATED"
    ]


def sdmetrics_metadata(table: TablePlan) -> dict[str, Any]:
    """Single-table SDMetrics metadata: ``{"columns": {path: {"sdtype": ...}}, "primary_key": ...}``."""
    metadata: dict[str, Any] = {"columns": {c.path: column_sdtype(c.plan) for c in quality_leaf_columns(table)}}
    if len(table.primary_key) == 1 and table.primary_key[0] in metadata["columns"]:
        metadata["primary_key"] = table.primary_key[0]
    return metadata


# ---------------------------------------------------------------------------------------------
# Value normalisation: one canonical form per column kind, used for both frames
# ---------------------------------------------------------------------------------------------


def _is_missing(value: Any) -> bool:
    """None, NaN, NaT and pd.NA (nullable dtypes of ``to_dataframe()``), without pd.isna's
    element-wise answer for lists."""
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    return isinstance(value, np.datetime64) and bool(np.isnat(value))


def is_null(values: pd.Series) -> pd.Series:
    """None, NaN and NaT; an empty string is a value, as it is in BigQuery."""
    return values.map(_is_missing).astype(bool) if values.dtype == object else values.isna()


def _number_or_none(value: Any) -> float | None:
    if _is_missing(value) or isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal | np.integer | np.floating):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def as_numbers(values: pd.Series) -> pd.Series:
    """Floats (NaN for nulls and unparsable values): NUMERIC arrives as Decimal or text."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    return pd.Series([_number_or_none(v) for v in values], index=values.index, dtype="float64")


def _iso_text(value: Any, column_type: str) -> Any:
    """ISO text pandas can parse in one vectorised call; TIME values get an epoch date."""
    if _is_missing(value):
        return None
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        # TIMESTAMP in tabledata.list JSON is epoch seconds.
        return pd.Timestamp(float(value), unit="s", tz="UTC").isoformat()
    if isinstance(value, time):
        return f"1970-01-01T{value.isoformat()}"
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    text = str(value).strip()
    if text.endswith(" UTC"):
        text = text[:-4] + "+00:00"
    return f"1970-01-01T{text}" if column_type == "TIME" else text


def as_datetimes(values: pd.Series, column_type: str) -> pd.Series:
    """Naive UTC datetime64 (NaT for nulls and unparsable values)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        converted = values if values.dt.tz is None else values.dt.tz_convert("UTC").dt.tz_localize(None)
        return converted.astype("datetime64[ns]")
    texts = pd.Series([_iso_text(v, column_type) for v in values], index=values.index, dtype=object)
    parsed = pd.to_datetime(texts, utc=True, errors="coerce", format="ISO8601")
    return parsed.dt.tz_localize(None).astype("datetime64[ns]")


_TRUE = frozenset({"true", "t", "1", "yes", "y"})
_FALSE = frozenset({"false", "f", "0", "no", "n"})


def _boolean_or_none(value: Any) -> bool | None:
    if _is_missing(value):
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def as_booleans(values: pd.Series) -> pd.Series:
    return pd.Series([_boolean_or_none(v) for v in values], index=values.index, dtype=object)


def canonical_value(value: Any, column_type: str) -> str | None:
    """The text a value is compared by: ``500``, ``500.0`` and ``Decimal('500.00')`` agree in a
    numeric column, ``True`` and ``"true"`` in a BOOL one; None for nulls."""
    if _is_missing(value):
        return None
    if column_type in NUMERIC_TYPES:
        number = _number_or_none(value)
        if number is None:
            return str(value)
        return str(int(number)) if number.is_integer() and abs(number) < 2**63 else repr(number)
    if column_type == "BOOL":
        flag = _boolean_or_none(value)
        return str(value) if flag is None else ("true" if flag else "false")
    if column_type in TEMPORAL_TYPES:
        text = _iso_text(value, column_type)
        parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
        return str(text) if parsed is pd.NaT else parsed.isoformat()
    return str(value)


def as_canonical(values: pd.Series, column_type: str) -> pd.Series:
    """Canonical text of every value (None for nulls); temporal columns parsed once, vectorised."""
    if column_type in TEMPORAL_TYPES:
        parsed = as_datetimes(values, column_type)
        texts = parsed.map(lambda v: None if v is pd.NaT else v.isoformat())
        # Unparsable text keeps its own spelling, so it still compares (and differs) exactly.
        raw = values.map(lambda v: None if _is_missing(v) else str(v))
        return texts.where(parsed.notna(), raw).astype(object)
    return pd.Series([canonical_value(v, column_type) for v in values], index=values.index, dtype=object)


def prepared(values: pd.Series, column: LeafColumn) -> pd.Series:
    """A column as SDMetrics wants it for its sdtype."""
    if column.sdtype == "numerical":
        return as_numbers(values)
    if column.sdtype == "datetime":
        return as_datetimes(values, column.column_type)
    if column.sdtype == "boolean":
        return as_booleans(values)
    return as_canonical(values, column.column_type)


def bounded(frame: pd.DataFrame, rows: int, seed: int = 0) -> pd.DataFrame:
    """At most ``rows`` rows, a deterministic random subset when there are more."""
    if len(frame) <= rows:
        return frame.reset_index(drop=True)
    return frame.sample(n=rows, random_state=seed).reset_index(drop=True)


def _shared(columns: list[LeafColumn], *frames: pd.DataFrame) -> list[LeafColumn]:
    return [c for c in columns if all(c.path in frame.columns for frame in frames)]


def _sdmetrics_score(value: Any) -> float | None:
    """A float in [0, 1], or None for SDMetrics' NaN (nothing to compare)."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else round(number, 6)


# ---------------------------------------------------------------------------------------------
# Fidelity
# ---------------------------------------------------------------------------------------------


# SDMetrics is imported where it is used: importing it takes a second or two (scikit-learn,
# scipy), which steps that only need validity or the HTML report should not pay.


def _single_column_shape(real: pd.Series, synthetic: pd.Series, sdtype: str) -> tuple[str, float | None]:
    from sdmetrics.single_column import KSComplement, TVComplement

    metric = KSComplement if sdtype in ("numerical", "datetime") else TVComplement
    return metric.__name__, _sdmetrics_score(metric.compute(real, synthetic))


def _quality_report(
    real: pd.DataFrame, synthetic: pd.DataFrame, columns: list[LeafColumn]
) -> tuple[dict[str, tuple[str, float | None]], float | None]:
    """Column Shapes details and the Column Pair Trends score of SDMetrics' QualityReport.

    Pair Trends averages only pairs whose source correlation (numbers) or association
    (categoricals) is strong enough to be worth keeping (SDMetrics 0.32 defaults: 0.5 and
    0.3): a table of independent columns has no trend to keep, and its score is None.
    """
    from sdmetrics.reports import QualityReport

    metadata = {"tables": {"table": {"columns": {c.path: column_sdtype(c.plan) for c in columns}}}}
    report = QualityReport()
    report.generate({"table": real}, {"table": synthetic}, metadata, verbose=False)
    details = report.get_details("Column Shapes")
    shapes = {row["Column"]: (row["Metric"], _sdmetrics_score(row["Score"])) for _, row in details.iterrows()}
    properties = report.get_properties().set_index("Property")["Score"]
    return shapes, _sdmetrics_score(properties.get("Column Pair Trends"))


def _null_rate(frame: pd.DataFrame, path: str) -> float | None:
    if path not in frame.columns or len(frame) == 0:
        return None
    return round(float(is_null(frame[path]).mean()), 6)


# ---------------------------------------------------------------------------------------------
# Text realism
# ---------------------------------------------------------------------------------------------

# Generators that draw text fresh, never a source value: how their values look is what can
# be compared. Categorical columns copy source values, and their shape score already says
# how well; keys are regenerated and judged by the integrity checks.
_FRESH_TEXT = (FakerValue, FreeText, ShapedText, PatternString, Vocabulary)


def is_text_column(column: LeafColumn) -> bool:
    """A STRING leaf column whose values are drawn fresh (faker, pattern, shaped, free text, vocabulary)."""
    return column.column_type == "STRING" and isinstance(column.plan.generator, _FRESH_TEXT)


def filler_allowed(plan: ColumnPlan) -> bool:
    """Free-text comments are the one kind whose generator writes sentences of lorem words on
    purpose (see DESIGN.md, "never filler sentences except for free-text comments")."""
    return isinstance(plan.generator, FreeText) or plan.semantic_type == "free_text"


def text_values(values: Iterable[Any]) -> list[str]:
    """The non-null, non-blank values as stripped text: a blank has no look to compare."""
    texts = (str(v).strip() for v in values if not _is_missing(v))
    return [t for t in texts if t]


def ks_complement(first: Sequence[float], second: Sequence[float]) -> float:
    """1 - the two-sample Kolmogorov-Smirnov statistic (largest gap between the two ECDFs)."""
    a, b = np.sort(np.asarray(first, dtype=float)), np.sort(np.asarray(second, dtype=float))
    grid = np.concatenate([a, b])
    gap = np.abs(np.searchsorted(a, grid, side="right") / len(a) - np.searchsorted(b, grid, side="right") / len(b))
    return 1.0 - float(gap.max())


def tv_complement(first: Iterable[Any], second: Iterable[Any]) -> float:
    """1 - the total variation distance of two samples' category frequencies."""
    a, b = Counter(first), Counter(second)
    total_a, total_b = sum(a.values()), sum(b.values())
    return 1.0 - 0.5 * sum(abs(a[k] / total_a - b[k] / total_b) for k in a.keys() | b.keys())


def text_realism(
    source_values: Iterable[Any], synthetic_values: Iterable[Any], *, allow_filler: bool = False
) -> TextRealism | None:
    """How much the synthetic values look like the source's; None when a side has no text.

    The score is the mean of four similarities of signature distributions (value length by
    KS, word count, case pattern and character classes by total variation), multiplied by
    ``1 - excess filler``: the share of synthetic values that are lorem filler beyond the
    source's own share. Filler is excused (``allow_filler``) only in free text, whose
    generator writes it on purpose; its four similarities still count. A column of lorem
    sentences where the source has titles scores near 0 twice over: sentences are longer,
    have more words, another case and a full stop, and every one of them is filler.
    """
    source = [text_signature(v) for v in text_values(source_values)]
    synthetic = [text_signature(v) for v in text_values(synthetic_values)]
    if not source or not synthetic:
        return None
    similarities = {
        "length": ks_complement([s.length for s in source], [s.length for s in synthetic]),
        "words": tv_complement((s.words for s in source), (s.words for s in synthetic)),
        "case": tv_complement((s.case for s in source), (s.case for s in synthetic)),
        "classes": tv_complement((s.classes for s in source), (s.classes for s in synthetic)),
    }
    filler_source = sum(s.filler for s in source) / len(source)
    filler_synthetic = sum(s.filler for s in synthetic) / len(synthetic)
    excess = 0.0 if allow_filler else max(0.0, filler_synthetic - filler_source)
    score = float(np.mean(list(similarities.values()))) * (1.0 - excess)
    return TextRealism(
        score=_unit_score(score),
        **{name: _unit_score(value) for name, value in similarities.items()},
        filler_source=_unit_score(filler_source),
        filler_synthetic=_unit_score(filler_synthetic),
        filler_allowed=allow_filler,
    )


def _unit_score(value: float) -> float:
    """Rounded and clipped to [0, 1]: float sums of shares can land a hair outside."""
    return round(min(max(value, 0.0), 1.0), 6)


def column_text_realism(
    real_rows: pd.DataFrame, synthetic_rows: pd.DataFrame, columns: list[LeafColumn]
) -> dict[str, TextRealism]:
    """Text realism of every text column (``is_text_column``) that has text on both sides."""
    scores = {}
    for column in columns:
        if is_text_column(column):
            realism = text_realism(
                real_rows[column.path], synthetic_rows[column.path], allow_filler=filler_allowed(column.plan)
            )
            if realism is not None:
                scores[column.path] = realism
    return scores


def fidelity_scores(source: pd.DataFrame, synthetic: pd.DataFrame, table: TablePlan) -> TableFidelity:
    """SDMetrics quality and text realism of ``synthetic`` against ``source`` (both bounded to ``MAX_ROWS``).

    ``quality_score`` is the mean of the parts computed: Column Shapes and Column Pair Trends
    (their mean is SDMetrics' overall score) and text realism (the mean over text columns).
    Text realism is a part of its own rather than more column shapes so that the quality can
    be checked from the three numbers the report shows, and so that a table with only keys
    and text still has a quality. Pair Trends is computed on the first ``MAX_PAIR_COLUMNS``
    scored columns; shapes of any further column are computed with the same single-column
    metric the report uses. Every leaf column gets a ``ColumnQuality`` with its null rates
    and validity; only modelable columns (see the module docstring) get a shape score, and
    only text columns drawn fresh get text realism. ``cardinality`` is left to the caller,
    who has the parent tables (``cardinality_score``).
    """
    real_rows, synthetic_rows = bounded(source, MAX_ROWS), bounded(synthetic, MAX_ROWS)
    columns = _shared(quality_leaf_columns(table), real_rows, synthetic_rows)
    shapes: dict[str, tuple[str, float | None]] = {}
    pair_trends: float | None = None
    if len(real_rows) and len(synthetic_rows):
        shapes, pair_trends = _shapes_and_trends(real_rows, synthetic_rows, columns)
    validity = column_validity(table, real_rows, synthetic_rows)
    realism = column_text_realism(real_rows, synthetic_rows, columns)
    quality_columns = [
        ColumnQuality(
            column=c.path,
            semantic_type=c.plan.semantic_type,
            shape_metric=shapes.get(c.path, (None, None))[0],
            shape_score=shapes.get(c.path, (None, None))[1],
            validity_rule=validity.get(c.path, (None, None))[0],
            validity=validity.get(c.path, (None, None))[1],
            null_rate_source=_null_rate(real_rows, c.path),
            null_rate_synthetic=_null_rate(synthetic_rows, c.path),
            text_realism=realism.get(c.path),
        )
        for c in columns
    ]
    scored = [score for _, score in shapes.values() if score is not None]
    column_shapes = round(float(np.mean(scored)), 6) if scored else None
    text_score = round(float(np.mean([r.score for r in realism.values()])), 6) if realism else None
    parts = [p for p in (column_shapes, pair_trends, text_score) if p is not None]
    return TableFidelity(
        quality_score=round(float(np.mean(parts)), 6) if parts else None,
        column_shapes=column_shapes,
        column_pair_trends=pair_trends,
        text_realism=text_score,
        source_rows=len(real_rows),
        synthetic_rows=len(synthetic_rows),
        columns=quality_columns,
    )


def _shapes_and_trends(
    real_rows: pd.DataFrame, synthetic_rows: pd.DataFrame, columns: list[LeafColumn]
) -> tuple[dict[str, tuple[str, float | None]], float | None]:
    real, synthetic, scored = {}, {}, []
    for column in columns:
        if not column.modelable:
            continue
        real_values = prepared(real_rows[column.path], column)
        synthetic_values = prepared(synthetic_rows[column.path], column)
        # A column null throughout either sample has no shape to compare (SDMetrics would
        # warn and return NaN); it shows as "no score" with its null rates.
        if real_values.notna().any() and synthetic_values.notna().any():
            real[column.path], synthetic[column.path] = real_values, synthetic_values
            scored.append(column)
    if not scored:
        return {}, None
    in_report, rest = scored[:MAX_PAIR_COLUMNS], scored[MAX_PAIR_COLUMNS:]
    with warnings.catch_warnings():
        # SDMetrics warns per pair when a sample is too small for a metric; the result is
        # then NaN, which is reported as "no score", so the warning adds nothing.
        warnings.filterwarnings("ignore", module=r"sdmetrics(\.|$)")
        warnings.filterwarnings("ignore", message="One or more sample arguments is too small")
        shapes, pair_trends = _quality_report(
            pd.DataFrame({c.path: real[c.path] for c in in_report}),
            pd.DataFrame({c.path: synthetic[c.path] for c in in_report}),
            in_report,
        )
        for column in rest:
            shapes[column.path] = _single_column_shape(real[column.path], synthetic[column.path], column.sdtype)
    return shapes, pair_trends


def cardinality_score(
    parent_keys_source: pd.Series,
    child_refs_source: pd.Series,
    parent_keys_synthetic: pd.Series,
    child_refs_synthetic: pd.Series,
) -> float | None:
    """SDMetrics CardinalityShapeSimilarity: how alike the children-per-parent distributions are.

    Keys are compared as canonical text, so an INT64 key in one frame and its string in the
    other still join. None when either side has no parents to count children for.
    """
    from sdmetrics.multi_table import CardinalityShapeSimilarity

    if parent_keys_source.dropna().empty or parent_keys_synthetic.dropna().empty:
        return None

    def frames(parents: pd.Series, children: pd.Series) -> dict[str, pd.DataFrame]:
        keys = pd.Series([_key_text(v) for v in parents.dropna()], dtype=object).drop_duplicates()
        refs = pd.Series([_key_text(v) for v in children], dtype=object)
        return {"parent": pd.DataFrame({"key": keys}), "child": pd.DataFrame({"ref": refs})}

    metadata = {
        "tables": {"parent": {"columns": {"key": {"sdtype": "id"}}}, "child": {"columns": {"ref": {"sdtype": "id"}}}},
        "relationships": [
            {
                "parent_table_name": "parent",
                "parent_primary_key": "key",
                "child_table_name": "child",
                "child_foreign_key": "ref",
            }
        ],
    }
    score = CardinalityShapeSimilarity.compute(
        frames(parent_keys_source, child_refs_source), frames(parent_keys_synthetic, child_refs_synthetic), metadata
    )
    return _sdmetrics_score(score)


def _key_text(value: Any) -> str | None:
    if _is_missing(value):
        return None
    number = _number_or_none(value) if not isinstance(value, str) else None
    return str(int(number)) if number is not None and number.is_integer() else str(value)


# ---------------------------------------------------------------------------------------------
# Privacy
# ---------------------------------------------------------------------------------------------


def leaked_values(source_values: Iterable[Any], synthetic_values: Iterable[Any]) -> int:
    """Distinct synthetic values that are also source values, compared as text.

    Text, because that is how the BigQuery check compares (``CAST(v AS STRING)`` digests,
    see ``bqsynth.generation.exclusions``), and because a file source holds nothing but text.
    """
    source = {str(v) for v in source_values if not _is_missing(v)}
    return len({str(v) for v in synthetic_values if not _is_missing(v)} & source)


def _row_keys(frame: pd.DataFrame, columns: list[LeafColumn]) -> pd.Series:
    texts = [as_canonical(frame[c.path], c.column_type).fillna(_NULL_TOKEN) for c in columns]
    return pd.Series(list(zip(*texts, strict=True)), index=frame.index, dtype=object) if texts else pd.Series()


def exact_row_copies(source: pd.DataFrame, synthetic: pd.DataFrame, table: TablePlan) -> int:
    """Synthetic rows whose non-key columns all equal those of some source row.

    Keys are left out: they are regenerated, so a copied row would still differ there.
    When every compared column is categorical or boolean, any row is a combination of
    allowed values and a match is expected rather than a copy, so nothing is counted.
    """
    columns = [c for c in _shared(quality_leaf_columns(table), source, synthetic) if not c.is_key]
    vocabulary_only = all(isinstance(c.plan.generator, Categorical | BooleanValue) for c in columns)
    if not columns or vocabulary_only or source.empty or synthetic.empty:
        return 0
    seen = set(_row_keys(source, columns))
    return int(_row_keys(synthetic, columns).isin(seen).sum())


def _dcr_matrix(frame: pd.DataFrame, columns: list[LeafColumn], reference: pd.DataFrame) -> list[np.ndarray]:
    """Per column, an array ready for distances: numbers scaled to the reference's range,
    categories as integer codes shared with the reference (-1 for null)."""
    encoded = []
    for column in columns:
        if column.sdtype in ("numerical", "datetime"):
            values, ref = _as_float(frame[column.path], column), _as_float(reference[column.path], column)
            span = np.nanmax(ref) - np.nanmin(ref) if np.isfinite(ref).any() else 0.0
            low = np.nanmin(ref) if np.isfinite(ref).any() else 0.0
            encoded.append((values - low) / (span if span > 0 else 1.0))
        else:
            ref_text = as_canonical(reference[column.path], column.column_type)
            codes = {v: i for i, v in enumerate(pd.unique(ref_text.dropna()))}
            text = as_canonical(frame[column.path], column.column_type)
            encoded.append(np.array([-1 if v is None else codes.get(v, -2) for v in text], dtype=np.int64))
    return encoded


def _as_float(values: pd.Series, column: LeafColumn) -> np.ndarray:
    if column.sdtype == "datetime":
        parsed = as_datetimes(values, column.column_type)
        seconds = (parsed - pd.Timestamp(0)).dt.total_seconds()
        return seconds.to_numpy(dtype="float64", na_value=np.nan)
    return as_numbers(values).to_numpy(dtype="float64", na_value=np.nan)


def closest_distances(queries: list[np.ndarray], reference: list[np.ndarray]) -> np.ndarray:
    """Distance of each query row to its closest reference row: the mean over columns of
    |a-b| (scaled numbers, capped at 1) or 0/1 mismatch (categories); null vs null is 0,
    null vs value is 1. Chunked so memory stays at ``DCR_CHUNK_ROWS`` x reference rows."""
    rows = len(queries[0])
    best = np.empty(rows)
    for start in range(0, rows, DCR_CHUNK_ROWS):
        stop = min(start + DCR_CHUNK_ROWS, rows)
        total = np.zeros((stop - start, len(reference[0])))
        for query, ref in zip(queries, reference, strict=True):
            q = query[start:stop, None]
            if ref.dtype.kind == "f":
                diff = np.minimum(np.abs(q - ref[None, :]), 1.0)
                q_null, r_null = np.isnan(q), np.isnan(ref)[None, :]
                diff = np.where(q_null | r_null, np.where(q_null & r_null, 0.0, 1.0), diff)
            else:
                diff = (q != ref[None, :]).astype(np.float64)
            total += diff
        best[start:stop] = total.min(axis=1) / len(reference)
    return best


def dcr(
    source: pd.DataFrame, synthetic: pd.DataFrame, table: TablePlan, seed: int = 0
) -> tuple[float | None, float | None, float | None]:
    """Median and 5th percentile DCR of synthetic rows, and the median of held-out source rows.

    The source sample is split in two halves (deterministically, by ``seed``): a reference
    and a holdout. Both the synthetic rows and the holdout rows are measured against the
    same reference, so the numbers are comparable: a synthetic median well below the
    baseline median means synthetic rows sit closer to real records than new real records
    do (memorised or copied). SDMetrics' own DCR metrics were not used: DCRBaselineProtection
    compares with uniform random data rather than with real held-out rows, and
    DCROverfittingProtection wants the synthesizer's training/validation split, which a
    plan-driven generator does not have; both return a 0..1 score, not distances.
    Compared: non-key, non-identifying columns with a shape (numbers, datetimes, categories,
    booleans). None when there is no such column or fewer than 2 source rows.
    """
    columns = [
        c
        for c in _shared(quality_leaf_columns(table), source, synthetic)
        if c.modelable and not c.is_key and not c.plan.identifying
    ]
    if not columns or len(source) < 2 or synthetic.empty:
        return None, None, None
    order = np.random.default_rng(seed).permutation(len(source))
    half = len(order) // 2
    reference = source.iloc[order[:half][:MAX_DCR_ROWS]].reset_index(drop=True)
    holdout = source.iloc[order[half:][:MAX_DCR_ROWS]].reset_index(drop=True)
    queries = bounded(synthetic, MAX_DCR_ROWS, seed)
    ref = _dcr_matrix(reference, columns, reference)
    synthetic_dcr = closest_distances(_dcr_matrix(queries, columns, reference), ref)
    baseline = closest_distances(_dcr_matrix(holdout, columns, reference), ref)
    return (
        round(float(np.median(synthetic_dcr)), 6),
        round(float(np.percentile(synthetic_dcr, 5)), 6),
        round(float(np.median(baseline)), 6),
    )


def rare_categories(
    synthetic: pd.DataFrame,
    table: TablePlan,
    source_value_counts: Mapping[str, Mapping[Any, int]],
    min_category_count: int,
) -> int:
    """Distinct synthetic values of categorical columns seen fewer than k times in the source.

    A value absent from the source counts is rare only for a ``categorical`` generator,
    which should emit nothing but frequent source values; a faker column (a state) rightly
    emits values the source never had.
    """
    emitted = 0
    for column in _shared(quality_leaf_columns(table), synthetic):
        counts = source_value_counts.get(column.path)
        # A public column keeps its rare values on purpose (a lookup table's names each occur once).
        if column.sdtype != "categorical" or counts is None or column.plan.public:
            continue
        source_counts: Counter[str] = Counter()
        for value, count in counts.items():
            text = canonical_value(value, column.column_type)
            if text is not None:
                source_counts[text] += int(count)
        # Kept values only, unless the suppressed ones are replaced by fresh values of their kind (``other``).
        strict = isinstance(column.plan.generator, Categorical) and column.plan.generator.other is None
        for value in as_canonical(synthetic[column.path], column.column_type).dropna().unique():
            count = source_counts.get(value, 0)
            if count < min_category_count and (count > 0 or strict):
                emitted += 1
    return emitted


def privacy_scores(
    source: pd.DataFrame,
    synthetic: pd.DataFrame,
    table: TablePlan,
    *,
    leaked_values: int,
    identifying_columns: list[str],
    source_value_counts: Mapping[str, Mapping[Any, int]],
    min_category_count: int,
    seed: int = 0,
) -> TablePrivacy:
    """Privacy of one table. ``leaked_values`` and ``identifying_columns`` come from the
    caller's exact check over the whole source (SQL for BigQuery, ``leaked_values`` for files);
    ``source_value_counts`` holds the source's value counts per categorical column."""
    dcr_median, dcr_p05, baseline = dcr(bounded(source, 2 * MAX_DCR_ROWS, seed), synthetic, table, seed)
    return TablePrivacy(
        identifying_values_leaked=leaked_values,
        identifying_columns_checked=list(identifying_columns),
        exact_row_copies=exact_row_copies(source, synthetic, table),
        rare_categories_emitted=rare_categories(synthetic, table, source_value_counts, min_category_count),
        min_category_count=min_category_count,
        public_columns=public_paths(table.columns),
        dcr_median=dcr_median,
        dcr_p05=dcr_p05,
        dcr_baseline_median=baseline,
    )


# ---------------------------------------------------------------------------------------------
# Validity
# ---------------------------------------------------------------------------------------------

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?| UTC)?")
_TIME = re.compile(r"\d{2}:\d{2}:\d{2}(\.\d{1,9})?")
_GENERIC_POSTAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 \-]{1,9}")
MAX_POSTAL_SHAPES = 4


def value_shape(value: Any) -> str:
    """``SW1A 1AA`` -> ``??#? #??``: digits become ``#``, letters ``?``, the rest stays."""
    return "".join("#" if ch.isdigit() else "?" if ch.isalpha() else ch for ch in str(value))


def postal_rule(source_values: Iterable[Any]) -> str:
    """``postal_code:<shape>[|<shape>...]`` from the source values, or plain ``postal_code``.

    One shared shape is taken from ``derive_pattern`` (constant uppercase letters stay
    literal); mixed shapes (``#####`` and ``#####-####``) keep the ones that cover at least 5%
    of the source values, at most ``MAX_POSTAL_SHAPES``.
    """
    texts = [str(v).strip() for v in source_values if not _is_missing(v) and str(v).strip()]
    if not texts:
        return "postal_code"
    single = derive_pattern(texts)
    if single and "|" not in single:
        return f"postal_code:{single}"
    shapes = Counter(value_shape(t) for t in texts)
    kept = [s for s, n in shapes.most_common(MAX_POSTAL_SHAPES) if n >= 0.05 * len(texts) and "|" not in s]
    return f"postal_code:{'|'.join(kept)}" if kept else "postal_code"


def validity_rule(plan: ColumnPlan, source_values: pd.Series | None = None) -> str | None:
    """The format one column's synthetic values must have, or None when none is checked."""
    generator, column_type = plan.generator, normalise_type(plan.type)
    provider = generator.provider if isinstance(generator, FakerValue) else None
    if isinstance(generator, SequenceKey | ForeignKeyRef | ArrayValue | NullValue) or plan.mode == "REPEATED":
        return None
    if isinstance(generator, PatternString):
        return f"pattern:{generator.pattern}"
    if column_type in TEMPORAL_TYPES:
        return column_type.lower()
    if plan.semantic_type == "email" or provider in _EMAIL_PROVIDERS:
        return "email"
    if plan.semantic_type == "phone_number" or provider == "phone_number":
        return "phone"
    if plan.semantic_type == "address.postal_code" or provider in _POSTAL_PROVIDERS:
        return postal_rule([] if source_values is None else source_values)
    return None


def validity_rules(table: TablePlan, source: pd.DataFrame) -> dict[str, str]:
    """Column path -> rule for every leaf column with a format to check."""
    rules = {}
    for column in quality_leaf_columns(table):
        values = source[column.path] if column.path in source.columns else None
        rule = validity_rule(column.plan, values)
        if rule is not None:
            rules[column.path] = rule
    return rules


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """``#`` a digit, ``?`` a letter (the generator writes uppercase; either case is accepted)."""
    parts = ["[0-9]" if ch == "#" else "[A-Za-z]" if ch == "?" else re.escape(ch) for ch in pattern]
    return re.compile("".join(parts))


def _parses(text: str, kind: str) -> bool:
    try:
        if kind == "date":
            date.fromisoformat(text)
        elif kind == "time":
            time.fromisoformat(text)
        else:
            datetime.fromisoformat(text.replace(" UTC", "+00:00"))
    except ValueError:
        return False
    return True


def _temporal_ok(value: Any, kind: str) -> bool:
    # Objects (the BigQuery client's date, datetime and time; pandas Timestamps) are valid by type.
    if kind == "time" and isinstance(value, time):
        return True
    if kind != "time" and isinstance(value, date | pd.Timestamp | np.datetime64):
        return True
    text = str(value)
    regex = {"date": _DATE, "datetime": _DATETIME, "timestamp": _TIMESTAMP, "time": _TIME}[kind]
    return bool(regex.fullmatch(text)) and _parses(text, kind)


def rule_checker(rule: str) -> Any:
    """A predicate for one rule; ValueError for a rule this version does not know."""
    name, _, argument = rule.partition(":")
    if name == "email":
        return is_email
    if name == "phone":
        return is_phone_number
    if name in ("date", "datetime", "timestamp", "time"):
        return lambda v: _temporal_ok(v, name)
    if name == "pattern" and argument:
        regex = _pattern_regex(argument)
        return lambda v: bool(regex.fullmatch(str(v)))
    if name == "postal_code" and argument:
        regexes = [_pattern_regex(shape) for shape in argument.split("|")]
        return lambda v: any(r.fullmatch(str(v).strip()) for r in regexes)
    if name == "postal_code":
        return lambda v: bool(_GENERIC_POSTAL.fullmatch(str(v).strip()))
    raise ValueError(f"unknown validity rule {rule!r}")


def validity_share(rule: str, values: pd.Series) -> float | None:
    """Share of non-null values that satisfy ``rule``; None when there is no non-null value."""
    present = [v for v in values if not _is_missing(v)]
    if not present:
        return None
    check = rule_checker(rule)
    return round(sum(1 for v in present if check(v)) / len(present), 6)


def column_validity(
    table: TablePlan, source: pd.DataFrame, synthetic: pd.DataFrame
) -> dict[str, tuple[str, float | None]]:
    """Rule and share of valid synthetic values for every checked column present in ``synthetic``."""
    return {
        path: (rule, validity_share(rule, synthetic[path]))
        for path, rule in validity_rules(table, source).items()
        if path in synthetic.columns
    }


def table_validity(columns: Iterable[ColumnQuality]) -> float | None:
    """``TableQuality.validity``: the mean validity over the checked columns (None if none)."""
    shares = [c.validity for c in columns if c.validity is not None]
    return round(float(np.mean(shares)), 6) if shares else None
