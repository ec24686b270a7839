"""The Snowfakery plugin that recipes compiled by bqsynth call: ``Bqsynth.<function>``.

It gives recipes what Snowfakery lacks: keys derived from the row index (so shards
and tables agree without sharing state), draws from profiled quantiles, weighted
choices over arbitrary JSON scalars, and arrays.

Every string that came from source data reaches this plugin as an escaped JSON
literal (see ``recipe.json_literal``) because Snowfakery renders any recipe string
containing ``${{`` or ``<<`` as a Jinja template: source values are untrusted.
"""

from __future__ import annotations

import json
import random
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from faker import Faker
from pydantic import TypeAdapter
from snowfakery.plugins import PluginContext, SnowfakeryPlugin, lazy

from bqsynth.generation import keys, sampling, typed_values
from bqsynth.generation.copula_draws import FixedUniform, latent_uniform
from bqsynth.generation.exclusions import exclusion_key, value_digest, vocabulary_exhausted, vocabulary_without
from bqsynth.models import (
    BytesValue,
    ForeignKeyRef,
    GeographyValue,
    GroupKey,
    GroupLayout,
    GroupPairing,
    IntervalValue,
    JsonValue,
    LinkPairing,
    RangeValue,
    SequenceKey,
    Via,
)
from bqsynth.semantics import PROVIDER_ALLOWLIST
from bqsynth.text_kinds import DEFAULT_LOCALE, faker_for, shaped_value
from bqsynth.values import DAY_SECONDS, seconds_to_temporal, temporal_to_seconds

# Options every compiled recipe declares; they make one recipe serve every shard.
START_INDEX_OPTION = "start_index"
ROW_COUNT_OPTION = "row_count"
SEED_OPTION = "seed"
EXCLUSIONS_OPTION = "exclusions"  # path of a JSON file {column path: [source value digests]}
NO_EXCLUSIONS = "none"  # Snowfakery treats an empty option as missing

# A drawn value that collides with a source value is redrawn this many times before the
# generator falls back to an invented value of the same kind.
MAX_REDRAWS = 25


@lru_cache(maxsize=4096)
def _json(text: str) -> Any:
    return json.loads(text)


@lru_cache(maxsize=1024)
def _choices(values_json: str, weights_json: str) -> tuple[list[Any], list[float]]:
    return _json(values_json), sampling.cumulative(_json(weights_json))


@lru_cache(maxsize=1024)
def _temporal_quantiles(quantiles_json: str, temporal_type: str) -> list[float]:
    return [temporal_to_seconds(q, temporal_type) for q in _json(quantiles_json)]


@lru_cache(maxsize=256)
def _sequence_key(
    start: int, step: int, prefix_json: str, width: int, as_string: bool, pattern_json: str, temporal: str
) -> SequenceKey:
    return SequenceKey(
        start=start,
        step=step,
        prefix=_json(prefix_json),
        width=width,
        as_string=as_string,
        pattern=_json(pattern_json),
        temporal=temporal,  # type: ignore[arg-type]  # validated by the model
    )


@lru_cache(maxsize=256)
def _link(link_json: str) -> LinkPairing:
    return LinkPairing.model_validate(_json(link_json))


@lru_cache(maxsize=256)
def _reference_spec(
    parent_table: str,
    parent_column: str,
    parent_rows: int,
    parent_key: tuple[int, int, str, int, bool, str, str],
    skew: float,
    link_json: str,
    draw: str,
    one_to_one: bool,
    via_json: str,
    fan_out_json: str = "",
    stratified_rows: int = 0,
    group_pairing_json: str = "",
) -> ForeignKeyRef:
    return ForeignKeyRef(
        parent_table=parent_table,
        parent_column=parent_column,
        parent_rows=parent_rows,
        parent_key=_sequence_key(*parent_key),
        skew=skew,
        fan_out=_json(fan_out_json) if fan_out_json else [],
        link=_link(link_json) if link_json else None,
        draw=draw,
        one_to_one=one_to_one,
        via=_VIA.validate_python(_json(via_json)) if via_json else None,
        stratified_rows=stratified_rows,
        group_pairing=GroupPairing.model_validate(_json(group_pairing_json)) if group_pairing_json else None,
    )


_VIA: TypeAdapter[Any] = TypeAdapter(Via)


@lru_cache(maxsize=256)
def _group_layout(layout_json: str) -> GroupLayout:
    return GroupLayout.model_validate(_json(layout_json))


@lru_cache(maxsize=256)
def _group_key(layout_json: str, key: tuple[int, int, str, int, bool, str, str]) -> GroupKey:
    return GroupKey(layout=_group_layout(layout_json), key=_sequence_key(*key))


@lru_cache(maxsize=256)
def _fan_out(fan_out_json: str) -> tuple[tuple[float, float], ...]:
    """A fan-out curve as ``keys.line_number`` caches it (hashable)."""
    return tuple((float(x), float(y)) for x, y in _json(fan_out_json)) if fan_out_json else ()


_TYPED = {
    "json": JsonValue,
    "geography": GeographyValue,
    "bytes": BytesValue,
    "interval": IntervalValue,
    "range": RangeValue,
}


@lru_cache(maxsize=256)
def _typed_spec(spec_json: str) -> JsonValue | GeographyValue | BytesValue | IntervalValue | RangeValue:
    spec = _json(spec_json)
    model = _TYPED.get(spec.get("kind")) if isinstance(spec, dict) else None
    if model is None:
        raise ValueError(f"Bqsynth.typed: unknown generator {spec_json[:80]!r}")
    return model.model_validate(spec)


def typed_value(spec: JsonValue | GeographyValue | BytesValue | IntervalValue | RangeValue, rng: Any) -> str:
    """The value of one typed generator in BigQuery's JSON spelling (JSON values as JSON text)."""
    match spec:
        case JsonValue():
            return json.dumps(typed_values.json_value(spec.shape, rng), separators=(",", ":"))
        case GeographyValue():
            return typed_values.geography_value(spec, rng)
        case BytesValue():
            return typed_values.bytes_value(spec, rng)
        case IntervalValue():
            return typed_values.interval_value(spec, rng)
        case RangeValue():
            return typed_values.range_value(spec, rng)
    raise ValueError(f"Bqsynth.typed: unknown generator {spec!r}")


@lru_cache(maxsize=256)
def _vocabulary(values_json: str, weights_json: str, excluded: frozenset[str]) -> tuple[list[str], list[float]]:
    """A vocabulary without the values the exclusions name (source values that slipped through
    the plan's check), as ``sampling.weighted_choice`` reads it."""
    values, weights = vocabulary_without(_json(values_json), _json(weights_json), excluded)
    return values, sampling.cumulative(weights) if values else []


@lru_cache(maxsize=8)
def _exclusions(path: str) -> dict[str, frozenset[str]]:
    if path in ("", NO_EXCLUSIONS):
        return {}
    return {column: frozenset(digests) for column, digests in json.loads(Path(path).read_text()).items()}


def invented_word(rng: random.Random | Any) -> str:
    return "".join(rng.choice(typed_values.SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()


def with_suffix(value: str, suffix: str) -> str:
    """Make a value unique while keeping its shape (the local part of an email, else appended)."""
    if "@" in value:
        local, domain = value.split("@", 1)
        return f"{local}.{suffix}@{domain}"
    return f"{value} {suffix}"


_faker = faker_for(DEFAULT_LOCALE)


def sentences(fake: Faker, target: int, high: int, rng: random.Random | Any) -> str:
    """Whole sentences of ``fake``'s up to about ``target`` characters, cut at a word (never past ``high``)."""
    text = ""
    while len(text) < target:
        text = f"{text} {fake.sentence(nb_words=rng.randint(4, 12))}".strip()
    if len(text) <= high:
        return text
    cut = text[:high].rsplit(" ", 1)[0] if " " in text[:high] else text[:high]
    return cut.rstrip(",;:") + ("." if len(cut) < high and not cut.endswith(".") else "")


def _evaluated(context: PluginContext, definition: Any) -> Any:
    """A nested definition's value: a record's dict as it is, anything else as Snowfakery simplifies it."""
    value = context.evaluate_raw(definition)
    return value if isinstance(value, dict) else context.evaluate(_Evaluated(value))


class _Evaluated:
    """An already evaluated value, to hand to ``PluginContext.evaluate`` for its simplification."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def render(self, context: Any) -> Any:
        return self.value


class Bqsynth(SnowfakeryPlugin):
    class Functions:
        # --- context -----------------------------------------------------------------------
        def _option(self, name: str) -> int:
            return int(self.context.interpreter.options[name])

        def _row_index(self) -> int:
            """0-based index of the current row in the whole table, not just this shard."""
            obj = self.context.interpreter.current_context.obj
            return self._option(START_INDEX_OPTION) + obj.id - 1

        # --- keys ----------------------------------------------------------------------------
        def sequence_key(
            self,
            start: int = 1,
            step: int = 1,
            prefix: str = '""',
            width: int = 0,
            as_string: bool = False,
            pattern: str = '""',
            temporal: str = "",
        ) -> int | str:
            spec = _sequence_key(int(start), int(step), prefix, int(width), bool(as_string), pattern, temporal)
            return keys.sequence_key_value(spec, self._row_index())

        def foreign_key(
            self,
            table: str,
            column: str,
            parent_rows: int,
            start: int = 1,
            step: int = 1,
            prefix: str = '""',
            width: int = 0,
            as_string: bool = False,
            skew: float = 0.0,
            self_reference: bool = False,
            link: str = "",
            pattern: str = '""',
            parent_table: str = "",
            parent_column: str = "",
            draw: str = "",
            one_to_one: bool = False,
            via: str = "",
            temporal: str = "",
            fan_out: str = "",
            stratified_rows: int = 0,
            group_pairing: str = "",
        ) -> int | str | None:
            spec = _reference_spec(
                parent_table or ("" if not self_reference else table),
                parent_column,
                int(parent_rows),
                (int(start), int(step), prefix, int(width), bool(as_string), pattern, temporal),
                float(skew),
                link,
                draw,
                bool(one_to_one),
                via,
                fan_out,
                int(stratified_rows),
                group_pairing,
            )
            return keys.reference_value(self._option(SEED_OPTION), spec, table, column, self._row_index())

        def line_number(
            self, rows: int, parent_rows: int, skew: float = 0.0, fan_out: str = "", layout: str = ""
        ) -> int:
            """The row's number within its parent's run of children, or within its implicit group (``LineNumber``)."""
            if layout:
                return int(keys.group_line_numbers(_group_layout(layout), np.array([self._row_index()]))[0])
            return keys.line_number(self._row_index(), int(rows), int(parent_rows), float(skew), _fan_out(fan_out))

        def group_key(
            self,
            layout: str,
            start: int = 1,
            step: int = 1,
            prefix: str = '""',
            width: int = 0,
            as_string: bool = False,
            pattern: str = '""',
            temporal: str = "",
        ) -> int | str:
            """The key of the row's implicit parent group (``GroupKey``)."""
            spec = _group_key(layout, (int(start), int(step), prefix, int(width), bool(as_string), pattern, temporal))
            return keys.group_key_values(spec, np.array([self._row_index()]))[0]

        def _excluded(self, column: str) -> frozenset[str]:
            return _exclusions(str(self.context.interpreter.options.get(EXCLUSIONS_OPTION, NO_EXCLUSIONS))).get(
                column, frozenset()
            )

        def pattern(self, pattern: str, column: str, unique: bool = False) -> str:
            """A value of the source's shape; never a source value (see ``exclusions``)."""
            template, excluded, index = _json(pattern), self._excluded(column), self._row_index()
            seed = self._option(SEED_OPTION)

            def is_excluded(value: str) -> bool:
                return bool(excluded) and value_digest(value) in excluded

            if not unique:
                return keys.pattern_value_avoiding(template, index, seed, column, is_excluded, MAX_REDRAWS)
            if not excluded:
                # Nothing to skip: row i takes value number permute(i), what the scan would
                # reach, in O(1) at any shard's first row.
                return keys.pattern_value(template, index, seed, column, True)
            # The cursor lives on the interpreter: one per shard, so rows arrive in order.
            cursors = self.context.interpreter.__dict__.setdefault("_bqsynth_pattern_cursors", {})
            value, cursors[column] = keys.next_unique_pattern(
                template, index, seed, column, is_excluded, cursors.get(column, keys.PatternCursor())
            )
            return value

        def fake(self, provider: str, column: str, unique: bool = False, locale: str = DEFAULT_LOCALE) -> str:
            """A Faker value (in ``locale``) that is not a source value (unique by the row index when asked)."""
            if provider not in PROVIDER_ALLOWLIST:
                raise ValueError(f"{column}: Faker provider {provider!r} is not allowed")
            excluded = self._excluded(column)
            suffix = format(self._row_index(), "x") if unique else ""
            fake = faker_for(locale)
            for attempt in range(MAX_REDRAWS * 2):
                value = str(getattr(fake, provider)()) if attempt < MAX_REDRAWS else invented_word(random)
                if unique:
                    value = with_suffix(value, suffix)
                if value_digest(value) not in excluded:
                    return value
            raise ValueError(f"{column}: could not draw a value that is not in the source")

        # --- distributions -------------------------------------------------------------------
        def _uniform(self, copula: str, table: str) -> sampling.RandomSource:
            """The row's correlated uniform for a copula column, else the seeded random module."""
            if not copula:
                return random
            u = latent_uniform(self._option(SEED_OPTION), table, self._row_index(), _json(copula))
            return FixedUniform(u)

        def choice(
            self, values: str, weights: str, copula: str = "", table: str = "", unique: bool = False, column: str = ""
        ) -> Any:
            options, cumulative = _choices(values, weights)
            if unique:
                return options[keys.cycled_index(len(options), self._option(SEED_OPTION), column, self._row_index())]
            return sampling.weighted_choice(options, cumulative, self._uniform(copula, table))

        def number(
            self,
            quantiles: str,
            integer: bool = False,
            decimals: int = -1,
            copula: str = "",
            table: str = "",
            unique: bool = False,
            column: str = "",
            precision: int = 0,
        ) -> int | float | str:
            if unique:
                low, high = _json(quantiles)[0], _json(quantiles)[-1]
                return keys.unique_integer(int(low), int(high), self._option(SEED_OPTION), column, self._row_index())
            bounds = _json(quantiles)
            value = sampling.from_quantiles(bounds, self._uniform(copula, table))
            if int(precision) > 0:
                places = max(int(decimals), 0)
                return typed_values.decimal_value(value, places, int(precision), bounds[0], bounds[-1], random)
            return sampling.round_number(value, bool(integer), None if int(decimals) < 0 else int(decimals))

        def temporal(  # noqa: A002 - "type" is the recipe's word
            self,
            type: str,
            quantiles: str,
            column: str = "",
            copula: str = "",
            table: str = "",
            whole_days: bool = False,
        ) -> str:
            """A date or time between the profiled quantiles; for an identifying one (a birth date,
            in any type), never on one of the source's own days: redrawn, then moved on a day at a time."""
            bounds = _temporal_quantiles(quantiles, type)
            excluded = self._excluded(column) if column else frozenset()
            uniform = self._uniform(copula, table)
            for attempt in range(MAX_REDRAWS + len(excluded) + 1):
                if attempt < MAX_REDRAWS:
                    seconds = sampling.from_quantiles(bounds, uniform if attempt == 0 else random)
                    if whole_days:
                        seconds = seconds // DAY_SECONDS * DAY_SECONDS
                else:  # the excluded days cannot fill every day
                    seconds += DAY_SECONDS
                value = seconds_to_temporal(seconds, type)
                if value_digest(exclusion_key(value, type)) not in excluded:
                    return value
            raise ValueError(f"{column}: could not draw a date that is not in the source")

        def boolean(self, p_true: float) -> bool:
            return random.random() < float(p_true)

        def text(self, column: str, min_length: int = 1, max_length: int = 50, avg_length: float = -1.0) -> str:
            """Free-text comments: sentences, their length drawn around the source's average."""
            low, high = int(min_length), max(int(max_length), int(min_length))
            mode = float(avg_length) if float(avg_length) >= 0 else (low + high) / 2
            excluded = self._excluded(column)
            for _ in range(MAX_REDRAWS):
                target = round(random.triangular(low, high, min(max(mode, low), high)))
                value = sentences(_faker, target, high, random)
                if value_digest(value) not in excluded:
                    return value
            return invented_word(random)[:high]

        def typed(self, spec: str) -> str:
            """JSON, GEOGRAPHY, BYTES, INTERVAL or RANGE (see ``typed_values``), from a generator as JSON."""
            return typed_value(_typed_spec(spec), random)

        def shaped(self, shapes: str, weights: str, column: str) -> str:
            """Text in one of the source's shapes (weighted), with invented words; never a source value."""
            options, cumulative = _choices(shapes, weights)
            excluded = self._excluded(column)
            for _ in range(MAX_REDRAWS):
                value = shaped_value(str(sampling.weighted_choice(options, cumulative, random)), random)
                if value_digest(value) not in excluded:
                    return value
            raise ValueError(f"{column}: could not draw a value that is not in the source")

        def vocabulary(self, values: str, weights: str, column: str) -> str:
            """A value of the plan's model-made vocabulary, by weight; never a source value."""
            options, cumulative = _vocabulary(values, weights, self._excluded(column))
            if not options:
                raise ValueError(vocabulary_exhausted(column))
            return str(sampling.weighted_choice(options, cumulative, random))

        # --- structure -----------------------------------------------------------------------
        @lazy
        def record(self, /, **fields: Any) -> dict[str, Any]:
            """One element of an array of records: its fields as a dict (inside ``array`` only)."""
            return {name: _evaluated(self.context, definition) for name, definition in fields.items()}

        @lazy
        def null_or(self, rate: Any, value: Any) -> Any:
            if random.random() < float(self.context.evaluate(rate)):
                return None
            return _evaluated(self.context, value)

        @lazy
        def rare_or(self, rate: Any, value: Any, other: Any) -> Any:
            """A category's kept values, or in a share ``rate`` of rows a value of its kind in place of
            the suppressed ones (``other``: never a source value)."""
            if random.random() < float(self.context.evaluate(rate)):
                return _evaluated(self.context, other)
            return _evaluated(self.context, value)

        @lazy
        def array(self, lengths: Any, length_weights: Any, element: Any) -> str:
            """A JSON array (Snowfakery rows hold scalars only; the writer decodes it)."""
            options, cumulative = _choices(self.context.evaluate(lengths), self.context.evaluate(length_weights))
            size = int(sampling.weighted_choice(options, cumulative, random))
            return json.dumps([_evaluated(self.context, element) for _ in range(size)], default=str)
