"""Streamed file sources (bqsynth.sources.file_stream, value_stats, file_profile.profile_file_parts).

The reference is the whole-file reading (``build_file_profile``: ``sniff_format`` and
``read_records`` over all the bytes, statistics over every value): the streamed profile must be
the same on every corpus file, whatever the chunk size, and when the format comes from a head
smaller than the file.
"""

from __future__ import annotations

import json
import random
import tracemalloc
import uuid
from collections import Counter
from pathlib import Path

import pytest

from bqsynth.gcp.clients import storage_client
from bqsynth.models import TableProfile
from bqsynth.sources.delimited import (
    FileFormatError,
    decode_chunks,
    iter_records,
    sniff_format,
    tokenize,
)
from bqsynth.sources.file_profile import build_file_profile, column_stats, profile_file_parts
from bqsynth.sources.file_stream import FilePart
from bqsynth.sources.gcs_files import iter_source_records, profile_file_source
from bqsynth.sources.value_stats import ColumnAccumulator, StreamLimits, reservoir_sample

CORPUS = Path(__file__).resolve().parents[1] / "data" / "files"
FILES = sorted(
    p.name for p in CORPUS.iterdir() if p.is_file() and not p.name.endswith(".expected.json") and p.suffix != ".py"
)
READABLE = [name for name in FILES if "refuse" not in json.loads((CORPUS / f"{name}.expected.json").read_text())]
EVERY_ROW = 10**6  # a sample_rows that keeps every row, so that both samples can be compared too


def whole(name: str, data: bytes) -> dict[str, object] | str:
    try:
        return build_file_profile(name, [(name, data)], sample_rows=EVERY_ROW).model_dump()
    except FileFormatError as error:
        return str(error)


def streamed(name: str, data: bytes, limits: StreamLimits) -> dict[str, object] | str:
    try:
        return profile_file_parts(
            name, [FilePart.from_bytes(name, data)], sample_rows=EVERY_ROW, limits=limits
        ).model_dump()
    except FileFormatError as error:
        return str(error)


# ---------------------------------------------------------------------------------------------
# The streamed profile is the whole-file profile
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FILES)
def test_streamed_profile_is_the_whole_file_profile_at_any_chunk_size(name: str) -> None:
    data = (CORPUS / name).read_bytes()
    expected = whole(f"gs://b/in/{name}", data)
    for chunk in (1, 2, 3, 7, 4096):
        # Refused files are refused with the same message; readable ones give the same profile.
        assert streamed(f"gs://b/in/{name}", data, StreamLimits(chunk_bytes=chunk)) == expected, f"chunk {chunk}"


def grown(data: bytes, name: str, copies: int) -> bytes:
    """The file with its data rows written ``copies`` times (its custom lines and header once)."""
    fmt = sniff_format(data, name)
    quotechar = None if fmt.quoting == "none" else fmt.quotechar
    records = tokenize(data.decode(fmt.encoding), fmt.delimiter, quotechar, fmt.escapechar, name)
    lead = len(fmt.header_lines) + int(fmt.has_header)
    trail = len(records) - len(fmt.trailer_lines)
    head = "".join(r.raw + (r.terminator or fmt.line_terminator) for r in records[:lead])
    body = "".join(r.raw + (r.terminator or fmt.line_terminator) for r in records[lead:trail])
    tail = "".join(r.raw + r.terminator for r in records[trail:])
    last = body if tail or fmt.final_newline else body[: -len(fmt.line_terminator)]
    return (head + body * (copies - 1) + last + tail).encode(fmt.encoding)


@pytest.mark.parametrize("name", READABLE)
def test_a_file_larger_than_its_head_is_profiled_like_the_whole_file(name: str) -> None:
    """The format from a head holding one copy of the rows; trailer lines, the record counts in
    custom lines, the final newline and ragged rows from the end of the file."""
    original = (CORPUS / name).read_bytes()
    data = grown(original, name, 5)
    limits = StreamLimits(sniff_bytes=len(original) + 16, chunk_bytes=5)
    assert len(data) > 3 * limits.sniff_bytes
    expected = whole(f"gs://b/in/{name}", data)
    assert isinstance(expected, dict)
    assert streamed(f"gs://b/in/{name}", data, limits) == expected


def test_a_wildcard_table_of_large_parts_is_profiled_like_its_whole_files() -> None:
    original = (CORPUS / "orders_hdr_trl.txt").read_bytes()
    parts = [(f"gs://b/in/orders_{n}.txt", grown(original, "orders_hdr_trl.txt", n)) for n in (3, 4)]
    expected = build_file_profile("gs://b/in/orders_*.txt", parts, sample_rows=EVERY_ROW)
    limits = StreamLimits(sniff_bytes=len(original) + 16, chunk_bytes=11)
    profile = profile_file_parts(
        "gs://b/in/orders_*.txt",
        [FilePart.from_bytes(n, d) for n, d in parts],
        sample_rows=EVERY_ROW,
        limits=limits,
    )
    assert profile == expected
    assert profile.file_format is not None and profile.file_format.trailer_lines


# ---------------------------------------------------------------------------------------------
# Records and text across chunk boundaries
# ---------------------------------------------------------------------------------------------

TRICKY = [
    # (text, delimiter, quotechar, escapechar): quoted newlines, doubled quotes, CRLF, empty fields
    ('id,note\r\n1,"a ""quoted"" word"\r\n2,"line one\r\nline two"\r\n3,\r\n4,"",x\r\n', ",", '"', None),
    # a multi-character delimiter, also inside a quoted field, and a last line without newline
    ('a~|~b\n"x~|~y"~|~"two\nlines"\n~|~~|~\nlast~|~1', "~|~", '"', None),
    # a backslash escaping the delimiter, MySQL's \N and a quote
    ('a|b\n1|x\\|y\n2|\\N\n3|say \\"hi\\"\n', "|", '"', "\\"),
    # single quotes, a delimiter control character
    ("'a'\x1f'b'\n'it''s'\x1f'x\ny'\n", "\x1f", "'", None),
]


@pytest.mark.parametrize(("text", "delimiter", "quotechar", "escapechar"), TRICKY)
def test_records_cut_anywhere_are_the_records_of_the_whole_text(
    text: str, delimiter: str, quotechar: str, escapechar: str | None
) -> None:
    expected = tokenize(text, delimiter, quotechar, escapechar, "f")
    for cut in range(len(text) + 1):
        pieces = [text[:cut], text[cut:]]
        assert list(iter_records(pieces, delimiter, quotechar, escapechar, "f")) == expected, f"cut at {cut}"
    one_by_one = list(text)
    assert list(iter_records(one_by_one, delimiter, quotechar, escapechar, "f")) == expected


def test_a_byte_order_mark_and_characters_cut_by_chunks_decode_whole() -> None:
    data = "\ufeffname;Größe;名前\nZoë;1,5;東京\n".encode()
    for size in (1, 2, 3, 5):
        pieces = [data[i : i + size] for i in range(0, len(data), size)]
        assert "".join(decode_chunks(pieces, "utf-8-sig", "f.csv")) == data.decode("utf-8-sig")


def test_an_unclosed_quote_in_a_large_file_is_refused_not_held_in_memory() -> None:
    pieces = ['id,note\n1,"never closed\n', *(["more text\n"] * 50)]
    with pytest.raises(FileFormatError, match=r"f\.csv: the record starting on line 2 is longer than 100"):
        list(iter_records(pieces, ",", '"', None, "f.csv", max_record_chars=100))
    with pytest.raises(FileFormatError, match="line 2 is never closed"):
        list(iter_records(pieces, ",", '"', None, "f.csv"))


# ---------------------------------------------------------------------------------------------
# What only the rest of a large file shows
# ---------------------------------------------------------------------------------------------

SMALL_HEAD = StreamLimits(sniff_bytes=256, chunk_bytes=64)


def numbered_rows(count: int) -> bytes:
    return b"id,day\n" + "".join(f"{n},2024-01-{1 + n % 28:02d}\n" for n in range(count)).encode()


def test_bytes_of_another_encoding_after_the_head_are_refused_naming_the_file() -> None:
    data = numbered_rows(200) + "201,2024-01-02 café\n".encode("latin-1")
    with pytest.raises(FileFormatError, match=r"gs://b/big\.csv is not valid utf-8 \(near byte \d+\)"):
        profile_file_parts("gs://b/big.csv", [FilePart.from_bytes("gs://b/big.csv", data)], limits=SMALL_HEAD)


def test_a_value_unlike_the_head_s_type_makes_its_column_text_as_the_whole_file_would() -> None:
    """An 'N/A' among numbers past the head: the column is read again as STRING, nothing refused or lost."""
    data = numbered_rows(200) + b"two hundred,2024-01-02\n"
    whole = build_file_profile("gs://b/big.csv", [("gs://b/big.csv", data)])
    part = FilePart.from_bytes("gs://b/big.csv", data)
    streamed = profile_file_parts("gs://b/big.csv", [part], limits=SMALL_HEAD)
    assert [c.type for c in streamed.columns] == [c.type for c in whole.columns] == ["STRING", "DATE"]
    assert streamed.row_count == 201 and streamed.stats["id"].distinct_count == 201
    assert streamed.file_format is not None and streamed.file_format.columns[1].temporal_format == "%Y-%m-%d"
    # The same in a second part of the table: the first part is read again with the text column.
    second = FilePart.from_bytes("gs://b/big-2.csv", numbered_rows(3) + b"n/a,2024-01-03\n")
    both = profile_file_parts("gs://b/big-*.csv", [FilePart.from_bytes("gs://b/big-1.csv", numbered_rows(200)), second])
    assert [c.type for c in both.columns] == ["STRING", "DATE"] and both.row_count == 204


def test_too_many_ragged_rows_after_the_head_are_refused_with_their_lines() -> None:
    data = numbered_rows(200) + b"1,2,3\n" * 5 + numbered_rows(10)[len("id,day\n") :]
    with pytest.raises(FileFormatError, match=r"5 of 215 rows with a field count other than 2 \(lines 202, 203"):
        profile_file_parts("gs://b/big.csv", [FilePart.from_bytes("gs://b/big.csv", data)], limits=SMALL_HEAD)
    tolerated = numbered_rows(200) + b"1,2,3\n" + numbered_rows(1)[len("id,day\n") :]
    profile = profile_file_parts(
        "gs://b/big.csv", [FilePart.from_bytes("gs://b/big.csv", tolerated)], limits=SMALL_HEAD
    )
    assert profile.row_count == 201 and profile.file_format is not None and profile.file_format.ragged_rows == 1


# ---------------------------------------------------------------------------------------------
# Bounded statistics
# ---------------------------------------------------------------------------------------------


def test_a_sample_is_uniform_reproducible_and_in_order() -> None:
    first = reservoir_sample(range(10_000), 100, seed="t")
    assert first == reservoir_sample(range(10_000), 100, seed="t")
    assert first != reservoir_sample(range(10_000), 100, seed="u")
    assert first == sorted(set(first)) and len(first) == 100
    assert reservoir_sample(range(5), 100) == [0, 1, 2, 3, 4]
    # Each of 100 items is drawn into a sample of 10 with probability 1/10: 300 of 3,000 draws.
    hits = Counter(item for seed in range(3_000) for item in reservoir_sample(range(100), 10, seed=seed))
    assert all(220 <= hits[item] <= 380 for item in range(100)), sorted(hits.values())[:3]


def test_a_column_beyond_its_exact_bound_keeps_exact_aggregates_and_close_estimates() -> None:
    rng = random.Random(5)
    values: list[int | None] = []
    for n in range(30_000):
        values.append(rng.randrange(100_000))
        if n % 20 == 0:
            values.append(-7)  # a frequent value among rare ones
        if n % 10 == 0:
            values.append(None)
    limits = StreamLimits(exact_values=1_000, quantile_sample=4_000, distinct_sketch=1_024)
    column = ColumnAccumulator("amount", "INT64", limits)
    for value in values:
        column.add(value)
    assert column.overflowed
    exact = column_stats("amount", "INT64", values)
    stats = column.stats()
    assert (stats.row_count, stats.null_count) == (exact.row_count, exact.null_count)
    assert (stats.min_value, stats.max_value) == (exact.min_value, exact.max_value)
    assert exact.distinct_count is not None and stats.distinct_count is not None
    assert abs(stats.distinct_count - exact.distinct_count) < 0.1 * exact.distinct_count
    assert stats.top_values is not None and stats.top_values[0].value == -7
    assert stats.top_values[0].count == values.count(-7)  # never pruned, so counted exactly
    assert exact.quantiles is not None and stats.quantiles is not None
    assert (stats.quantiles[0], stats.quantiles[-1]) == (exact.quantiles[0], exact.quantiles[-1])
    assert all(abs(a - b) < 4_000 for a, b in zip(stats.quantiles, exact.quantiles, strict=True))


def test_the_scale_of_a_float_column_stays_exact_beyond_the_bound() -> None:
    values = [n / 8 for n in range(3_000)] + [None]  # up to 3 decimals
    column = ColumnAccumulator("ratio", "FLOAT64", StreamLimits(exact_values=100))
    for value in values:
        column.add(value)
    assert column.overflowed and column.stats().max_scale == column_stats("ratio", "FLOAT64", values).max_scale == 3


def test_string_lengths_stay_exact_beyond_the_bound() -> None:
    values = [f"v{'x' * (n % 17)}{n}" for n in range(5_000)] + [None] * 3
    column = ColumnAccumulator("code", "STRING", StreamLimits(exact_values=500))
    for value in values:
        column.add(value)
    exact, stats = column_stats("code", "STRING", values), column.stats()
    assert (stats.min_length, stats.max_length, stats.avg_length) == (
        exact.min_length,
        exact.max_length,
        exact.avg_length,
    )
    assert (stats.min_value, stats.max_value) == (exact.min_value, exact.max_value)


def write_orders(path: Path, megabytes: int) -> int:
    """A generated file of long rows (id, status, amount, a note of ~1 KB); its row count."""
    rng = random.Random(11)
    notes = [" ".join(rng.choice(["late", "box", "gift", "urgent", "ok"]) for _ in range(200)) for _ in range(40)]
    rows = 0
    with path.open("w") as out:
        out.write("id,status,amount,note\n")
        while out.tell() < megabytes * 10**6:
            out.write(f"{rows},{'ABC'[rows % 3]},{rng.randrange(10**6) / 100:.2f},{notes[rows % 40]}\n")
            rows += 1
    return rows


def traced_profile(path: Path, limits: StreamLimits) -> tuple[TableProfile, int]:
    """The profile of a local file and the peak of Python memory while it was made."""
    part = FilePart(f"gs://b/{path.name}", lambda: path.open("rb"))
    tracemalloc.start()
    try:
        profile = profile_file_parts(f"gs://b/{path.name}", [part], limits=limits)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return profile, peak


def test_memory_of_profiling_does_not_grow_with_the_file(tmp_path: Path) -> None:
    """A 40 MB file is profiled in the memory a 10 MB one takes: the head, a chunk, the bounded
    counters. Their bounds are lowered so that both files fill them (the amounts and ids of the
    10 MB file already overflow 2,000 exact values); the defaults fill up at 20,000."""
    limits = StreamLimits(exact_values=2_000, quantile_sample=2_000)
    peaks = {}
    for megabytes in (10, 40):
        path = tmp_path / f"orders_{megabytes}.csv"
        rows = write_orders(path, megabytes)
        profile, peaks[megabytes] = traced_profile(path, limits)
        assert profile.row_count == rows and profile.stats["id"].max_value == rows - 1
        assert profile.stats["status"].top_values is not None and len(profile.stats["status"].top_values) == 3
        path.unlink()
    assert peaks[40] < 40 * 10**6 / 4, f"peak {peaks[40] / 1e6:.1f} MB for a 40 MB file"
    assert peaks[40] < 1.2 * peaks[10], f"peak {peaks[40] / 1e6:.1f} MB at 40 MB, {peaks[10] / 1e6:.1f} MB at 10 MB"


def test_custom_lines_of_a_large_file_count_all_of_its_rows() -> None:
    rows = "".join(f"{n}|customer{n}@example.com|{n % 50}.50\n" for n in range(300))
    data = f"HDR|ORDERS|20240105\n{rows}TRL|{300:07d}\n".encode()
    part = FilePart.from_bytes("gs://b/orders.txt", data)
    profile = profile_file_parts("gs://b/orders.txt", [part], limits=SMALL_HEAD)
    fmt = profile.file_format
    assert fmt is not None and profile.row_count == 300 and not fmt.has_header
    assert [line.text for line in fmt.trailer_lines] == ["TRL|0000300"]
    assert [(f.kind, f.width) for f in fmt.trailer_lines[0].fields] == [("record_count", 7)]
    assert [f.kind for f in fmt.header_lines[0].fields] == ["date"]
    assert fmt.final_newline
    # The sample differs (a reservoir here, the first rows there); everything else is the same.
    expected = build_file_profile("gs://b/orders.txt", [("gs://b/orders.txt", data)])
    assert profile.model_copy(update={"sample": []}) == expected.model_copy(update={"sample": []})
    assert len(profile.sample) == 200 and profile.sample != expected.sample


# ---------------------------------------------------------------------------------------------
# Through Cloud Storage (the official client against the fake GCS server)
# ---------------------------------------------------------------------------------------------


def test_a_wildcard_source_in_cloud_storage_is_streamed_in_small_requests(local_stack: object) -> None:
    gcs = storage_client()
    bucket = gcs.bucket(f"bqsynth-stream-{uuid.uuid4().hex[:8]}")
    gcs.create_bucket(bucket)
    original = (CORPUS / "fr_nbsp_euros.csv").read_bytes()
    parts = {f"in/euros_{n}.csv": grown(original, "fr_nbsp_euros.csv", n) for n in (2, 3)}
    try:
        for name, data in parts.items():
            bucket.blob(name).upload_from_string(data)
        uri = f"gs://{bucket.name}/in/euros_*.csv"
        # Requests of 256 KiB and pieces of 7 bytes; a head of one copy of the rows.
        limits = StreamLimits(sniff_bytes=len(original) + 16, chunk_bytes=7, download_bytes=256 * 1024)
        profile = profile_file_source(gcs, uri, sample_rows=EVERY_ROW, limits=limits)
        expected = build_file_profile(
            uri, [(f"gs://{bucket.name}/{n}", d) for n, d in parts.items()], sample_rows=EVERY_ROW
        )
        assert profile == expected
        assert profile.file_format is not None
        rows = list(iter_source_records(gcs, uri, profile.file_format, limits))
        assert rows == expected.sample and len(rows) == expected.row_count
    finally:
        for blob in gcs.list_blobs(bucket.name):
            blob.delete()
        bucket.delete()
