"""Accuracy of the offline semantic detection on real-world column names.

The corpus (tests/unit/data/semantic_names.csv) lists column names from public schemas with
the semantic type each holds. Every table of the corpus becomes one ``TableProfile`` holding
its listed columns (so a column is read beside its neighbours, as in a real run); columns
with sample values get a 60-row sample and statistics, the others are classified from their
name, table and type alone.

    PYTHONPATH=. .venv/bin/python benchmarks/semantic_names.py [--misses]
"""

from __future__ import annotations

import argparse
import csv
from collections import Counter, defaultdict
from itertools import cycle, islice
from pathlib import Path
from typing import Any, NamedTuple

from bqsynth.models import ColumnSchema, ColumnStats, TableProfile, ValueCount
from bqsynth.semantics import classify_column, sample_values

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "unit" / "data" / "semantic_names.csv"
SAMPLE_ROWS = 60


class Case(NamedTuple):
    column: str
    table: str
    type: str
    expected: str
    source: str
    values: list[str]


class Outcome(NamedTuple):
    case: Case
    found: str
    reason: str

    @property
    def hit(self) -> bool:
        return self.found == self.case.expected


def load_corpus(path: Path = CORPUS) -> list[Case]:
    """The corpus rows (comment lines start with ``#``)."""
    with path.open(newline="") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return [
            Case(
                row["column"],
                row["table"],
                row["type"],
                row["expected"],
                row["source"],
                [v for v in row["values"].split("|") if v],
            )
            for row in rows
        ]


def _stats(column: str, column_type: str, values: list[str]) -> ColumnStats:
    counts = Counter(values)
    lengths = [len(v) for v in values]
    return ColumnStats(
        path=column,
        type=column_type,
        row_count=len(values),
        distinct_count=len(counts),
        top_values=[ValueCount(value=v, count=n) for v, n in counts.most_common(20)],
        min_length=min(lengths),
        max_length=max(lengths),
        avg_length=sum(lengths) / len(lengths),
    )


def table_profile(source: str, table: str, cases: list[Case]) -> TableProfile:
    """One table of the corpus: its listed columns, a sample where the corpus gives values."""
    samples = {c.column: list(islice(cycle(c.values), SAMPLE_ROWS)) for c in cases if c.values}
    rows: list[dict[str, Any]] = [{k: v[i] for k, v in samples.items()} for i in range(SAMPLE_ROWS)] if samples else []
    return TableProfile(
        table_id=f"corpus.{source}.{table.replace(' ', '_')}",
        name=table,
        row_count=SAMPLE_ROWS if samples else 0,
        columns=[ColumnSchema(name=c.column, type=c.type) for c in cases],
        stats={k: _stats(k, next(c.type for c in cases if c.column == k), v) for k, v in samples.items()},
        sample=rows,
    )


def classify_corpus(cases: list[Case]) -> list[Outcome]:
    tables: dict[tuple[str, str], list[Case]] = defaultdict(list)
    for case in cases:
        tables[(case.source, case.table)].append(case)
    outcomes = []
    for (source, table), members in tables.items():
        profile = table_profile(source, table, members)
        for case in members:
            schema = ColumnSchema(name=case.column, type=case.type)
            guess = classify_column(
                profile, case.column, schema, profile.stats.get(case.column), sample_values(profile, case.column)
            )
            outcomes.append(Outcome(case, guess.semantic_type, guess.reason))
    return outcomes


def accuracy(outcomes: list[Outcome]) -> float:
    return sum(o.hit for o in outcomes) / len(outcomes) if outcomes else 0.0


def by_source(outcomes: list[Outcome]) -> dict[str, tuple[int, int]]:
    """Source group -> (hits, cases)."""
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[outcome.case.source].append(outcome)
    return {source: (sum(o.hit for o in group), len(group)) for source, group in sorted(groups.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    outcomes = classify_corpus(load_corpus(args.corpus))
    hits = sum(o.hit for o in outcomes)
    print(f"overall: {hits}/{len(outcomes)} = {accuracy(outcomes):.1%}")
    for source, (source_hits, total) in by_source(outcomes).items():
        print(f"  {source:<16} {source_hits:>3}/{total:<3} = {source_hits / total:.1%}")
    misses = [o for o in outcomes if not o.hit]
    print(f"misses ({len(misses)}):")
    for o in misses:
        c = o.case
        print(f"  {c.source:<14} {c.table}.{c.column} ({c.type}): expected {c.expected}, got {o.found} - {o.reason}")


if __name__ == "__main__":
    main()
