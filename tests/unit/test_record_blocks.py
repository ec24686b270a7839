"""Records read in blocks by the C csv reader (bqsynth.sources.record_blocks) and counted a column at a
time (value_stats ``add_many`` / ``add_batch``) give exactly what the record-by-record reading gives.

The reference is ``StreamLimits(block_chars=0)``: every record through ``iter_records`` and
``RecordParser.parse``, every value through ``ColumnAccumulator.add``. The fast reading must give
the same profile (format, statistics, sample), the same records and the same errors.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from bqsynth.sources.delimited import FileFormatError, Record, iter_records, sniff_format
from bqsynth.sources.record_blocks import RecordBlock, block_dialect, record_items
from bqsynth.sources.value_stats import ColumnAccumulator, StreamLimits
from tests.unit.test_file_stream import streamed

CORPUS = Path(__file__).resolve().parents[1] / "data" / "files"
FILES = sorted(
    p.name for p in CORPUS.iterdir() if p.is_file() and not p.name.endswith(".expected.json") and p.suffix != ".py"
)
EXACT = StreamLimits(chunk_bytes=7, block_chars=0)


def items_of(text: str, delimiter: str, quotechar: str | None, block_chars: int, nulls: set[str], width: int) -> list:
    dialect = block_dialect(delimiter, quotechar, None, width, nulls)
    pieces = [text[i : i + 5] for i in range(0, len(text), 5)]
    return list(
        record_items(pieces, delimiter, quotechar, None, "f", dialect=dialect, block_chars=block_chars, exact_records=1)
    )


def expanded(items: list) -> list[Record]:
    return [r for item in items for r in (item.records("f") if isinstance(item, RecordBlock) else [item])]


# ---------------------------------------------------------------------------------------------
# A generated file with every case the two readers could disagree on
# ---------------------------------------------------------------------------------------------


def tricky_file(rows: int, seed: int = 3) -> str:
    """Header, then rows of: a key, an amount with thousands separators in quotes, a note that is
    quoted, holds the delimiter, a line break (LF or CRLF) or doubled quotes, a status that may be
    NULL, empty, ``""`` or ``"NULL"``, and now and then a quote inside an unquoted field, a ragged
    row, text after a closing quote, a blank line."""
    rng = random.Random(seed)
    lines = ["id,amount,note,status\r\n"]
    for n in range(rows):
        cents = rng.randrange(1, 10**9)
        amount = f'"{cents // 100:,}.{cents % 100:02d}"'
        note = rng.choice(['"late, again"', '"two\nlines"', '"crlf\r\ninside"', "plain", '"say ""hi"""', "5 ft"])
        status = rng.choice(["new", "paid", "NULL", "", "new", "paid", "shipped"] + ['""', '"NULL"'] * (n % 97 == 0))
        if n % 211 == 5:
            note = '5" screen'  # a quote inside an unquoted field
        if n % 307 == 9:
            note = '"after"quote'  # text after a closing quote
        line = f"{n},{amount},{note},{status}\r\n"
        if n % 401 == 7:
            line = f"{n},{amount},{note}\r\n"  # ragged
        if n % 503 == 11:
            line = "\r\n"  # blank
        lines.append(line)
    return "".join(lines)


def test_the_tricky_file_is_read_partly_in_blocks_and_partly_record_by_record() -> None:
    """Guards the tests below: both readers really take part (a fast path never taken proves nothing)."""
    items = items_of(tricky_file(3_000), ",", '"', 4096, {"", "NULL"}, 4)
    blocks = [i for i in items if isinstance(i, RecordBlock)]
    singles = [i for i in items if isinstance(i, Record)]
    assert sum(b.rows for b in blocks) > 1_500, "most rows should come in blocks"
    assert len(singles) > 50, "the odd records should come one by one"


@pytest.mark.parametrize("block_chars", [1, 100, 4096, 10**6])
def test_records_in_blocks_are_the_records_of_iter_records(block_chars: int) -> None:
    text = tricky_file(1_500)
    expected = list(iter_records([text], ",", '"', None, "f"))
    items = items_of(text, ",", '"', block_chars, {"", "NULL"}, 4)
    assert expanded(items) == expected
    for block in (i for i in items if isinstance(i, RecordBlock)):
        records = block.records("f")
        # csv's fields are tokenize's, and quoting changes none of them.
        assert block.columns == [tuple(col) for col in zip(*(r.fields for r in records), strict=True)]
        assert not any(q and f in ("", "NULL") for r in records for q, f in zip(r.quoted, r.fields, strict=True))


def test_a_tricky_file_is_profiled_alike_in_blocks_and_record_by_record() -> None:
    data = tricky_file(4_000).encode()
    exact = streamed("gs://b/tricky.csv", data, EXACT)
    assert isinstance(exact, dict) and exact["row_count"] > 3_900
    assert exact["file_format"]["ragged_rows"] > 0
    for block_chars in (64, 4096):
        fast = streamed("gs://b/tricky.csv", data, StreamLimits(chunk_bytes=7, block_chars=block_chars))
        assert fast == exact, f"block_chars {block_chars}"


def test_a_large_tricky_file_beyond_its_head_and_bounds_is_profiled_alike() -> None:
    """Format from a small head (trailer window held back, completed at the end) and counters that
    overflow their bounds many times (pruned at the same values either way)."""
    data = tricky_file(12_000, seed=5).encode()
    small = {"sniff_bytes": 64 * 1024, "exact_values": 300, "exact_chars": 2_000, "quantile_sample": 500}
    exact = streamed("gs://b/big.csv", data, StreamLimits(chunk_bytes=4096, block_chars=0, **small))
    assert isinstance(exact, dict)
    fast = streamed("gs://b/big.csv", data, StreamLimits(chunk_bytes=4096, block_chars=8192, **small))
    assert fast == exact


def test_a_misfit_value_inside_a_block_is_refused_like_record_by_record() -> None:
    """Past the head an amount that is no number: the column becomes text either way; and a date
    column with a bad date in a block names the same line."""
    rows = "".join(f"{n},2024-01-{1 + n % 28:02d}\n" for n in range(3_000))
    data = ("id,day\n" + rows + "3000,2024-02-30\n" + rows).encode()
    limits = {"sniff_bytes": 256, "chunk_bytes": 64}
    exact = streamed("gs://b/days.csv", data, StreamLimits(block_chars=0, **limits))
    fast = streamed("gs://b/days.csv", data, StreamLimits(block_chars=2048, **limits))
    assert fast == exact
    assert isinstance(fast, dict) and fast["columns"][1]["type"] == "STRING"


# ---------------------------------------------------------------------------------------------
# The corpus
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FILES)
def test_every_corpus_file_is_profiled_alike_in_blocks_and_record_by_record(name: str) -> None:
    data = (CORPUS / name).read_bytes()
    exact = streamed(f"gs://b/in/{name}", data, EXACT)
    for block_chars in (1, 64, 4096):
        fast = streamed(f"gs://b/in/{name}", data, StreamLimits(chunk_bytes=7, block_chars=block_chars))
        assert fast == exact, f"block_chars {block_chars}"


def test_most_corpus_files_are_read_in_blocks() -> None:
    """Guards the corpus test: the block reader takes part in most corpus files."""
    used = 0
    for name in FILES:
        data = (CORPUS / name).read_bytes()
        try:
            fmt = sniff_format(data, name)
        except FileFormatError:
            continue
        quotechar = None if fmt.quoting == "none" else fmt.quotechar
        dialect = block_dialect(fmt.delimiter, quotechar, fmt.escapechar, len(fmt.columns), {"", fmt.null_marker})
        text = data.decode(fmt.encoding)
        items = record_items(
            [text[i : i + 7] for i in range(0, len(text), 7)],
            fmt.delimiter,
            quotechar,
            fmt.escapechar,
            name,
            dialect=dialect,
            block_chars=64,
            exact_records=len(fmt.header_lines) + int(fmt.has_header),
        )
        used += any(isinstance(item, RecordBlock) for item in items)
    assert used > len(FILES) * 2 / 3, f"only {used} corpus files read in blocks"


# ---------------------------------------------------------------------------------------------
# Counting a column at a time
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["STRING", "INT64", "NUMERIC"])
def test_values_added_in_batches_are_counted_and_pruned_as_one_by_one(kind: str) -> None:
    rng = random.Random(8)
    pool = [None, *range(50)]
    values: list[Any] = []
    for n in range(30_000):
        number = rng.choice(pool) if n % 3 else rng.randrange(10**6)  # frequent values among many rare ones
        if number is None:
            values.append(None)
        else:
            values.append(str(number) if kind == "STRING" else f"{number}.{n % 7}0" if kind == "NUMERIC" else number)
    limits = StreamLimits(exact_values=700, exact_chars=3_000, quantile_sample=400, distinct_sketch=256)
    one, many = ColumnAccumulator("c", kind, limits), ColumnAccumulator("c", kind, limits)
    for value in values:
        one.add(value)
    start = 0
    for size in [1, 2, 5_000, 3, 777] * 8:
        many.add_many(values[start : start + size])
        start += size
    many.add_many(values[start:])
    assert one.overflowed and many.overflowed
    assert list(many.counts.items()) == list(one.counts.items())  # same entries, same order
    assert many.stats() == one.stats()
