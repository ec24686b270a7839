"""Text realism: text drawn fresh must look like its source, and lorem filler must score low."""

from __future__ import annotations

import io
import json
import re
import tempfile
from functools import cache
from pathlib import Path

import pandas as pd
import pytest
from faker import Faker
from rich.console import Console

from bqsynth.evaluation import metrics
from bqsynth.evaluation.quality_report import (
    TEXT_REALISM_THRESHOLD,
    print_quality,
    quality_findings,
    render_html,
    render_quality_markdown,
)
from bqsynth.generation.recipe import with_recipes
from bqsynth.generation.snowfakery_runner import generate_table
from bqsynth.models import (
    ColumnPlan,
    ColumnSchema,
    DatasetPlan,
    FakerValue,
    SequenceKey,
    TablePlan,
    TableProfile,
)
from bqsynth.planning.planner import PlanOptions, plan_dataset
from bqsynth.text_kinds import case_pattern, character_classes, is_filler, new_faker, text_signature
from demo import warehouse
from tests.factories import demo_profiles
from tests.unit.test_quality_report import summary, table_quality
from tests.unit.test_reference_vocabularies import planned as chinook_plan
from tests.unit.test_reference_vocabularies import source_rows as chinook_rows
from tests.unit.test_text_kinds import options as store_options
from tests.unit.test_text_kinds import store_profiles

# Titles of real works (books, films, songs): the source of a title column.
TITLES = [
    "The Old Man and the Sea", "Pride and Prejudice", "Moby Dick", "Great Expectations", "The Great Gatsby",
    "Wuthering Heights", "Heart of Darkness", "Brave New World", "Blue Suede Shoes", "Hotel California",
    "Stairway to Heaven", "Purple Rain", "Yellow Submarine", "Let It Be", "Hey Jude", "The Wild Bunch",
    "Casablanca", "Vertigo", "Citizen Kane", "Gone with the Wind", "Little Women", "War and Peace",
    "Rebel Rebel", "Born to Run", "Like a Rolling Stone", "Back in Black", "Dancing Queen", "Bohemian Rhapsody",
    "The Last Picture Show", "Midnight Cowboy", "Singin' in the Rain", "Rear Window", "The Grapes of Wrath",
    "Fahrenheit 451", "Lonely Hearts Club", "Night Fever",
]  # fmt: skip
ROWS = 200


def faker(seed: int) -> Faker:
    fake = new_faker()
    fake.seed_instance(seed)
    return fake


def realistic_titles(seed: int = 11) -> list[str]:
    """Titles of the same shape made fresh: bqsynth's own work_title provider."""
    fake = faker(seed)
    return [fake.work_title() for _ in range(ROWS)]


def lorem(kind: str, seed: int = 11) -> list[str]:
    """Faker's filler as a mis-planned column would hold it."""
    fake = faker(seed)
    make = {
        "sentence": lambda: fake.sentence(),
        "short sentence": lambda: fake.sentence(nb_words=3),
        "words": lambda: " ".join(fake.words(2)),
        "word": lambda: fake.word(),
        "paragraph": lambda: fake.paragraph(),
    }[kind]
    return [make() for _ in range(ROWS)]


# --- signatures -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "case", "classes"),
    [
        ("The Silent River", "Title", "letter space"),
        ("Princess of the Dawn", "Title", "letter space"),  # short words may stay lower case
        ("Hotel table lose season.", "Sentence", "letter space punct"),
        ("Public house manager", "Sentence", "letter space"),
        ("partner husband", "lower", "letter space"),
        ("POS PURCHASE 24", "UPPER", "letter digit space"),
        ("12227-000", "none", "digit punct"),
        ("iPhone case", "mixed", "letter space"),
    ],
)
def test_signature_case_and_classes(value: str, case: str, classes: str) -> None:
    assert case_pattern(value) == case and character_classes(value) == classes
    assert text_signature(value).length == len(value)


def test_filler_is_lorem_words_written_as_filler_not_every_dictionary_word() -> None:
    assert is_filler("partner husband") and is_filler("Hotel table lose season.") and is_filler("word")
    assert is_filler("Sea time wind may. Medical travel couple exist.")  # a paragraph
    # Lorem words all, but written as a title, a job title or a single name: not filler.
    assert not is_filler("Summer Heart") and not is_filler("Public house manager") and not is_filler("Light")
    assert not is_filler("The Silent River") and not is_filler("10 boxes x 20 bags") and not is_filler("")


# --- the score --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sentence", "short sentence", "words", "word", "paragraph"])
def test_lorem_in_a_title_column_scores_low(kind: str) -> None:
    realism = metrics.text_realism(TITLES, lorem(kind))
    assert realism is not None
    # Measured: 0.000 (word) to 0.038 (three-word sentences); every form is mostly filler.
    assert realism.score < 0.1, realism
    assert realism.filler_synthetic > 0.8 and realism.filler_source == 0.0


def test_realistic_titles_score_high() -> None:
    realism = metrics.text_realism(TITLES, realistic_titles())
    assert realism is not None
    assert realism.score > 0.8, realism  # measured 0.882
    assert realism.filler_synthetic == 0.0
    assert metrics.text_realism(TITLES, TITLES) is not None
    assert metrics.text_realism(TITLES, TITLES).score == 1.0  # type: ignore[union-attr]


def test_each_signature_moves_the_score() -> None:
    base = ["Alpha Beta", "Gamma Delta", "Epsilon Zeta"] * 20
    same = metrics.text_realism(base, base)
    upper = metrics.text_realism(base, [v.upper() for v in base])  # case only
    longer = metrics.text_realism(base, [f"{v} Extra Words Here" for v in base])  # length and words
    digits = metrics.text_realism(base, [v.replace("a", "4") for v in base])  # character classes
    assert same is not None and upper is not None and longer is not None and digits is not None
    assert same.score == 1.0
    assert upper.case == 0.0 and upper.length == upper.words == upper.classes == 1.0 and upper.score == 0.75
    assert longer.length == 0.0 and longer.words == 0.0 and longer.score == 0.5
    assert digits.classes == 0.0 and digits.score < 1.0


def test_filler_is_penalised_beyond_the_sources_share_unless_the_column_is_free_text() -> None:
    sentences = lorem("sentence")
    other = lorem("sentence", seed=12)
    # Lorem where the source is lorem too: nothing in excess, the shapes agree.
    assert metrics.text_realism(sentences, other).score > 0.9  # type: ignore[union-attr]
    comments = [
        "Please leave the parcel with the neighbour if nobody answers.",
        "Customer asked for a gift wrap and a handwritten card.",
        "Late delivery last time; call before shipping.",
    ] * 10
    strict = metrics.text_realism(comments, sentences)
    allowed = metrics.text_realism(comments, sentences, allow_filler=True)
    assert strict is not None and allowed is not None
    assert strict.score < 0.1 < 0.5 < allowed.score and allowed.filler_allowed
    assert metrics.text_realism([None, "", "  "], sentences) is None
    assert metrics.text_realism(comments, [None]) is None


# --- in the table's quality and in the report -------------------------------------------------


def keys_and_text_plan() -> TablePlan:
    """A table of a key and text only: nothing SDMetrics would score."""
    columns = [
        ColumnPlan(name="id", type="INT64", semantic_type="key", generator=SequenceKey()),
        # Identifying (as a plan may make a high-cardinality title): no shape score, text only.
        ColumnPlan(
            name="title", type="STRING", semantic_type="work.title", identifying=True,
            generator=FakerValue(provider="work_title"),
        ),
        ColumnPlan(
            name="author", type="STRING", semantic_type="person.full_name", identifying=True,
            generator=FakerValue(provider="name"),
        ),
    ]  # fmt: skip
    return TablePlan(
        name="book",
        source_table="p.d.book",
        target_table="t.d.book",
        row_count=ROWS,
        columns=columns,
        schema=[ColumnSchema(name=c.name, type=c.type) for c in columns],
        primary_key=["id"],
    )


def books(titles: list[str], seed: int) -> pd.DataFrame:
    fake = faker(seed)
    return pd.DataFrame(
        {"id": range(len(titles)), "title": titles, "author": [fake.name() for _ in range(len(titles))]}
    )


def test_a_table_of_only_keys_and_text_gets_a_quality() -> None:
    plan = keys_and_text_plan()
    source = books((TITLES * 6)[:ROWS], seed=1)
    fidelity = metrics.fidelity_scores(source, books(realistic_titles(), seed=2), plan)
    assert fidelity.column_shapes is None and fidelity.column_pair_trends is None
    assert fidelity.quality_score is not None and fidelity.quality_score == fidelity.text_realism
    assert fidelity.quality_score > 0.85
    columns = {c.column: c for c in fidelity.columns}
    assert columns["id"].text_realism is None  # a key is not text to judge
    assert columns["title"].text_realism is not None and columns["author"].text_realism is not None
    out = io.StringIO()
    print_quality(summary(table_quality("book", fidelity=fidelity)), Console(file=out, width=200))
    assert f"{fidelity.quality_score:.1%}" in out.getvalue()


def test_lorem_titles_lower_the_tables_quality_and_become_a_finding() -> None:
    plan = keys_and_text_plan()
    source = books((TITLES * 6)[:ROWS], seed=1)
    good = metrics.fidelity_scores(source, books(realistic_titles(), seed=2), plan)
    bad = metrics.fidelity_scores(source, books(lorem("sentence"), seed=2), plan)
    title = {c.column: c for c in bad.columns}["title"].text_realism
    assert title is not None and title.score < TEXT_REALISM_THRESHOLD and title.filler_synthetic > 0.9
    assert bad.quality_score is not None and good.quality_score is not None
    assert bad.quality_score < good.quality_score - 0.3
    findings = quality_findings(summary(table_quality("book", fidelity=bad)))
    assert any(f.startswith("book.title: text realism") and "lorem filler (source 0%)" in f for f in findings)
    assert not quality_findings(summary(table_quality("book", fidelity=good)))
    # Half lorem: the score alone would not tell (the other half looks right); the filler does.
    half = [t if i % 2 else w for i, (t, w) in enumerate(zip(realistic_titles(), lorem("words"), strict=True))]
    mixed = metrics.fidelity_scores(source, books(half, seed=2), plan)
    findings = quality_findings(summary(table_quality("book", fidelity=mixed)))
    assert any(f.startswith("book.title: text realism") and "50% lorem filler (source 0%)" in f for f in findings)


@pytest.fixture(scope="module")
def page_and_markdown() -> tuple[str, str]:
    plan = keys_and_text_plan()
    source, synthetic = books((TITLES * 6)[:ROWS], seed=1), books(lorem("words"), seed=2)
    fidelity = metrics.fidelity_scores(source, synthetic, plan)
    run = summary(table_quality("book", fidelity=fidelity))
    return render_html(run, {"book": (source, synthetic)}, {"book": plan}), render_quality_markdown(run)


def test_the_html_report_has_a_text_realism_section_with_a_plot_per_text_column(
    page_and_markdown: tuple[str, str],
) -> None:
    page, _ = page_and_markdown
    section = page[page.index("<h3>Text realism</h3>") :]
    assert "title (words, case)" in section and "author (words, case)" in section
    assert section.count("<svg") == 2
    assert "lorem filler: source 0.0%, synthetic" in section
    assert ">2w lower<" in section and ">2w Title<" in section  # signatures, the lorem words stand out
    assert "<tr><th>text realism</th><td>0." in page  # in the fidelity table too
    assert "Singin" not in page and "Hotel California" not in page  # signatures, never values


def test_the_markdown_report_lists_text_realism_per_column(page_and_markdown: tuple[str, str]) -> None:
    _, markdown = page_and_markdown
    assert "| table | quality | shapes | pair trends | text realism |" in markdown
    assert "### Text realism" in markdown
    assert "| book | title | work.title |" in markdown and "| book | author | person.full_name |" in markdown
    title = next(line for line in markdown.splitlines() if line.startswith("| book | title |"))
    assert re.search(r"\| 0\.0% / 9\d\.\d% \|$", title), title  # the lorem words, counted


# --- generated data: no text of a kind gets filler ---------------------------------------------

# Semantic types of the kinds the issue names: names, titles, cities, postcodes, jobs, genres.
KINDS = frozenset(
    {
        "person.first_name",
        "person.last_name",
        "person.full_name",
        "company.name",
        "product.name",
        "work.title",
        "job_title",
        "address.city",
        "address.postal_code",
        "category.name",
    }
)


def _generated(plan: DatasetPlan, sources: dict[str, pd.DataFrame], rows: int) -> dict[str, tuple]:
    """Table -> (plan, source frame, synthetic frame of ``rows`` rows)."""
    directory = Path(tempfile.mkdtemp(prefix="text_realism_"))
    out = {}
    for table in plan.tables:
        table = table.model_copy(update={"row_count": rows})
        files, _, _ = generate_table(table, plan.seed, directory / table.name)
        records = [json.loads(line) for f in files for line in f.read_text().splitlines()]
        out[table.name] = (table, sources[table.name], pd.json_normalize(records))
    return out


@cache
def demo_generated() -> dict[str, tuple]:
    """The demo plan made offline (as the demo's planner makes it), 300 rows of each table."""
    plan = with_recipes(plan_dataset(demo_profiles(), PlanOptions(target_project="tp", target_dataset="td")))
    sources = {s.name: pd.json_normalize(s.rows) for s in warehouse.build_demo_tables(seed=42)}
    return _generated(plan, sources, rows=300)


@cache
def store_generated() -> dict[str, tuple]:
    """A Chinook-like store (tests/unit/test_text_kinds.py): tracks, genres, job titles, cities, postcodes."""
    profiles: list[TableProfile] = store_profiles()
    plan = with_recipes(plan_dataset(profiles, store_options()))
    return _generated(plan, {p.name: pd.json_normalize(p.sample) for p in profiles}, rows=300)


@cache
def chinook_generated() -> dict[str, tuple]:
    """The public Chinook sample database's own rows (genres, media types, playlists, artists,
    albums, customers, tracks: tests/unit/data/reference_tables.json), planned offline."""
    plan = with_recipes(chinook_plan("chinook"))
    sources = {name: pd.json_normalize(rows) for name, rows in chinook_rows("chinook").items()}
    return _generated(plan, sources, rows=300)


@pytest.mark.parametrize("dataset", ["demo", "store", "chinook"])
def test_no_text_column_of_a_kind_gets_filler(dataset: str) -> None:
    """Every faked name, title, city, postcode, job and genre column scores at least the report's
    threshold and holds no more lorem filler than its source; the same column filled with
    lorem sentences instead would score below it (the check can fail)."""
    generated = {"demo": demo_generated, "store": store_generated, "chinook": chinook_generated}[dataset]()
    scored: dict[str, float] = {}
    for name, (table, source, synthetic) in generated.items():
        fidelity = metrics.fidelity_scores(source, synthetic, table)
        for column in fidelity.columns:
            realism = column.text_realism
            if realism is None or column.semantic_type not in KINDS:
                continue
            where = f"{name}.{column.column} ({column.semantic_type})"
            scored[where] = realism.score
            assert realism.score >= TEXT_REALISM_THRESHOLD, (where, realism)
            assert realism.filler_synthetic <= realism.filler_source, (where, realism)
            filled = metrics.text_realism(source[column.column], lorem("sentence")[: len(synthetic)])
            assert filled is not None and filled.score < TEXT_REALISM_THRESHOLD, (where, filled)
    kinds = {where.rsplit("(", 1)[1].rstrip(")") for where in scored}
    expected = {
        "demo": {
            "person.first_name",
            "person.last_name",
            "person.full_name",
            "company.name",
            "product.name",
            "address.city",
            "address.postal_code",
        },
        "store": {"work.title", "category.name", "job_title", "address.city", "address.postal_code", "product.name"},
        "chinook": {
            "work.title",
            "person.full_name",
            "person.first_name",
            "person.last_name",
            "company.name",
            "address.city",
            "address.postal_code",
        },
    }[dataset]
    assert kinds == expected, scored  # the kinds were there to check, not skipped
