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
from typing import Any

from faker import Faker
from snowfakery.plugins import SnowfakeryPlugin, lazy

from bqsynth import keys, sampling
from bqsynth.models import SequenceKey

# Options every compiled recipe declares; they make one recipe serve every shard.
START_INDEX_OPTION = "start_index"
ROW_COUNT_OPTION = "row_count"
SEED_OPTION = "seed"


@lru_cache(maxsize=4096)
def _json(text: str) -> Any:
    return json.loads(text)


@lru_cache(maxsize=1024)
def _choices(values_json: str, weights_json: str) -> tuple[list[Any], list[float]]:
    return _json(values_json), sampling.cumulative(_json(weights_json))


@lru_cache(maxsize=1024)
def _temporal_quantiles(quantiles_json: str, temporal_type: str) -> list[float]:
    return [sampling.temporal_to_seconds(q, temporal_type) for q in _json(quantiles_json)]


@lru_cache(maxsize=256)
def _sequence_key(start: int, step: int, prefix_json: str, width: int, as_string: bool) -> SequenceKey:
    return SequenceKey(start=start, step=step, prefix=_json(prefix_json), width=width, as_string=as_string)


_faker = Faker("en_US")


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
            self, start: int = 1, step: int = 1, prefix: str = '""', width: int = 0, as_string: bool = False
        ) -> int | str:
            spec = _sequence_key(int(start), int(step), prefix, int(width), bool(as_string))
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
        ) -> int | str:
            spec = _sequence_key(int(start), int(step), prefix, int(width), bool(as_string))
            index = keys.parent_index(
                self._option(SEED_OPTION), table, column, self._row_index(), int(parent_rows), float(skew)
            )
            return keys.sequence_key_value(spec, index)

        def pattern(self, pattern: str, column: str, unique: bool = False) -> str:
            return keys.pattern_value(
                _json(pattern), self._row_index(), self._option(SEED_OPTION), column, bool(unique)
            )

        def unique_fake(self, provider: str) -> str:
            """A Faker value made unique by the row index, keeping the value's shape."""
            value = str(getattr(_faker, provider)())
            suffix = format(self._row_index(), "x")
            if "@" in value:
                local, domain = value.split("@", 1)
                return f"{local}.{suffix}@{domain}"
            return f"{value} {suffix}"

        # --- distributions -------------------------------------------------------------------
        def choice(self, values: str, weights: str) -> Any:
            options, cumulative = _choices(values, weights)
            return sampling.weighted_choice(options, cumulative, random)

        def number(self, quantiles: str, integer: bool = False, decimals: int = -1) -> int | float:
            value = sampling.from_quantiles(_json(quantiles), random)
            return sampling.round_number(value, bool(integer), None if int(decimals) < 0 else int(decimals))

        def temporal(self, type: str, quantiles: str) -> str:  # noqa: A002 - the recipe's word
            return sampling.temporal_from_quantiles(_temporal_quantiles(quantiles, type), type, random)

        def boolean(self, p_true: float) -> bool:
            return random.random() < float(p_true)

        def text(self, min_length: int = 1, max_length: int = 50) -> str:
            low, high = int(min_length), max(int(max_length), int(min_length))
            target = random.randint(low, high)
            words: list[str] = []
            while sum(len(w) + 1 for w in words) < target:
                words.append(_faker.word())
            return " ".join(words)[:high] or _faker.word()[:high]

        # --- structure -----------------------------------------------------------------------
        @lazy
        def null_or(self, rate: Any, value: Any) -> Any:
            if random.random() < float(self.context.evaluate(rate)):
                return None
            return self.context.evaluate(value)

        @lazy
        def array(self, lengths: Any, length_weights: Any, element: Any) -> str:
            """A JSON array (Snowfakery rows hold scalars only; the writer decodes it)."""
            options, cumulative = _choices(self.context.evaluate(lengths), self.context.evaluate(length_weights))
            size = int(sampling.weighted_choice(options, cumulative, random))
            return json.dumps([self.context.evaluate(element) for _ in range(size)], default=str)
