"""The locale a table's names and addresses are in, read from the values themselves.

A German customer table should get German street names. The evidence is Faker's own data:
for each locale bqsynth may use (``text_kinds.LOCALES``), the words of a few hundred values
Faker makes for a kind (first names, last names, cities, streets). Each distinct source value
is one piece of evidence, shared among its telling words, and a word found in the
vocabularies of k locales gives each of them 1/k: "Schmidt" speaks for the German locales,
"Maria" for almost none. Street words also match as the end of a compound ("Hauptstraße"
ends with de_DE's "straße"). A language's evidence goes to its first locale (en_US for
English, de_DE for German), since a few values cannot tell Vienna's names from Berlin's.

The result is a guess with its evidence; no locale (en_US) unless one language clearly leads,
so a table of customers from many countries (Chinook) stays as it is.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from functools import cache
from typing import NamedTuple

from bqsynth.models import ColumnPlan, FakerValue
from bqsynth.text_kinds import DEFAULT_LOCALE, LOCALES, new_faker

# Faker providers whose values are in a locale, and the vocabulary kind each is compared with.
LOCALISED_PROVIDERS: Mapping[str, str] = {
    "first_name": "person",
    "last_name": "person",
    "name": "person",
    "city": "city",
    "street_address": "street",
    "state": "city",
    "company": "person",
}
_KIND_METHODS: Mapping[str, tuple[str, ...]] = {
    "person": ("first_name", "last_name"),
    "city": ("city",),
    "street": ("street_name", "street_suffix"),
}
_VOCABULARY_VALUES = 400
_WORD = re.compile(r"[^\W\d_]{2,}")
MIN_EVIDENCE = 3.0  # values' weight: fewer is no evidence of a locale
MIN_LEAD = 2.0  # the leading language's weight over the next language's


class LocaleGuess(NamedTuple):
    locale: str | None  # None: the default (en_US), no language clearly leads
    evidence: str


def _language(locale: str) -> str:
    return locale.split("_")[0]


def _words(value: object) -> list[str]:
    return [w.lower() for w in _WORD.findall(str(value))]


@cache
def vocabulary(locale: str, kind: str) -> frozenset[str]:
    """Words of Faker's values of ``kind`` in ``locale`` (a fixed seed: the same on every machine)."""
    fake = new_faker(locale)
    fake.seed_instance(0)
    words: set[str] = set()
    for method in _KIND_METHODS[kind]:
        for _ in range(_VOCABULARY_VALUES):
            words.update(_words(getattr(fake, method)()))
    return frozenset(words)


@cache
def _street_endings(locale: str) -> tuple[str, ...]:
    """Street words of 4+ letters that end compounds in the locale (straße, gasse, laan)."""
    return tuple(sorted(w for w in vocabulary(locale, "street") if len(w) >= 4))


def _locales_of(word: str, kind: str) -> set[str]:
    found = {locale for locale in LOCALES if word in vocabulary(locale, kind)}
    if not found and kind == "street":
        found = {locale for locale in LOCALES if word.endswith(_street_endings(locale))}
    return found


def detect_locale(values_by_provider: Mapping[str, Iterable[object]]) -> LocaleGuess:
    """The locale of a table's localised values, keyed by the Faker provider each column was given."""
    weights: dict[str, float] = defaultdict(float)
    seen = 0
    for provider, values in values_by_provider.items():
        kind = LOCALISED_PROVIDERS.get(provider)
        if kind is None:
            continue
        # Each distinct value is one piece of evidence, shared by its telling words: a city of
        # four words ("São José dos Campos") or one repeated in many rows is still one city.
        for value in sorted({str(v) for v in values}):  # sums in one order in every process
            seen += 1
            found = [f for f in (_locales_of(w, kind) for w in _words(value)) if f and len(f) < len(LOCALES)]
            for locales in found:
                for locale in locales:
                    weights[locale] += 1.0 / len(locales) / len(found)
    by_language: dict[str, float] = defaultdict(float)
    for locale, weight in weights.items():
        by_language[_language(locale)] += weight
    if not by_language:
        return LocaleGuess(None, f"no locale: none of {seen} distinct values has words typical of one")
    ranked = sorted(by_language.items(), key=lambda item: -item[1])
    language, lead = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    summary = ", ".join(f"{lang} {weight:.1f}" for lang, weight in ranked[:3])
    if lead < MIN_EVIDENCE or lead < MIN_LEAD * runner_up:
        return LocaleGuess(None, f"no locale: no language leads clearly ({summary} of {seen} distinct values)")
    locale = next(loc for loc in sorted(LOCALES, key=_locale_order) if _language(loc) == language)
    if locale == DEFAULT_LOCALE:
        return LocaleGuess(None, f"English ({summary} of {seen} distinct values)")
    return LocaleGuess(locale, f"locale {locale} from the values' words ({summary} of {seen} distinct values)")


def _locale_order(locale: str) -> tuple[int, str]:
    """A language's first locale: its main country (en_US, de_DE, fr_FR, pt_BR), then the others."""
    language, country = locale.split("_")
    return (0 if country.lower() == language or locale in ("en_US", "pt_BR") else 1, locale)


def localised_columns(columns: list[ColumnPlan], sample: list[dict]) -> list[ColumnPlan]:
    """The table's columns, Faker columns of localised kinds in the locale their values show.

    Each such column's reason carries the evidence, also when no locale leads (then en_US).
    """
    localised = {
        c.name: c.generator.provider
        for c in columns
        if isinstance(c.generator, FakerValue) and c.generator.provider in LOCALISED_PROVIDERS
    }
    if not localised:
        return columns
    values: dict[str, list[object]] = defaultdict(list)
    for row in sample:
        for name, provider in localised.items():
            if row.get(name) is not None:
                values[provider].append(row[name])
    guess = detect_locale(values)
    return [
        c.model_copy(
            update={
                "generator": c.generator.model_copy(update={"locale": guess.locale}),
                "reason": f"{c.reason}; {guess.evidence}",
            }
        )
        if c.name in localised
        else c
        for c in columns
    ]
