"""The locale of a table's names and addresses, read from its values (issue 13, item 2).

The rows are customers of the public Chinook sample database (lerocha/chinook-database,
Customer table), whose addresses are real-world spellings nobody on the team wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bqsynth.generation.recipe import with_recipes
from bqsynth.generation.snowfakery_runner import generate_table
from bqsynth.models import ColumnSchema, FakerValue, TableProfile
from bqsynth.planning.locales import detect_locale, vocabulary
from bqsynth.planning.planner import PlanOptions, plan_dataset
from tests.factories import column_stats

CHINOOK_CUSTOMERS = [
    ("Brazil", "Luís", "Gonçalves", "Av. Brigadeiro Faria Lima, 2170", "São José dos Campos"),
    ("Germany", "Leonie", "Köhler", "Theodor-Heuss-Straße 34", "Stuttgart"),
    ("Brazil", "Eduardo", "Martins", "Rua Dr. Falcão Filho, 155", "São Paulo"),
    ("Brazil", "Alexandre", "Rocha", "Av. Paulista, 2022", "São Paulo"),
    ("Brazil", "Roberto", "Almeida", "Praça Pio X, 119", "Rio de Janeiro"),
    ("Brazil", "Fernanda", "Ramos", "Qe 7 Bloco G", "Brasília"),
    ("USA", "Frank", "Harris", "1600 Amphitheatre Parkway", "Mountain View"),
    ("USA", "Jack", "Smith", "1 Microsoft Way", "Redmond"),
    ("USA", "Michelle", "Brooks", "627 Broadway", "New York"),
    ("USA", "Tim", "Goyer", "1 Infinite Loop", "Cupertino"),
    ("USA", "Dan", "Miller", "541 Del Medio Avenue", "Mountain View"),
    ("USA", "Kathy", "Chase", "801 W 4th Street", "Reno"),
    ("USA", "Heather", "Leacock", "120 S Orange Ave", "Orlando"),
    ("USA", "John", "Gordon", "69 Salem Street", "Boston"),
    ("USA", "Frank", "Ralston", "162 E Superior Street", "Chicago"),
    ("USA", "Victor", "Stevens", "319 N. Frances Street", "Madison"),
    ("USA", "Richard", "Cunningham", "2211 W Berry Street", "Fort Worth"),
    ("USA", "Patrick", "Gray", "1033 N Park Ave", "Tucson"),
    ("Germany", "Hannah", "Schneider", "Tauentzienstraße 8", "Berlin"),
    ("Germany", "Fynn", "Zimmermann", "Berger Straße 10", "Frankfurt"),
    ("Germany", "Niklas", "Schröder", "Barbarossastraße 19", "Berlin"),
    ("France", "Camille", "Bernard", "4, Rue Milton", "Paris"),
    ("France", "Dominique", "Lefebvre", "8, Rue Hanovre", "Paris"),
    ("France", "Marc", "Dubois", "11, Place Bellecour", "Lyon"),
]
PROVIDERS = ("first_name", "last_name", "street_address", "city")


def values_of(*countries: str) -> dict[str, list[str]]:
    rows = [r for r in CHINOOK_CUSTOMERS if r[0] in countries]
    return {provider: [r[i + 1] for r in rows] for i, provider in enumerate(PROVIDERS)}


def test_one_country_s_customers_give_its_language_s_locale() -> None:
    assert detect_locale(values_of("Germany")).locale == "de_DE"
    assert detect_locale(values_of("Brazil")).locale == "pt_BR"


def test_english_and_mixed_tables_keep_the_default_and_say_why() -> None:
    english = detect_locale(values_of("USA"))
    assert english.locale is None and english.evidence.startswith("English")
    mixed = detect_locale(values_of("USA", "Brazil", "Germany", "France"))
    assert mixed.locale is None and "no language leads clearly" in mixed.evidence


def test_a_compound_street_name_counts_for_the_locale_of_its_ending() -> None:
    assert "straße" in vocabulary("de_DE", "street")
    guess = detect_locale({"street_address": ["Bahnhofstraße 1", "Lindenstraße 4", "Marktstraße 9"]})
    assert guess.locale == "de_DE", guess.evidence


def test_a_german_table_is_planned_and_generated_in_german(tmp_path: Path) -> None:
    rows = [
        {"customer_id": i, "first_name": r[1], "last_name": r[2], "street": r[3], "city": r[4]}
        for i, r in enumerate([r for r in CHINOOK_CUSTOMERS if r[0] == "Germany"] * 5, start=1)
    ]
    columns = [ColumnSchema(name=c, type="INT64" if c == "customer_id" else "STRING") for c in rows[0]]
    profile = TableProfile(
        table_id="p.src.kunden",
        name="kunden",
        row_count=len(rows),
        columns=columns,
        primary_key=["customer_id"],
        stats={c.name: column_stats(c.name, c.type, rows) for c in columns},
        sample=rows,
    )
    plan = with_recipes(plan_dataset([profile], PlanOptions(seed=2, target_project="p", target_dataset="t")))
    table = plan.table("kunden")
    street = next(c for c in table.columns if c.name == "street")
    assert isinstance(street.generator, FakerValue) and street.generator.locale == "de_DE", street.reason
    assert "locale de_DE" in street.reason
    files = generate_table(table, plan.seed, tmp_path / "out", shard_rows=100)[0]
    streets = [json.loads(line)["street"] for f in files for line in f.read_text().splitlines()]
    assert detect_locale({"street_address": streets}).locale == "de_DE"


_PROCESS_VALUES = """
import hashlib, json
from bqsynth.text_kinds import LOCALES, new_faker
from bqsynth.planning.locales import detect_locale
out = {}
for locale in sorted(LOCALES):
    fake = new_faker(locale)
    lists = sorted(
        f"{type(p).__module__}.{name}={list(getattr(p, name))!r}"
        for p in fake.providers for name in dir(p)
        if not name.startswith("_") and isinstance(getattr(p, name, None), (list, tuple))
    )
    fake.seed_instance(3)
    draws = [fake.city() for _ in range(50)] + [fake.name() for _ in range(50)]
    out[locale] = hashlib.sha256(repr((lists, draws)).encode()).hexdigest()
out["guess"] = detect_locale({"city": ["Milano", "Roma", "Torino", "Napoli", "Berlin"], "name": ["Mario Rossi"]})
print(json.dumps(out))
"""


def test_faker_values_and_the_locale_guess_do_not_depend_on_the_process_hash_seed() -> None:
    """Each step runs in its own process; a seed must give the same cities in all of them."""
    root = Path(__file__).resolve().parents[2]
    outputs = {
        seed: subprocess.run(
            [sys.executable, "-c", _PROCESS_VALUES],
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(root)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(set(outputs.values())) == 1, outputs
