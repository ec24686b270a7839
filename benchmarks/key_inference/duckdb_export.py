"""Run by the emulator venv (/work/main/.stack/venv, which has duckdb + tpch): dump tables as NDJSON.

Usage: python duckdb_export.py tpch|ssb|tpcds SF OUT_DIR. Writes OUT_DIR/<table>.jsonl and types.json.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

# Star Schema Benchmark (O'Neil et al., 2009) derived from TPC-H by SQL; published SSB column names.
SSB_SQL = {
    "part": """SELECT p_partkey, p_name, p_mfgr, p_mfgr || '#' || substr(p_brand, 7, 1) AS p_category,
                      p_brand AS p_brand1, split_part(p_name, ' ', 1) AS p_color,
                      p_type, p_size, p_container FROM part""",
    "supplier": """SELECT s_suppkey, s_name, s_address, rpad(n_name, 9, ' ') || (s_suppkey % 10) AS s_city,
                          n_name AS s_nation, r_name AS s_region, s_phone
                   FROM supplier JOIN nation ON s_nationkey = n_nationkey JOIN region ON n_regionkey = r_regionkey""",
    "customer": """SELECT c_custkey, c_name, c_address, rpad(n_name, 9, ' ') || (c_custkey % 10) AS c_city,
                          n_name AS c_nation, r_name AS c_region, c_phone, c_mktsegment
                   FROM customer JOIN nation ON c_nationkey = n_nationkey JOIN region ON n_regionkey = r_regionkey""",
    "dwdate": """SELECT CAST(strftime(d, '%Y%m%d') AS BIGINT) AS d_datekey, CAST(d AS DATE) AS d_date,
                        strftime(d, '%A') AS d_dayofweek, strftime(d, '%B') AS d_month, year(d) AS d_year,
                        CAST(strftime(d, '%Y%m') AS BIGINT) AS d_yearmonthnum, dayofweek(d) + 1 AS d_daynuminweek,
                        day(d) AS d_daynuminmonth, month(d) AS d_monthnuminyear, weekofyear(d) AS d_weeknuminyear
                 FROM range(DATE '1992-01-01', DATE '1999-01-01', INTERVAL 1 DAY) t(d)""",
    "lineorder": """SELECT l_orderkey AS lo_orderkey, l_linenumber AS lo_linenumber, o_custkey AS lo_custkey,
                           l_partkey AS lo_partkey, l_suppkey AS lo_suppkey,
                           CAST(strftime(o_orderdate, '%Y%m%d') AS BIGINT) AS lo_orderdate,
                           o_orderpriority AS lo_orderpriority, o_shippriority AS lo_shippriority,
                           l_quantity AS lo_quantity, l_extendedprice AS lo_extendedprice,
                           o_totalprice AS lo_ordtotalprice, l_discount AS lo_discount,
                           l_extendedprice * (1 - l_discount) AS lo_revenue, ps_supplycost AS lo_supplycost,
                           l_tax AS lo_tax, CAST(strftime(l_commitdate, '%Y%m%d') AS BIGINT) AS lo_commitdate,
                           l_shipmode AS lo_shipmode
                    FROM lineitem JOIN orders ON l_orderkey = o_orderkey
                    LEFT JOIN partsupp
                      ON l_partkey = ps_partkey AND l_suppkey = ps_suppkey""",
}
TPCH_TABLES = ("region", "nation", "part", "supplier", "partsupp", "customer", "orders", "lineitem")
BQ_TYPES = {"BIGINT": "INT64", "INTEGER": "INT64", "VARCHAR": "STRING", "DATE": "DATE", "DOUBLE": "FLOAT64"}


def _bq_type(duck_type: str) -> str:
    return "NUMERIC" if duck_type.startswith("DECIMAL") else BQ_TYPES.get(duck_type, "STRING")


def _json(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def main(kind: str, scale: float, out: Path) -> None:
    con = duckdb.connect()
    if kind == "tpcds":
        _tpcds(con, scale, out)
        return
    from duckdb_extensions import import_extension

    import_extension("tpch", con=con)  # from the PyPI wheel (local_stack.sh pins it): INSTALL would download
    con.execute("LOAD tpch")
    con.execute(f"CALL dbgen(sf={scale})")
    # Below sf ~0.01 dbgen's supplier formula repeats (ps_partkey, ps_suppkey) pairs (800 rows, 700
    # pairs at sf 0.001), so the spec's partsupp key would be false in the data: keep one row per pair
    # (lineitem's references to partsupp still all resolve: every pair is kept).
    con.execute("CREATE TABLE ps AS SELECT DISTINCT ON (ps_partkey, ps_suppkey) * FROM partsupp ORDER BY ALL")
    con.execute("DROP TABLE partsupp; ALTER TABLE ps RENAME TO partsupp")
    queries = {t: f"SELECT * FROM {t}" for t in TPCH_TABLES} if kind == "tpch" else SSB_SQL
    _write(con, queries, out)


def _tpcds(con: duckdb.DuckDBPyConnection, scale: float, out: Path) -> None:
    """dsdgen from the PyPI wheel duckdb-extension-tpcds (installed by tpcds.py's throwaway venv)."""
    from duckdb_extensions import import_extension

    import_extension("tpcds", con=con)
    con.execute("LOAD tpcds")
    con.execute(f"CALL dsdgen(sf={scale})")
    tables = [t for (t,) in con.execute("SHOW TABLES").fetchall()]
    _write(con, {t: f"SELECT * FROM {t}" for t in tables}, out)


def _write(con: duckdb.DuckDBPyConnection, queries: dict[str, str], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    types: dict[str, dict[str, str]] = {}
    for table, sql in queries.items():
        result = con.execute(sql)
        names = [d[0] for d in result.description]
        types[table] = {n: _bq_type(str(d[1])) for n, d in zip(names, result.description, strict=True)}
        with (out / f"{table}.jsonl").open("w") as f:
            for row in result.fetchall():
                f.write(json.dumps({n: _json(v) for n, v in zip(names, row, strict=True)}) + "\n")
    (out / "types.json").write_text(json.dumps(types, indent=1))


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), Path(sys.argv[3]))
