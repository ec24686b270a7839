"""TPC-H tables as BigQuery source tables: column types and the keys of the TPC-H specification.

DuckDB's tpch extension generates the rows but declares no keys, so the primary and foreign
keys below are copied from the TPC-H specification (v3, clause 1.4.2: primary keys 1.4.2.2,
foreign keys 1.4.2.3). Pure Python: imported by the benchmark driver (.venv) and the SDV
worker (.bench/sdv-venv) alike.
"""

from __future__ import annotations

from dataclasses import dataclass

# Column name -> BigQuery type, in DuckDB's column order (DECIMAL(15,2) -> NUMERIC).
COLUMNS: dict[str, dict[str, str]] = {
    "region": {"r_regionkey": "INT64", "r_name": "STRING", "r_comment": "STRING"},
    "nation": {"n_nationkey": "INT64", "n_name": "STRING", "n_regionkey": "INT64", "n_comment": "STRING"},
    "part": {
        "p_partkey": "INT64",
        "p_name": "STRING",
        "p_mfgr": "STRING",
        "p_brand": "STRING",
        "p_type": "STRING",
        "p_size": "INT64",
        "p_container": "STRING",
        "p_retailprice": "NUMERIC",
        "p_comment": "STRING",
    },
    "supplier": {
        "s_suppkey": "INT64",
        "s_name": "STRING",
        "s_address": "STRING",
        "s_nationkey": "INT64",
        "s_phone": "STRING",
        "s_acctbal": "NUMERIC",
        "s_comment": "STRING",
    },
    "partsupp": {
        "ps_partkey": "INT64",
        "ps_suppkey": "INT64",
        "ps_availqty": "INT64",
        "ps_supplycost": "NUMERIC",
        "ps_comment": "STRING",
    },
    "customer": {
        "c_custkey": "INT64",
        "c_name": "STRING",
        "c_address": "STRING",
        "c_nationkey": "INT64",
        "c_phone": "STRING",
        "c_acctbal": "NUMERIC",
        "c_mktsegment": "STRING",
        "c_comment": "STRING",
    },
    "orders": {
        "o_orderkey": "INT64",
        "o_custkey": "INT64",
        "o_orderstatus": "STRING",
        "o_totalprice": "NUMERIC",
        "o_orderdate": "DATE",
        "o_orderpriority": "STRING",
        "o_clerk": "STRING",
        "o_shippriority": "INT64",
        "o_comment": "STRING",
    },
    "lineitem": {
        "l_orderkey": "INT64",
        "l_partkey": "INT64",
        "l_suppkey": "INT64",
        "l_linenumber": "INT64",
        "l_quantity": "NUMERIC",
        "l_extendedprice": "NUMERIC",
        "l_discount": "NUMERIC",
        "l_tax": "NUMERIC",
        "l_returnflag": "STRING",
        "l_linestatus": "STRING",
        "l_shipdate": "DATE",
        "l_commitdate": "DATE",
        "l_receiptdate": "DATE",
        "l_shipinstruct": "STRING",
        "l_shipmode": "STRING",
        "l_comment": "STRING",
    },
}

PRIMARY_KEYS: dict[str, list[str]] = {
    "region": ["r_regionkey"],
    "nation": ["n_nationkey"],
    "part": ["p_partkey"],
    "supplier": ["s_suppkey"],
    "partsupp": ["ps_partkey", "ps_suppkey"],
    "customer": ["c_custkey"],
    "orders": ["o_orderkey"],
    "lineitem": ["l_orderkey", "l_linenumber"],
}


@dataclass(frozen=True)
class TpchForeignKey:
    table: str
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"fk_{self.table}_{'_'.join(self.columns)}"


FOREIGN_KEYS: tuple[TpchForeignKey, ...] = (
    TpchForeignKey("nation", ("n_regionkey",), "region", ("r_regionkey",)),
    TpchForeignKey("supplier", ("s_nationkey",), "nation", ("n_nationkey",)),
    TpchForeignKey("customer", ("c_nationkey",), "nation", ("n_nationkey",)),
    TpchForeignKey("partsupp", ("ps_partkey",), "part", ("p_partkey",)),
    TpchForeignKey("partsupp", ("ps_suppkey",), "supplier", ("s_suppkey",)),
    TpchForeignKey("orders", ("o_custkey",), "customer", ("c_custkey",)),
    TpchForeignKey("lineitem", ("l_orderkey",), "orders", ("o_orderkey",)),
    TpchForeignKey("lineitem", ("l_partkey",), "part", ("p_partkey",)),
    TpchForeignKey("lineitem", ("l_suppkey",), "supplier", ("s_suppkey",)),
    TpchForeignKey("lineitem", ("l_partkey", "l_suppkey"), "partsupp", ("ps_partkey", "ps_suppkey")),
)

# Parents before children, so CREATE TABLE ... REFERENCES always names an existing table.
TABLE_ORDER = ("region", "nation", "part", "supplier", "partsupp", "customer", "orders", "lineitem")


def ddl(project: str, dataset: str, table: str) -> str:
    """CREATE TABLE with every column NOT NULL (dbgen emits no NULLs) and the spec's keys, NOT ENFORCED."""
    parts = [f"{name} {type_} NOT NULL" for name, type_ in COLUMNS[table].items()]
    parts.append(f"PRIMARY KEY ({', '.join(PRIMARY_KEYS[table])}) NOT ENFORCED")
    for fk in FOREIGN_KEYS:
        if fk.table == table:
            parts.append(
                f"CONSTRAINT {fk.name} FOREIGN KEY ({', '.join(fk.columns)}) "
                f"REFERENCES `{project}.{dataset}.{fk.ref_table}`({', '.join(fk.ref_columns)}) NOT ENFORCED"
            )
    body = ",\n  ".join(parts)
    return f"CREATE TABLE `{project}.{dataset}.{table}` (\n  {body}\n)"
