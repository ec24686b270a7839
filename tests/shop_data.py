"""A second, differently shaped source dataset: a small European web shop.

It exists to show that bqsynth works on any multi-table dataset loaded into BigQuery,
not just on the demo warehouse it was developed against. Where the demo uses
``Dim_``/``Fact_`` prefixes, INT64 surrogate keys named ``<entity>_id`` and US data,
this shop has lower_snake plural table names, a STRING primary key that is declared
(``customers.cust_no`` = ``C000123``) and one that is not (``products.sku`` =
``SKU-48213``), a composite declared primary key (``order_lines(order_id, line_no)``),
undeclared references whose names are not ``<entity>_id`` (``orders.cust_no``,
``order_lines.sku``), UK phone numbers and postcodes, a RECORD and a REPEATED column.

Every value comes from ``random.Random`` seeded per table; all dates hang off fixed
anchors, so the same seed always gives the same rows. Every real key, declared or
not, is listed on :class:`ShopTable` as the ground truth tests check against.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from google.cloud import bigquery

from demo.warehouse import Column

Row = dict[str, Any]

SIGNUP_START, SIGNUP_END = date(2019, 1, 1), date(2024, 6, 30)
ORDER_START, ORDER_END = datetime(2023, 1, 1, tzinfo=UTC), datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC)
ORDER_ID_BASE = 5_000_001

BASE_COUNTS = {"customers": 200, "products": 60, "orders": 500}  # order_lines: 1 to 4 per order


@dataclass(frozen=True)
class Reference:
    """A real reference from ``columns`` to ``ref_table.ref_columns``; only some are declared."""

    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    declared: bool


@dataclass(frozen=True)
class ShopTable:
    """A table's columns, its true keys (declared or not) and its JSON-ready rows."""

    name: str
    columns: tuple[Column, ...]
    rows: list[Row] = field(repr=False)
    primary_key: tuple[str, ...] = ()
    primary_key_declared: bool = False
    references: tuple[Reference, ...] = ()

    def ddl(self, project: str, dataset: str) -> str:
        parts = [c.ddl() for c in self.columns]
        if self.primary_key and self.primary_key_declared:
            parts.append(f"PRIMARY KEY ({', '.join(self.primary_key)}) NOT ENFORCED")
        for ref in self.references:
            if ref.declared:
                parts.append(
                    f"CONSTRAINT fk_{self.name}_{'_'.join(ref.columns)} FOREIGN KEY ({', '.join(ref.columns)}) "
                    f"REFERENCES `{project}.{dataset}.{ref.ref_table}`({', '.join(ref.ref_columns)}) NOT ENFORCED"
                )
        body = ",\n  ".join(parts)
        return f"CREATE TABLE `{project}.{dataset}.{self.name}` (\n  {body}\n)"

    def schema(self) -> list[bigquery.SchemaField]:
        return [c.schema_field() for c in self.columns]


# ------------------------------------------------------------------ vocabularies

FIRST_NAMES = (
    "Oliver Amelia George Isla Harry Ava Noah Mia Jack Ivy Leo Freya Arthur Lily Muhammad Florence "
    "Oscar Willow Charlie Rosie Finn Sophie Aoife Cian Siobhan Padraig Camille Louis Chloe Hugo Lea "
    "Jules Lukas Hannah Felix Emma Lena Jonas Daan Sanne Bram Lotte Lucia Mateo Carmen Pablo"
).split()
LAST_NAMES = (
    "Smith Jones Taylor Brown Williams Wilson Johnson Davies Patel Robinson Wright Thompson Evans Walker "
    "White Roberts Green Hall Wood Jackson Clarke Murphy Kelly Byrne Ryan OBrien Walsh Dubois Martin "
    "Bernard Petit Durand Leroy Muller Schmidt Schneider Fischer Weber DeJong Jansen DeVries Bakker "
    "Garcia Fernandez Lopez Martinez"
).split()
EMAIL_DOMAINS = {"example.co.uk": 55, "example.com": 30, "example.ie": 10, "example.fr": 5}
LOYALTY_TIERS = {"bronze": 55, "silver": 28, "gold": 12, "platinum": 5}
COUNTRIES = {
    "United Kingdom": 60,
    "Ireland": 12,
    "France": 10,
    "Germany": 10,
    "Netherlands": 5,
    "Spain": 3,
}
CATEGORIES = {"Kitchen": 35, "Garden": 20, "Bath": 15, "Lighting": 15, "Textiles": 15}
TITLE_WORDS = {
    "Kitchen": ("Chopping Board", "Chef Knife", "Mixing Bowl", "Tea Towel Set", "Espresso Cups", "Salad Servers"),
    "Garden": ("Watering Can", "Planter", "Trowel", "Bird Feeder", "Hose Reel", "Seed Tray"),
    "Bath": ("Bath Mat", "Soap Dish", "Towel Rail", "Shower Caddy", "Bath Robe", "Toothbrush Holder"),
    "Lighting": ("Table Lamp", "Pendant Shade", "Floor Lamp", "String Lights", "Candle Holder", "Wall Sconce"),
    "Textiles": ("Throw Blanket", "Cushion Cover", "Linen Napkins", "Duvet Cover", "Table Runner", "Rug"),
}
MATERIALS = ("Oak", "Walnut", "Bamboo", "Linen", "Ceramic", "Copper", "Stoneware", "Rattan", "Wool", "Brass")
ORDER_STATUS = {"delivered": 70, "shipped": 12, "processing": 8, "cancelled": 6, "returned": 4}
# (city, postcode area letters) -- postcodes are generated in the area's shape (``SW1A 1AA``-like).
CITIES = (
    ("London", ("SW", "SE", "N", "E", "W", "NW")),
    ("Manchester", ("M",)),
    ("Birmingham", ("B",)),
    ("Leeds", ("LS",)),
    ("Glasgow", ("G",)),
    ("Bristol", ("BS",)),
    ("Edinburgh", ("EH",)),
    ("Cardiff", ("CF",)),
    ("Dublin", ("D",)),
    ("Brighton", ("BN",)),
)
CITY_WEIGHTS = (30, 12, 10, 8, 8, 7, 7, 6, 6, 6)
COUPONS = {"WELCOME10": 40, "FREESHIP": 30, "SPRING15": 15, "VIP20": 10, "SUMMER5": 5}
COUPON_COUNT = {0: 70, 1: 25, 2: 5}
LINES_PER_ORDER = {1: 40, 2: 30, 3: 20, 4: 10}
QUANTITY = {1: 60, 2: 25, 3: 8, 4: 4, 5: 3}

CUSTOMER_COLUMNS = (
    Column("cust_no", "STRING", "REQUIRED"),
    Column("full_name", "STRING"),
    Column("email_address", "STRING"),
    Column("mobile", "STRING"),
    Column("signup_date", "DATE"),
    Column("loyalty_tier", "STRING"),
    Column("country", "STRING"),
)
PRODUCT_COLUMNS = (
    Column("sku", "STRING", "REQUIRED"),
    Column("title", "STRING"),
    Column("category", "STRING"),
    Column("unit_price", "NUMERIC"),
    Column("weight_kg", "FLOAT64"),
    Column("active", "BOOL"),
)
ORDER_COLUMNS = (
    Column("order_id", "INT64", "REQUIRED"),
    Column("cust_no", "STRING"),
    Column("ordered_at", "TIMESTAMP"),
    Column("status", "STRING"),
    Column("shipping", "STRUCT", fields=(Column("city", "STRING"), Column("zip", "STRING"))),
    Column("coupon_codes", "STRING", "REPEATED"),
)
ORDER_LINE_COLUMNS = (
    Column("order_id", "INT64", "REQUIRED"),
    Column("line_no", "INT64", "REQUIRED"),
    Column("sku", "STRING"),
    Column("quantity", "INT64"),
    Column("discount", "NUMERIC"),
)

# The shop's identifying columns (dotted paths for RECORD fields): no source value may reach a target.
IDENTIFYING = {
    "customers": ("full_name", "email_address", "mobile"),
    "orders": ("shipping.city", "shipping.zip"),
}


# ---------------------------------------------------------------------- builders


def _rng(seed: int, table: str) -> random.Random:
    return random.Random(f"bqsynth-shop:{seed}:{table}")


def _pick(rng: random.Random, weights: dict[Any, float]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _scaled(base: int, scale: float) -> int:
    return max(1, round(base * scale))


def _customers(rng: random.Random, n: int) -> list[Row]:
    rows: list[Row] = []
    number = 100
    emails: set[str] = set()
    for _ in range(n):
        number += rng.randint(1, 4)  # gaps: deleted accounts
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first}.{last}".lower() + "@" + _pick(rng, EMAIL_DOMAINS)
        while email in emails:
            email = f"{first}.{last}{rng.randint(2, 99)}".lower() + "@" + _pick(rng, EMAIL_DOMAINS)
        emails.add(email)
        signup = SIGNUP_START + timedelta(days=rng.randint(0, (SIGNUP_END - SIGNUP_START).days))
        rows.append(
            {
                "cust_no": f"C{number:06d}",
                "full_name": f"{first} {last}",
                "email_address": email,
                "mobile": None if rng.random() < 0.08 else f"+44 7{rng.randint(100, 999)} {rng.randint(0, 999999):06d}",
                "signup_date": signup.isoformat(),
                "loyalty_tier": _pick(rng, LOYALTY_TIERS),
                "country": _pick(rng, COUNTRIES),
            }
        )
    return rows


def _products(rng: random.Random, n: int) -> list[Row]:
    skus = rng.sample(range(10000, 100000), n)
    rows: list[Row] = []
    for sku in skus:
        category = _pick(rng, CATEGORIES)
        price = Decimal(round(rng.lognormvariate(3.2, 0.7) * 100)).scaleb(-2)
        rows.append(
            {
                "sku": f"SKU-{sku}",
                "title": f"{rng.choice(MATERIALS)} {rng.choice(TITLE_WORDS[category])}",
                "category": category,
                "unit_price": str(max(price, Decimal("1.50"))),
                "weight_kg": None if rng.random() < 0.15 else round(rng.lognormvariate(0.0, 0.8), 3),
                "active": rng.random() < 0.85,
            }
        )
    return rows


def _postcode(rng: random.Random, areas: tuple[str, ...]) -> str:
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    return f"{rng.choice(areas)}{rng.randint(1, 20)} {rng.randint(1, 9)}{rng.choice(letters)}{rng.choice(letters)}"


def _orders(rng: random.Random, n: int, customers: list[Row]) -> list[Row]:
    # A few loyal customers place many orders: Zipf-like weights over a shuffled customer list.
    ranked = [c["cust_no"] for c in customers]
    rng.shuffle(ranked)
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(ranked))]
    span = int((ORDER_END - ORDER_START).total_seconds())
    moments = sorted(ORDER_START + timedelta(seconds=rng.randint(0, span)) for _ in range(n))
    rows: list[Row] = []
    for index, moment in enumerate(moments):
        city, areas = rng.choices(CITIES, weights=CITY_WEIGHTS)[0]
        coupons = rng.sample(list(COUPONS), _pick(rng, COUPON_COUNT))
        rows.append(
            {
                "order_id": ORDER_ID_BASE + index,
                "cust_no": rng.choices(ranked, weights=weights)[0],
                "ordered_at": moment.isoformat(sep=" "),
                "status": _pick(rng, ORDER_STATUS),
                "shipping": {"city": city, "zip": _postcode(rng, areas)},
                "coupon_codes": coupons,
            }
        )
    return rows


def _order_lines(rng: random.Random, orders: list[Row], products: list[Row]) -> list[Row]:
    skus = [p["sku"] for p in products]
    popularity = [1.0 / (rank + 1) ** 0.6 for rank in range(len(skus))]
    rows: list[Row] = []
    for order in orders:
        for line_no in range(1, _pick(rng, LINES_PER_ORDER) + 1):
            rows.append(
                {
                    "order_id": order["order_id"],
                    "line_no": line_no,
                    "sku": rng.choices(skus, weights=popularity)[0],
                    "quantity": _pick(rng, QUANTITY),
                    "discount": None if rng.random() < 0.7 else str(Decimal(rng.randint(50, 1500)).scaleb(-2)),
                }
            )
    return rows


def build_shop_tables(seed: int = 11, scale: float = 1.0) -> list[ShopTable]:
    """The shop in memory, parents before children. Pure and deterministic."""
    counts = {k: _scaled(v, scale) for k, v in BASE_COUNTS.items()}
    customers = _customers(_rng(seed, "customers"), counts["customers"])
    products = _products(_rng(seed, "products"), counts["products"])
    orders = _orders(_rng(seed, "orders"), counts["orders"], customers)
    lines = _order_lines(_rng(seed, "order_lines"), orders, products)
    return [
        ShopTable("customers", CUSTOMER_COLUMNS, customers, primary_key=("cust_no",), primary_key_declared=True),
        ShopTable("products", PRODUCT_COLUMNS, products, primary_key=("sku",), primary_key_declared=False),
        ShopTable(
            "orders",
            ORDER_COLUMNS,
            orders,
            primary_key=("order_id",),
            primary_key_declared=True,
            references=(Reference(("cust_no",), "customers", ("cust_no",), declared=False),),
        ),
        ShopTable(
            "order_lines",
            ORDER_LINE_COLUMNS,
            lines,
            primary_key=("order_id", "line_no"),
            primary_key_declared=True,
            references=(
                Reference(("order_id",), "orders", ("order_id",), declared=True),
                Reference(("sku",), "products", ("sku",), declared=False),
            ),
        ),
    ]


def load_shop_dataset(client: bigquery.Client, project: str, dataset: str, tables: Sequence[ShopTable]) -> None:
    """Create ``dataset``, the tables (DDL with their declared keys) and load the rows (one NDJSON job each)."""
    client.create_dataset(bigquery.Dataset(f"{project}.{dataset}"), exists_ok=True)
    for table in tables:
        client.query(table.ddl(project, dataset)).result()
    jobs = [
        client.load_table_from_json(
            table.rows,
            f"{project}.{dataset}.{table.name}",
            job_config=bigquery.LoadJobConfig(
                schema=table.schema(),
                source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
                write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
            ),
        )
        for table in tables
    ]
    for job in jobs:
        job.result()
