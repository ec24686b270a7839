"""Spellings a source chooses value by value, and synthetic files that choose alike (issue 15, items 2-4).

A typed column may write NULL both empty and ``NULL``; a TIMESTAMP column may write its values in
the offsets of a zone with daylight saving, or in a mix of offsets; a nine-digit fraction may hold
nanoseconds BigQuery cannot. The profile records what the source does (shares, the zone), the
writer of synthetic rows reproduces it, and ``read_spelled`` carries the per-cell choices a
byte-identical rewrite of the source needs, and nothing else.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import zoneinfo
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bqsynth.delivery.source_format_files import changed_format
from bqsynth.models import FileColumn, FileFormat, FileOutputFormat
from bqsynth.sources.delimited import (
    CellSpelling,
    consistent_zone,
    draw,
    infer_type,
    read_records,
    read_spelled,
    sniff_format,
    write_records,
)
from bqsynth.sources.file_profile import build_file_profile, profile_file_parts
from bqsynth.sources.file_stream import FilePart

CORPUS = Path(__file__).resolve().parents[1] / "data" / "files"
RUN_DATE = dt.date(2025, 3, 4)
N = 1000


def load(name: str) -> tuple[bytes, FileFormat]:
    data = (CORPUS / name).read_bytes()
    return data, sniff_format(data, name)


def data_fields(written: bytes, fmt: FileFormat) -> list[list[str]]:
    """The data rows' fields as Python's csv module reads them (an independent reader)."""
    rows = list(csv.reader(io.StringIO(written.decode(fmt.encoding), newline=""), delimiter=fmt.delimiter))
    return rows[1:] if fmt.has_header else rows


def within_sampling_error(counts: Counter[str], shares: dict[str, float], n: int) -> None:
    """Each spelling's count is within four standard errors of its share of ``n`` draws."""
    assert set(counts) <= set(shares)
    for spelling, share in shares.items():
        sigma = math.sqrt(n * share * (1 - share))
        assert abs(counts[spelling] - n * share) <= 4 * sigma + 1, (spelling, counts[spelling], n * share)


# ---------------------------------------------------------------------------------------------
# NULL spellings
# ---------------------------------------------------------------------------------------------


def test_a_typed_column_mixing_empty_and_null_records_both_with_their_shares() -> None:
    data, fmt = load("typed_mixed_nulls.csv")
    columns = {c.name: c for c in fmt.columns}
    text = data.decode().splitlines()[1:]
    amounts = Counter(line.split(",")[2] for line in text)
    nulls = amounts[""] + amounts["NULL"]
    assert columns["amount"].null_spellings == {
        "": round(amounts[""] / nulls, 4),
        "NULL": round(amounts["NULL"] / nulls, 4),
    }
    assert columns["surname"].null_spellings is None  # a STRING column: an empty field there is a value
    # The values stay canonical: both spellings read as NULL.
    rows = read_records(data, fmt, "typed_mixed_nulls.csv")
    assert sum(r["amount"] is None for r in rows) == nulls


def test_synthetic_nulls_take_the_source_spellings_with_its_shares() -> None:
    _, fmt = load("typed_mixed_nulls.csv")
    rows = [{"order_id": i, "surname": "Doe", "amount": None, "shipped_on": None} for i in range(N)]
    written = write_records(rows, fmt, run_date=RUN_DATE, seed=7, stream="orders_00000.csv")
    fields = data_fields(written, fmt)
    for index, name in ((2, "amount"), (3, "shipped_on")):
        shares = {c.name: c for c in fmt.columns}[name].null_spellings
        assert shares is not None and len(shares) == 2
        within_sampling_error(Counter(f[index] for f in fields), shares, N)
    # Reproducible (a function of seed, file, column and row), and read back as NULLs.
    assert write_records(rows, fmt, run_date=RUN_DATE, seed=7, stream="orders_00000.csv") == written
    assert write_records(rows, fmt, run_date=RUN_DATE, seed=8, stream="orders_00000.csv") != written
    assert write_records(rows, fmt, run_date=RUN_DATE, seed=7, stream="orders_00001.csv") != written
    assert read_records(written, fmt, "synthetic") == rows


def test_draw_is_a_stable_function_of_its_key_with_the_shares() -> None:
    shares = {"": 0.25, "NULL": 0.75}
    picks = [draw(shares, f"1:f:c:{i}") for i in range(4000)]
    assert picks == [draw(shares, f"1:f:c:{i}") for i in range(4000)]
    within_sampling_error(Counter(picks), shares, 4000)
    assert {draw({"x": 1.0}, str(i)) for i in range(50)} == {"x"}


# ---------------------------------------------------------------------------------------------
# UTC offsets: one zone with daylight saving, or a mix
# ---------------------------------------------------------------------------------------------


def test_offsets_of_a_zone_with_daylight_saving_record_the_zone() -> None:
    data, fmt = load("berlin_dst.csv")
    booked = {c.name: c for c in fmt.columns}["booked_at"]
    assert booked.time_zone is not None and booked.time_zone_values == 36
    assert booked.utc_offset is None and booked.utc_offsets is None
    # The zone chosen gives every source value the offset it was written with.
    zone = zoneinfo.ZoneInfo(booked.time_zone)
    for line in data.decode().splitlines()[1:]:
        written = dt.datetime.fromisoformat(line.split(",")[1])
        assert written.astimezone(zone).utcoffset() == written.utcoffset()


def test_synthetic_timestamps_are_written_in_the_zone_with_summer_and_winter_offsets() -> None:
    _, fmt = load("berlin_dst.csv")
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    fixed = [
        {"booking": 1, "booked_at": "2025-07-01T10:00:00+00:00", "amount": "1.00"},
        {"booking": 2, "booked_at": "2025-01-15 10:00:00 UTC", "amount": "1.00"},
        {"booking": 3, "booked_at": "2025-10-26T00:30:00Z", "amount": "1.00"},  # 02:30 local, the first time
        {"booking": 4, "booked_at": "2025-10-26T01:30:00Z", "amount": "1.00"},  # and the second
    ]
    lines = write_records(fixed, fmt, run_date=RUN_DATE).decode().splitlines()[1:]
    assert [line.split(",")[1] for line in lines] == [
        "2025-07-01T12:00:00+02:00",
        "2025-01-15T11:00:00+01:00",
        "2025-10-26T02:30:00+02:00",
        "2025-10-26T02:30:00+01:00",
    ]
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    instants = [start + dt.timedelta(seconds=31_536_000 * i // N + 17 * i) for i in range(N)]
    rows = [{"booking": i, "booked_at": m.isoformat(), "amount": "2.50"} for i, m in enumerate(instants)]
    written = write_records(rows, fmt, run_date=RUN_DATE, seed=3)
    spelled = [dt.datetime.fromisoformat(f[1]) for f in data_fields(written, fmt)]
    assert all(s.utcoffset() == m.astimezone(berlin).utcoffset() for s, m in zip(spelled, instants, strict=True))
    assert {s.utcoffset() for s in spelled} == {dt.timedelta(hours=1), dt.timedelta(hours=2)}
    assert [r["booked_at"] for r in read_records(written, fmt, "synthetic")] == [m.isoformat() for m in instants]


def test_a_mix_of_offsets_no_zone_explains_records_the_offsets_and_their_shares() -> None:
    data, fmt = load("offset_mix.csv")
    ordered = {c.name: c for c in fmt.columns}["ordered_at"]
    assert ordered.time_zone is None and ordered.utc_offset is None
    counts = Counter(line[-5:] for line in data.decode().splitlines()[1:])
    assert ordered.utc_offsets == {
        f"{o[:3]}:{o[3:]}": round(n / sum(counts.values()), 4) for o, n in sorted(counts.items())
    }
    instants = [dt.datetime(2025, 5, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=97 * i) for i in range(N)]
    rows = [{"order_id": i, "shop": "X", "ordered_at": m.isoformat()} for i, m in enumerate(instants)]
    written = write_records(rows, fmt, run_date=RUN_DATE, seed=11)
    offsets = Counter(f[2][-5:] for f in data_fields(written, fmt))
    within_sampling_error(Counter({f"{o[:3]}:{o[3:]}": n for o, n in offsets.items()}), ordered.utc_offsets, N)
    assert [r["ordered_at"] for r in read_records(written, fmt, "synthetic")] == [m.isoformat() for m in instants]


def test_one_offset_stays_the_single_offset_case_and_utc_records_nothing() -> None:
    one = infer_type(["2024-01-05T10:00:00+01:00", "2024-07-05T10:00:00+01:00"], ",")
    assert (one.utc_offset, one.time_zone, one.utc_offsets) == ("+01:00", None, None)
    utc = infer_type(["2024-01-05T10:00:00+00:00", "2024-07-05T10:00:00+00:00"], ",")
    assert (utc.utc_offset, utc.time_zone, utc.utc_offsets) == (None, None, None)


def test_a_zone_is_inferred_only_when_every_value_fits_it() -> None:
    winter, summer = "2024-01-05T10:00:00-05:00", "2024-07-05T10:00:00-04:00"
    assert infer_type([winter, summer], ",").time_zone is not None  # US Eastern
    # The same offsets the other way round (-04:00 in winter) fit no zone.
    mixed = infer_type(["2024-01-05T10:00:00-04:00", "2024-07-05T10:00:00-05:00"], ",")
    assert mixed.time_zone is None and mixed.utc_offsets == {"-04:00": 0.5, "-05:00": 0.5}
    assert consistent_zone([dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))]) is None


# ---------------------------------------------------------------------------------------------
# Digits past the microsecond
# ---------------------------------------------------------------------------------------------


def test_nanoseconds_read_as_microseconds_and_synthetic_values_write_zeros_past_them() -> None:
    data, fmt = load("nanoseconds.csv")
    first = data.decode().splitlines()[1].split(",")
    row = read_records(data, fmt, "nanoseconds.csv")[0]
    assert row["executed_at"] == dt.datetime.fromisoformat(first[1][:26] + "+00:00").isoformat()
    written = write_records([row], fmt, run_date=RUN_DATE).decode().splitlines()[1].split(",")
    assert written[1] == first[1][:26] + "000Z"
    assert written[2] == first[2][:26] + "000" and written[3] == first[3][:15] + "000"
    rows, spellings = read_spelled(data, fmt, "nanoseconds.csv")
    assert spellings[0]["executed_at"] == CellSpelling(sub_microsecond=first[1][26:29])
    assert "executed_at" not in spellings[3]  # .123456000: nothing past the microsecond


# ---------------------------------------------------------------------------------------------
# The channel carries the choices, never a cell's text
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [{"null": "n/a"}, {"null": "Smith"}, {"offset": "Europe/Berlin"}, {"offset": "+1"}, {"sub_microsecond": "1234"}],
)
def test_a_cell_spelling_holds_only_its_degrees_of_freedom(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        CellSpelling(**fields)


def test_the_channel_only_names_cells_that_chose_something() -> None:
    data, fmt = load("typed_mixed_nulls.csv")
    rows, spellings = read_spelled(data, fmt, "typed_mixed_nulls.csv")
    assert rows == read_records(data, fmt, "typed_mixed_nulls.csv")
    named = [cell for cells in spellings for cell in cells.values()]
    assert named and all(c.null in ("", "NULL") and c.offset is None and not c.sub_microsecond for c in named)
    # Without the channel the rewrite differs (its NULLs are drawn); with it, the bytes are the source's.
    assert write_records(rows, fmt, run_date=dt.date(2024, 1, 31)) != data
    assert write_records(rows, fmt, run_date=dt.date(2024, 1, 31), spellings=spellings) == data


# ---------------------------------------------------------------------------------------------
# Profiles keep what the format records, streamed or not
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["typed_mixed_nulls.csv", "berlin_dst.csv", "offset_mix.csv"])
def test_profiles_keep_the_spelling_choices(name: str) -> None:
    data, fmt = load(name)
    expected = json.loads((CORPUS / f"{name}.expected.json").read_text())["format"]["columns"]
    for profile in (
        build_file_profile(f"gs://b/{name}", [(name, data)]),
        profile_file_parts(f"gs://b/{name}", [FilePart.from_bytes(name, data)]),
    ):
        assert profile.file_format is not None
        got = [c.model_dump(mode="json") for c in profile.file_format.columns]
        for key in ("null_spellings", "utc_offsets", "time_zone", "time_zone_values"):
            assert [c[key] for c in got] == [c[key] for c in expected], key


# ---------------------------------------------------------------------------------------------
# Multi-character delimiters for synthetic files
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", ["~|~", "||", "\t", ";", "\x1f"])
def test_an_output_delimiter_of_one_or_several_characters_is_written_and_read_back(delimiter: str) -> None:
    data, fmt = load("customers.csv")
    rows = read_records(data, fmt, "customers.csv")
    out = changed_format(fmt, FileOutputFormat(delimiter=delimiter))
    written = write_records(rows, out, run_date=RUN_DATE)
    assert read_records(written, out, "out") == rows
    assert written.decode().splitlines()[0] == delimiter.join(c.header or c.name for c in fmt.columns)


def test_a_value_ending_like_a_multi_character_delimiter_is_quoted() -> None:
    fmt = FileFormat(
        delimiter="||",
        columns=[FileColumn(name="a", header="a", type="STRING"), FileColumn(name="b", header="b", type="STRING")],
    )
    rows = [{"a": "x|", "b": "|y"}, {"a": "p||q", "b": "z"}]
    written = write_records(rows, fmt, run_date=RUN_DATE)
    assert written == b'a||b\n"x|"|||y\n"p||q"||z\n'
    assert read_records(written, fmt, "f") == rows


@pytest.mark.parametrize(
    ("delimiter", "problem"),
    [
        ("|\n", "line end"),
        ('"|', "quote character"),
        ("'", "quote character"),
        ("\\|", "backslash"),
        ("ab", "letters, digits and spaces"),
        (" ", "letters, digits and spaces"),
        ("|||||||", "at most 5"),
        ("", "at least 1"),
    ],
)
def test_an_output_delimiter_the_reader_could_not_split_on_is_refused(delimiter: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        FileOutputFormat(delimiter=delimiter)


def test_rfc3339_z_for_a_zero_offset_next_to_other_offsets_is_one_format() -> None:
    data, fmt = load("london_rfc3339.csv")
    occurred = {c.name: c for c in fmt.columns}["occurred_at"]
    assert occurred.temporal_format == "%Y-%m-%dT%H:%M:%S%:Z" and occurred.time_zone is not None
    rows = [
        {"event_id": 1, "occurred_at": "2025-01-15T10:00:00+00:00", "status": "ok"},
        {"event_id": 2, "occurred_at": "2025-07-15T10:00:00+00:00", "status": "ok"},
    ]
    written = write_records(rows, fmt, run_date=RUN_DATE)
    assert [f[1] for f in data_fields(written, fmt)] == ["2025-01-15T10:00:00Z", "2025-07-15T11:00:00+01:00"]
    assert read_records(written, fmt, "synthetic") == rows
    # A column of Z alone keeps the literal Z; of +00:00 alone, the offset directive.
    assert infer_type(["2024-01-05T10:00:00Z"], ",").temporal_format == "%Y-%m-%dT%H:%M:%SZ"
    assert infer_type(["2024-01-05T10:00:00+00:00"], ",").temporal_format == "%Y-%m-%dT%H:%M:%S%:z"


# ---------------------------------------------------------------------------------------------
# The compiled reading of dates and times gives what datetime.strptime gives
# ---------------------------------------------------------------------------------------------


def _outcome(parse: Any, text: str, pattern: str) -> tuple[str, Any]:
    try:
        moment = parse(text, pattern)
    except ValueError as error:
        return ("error", str(error))
    return ("ok", (moment.isoformat(), moment.utcoffset()))


def test_the_compiled_reading_of_every_pattern_is_strptime_s() -> None:
    import random

    from bqsynth.sources import delimited

    patterns = {
        *delimited.DATE_FORMATS,
        *delimited.DATETIME_FORMATS,
        *delimited.TIMESTAMP_FORMATS,
        *delimited.TIME_FORMATS,
        *delimited.LINE_DATETIME_FORMATS,
        *delimited.LINE_DATE_FORMATS,
    }
    r = random.Random(15)
    zones = [dt.timezone(dt.timedelta(minutes=m)) for m in (0, 60, 120, -300, 330, 345, -570)]
    texts: list[tuple[str, str]] = []
    for pattern in sorted(patterns):
        assert delimited._fields_regex(pattern) is not None, pattern  # every pattern takes the compiled way
        for _ in range(60):
            moment = dt.datetime(1950, 1, 1, tzinfo=r.choice(zones)) + dt.timedelta(
                seconds=r.randrange(110 * 365 * 86400), microseconds=r.randrange(10**6)
            )
            text = delimited.strftime(moment, pattern, sub_microsecond=f"{r.randrange(1000):03d}")
            texts.append((text, pattern))
            # Shapes that fit the pattern's regex but not the calendar: 31 April, 29 February 2023.
            texts.append((text.replace(f"{moment:%Y}", "2023").replace(f"{moment:%m}", "02", 1), pattern))
            texts.append((text.replace(f"{moment:%d}", "31", 1).replace(f"{moment:%m}", "04", 1), pattern))
            texts.append((text.replace(text[-2:], "75") if text[-3:-2] == ":" else text + "x", pattern))
    assert len(texts) > 10_000
    outcomes = [_outcome(delimited._library_strptime, text, pattern) for text, pattern in texts]
    assert 1_000 < sum(kind == "error" for kind, _ in outcomes) < len(texts) / 2  # both kinds are tried
    for text, pattern in texts:
        assert _outcome(delimited._strptime, text, pattern) == _outcome(delimited._library_strptime, text, pattern), (
            text,
            pattern,
        )
