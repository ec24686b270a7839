"""TPC-DS (24 tables; role-playing `*_date_sk` / `*_customer_sk`, composite sales and returns keys).

Rows: DuckDB's tpcds extension (dsdgen), run in a throwaway venv that this module creates under
benchmarks/.bench/keybench-tpcds from the pins in benchmarks/requirements-key-inference.txt
(duckdb==1.5.5 and the PyPI wheel duckdb-extension-tpcds==1.5.5, same duckdb as the emulator venv;
the project venv stays without duckdb). Scale factor 0.01, whole: 24 tables, 277,976 rows.

Ground truth: TPC-DS Standard Specification v3.2.0, clause 2.3 (fact tables) and 2.4 (dimension
tables): the "Primary Key" marks and the "Foreign Key" column of each table's definition, written out
below by table. Cross-checked with the TPC kit's tools/tpcds_ri.sql (Gradient Systems), which has the
same single-column references plus one to a column absent from the schema (catalog_page.cp_promo_id,
left out here) and one to c_last_review_date, the column's name before it became c_last_review_date_sk
(included here as c_last_review_date_sk -> date_dim, as other published TPC-DS DDLs declare it), and omits
three the specification lists: web_page.wp_customer_sk -> customer and the
returns -> sales references (sr_item_sk, sr_ticket_number) -> store_sales, (cr_item_sk,
cr_order_number) -> catalog_sales, (wr_item_sk, wr_order_number) -> web_sales, included here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from duckdb_schemas import CACHE, _read
from truth import ForeignKey, Schema

BENCHMARKS = Path(__file__).resolve().parents[1]
VENV = BENCHMARKS / ".bench" / "keybench-tpcds"
PINS = ("duckdb==1.5.5", "duckdb-extensions==1.5.5", "duckdb-extension-tpcds==1.5.5")

PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "call_center": ("cc_call_center_sk",),
    "catalog_page": ("cp_catalog_page_sk",),
    "catalog_returns": ("cr_item_sk", "cr_order_number"),
    "catalog_sales": ("cs_item_sk", "cs_order_number"),
    "customer": ("c_customer_sk",),
    "customer_address": ("ca_address_sk",),
    "customer_demographics": ("cd_demo_sk",),
    "date_dim": ("d_date_sk",),
    "household_demographics": ("hd_demo_sk",),
    "income_band": ("ib_income_band_sk",),
    "inventory": ("inv_date_sk", "inv_item_sk", "inv_warehouse_sk"),
    "item": ("i_item_sk",),
    "promotion": ("p_promo_sk",),
    "reason": ("r_reason_sk",),
    "ship_mode": ("sm_ship_mode_sk",),
    "store": ("s_store_sk",),
    "store_returns": ("sr_item_sk", "sr_ticket_number"),
    "store_sales": ("ss_item_sk", "ss_ticket_number"),
    "time_dim": ("t_time_sk",),
    "warehouse": ("w_warehouse_sk",),
    "web_page": ("wp_web_page_sk",),
    "web_returns": ("wr_item_sk", "wr_order_number"),
    "web_sales": ("ws_item_sk", "ws_order_number"),
    "web_site": ("web_site_sk",),
}

# Single-column references, "child_table: column>parent_table ..." (the parent column is its key).
_D, _T, _C, _A = "date_dim", "time_dim", "customer", "customer_address"
_CD, _HD, _I = "customer_demographics", "household_demographics", "item"
_REFERENCES = f"""
call_center: cc_closed_date_sk>{_D} cc_open_date_sk>{_D}
catalog_page: cp_start_date_sk>{_D} cp_end_date_sk>{_D}
catalog_returns: cr_returned_date_sk>{_D} cr_returned_time_sk>{_T} cr_item_sk>{_I} cr_refunded_customer_sk>{_C}
  cr_refunded_cdemo_sk>{_CD} cr_refunded_hdemo_sk>{_HD} cr_refunded_addr_sk>{_A} cr_returning_customer_sk>{_C}
  cr_returning_cdemo_sk>{_CD} cr_returning_hdemo_sk>{_HD} cr_returning_addr_sk>{_A} cr_call_center_sk>call_center
  cr_catalog_page_sk>catalog_page cr_ship_mode_sk>ship_mode cr_warehouse_sk>warehouse cr_reason_sk>reason
catalog_sales: cs_sold_date_sk>{_D} cs_sold_time_sk>{_T} cs_ship_date_sk>{_D} cs_bill_customer_sk>{_C}
  cs_bill_cdemo_sk>{_CD} cs_bill_hdemo_sk>{_HD} cs_bill_addr_sk>{_A} cs_ship_customer_sk>{_C} cs_ship_cdemo_sk>{_CD}
  cs_ship_hdemo_sk>{_HD} cs_ship_addr_sk>{_A} cs_call_center_sk>call_center cs_catalog_page_sk>catalog_page
  cs_ship_mode_sk>ship_mode cs_warehouse_sk>warehouse cs_item_sk>{_I} cs_promo_sk>promotion
customer: c_current_cdemo_sk>{_CD} c_current_hdemo_sk>{_HD} c_current_addr_sk>{_A} c_first_shipto_date_sk>{_D}
  c_first_sales_date_sk>{_D} c_last_review_date_sk>{_D}
household_demographics: hd_income_band_sk>income_band
inventory: inv_date_sk>{_D} inv_item_sk>{_I} inv_warehouse_sk>warehouse
promotion: p_start_date_sk>{_D} p_end_date_sk>{_D} p_item_sk>{_I}
store: s_closed_date_sk>{_D}
store_returns: sr_returned_date_sk>{_D} sr_return_time_sk>{_T} sr_item_sk>{_I} sr_customer_sk>{_C} sr_cdemo_sk>{_CD}
  sr_hdemo_sk>{_HD} sr_addr_sk>{_A} sr_store_sk>store sr_reason_sk>reason
store_sales: ss_sold_date_sk>{_D} ss_sold_time_sk>{_T} ss_item_sk>{_I} ss_customer_sk>{_C} ss_cdemo_sk>{_CD}
  ss_hdemo_sk>{_HD} ss_addr_sk>{_A} ss_store_sk>store ss_promo_sk>promotion
web_page: wp_creation_date_sk>{_D} wp_access_date_sk>{_D} wp_customer_sk>{_C}
web_returns: wr_returned_date_sk>{_D} wr_returned_time_sk>{_T} wr_item_sk>{_I} wr_refunded_customer_sk>{_C}
  wr_refunded_cdemo_sk>{_CD} wr_refunded_hdemo_sk>{_HD} wr_refunded_addr_sk>{_A} wr_returning_customer_sk>{_C}
  wr_returning_cdemo_sk>{_CD} wr_returning_hdemo_sk>{_HD} wr_returning_addr_sk>{_A} wr_web_page_sk>web_page
  wr_reason_sk>reason
web_sales: ws_sold_date_sk>{_D} ws_sold_time_sk>{_T} ws_ship_date_sk>{_D} ws_item_sk>{_I} ws_bill_customer_sk>{_C}
  ws_bill_cdemo_sk>{_CD} ws_bill_hdemo_sk>{_HD} ws_bill_addr_sk>{_A} ws_ship_customer_sk>{_C} ws_ship_cdemo_sk>{_CD}
  ws_ship_hdemo_sk>{_HD} ws_ship_addr_sk>{_A} ws_web_page_sk>web_page ws_web_site_sk>web_site
  ws_ship_mode_sk>ship_mode ws_warehouse_sk>warehouse ws_promo_sk>promotion
web_site: web_open_date_sk>{_D} web_close_date_sk>{_D}
"""
# A return names the sale it returns: (item, ticket/order number) -> the sales table's key.
_RETURNS = {"store_returns": "store_sales", "catalog_returns": "catalog_sales", "web_returns": "web_sales"}


def foreign_keys() -> tuple[ForeignKey, ...]:
    fks, table = [], ""
    for token in _REFERENCES.split():
        if token.endswith(":"):
            table = token[:-1]
            continue
        column, parent = token.split(">")
        fks.append(ForeignKey(table, (column,), parent, PRIMARY_KEYS[parent]))
    fks += [ForeignKey(r, PRIMARY_KEYS[r], s, PRIMARY_KEYS[s]) for r, s in _RETURNS.items()]
    return tuple(fks)


def _venv_python() -> Path:
    """benchmarks/.bench/keybench-tpcds with the pinned duckdb + tpcds extension wheel (created once)."""
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PINS], check=True)
    return python


def tpcds(scale: float = 0.01) -> Schema:
    out = CACHE / f"tpcds_sf{scale}"
    if not (out / "types.json").exists():
        script = Path(__file__).with_name("duckdb_export.py")
        subprocess.run([str(_venv_python()), str(script), "tpcds", str(scale), str(out)], check=True)
    types, rows = _read(out)
    types = {t: types[t] for t in sorted(types, key=_parents_first)}
    return Schema("tpcds", types, rows, dict(PRIMARY_KEYS), foreign_keys(), notes=f"dsdgen sf={scale}, whole")


def _parents_first(table: str) -> tuple[int, str]:
    """Dimensions before facts (emulator.load declares REFERENCES to existing tables)."""
    return (1 if table in ("inventory", *_RETURNS, *_RETURNS.values()) else 0, table)
