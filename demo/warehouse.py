"""A seeded, self-contained retail-bank warehouse to run bqsynth against.

Nothing is downloaded: every value comes from small embedded vocabularies and a
``random.Random`` seeded per table, so the same ``(seed, scale)`` always yields
byte-identical rows, today and next year (all dates hang off fixed anchors, never
``date.today()``).

The schema is deliberately awkward in the ways real warehouses are: some keys are
declared (``PRIMARY KEY``/``FOREIGN KEY ... NOT ENFORCED``), others are real but
undeclared (``Dim_Account.branch_id``, everything in ``Fact_Transaction``, the
``Dim_Employee.manager_id`` self-reference); categoricals are skewed; some columns
are nullable at known rates; identifying columns (names, emails, phones, addresses,
account numbers, card holders) are synthetic but shaped like the real thing. Every
relationship, declared or not, is listed on :class:`DemoTable` so tests and
benchmarks have a ground truth.

Loaded by ``python -m demo`` (see ``demo/__main__.py``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from google.cloud import bigquery

Row = dict[str, Any]

DEFAULT_DATASET = "bqsynth_demo_src"

# Fixed anchors rather than "now" so that output never drifts from one day to the next.
HISTORY_START = date(2005, 1, 1)
ACCOUNT_WINDOW_END = date(2024, 6, 30)
TXN_WINDOW_START = datetime(2023, 1, 1)
TXN_WINDOW_END = datetime(2024, 12, 31, 23, 59, 59)
AS_OF = date(2024, 12, 31)
DOB_RANGE = (date(1942, 1, 1), date(2004, 12, 31))

# Disjoint id ranges: if every key ran 1..N, any integer column would "contain" any
# other and key discovery on this data would be meaningless.
BRANCH_ID_BASE = 101
EMPLOYEE_ID_BASE = 5001
CUSTOMER_ID_BASE = 100001
ACCOUNT_ID_BASE = 70000001
CARD_ID_BASE = 3000001
TRANSACTION_ID_BASE = 900000001

BASE_COUNTS = {"branches": 40, "customers": 300, "products": 60, "accounts": 450, "transactions": 3000}


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Column:
    """One column: GoogleSQL type name (``STRUCT`` for records) and BigQuery mode."""

    name: str
    type: str
    mode: str = "NULLABLE"
    fields: tuple[Column, ...] = ()

    def ddl_type(self) -> str:
        if self.type == "STRUCT":
            inner = ", ".join(f"{f.name} {f.ddl_type()}" for f in self.fields)
            base = f"STRUCT<{inner}>"
        else:
            base = self.type
        return f"ARRAY<{base}>" if self.mode == "REPEATED" else base

    def ddl(self) -> str:
        not_null = " NOT NULL" if self.mode == "REQUIRED" else ""
        return f"{self.name} {self.ddl_type()}{not_null}"

    def schema_field(self) -> bigquery.SchemaField:
        field_type = "RECORD" if self.type == "STRUCT" else self.type
        return bigquery.SchemaField(
            self.name, field_type, mode=self.mode, fields=[f.schema_field() for f in self.fields]
        )


@dataclass(frozen=True)
class ForeignKey:
    """A real reference from ``column`` to ``ref_table.ref_column``; only some are declared."""

    column: str
    ref_table: str
    ref_column: str
    declared: bool

    def constraint_name(self, table: str) -> str:
        return f"fk_{table}_{self.column}".lower()


@dataclass(frozen=True)
class DemoTable:
    """A table's columns, its true keys (declared or not) and its JSON-ready rows."""

    name: str
    columns: tuple[Column, ...]
    rows: list[Row] = field(repr=False)
    primary_key: str | None = None
    primary_key_declared: bool = False
    foreign_keys: tuple[ForeignKey, ...] = ()

    @property
    def declared_foreign_keys(self) -> tuple[ForeignKey, ...]:
        return tuple(fk for fk in self.foreign_keys if fk.declared)

    def ddl(self, project: str, dataset: str) -> str:
        parts = [c.ddl() for c in self.columns]
        if self.primary_key and self.primary_key_declared:
            parts.append(f"PRIMARY KEY ({self.primary_key}) NOT ENFORCED")
        for fk in self.declared_foreign_keys:
            parts.append(
                f"CONSTRAINT {fk.constraint_name(self.name)} FOREIGN KEY ({fk.column}) "
                f"REFERENCES `{project}.{dataset}.{fk.ref_table}`({fk.ref_column}) NOT ENFORCED"
            )
        body = ",\n  ".join(parts)
        return f"CREATE TABLE `{project}.{dataset}.{self.name}` (\n  {body}\n)"

    def schema(self) -> list[bigquery.SchemaField]:
        return [c.schema_field() for c in self.columns]


# ------------------------------------------------------------------ reference data


def _words(text: str, sep: str | None = None) -> tuple[str, ...]:
    # Vocabularies as one string: a formatter would otherwise spread them one word per line.
    return tuple(w.strip() for w in text.split(sep) if w.strip())


@dataclass(frozen=True)
class City:
    name: str
    state: str
    latitude: float
    longitude: float
    zip_prefix: str
    area_code: str


CITIES: tuple[City, ...] = (
    City("Los Angeles", "CA", 34.0522, -118.2437, "900", "213"),
    City("San Francisco", "CA", 37.7749, -122.4194, "941", "415"),
    City("San Diego", "CA", 32.7157, -117.1611, "921", "619"),
    City("Sacramento", "CA", 38.5816, -121.4944, "958", "916"),
    City("San Jose", "CA", 37.3382, -121.8863, "951", "408"),
    City("Houston", "TX", 29.7604, -95.3698, "770", "713"),
    City("Dallas", "TX", 32.7767, -96.7970, "752", "214"),
    City("Austin", "TX", 30.2672, -97.7431, "787", "512"),
    City("San Antonio", "TX", 29.4241, -98.4936, "782", "210"),
    City("New York", "NY", 40.7128, -74.0060, "100", "212"),
    City("Buffalo", "NY", 42.8864, -78.8784, "142", "716"),
    City("Albany", "NY", 42.6526, -73.7562, "122", "518"),
    City("Miami", "FL", 25.7617, -80.1918, "331", "305"),
    City("Orlando", "FL", 28.5383, -81.3792, "328", "407"),
    City("Tampa", "FL", 27.9506, -82.4572, "336", "813"),
    City("Chicago", "IL", 41.8781, -87.6298, "606", "312"),
    City("Springfield", "IL", 39.7817, -89.6501, "627", "217"),
    City("Seattle", "WA", 47.6062, -122.3321, "981", "206"),
    City("Spokane", "WA", 47.6588, -117.4260, "992", "509"),
    City("Atlanta", "GA", 33.7490, -84.3880, "303", "404"),
    City("Boston", "MA", 42.3601, -71.0589, "021", "617"),
    City("Denver", "CO", 39.7392, -104.9903, "802", "303"),
    City("Phoenix", "AZ", 33.4484, -112.0740, "850", "602"),
    City("Portland", "OR", 45.5152, -122.6784, "972", "503"),
    City("Charlotte", "NC", 35.2271, -80.8431, "282", "704"),
)
STATE_WEIGHTS = {
    "CA": 26,
    "TX": 18,
    "NY": 14,
    "FL": 11,
    "IL": 7,
    "WA": 5,
    "GA": 4,
    "MA": 4,
    "CO": 3,
    "AZ": 3,
    "OR": 3,
    "NC": 2,
}
REGION_OF_STATE = {
    "CA": "West",
    "WA": "West",
    "OR": "West",
    "AZ": "West",
    "CO": "West",
    "TX": "South",
    "FL": "South",
    "GA": "South",
    "NC": "South",
    "NY": "Northeast",
    "MA": "Northeast",
    "IL": "Midwest",
}
REGIONS = ("West", "South", "Northeast", "Midwest")

FIRST_NAMES = _words(
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard "
    "Susan Joseph Jessica Thomas Sarah Carlos Karen Daniel Lisa Matthew Nancy Anthony Betty Mark "
    "Sandra Steven Ashley Andrew Emily Kevin Michelle Brian Amanda Wei Priya Jose Maria Ahmed Fatima "
    "Hiroshi Yuki Olga Ivan Aisha Kwame Sofia Lucas"
)
LAST_NAMES = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Nguyen Hill Flores "
    "Green Patel Chen Kim Singh Tanaka Ivanova Okafor Mensah Rossi Silva"
)
STREET_NAMES = _words(
    "Oak Maple Pine Cedar Elm Main Washington Lake Hill Park Sunset River Church Highland Spring "
    "Forest Meadow Ridge Willow Jefferson"
)
STREET_SUFFIXES = ("St", "Ave", "Blvd", "Rd", "Ln", "Dr", "Ct", "Way")
EMAIL_DOMAINS = {"example.com": 70, "example.net": 20, "example.org": 10}

SEGMENT_WEIGHTS = {"Retail": 70, "Premier": 20, "Business": 8, "Private": 2}
SEGMENT_CREDIT_MEAN = {"Retail": 685, "Premier": 740, "Business": 710, "Private": 780}
SEGMENT_WEALTH = {"Retail": 1.0, "Premier": 4.0, "Business": 6.0, "Private": 20.0}
TAG_VOCABULARY = _words(
    "vip student mortgage_prospect high_net_worth fraud_watch newsletter small_business digital_first"
)
TAG_COUNT_WEIGHTS = {0: 40, 1: 35, 2: 18, 3: 7}
CHANNEL_PREFERENCE_WEIGHTS = {"Mobile": 45, "Online": 30, "Branch": 15, "Phone": 10}


@dataclass(frozen=True)
class ProductKind:
    catalogue_weight: int
    account_weight: int
    rate_range: tuple[float, float]
    monthly_fees: tuple[int, ...]
    name_prefixes: tuple[str, ...]
    name_suffix: str


_TIERS = _words(
    "Everyday, Essential, Premier, Select, Advantage, Preferred, Platinum, Classic, Student, Business, "
    "Private Client, Youth",
    sep=",",
)
PRODUCT_KINDS: dict[str, ProductKind] = {
    "Checking": ProductKind(10, 40, (0.0, 0.5), (0, 0, 5, 12, 15, 25), _TIERS, "Checking"),
    "Savings": ProductKind(8, 22, (0.25, 4.5), (0, 0, 0, 5), _TIERS, "Savings"),
    "Money Market": ProductKind(
        4,
        5,
        (1.0, 4.75),
        (0, 10, 15),
        ("Select", "Premier", "Platinum", "Business", "Private Client"),
        "Money Market",
    ),
    "Certificate of Deposit": ProductKind(
        9,
        6,
        (2.5, 5.25),
        (0,),
        ("3-Month", "6-Month", "9-Month", "12-Month", "18-Month", "24-Month", "36-Month", "60-Month"),
        "CD",
    ),
    "Credit Card": ProductKind(
        8,
        15,
        (14.99, 29.99),
        (0,),
        ("Cash Back", "Travel Rewards", "Platinum", "Secured", "Student", "Business"),
        "Card",
    ),
    "Mortgage": ProductKind(
        6,
        5,
        (5.25, 7.75),
        (0,),
        ("15-Year Fixed", "30-Year Fixed", "5/1 ARM", "7/1 ARM", "Jumbo 30-Year"),
        "Mortgage",
    ),
    "Personal Loan": ProductKind(
        4, 3, (7.5, 19.9), (0,), ("Debt Consolidation", "Home Improvement", "Flex"), "Personal Loan"
    ),
    "Auto Loan": ProductKind(4, 4, (4.9, 11.5), (0,), ("New Auto", "Used Auto", "Auto Refinance"), "Loan"),
}
DEPOSIT_BALANCE = {
    "Checking": (7.8, 1.1),
    "Savings": (9.0, 1.2),
    "Money Market": (10.1, 1.0),
    "Certificate of Deposit": (9.9, 0.8),
}  # lognormal (mu, sigma) of the balance
LOAN_BALANCE = {
    "Credit Card": (0, 6000),
    "Mortgage": (80000, 650000),
    "Personal Loan": (1000, 25000),
    "Auto Loan": (5000, 45000),
}

ACCOUNT_STATUS_WEIGHTS = {"Open": 85, "Dormant": 10, "Closed": 5}
OVERDRAFT_LIMITS = {250.0: 20, 500.0: 40, 1000.0: 25, 2500.0: 15}

BRANCH_SUFFIXES = _words(
    "Main Downtown Northgate Riverside Midtown Westside Eastside Uptown Harbor Airport University Lakeside"
)
STAFF_TITLES = {"Teller": 45, "Personal Banker": 30, "Loan Officer": 15, "Relationship Manager": 10}
SALARY_RANGES = {
    "Chief Executive Officer": (450000, 650000),
    "Regional Manager": (160000, 220000),
    "Branch Manager": (85000, 130000),
    "Teller": (34000, 46000),
    "Personal Banker": (48000, 68000),
    "Loan Officer": (55000, 90000),
    "Relationship Manager": (70000, 110000),
}

CARD_NETWORK_WEIGHTS = {"Visa": 55, "Mastercard": 35, "Amex": 7, "Discover": 3}
CREDIT_LIMITS = (1000, 2500, 5000, 7500, 10000, 15000, 25000)

# Fictional merchants, listed most-popular first so a Zipf weight gives realistic concentration.
MERCHANTS = _words(
    "Corner Market, Metro Fuel, Bean There Coffee, Sunrise Grocery, QuickStop Gas, Harbor Pharmacy, "
    "Pixel Streaming, CityRide Transit, The Daily Grind, Northwind Electronics, Golden Wok, "
    "Maple Leaf Diner, Urban Threads, FitLife Gym, BrightHome Utilities, Summit Outdoor, "
    "PageTurner Books, Lucky Paws Pet Supply, Blue Lagoon Cinema, Fresh Fields Farm, "
    "Riverbend Hardware, SkyHigh Airlines, Cozy Stay Hotels, Trattoria Bella, Spark Mobile",
    sep=",",
)
MERCHANT_WEIGHTS = tuple(1.0 / rank for rank in range(1, len(MERCHANTS) + 1))
EMPLOYERS = _words(
    "ACME CORP, GLOBEX INC, INITECH LLC, UMBRELLA HEALTH, STARK LOGISTICS, CITY OF SPRINGFIELD",
    sep=",",
)

# Transaction mix per product type: kind -> weight. Savings-like accounts never see card purchases.
TXN_KINDS = {
    "Checking": {"purchase": 80, "atm": 7, "deposit": 7, "transfer": 3, "fee": 2, "refund": 1},
    "Credit Card": {"purchase": 88, "payment": 6, "fee": 2, "refund": 4},
    "Savings": {"deposit": 45, "transfer": 45, "interest": 10},
    "Money Market": {"deposit": 40, "transfer": 45, "interest": 15},
}
# Relative activity: a savings account moves money a few times a year, a current account daily.
TXN_ACCOUNT_ACTIVITY = {"Checking": 1.0, "Credit Card": 0.8, "Savings": 0.1, "Money Market": 0.1}
TXN_CHANNELS = {
    "purchase": {"POS": 60, "Online": 30, "Mobile": 10},
    "atm": {"ATM": 1},
    "deposit": {"ACH": 45, "Mobile": 30, "Branch": 25},
    "transfer": {"Online": 45, "Mobile": 45, "Wire": 10},
    "fee": {"System": 1},
    "interest": {"System": 1},
    "refund": {"POS": 50, "Online": 50},
    "payment": {"Online": 50, "Mobile": 40, "ACH": 10},
}
FOREIGN_CURRENCY_KINDS = frozenset({"purchase", "atm", "refund"})
FOREIGN_CURRENCY_RATE = 0.115  # of those kinds; gives ~10% non-USD overall
FOREIGN_CURRENCY_WEIGHTS = {"EUR": 60, "GBP": 40}
DESCRIPTION_NULL_RATE = 0.10


# ---------------------------------------------------------------------- helpers


def _rng(seed: int, table: str) -> random.Random:
    # One stream per table: tweaking one generator must not reshuffle every other table.
    return random.Random(f"bqsynth-demo:{seed}:{table}")


def _scaled(base: int, scale: float) -> int:
    return max(1, round(base * scale))


def _pick(rng: random.Random, weights: dict[Any, float]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _random_date(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randint(0, (end - start).days))


def _random_datetime(rng: random.Random, start: datetime, end: datetime) -> datetime:
    return start + timedelta(seconds=rng.randint(0, int((end - start).total_seconds())))


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a non-leap target year
        return day.replace(year=day.year + years, day=28)


def _money(value: float) -> Decimal:
    # Whole cents via an int, so there is never a "-0.00" or binary-float noise.
    return Decimal(round(value * 100)).scaleb(-2)


def _number_in_time_order(rows: list[Row], time_key: str, id_key: str, base: int) -> list[Row]:
    # Source systems hand out ids from a sequence, so ids rise with creation time; numbering in
    # generation order instead would tie ids to whatever loop happened to produce the row.
    ordered = sorted(rows, key=lambda r: r[time_key])
    return [{id_key: base + i, **r} for i, r in enumerate(ordered)]


def _pick_city(rng: random.Random, state: str | None = None) -> City:
    state = state or _pick(rng, STATE_WEIGHTS)
    return rng.choice([c for c in CITIES if c.state == state])


def _street_address(rng: random.Random) -> str:
    street = f"{rng.randint(1, 9899)} {rng.choice(STREET_NAMES)} {rng.choice(STREET_SUFFIXES)}"
    if rng.random() < 0.15:
        street += f" Apt {rng.randint(1, 40)}{rng.choice('ABCD')}"
    return street


def _email(rng: random.Random, first: str, last: str, n: int) -> str:
    return f"{first.lower()}.{last.lower()}{n}@{_pick(rng, EMAIL_DOMAINS)}"


def _phone(rng: random.Random, city: City) -> str:
    # 555-0100..0199 is the block reserved for fictional use.
    return f"+1-{city.area_code}-555-01{rng.randint(0, 99):02d}"


# ------------------------------------------------------------------- generators


def _branches_and_staff(rng: random.Random, n_branches: int) -> tuple[list[Row], list[Row]]:
    """Branches and the employee hierarchy that runs them (CEO -> regional -> branch manager -> staff)."""
    employees: list[Row] = []

    def hire(title: str, branch_id: int | None, manager_id: int | None, earliest: date) -> Row:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        employee_id = EMPLOYEE_ID_BASE + len(employees)
        low, high = SALARY_RANGES[title]
        row = {
            "employee_id": employee_id,
            "first_name": first,
            "last_name": last,
            "email": f"{first.lower()}.{last.lower()}{employee_id}@corp.example.com",
            "job_title": title,
            "branch_id": branch_id,
            "manager_id": manager_id,
            "hired_on": _random_date(rng, max(earliest, date(1990, 1, 1)), ACCOUNT_WINDOW_END),
            "salary": _money(rng.randint(low // 500, high // 500) * 500),
        }
        employees.append(row)
        return row

    ceo = hire("Chief Executive Officer", None, None, date(2008, 1, 1))
    regional = {r: hire("Regional Manager", None, ceo["employee_id"], HISTORY_START) for r in REGIONS}

    branches: list[Row] = []
    used_names: set[str] = set()
    for i in range(n_branches):
        branch_id = BRANCH_ID_BASE + i
        city = _pick_city(rng)
        free = [s for s in BRANCH_SUFFIXES if f"{city.name} {s}" not in used_names]
        name = f"{city.name} {rng.choice(free)}" if free else f"{city.name} Branch {i + 1}"
        used_names.add(name)
        opened_on = _random_date(rng, date(1965, 1, 1), date(2020, 12, 31))
        manager = hire("Branch Manager", branch_id, regional[REGION_OF_STATE[city.state]]["employee_id"], opened_on)
        for _ in range(rng.randint(1, 3)):
            hire(_pick(rng, STAFF_TITLES), branch_id, manager["employee_id"], opened_on)
        branches.append(
            {
                "branch_id": branch_id,
                "branch_name": name,
                "city": city.name,
                "state": city.state,
                "opened_on": opened_on,
                "manager_name": f"{manager['first_name']} {manager['last_name']}",
                "location": {
                    "latitude": round(city.latitude + rng.gauss(0, 0.03), 6),
                    "longitude": round(city.longitude + rng.gauss(0, 0.03), 6),
                },
            }
        )
    return branches, employees


def _customers(rng: random.Random, n: int) -> list[Row]:
    rows: list[Row] = []
    for i in range(n):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        city = _pick_city(rng)
        segment = _pick(rng, SEGMENT_WEIGHTS)
        dob = _random_date(rng, *DOB_RANGE)
        # Nobody opens an account before turning 18 or before the bank's records begin.
        earliest = datetime.combine(max(HISTORY_START, _add_years(dob, 18)), datetime.min.time(), UTC)
        latest = datetime.combine(ACCOUNT_WINDOW_END, datetime.min.time(), UTC)
        since = _random_datetime(rng, earliest, latest)
        score = None if rng.random() < 0.05 else round(min(850, max(300, rng.gauss(SEGMENT_CREDIT_MEAN[segment], 60))))
        tags = sorted(rng.sample(TAG_VOCABULARY, _pick(rng, TAG_COUNT_WEIGHTS)))
        if segment == "Private" and "high_net_worth" not in tags:
            tags = sorted([*tags[:2], "high_net_worth"])
        if segment == "Business" and "small_business" not in tags and rng.random() < 0.5:
            tags = sorted([*tags[:2], "small_business"])
        preferences = (
            None
            if rng.random() < 0.04
            else {  # legacy customers never set any
                "preferred_channel": _pick(rng, CHANNEL_PREFERENCE_WEIGHTS),
                "paperless": rng.random() < 0.6,
                "marketing_opt_in": rng.random() < 0.35,
            }
        )
        rows.append(
            {
                "first_name": first,
                "last_name": last,
                "email": _email(rng, first, last, i + 1),
                "phone_number": _phone(rng, city),
                "street_address": _street_address(rng),
                "city": city.name,
                "state": city.state,
                "postal_code": f"{city.zip_prefix}{rng.randint(1, 99):02d}",
                "date_of_birth": dob,
                "customer_since": since,
                "segment": segment,
                "is_active": rng.random() < 0.93,
                "credit_score": score,
                "tags": tags,
                "preferences": preferences,
            }
        )
    return _number_in_time_order(rows, "customer_since", "customer_id", CUSTOMER_ID_BASE)


def _products(rng: random.Random, n: int) -> list[Row]:
    kinds = {k: v.catalogue_weight for k, v in PRODUCT_KINDS.items()}
    seen: dict[str, int] = {}
    rows: list[Row] = []
    for i in range(n):
        # The first few products cover every kind so even a tiny scale has checking, cards, loans...
        product_type = list(PRODUCT_KINDS)[i] if i < len(PRODUCT_KINDS) else _pick(rng, kinds)
        kind = PRODUCT_KINDS[product_type]
        name = f"{rng.choice(kind.name_prefixes)} {kind.name_suffix}"
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name} Series {seen[name]}"
        launched_on = _random_date(rng, date(2000, 1, 1), date(2023, 6, 30))
        low, high = kind.rate_range
        rows.append(
            {
                "product_id": f"PRD-{i + 1:04d}",
                "product_name": name,
                "product_type": product_type,
                "interest_rate": Decimal(f"{rng.uniform(low, high):.3f}"),
                "monthly_fee": _money(rng.choice(kind.monthly_fees)),
                "launched_on": launched_on,
                "is_retired": rng.random() < (0.25 if launched_on.year < 2012 else 0.05),
            }
        )
    return rows


def _balance(rng: random.Random, product_type: str, segment: str, status: str) -> Decimal:
    if status == "Closed":
        return _money(0)
    if product_type in DEPOSIT_BALANCE:
        mu, sigma = DEPOSIT_BALANCE[product_type]
        return _money(rng.lognormvariate(mu, sigma) * SEGMENT_WEALTH[segment])
    low, high = LOAN_BALANCE[product_type]
    return _money(-rng.uniform(low, high))  # money owed to the bank is negative


def _accounts(rng: random.Random, n: int, customers: list[Row], products: list[Row], branches: list[Row]) -> list[Row]:
    by_type: dict[str, list[Row]] = {}
    for p in products:
        by_type.setdefault(p["product_type"], []).append(p)
    type_weights = {t: k.account_weight for t, k in PRODUCT_KINDS.items() if t in by_type}
    branches_by_state: dict[str, list[Row]] = {}
    for b in branches:
        branches_by_state.setdefault(b["state"], []).append(b)
    # Wealthier segments hold more accounts; the first len(customers) accounts give everyone one.
    holder_weights = [SEGMENT_WEALTH[c["segment"]] ** 0.5 for c in customers]
    holders = customers[:n] + rng.choices(customers, weights=holder_weights, k=max(0, n - len(customers)))
    account_numbers = rng.sample(range(1_000_000_000, 10_000_000_000), n)

    rows: list[Row] = []
    for i, customer in enumerate(holders):
        product_type = _pick(rng, type_weights)
        product = rng.choices(
            by_type[product_type], weights=[0.3 if p["is_retired"] else 1.0 for p in by_type[product_type]]
        )[0]
        earliest = max(
            customer["customer_since"].replace(tzinfo=None),
            datetime.combine(product["launched_on"], datetime.min.time()),
        )
        opened_day = _random_date(rng, earliest.date(), ACCOUNT_WINDOW_END)
        # DATETIME is branch-local wall-clock time: business hours, no zone.
        opened_at = datetime.combine(opened_day, datetime.min.time()) + timedelta(
            seconds=rng.randint(9 * 3600, 17 * 3600 + 3599)
        )
        opened_at = max(opened_at, earliest)
        status = _pick(rng, ACCOUNT_STATUS_WEIGHTS)
        local = branches_by_state.get(customer["state"]) or branches
        is_online = rng.random() < 0.06  # opened online: no branch at all
        overdraft = _pick(rng, OVERDRAFT_LIMITS) if product_type == "Checking" and rng.random() < 0.7 else None
        rows.append(
            {
                "customer_id": customer["customer_id"],
                "product_id": product["product_id"],
                "branch_id": None if is_online else rng.choice(local)["branch_id"],
                "account_number": str(account_numbers[i]),
                "opened_at": opened_at,
                "status": status,
                "balance": _balance(rng, product_type, customer["segment"], status),
                "overdraft_limit": overdraft,
            }
        )
    return _number_in_time_order(rows, "opened_at", "account_id", ACCOUNT_ID_BASE)


def _cards(rng: random.Random, accounts: list[Row], products: dict[str, Row], customers: dict[int, Row]) -> list[Row]:
    """Debit cards on checking, credit cards on card accounts, reissued every four years."""
    rows: list[Row] = []
    for account in accounts:
        product_type = products[account["product_id"]]["product_type"]
        if product_type not in ("Checking", "Credit Card"):
            continue
        customer = customers[account["customer_id"]]
        is_credit = product_type == "Credit Card"
        network = _pick(rng, CARD_NETWORK_WEIGHTS if is_credit else {"Visa": 60, "Mastercard": 40})
        limit = _money(rng.choice(CREDIT_LIMITS) * min(4.0, SEGMENT_WEALTH[customer["segment"]])) if is_credit else None
        issued = account["opened_at"].date() + timedelta(days=rng.randint(3, 14))
        while issued <= AS_OF:
            expires = _add_years(issued, 4)
            lost = rng.random() < 0.08
            replaced_on = issued + timedelta(days=rng.randint(30, 4 * 365)) if lost else expires
            is_current = replaced_on > AS_OF
            status = (
                ("Closed" if account["status"] == "Closed" else "Active")
                if is_current
                else ("Lost" if lost else "Expired")
            )
            rows.append(
                {
                    "card_id": CARD_ID_BASE + len(rows),
                    "account_id": account["account_id"],
                    "card_type": "Credit" if is_credit else "Debit",
                    "network": network,
                    "cardholder_name": f"{customer['first_name']} {customer['last_name']}".upper(),
                    "masked_pan": f"XXXX-XXXX-XXXX-{rng.randint(0, 9999):04d}",
                    "issued_on": issued,
                    "expires_on": expires,
                    "status": status,
                    "credit_limit": limit,
                    "is_contactless": rng.random() < (0.95 if issued.year >= 2016 else 0.2),
                }
            )
            issued = replaced_on
    return rows


def _txn_amount(rng: random.Random, kind: str) -> Decimal:
    if kind == "purchase":
        return _money(-min(5000.0, max(0.5, rng.lognormvariate(3.5, 1.0))))
    if kind == "atm":
        return _money(-rng.choice((20, 40, 60, 80, 100, 100, 200, 300, 500)))
    if kind == "deposit":
        return _money(rng.lognormvariate(7.4, 0.7))
    if kind == "transfer":
        return _money(rng.choice((-1, 1)) * max(1.0, rng.lognormvariate(5.7, 1.0)))
    if kind == "fee":
        return _money(-rng.choice((2.5, 3.0, 12.0, 15.0, 35.0)))
    if kind == "interest":
        return _money(rng.uniform(0.05, 40.0))
    if kind == "refund":
        return _money(max(0.5, rng.lognormvariate(3.6, 0.8)))
    return _money(rng.lognormvariate(6.2, 0.8))  # card payment


def _txn_description(
    rng: random.Random, kind: str, channel: str, merchant: str | None, city: str, account_number: str
) -> str | None:
    if rng.random() < DESCRIPTION_NULL_RATE:
        return None
    if kind == "purchase":
        if channel == "POS":
            return f"POS PURCHASE {str(merchant).upper()} {city.upper()}"
        return f"{channel.upper()} PURCHASE {str(merchant).upper()}"
    if kind == "atm":
        return f"ATM WITHDRAWAL #{rng.randint(1000, 9999)} {city.upper()}"
    if kind == "deposit":
        return rng.choice(
            (f"DIRECT DEPOSIT PAYROLL {rng.choice(EMPLOYERS)}", "MOBILE CHECK DEPOSIT", "BRANCH CASH DEPOSIT")
        )
    if kind == "transfer":
        # Free text leaking part of an account number, as real bank descriptions do.
        return rng.choice(
            (
                f"ONLINE TRANSFER REF ...{account_number[-4:]}",
                f"WIRE TRANSFER REF {rng.randint(10**7, 10**8 - 1)}",
            )
        )
    if kind == "fee":
        return rng.choice(("MONTHLY MAINTENANCE FEE", "OVERDRAFT FEE", "FOREIGN TRANSACTION FEE", "ATM FEE"))
    if kind == "interest":
        return "INTEREST PAYMENT"
    if kind == "refund":
        return f"REFUND {str(merchant).upper()}"
    return "PAYMENT THANK YOU"


def _txn_timestamp(rng: random.Random, kind: str, not_before: datetime) -> datetime:
    # From the day after opening: opened_at is local wall-clock time, so the same day could precede it.
    first_day = max(TXN_WINDOW_START.date(), not_before.date() + timedelta(days=1))
    day = _random_date(rng, first_day, TXN_WINDOW_END.date())
    # Fees and interest post in the overnight batch; people shop in the daytime and evening.
    hour = (
        rng.randint(1, 4)
        if kind in ("fee", "interest")
        else rng.choices(
            range(24), weights=[1, 1, 1, 1, 1, 2, 4, 6, 8, 9, 9, 10, 11, 10, 9, 9, 9, 10, 10, 9, 7, 5, 3, 2]
        )[0]
    )
    return datetime.combine(day, datetime.min.time(), UTC) + timedelta(
        hours=hour, minutes=rng.randint(0, 59), seconds=rng.randint(0, 59)
    )


def _transactions(
    rng: random.Random,
    n: int,
    accounts: list[Row],
    products: dict[str, Row],
    branches: dict[int, Row],
    customers: dict[int, Row],
) -> list[Row]:
    eligible = [
        a for a in accounts if products[a["product_id"]]["product_type"] in TXN_KINDS and a["status"] != "Dormant"
    ]
    if not eligible:
        return []
    # Lognormal activity gives a long tail (a few very busy accounts) without one account dominating.
    weights = [
        rng.lognormvariate(0, 1.0)
        * TXN_ACCOUNT_ACTIVITY[products[a["product_id"]]["product_type"]]
        * (0.3 if a["status"] == "Closed" else 1.0)
        for a in eligible
    ]
    drafts: list[Row] = []
    for account in rng.choices(eligible, weights=weights, k=n):
        product_type = products[account["product_id"]]["product_type"]
        kind = _pick(rng, TXN_KINDS[product_type])
        merchant = rng.choices(MERCHANTS, weights=MERCHANT_WEIGHTS)[0] if kind in ("purchase", "refund") else None
        branch = branches.get(account["branch_id"])
        city = branch["city"] if branch else customers[account["customer_id"]]["city"]
        ts = _txn_timestamp(rng, kind, account["opened_at"])
        currency = (
            _pick(rng, FOREIGN_CURRENCY_WEIGHTS)
            if kind in FOREIGN_CURRENCY_KINDS and rng.random() < FOREIGN_CURRENCY_RATE
            else "USD"
        )
        amount = _txn_amount(rng, kind)
        channel = _pick(rng, TXN_CHANNELS[kind])
        risky = abs(amount) > 1000 or currency != "USD"
        drafts.append(
            {
                "account_id": account["account_id"],
                "transaction_ts": ts,
                # Anything after the 20:00 cut-off books on the next day.
                "booking_date": ts.date() + timedelta(days=1 if ts.hour >= 20 else 0),
                "amount": amount,
                "currency": currency,
                "channel": channel,
                "merchant_name": merchant,
                "description": _txn_description(rng, kind, channel, merchant, city, account["account_number"]),
                "is_flagged": rng.random() < (0.06 if risky else 0.005),
            }
        )
    return _number_in_time_order(drafts, "transaction_ts", "transaction_id", TRANSACTION_ID_BASE)


# ------------------------------------------------------------------ table specs


def _c(name: str, type_: str, mode: str = "NULLABLE", *fields: Column) -> Column:
    return Column(name, type_, mode, tuple(fields))


BRANCH_COLUMNS = (
    _c("branch_id", "INT64", "REQUIRED"),
    _c("branch_name", "STRING", "REQUIRED"),
    _c("city", "STRING"),
    _c("state", "STRING"),
    _c("opened_on", "DATE"),
    _c("manager_name", "STRING"),
    _c("location", "STRUCT", "NULLABLE", _c("latitude", "FLOAT64"), _c("longitude", "FLOAT64")),
)
EMPLOYEE_COLUMNS = (
    _c("employee_id", "INT64", "REQUIRED"),
    _c("first_name", "STRING"),
    _c("last_name", "STRING"),
    _c("email", "STRING"),
    _c("job_title", "STRING"),
    _c("branch_id", "INT64"),
    _c("manager_id", "INT64"),
    _c("hired_on", "DATE"),
    _c("salary", "NUMERIC"),
)
CUSTOMER_COLUMNS = (
    _c("customer_id", "INT64", "REQUIRED"),
    _c("first_name", "STRING"),
    _c("last_name", "STRING"),
    _c("email", "STRING"),
    _c("phone_number", "STRING"),
    _c("street_address", "STRING"),
    _c("city", "STRING"),
    _c("state", "STRING"),
    _c("postal_code", "STRING"),
    _c("date_of_birth", "DATE"),
    _c("customer_since", "TIMESTAMP"),
    _c("segment", "STRING"),
    _c("is_active", "BOOL"),
    _c("credit_score", "INT64"),
    _c("tags", "STRING", "REPEATED"),
    _c(
        "preferences",
        "STRUCT",
        "NULLABLE",
        _c("preferred_channel", "STRING"),
        _c("paperless", "BOOL"),
        _c("marketing_opt_in", "BOOL"),
    ),
)
PRODUCT_COLUMNS = (
    _c("product_id", "STRING", "REQUIRED"),
    _c("product_name", "STRING"),
    _c("product_type", "STRING"),
    _c("interest_rate", "NUMERIC"),
    _c("monthly_fee", "NUMERIC"),
    _c("launched_on", "DATE"),
    _c("is_retired", "BOOL"),
)
ACCOUNT_COLUMNS = (
    _c("account_id", "INT64", "REQUIRED"),
    _c("customer_id", "INT64", "REQUIRED"),
    _c("product_id", "STRING", "REQUIRED"),
    _c("branch_id", "INT64"),
    _c("account_number", "STRING"),
    _c("opened_at", "DATETIME"),
    _c("status", "STRING"),
    _c("balance", "NUMERIC"),
    _c("overdraft_limit", "FLOAT64"),
)
CARD_COLUMNS = (
    _c("card_id", "INT64", "REQUIRED"),
    _c("account_id", "INT64", "REQUIRED"),
    _c("card_type", "STRING"),
    _c("network", "STRING"),
    _c("cardholder_name", "STRING"),
    _c("masked_pan", "STRING"),
    _c("issued_on", "DATE"),
    _c("expires_on", "DATE"),
    _c("status", "STRING"),
    _c("credit_limit", "NUMERIC"),
    _c("is_contactless", "BOOL"),
)
TRANSACTION_COLUMNS = (
    _c("transaction_id", "INT64", "REQUIRED"),
    _c("account_id", "INT64", "REQUIRED"),
    _c("transaction_ts", "TIMESTAMP"),
    _c("booking_date", "DATE"),
    _c("amount", "NUMERIC"),
    _c("currency", "STRING"),
    _c("channel", "STRING"),
    _c("merchant_name", "STRING"),
    _c("description", "STRING"),
    _c("is_flagged", "BOOL"),
)


# ------------------------------------------------------------ JSON serialisation


def _json_value(column: Column, value: Any) -> Any:
    if column.mode == "REPEATED":
        return [_json_scalar(column, v) for v in value or ()]
    return None if value is None else _json_scalar(column, value)


def _json_scalar(column: Column, value: Any) -> Any:
    kind = column.type
    if kind == "STRUCT":
        return {f.name: _json_value(f, value.get(f.name)) for f in column.fields}
    if kind == "NUMERIC":
        return str(value)  # as a string: a JSON number would round-trip through binary float
    if kind == "TIMESTAMP":
        return value.astimezone(UTC).isoformat(sep=" ")  # "2024-03-05 14:22:11+00:00"
    if kind == "DATETIME":
        return value.isoformat(sep=" ")
    if kind == "DATE":
        return value.isoformat()
    if kind == "FLOAT64":
        return float(value)
    return value


def _to_json_rows(columns: Sequence[Column], rows: list[Row]) -> list[Row]:
    names = [c.name for c in columns]
    out: list[Row] = []
    for row in rows:
        if set(row) != set(names):  # a generator/spec mismatch would otherwise load as silent NULLs
            raise ValueError(f"row keys {sorted(row)} do not match columns {sorted(names)}")
        out.append({c.name: _json_value(c, row[c.name]) for c in columns})
    return out


# -------------------------------------------------------------------- public API


def build_demo_tables(seed: int = 42, scale: float = 1.0) -> list[DemoTable]:
    """Generate the demo warehouse in memory, parents before children. Pure and deterministic."""
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    counts = {k: _scaled(v, scale) for k, v in BASE_COUNTS.items()}
    branches, employees = _branches_and_staff(_rng(seed, "Dim_Branch"), counts["branches"])
    customers = _customers(_rng(seed, "Dim_Customer"), counts["customers"])
    products = _products(_rng(seed, "Dim_Product"), counts["products"])
    accounts = _accounts(_rng(seed, "Dim_Account"), counts["accounts"], customers, products, branches)
    product_by_id = {p["product_id"]: p for p in products}
    customer_by_id = {c["customer_id"]: c for c in customers}
    cards = _cards(_rng(seed, "Dim_Card"), accounts, product_by_id, customer_by_id)
    transactions = _transactions(
        _rng(seed, "Fact_Transaction"),
        counts["transactions"],
        accounts,
        product_by_id,
        {b["branch_id"]: b for b in branches},
        customer_by_id,
    )

    def table(name: str, columns: tuple[Column, ...], rows: list[Row], **keys: Any) -> DemoTable:
        return DemoTable(name, columns, _to_json_rows(columns, rows), **keys)

    return [
        table("Dim_Branch", BRANCH_COLUMNS, branches, primary_key="branch_id", primary_key_declared=True),
        table(
            "Dim_Employee",
            EMPLOYEE_COLUMNS,
            employees,
            primary_key="employee_id",
            primary_key_declared=True,
            foreign_keys=(
                ForeignKey("branch_id", "Dim_Branch", "branch_id", declared=False),
                ForeignKey("manager_id", "Dim_Employee", "employee_id", declared=False),
            ),
        ),
        table("Dim_Customer", CUSTOMER_COLUMNS, customers, primary_key="customer_id", primary_key_declared=True),
        table("Dim_Product", PRODUCT_COLUMNS, products, primary_key="product_id", primary_key_declared=True),
        table(
            "Dim_Account",
            ACCOUNT_COLUMNS,
            accounts,
            primary_key="account_id",
            primary_key_declared=True,
            foreign_keys=(
                ForeignKey("customer_id", "Dim_Customer", "customer_id", declared=True),
                ForeignKey("product_id", "Dim_Product", "product_id", declared=True),
                ForeignKey("branch_id", "Dim_Branch", "branch_id", declared=False),
            ),
        ),
        table(
            "Dim_Card",
            CARD_COLUMNS,
            cards,
            primary_key="card_id",
            primary_key_declared=True,
            foreign_keys=(ForeignKey("account_id", "Dim_Account", "account_id", declared=True),),
        ),
        table(
            "Fact_Transaction",
            TRANSACTION_COLUMNS,
            transactions,
            primary_key="transaction_id",
            primary_key_declared=False,
            foreign_keys=(ForeignKey("account_id", "Dim_Account", "account_id", declared=False),),
        ),
    ]


def create_tables(client: bigquery.Client, project: str, dataset: str, tables: Sequence[DemoTable]) -> None:
    """Drop (children first) and recreate (parents first) so a rerun replaces rather than appends."""
    for t in reversed(tables):
        # The tables API, not a DROP query: same effect, a third of the latency of a query job.
        client.delete_table(f"{project}.{dataset}.{t.name}", not_found_ok=True)
    for t in tables:
        client.query(t.ddl(project, dataset)).result()


def load_rows(client: bigquery.Client, project: str, dataset: str, tables: Sequence[DemoTable]) -> None:
    """Append each table's rows with one NDJSON load job per table (no streaming buffer to wait on)."""
    jobs = []
    for t in tables:
        config = bigquery.LoadJobConfig(
            schema=t.schema(),
            source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
            write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
        )
        if t.rows:
            destination = f"{project}.{dataset}.{t.name}"
            jobs.append(client.load_table_from_json(t.rows, destination, job_config=config))
    for job in jobs:
        job.result()


def count_rows(client: bigquery.Client, project: str, dataset: str, names: Sequence[str]) -> dict[str, int]:
    sql = "\nUNION ALL\n".join(
        f"SELECT '{n}' AS table_name, COUNT(*) AS row_count FROM `{project}.{dataset}.{n}`" for n in names
    )
    return {r["table_name"]: int(r["row_count"]) for r in client.query(sql).result()}


def load_tables(
    client: bigquery.Client,
    project: str,
    dataset: str,
    tables: Sequence[DemoTable],
    location: str | None = None,
) -> dict[str, int]:
    """Create the dataset if needed, replace ``tables`` in it and return the row counts read back."""
    ds = bigquery.Dataset(f"{project}.{dataset}")
    if location:
        ds.location = location
    client.create_dataset(ds, exists_ok=True)
    create_tables(client, project, dataset, tables)
    load_rows(client, project, dataset, tables)
    counts = count_rows(client, project, dataset, [t.name for t in tables])
    expected = {t.name: len(t.rows) for t in tables}
    if counts != expected:
        raise RuntimeError(f"loaded row counts {counts} differ from generated {expected}")
    return counts


def load_demo_dataset(
    client: bigquery.Client,
    project: str,
    dataset: str,
    seed: int = 42,
    scale: float = 1.0,
    location: str | None = None,
) -> dict[str, int]:
    """Build, (re)create and load the demo warehouse; returns row counts as read back from BigQuery."""
    return load_tables(client, project, dataset, build_demo_tables(seed, scale), location)


# --------------------------------------------------------------------------- CLI
