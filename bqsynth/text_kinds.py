"""Values of the text kinds Faker has no provider for, and shape-keeping text.

Two things live here, both pure and seeded by the caller's random source:

* ``KindsProvider``, a Faker provider adding ``product_name``, ``work_title``, ``genre``,
  ``category_name`` and ``department_name``. Their values are composed from small
  vocabularies below (no source value ever reaches them), so a product column gets
  "Rustic Steel Lamp" and a song title "The Silent River", never a lorem sentence.
* Shapes: ``text_shape`` reduces a source value to its shape (``Aaaa 99-a``: case of
  each letter, digits, punctuation kept) and ``shaped_value`` makes a new value of that
  shape with pronounceable invented words, for text columns of a kind nothing else fits.
* Signatures: ``text_signature`` reduces a value to what a reader sees at a glance
  (length, word count, case pattern, character classes, whether it is dictionary filler),
  which the quality report compares between a source and a synthetic column.

``faker_for(locale)`` is the one Faker instance per locale that generation uses; the
planner's ``PROVIDER_ALLOWLIST`` names only methods it has.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from faker import Faker
from faker.providers import BaseProvider
from faker.providers.lorem.en_US import Provider as EnglishLorem
from faker.providers.lorem.la import Provider as LatinLorem

DEFAULT_LOCALE = "en_US"
# Locales whose Faker data the planner may ask for (the source's locale, when it shows).
LOCALES = frozenset({"en_US", "en_GB", "de_DE", "de_AT", "de_CH", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR", "pt_PT"})

_ADJECTIVES = (
    "Rustic", "Classic", "Compact", "Deluxe", "Ergonomic", "Fresh", "Golden", "Handmade", "Light", "Modern",
    "Organic", "Premium", "Royal", "Sleek", "Smart", "Soft", "Sturdy", "Vintage", "Wild", "Original",
)  # fmt: skip
_MATERIALS = (
    "Steel", "Cotton", "Wooden", "Leather", "Ceramic", "Granite", "Bamboo", "Copper", "Wool", "Glass",
    "Marble", "Aluminium", "Linen", "Rubber", "Oak",
)  # fmt: skip
_PRODUCTS = (
    "Chair", "Lamp", "Table", "Kettle", "Backpack", "Jacket", "Bottle", "Blender", "Helmet", "Wallet",
    "Sauce", "Tea", "Coffee", "Cheese", "Syrup", "Gloves", "Keyboard", "Speaker", "Bicycle", "Watch",
    "Towel", "Pillow", "Notebook", "Mug", "Sneakers", "Bread", "Jam", "Candle", "Frame", "Clock",
)  # fmt: skip
_TITLE_ADJECTIVES = (
    "Silent", "Broken", "Golden", "Last", "Lost", "Hidden", "Endless", "Wild", "Electric", "Quiet",
    "Burning", "Distant", "Crimson", "Midnight", "Hollow", "Bright", "Restless", "Secret", "Fading", "Northern",
)  # fmt: skip
_TITLE_NOUNS = (
    "River", "Heart", "Road", "Summer", "Shadow", "City", "Garden", "Dream", "Fire", "Ocean",
    "Light", "Storm", "Kingdom", "Letter", "Mirror", "Horizon", "Winter", "Echo", "Island", "Song",
    "Empire", "Stranger", "Moon", "Promise", "Thunder",
)  # fmt: skip
_TITLE_FORMS = (
    "The {adj} {noun}",
    "{adj} {noun}",
    "{noun} of the {noun2}",
    "The {noun} and the {noun2}",
    "{adj} {noun}s",
    "A {noun} in {noun2}",
    "{noun}",
    "Beyond the {noun}",
)
GENRES = (
    "Rock", "Jazz", "Blues", "Pop", "Classical", "Country", "Reggae", "Hip Hop", "Electronic", "Soul",
    "Funk", "Metal", "Punk", "Folk", "Latin", "Alternative", "Opera", "R&B", "Gospel", "Ambient",
    "Drama", "Comedy", "Thriller", "Horror", "Documentary", "Romance", "Science Fiction", "Fantasy",
    "Animation", "Action", "Adventure", "Mystery", "Western", "Biography", "Crime", "Poetry", "Musical",
)  # fmt: skip
_CATEGORIES = (
    "Beverages", "Condiments", "Confections", "Dairy Products", "Grains", "Seafood", "Produce", "Bakery",
    "Electronics", "Garden", "Furniture", "Clothing", "Footwear", "Toys", "Books", "Sports", "Outdoors",
    "Kitchen", "Office Supplies", "Health", "Beauty", "Jewelry", "Automotive", "Tools", "Pet Supplies",
    "Music", "Home Decor", "Accessories", "Bikes", "Components",
)  # fmt: skip
_DEPARTMENTS = (
    "Sales", "Marketing", "Finance", "Accounting", "Engineering", "Research", "Production", "Purchasing",
    "Human Resources", "Legal", "Operations", "Customer Service", "Logistics", "Quality Assurance",
    "Information Technology", "Facilities", "Shipping", "Training", "Administration", "Support",
)  # fmt: skip
_VOWELS = "aeiou"
_CONSONANTS = "bcdfghklmnprstvz"


class KindsProvider(BaseProvider):
    """Faker provider for text kinds Faker lacks; each method takes no argument and returns a str."""

    def product_name(self) -> str:
        parts = [self.random_element(_ADJECTIVES), self.random_element(_MATERIALS), self.random_element(_PRODUCTS)]
        return " ".join(parts[self.random_int(0, 1) :]) if self.random_int(0, 3) == 0 else " ".join(parts)

    def work_title(self) -> str:
        noun, noun2 = self.random_sample(_TITLE_NOUNS, 2)
        form = self.random_element(_TITLE_FORMS)
        return form.format(adj=self.random_element(_TITLE_ADJECTIVES), noun=noun, noun2=noun2)

    def genre(self) -> str:
        return str(self.random_element(GENRES))

    def category_name(self) -> str:
        return str(self.random_element(_CATEGORIES))

    def department_name(self) -> str:
        return str(self.random_element(_DEPARTMENTS))


def new_faker(locale: str = DEFAULT_LOCALE) -> Faker:
    """A Faker instance of ``locale`` (en_US when unknown), with bqsynth's kinds added.

    It draws from Faker's shared random source, so ``Faker.seed`` makes a run reproducible.
    """
    fake = Faker(locale if locale in LOCALES else DEFAULT_LOCALE)
    fake.add_provider(KindsProvider)
    for provider in fake.providers:
        # Faker builds it_IT's cities from a set, so their order (and the city a seed picks)
        # changed with PYTHONHASHSEED from one step's process to the next. Sorted, a seed
        # gives the same values in every process; a unit test watches every list of every locale.
        cities = getattr(provider, "cities", None)
        if isinstance(cities, list):
            provider.cities = sorted(cities)
    return fake


@cache
def faker_for(locale: str = DEFAULT_LOCALE) -> Faker:
    """The one shared instance of :func:`new_faker` per locale that generation uses."""
    return new_faker(locale)


# ---------------------------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------------------------

MAX_SHAPES = 50
_LETTER_RUN = re.compile(r"[Aa]+")


def text_shape(value: str) -> str:
    """The shape of a text: ``A`` an uppercase letter, ``a`` a lowercase one, ``9`` a digit, others kept."""
    return "".join("A" if c.isupper() else "a" if c.isalpha() else "9" if c.isdigit() else c for c in value)


def column_shapes(values: Iterable[Any], limit: int = MAX_SHAPES) -> tuple[list[str], list[float]]:
    """The most frequent shapes of a column's sample values and their counts."""
    counts = Counter(text_shape(str(v).strip()) for v in values if v is not None and str(v).strip())
    common = counts.most_common(limit)
    return [shape for shape, _ in common], [float(n) for _, n in common]


def _pronounceable(length: int, rng: random.Random | Any) -> str:
    """A pronounceable lower-case word of exactly ``length`` letters (consonant-vowel pairs)."""
    start = rng.random() < 0.5
    return "".join(rng.choice(_CONSONANTS if (i % 2 == 0) == start else _VOWELS) for i in range(length))


def shaped_value(shape: str, rng: random.Random | Any) -> str:
    """A new value of ``shape``: each letter run an invented word with the run's case, digits drawn."""
    out: list[str] = []
    position = 0
    for match in _LETTER_RUN.finditer(shape):
        out.append(_digits(shape[position : match.start()], rng))
        run = match.group()
        word = _pronounceable(len(run), rng)
        out.append("".join(c.upper() if mark == "A" else c for c, mark in zip(word, run, strict=True)))
        position = match.end()
    out.append(_digits(shape[position:], rng))
    return "".join(out)


def _digits(text: str, rng: random.Random | Any) -> str:
    return "".join(str(rng.randint(0, 9)) if c == "9" else c for c in text)


# ---------------------------------------------------------------------------------------------
# Signatures: how a value looks, for comparing a synthetic text column with its source
# ---------------------------------------------------------------------------------------------

# The filler dictionary: Faker's own lorem words, English (what ``sentence``, ``words`` and
# ``text`` write for en_US, the locale generation's sentences use) and Latin (the classic
# "lorem ipsum"). Faker's list, not a hand-written one, so it is exactly what a mis-planned
# column would hold. Its English words are common ones ("the", "light", "manager"), so a word
# alone proves nothing: see ``is_filler``.
FILLER_WORDS: frozenset[str] = frozenset(w.lower() for w in (*EnglishLorem.word_list, *LatinLorem.word_list))
# Word counts above this are one class: titles and names differ below it, sentences above.
MAX_SIGNATURE_WORDS = 8
# In a title, words this short may stay lower case ("Princess of the Dawn", "Fast As a Shark").
_MINOR_WORD_LENGTH = 3


@dataclass(frozen=True)
class TextSignature:
    """What a reader sees of one value without reading it; never the value itself."""

    length: int
    words: int
    case: str
    classes: str
    filler: bool


def _letters(token: str) -> str:
    return "".join(c for c in token if c.isalpha())


def case_pattern(value: str) -> str:
    """``Title`` (every word of 4+ letters capitalised), ``Sentence`` (only the first), ``lower``,
    ``UPPER``, ``mixed`` or ``none`` (no letters).

    Short words are left out of the title test because titles keep them lower case
    ("Balls to the Wall"); a sentence is told apart by a lower-case word of 4+ letters.
    """
    words = [w for w in (_letters(t) for t in value.split()) if w]
    letters = "".join(words)
    if not letters:
        return "none"
    if letters.isupper() and len(letters) > 1:
        return "UPPER"
    if letters.islower():
        return "lower"
    first, rest = words[0], words[1:]
    if not first[0].isupper():
        return "mixed"
    if all(w[0].isupper() for w in rest if len(w) > _MINOR_WORD_LENGTH):
        return "Title"
    if all(w.islower() for w in rest):
        return "Sentence"
    return "mixed"


def character_classes(value: str) -> str:
    """The classes of character a value uses, in a fixed order: ``letter digit space punct``."""
    shape = text_shape(value)
    present = [
        name
        for name, found in (
            ("letter", any(c in "Aa" for c in shape)),
            ("digit", "9" in shape),
            ("space", any(c.isspace() for c in shape)),
            ("punct", any(not c.isspace() and c not in "Aa9" for c in shape)),
        )
        if found
    ]
    return " ".join(present) or "empty"


def is_filler(value: str) -> bool:
    """Dictionary filler: every word a lorem word, written as Faker writes filler: all lower
    case ("partner husband"), or sentences of 2+ words ending in a full stop whose only
    capitals start a sentence ("Hotel table lose season. Wind may.").

    The case test matters: "Light", "Summer Heart" or "Public house manager" are lorem words
    too, and a title or a job title is written that way.
    """
    raw = value.split()
    tokens = [t.strip(".,;:!?'\"()") for t in raw]
    if not tokens or not all(t.isalpha() and t.lower() in FILLER_WORDS for t in tokens):
        return False
    if "".join(tokens).islower():
        return True
    capitals_start_sentences = all(
        not token[0].isupper() or i == 0 or raw[i - 1][-1] in ".!?" for i, token in enumerate(tokens)
    )
    return len(tokens) >= 2 and value.rstrip().endswith(".") and capitals_start_sentences


def reads_as_prose(values: Iterable[Any]) -> bool:
    """Whether a column's values are written as prose: most have lower-case letters. Bank
    statement lines ("POS PURCHASE CORNER MARKET") and codes are not, whatever the column is
    called, so sentences would not look like them."""
    cases = [case_pattern(str(v).strip()) for v in values if v is not None and str(v).strip()]
    return not cases or sum(c in ("UPPER", "none") for c in cases) < len(cases) / 2


def text_signature(value: str) -> TextSignature:
    """The signature of one (stripped) text value."""
    return TextSignature(
        length=len(value),
        words=min(len(value.split()), MAX_SIGNATURE_WORDS),
        case=case_pattern(value),
        classes=character_classes(value),
        filler=is_filler(value),
    )
